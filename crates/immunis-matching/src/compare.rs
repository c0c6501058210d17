//! Field comparators: turn two normalized records into a comparison vector
//! (one agreement [`Level`] per [`Field`]) plus the hard-rule flags.
//!
//! The comparison vector is the only thing the scorer and the model fitting
//! ([`crate::em`], `examples/fit_model.rs`) look at, so the same comparators
//! are used for training and for production.

use chrono::{Datelike, NaiveDate};
use strsim::{jaro_winkler, osa_distance};

use crate::model::{Field, Level, FIELD_COUNT};
use crate::nicknames;
use crate::normalize::{NameVariant, NormalizedAddress, NormalizedRecord, VariantSource};

/// Hard rules: conditions under which a pair is never linked automatically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum HardRule {
    /// Both records are from a multiple birth and give different birth
    /// orders: twins/triplets, never the same child. Forces `NotAMatch`.
    BirthOrderConflict,
    /// Different birth certificate numbers (twins have near-identical ones,
    /// so even a one-character difference counts). Forces `NotAMatch`.
    BirthCertificateConflict,
    /// Different SSNs (beyond a one-digit typo or transposition). The pair is
    /// at most a `PossibleMatch`, unless another government identifier
    /// (Medicaid, birth certificate) agrees exactly: pediatric records often
    /// carry a parent's SSN, and a second identifier settles which one is the
    /// child's.
    SsnConflict,
    /// Different sex: at most a `PossibleMatch` (data-entry errors happen,
    /// but twins of opposite sex share everything else).
    SexConflict,
    /// Given names unrelated (no nickname, typo, alias, initial or
    /// first/middle swap explains the difference): at most a
    /// `PossibleMatch`. Twins differ in exactly this field and nowhere else.
    /// Not raised when the identity is corroborated independently of the
    /// household: an identifier agrees exactly (SSN, Medicaid, birth
    /// certificate or an MRN of the same assigning authority), the birth
    /// date agrees exactly, the surname or street address agrees, sex does
    /// not conflict, and neither record reports a multiple birth. Twins
    /// share the birth date and address but not their own identifiers.
    GivenNameConflict,
    /// Unrelated given names where either record reports a multiple birth:
    /// the classic twin pair (same birth date, mother, address, phone).
    /// Forces `NotAMatch`.
    MultipleBirthSiblings,
}

impl HardRule {
    /// All rules.
    pub const ALL: [HardRule; 6] = [
        HardRule::BirthOrderConflict,
        HardRule::BirthCertificateConflict,
        HardRule::SsnConflict,
        HardRule::SexConflict,
        HardRule::GivenNameConflict,
        HardRule::MultipleBirthSiblings,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// True for rules that force `NotAMatch` (as opposed to capping at
    /// `PossibleMatch`).
    pub fn is_veto(self) -> bool {
        matches!(
            self,
            HardRule::BirthOrderConflict
                | HardRule::BirthCertificateConflict
                | HardRule::MultipleBirthSiblings
        )
    }

    /// Human-readable explanation for the reviewer screen.
    pub fn description(self) -> &'static str {
        match self {
            HardRule::BirthOrderConflict => "multiple birth with different birth order (twins)",
            HardRule::BirthCertificateConflict => "different birth certificate numbers",
            HardRule::SsnConflict => "different SSNs",
            HardRule::SexConflict => "different sex",
            HardRule::GivenNameConflict => "unrelated given names",
            HardRule::MultipleBirthSiblings => {
                "multiple birth with unrelated given names (siblings)"
            }
        }
    }
}

/// A small set of [`HardRule`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RuleSet(u8);

impl RuleSet {
    /// Adds a rule.
    pub fn insert(&mut self, r: HardRule) {
        self.0 |= r.bit();
    }
    /// Removes a rule.
    pub fn remove(&mut self, r: HardRule) {
        self.0 &= !r.bit();
    }
    /// Membership.
    pub fn contains(&self, r: HardRule) -> bool {
        self.0 & r.bit() != 0
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
    /// The rules in the set.
    pub fn iter(self) -> impl Iterator<Item = HardRule> {
        HardRule::ALL.into_iter().filter(move |r| self.contains(*r))
    }
}

/// Which records carry a field. Symmetric: matching A against B and B
/// against A must give the same answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Presence {
    /// Both records carry the field.
    Both,
    /// Exactly one record carries it.
    One,
    /// Neither record carries it.
    Neither,
}

