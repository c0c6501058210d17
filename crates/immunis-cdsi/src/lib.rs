//! `immunis-cdsi`: the CDC CDSi (Clinical Decision Support for Immunization,
//! logic specification v4.6) evaluation and forecasting engine.
//!
//! The engine is pure: no I/O, no clock (the assessment date is an argument),
//! no async. It is driven entirely by CDC supporting data (XML), compiled once
//! into integer tables ([`SupportingData`]); the 4.64 release is embedded
//! ([`Engine::default_data`]).
//!
//! ```
//! use chrono::NaiveDate;
//! use immunis_cdsi::{AdministeredDose, Cvx, Engine, PatientHistory, Sex};
//!
//! let engine = Engine::default_data().expect("embedded data parses");
//! let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
//! let doses = [AdministeredDose::new(d("2020-03-31"), Cvx::parse("20").unwrap())];
//! let patient = PatientHistory {
//!     birth_date: d("2020-01-31"),
//!     sex: Sex::Female,
//!     doses: &doses,
//!     observations: &[],
//! };
//! let a = engine.assess(&patient, d("2020-04-15"));
//! let dtap = engine.data().vaccine_group_id("DTaP/Tdap/Td").unwrap();
//! let g = a.group(dtap).unwrap();
//! assert_eq!(g.forecast.as_ref().unwrap().dose_number, 2);
//! ```
#![forbid(unsafe_code)]

pub mod api;
pub mod currency;
pub mod date;
pub mod embedded;
mod engine;
pub mod error;
pub mod model;
pub mod ndjson;
mod select;
pub mod supporting_data;

use chrono::NaiveDate;

pub use api::*;
pub use currency::{ExpiredSeason, Season};
pub use engine::Scratch;
pub use error::{DataError, InputError};
pub use model::{AntigenId, Mvx, VaccineGroupId};
pub use supporting_data::SupportingData;

/// The CDSi engine: compiled supporting data plus the assessment pipeline.
#[derive(Debug, Clone)]
pub struct Engine {
    data: SupportingData,
}

impl SupportingData {
    /// The embedded CDC supporting data release 4.64.
    pub fn embedded() -> Result<SupportingData, DataError> {
        let mut data =
            SupportingData::from_xml_strings(embedded::SCHEDULE_XML, embedded::ANTIGEN_XMLS)?;
        data.release =
            currency::release_of_notes(embedded::RELEASE_NOTES).unwrap_or_else(|| "4.64".into());
        Ok(data)
    }
}

impl Engine {
    /// An engine over the given supporting data.
    pub fn new(data: SupportingData) -> Engine {
        Engine { data }
    }

    /// An engine over the embedded CDC supporting data 4.64.
    pub fn default_data() -> Result<Engine, DataError> {
        SupportingData::embedded().map(Engine::new)
    }

    /// The compiled supporting data.
    pub fn data(&self) -> &SupportingData {
        &self.data
    }

    /// Name of a vaccine group (as in ScheduleSupportingData.xml).
    pub fn vaccine_group_name(&self, id: VaccineGroupId) -> &str {
        self.data
            .vaccine_groups
            .get(id as usize)
            .map_or("", |g| g.name.as_str())
    }

    /// Name of an antigen (target disease).
    pub fn antigen_name(&self, id: AntigenId) -> &str {
        self.data
            .antigens
            .get(id as usize)
            .map_or("", |a| a.name.as_str())
    }

    /// Assesses a patient at `assessment_date`: evaluation of every dose and a
    /// forecast for every vaccine group with a relevant patient series.
    pub fn assess(&self, patient: &PatientHistory<'_>, assessment_date: NaiveDate) -> Assessment {
        let mut scratch = Scratch::new();
        let mut out = Assessment::default();
        self.assess_with(&mut scratch, patient, assessment_date, &mut out);
        out
    }

    /// Like [`Engine::assess`] but reusing caller-owned buffers (batch use).
    pub fn assess_with(
        &self,
        scratch: &mut Scratch,
        patient: &PatientHistory<'_>,
        assessment_date: NaiveDate,
        out: &mut Assessment,
    ) {
        let data = &self.data;
        let dob = engine::organize(data, patient, scratch);
        let doses = std::mem::take(&mut scratch.doses);
        let obs = std::mem::take(&mut scratch.obs);
        let months = std::mem::take(&mut scratch.months);
        let live_doses = std::mem::take(&mut scratch.live_doses);
        {
            let ctx = engine::Ctx {
                data,
                dob,
                assess: date::from_naive(assessment_date),
                sex: patient.sex,
                doses: &doses,
                obs: &obs,
                months: &months,
                live_doses: &live_doses,
            };
            engine::run_all(data, &ctx, scratch);
            select::select_best(data, &ctx, scratch);
            select::vaccine_groups(data, &ctx, scratch, out);
        }
        scratch.doses = doses;
        scratch.obs = obs;
        scratch.months = months;
        scratch.live_doses = live_doses;
    }
}

impl Engine {
    /// Diagnostic dump of every patient series of one vaccine group (status,
    /// target dose, dose evaluations, forecast, score). Not a stable format.
    #[doc(hidden)]
    pub fn debug_group(
        &self,
        patient: &PatientHistory<'_>,
        assessment_date: NaiveDate,
        group: VaccineGroupId,
    ) -> String {
        use std::fmt::Write as _;
        let mut scratch = Scratch::new();
        let mut out = Assessment::default();
        self.assess_with(&mut scratch, patient, assessment_date, &mut out);
        let mut s = String::new();
        let data = &self.data;
        let Some(g) = data.vaccine_groups.get(group as usize) else {
            return s;
        };
        for &aid in &g.antigens {
            let (lo, hi) = scratch.antigen_runs[aid as usize];
            let best = scratch.best.get(aid as usize).copied();
            let _ = writeln!(
                s,
                "antigen {} (immune {}, contraindicated {})",
                data.antigens[aid as usize].name,
                scratch.immune[aid as usize],
                scratch.contraindicated[aid as usize]
            );
            for i in lo..hi {
                let r = &scratch.runs[i as usize];
                let series = &data.antigens[aid as usize].series[r.series as usize];
                let _ = writeln!(
                    s,
                    "  {}[{}] {} grp {} prio {} pref {} status {:?} t {} score {} targets {:?}",
                    if best == Some(i) { "*" } else { " " },
                    i,
                    series.name,
                    series.series_group,
                    series.priority,
                    series.preference,
                    r.status,
                    r.t,
                    r.score,
                    r.targets
                );
                for (k, e) in r.evals.iter().enumerate() {
                    let d = scratch.doses[scratch.adoses[aid as usize][k] as usize];
                    let _ = writeln!(
                        s,
                        "      dose {} {} cvx {} -> {:?} {:?} target {}",
                        d.orig,
                        engine::out_date(d.day),
                        d.cvx,
                        e.status,
                        e.reason,
                        e.target
                    );
                }
                if let Some(f) = r.forecast {
                    let _ = writeln!(
                        s,
                        "      forecast dose {} earliest {} rec {} pd {:?} latest {:?}",
                        f.dose,
                        engine::out_date(f.earliest),
                        engine::out_date(f.recommended),
                        f.past_due.map(engine::out_date),
                        f.latest.map(engine::out_date)
                    );
                }
            }
        }
        s
    }
}
