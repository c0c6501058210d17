//! Normalization: turns a raw [`MatchRecord`] into a [`NormalizedRecord`].
//!
//! Everything expensive that does not depend on the *other* record (case
//! folding, transliteration, phonetic codes, address parsing, identifier
//! clean-up) happens here, once per record, so that pairwise scoring stays in
//! the low microseconds. The registry may cache a `NormalizedRecord` next to
//! each patient.

use std::collections::HashMap;

use chrono::NaiveDate;
use rphonetic::{DoubleMetaphone, Encoder, Nysiis};
use serde::{Deserialize, Serialize};

use crate::nicknames;
use crate::record::{IdentifierKind, MatchRecord, MultipleBirth, Sex};

/// Phonetic codes of one name token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phonetic {
    /// NYSIIS code (strict: at most 6 characters).
    pub nysiis: String,
    /// Double Metaphone primary code.
    pub dm_primary: String,
    /// Double Metaphone alternate code.
    pub dm_alternate: String,
}

/// How many names each thread remembers the codes of (≈ 100 bytes each);
/// the memo starts over when full. Names repeat: a state's births share a
/// few thousand given names and common surnames, and every lookup
/// normalizes the stored records it scores again.
const PHONETIC_MEMO_CAP: usize = 1 << 14;

thread_local! {
    static PHONETIC_MEMO: std::cell::RefCell<HashMap<String, Phonetic>> =
        std::cell::RefCell::new(HashMap::new());
}

impl Phonetic {
    /// Computes the codes of an already folded (ASCII upper case) name.
    /// Pure; remembered per thread (the encoders cost microseconds a name).
    pub fn of(name: &str) -> Self {
        if name.is_empty() {
            return Self::default();
        }
        PHONETIC_MEMO.with(|memo| {
            if let Some(p) = memo.borrow().get(name) {
                return p.clone();
            }
            let p = Self::compute(name);
            let mut memo = memo.borrow_mut();
            if memo.len() >= PHONETIC_MEMO_CAP {
                memo.clear();
            }
            memo.insert(name.to_owned(), p.clone());
            p
        })
    }

    fn compute(name: &str) -> Self {
        let dm = DoubleMetaphone::default().double_metaphone(name);
        Self {
            nysiis: Nysiis::default().encode(name),
            dm_primary: dm.primary(),
            dm_alternate: dm.alternate(),
        }
    }

    /// True when the two names sound alike under either algorithm.
    pub fn sounds_like(&self, other: &Phonetic) -> bool {
        if self.nysiis.is_empty() || other.nysiis.is_empty() {
            return false;
        }
        self.nysiis == other.nysiis
            || (!self.dm_primary.is_empty()
                && (self.dm_primary == other.dm_primary
                    || self.dm_primary == other.dm_alternate
                    || self.dm_alternate == other.dm_primary))
    }
}

/// One spelling of a name part with its phonetic codes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameVariant {
    /// Folded text without spaces ("VANDYKE", "MARYANN").
    pub text: String,
    /// Phonetic codes of `text`.
    pub phonetic: Phonetic,
    /// Where the variant came from.
    pub source: VariantSource,
}

/// Provenance of a [`NameVariant`], shown in explanations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum VariantSource {
    /// The legal name as submitted.
    #[default]
    Legal,
    /// One part of a compound or hyphenated surname.
    CompoundPart,
    /// An alias / alternate name.
    Alias,
}

impl NameVariant {
    fn new(text: String, source: VariantSource) -> Self {
        let phonetic = Phonetic::of(&text);
        Self {
            text,
            phonetic,
            source,
        }
    }
}

/// A normalized postal address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NormalizedAddress {
    /// House number ("123", "12B").
    pub number: String,
    /// Street name with standard abbreviations ("N MAIN ST").
    pub street: String,
    /// Unit / apartment designator value ("4B").
    pub unit: String,
    /// City, folded, common words abbreviated ("ST CLAIR SHORES").
    pub city: String,
    /// State, folded.
    pub state: String,
    /// First five ZIP digits (or what was given when shorter).
    pub zip5: String,
}

impl NormalizedAddress {
    /// True when nothing usable is present.
    pub fn is_empty(&self) -> bool {
        self.street.is_empty() && self.zip5.is_empty() && self.city.is_empty()
    }
}

