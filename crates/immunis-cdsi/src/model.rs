//! Compiled supporting data (CDSi logic specification chapter 2 "Supporting
//! data" and appendix: antigen series, series doses, schedule data).
//!
//! Everything the evaluation hot path touches is pre-parsed: time periods are
//! [`Dur`], dates are [`Day`], CVX codes are `u16`, antigens / vaccine groups /
//! series groups are small integer ids. Strings are kept only for output
//! (names) and never compared while assessing a patient.

use crate::date::{Day, Dur};

/// Index of an antigen (target disease) in [`SupportingData::antigens`].
pub type AntigenId = u8;
/// Index of a vaccine group in [`SupportingData::vaccine_groups`].
pub type VaccineGroupId = u8;

/// Highest CVX code the engine indexes directly (CVX codes are < 1000).
pub const MAX_CVX: usize = 1000;

/// A manufacturer (MVX) code packed into a `u32` (upper-case ASCII, max 4 chars).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mvx(pub u32);

impl Mvx {
    /// Packs an MVX code; `None` when empty or longer than 4 characters.
    pub fn parse(s: &str) -> Option<Mvx> {
        let s = s.trim();
        if s.is_empty() || s.len() > 4 || !s.is_ascii() {
            return None;
        }
        let mut v = 0u32;
        for b in s.bytes() {
            v = (v << 8) | u32::from(b.to_ascii_uppercase());
        }
        Some(Mvx(v))
    }
}

/// Antigen series type (CDSi 5.3 "Select relevant patient series").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesType {
    /// Routine schedule.
    Standard,
    /// Schedule for patients with an indication (observation).
    Risk,
    /// Only used to evaluate history, never to forecast.
    EvaluationOnly,
}

/// Age attributes of a series dose (CDSi 6.4), possibly time-bounded.
#[derive(Debug, Clone, Default)]
pub struct AgeDef {
    pub abs_min: Option<Dur>,
    pub min: Option<Dur>,
    pub earliest_rec: Option<Dur>,
    pub latest_rec: Option<Dur>,
    pub max: Option<Dur>,
    pub effective: Option<Day>,
    pub cessation: Option<Day>,
}

/// What an interval is measured from (CDSi 6.5, CALCDTINT-1..4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntervalFrom {
    /// The immediate previous dose administered.
    Previous,
    /// The dose which satisfied target dose N (0-based here).
    TargetDose(u8),
    /// The most recent dose of one of these CVX codes.
    MostRecent(Vec<u16>),
    /// The date of a patient observation.
    Observation(u16),
}

/// A preferable or allowable interval (CDSi 6.5 / 6.6).
#[derive(Debug, Clone)]
pub struct IntervalDef {
    pub from: IntervalFrom,
    pub abs_min: Option<Dur>,
    pub min: Option<Dur>,
    pub earliest_rec: Option<Dur>,
    pub latest_rec: Option<Dur>,
    /// Interval priority flag "override".
    pub priority_override: bool,
    pub effective: Option<Day>,
    pub cessation: Option<Day>,
}

/// A preferable vaccine of a series dose (CDSi 6.8).
#[derive(Debug, Clone)]
pub struct PreferableVaccine {
    pub cvx: u16,
    pub begin_age: Option<Dur>,
    pub end_age: Option<Dur>,
    pub mvx: Option<Mvx>,
    /// Volume in millilitres.
    pub volume: Option<f32>,
    /// Forecast vaccine type flag.
    pub forecast: bool,
}

/// An allowable vaccine of a series dose (CDSi 6.9).
#[derive(Debug, Clone)]
pub struct AllowableVaccine {
    pub cvx: u16,
    pub begin_age: Option<Dur>,
    pub end_age: Option<Dur>,
}

/// Conditional-skip context (CDSi 6.2 / 7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipContext {
    Evaluation,
    Forecast,
    Both,
}

/// Condition type of a conditional-skip condition (CDSi 6.2 tables 6-6..6-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionKind {
    Age,
    CompletedSeries,
    Interval,
    CountByAge,
    CountByDate,
    CountByDateAndAge,
    /// Unknown condition type in a newer data release: never satisfied.
    Unknown,
}

/// Dose count comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountLogic {
    Greater,
    Equal,
    Less,
}

/// One conditional-skip condition.
#[derive(Debug, Clone)]
pub struct Condition {
    pub kind: ConditionKind,
    pub start_date: Option<Day>,
    pub end_date: Option<Day>,
    pub begin_age: Option<Dur>,
    pub end_age: Option<Dur>,
    pub interval: Option<Dur>,
    pub dose_count: u16,
    /// Count only valid doses (otherwise all doses: "Total").
    pub valid_only: bool,
    pub logic: CountLogic,
    /// CVX codes counted (empty: any).
    pub vaccine_types: Vec<u16>,
    /// Series groups (index into the antigen's series-group table).
    pub series_groups: Vec<u8>,
}

