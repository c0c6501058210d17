//! Whether supporting data is still current: which CDC release it is, and
//! which of its seasonal recommendations (influenza, COVID-19, RSV) cover a
//! season that is over.
//!
//! CDSi marks a target dose of a seasonal vaccine with the season's start and
//! end (`seasonalRecommendation`). After the end the engine answers "Not
//! Recommended" for the whole series, which is right for the data's own
//! season and wrong for the next one: the data is out of date, not the
//! vaccine. Callers use [`SupportingData::expired_seasons`] to say so instead
//! of showing a green "not recommended". A recommendation without an end date
//! (COVID-19 in 4.64: from 2025-08-27) never expires here: the engine keeps
//! recommending the dose it describes, which is not the silent "not
//! recommended" this module exists to catch.
//!
//! Also a pure way to build supporting data from a release's files
//! ([`SupportingData::from_files`]); reading them from disk is the caller's.

use chrono::NaiveDate;

use crate::date::to_naive;
use crate::error::DataError;
use crate::model::VaccineGroupId;
use crate::supporting_data::SupportingData;

/// A seasonal recommendation of the data, per vaccine group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Season {
    pub vaccine_group: VaccineGroupId,
    pub start: NaiveDate,
    /// The data's end date; `None` when the data gives none.
    pub end: Option<NaiveDate>,
}

impl Season {
    /// The last day the recommendation covers (`None`: open-ended).
    pub fn last_day(&self) -> Option<NaiveDate> {
        self.end
    }
}

/// A vaccine group whose every seasonal recommendation is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredSeason {
    pub vaccine_group: VaccineGroupId,
    /// Start of the latest season the data covers.
    pub season_start: NaiveDate,
    /// Its last day.
    pub last_day: NaiveDate,
}

impl SupportingData {
    /// Every seasonal recommendation, one per (vaccine group, start, end),
    /// in vaccine-group order.
    pub fn seasons(&self) -> Vec<Season> {
        let mut out: Vec<Season> = Vec::new();
        for a in &self.antigens {
            for series in &a.series {
                for d in &series.doses {
                    let Some(start) = d.season_start.and_then(to_naive) else {
                        continue;
                    };
                    let s = Season {
                        vaccine_group: a.vaccine_group,
                        start,
                        end: d.season_end.and_then(to_naive),
                    };
                    if !out.contains(&s) {
                        out.push(s);
                    }
                }
            }
        }
        out.sort_by_key(|s| (s.vaccine_group, s.start, s.end));
        out
    }

    /// The vaccine groups whose latest seasonal recommendation ended before
    /// `today`: their forecast from this data must not be shown as an
    /// answer.
    pub fn expired_seasons(&self, today: NaiveDate) -> Vec<ExpiredSeason> {
        // Per group the season that lasts longest (open-ended beats any).
        let later = |a: &Season, b: &Season| match (a.end, b.end) {
            (None, Some(_)) => true,
            (Some(x), Some(y)) => x > y,
            _ => false,
        };
        let mut latest: Vec<Season> = Vec::new();
        for s in self.seasons() {
            match latest
                .iter_mut()
                .find(|l| l.vaccine_group == s.vaccine_group)
            {
                Some(l) if later(&s, l) => *l = s,
                Some(_) => {}
                None => latest.push(s),
            }
        }
        latest
            .into_iter()
            .filter_map(|s| {
                let last_day = s.end.filter(|e| *e < today)?;
                Some(ExpiredSeason {
                    vaccine_group: s.vaccine_group,
                    season_start: s.start,
                    last_day,
                })
            })
            .collect()
    }

    /// Supporting data from a CDC release's files, given as (file name,
    /// text): `ScheduleSupportingData*.xml`, `AntigenSupportingData*.xml`
    /// and, when present, the release notes (`Release-Notes*` / `*Release
    /// Notes*`), which name the release. Other files are ignored.
    pub fn from_files<N: AsRef<str>, T: AsRef<str>>(
        files: &[(N, T)],
    ) -> Result<SupportingData, DataError> {
        let mut schedule = None;
        let mut antigens = Vec::new();
        let mut release = None;
        for (name, text) in files {
            let (name, text) = (name.as_ref(), text.as_ref());
            let lower = name.to_ascii_lowercase();
            if lower.starts_with("schedulesupportingdata") && lower.ends_with(".xml") {
                if schedule.is_some() {
                    return Err(DataError::Invalid(format!(
                        "more than one schedule supporting data file ({name})"
                    )));
                }
                schedule = Some(text);
            } else if lower.starts_with("antigensupportingdata") && lower.ends_with(".xml") {
                antigens.push(text);
            } else if lower.replace([' ', '_'], "-").contains("release-notes") {
                release = release.or_else(|| release_of_notes(text));
            }
        }
        let schedule =
            schedule.ok_or_else(|| DataError::Missing("ScheduleSupportingData.xml".into()))?;
        if antigens.is_empty() {
            return Err(DataError::Missing("AntigenSupportingData*.xml".into()));
        }
        let mut data = SupportingData::from_xml_strings(schedule, &antigens)?;
        if let Some(r) = release {
            data.release = r;
        }
        Ok(data)
    }
}