/// The normalized form of a [`MatchRecord`], ready for scoring and blocking.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NormalizedRecord {
    /// First-name variants: legal first name first, then aliases.
    pub first: Vec<NameVariant>,
    /// Middle name(s), folded, without spaces.
    pub middle: String,
    /// Surname variants: legal (whole) surname first, then compound parts and
    /// alias surnames.
    pub last: Vec<NameVariant>,
    /// Generational suffix, canonical ("JR", "SR", "II", "III", ...).
    pub suffix: String,
    /// Date of birth.
    pub birth_date: Option<NaiveDate>,
    /// Sex (`Other` is kept as `None` so it never disagrees).
    pub sex: Option<Sex>,
    /// Mother's maiden name, folded, without spaces.
    pub mother_maiden: Option<NameVariant>,
    /// Guardian first names (folded).
    pub guardian_first: Vec<NameVariant>,
    /// Guardian last names (folded).
    pub guardian_last: Vec<NameVariant>,
    /// Addresses.
    pub addresses: Vec<NormalizedAddress>,
    /// Phone numbers: 10 digits, or 7 when no area code was given.
    pub phones: Vec<String>,
    /// Plausible SSNs (9 digits).
    pub ssn: Vec<String>,
    /// Medicaid ids (upper-case alphanumerics).
    pub medicaid: Vec<String>,
    /// Birth certificate numbers.
    pub birth_certificate: Vec<String>,
    /// MRNs and other identifiers keyed by (type, assigning authority).
    pub scoped_ids: Vec<ScopedId>,
    /// Multiple-birth information.
    pub multiple_birth: MultipleBirth,
    /// Shots as (date, CVX) sorted and deduplicated.
    pub shots: Vec<(NaiveDate, String)>,
}

/// An identifier only comparable within its (type, assigning authority) scope.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScopedId {
    /// "MRN" or the other identifier type's folded name.
    pub kind: String,
    /// Folded assigning authority.
    pub authority: String,
    /// Folded value.
    pub value: String,
}

/// Folds text to upper-case ASCII letters, digits and single spaces.
///
/// Apostrophes and periods are dropped (O'Brien -> OBRIEN, St. -> ST), every
/// other non-alphanumeric character separates words (Smith-Jones -> SMITH
/// JONES), and diacritics are transliterated (Muñoz -> MUNOZ).
pub fn fold(s: &str) -> String {
    let ascii = if s.is_ascii() {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(deunicode::deunicode(s))
    };
    let mut out = String::with_capacity(ascii.len());
    let mut pending_space = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c.to_ascii_uppercase());
        } else if c == '\'' || c == '.' || c == '`' {
            // Dropped without separating: O'Brien, St.John -> handled as one word.
        } else {
            pending_space = true;
        }
    }
    out
}

/// Canonical generational suffix for a folded token, if it is one.
pub fn canonical_suffix(token: &str) -> Option<&'static str> {
    Some(match token {
        "JR" | "JUNIOR" => "JR",
        "SR" | "SENIOR" => "SR",
        "II" | "2ND" => "II",
        "III" | "3RD" => "III",
        "IV" | "4TH" => "IV",
        _ => return None,
    })
}

/// Surname particles that are kept in the whole surname but are not
/// meaningful compound parts on their own.
fn is_particle(token: &str) -> bool {
    matches!(
        token,
        "DE" | "DEL"
            | "DELA"
            | "LA"
            | "LE"
            | "LOS"
            | "LAS"
            | "VAN"
            | "VON"
            | "DER"
            | "DEN"
            | "DA"
            | "DI"
            | "DOS"
            | "DAS"
            | "DU"
            | "Y"
            | "E"
            | "MC"
            | "MAC"
            | "ST"
            | "SAINT"
            | "BIN"
            | "BEN"
            | "AL"
            | "EL"
    )
}

/// Splits a folded name into tokens, removing a trailing generational suffix.
fn split_suffix(folded: &str) -> (Vec<&str>, Option<&'static str>) {
    let mut tokens: Vec<&str> = folded.split(' ').filter(|t| !t.is_empty()).collect();
    let mut suffix = None;
    if tokens.len() > 1 {
        if let Some(last) = tokens.last() {
            if let Some(s) = canonical_suffix(last) {
                suffix = Some(s);
                tokens.pop();
            }
        }
    }
    (tokens, suffix)
}

