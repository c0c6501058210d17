//! Public boundary types: the patient history given to the engine and the
//! assessment it returns (CDSi chapter 4 inputs, chapter 9 outputs).

use chrono::NaiveDate;

use crate::error::InputError;
use crate::model::{AntigenId, Mvx, VaccineGroupId};
use crate::supporting_data::parse_cvx;

/// Patient sex (CDSi "gender"): used to select series with a required gender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Unknown / not stated.
    Unknown,
}

impl Sex {
    /// Parses `M`, `F`, `U` (also `Male`, `Female`, `Unknown`), case-insensitive.
    pub fn parse(s: &str) -> Result<Sex, InputError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "F" | "FEMALE" => Ok(Sex::Female),
            "M" | "MALE" => Ok(Sex::Male),
            "U" | "UNKNOWN" | "" => Ok(Sex::Unknown),
            _ => Err(InputError::Sex(s.to_string())),
        }
    }

    pub(crate) fn bit(self) -> u8 {
        match self {
            Sex::Female => 1,
            Sex::Male => 2,
            Sex::Unknown => 4,
        }
    }
}

/// A CVX code, parsed once into an integer id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cvx(pub u16);

impl Cvx {
    /// Parses a CVX code such as `"03"` or `"107"`.
    pub fn parse(s: &str) -> Result<Cvx, InputError> {
        parse_cvx(s)
            .map(Cvx)
            .ok_or_else(|| InputError::Cvx(s.to_string()))
    }
}

impl std::str::FromStr for Cvx {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cvx::parse(s)
    }
}

/// Condition of an administered dose (CDSi 6.1 "evaluate dose administered condition").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DoseCondition {
    /// Nothing known against the dose.
    #[default]
    Normal,
    /// Administered after the lot expiration date.
    Expired,
    /// Recalled or otherwise sub-potent.
    SubPotent,
}

/// One vaccine dose administered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdministeredDose {
    /// Date administered.
    pub date: NaiveDate,
    /// Vaccine (CVX).
    pub cvx: Cvx,
    /// Manufacturer (MVX), if known.
    pub mvx: Option<Mvx>,
    /// Volume in millilitres, if known (CDSi 6.8: a preferable vaccine
    /// given with less than the supporting data's volume is flagged "Less than
    /// recommended volume" but still counts; unknown = full volume).
    pub volume_ml: Option<f32>,
    /// Dose condition (expired / sub-potent).
    pub condition: DoseCondition,
}

impl AdministeredDose {
    /// A normal dose with only date and CVX known.
    pub fn new(date: NaiveDate, cvx: Cvx) -> Self {
        AdministeredDose {
            date,
            cvx,
            mvx: None,
            volume_ml: None,
            condition: DoseCondition::Normal,
        }
    }
}

/// A patient observation (CDSi coded observation, e.g. `055` health care personnel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// CDSi observation code (the number of e.g. `"055"`).
    pub code: u16,
    /// Date of the observation, if known (used by intervals from an observation).
    pub date: Option<NaiveDate>,
}

/// A patient's immunization history (CDSi 4.1 "gather necessary data").
#[derive(Debug, Clone, Copy)]
pub struct PatientHistory<'a> {
    /// Date of birth.
    pub birth_date: NaiveDate,
    /// Sex.
    pub sex: Sex,
    /// Doses administered, any order.
    pub doses: &'a [AdministeredDose],
    /// Patient observations (indications, contraindications, immunity).
    pub observations: &'a [Observation],
}

/// Patient series / vaccine group status (CDSi chapter 7 and 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeriesStatus {
    /// More doses are needed.
    NotComplete,
    /// The series is complete.
    Complete,
    /// The patient has evidence of immunity.
    Immune,
    /// The patient has a contraindication.
    Contraindicated,
    /// The patient is past the maximum age.
    AgedOut,
    /// No dose is recommended (e.g. past the season, not needed).
    NotRecommended,
}

