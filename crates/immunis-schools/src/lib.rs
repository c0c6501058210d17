//! `immunis-schools`: school-entry immunization compliance.
//!
//! Requirement sets are **data** ([`Rules`], a TOML file; the embedded default
//! is Massachusetts 2025–26, `data/massachusetts-2025.toml`, built from
//! `shared/requirements/massachusetts-school.md`). A [`Student`] — birth date,
//! grade, doses with CDSi's validity, evidence of immunity, CDSi's series
//! status and forecast, exemptions — is evaluated on an assessment date into a
//! [`StudentResult`]: per requirement `Compliant` (by doses, immunity or birth
//! year), `InProgress`, `NotCompliant` (with what is missing in plain words),
//! `Exempt(kind)` or `NotRequired`, and an overall status.
//!
//! Pure: no I/O, no clock (the assessment date is an argument), no dependency
//! on the other Immunis crates (the registry converts CDSi's results into the
//! plain [`CdsiGroup`] / [`Validity`] values here).
//!
//! The choices made where the reference marks a rule ❓ are listed in the
//! README and in comments in the data file.
#![forbid(unsafe_code)]

pub mod age;
mod eval;
pub mod rules;

use std::fmt;

use chrono::NaiveDate;

pub use age::Age;
pub use eval::evaluate;
pub use rules::{
    parse_school_year, school_year_label, CountSpec, Group, InProgressRule, Requirement,
    RequirementSet, Rules, Settings, MASSACHUSETTS_2025,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("school requirements: {0}")]
    Invalid(String),
    #[error("no requirement set for grade {grade} at age {age}")]
    NoSet { grade: String, age: String },
}

/// A grade, normalized: child care, preschool, K0, K1, K (kindergarten, K2),
/// 1–12, college, or an ungraded classroom.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grade {
    ChildCare,
    Preschool,
    K0,
    K1,
    K,
    Grade(u8),
    College,
    Ungraded,
}

impl Grade {
    /// Accepts the usual spellings: `K`, `KG`, `K2`, `kindergarten`, `PK`,
    /// `pre-k`, `preschool`, `CC`, `child care`, `1`…`12` (`07`, `grade 7`),
    /// `college`, `UG`/`ungraded`.
    pub fn parse(s: &str) -> Result<Grade, RulesError> {
        let t: String = s
            .trim()
            .to_ascii_uppercase()
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
            .collect();
        let t = t.strip_prefix("GRADE").unwrap_or(&t);
        Ok(match t {
            "CC" | "CHILDCARE" | "DAYCARE" => Grade::ChildCare,
            "PS" | "PK" | "PREK" | "PRESCHOOL" => Grade::Preschool,
            "K0" => Grade::K0,
            "K1" => Grade::K1,
            "K" | "KG" | "K2" | "KINDERGARTEN" => Grade::K,
            "COLLEGE" | "COL" | "UNIVERSITY" | "POSTSECONDARY" => Grade::College,
            "UG" | "UNGRADED" => Grade::Ungraded,
            n => match n.parse::<u8>() {
                Ok(g @ 1..=12) => Grade::Grade(g),
                _ => {
                    return Err(RulesError::Invalid(format!(
                        "not a grade: {s:?} (CC, PS, K0, K1, K, 1-12, college, UG)"
                    )))
                }
            },
        })
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grade::ChildCare => f.write_str("CC"),
            Grade::Preschool => f.write_str("PS"),
            Grade::K0 => f.write_str("K0"),
            Grade::K1 => f.write_str("K1"),
            Grade::K => f.write_str("K"),
            Grade::Grade(n) => write!(f, "{n}"),
            Grade::College => f.write_str("COLLEGE"),
            Grade::Ungraded => f.write_str("UG"),
        }
    }
}

/// What CDSi said about one dose for one of its vaccine groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validity {
    Valid,
    /// Not valid, extraneous or sub-standard, with CDSi's reason.
    NotValid(String),
}

/// One dose administered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dose {
    pub date: NaiveDate,
    pub cvx: u16,
    /// CDSi's evaluation per CDSi vaccine group name (e.g. "MMR"); a group
    /// missing here means CDSi did not evaluate the dose for it.
    pub cdsi: Vec<(String, Validity)>,
}

impl Dose {
    pub fn validity(&self, cdsi_group: &str) -> Option<&Validity> {
        self.cdsi
            .iter()
            .find(|(g, _)| g == cdsi_group)
            .map(|(_, v)| v)
    }
}

/// Evidence of immunity kinds (105 CMR 220.500(C)(3)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvidenceKind {
    /// Laboratory evidence of immunity (serology).
    Laboratory,
    /// History of disease diagnosed or verified by a clinician.
    ClinicianHistory,
}

impl EvidenceKind {
    pub fn parse(s: &str) -> Option<EvidenceKind> {
        match s.trim() {
            "laboratory" | "lab" => Some(EvidenceKind::Laboratory),
            "clinician_history" | "history" => Some(EvidenceKind::ClinicianHistory),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Laboratory => "laboratory",
            EvidenceKind::ClinicianHistory => "clinician_history",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// Lower-case antigen ("measles", "varicella", "hepatitis b").
    pub antigen: String,
    pub kind: EvidenceKind,
}

/// CDSi's vaccine group status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CdsiStatus {
    NotComplete,
    Complete,
    Immune,
    Contraindicated,
    AgedOut,
    NotRecommended,
}

/// CDSi's forecast of the next dose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextDose {
    /// 1-based number of the next dose in CDSi's series.
    pub dose_number: u16,
    pub earliest: NaiveDate,
    pub recommended: NaiveDate,
    pub past_due: Option<NaiveDate>,
}

