//! Blocking keys: compact values the storage layer indexes so that finding
//! candidates for a new record in a 7-million-person registry is a handful of
//! index lookups instead of a scan.
//!
//! Each key is a (kind, 64-bit hash) pair. The hash is FNV-1a over a
//! canonical byte string; it is specified here (not `std`'s hasher, which may
//! change between Rust releases) because keys are persisted in a database
//! table. Changing how a key is built is a schema migration: bump
//! [`BLOCKING_KEY_VERSION`] and recompute the table.
//!
//! Keys are chosen so that every error pattern the scorer tolerates still
//! shares at least one key with the true match:
//! * any name's phonetic code + birth date, whichever name field it is in
//!   (first name changed or nickname, surname changed or hyphenated, first
//!   and last names swapped with one of them garbled),
//! * both names' codes + birth year (birth-date typos, first/last swapped),
//! * both names' codes + month/day (birth-year typos),
//! * both names' codes + ZIP (no or garbled birth date),
//! * identifiers: SSN, Medicaid, birth certificate, MRN per assigning
//!   authority, phone + birth year,
//! * birth date + ZIP (both names garbled or replaced),
//! * identifiers with one position masked, and with their digits sorted
//!   (one mistyped or two transposed digits).
//!
//! Version history: 2 added `DobZip`, `IdMasked`, `IdDigitsSorted`, and
//! `AnyNameDob` replacing `LastNameDob` / `FirstNameDob`.
//!
//! Birth dates are canonicalized with month and day sorted, so a day/month
//! swap lands in the same block. Block sizes stay small at state scale because
//! every name key is combined with a date or ZIP; identifier keys that turn
//! out to be shared widely (a clinic phone, a placeholder SSN that escaped
//! normalization) should be capped by the storage layer (e.g. ignore keys
//! with more than a few hundred rows).

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use crate::normalize::{normalize, NormalizedRecord, VariantSource};
use crate::record::MatchRecord;

/// Version of the key definitions; persisted keys from another version must
/// be recomputed.
pub const BLOCKING_KEY_VERSION: u32 = 2;

/// What a blocking key is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum BlockingKeyKind {
    /// NYSIIS(surname or surname part) + canonical birth date. Version 1
    /// only: superseded by [`BlockingKeyKind::AnyNameDob`], no longer emitted.
    LastNameDob = 1,
    /// NYSIIS(given name) + canonical birth date. Version 1 only: superseded
    /// by [`BlockingKeyKind::AnyNameDob`], no longer emitted.
    FirstNameDob = 2,
    /// Double Metaphone of both names (order-free) + birth year.
    NamesYear = 3,
    /// NYSIIS of both names (order-free) + canonical month/day.
    NamesMonthDay = 4,
    /// NYSIIS of both names (order-free) + ZIP / postcode (4-5 digits).
    NamesZip = 5,
    /// SSN.
    Ssn = 6,
    /// Medicaid id.
    Medicaid = 7,
    /// Birth certificate number.
    BirthCertificate = 8,
    /// MRN (or other scoped id) with its type and assigning authority.
    Mrn = 9,
    /// Phone number + birth year.
    PhoneYear = 10,
    /// Canonical birth date + ZIP / postcode (4-5 digits): both names
    /// garbled, replaced or swapped.
    DobZip = 11,
    /// NYSIIS of a given name or surname, from either name field, +
    /// canonical birth date: first and last names swapped (and one of them
    /// garbled) between the records.
    AnyNameDob = 12,
    /// An identifier (SSN, Medicaid, MRN with its scope) with one digit
    /// position masked, one key per position: single-digit keying errors.
    IdMasked = 13,
    /// An identifier's digits sorted (with its scope): transposed digits.
    IdDigitsSorted = 14,
}

/// A blocking key: kind tag plus a stable 64-bit hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlockingKey {
    /// What the key is built from.
    pub kind: BlockingKeyKind,
    /// FNV-1a hash of the canonical key text (including the kind).
    pub hash: u64,
}

impl BlockingKey {
    fn new(kind: BlockingKeyKind, parts: &[&str]) -> Self {
        let mut h = Fnv1a::new();
        h.write(&[kind as u8]);
        for p in parts {
            h.write(p.as_bytes());
            // Separator so ("AB","C") and ("A","BC") differ.
            h.write(&[0x1f]);
        }
        Self { kind, hash: h.0 }
    }