impl SeriesStatus {
    /// The spec's words.
    pub fn as_str(self) -> &'static str {
        match self {
            SeriesStatus::NotComplete => "Not Complete",
            SeriesStatus::Complete => "Complete",
            SeriesStatus::Immune => "Immune",
            SeriesStatus::Contraindicated => "Contraindicated",
            SeriesStatus::AgedOut => "Aged Out",
            SeriesStatus::NotRecommended => "Not Recommended",
        }
    }
}

/// Evaluation status of a dose (CDSi chapter 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DoseStatus {
    /// Counts toward the series.
    Valid,
    /// Does not count and must be repeated.
    NotValid,
    /// Does not count but need not be repeated.
    Extraneous,
    /// Expired or sub-potent.
    SubStandard,
}

impl DoseStatus {
    /// The spec's words.
    pub fn as_str(self) -> &'static str {
        match self {
            DoseStatus::Valid => "Valid",
            DoseStatus::NotValid => "Not Valid",
            DoseStatus::Extraneous => "Extraneous",
            DoseStatus::SubStandard => "Sub-standard",
        }
    }
}

/// Evaluation reason of a dose which is not valid (CDSi chapter 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvalReason {
    /// Administered before the absolute minimum age.
    AgeTooYoung,
    /// Administered on or after the maximum age.
    AgeTooOld,
    /// Administered before the absolute minimum interval.
    IntervalTooSoon,
    /// Inadvertent vaccine.
    InadvertentVaccine,
    /// Live virus conflict.
    LiveVirusConflict,
    /// Neither a preferable nor an allowable vaccine.
    NotPreferableOrAllowable,
    /// A preferable vaccine given with less than its supporting-data volume
    /// (CDSi 6.8): the dose still counts as a preferable vaccine, so this
    /// reason also appears on valid doses (in [`DoseEvaluation::reasons`]).
    LessThanRecommendedVolume,
    /// The series was already complete.
    SeriesAlreadyComplete,
    /// Expired.
    Expired,
    /// Sub-potent.
    SubPotent,
}

impl EvalReason {
    /// Every reason, in CDSi chapter 6 evaluation order.
    pub const ALL: [EvalReason; 10] = [
        EvalReason::Expired,
        EvalReason::SubPotent,
        EvalReason::SeriesAlreadyComplete,
        EvalReason::InadvertentVaccine,
        EvalReason::AgeTooYoung,
        EvalReason::AgeTooOld,
        EvalReason::IntervalTooSoon,
        EvalReason::LiveVirusConflict,
        EvalReason::NotPreferableOrAllowable,
        EvalReason::LessThanRecommendedVolume,
    ];

    /// The reason's bit: its position in [`EvalReason::ALL`] (checked by
    /// the `reason_bits_follow_all` test).
    #[inline]
    fn bit(self) -> u16 {
        let i = match self {
            EvalReason::Expired => 0,
            EvalReason::SubPotent => 1,
            EvalReason::SeriesAlreadyComplete => 2,
            EvalReason::InadvertentVaccine => 3,
            EvalReason::AgeTooYoung => 4,
            EvalReason::AgeTooOld => 5,
            EvalReason::IntervalTooSoon => 6,
            EvalReason::LiveVirusConflict => 7,
            EvalReason::NotPreferableOrAllowable => 8,
            EvalReason::LessThanRecommendedVolume => 9,
        };
        1 << i
    }

    /// The spec's words.
    pub fn as_str(self) -> &'static str {
        match self {
            EvalReason::AgeTooYoung => "Age: Too Young",
            EvalReason::AgeTooOld => "Age: Too Old",
            EvalReason::IntervalTooSoon => "Interval: Too Soon",
            EvalReason::InadvertentVaccine => "Inadvertent Vaccine",
            EvalReason::LiveVirusConflict => "Live Virus Conflict",
            EvalReason::NotPreferableOrAllowable => "Not a preferable or allowable vaccine",
            EvalReason::LessThanRecommendedVolume => "Less than recommended volume",
            EvalReason::SeriesAlreadyComplete => "Series Already Complete",
            EvalReason::Expired => "Expired",
            EvalReason::SubPotent => "Sub-potent",
        }
    }
}