/// CDSi's result for one of its vaccine groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdsiGroup {
    /// CDSi vaccine group name ("DTaP/Tdap/Td", "MMR" …).
    pub group: String,
    pub status: CdsiStatus,
    pub next: Option<NextDose>,
}

/// The two Massachusetts exemptions, plus the meningococcal waiver
/// (c. 76 § 15D) accepted for college MenACWY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExemptionKind {
    Medical,
    Religious,
    Waiver,
}

impl ExemptionKind {
    pub fn parse(s: &str) -> Option<ExemptionKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "medical" => Some(ExemptionKind::Medical),
            "religious" => Some(ExemptionKind::Religious),
            "waiver" | "meningococcal_waiver" => Some(ExemptionKind::Waiver),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExemptionKind::Medical => "medical",
            ExemptionKind::Religious => "religious",
            ExemptionKind::Waiver => "waiver",
        }
    }
}

/// An exemption on file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    pub kind: ExemptionKind,
    /// Group keys covered; empty = every vaccine.
    pub groups: Vec<String>,
    pub signed: NaiveDate,
    /// The school year (starting calendar year) it was given for; `None` =
    /// the school year of `signed`.
    pub school_year: Option<i32>,
    /// A temporary medical exemption's end.
    pub expires: Option<NaiveDate>,
}

/// Everything the rules look at for one student.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Student {
    pub birth_date: NaiveDate,
    pub grade: Grade,
    pub doses: Vec<Dose>,
    pub evidence: Vec<Evidence>,
    pub cdsi: Vec<CdsiGroup>,
    pub exemptions: Vec<Exemption>,
    /// Born in the United States (college birth-year rules); unknown = no.
    pub born_in_us: Option<bool>,
    /// A health-science student (college birth-year rules do not apply).
    pub health_science: bool,
}

impl Student {
    pub fn new(birth_date: NaiveDate, grade: Grade) -> Student {
        Student {
            birth_date,
            grade,
            doses: Vec::new(),
            evidence: Vec::new(),
            cdsi: Vec::new(),
            exemptions: Vec::new(),
            born_in_us: None,
            health_science: false,
        }
    }
}

/// How a requirement was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    Doses,
    Immunity,
    BirthYear,
}

/// One requirement's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Compliant(Basis),
    /// Not met, but the next dose is not due yet (a working status: MA law
    /// has no provisional enrollment); the date CDSi's forecast gives.
    InProgress {
        /// The date the in-progress rule looked at (earliest, recommended or
        /// past-due date of the next dose).
        due: NaiveDate,
    },
    NotCompliant,
    Exempt(ExemptionKind),
    /// The requirement does not apply to this student (age limits).
    NotRequired,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Compliant(Basis::Doses) => f.write_str("compliant"),
            Status::Compliant(Basis::Immunity) => f.write_str("compliant (immunity)"),
            Status::Compliant(Basis::BirthYear) => f.write_str("compliant (birth year)"),
            Status::InProgress { .. } => f.write_str("in progress"),
            Status::NotCompliant => f.write_str("not compliant"),
            Status::Exempt(k) => write!(f, "exempt ({})", k.as_str()),
            Status::NotRequired => f.write_str("not required"),
        }
    }
}

/// The roll-up over a student's requirements: compliant if every one is met
/// (or not required); exempt if the rest are covered by exemptions; in
/// progress if the rest are in progress; otherwise not compliant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overall {
    Compliant,
    InProgress,
    NotCompliant,
    Exempt(ExemptionKind),
}

impl fmt::Display for Overall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Overall::Compliant => f.write_str("compliant"),
            Overall::InProgress => f.write_str("in progress"),
            Overall::NotCompliant => f.write_str("not compliant"),
            Overall::Exempt(k) => write!(f, "exempt ({})", k.as_str()),
        }
    }
}

/// The result for one requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementResult {
    /// The group key (report column).
    pub group: String,
    pub label: String,
    pub status: Status,
    /// What is missing, in plain words ("needs MMR dose 2").
    pub missing: Vec<String>,
    /// Why doses did not count, expired exemptions, contraindications.
    pub notes: Vec<String>,
}

/// The result for one student.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudentResult {
    pub set_id: String,
    pub set_label: String,
    pub school_year: i32,
    pub requirements: Vec<RequirementResult>,
    pub overall: Overall,
}

impl StudentResult {
    /// Every missing item, in requirement order.
    pub fn missing(&self) -> Vec<&str> {
        self.requirements
            .iter()
            .flat_map(|r| r.missing.iter().map(String::as_str))
            .collect()
    }

    pub fn requirement(&self, group: &str) -> Option<&RequirementResult> {
        self.requirements
            .iter()
            .find(|r| r.group.eq_ignore_ascii_case(group))
    }
}