/// The release number in CDC release notes ("Supporting Data Release Notes –
/// 4.64" on one of the first lines).
pub fn release_of_notes(text: &str) -> Option<String> {
    text.lines()
        .take(5)
        .filter(|l| l.to_ascii_lowercase().contains("release notes"))
        .find_map(|l| {
            let last = l.split_whitespace().last()?;
            let ok = last.contains('.')
                && last.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && last.bytes().next().is_some_and(|b| b.is_ascii_digit());
            ok.then(|| last.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    #[test]
    fn the_embedded_release_is_named_and_its_flu_season_ends_june_2026() {
        let data = SupportingData::embedded().expect("embedded data");
        assert_eq!(data.release, "4.64");
        let flu = data.vaccine_group_id("Influenza").expect("influenza group");
        let seasons: Vec<Season> = data
            .seasons()
            .into_iter()
            .filter(|s| s.vaccine_group == flu)
            .collect();
        assert_eq!(
            seasons,
            vec![Season {
                vaccine_group: flu,
                start: d(2025, 7, 1),
                end: Some(d(2026, 6, 30)),
            }]
        );
    }

    #[test]
    fn a_season_is_expired_only_after_its_last_day() {
        let data = SupportingData::embedded().expect("embedded data");
        let flu = data.vaccine_group_id("Influenza").expect("influenza group");
        let covid = data.vaccine_group_id("COVID-19").expect("covid group");
        let rsv = data.vaccine_group_id("RSV").expect("rsv group");
        let groups = |day: NaiveDate| -> Vec<VaccineGroupId> {
            let mut g: Vec<VaccineGroupId> = data
                .expired_seasons(day)
                .iter()
                .map(|e| e.vaccine_group)
                .collect();
            g.sort_unstable();
            g
        };
        let sorted = |mut v: Vec<VaccineGroupId>| {
            v.sort_unstable();
            v
        };
        // 4.64's RSV season (infant products) is Oct 1, 2025 – Mar 31, 2026.
        assert!(groups(d(2026, 3, 31)).is_empty());
        assert_eq!(groups(d(2026, 4, 1)), vec![rsv]);
        assert_eq!(groups(d(2026, 6, 30)), vec![rsv]);
        assert_eq!(groups(d(2026, 7, 1)), sorted(vec![rsv, flu]));
        // COVID-19's 2025-26 recommendation has no end date: never expired.
        assert_eq!(groups(d(2030, 1, 1)), sorted(vec![rsv, flu]));
        assert!(data
            .seasons()
            .iter()
            .any(|s| s.vaccine_group == covid && s.end.is_none()));
        let e = data.expired_seasons(d(2026, 12, 7));
        let f = e.iter().find(|e| e.vaccine_group == flu).expect("flu");
        assert_eq!(
            (f.season_start, f.last_day),
            (d(2025, 7, 1), d(2026, 6, 30))
        );
    }

    #[test]
    fn release_notes_name_the_release() {
        assert_eq!(
            release_of_notes("Supporting Data Release Notes \u{2013} 4.65\nDecember 1, 2026"),
            Some("4.65".into())
        );
        assert_eq!(release_of_notes("Some other text\n4.65"), None);
    }

    #[test]
    fn files_are_picked_by_name_and_a_missing_schedule_is_an_error() {
        let files: Vec<(&str, &str)> = crate::embedded::ANTIGEN_XMLS
            .iter()
            .map(|t| ("AntigenSupportingData- X-508.xml", *t))
            .chain([
                ("ScheduleSupportingData.xml", crate::embedded::SCHEDULE_XML),
                (
                    "Release-Notes.txt",
                    "Supporting Data Release Notes - 4.70\n",
                ),
                ("README.md", "not data"),
            ])
            .collect();
        let data = SupportingData::from_files(&files).expect("loads");
        assert_eq!(data.release, "4.70");
        assert_eq!(
            data.vaccine_groups.len(),
            SupportingData::embedded().expect("e").vaccine_groups.len()
        );
        let err = SupportingData::from_files(&files[..files.len() - 3]).expect_err("no schedule");
        assert!(err.to_string().contains("ScheduleSupportingData"), "{err}");
    }
}