/// The set of reasons a dose was not counted: CDSi chapter 6 runs every
/// check (age 6.4, intervals 6.5/6.6, live virus conflict 6.7, vaccine type
/// 6.8/6.9) on a dose, so a dose can fail several of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EvalReasons(u16);

impl EvalReasons {
    /// The empty set.
    pub const EMPTY: EvalReasons = EvalReasons(0);

    /// A set with one reason.
    pub fn of(r: EvalReason) -> EvalReasons {
        EvalReasons(r.bit())
    }

    /// Adds a reason.
    pub fn insert(&mut self, r: EvalReason) {
        self.0 |= r.bit();
    }

    /// Whether the set contains `r`.
    pub fn contains(self, r: EvalReason) -> bool {
        self.0 & r.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The reasons, in CDSi chapter 6 evaluation order.
    pub fn iter(self) -> impl Iterator<Item = EvalReason> {
        EvalReason::ALL
            .into_iter()
            .filter(move |r| self.contains(*r))
    }

    /// The first reason in evaluation order.
    pub fn first(self) -> Option<EvalReason> {
        self.iter().next()
    }
}

/// A forecast of the next dose (CDSi 7.5 / 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forecast {
    /// Target dose number (1-based) of the next dose.
    pub dose_number: u16,
    /// Earliest date.
    pub earliest: NaiveDate,
    /// Recommended date.
    pub recommended: NaiveDate,
    /// Past-due date, if any.
    pub past_due: Option<NaiveDate>,
    /// Latest date (day before the maximum age), if any.
    pub latest: Option<NaiveDate>,
    /// Recommended vaccines (CVX) for the next dose.
    pub vaccines: Vec<Cvx>,
}

/// Evaluation of one administered dose for one antigen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoseEvaluation {
    /// Index of the dose in [`PatientHistory::doses`].
    pub dose_index: usize,
    /// Antigen evaluated.
    pub antigen: AntigenId,
    /// Status.
    pub status: DoseStatus,
    /// Reason (for statuses other than valid): the first failed check in
    /// CDSi chapter 6 order.
    pub reason: Option<EvalReason>,
    /// Every failed check (a superset of `reason`). A valid dose has no
    /// reason except "Less than recommended volume" (CDSi 6.8: a preferable
    /// vaccine given with less than the recommended volume still counts).
    pub reasons: EvalReasons,
}

/// The result for one vaccine group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaccineGroupResult {
    /// Vaccine group id (see [`crate::Engine::vaccine_group_name`]).
    pub group: VaccineGroupId,
    /// Vaccine group status.
    pub status: SeriesStatus,
    /// Next dose, when one is due.
    pub forecast: Option<Forecast>,
    /// Evaluations of the doses for the antigens of the group (best series).
    pub evaluations: Vec<DoseEvaluation>,
}

/// The complete assessment of a patient.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    /// Results per vaccine group, in schedule order; groups with no relevant
    /// patient series are omitted.
    pub vaccine_groups: Vec<VaccineGroupResult>,
}

impl Assessment {
    /// Result for a vaccine group id.
    pub fn group(&self, id: VaccineGroupId) -> Option<&VaccineGroupResult> {
        self.vaccine_groups.iter().find(|g| g.group == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_bits_follow_all() {
        for (i, r) in EvalReason::ALL.iter().enumerate() {
            assert_eq!(r.bit(), 1 << i, "{r:?}");
            let set = EvalReasons::of(*r);
            assert_eq!(set.first(), Some(*r));
            assert_eq!(set.iter().count(), 1);
        }
    }
}