    /// The key as one signed 64-bit integer (kind in the top 8 bits, 56 bits
    /// of hash below), for a single `BIGINT` index column.
    pub fn packed(&self) -> i64 {
        let v = ((self.kind as u64) << 56) | (self.hash & 0x00FF_FFFF_FFFF_FFFF);
        v as i64
    }
}

/// 64-bit FNV-1a (public-domain algorithm, fixed constants): stable across
/// platforms and releases.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Blocking keys of a raw record (normalizes it first).
pub fn blocking_keys(record: &MatchRecord) -> Vec<BlockingKey> {
    blocking_keys_normalized(&normalize(record))
}

/// Blocking keys of an already normalized record; sorted and deduplicated.
pub fn blocking_keys_normalized(n: &NormalizedRecord) -> Vec<BlockingKey> {
    use BlockingKeyKind as K;
    let mut keys = Vec::with_capacity(16);

    let dob = n.birth_date.map(|d| {
        let (lo, hi) = if d.month() <= d.day() {
            (d.month(), d.day())
        } else {
            (d.day(), d.month())
        };
        (format!("{:04}", d.year()), format!("{lo:02}{hi:02}"))
    });

    // Surname variants: legal whole name, compound parts, aliases.
    let lasts: Vec<&str> = n
        .last
        .iter()
        .map(|v| v.phonetic.nysiis.as_str())
        .filter(|c| !c.is_empty())
        .collect();
    let firsts: Vec<&str> = n
        .first
        .iter()
        .filter(|v| v.source != VariantSource::CompoundPart || n.first.len() > 1)
        .map(|v| v.phonetic.nysiis.as_str())
        .filter(|c| !c.is_empty())
        .collect();
    let legal_first = n.first.first();
    let legal_last = n.last.first();

    if let Some((year, md)) = &dob {
        // Supersedes `LastNameDob` / `FirstNameDob` (version 1).
        for code in lasts.iter().chain(&firsts) {
            keys.push(BlockingKey::new(K::AnyNameDob, &[code, year, md]));
        }
        for a in &n.addresses {
            if a.zip5.len() >= 4 {
                keys.push(BlockingKey::new(K::DobZip, &[year, md, &a.zip5]));
            }
        }
    }
    if let (Some(f), Some(l)) = (legal_first, legal_last) {
        let (dfa, dla) = (&f.phonetic.dm_primary, &l.phonetic.dm_primary);
        let (nf, nl) = (&f.phonetic.nysiis, &l.phonetic.nysiis);
        if !dfa.is_empty() && !dla.is_empty() {
            let (x, y) = order(dfa, dla);
            if let Some((year, md)) = &dob {
                keys.push(BlockingKey::new(K::NamesYear, &[x, y, year]));
                let (x, y) = order(nf, nl);
                keys.push(BlockingKey::new(K::NamesMonthDay, &[x, y, md]));
            }
            let (x, y) = order(nf, nl);
            for a in &n.addresses {
                if a.zip5.len() >= 4 {
                    keys.push(BlockingKey::new(K::NamesZip, &[x, y, &a.zip5]));
                }
            }
        }
    }
    for s in &n.ssn {
        keys.push(BlockingKey::new(K::Ssn, &[s]));
    }
    for m in &n.medicaid {
        keys.push(BlockingKey::new(K::Medicaid, &[m]));
    }
    for b in &n.birth_certificate {
        keys.push(BlockingKey::new(K::BirthCertificate, &[b]));
    }
    for id in &n.scoped_ids {
        keys.push(BlockingKey::new(
            K::Mrn,
            &[&id.kind, &id.authority, &id.value],
        ));
    }
    // Near-identical identifiers. Short values (under 6 characters) are
    // skipped: masking them would make huge blocks.
    let scoped = n.scoped_ids.iter().map(|id| {
        (
            format!("{}\u{1f}{}", id.kind, id.authority),
            id.value.as_str(),
        )
    });
    let ids = n
        .ssn
        .iter()
        .map(|v| ("SSN".to_owned(), v.as_str()))
        .chain(
            n.medicaid
                .iter()
                .map(|v| ("MEDICAID".to_owned(), v.as_str())),
        )
        .chain(scoped);
    for (scope, value) in ids {
        if value.len() < 6 || !value.is_ascii() {
            continue;
        }
        for i in 0..value.len() {
            let masked = format!("{}_{}", &value[..i], &value[i + 1..]);
            keys.push(BlockingKey::new(K::IdMasked, &[&scope, &masked]));
        }
        let mut sorted: Vec<u8> = value.bytes().collect();
        sorted.sort_unstable();
        let sorted = String::from_utf8_lossy(&sorted).into_owned();
        keys.push(BlockingKey::new(K::IdDigitsSorted, &[&scope, &sorted]));
    }
    if let Some((year, _)) = &dob {
        for p in &n.phones {
            keys.push(BlockingKey::new(K::PhoneYear, &[p, year]));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

fn order<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::PersonName;
    use chrono::NaiveDate;

    fn rec(first: &str, last: &str, y: i32, m: u32, d: u32) -> MatchRecord {
        MatchRecord {
            name: PersonName::new(first, last),
            birth_date: NaiveDate::from_ymd_opt(y, m, d),
            ..MatchRecord::default()
        }
    }

    fn shares(a: &MatchRecord, b: &MatchRecord) -> bool {
        let kb = blocking_keys(b);
        blocking_keys(a).iter().any(|k| kb.contains(k))
    }

    #[test]
    fn hash_is_stable() {
        // Persisted values: this must never change within a key version.
        let k = BlockingKey::new(BlockingKeyKind::Ssn, &["494523553"]);
        assert_eq!(
            k.hash,
            BlockingKey::new(BlockingKeyKind::Ssn, &["494523553"]).hash
        );
        assert_ne!(
            k,
            BlockingKey::new(BlockingKeyKind::Medicaid, &["494523553"])
        );
        assert_eq!(k.packed() >> 56, BlockingKeyKind::Ssn as i64);
    }

    #[test]
    fn error_patterns_share_a_block() {
        let base = rec("William", "Smith", 2011, 6, 4);
        assert!(shares(&base, &rec("Bill", "Smith", 2011, 6, 4)));
        assert!(shares(&base, &rec("William", "Smith-Jones", 2011, 6, 4)));
        assert!(shares(&base, &rec("William", "Smith", 2011, 4, 6)));
        assert!(shares(&base, &rec("William", "Smith", 2011, 6, 14)));
        assert!(shares(&base, &rec("William", "Smith", 2012, 6, 4)));
        assert!(shares(&base, &rec("Smith", "William", 2011, 6, 5)));
        assert!(!shares(&base, &rec("Mary", "Jones", 2011, 6, 4)));
    }

    #[test]
    fn version_2_keys_cover_garbled_names_and_ids() {
        use crate::record::{Address, Identifier, IdentifierKind};
        // Names swapped, one garbled: shares the any-name + date key.
        let base = rec("Mikhayla", "Hannagan", 1990, 3, 28);
        assert!(shares(&base, &rec("Hannaan", "Mikhayla", 1990, 3, 28)));
        // Both names replaced: shares date + ZIP.
        let with_zip = |mut r: MatchRecord| {
            r.addresses.push(Address {
                zip: "48909".into(),
                ..Address::default()
            });
            r
        };
        assert!(shares(
            &with_zip(rec("Ann", "Lee", 2011, 6, 4)),
            &with_zip(rec("Zoe", "Park", 2011, 6, 4))
        ));
        // Identifier with one mistyped or two transposed digits.
        let with_ssn = |v: &str| {
            let mut r = rec("Ann", "Lee", 2011, 6, 4);
            r.name = PersonName::default();
            r.birth_date = None;
            r.identifiers.push(Identifier {
                kind: IdentifierKind::Ssn,
                authority: String::new(),
                value: v.into(),
            });
            r
        };
        assert!(shares(&with_ssn("494523553"), &with_ssn("494523653")));
        assert!(shares(&with_ssn("494523553"), &with_ssn("494525353")));
        assert!(!shares(&with_ssn("494523553"), &with_ssn("111222333")));
    }
}