fn push_unique(v: &mut Vec<NameVariant>, text: String, source: VariantSource) {
    if !text.is_empty() && !v.iter().any(|x| x.text == text) {
        v.push(NameVariant::new(text, source));
    }
}

/// Adds the variants of a surname: the whole name, then its compound parts.
fn add_surname(v: &mut Vec<NameVariant>, raw: &str, source: VariantSource) -> Option<&'static str> {
    let folded = fold(raw);
    let (tokens, suffix) = split_suffix(&folded);
    push_unique(v, tokens.concat(), source);
    let parts: Vec<&&str> = tokens
        .iter()
        .filter(|t| t.len() > 1 && !is_particle(t))
        .collect();
    if parts.len() > 1 {
        for p in parts {
            let src = if source == VariantSource::Legal {
                VariantSource::CompoundPart
            } else {
                source
            };
            push_unique(v, (*p).to_owned(), src);
        }
    }
    suffix
}

/// Adds the variants of a given name: the whole name (spaces removed) and, for
/// two-word given names, the first word ("MARY ANN" -> MARYANN, MARY).
fn add_given(v: &mut Vec<NameVariant>, raw: &str, source: VariantSource) -> Option<&'static str> {
    let folded = fold(raw);
    let (tokens, suffix) = split_suffix(&folded);
    push_unique(v, tokens.concat(), source);
    if tokens.len() > 1 {
        if let Some(first) = tokens.first() {
            if first.len() > 1 {
                push_unique(v, (*first).to_owned(), VariantSource::CompoundPart);
            }
        }
    }
    suffix
}

/// USPS street suffix and common-word abbreviations (Publication 28, subset).
fn street_word(token: &str) -> &str {
    match token {
        "STREET" | "STR" | "STRT" => "ST",
        "AVENUE" | "AV" | "AVEN" | "AVN" | "AVNUE" => "AVE",
        "ROAD" => "RD",
        "DRIVE" | "DRV" | "DRIV" => "DR",
        "LANE" => "LN",
        "COURT" => "CT",
        "CIRCLE" | "CIRC" | "CIRCL" | "CRCL" => "CIR",
        "BOULEVARD" | "BOUL" | "BOULV" => "BLVD",
        "PLACE" => "PL",
        "TERRACE" | "TERR" => "TER",
        "PARKWAY" | "PKY" | "PARKWY" => "PKWY",
        "HIGHWAY" | "HIWAY" | "HWAY" => "HWY",
        "SQUARE" | "SQR" => "SQ",
        "TRAIL" | "TR" => "TRL",
        "PLAZA" | "PLZA" => "PLZ",
        "POINT" => "PT",
        "CORNER" => "COR",
        "CRESCENT" => "CRES",
        "EXPRESSWAY" => "EXPY",
        "FREEWAY" => "FWY",
        "HEIGHTS" | "HT" => "HTS",
        "ALLEY" => "ALY",
        "ROUTE" => "RTE",
        "TURNPIKE" | "TURNPK" => "TPKE",
        "CROSSING" => "XING",
        "RIDGE" => "RDG",
        "MOUNT" => "MT",
        "FORT" => "FT",
        "SAINT" => "ST",
        "CENTER" | "CENTRE" | "CNTR" => "CTR",
        "NORTH" => "N",
        "SOUTH" => "S",
        "EAST" => "E",
        "WEST" => "W",
        "NORTHEAST" => "NE",
        "NORTHWEST" => "NW",
        "SOUTHEAST" => "SE",
        "SOUTHWEST" => "SW",
        "HILLS" => "HLS",
        "TOWNSHIP" | "TWP" => "TWP",
        other => other,
    }
}

fn is_unit_designator(token: &str) -> bool {
    matches!(
        token,
        "APT"
            | "APARTMENT"
            | "UNIT"
            | "STE"
            | "SUITE"
            | "RM"
            | "ROOM"
            | "FL"
            | "FLOOR"
            | "BLDG"
            | "BUILDING"
            | "LOT"
            | "NO"
            | "NUM"
            | "SPC"
            | "SPACE"
            | "TRLR"
    )
}