impl Presence {
    /// All values.
    pub const ALL: [Presence; 3] = [Presence::Both, Presence::One, Presence::Neither];

    fn of(a: bool, b: bool) -> Presence {
        match (a, b) {
            (true, true) => Presence::Both,
            (false, false) => Presence::Neither,
            _ => Presence::One,
        }
    }

    /// Stable name used in policy files.
    pub fn name(self) -> &'static str {
        match self {
            Presence::Both => "both",
            Presence::One => "one",
            Presence::Neither => "neither",
        }
    }

    /// Inverse of [`Presence::name`].
    pub fn from_name(s: &str) -> Option<Presence> {
        Presence::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// True when the normalized record carries a usable value for `f`.
pub fn has_field(r: &NormalizedRecord, f: Field) -> bool {
    match f {
        Field::FirstName => !r.first.is_empty(),
        Field::MiddleName => !r.middle.is_empty(),
        Field::LastName => !r.last.is_empty(),
        Field::Suffix => !r.suffix.is_empty(),
        Field::BirthDate => r.birth_date.is_some(),
        Field::Sex => r.sex.is_some(),
        Field::MotherMaidenName => r.mother_maiden.is_some(),
        Field::GuardianFirst => r.guardian_first.iter().any(|v| !v.text.is_empty()),
        Field::GuardianLast => r.guardian_last.iter().any(|v| !v.text.is_empty()),
        Field::Address => !r.addresses.is_empty(),
        Field::Phone => !r.phones.is_empty(),
        Field::Ssn => !r.ssn.is_empty(),
        Field::Medicaid => !r.medicaid.is_empty(),
        Field::Mrn => !r.scoped_ids.is_empty(),
        Field::BirthCertificate => !r.birth_certificate.is_empty(),
        Field::MultipleBirth => r.multiple_birth.is_multiple().is_some(),
        Field::ShotHistory => !r.shots.is_empty(),
    }
}

/// The comparison vector of a pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison<'a> {
    /// Agreement level per field (indexed by [`Field::index`]).
    pub levels: [Level; FIELD_COUNT],
    /// Which case of the level applied, per field ("nickname", "off by one day").
    pub details: [&'static str; FIELD_COUNT],
    /// Hard rules that fired.
    pub rules: RuleSet,
    /// Which records carry each field (indexed by [`Field::index`]); a
    /// `Missing` level says nothing about whether one or both sides lack it.
    pub presence: [Presence; FIELD_COUNT],
    /// The agreeing given name, for term-frequency adjustment.
    pub agreed_first: Option<&'a str>,
    /// The agreeing surname, for term-frequency adjustment.
    pub agreed_last: Option<&'a str>,
}

impl Comparison<'_> {
    /// Level of one field.
    pub fn level(&self, f: Field) -> Level {
        self.levels[f.index()]
    }

    fn set(&mut self, f: Field, level: Level, detail: &'static str) {
        self.levels[f.index()] = level;
        self.details[f.index()] = detail;
    }
}

