//! The one assessment of a person's record: CDSi evaluation and forecast
//! (through [`crate::forecast::evaluate`]), the clinical data's currency on
//! the assessment date, and the one due/overdue classifier. The chart, the
//! Z42, reminder/recall and the printed record take a vaccine group's state
//! from here, so they cannot disagree on what "overdue" means, and none of
//! them can show a forecast its data no longer covers.

use chrono::NaiveDate;
use immunis_cdsi::{Forecast, SeriesStatus, VaccineGroupResult};

use crate::clinical::DataCurrency;
use crate::forecast::{evaluate, EvaluatedRecord};
use crate::query::PatientRecord;
use crate::Registry;

/// Where a vaccine group stands, in the words a nurse scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DueState {
    /// Past the past-due date.
    Overdue,
    /// At or past the recommended date.
    DueNow,
    /// Past the earliest date, before the recommended one.
    CanGive,
    /// Not yet.
    Upcoming,
    /// Nothing more needed (complete, immune, aged out, not recommended).
    Done,
    /// Contraindicated.
    Contraindicated,
    /// The CDC schedule data's season for this group is over: no answer.
    DataOutOfDate,
}

impl DueState {
    pub fn label(self) -> &'static str {
        match self {
            DueState::Overdue => "Overdue",
            DueState::DueNow => "Due now",
            DueState::CanGive => "Can be given now",
            DueState::Upcoming => "Not yet due",
            DueState::Done => "Up to date",
            DueState::Contraindicated => "Contraindicated",
            DueState::DataOutOfDate => "Cannot be assessed: schedule data out of date",
        }
    }

    /// The classifier: a CDSi status and next dose on a day.
    pub fn of(status: SeriesStatus, next: Option<&Forecast>, on: NaiveDate) -> DueState {
        match status {
            SeriesStatus::Contraindicated => DueState::Contraindicated,
            SeriesStatus::NotComplete => match next {
                Some(n) if n.past_due.is_some_and(|p| p <= on) => DueState::Overdue,
                Some(n) if n.recommended <= on => DueState::DueNow,
                Some(n) if n.earliest <= on => DueState::CanGive,
                Some(_) => DueState::Upcoming,
                None => DueState::Done,
            },
            _ => DueState::Done,
        }
    }
}

/// One vaccine group of an assessment.
#[derive(Debug, Clone)]
pub struct GroupAssessment<'a> {
    /// The vaccine group's name in the supporting data (e.g. `DTaP/Tdap/Td`).
    pub name: &'a str,
    pub result: &'a VaccineGroupResult,
    pub state: DueState,
    /// The last day of the group's seasonal data when it is over (then
    /// `state` is [`DueState::DataOutOfDate`] and [`Self::forecast`] is
    /// `None`).
    pub season_ended: Option<NaiveDate>,
}

impl GroupAssessment<'_> {
    /// The next dose to show: none when the group's data is out of date.
    pub fn forecast(&self) -> Option<&Forecast> {
        if self.season_ended.is_some() {
            None
        } else {
            self.result.forecast.as_ref()
        }
    }
}

/// A record assessed on one day.
#[derive(Debug, Clone)]
pub struct RecordAssessment {
    pub evaluated: EvaluatedRecord,
    pub currency: DataCurrency,
    names: Vec<String>,
}

impl RecordAssessment {
    pub fn assessed_on(&self) -> NaiveDate {
        self.evaluated.assessed_on
    }

    /// Every vaccine group, in schedule order.
    pub fn groups(&self) -> impl Iterator<Item = GroupAssessment<'_>> {
        let on = self.evaluated.assessed_on;
        self.evaluated
            .assessment
            .vaccine_groups
            .iter()
            .zip(&self.names)
            .map(move |(result, name)| {
                let season_ended = self.currency.expired_group(name);
                let state = match season_ended {
                    Some(_) => DueState::DataOutOfDate,
                    None => DueState::of(result.status, result.forecast.as_ref(), on),
                };
                GroupAssessment {
                    name,
                    result,
                    state,
                    season_ended,
                }
            })
    }
}

impl Registry {
    /// Evaluates and forecasts a record (as the caller may see it) on `on`.
    pub fn assess(&self, record: &PatientRecord, on: NaiveDate) -> RecordAssessment {
        let engine = self.engine();
        let evaluated = evaluate(engine, record, on);
        let names = evaluated
            .assessment
            .vaccine_groups
            .iter()
            .map(|g| engine.vaccine_group_name(g.group).to_string())
            .collect();
        RecordAssessment {
            currency: self.data_currency(on),
            evaluated,
            names,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn next(earliest: &str, recommended: &str, past_due: Option<&str>) -> Forecast {
        Forecast {
            dose_number: 2,
            earliest: d(earliest),
            recommended: d(recommended),
            past_due: past_due.map(d),
            latest: None,
            vaccines: Vec::new(),
        }
    }

    #[test]
    fn the_classifier_reads_the_dates_in_order() {
        let f = next("2025-01-01", "2025-02-01", Some("2025-03-01"));
        let at = |day: &str| DueState::of(SeriesStatus::NotComplete, Some(&f), d(day));
        assert_eq!(at("2024-12-31"), DueState::Upcoming);
        assert_eq!(at("2025-01-01"), DueState::CanGive);
        assert_eq!(at("2025-02-01"), DueState::DueNow);
        assert_eq!(at("2025-03-01"), DueState::Overdue);
        let no_past_due = next("2025-01-01", "2025-02-01", None);
        assert_eq!(
            DueState::of(
                SeriesStatus::NotComplete,
                Some(&no_past_due),
                d("2030-01-01")
            ),
            DueState::DueNow
        );
        assert_eq!(
            DueState::of(SeriesStatus::Complete, Some(&f), d("2025-03-01")),
            DueState::Done
        );
        assert_eq!(
            DueState::of(SeriesStatus::Contraindicated, None, d("2025-03-01")),
            DueState::Contraindicated
        );
        assert_eq!(
            DueState::of(SeriesStatus::NotComplete, None, d("2025-03-01")),
            DueState::Done
        );
    }
}
