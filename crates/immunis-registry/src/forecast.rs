//! Evaluated history and forecast for a record as the actor may see it: the
//! consolidated doses go through the CDSi engine. Under an objection to data
//! sharing the record holds only the provider's own doses, so the forecast is
//! computed from exactly what that provider may see (and says so).

use chrono::NaiveDate;
use immunis_cdsi::{
    AdministeredDose, Assessment, Cvx as CdsiCvx, Engine, Mvx as CdsiMvx, PatientHistory,
    Sex as CdsiSex,
};
use immunis_model::Sex;

use crate::query::PatientRecord;

/// The CDSi result for one record, with the map from CDSi dose index back to
/// the record's consolidated doses.
#[derive(Debug, Clone)]
pub struct EvaluatedRecord {
    pub assessment: Assessment,
    /// `dose_map[i]` = index into `record.doses` of CDSi dose `i`.
    pub dose_map: Vec<usize>,
    pub assessed_on: NaiveDate,
}

fn cdsi_sex(s: Sex) -> CdsiSex {
    match s {
        Sex::Female => CdsiSex::Female,
        Sex::Male => CdsiSex::Male,
        Sex::Unknown | Sex::Other => CdsiSex::Unknown,
    }
}

/// Runs the engine over a record's consolidated doses.
pub fn evaluate(engine: &Engine, record: &PatientRecord, today: NaiveDate) -> EvaluatedRecord {
    let mut doses = Vec::with_capacity(record.doses.len());
    let mut dose_map = Vec::with_capacity(record.doses.len());
    for (i, d) in record.doses.iter().enumerate() {
        let ev = &d.primary.event;
        let (Some(date), Some(cvx)) = (ev.administered_date, ev.cvx.as_ref()) else {
            continue;
        };
        // CVX codes the engine does not know (e.g. non-US products) cannot be evaluated.
        let Ok(c) = CdsiCvx::parse(cvx.as_str()) else {
            continue;
        };
        let mut dose = AdministeredDose::new(date, c);
        dose.mvx = ev.mvx.as_ref().and_then(|m| CdsiMvx::parse(m.as_str()));
        doses.push(dose);
        dose_map.push(i);
    }
    let history = PatientHistory {
        birth_date: record.patient.birth_date.0,
        sex: cdsi_sex(record.patient.sex),
        doses: &doses,
        observations: &[],
    };
    EvaluatedRecord {
        assessment: engine.assess(&history, today),
        dose_map,
        assessed_on: today,
    }
}