type Graded = (Level, &'static str);

const MISSING: Graded = (Level::Missing, "missing");

/// True when `a` and `b` differ by exactly one substituted character or one
/// adjacent transposition (same length), the classic keying errors.
pub fn is_single_typo(a: &str, b: &str) -> bool {
    if a.len() != b.len() || a == b {
        return false;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let diffs: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    match diffs.as_slice() {
        [_] => true,
        [i, j] => *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i],
        _ => false,
    }
}

/// Grades two name spellings. `given` enables the nickname table.
fn grade_names(a: &NameVariant, b: &NameVariant, given: bool) -> Graded {
    let (level, detail) = grade_text(&a.text, &b.text, a, b, given);
    // Agreement through a compound part or an alias is weaker than agreement
    // of the legal names.
    let via_part =
        a.source == VariantSource::CompoundPart || b.source == VariantSource::CompoundPart;
    let via_alias = a.source == VariantSource::Alias || b.source == VariantSource::Alias;
    match level {
        Level::Exact | Level::Strong if via_part => (Level::Moderate, "compound / hyphenated part"),
        Level::Exact if via_alias => (Level::Strong, "alias"),
        Level::Strong if via_alias => (Level::Moderate, "alias, approximately"),
        _ => (level, detail),
    }
}

fn grade_text(ta: &str, tb: &str, a: &NameVariant, b: &NameVariant, given: bool) -> Graded {
    if ta.is_empty() || tb.is_empty() {
        return MISSING;
    }
    if ta == tb {
        return (Level::Exact, "exact");
    }
    if given && nicknames::equivalent(ta, tb) {
        return (Level::Strong, "nickname");
    }
    let short = ta.len().min(tb.len());
    if short >= 3 && a.phonetic.sounds_like(&b.phonetic) {
        return (Level::Strong, "sounds alike");
    }
    if short >= 4 && osa_distance(ta, tb) <= 1 {
        return (Level::Strong, "one-letter typo");
    }
    let jw = jaro_winkler(ta, tb);
    if jw >= 0.92 && short >= 4 {
        return (Level::Strong, "spelling variant");
    }
    if jw >= 0.85 {
        return (Level::Moderate, "similar spelling");
    }
    if short >= 3 && (ta.starts_with(tb) || tb.starts_with(ta)) {
        return (Level::Moderate, "truncated");
    }
    (Level::Disagree, "different")
}

/// Best grade over all variant pairs, with the agreeing text (for TF).
fn best_pair<'a>(
    av: &'a [NameVariant],
    bv: &'a [NameVariant],
    given: bool,
) -> (Graded, Option<&'a str>) {
    if av.is_empty() || bv.is_empty() {
        return (MISSING, None);
    }
    let mut best: Graded = (Level::Disagree, "different");
    let mut agreed = None;
    for a in av {
        for b in bv {
            let g = grade_names(a, b, given);
            if g.0 < best.0 {
                best = g;
                agreed = if g.0 == Level::Exact {
                    Some(a.text.as_str())
                } else {
                    None
                };
                if g.0 == Level::Exact {
                    return (best, agreed);
                }
            }
        }
    }
    (best, agreed)
}

fn legal(v: &[NameVariant]) -> Option<&NameVariant> {
    v.first().filter(|x| x.source == VariantSource::Legal)
}

fn compare_middle(a: &NormalizedRecord, b: &NormalizedRecord) -> Graded {
    let (ma, mb) = (a.middle.as_str(), b.middle.as_str());
    if ma.is_empty() || mb.is_empty() {
        return MISSING;
    }
    if ma == mb {
        return (Level::Exact, "exact");
    }
    if (ma.len() == 1 || mb.len() == 1) && ma.as_bytes().first() == mb.as_bytes().first() {
        return (Level::Moderate, "initial agrees");
    }
    if ma.len().min(mb.len()) >= 4 && (osa_distance(ma, mb) <= 1 || jaro_winkler(ma, mb) >= 0.9) {
        return (Level::Strong, "typo");
    }
    // Given name and middle name swapped between the records.
    let swapped = legal(&a.first).is_some_and(|f| f.text == mb)
        || legal(&b.first).is_some_and(|f| f.text == ma);
    if swapped {
        return (Level::Moderate, "first/middle swapped");
    }
    (Level::Disagree, "different")
}

