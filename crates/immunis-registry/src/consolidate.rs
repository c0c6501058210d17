//! Vaccination-level de-duplication (AIRA/MIROW "Vaccination Level
//! De-duplication" guide): the consolidated record shows each dose once,
//! whichever sources reported it, and keeps every source's report.
//! Pure: works on events already loaded.

use chrono::NaiveDate;
use immunis_model::{CodeTables, VaccinationEvent, VaccinationId};
use immunis_store::{EventStatus, StoredEvent};

/// One dose of the consolidated record.
#[derive(Debug, Clone)]
pub struct ConsolidatedDose {
    /// The report chosen to represent the dose (administered beats historical,
    /// then the most complete, then the earliest recorded).
    pub primary: StoredEvent,
    /// Every active report of this dose, the primary included.
    pub sources: Vec<VaccinationId>,
    /// Facilities that reported this dose.
    pub reporting_facilities: Vec<String>,
}

/// How many days apart two reports of the same vaccine may be and still be one
/// dose when at least one is historical (paper records are often off by days).
const HISTORICAL_TOLERANCE_DAYS: i64 = 4;

fn groups<'a>(codes: &'a CodeTables, e: &VaccinationEvent) -> Vec<&'a str> {
    e.cvx
        .as_ref()
        .and_then(|c| codes.cvx(c))
        .map(|i| i.vaccine_groups.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

fn completeness(e: &VaccinationEvent) -> u8 {
    u8::from(e.lot_number.is_some())
        + u8::from(e.mvx.is_some())
        + u8::from(e.administering_facility.is_some())
        + u8::from(e.route.is_some())
}

fn same_dose(codes: &CodeTables, a: &StoredEvent, b: &StoredEvent) -> bool {
    let (Some(da), Some(db)) = (a.event.administered_date, b.event.administered_date) else {
        return false;
    };
    let same_vaccine = match (&a.event.cvx, &b.event.cvx) {
        (Some(x), Some(y)) if x == y => true,
        _ => {
            let ga = groups(codes, &a.event);
            let gb = groups(codes, &b.event);
            // A combination and a single-antigen report of the same day are one
            // dose only when one's groups contain the other's.
            !ga.is_empty()
                && !gb.is_empty()
                && (ga.iter().all(|g| gb.contains(g)) || gb.iter().all(|g| ga.contains(g)))
        }
    };
    if !same_vaccine {
        return false;
    }
    let days = (da - db).num_days().abs();
    let historical = !a.event.information_source.is_administered()
        || !b.event.information_source.is_administered();
    days == 0
        || (historical && days <= HISTORICAL_TOLERANCE_DAYS && a.facility_code != b.facility_code)
}

fn better(a: &StoredEvent, b: &StoredEvent) -> bool {
    let ka = (
        a.event.information_source.is_administered(),
        completeness(&a.event),
        std::cmp::Reverse(a.recorded_at),
    );
    let kb = (
        b.event.information_source.is_administered(),
        completeness(&b.event),
        std::cmp::Reverse(b.recorded_at),
    );
    ka > kb
}

/// Consolidates the active, given doses of one person, ordered by date.
/// Refusals and not-administered records are not doses and are left out.
pub fn consolidate(codes: &CodeTables, events: &[StoredEvent]) -> Vec<ConsolidatedDose> {
    let mut given: Vec<&StoredEvent> = events
        .iter()
        .filter(|e| e.status == EventStatus::Active && e.event.completion.was_given())
        .filter(|e| e.event.administered_date.is_some())
        .collect();
    given.sort_by_key(|e| (e.event.administered_date, e.id));
    let mut out: Vec<ConsolidatedDose> = Vec::new();
    for e in given {
        let existing = out
            .iter_mut()
            .rev()
            .take(16)
            .find(|d| same_dose(codes, &d.primary, e));
        match existing {
            Some(d) => {
                d.sources.push(e.id);
                if !d.reporting_facilities.contains(&e.facility_code) {
                    d.reporting_facilities.push(e.facility_code.clone());
                }
                if better(e, &d.primary) {
                    d.primary = e.clone();
                }
            }
            None => out.push(ConsolidatedDose {
                primary: e.clone(),
                sources: vec![e.id],
                reporting_facilities: vec![e.facility_code.clone()],
            }),
        }
    }
    out.sort_by_key(|d| (d.primary.event.administered_date, d.primary.id));
    out
}

/// Active refusals (RXA-20 RE), for display and for reminder logic.
pub fn refusals(events: &[StoredEvent]) -> Vec<&StoredEvent> {
    events
        .iter()
        .filter(|e| {
            e.status == EventStatus::Active
                && e.event.completion == immunis_model::CompletionStatus::Refused
        })
        .collect()
}

/// The date of a consolidated dose (always present: undated reports are skipped).
pub fn dose_date(d: &ConsolidatedDose) -> Option<NaiveDate> {
    d.primary.event.administered_date
}

#[cfg(test)]
mod tests {
    use super::*;
    use immunis_model::{Cvx, InformationSource, PatientId};

    fn ev(id: i64, fac: &str, cvx: &str, day: u32, src: InformationSource) -> StoredEvent {
        StoredEvent {
            id: VaccinationId(id),
            patient_id: PatientId(1),
            facility_code: fac.into(),
            status: EventStatus::Active,
            supersedes: None,
            recorded_at: id,
            event: VaccinationEvent {
                administered_date: NaiveDate::from_ymd_opt(2021, 5, day),
                cvx: Cvx::parse(cvx).ok(),
                information_source: src,
                lot_number: None,
                ..Default::default()
            },
        }
    }

    #[test]
    fn administered_and_historical_reports_are_one_dose() {
        let codes = CodeTables::embedded();
        let events = vec![
            ev(1, "CLINIC", "20", 10, InformationSource::Administered),
            ev(
                2,
                "SCHOOL",
                "107",
                12,
                InformationSource::Historical("07".into()),
            ),
            ev(3, "CLINIC", "03", 10, InformationSource::Administered),
        ];
        let c = consolidate(codes, &events);
        assert_eq!(
            c.len(),
            2,
            "DTaP reported twice is one dose; MMR is another"
        );
        let dtap = c
            .iter()
            .find(|d| d.sources.len() == 2)
            .expect("merged dose");
        assert_eq!(
            dtap.primary.id,
            VaccinationId(1),
            "the administered report wins"
        );
        assert_eq!(
            dtap.reporting_facilities,
            vec!["CLINIC".to_string(), "SCHOOL".to_string()]
        );
    }

    #[test]
    fn two_administered_doses_days_apart_stay_separate() {
        let codes = CodeTables::embedded();
        let events = vec![
            ev(1, "CLINIC", "20", 10, InformationSource::Administered),
            ev(2, "CLINIC", "20", 12, InformationSource::Administered),
        ];
        assert_eq!(consolidate(codes, &events).len(), 2);
    }

    #[test]
    fn deleted_and_refused_are_not_doses() {
        let codes = CodeTables::embedded();
        let mut deleted = ev(1, "C", "20", 10, InformationSource::Administered);
        deleted.status = EventStatus::Deleted;
        let mut refused = ev(2, "C", "03", 10, InformationSource::Administered);
        refused.event.completion = immunis_model::CompletionStatus::Refused;
        let events = vec![deleted, refused];
        assert!(consolidate(codes, &events).is_empty());
        assert_eq!(refusals(&events).len(), 1);
    }
}