/// Normalizes a street line (plus optional second line) into number, street
/// and unit.
pub fn normalize_street(line1: &str, line2: &str) -> (String, String, String) {
    // '#' introduces a unit; keep it as a word so that "#4" splits.
    let prepared = format!("{} {}", line1, line2).replace('#', " UNIT ");
    let folded = fold(&prepared);
    let tokens: Vec<&str> = folded.split(' ').filter(|t| !t.is_empty()).collect();
    let mut number = String::new();
    let mut street: Vec<&str> = Vec::with_capacity(tokens.len());
    let mut unit = String::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        if i == 0 && t.starts_with(|c: char| c.is_ascii_digit()) {
            number = t.to_owned();
        } else if is_unit_designator(t) {
            if let Some(next) = tokens.get(i + 1) {
                unit = (*next).to_owned();
                i += 1;
            }
        } else if unit.is_empty() || !street.is_empty() {
            street.push(street_word(t));
        }
        i += 1;
    }
    (number, street.join(" "), unit)
}

/// Normalizes a city name: folded, common words abbreviated.
pub fn normalize_city(city: &str) -> String {
    let folded = fold(city);
    folded
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(street_word)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Normalizes a phone number to 10 digits (or 7 without area code). Returns
/// `None` for placeholders and numbers too short to be real.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let mut digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 11 && digits.starts_with('1') {
        digits.remove(0);
    }
    if digits.len() != 10 && digits.len() != 7 {
        return None;
    }
    let first = digits.as_bytes().first().copied();
    if digits.bytes().all(|b| Some(b) == first) {
        return None;
    }
    let local = &digits[digits.len() - 7..];
    if local == "5551212" || local == "1234567" {
        return None;
    }
    Some(digits)
}

/// Normalizes an SSN: 9 digits, excluding well-known placeholders and values
/// with a zero area, group or serial (never issued).
pub fn normalize_ssn(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 9 {
        return None;
    }
    let first = digits.as_bytes().first().copied();
    if digits.bytes().all(|b| Some(b) == first)
        || digits == "123456789"
        || digits == "987654321"
        || &digits[0..3] == "000"
        || &digits[0..3] == "666"
        || &digits[3..5] == "00"
        || &digits[5..9] == "0000"
    {
        return None;
    }
    Some(digits)
}

/// Folds an identifier value to upper-case alphanumerics.
pub fn normalize_id(raw: &str) -> Option<String> {
    let v: String = raw
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if v.is_empty() || v.bytes().all(|b| b == b'0') {
        None
    } else {
        Some(v)
    }
}

fn push_id(v: &mut Vec<String>, id: Option<String>) {
    if let Some(id) = id {
        if !v.contains(&id) {
            v.push(id);
        }
    }
}