fn compare_birth_date(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Graded {
    let (Some(a), Some(b)) = (a, b) else {
        return MISSING;
    };
    if a == b {
        return (Level::Exact, "exact");
    }
    if a.year() == b.year() && a.month() == b.day() && a.day() == b.month() {
        return (Level::Strong, "day/month swapped");
    }
    let sa = a.format("%Y%m%d").to_string();
    let sb = b.format("%Y%m%d").to_string();
    if is_single_typo(&sa, &sb) {
        let transposed = sa.bytes().zip(sb.bytes()).filter(|(x, y)| x != y).count() == 2;
        if transposed {
            return (Level::Strong, "transposed digits");
        }
    }
    let days = (a - b).num_days().abs();
    if days == 1 {
        return (Level::Moderate, "off by one day");
    }
    if is_single_typo(&sa, &sb) {
        return (Level::Moderate, "one digit differs");
    }
    if a.month() == b.month() && a.day() == b.day() && (a.year() - b.year()).abs() == 1 {
        return (Level::Weak, "year off by one");
    }
    if days <= 7 {
        return (Level::Weak, "within a week");
    }
    (Level::Disagree, "different")
}

fn compare_address(a: &[NormalizedAddress], b: &[NormalizedAddress]) -> Graded {
    if a.is_empty() || b.is_empty() {
        return MISSING;
    }
    let mut best: Graded = MISSING;
    for x in a {
        for y in b {
            let g = grade_address(x, y);
            if g.0 < best.0 {
                best = g;
            }
        }
    }
    best
}

fn grade_address(x: &NormalizedAddress, y: &NormalizedAddress) -> Graded {
    let streets = !x.street.is_empty() && !y.street.is_empty();
    if streets {
        let same_number = x.number == y.number;
        if same_number && x.street == y.street {
            if !x.unit.is_empty() && !y.unit.is_empty() && x.unit != y.unit {
                return (Level::Strong, "same building, different unit");
            }
            return (Level::Exact, "same street address");
        }
        let street_close = jaro_winkler(&x.street, &y.street) >= 0.88;
        if same_number && !x.number.is_empty() && street_close {
            return (Level::Strong, "street typo");
        }
        if x.street == y.street && is_single_typo(&x.number, &y.number) {
            return (Level::Strong, "house number typo");
        }
    }
    let zips = x.zip5.len() == 5 && y.zip5.len() == 5;
    if zips && x.zip5 == y.zip5 {
        return (Level::Weak, "same ZIP");
    }
    if !x.city.is_empty() && x.city == y.city {
        return (Level::Weak, "same city");
    }
    if streets || zips || (!x.city.is_empty() && !y.city.is_empty()) {
        (Level::Disagree, "different")
    } else {
        MISSING
    }
}

fn compare_phone(a: &[String], b: &[String]) -> Graded {
    if a.is_empty() || b.is_empty() {
        return MISSING;
    }
    let mut best: Graded = (Level::Disagree, "different");
    for x in a {
        for y in b {
            if x == y && x.len() == 10 {
                return (Level::Exact, "exact");
            }
            let lx = &x[x.len().saturating_sub(7)..];
            let ly = &y[y.len().saturating_sub(7)..];
            if lx == ly {
                best = (
                    Level::Strong,
                    "same local number, area code differs or missing",
                );
            }
        }
    }
    best
}

/// Exact / typo / disagree over two identifier lists.
fn compare_ids(a: &[String], b: &[String]) -> Graded {
    if a.is_empty() || b.is_empty() {
        return MISSING;
    }
    let mut best: Graded = (Level::Disagree, "different");
    for x in a {
        for y in b {
            if x == y {
                return (Level::Exact, "exact");
            }
            if is_single_typo(x, y) {
                best = (Level::Strong, "one-digit typo or transposition");
            }
        }
    }
    best
}

fn compare_scoped(a: &NormalizedRecord, b: &NormalizedRecord) -> Graded {
    let mut best = MISSING;
    for x in &a.scoped_ids {
        for y in &b.scoped_ids {
            if x.kind == y.kind && x.authority == y.authority {
                if x.value == y.value {
                    return (Level::Exact, "same id, same assigning authority");
                }
                best = (
                    Level::Disagree,
                    "different id from the same assigning authority",
                );
            }
        }
    }
    best
}

fn compare_multiple_birth(
    a: &NormalizedRecord,
    b: &NormalizedRecord,
    rules: &mut RuleSet,
) -> Graded {
    let (ma, mb) = (
        a.multiple_birth.is_multiple(),
        b.multiple_birth.is_multiple(),
    );
    let (oa, ob) = (a.multiple_birth.order, b.multiple_birth.order);
    if let (Some(x), Some(y)) = (oa, ob) {
        let multiple = ma == Some(true) || mb == Some(true) || x > 1 || y > 1;
        if multiple && x != y {
            rules.insert(HardRule::BirthOrderConflict);
            return (Level::Disagree, "different birth order");
        }
        if multiple && x == y {
            return (Level::Exact, "same birth order");
        }
    }
    match (ma, mb) {
        (Some(true), Some(true)) => (Level::Weak, "both multiple birth, order missing"),
        (Some(false), Some(false)) => (Level::Strong, "both singletons"),
        (Some(_), Some(_)) => (Level::Disagree, "multiple vs singleton"),
        _ => MISSING,
    }
}

fn compare_shots(a: &[(NaiveDate, String)], b: &[(NaiveDate, String)]) -> Graded {
    if a.is_empty() || b.is_empty() {
        return MISSING;
    }
    // Both lists are sorted: merge-count the overlap.
    let (mut i, mut j, mut shared) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    match shared {
        0 => (Level::Disagree, "no shot in common"),
        1 => (Level::Strong, "one shot in common"),
        _ => (Level::Exact, "several shots in common"),
    }
}

/// Identity evidence that does not come from the household (see
/// [`HardRule::GivenNameConflict`]).
///
/// A personal identifier must agree exactly: an MRN of the same assigning
/// authority, a Medicaid id or a birth-certificate number; or an SSN backed
/// by the surname or street address (children's records sometimes carry a
/// parent's SSN, which siblings then share). The birth date must agree
/// exactly, or be absent on one side with surname and street address both
/// agreeing. Sex and the other identifiers must not conflict.
fn identity_corroborated(c: &Comparison<'_>) -> bool {
    let surname = c.level(Field::LastName) <= Level::Moderate;
    let street = c.level(Field::Address) <= Level::Strong;
    let personal_id = [Field::Mrn, Field::Medicaid, Field::BirthCertificate]
        .iter()
        .any(|f| c.level(*f) == Level::Exact)
        || (c.level(Field::Ssn) == Level::Exact && (surname || street));
    let conflicts = c.rules.contains(HardRule::SsnConflict)
        || c.rules.contains(HardRule::BirthCertificateConflict)
        || c.rules.contains(HardRule::SexConflict)
        || c.level(Field::Mrn) == Level::Disagree;
    let birth = match c.level(Field::BirthDate) {
        Level::Exact => true,
        Level::Missing => c.level(Field::LastName) <= Level::Strong && street,
        _ => false,
    };
    personal_id && birth && !conflicts
}

/// Compares two normalized records field by field.
pub fn compare<'a>(a: &'a NormalizedRecord, b: &'a NormalizedRecord) -> Comparison<'a> {
    let mut c = Comparison {
        levels: [Level::Missing; FIELD_COUNT],
        details: ["missing"; FIELD_COUNT],
        rules: RuleSet::default(),
        presence: [Presence::Neither; FIELD_COUNT],
        agreed_first: None,
        agreed_last: None,
    };

    // Names, with a check for first/last transposed between the records.
    let ((first, agreed_first), (last, agreed_last)) = (
        best_pair(&a.first, &b.first, true),
        best_pair(&a.last, &b.last, false),
    );
    let transposed = match (
        legal(&a.first),
        legal(&a.last),
        legal(&b.first),
        legal(&b.last),
    ) {
        (Some(af), Some(al), Some(bf), Some(bl)) => {
            af.text != al.text
                && grade_names(af, bl, true).0 <= Level::Strong
                && grade_names(al, bf, false).0 <= Level::Strong
        }
        _ => false,
    };
    if transposed && first.0 >= Level::Moderate && last.0 >= Level::Moderate {
        c.set(Field::FirstName, Level::Strong, "first/last transposed");
        c.set(Field::LastName, Level::Strong, "first/last transposed");
    } else {
        let mut first = first;
        if first.0 >= Level::Moderate {
            // Initial only, or given name recorded as the middle name.
            let initial = match (legal(&a.first), legal(&b.first)) {
                (Some(x), Some(y)) => {
                    (x.text.len() == 1 || y.text.len() == 1)
                        && x.text.as_bytes().first() == y.text.as_bytes().first()
                }
                _ => false,
            };
            let swapped = legal(&a.first)
                .is_some_and(|f| !b.middle.is_empty() && f.text == b.middle)
                || legal(&b.first).is_some_and(|f| !a.middle.is_empty() && f.text == a.middle);
            if swapped {
                first = (Level::Moderate, "first/middle swapped");
            } else if initial && first.0 > Level::Weak {
                first = (Level::Weak, "initial only");
            }
        }
        if first.0 == Level::Disagree {
            // Provisional; may be lifted by corroboration (end of compare).
            c.rules.insert(HardRule::GivenNameConflict);
        }
        c.set(Field::FirstName, first.0, first.1);
        c.set(Field::LastName, last.0, last.1);
        if first.0 == Level::Exact {
            c.agreed_first = agreed_first;
        }
        if last.0 == Level::Exact {
            c.agreed_last = agreed_last;
        }
    }

    let m = compare_middle(a, b);
    c.set(Field::MiddleName, m.0, m.1);

    let suffix = match (a.suffix.is_empty(), b.suffix.is_empty()) {
        (true, true) => MISSING,
        (false, false) if a.suffix == b.suffix => (Level::Exact, "exact"),
        (false, false) => (Level::Disagree, "different"),
        _ => (Level::Weak, "suffix on one record only"),
    };
    c.set(Field::Suffix, suffix.0, suffix.1);

    let d = compare_birth_date(a.birth_date, b.birth_date);
    c.set(Field::BirthDate, d.0, d.1);

    let sex = match (a.sex, b.sex) {
        (Some(x), Some(y)) if x == y => (Level::Exact, "exact"),
        (Some(_), Some(_)) => {
            c.rules.insert(HardRule::SexConflict);
            (Level::Disagree, "different")
        }
        _ => MISSING,
    };
    c.set(Field::Sex, sex.0, sex.1);

    let mmn = match (&a.mother_maiden, &b.mother_maiden) {
        (Some(x), Some(y)) => grade_names(x, y, false),
        _ => MISSING,
    };
    c.set(Field::MotherMaidenName, mmn.0, mmn.1);

    let gf = best_pair(&a.guardian_first, &b.guardian_first, true).0;
    c.set(Field::GuardianFirst, gf.0, gf.1);
    let gl = best_pair(&a.guardian_last, &b.guardian_last, false).0;
    c.set(Field::GuardianLast, gl.0, gl.1);

    let addr = compare_address(&a.addresses, &b.addresses);
    c.set(Field::Address, addr.0, addr.1);
    let phone = compare_phone(&a.phones, &b.phones);
    c.set(Field::Phone, phone.0, phone.1);

    let ssn = compare_ids(&a.ssn, &b.ssn);
    c.set(Field::Ssn, ssn.0, ssn.1);
    let medicaid = compare_ids(&a.medicaid, &b.medicaid);
    c.set(Field::Medicaid, medicaid.0, medicaid.1);
    let bc = match compare_ids(&a.birth_certificate, &b.birth_certificate) {
        (Level::Exact, d) => (Level::Exact, d),
        (Level::Missing, d) => (Level::Missing, d),
        _ => {
            c.rules.insert(HardRule::BirthCertificateConflict);
            (Level::Disagree, "different")
        }
    };
    c.set(Field::BirthCertificate, bc.0, bc.1);
    if ssn.0 == Level::Disagree {
        let corroborated = medicaid.0 == Level::Exact || bc.0 == Level::Exact;
        if !corroborated {
            c.rules.insert(HardRule::SsnConflict);
        }
    }

    let mrn = compare_scoped(a, b);
    c.set(Field::Mrn, mrn.0, mrn.1);
    let mb = compare_multiple_birth(a, b, &mut c.rules);
    let multiple = a.multiple_birth.is_multiple() == Some(true)
        || b.multiple_birth.is_multiple() == Some(true);
    if multiple && c.rules.contains(HardRule::GivenNameConflict) {
        c.rules.insert(HardRule::MultipleBirthSiblings);
    }
    if c.rules.contains(HardRule::GivenNameConflict) && !multiple && identity_corroborated(&c) {
        c.rules.remove(HardRule::GivenNameConflict);
    }
    c.set(Field::MultipleBirth, mb.0, mb.1);
    let shots = compare_shots(&a.shots, &b.shots);
    c.set(Field::ShotHistory, shots.0, shots.1);
    for f in Field::ALL {
        c.presence[f.index()] = Presence::of(has_field(a, f), has_field(b, f));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, day)
    }

    #[test]
    fn typo_detection() {
        assert!(is_single_typo("494523553", "494523533"));
        assert!(is_single_typo("494523553", "494525353"));
        assert!(!is_single_typo("494523553", "494523553"));
        assert!(!is_single_typo("494523553", "111523553"));
    }

    #[test]
    fn birth_date_grades() {
        assert_eq!(
            compare_birth_date(d(2011, 6, 4), d(2011, 6, 4)).0,
            Level::Exact
        );
        assert_eq!(
            compare_birth_date(d(2011, 6, 4), d(2011, 4, 6)).1,
            "day/month swapped"
        );
        assert_eq!(
            compare_birth_date(d(2011, 6, 12), d(2011, 6, 21)).1,
            "transposed digits"
        );
        assert_eq!(
            compare_birth_date(d(2011, 6, 4), d(2011, 6, 5)).1,
            "off by one day"
        );
        assert_eq!(
            compare_birth_date(d(2011, 6, 4), d(2012, 6, 4)).0,
            Level::Moderate
        );
        assert_eq!(
            compare_birth_date(d(2011, 6, 4), d(2009, 1, 1)).0,
            Level::Disagree
        );
        assert_eq!(compare_birth_date(None, d(2009, 1, 1)).0, Level::Missing);
    }
}
