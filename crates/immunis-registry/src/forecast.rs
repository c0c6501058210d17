//! Evaluated history and forecast for a record as the actor may see it: the
//! consolidated doses go through the CDSi engine. Under an objection to data
//! sharing the record holds only the provider's own doses, so the forecast is
//! computed from exactly what that provider may see (and says so).

use chrono::NaiveDate;
use immunis_cdsi::{
    AdministeredDose, Assessment, Cvx as CdsiCvx, Engine, Mvx as CdsiMvx, Observation,
    PatientHistory, Sex as CdsiSex,
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

/// Maps the registry's patient-level observations (evidence of immunity,
/// contraindications, risk indications) to CDSi observation codes: a CDSi
/// code given directly (e.g. `055`), or a SNOMED/CDC code listed among an
/// observation's coded values in the schedule supporting data.
pub(crate) fn cdsi_observations(engine: &Engine, record: &PatientRecord) -> Vec<Observation> {
    let defs = &engine.data().observations;
    record
        .observations
        .iter()
        .filter_map(|o| {
            let code = o.observation.value.code.trim();
            let direct =
                (code.len() <= 3 && !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| code.parse::<u16>().ok())
                    .flatten()
                    .filter(|c| defs.iter().any(|d| d.code == *c));
            let mapped = direct.or_else(|| {
                defs.iter()
                    .find(|d| d.coded_values.iter().any(|(a, b)| a == code || b == code))
                    .map(|d| d.code)
            })?;
            Some(Observation {
                code: mapped,
                date: o.observation.date,
            })
        })
        .collect()
}

/// Runs the engine over a record's consolidated doses and observations.
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
        // CDSi 6.8/6.9 dose volume from RXA-6/7 when given in mL (IG: 999 =
        // amount unknown, so no volume).
        dose.volume_ml = match (ev.amount, ev.units.as_deref()) {
            (Some(a), Some(u)) if u.trim().eq_ignore_ascii_case("ml") && a > 0.0 && a < 999.0 => {
                Some(a as f32)
            }
            _ => None,
        };
        doses.push(dose);
        dose_map.push(i);
    }
    let observations = cdsi_observations(engine, record);
    let history = PatientHistory {
        birth_date: record.patient.birth_date.0,
        sex: cdsi_sex(record.patient.sex),
        doses: &doses,
        observations: &observations,
    };
    EvaluatedRecord {
        assessment: engine.assess(&history, today),
        dose_map,
        assessed_on: today,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use immunis_model::{
        BirthDate, Code, ObservationKind, Patient, PatientId, PatientObservation, PersonName,
    };
    use immunis_store::StoredObservation;

    fn record(observations: Vec<StoredObservation>) -> PatientRecord {
        let name = PersonName::parse("Test", "Child").expect("valid literal");
        let birth = NaiveDate::from_ymd_opt(2015, 1, 1).expect("valid literal");
        PatientRecord {
            id: PatientId(1),
            patient: Patient::new(name, BirthDate(birth), Sex::Female),
            doses: Vec::new(),
            refusals: Vec::new(),
            observations,
            restricted: false,
            objection_active: false,
        }
    }

    fn varicella_status(engine: &Engine, r: &PatientRecord) -> String {
        let today = NaiveDate::from_ymd_opt(2024, 6, 1).expect("valid literal");
        let ev = evaluate(engine, r, today);
        ev.assessment
            .vaccine_groups
            .iter()
            .find(|g| engine.vaccine_group_name(g.group) == "Varicella")
            .map(|g| g.status.as_str().to_string())
            .unwrap_or_default()
    }

    #[test]
    fn snomed_evidence_of_immunity_reaches_the_engine() {
        let engine = Engine::default_data().expect("embedded supporting data");
        let without = record(Vec::new());
        assert_eq!(varicella_status(&engine, &without), "Not Complete");
        // SNOMED 38907003 (history of varicella) is CDSi observation 024.
        let with = record(vec![StoredObservation {
            id: 1,
            patient_id: PatientId(1),
            facility_code: "F".into(),
            observation: PatientObservation {
                kind: ObservationKind::EvidenceOfImmunity,
                value: Code::new("38907003"),
                date: NaiveDate::from_ymd_opt(2019, 1, 1),
            },
        }]);
        assert_eq!(varicella_status(&engine, &with), "Immune");
    }

    #[test]
    fn rxa6_amount_in_ml_reaches_the_volume_check() {
        use crate::consolidate::ConsolidatedDose;
        use immunis_cdsi::EvalReason;
        use immunis_model::{Cvx, VaccinationEvent, VaccinationId};
        use immunis_store::{EventStatus, StoredEvent};
        let engine = Engine::default_data().expect("embedded supporting data");
        let mut r = record(Vec::new());
        r.patient.birth_date = BirthDate(NaiveDate::from_ymd_opt(2023, 1, 1).expect("date"));
        let dose = |amount: Option<f64>, units: &str| ConsolidatedDose {
            primary: StoredEvent {
                id: VaccinationId(1),
                patient_id: PatientId(1),
                facility_code: "F".into(),
                status: EventStatus::Active,
                supersedes: None,
                recorded_at: 0,
                event: VaccinationEvent {
                    administered_date: NaiveDate::from_ymd_opt(2023, 3, 1),
                    cvx: Cvx::parse("20").ok(),
                    amount,
                    units: Some(units.into()),
                    ..Default::default()
                },
            },
            sources: vec![VaccinationId(1)],
            reporting_facilities: vec!["F".into()],
        };
        let flagged = |r: &PatientRecord| {
            let today = NaiveDate::from_ymd_opt(2023, 6, 1).expect("date");
            evaluate(&engine, r, today)
                .assessment
                .vaccine_groups
                .iter()
                .flat_map(|g| g.evaluations.iter())
                .any(|e| e.reasons.contains(EvalReason::LessThanRecommendedVolume))
        };
        r.doses = vec![dose(Some(0.1), "mL")];
        assert!(
            flagged(&r),
            "0.1 mL of DTaP is less than the recommended 0.5 mL"
        );
        r.doses = vec![dose(Some(0.5), "mL")];
        assert!(!flagged(&r));
        // 999 = amount unknown (IG); other units are not volumes.
        r.doses = vec![dose(Some(999.0), "mL")];
        assert!(!flagged(&r));
        r.doses = vec![dose(Some(0.1), "mg")];
        assert!(!flagged(&r));
    }
}