/// Normalizes a record. Pure and deterministic.
pub fn normalize(record: &MatchRecord) -> NormalizedRecord {
    let mut out = NormalizedRecord::default();
    let mut suffix = None;

    suffix = add_given(&mut out.first, &record.name.first, VariantSource::Legal).or(suffix);
    suffix = add_surname(&mut out.last, &record.name.last, VariantSource::Legal).or(suffix);
    for alias in &record.aliases {
        if let Some(s) = canonical_suffix(&fold(&alias.first)) {
            // Some senders put the suffix in the alias field.
            suffix = suffix.or(Some(s));
            continue;
        }
        add_given(&mut out.first, &alias.first, VariantSource::Alias);
        add_surname(&mut out.last, &alias.last, VariantSource::Alias);
    }
    out.middle = fold(&record.name.middle).replace(' ', "");
    let explicit_suffix = fold(&record.name.suffix);
    out.suffix = canonical_suffix(&explicit_suffix)
        .or(suffix)
        .map(str::to_owned)
        .unwrap_or(explicit_suffix);

    out.birth_date = record.birth_date;
    out.sex = match record.sex {
        Some(Sex::Other) | None => None,
        s => s,
    };
    let mmn = fold(&record.mother_maiden_name).replace(' ', "");
    if !mmn.is_empty() {
        out.mother_maiden = Some(NameVariant::new(mmn, VariantSource::Legal));
    }
    for g in &record.guardians {
        push_unique(
            &mut out.guardian_first,
            fold(&g.first).replace(' ', ""),
            VariantSource::Legal,
        );
        push_unique(
            &mut out.guardian_last,
            fold(&g.last).replace(' ', ""),
            VariantSource::Legal,
        );
    }
    for a in &record.addresses {
        let (number, street, unit) = normalize_street(&a.street1, &a.street2);
        let zip: String = a.zip.chars().filter(char::is_ascii_digit).take(5).collect();
        let addr = NormalizedAddress {
            number,
            street,
            unit,
            city: normalize_city(&a.city),
            state: fold(&a.state),
            zip5: zip,
        };
        if !addr.is_empty() && !out.addresses.contains(&addr) {
            out.addresses.push(addr);
        }
    }
    for p in &record.phones {
        push_id(&mut out.phones, normalize_phone(p));
    }
    for id in &record.identifiers {
        match &id.kind {
            IdentifierKind::Ssn => push_id(&mut out.ssn, normalize_ssn(&id.value)),
            IdentifierKind::Medicaid => push_id(&mut out.medicaid, normalize_id(&id.value)),
            IdentifierKind::BirthCertificate => {
                push_id(&mut out.birth_certificate, normalize_id(&id.value))
            }
            IdentifierKind::Mrn | IdentifierKind::Other(_) => {
                let kind = match &id.kind {
                    IdentifierKind::Other(k) => fold(k),
                    _ => "MRN".to_owned(),
                };
                if let Some(value) = normalize_id(&id.value) {
                    let sid = ScopedId {
                        kind,
                        authority: fold(&id.authority),
                        value,
                    };
                    if !out.scoped_ids.contains(&sid) {
                        out.scoped_ids.push(sid);
                    }
                }
            }
        }
    }
    out.multiple_birth = record.multiple_birth;
    out.shots = record
        .shots
        .iter()
        .map(|s| (s.date, fold(&s.cvx)))
        .collect();
    out.shots.sort();
    out.shots.dedup();
    out
}

/// Name-frequency table for term-frequency adjustment of name agreement
/// weights: agreeing on "SMITH" is weaker evidence than agreeing on "ZYWIEC".
///
/// Frequencies are fractions of the population (0..1) keyed by folded,
/// space-free names. The registry can fill this from its own data with
/// [`NameFrequencies::from_counts`]; [`NameFrequencies::default`] ships
/// approximate US census surname frequencies for the most common surnames
/// and leaves everything else to the model's average.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NameFrequencies {
    /// Given-name frequencies.
    pub first: HashMap<String, f64>,
    /// Surname frequencies.
    pub last: HashMap<String, f64>,
}

impl NameFrequencies {
    /// An empty table: every name gets the model's average weight.
    pub fn empty() -> Self {
        Self {
            first: HashMap::new(),
            last: HashMap::new(),
        }
    }

    /// Builds frequencies from (name, count) pairs, e.g. a `GROUP BY` over the
    /// registry. Names are folded here so callers may pass raw values.
    pub fn from_counts<'a, I, J>(first: I, last: J) -> Self
    where
        I: IntoIterator<Item = (&'a str, u64)>,
        J: IntoIterator<Item = (&'a str, u64)>,
    {
        fn build<'a>(it: impl IntoIterator<Item = (&'a str, u64)>) -> HashMap<String, f64> {
            let mut counts: HashMap<String, u64> = HashMap::new();
            let mut total = 0u64;
            for (name, n) in it {
                let key = fold(name).replace(' ', "");
                if key.is_empty() {
                    continue;
                }
                *counts.entry(key).or_default() += n;
                total += n;
            }
            let total = total.max(1) as f64;
            counts
                .into_iter()
                .map(|(k, n)| (k, n as f64 / total))
                .collect()
        }
        Self {
            first: build(first),
            last: build(last),
        }
    }

    /// Frequency of a folded given name, if known.
    pub fn first_freq(&self, name: &str) -> Option<f64> {
        self.first.get(name).copied()
    }

    /// Frequency of a folded surname, if known.
    pub fn last_freq(&self, name: &str) -> Option<f64> {
        self.last.get(name).copied()
    }
}

