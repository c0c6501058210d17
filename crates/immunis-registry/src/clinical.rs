//! The clinical data the registry's answers depend on, and whether it is
//! still current: the CDC CDSi supporting data (which release, which
//! seasonal recommendations are over) and the school-entry requirement set
//! (which school years it was published for).
//!
//! Both are loaded at start-up — embedded by default, or an operator's newer
//! release (`immunis serve --supporting-data DIR --school-requirements
//! FILE`) — so a new CDC release or school year needs no rebuild. Every
//! screen and message that shows a forecast or a school status asks
//! [`ClinicalData::currency`] and says what is out of date instead of
//! showing an answer the expired data cannot give.

use chrono::NaiveDate;
use immunis_cdsi::{Engine, SupportingData};
use immunis_schools::{school_year_label, Rules};

use crate::RegistryError;

/// The CDSi engine (over one supporting data release) and the school-entry
/// requirements in force.
#[derive(Debug, Clone)]
pub struct ClinicalData {
    engine: Engine,
    school_rules: Rules,
    /// Per vaccine group with a declared season end: (group name, season
    /// start, last day), worked out once (charts and Z42s ask per request).
    season_ends: Vec<(String, NaiveDate, NaiveDate)>,
}

/// Something the registry's clinical data no longer covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutOfDate {
    /// A vaccine group's seasonal recommendation is over (its forecast
    /// from this data is not an answer).
    Season {
        vaccine_group: String,
        season_start: NaiveDate,
        last_day: NaiveDate,
    },
    /// The school requirements were published for earlier school years.
    SchoolRequirements {
        name: String,
        published_for: String,
        current_year: String,
    },
}

/// The school requirements' staleness on `today`, if they are out of date.
pub fn school_requirements_outdated(rules: &Rules, today: NaiveDate) -> Option<OutOfDate> {
    let year = rules.outdated_on(today)?;
    Some(OutOfDate::SchoolRequirements {
        name: rules.name.clone(),
        published_for: rules.school_years_label().unwrap_or_default(),
        current_year: school_year_label(year),
    })
}

impl OutOfDate {
    /// What is out of date, as a sentence for people.
    pub fn sentence(&self, cdsi_release: &str) -> String {
        match self {
            OutOfDate::Season {
                vaccine_group,
                season_start,
                last_day,
            } => format!(
                "{vaccine_group}: the CDC schedule data in use (CDSi supporting data \
                 {cdsi_release}) covers the season from {} to {}, which is over; \
                 {vaccine_group} cannot be assessed until the registry loads a newer CDC \
                 release",
                season_start.format("%b %-d, %Y"),
                last_day.format("%b %-d, %Y"),
            ),
            OutOfDate::SchoolRequirements {
                name,
                published_for,
                current_year,
            } => format!(
                "The school-entry requirements in use ({name}, for {published_for}) are not \
                 those of the {current_year} school year; statuses may be wrong until the \
                 registry loads the {current_year} requirements"
            ),
        }
    }
}

/// What the registry's answers rest on, on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataCurrency {
    /// The CDSi supporting data release (e.g. `4.64`).
    pub cdsi_release: String,
    /// The school requirement set's name.
    pub school_requirements: String,
    pub out_of_date: Vec<OutOfDate>,
}

impl ClinicalData {
    /// The embedded CDC supporting data and Massachusetts requirements.
    pub fn embedded() -> Result<ClinicalData, RegistryError> {
        let data = SupportingData::embedded()
            .map_err(|e| RegistryError::Internal(format!("CDSi supporting data: {e}")))?;
        let rules = Rules::massachusetts()
            .map_err(|e| RegistryError::Internal(format!("school requirements: {e}")))?;
        Ok(ClinicalData::new(data, rules))
    }

    pub fn new(data: SupportingData, school_rules: Rules) -> ClinicalData {
        // The groups whose seasons all end, with the latest end: the ones
        // `expired_seasons` can name on some day.
        let season_ends = data
            .expired_seasons(NaiveDate::MAX)
            .into_iter()
            .map(|e| {
                (
                    data.vaccine_groups
                        .get(usize::from(e.vaccine_group))
                        .map(|g| g.name.clone())
                        .unwrap_or_default(),
                    e.season_start,
                    e.last_day,
                )
            })
            .collect();
        ClinicalData {
            engine: Engine::new(data),
            school_rules,
            season_ends,
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn school_rules(&self) -> &Rules {
        &self.school_rules
    }

    /// The CDSi supporting data release.
    pub fn cdsi_release(&self) -> &str {
        &self.engine.data().release
    }

    /// What is out of date on `today`.
    pub fn currency(&self, today: NaiveDate) -> DataCurrency {
        let mut out_of_date: Vec<OutOfDate> = self
            .season_ends
            .iter()
            .filter(|(_, _, last)| *last < today)
            .map(|(group, start, last)| OutOfDate::Season {
                vaccine_group: group.clone(),
                season_start: *start,
                last_day: *last,
            })
            .collect();
        out_of_date.extend(school_requirements_outdated(&self.school_rules, today));
        DataCurrency {
            cdsi_release: self.cdsi_release().to_string(),
            school_requirements: self.school_rules.name.clone(),
            out_of_date,
        }
    }
}

impl DataCurrency {
    /// The last day a vaccine group's seasonal recommendation covered, when
    /// it is over.
    pub fn expired_group(&self, vaccine_group: &str) -> Option<NaiveDate> {
        self.out_of_date.iter().find_map(|o| match o {
            OutOfDate::Season {
                vaccine_group: g,
                last_day,
                ..
            } if g == vaccine_group => Some(*last_day),
            _ => None,
        })
    }

    /// Warnings about the CDSi data (not the school requirements), as
    /// sentences for people.
    pub fn forecast_warnings(&self) -> Vec<String> {
        self.out_of_date
            .iter()
            .filter(|o| matches!(o, OutOfDate::Season { .. }))
            .map(|o| self.sentence(o))
            .collect()
    }

    /// The warning about the school requirements, if they are out of date.
    pub fn school_warning(&self) -> Option<String> {
        self.out_of_date
            .iter()
            .find(|o| matches!(o, OutOfDate::SchoolRequirements { .. }))
            .map(|o| self.sentence(o))
    }

    /// Every warning, as sentences.
    pub fn warnings(&self) -> Vec<String> {
        self.out_of_date.iter().map(|o| self.sentence(o)).collect()
    }

    fn sentence(&self, o: &OutOfDate) -> String {
        o.sentence(&self.cdsi_release)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn the_embedded_data_is_current_in_its_season_and_says_what_ended_after_it() {
        let c = ClinicalData::embedded().expect("embedded");
        let now = c.currency(d("2026-03-31"));
        assert_eq!(now.cdsi_release, "4.64");
        assert!(now.out_of_date.is_empty(), "{:?}", now.out_of_date);
        let later = c.currency(d("2026-12-07"));
        assert_eq!(later.expired_group("Influenza"), Some(d("2026-06-30")));
        assert_eq!(later.expired_group("RSV"), Some(d("2026-03-31")));
        assert_eq!(later.expired_group("COVID-19"), None);
        assert_eq!(later.expired_group("MMR"), None);
        let warnings = later.forecast_warnings();
        let flu = warnings
            .iter()
            .find(|w| w.starts_with("Influenza:"))
            .expect("an influenza warning");
        assert!(
            flu.contains("4.64") && flu.contains("Jun 30, 2026"),
            "{flu}"
        );
        let school = later.school_warning().expect("school warning");
        assert!(school.contains("2026-27"), "{school}");
    }
}