/// A set of conditions.
#[derive(Debug, Clone)]
pub struct ConditionSet {
    pub effective: Option<Day>,
    pub cessation: Option<Day>,
    /// `true` for AND, `false` for OR.
    pub all: bool,
    pub conditions: Vec<Condition>,
}

/// A conditional skip of a series dose (CDSi 6.2).
#[derive(Debug, Clone)]
pub struct ConditionalSkip {
    pub context: SkipContext,
    /// `true` for AND between sets, `false` for OR.
    pub all: bool,
    pub sets: Vec<ConditionSet>,
}

/// A series dose (target dose template).
#[derive(Debug, Clone)]
pub struct SeriesDose {
    pub ages: Vec<AgeDef>,
    pub intervals: Vec<IntervalDef>,
    pub allowable_intervals: Vec<IntervalDef>,
    pub preferable: Vec<PreferableVaccine>,
    pub allowable: Vec<AllowableVaccine>,
    pub inadvertent: Vec<u16>,
    pub skips: Vec<ConditionalSkip>,
    pub recurring: bool,
    pub season_start: Option<Day>,
    pub season_end: Option<Day>,
    /// Whether a preferable vaccine is the current vaccine of a live virus
    /// conflict (CDSi 6.7), i.e. whether the forecast must look for conflicts.
    pub live: bool,
    /// Minimum interval of the first "from previous" interval (CDSi 8.5
    /// completion date), precomputed.
    pub prev_min: Option<Dur>,
}

/// Risk-series indication (CDSi 5.3).
#[derive(Debug, Clone)]
pub struct Indication {
    pub observation: u16,
    pub begin_age: Option<Dur>,
    pub end_age: Option<Dur>,
}

/// An antigen series.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub series_type: SeriesType,
    /// Equivalent series group (index), if any.
    pub equivalent_group: Option<u8>,
    /// Gender bitmask: 1 = female, 2 = male, 4 = unknown; 0 = any.
    pub genders: u8,
    pub default_series: bool,
    pub product_path: bool,
    /// Series group (index into the antigen's series-group names).
    pub series_group: u8,
    /// Series priority: 0 = A, 1 = B, …
    pub priority: u8,
    pub preference: u8,
    pub min_age_to_start: Option<Dur>,
    pub max_age_to_start: Option<Dur>,
    pub indications: Vec<Indication>,
    pub doses: Vec<SeriesDose>,
    /// Whether any dose has a "Completed Series" skip condition (evaluated last).
    pub depends_on_groups: bool,
    /// A lower bound, in days after birth, of the age at which any dose can
    /// be valid in this series (months counted as 28 days); `None` when some
    /// target dose has no minimum age.
    pub min_valid_days: Option<i32>,
}

/// Antigen-level contraindication (CDSi 7.3).
#[derive(Debug, Clone)]
pub struct GroupContraindication {
    pub observation: u16,
    pub begin_age: Option<Dur>,
    pub end_age: Option<Dur>,
}

/// Vaccine-specific contraindication (CDSi 7.3).
#[derive(Debug, Clone)]
pub struct VaccineContraindication {
    pub observation: u16,
    pub cvx: u16,
    pub begin_age: Option<Dur>,
    pub end_age: Option<Dur>,
}

/// Antigen (target disease) supporting data.
#[derive(Debug, Clone)]
pub struct Antigen {
    pub name: String,
    pub vaccine_group: VaccineGroupId,
    /// Observation codes which are evidence of immunity (clinical history).
    pub immunity_observations: Vec<u16>,
    /// Birth-date immunity: born before this date → immune …
    pub immunity_birth_date: Option<Day>,
    /// … unless one of these observations is present.
    pub immunity_exclusions: Vec<u16>,
    pub contraindications: Vec<GroupContraindication>,
    pub vaccine_contraindications: Vec<VaccineContraindication>,
    pub series: Vec<Series>,
    /// Names of the series groups (index = series group id).
    pub series_group_names: Vec<String>,
}

/// Vaccine group (CDSi chapter 9).
#[derive(Debug, Clone)]
pub struct VaccineGroup {
    pub name: String,
    pub administer_full: bool,
    pub antigens: Vec<AntigenId>,
}

/// One CVX → antigen association (CDSi 5.1).
#[derive(Debug, Clone, Copy)]
pub struct Association {
    pub antigen: AntigenId,
    pub begin_age: Option<Dur>,
    pub end_age: Option<Dur>,
}

/// Live virus conflict (CDSi 6.7).
#[derive(Debug, Clone, Copy)]
pub struct LiveVirusConflict {
    pub previous: u16,
    pub current: u16,
    pub begin: Dur,
    pub min_end: Dur,
    pub end: Dur,
}

/// A coded observation from the schedule supporting data.
#[derive(Debug, Clone)]
pub struct ObservationDef {
    pub code: u16,
    pub title: String,
    /// (code system, code) pairs mapped to this observation (e.g. SNOMED).
    pub coded_values: Vec<(String, String)>,
}