impl Default for NameFrequencies {
    fn default() -> Self {
        let mut last = HashMap::new();
        for line in include_str!("../data/common_surnames.csv").lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some((name, per_100k)) = line.split_once(',') {
                if let Ok(v) = per_100k.trim().parse::<f64>() {
                    last.insert(fold(name).replace(' ', ""), v / 100_000.0);
                }
            }
        }
        Self {
            first: HashMap::new(),
            last,
        }
    }
}

/// True when two folded given names are nickname-equivalent.
pub fn nickname_equivalent(a: &str, b: &str) -> bool {
    nicknames::equivalent(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Address, PersonName};

    #[test]
    fn remembered_phonetic_codes_are_the_computed_ones() {
        // More names than the memo holds, twice: hits, misses and the reset
        // when full all give what the encoders give.
        let names: Vec<String> = (0..PHONETIC_MEMO_CAP + 500)
            .map(|i| format!("SM{}TH{i}", ["I", "Y", "EI"][i % 3]))
            .collect();
        for _ in 0..2 {
            for n in &names {
                assert_eq!(Phonetic::of(n), Phonetic::compute(n), "{n}");
            }
        }
        assert_eq!(Phonetic::of("SMITH").nysiis, "SNAT");
    }

    #[test]
    fn folds_case_punctuation_and_diacritics() {
        assert_eq!(fold("  o'Brien-Muñoz "), "OBRIEN MUNOZ");
        assert_eq!(fold("St. John"), "ST JOHN");
        assert_eq!(fold("Zoë  Ångström"), "ZOE ANGSTROM");
    }

    #[test]
    fn compound_surnames_produce_parts() {
        let r = MatchRecord {
            name: PersonName::new("Ana", "Garcia-Lopez Jr."),
            ..MatchRecord::default()
        };
        let n = normalize(&r);
        let texts: Vec<&str> = n.last.iter().map(|v| v.text.as_str()).collect();
        assert_eq!(texts, vec!["GARCIALOPEZ", "GARCIA", "LOPEZ"]);
        assert_eq!(n.suffix, "JR");
    }

    #[test]
    fn streets_are_abbreviated_and_units_split() {
        let (num, street, unit) = normalize_street("123 North Main Street Apt. 4B", "");
        assert_eq!(
            (num.as_str(), street.as_str(), unit.as_str()),
            ("123", "N MAIN ST", "4B")
        );
        let (num, street, unit) = normalize_street("123 N. Main St #4b", "");
        assert_eq!(
            (num.as_str(), street.as_str(), unit.as_str()),
            ("123", "N MAIN ST", "4B")
        );
    }

    #[test]
    fn phones_are_normalized() {
        assert_eq!(
            normalize_phone("(810) 433-3532").as_deref(),
            Some("8104333532")
        );
        assert_eq!(
            normalize_phone("+1 810 433 3532").as_deref(),
            Some("8104333532")
        );
        assert_eq!(normalize_phone("433-3532").as_deref(), Some("4333532"));
        assert_eq!(normalize_phone("000-000-0000"), None);
        assert_eq!(normalize_phone("12"), None);
    }

    #[test]
    fn ssn_placeholders_are_dropped() {
        assert_eq!(normalize_ssn("494-52-3553").as_deref(), Some("494523553"));
        assert_eq!(normalize_ssn("123-45-6789"), None);
        assert_eq!(normalize_ssn("999999999"), None);
        assert_eq!(normalize_ssn("494-00-3553"), None);
    }

    #[test]
    fn address_record_normalization() {
        let mut r = MatchRecord::default();
        r.addresses.push(Address {
            street1: "48 Leslie Place".into(),
            city: "Saint Clair Shores".into(),
            zip: "48080-1234".into(),
            ..Address::default()
        });
        let n = normalize(&r);
        assert_eq!(n.addresses[0].street, "LESLIE PL");
        assert_eq!(n.addresses[0].city, "ST CLAIR SHORES");
        assert_eq!(n.addresses[0].zip5, "48080");
    }

    #[test]
    fn default_frequencies_know_smith() {
        let f = NameFrequencies::default();
        let smith = f.last_freq("SMITH").unwrap_or(0.0);
        assert!(smith > 0.005 && smith < 0.02, "{smith}");
    }
}
