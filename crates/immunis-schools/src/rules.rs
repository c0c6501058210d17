//! Requirement sets as data: the TOML file format, checked and compiled into
//! [`Rules`]. Every reference in the file (a requirement's group, a CVX code,
//! an evidence kind, an age) is checked at load time, so a mistyped file is
//! refused with a message instead of silently requiring nothing.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use crate::age::Age;
use crate::{EvidenceKind, Grade, RulesError};

/// The embedded default: Massachusetts 2025–26.
pub const MASSACHUSETTS_2025: &str = include_str!("../data/massachusetts-2025.toml");

/// When a requirement not (yet) met counts as "in progress" rather than
/// "not compliant": relative to CDSi's forecast of the group's next dose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InProgressRule {
    /// The next dose cannot be given yet (its earliest date is later).
    Earliest,
    /// The next dose is not yet recommended.
    Recommended,
    /// The next dose is not yet past due.
    PastDue,
    /// Never: a requirement is met, exempt or not compliant.
    Never,
}

/// Global choices of a rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Days before a minimum age or interval a dose still counts (0 = none).
    pub grace_days: u32,
    /// Only doses CDSi evaluated Valid count.
    pub count_only_cdsi_valid: bool,
    pub in_progress: InProgressRule,
    /// (month, day) school years start on.
    pub school_year_start: (u32, u32),
    pub exemptions_renew_annually: bool,
    pub religious_exemptions_suspended: bool,
    pub contraindication_is_exemption: bool,
    /// The school years (starting years) the requirements were published
    /// for, first and last; `None` when the file does not say.
    pub school_years: Option<(i32, i32)>,
}

/// A school vaccine group: the CVX codes that count for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub key: String,
    pub label: String,
    /// The CDSi vaccine group whose dose validity and forecast apply.
    pub cdsi_group: Option<String>,
    pub cvx: BTreeSet<u16>,
    /// Antigens that evidence of immunity must cover (all of them).
    pub immunity_antigens: Vec<String>,
}

/// How many doses, of which vaccines, at which ages and intervals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CountSpec {
    pub doses: u32,
    /// Only these CVX codes (default: the group's).
    pub cvx: Option<BTreeSet<u16>>,
    /// Every counted dose on or after this age …
    pub min_age: Option<Age>,
    /// … and before this one.
    pub max_age: Option<Age>,
    /// Between consecutive counted doses.
    pub min_interval: Option<Age>,
    /// The first counted dose on or after this age.
    pub first_dose_min_age: Option<Age>,
    /// The final counted dose on (or, if `last_dose_strictly_after`, after) this age.
    pub last_dose_min_age: Option<Age>,
    pub last_dose_strictly_after: bool,
    /// The final counted dose at least this long after the one before it.
    pub last_dose_min_interval: Option<Age>,
}

/// Birth before a year satisfies a requirement (college MMR/varicella).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthYearRule {
    pub before: i32,
    pub us_born_only: bool,
    pub not_for_health_science: bool,
}

/// One vaccine's rule within a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Index into [`Rules::groups`].
    pub group: usize,
    pub label: String,
    pub count: Option<CountSpec>,
    pub alternatives: Vec<CountSpec>,
    /// Met when CDSi's series for the group is complete (or immune, aged out).
    pub cdsi_complete: bool,
    /// Met when CDSi's series is complete or no dose is past due.
    pub up_to_date: bool,
    pub evidence: Vec<EvidenceKind>,
    pub birth_year: Option<BirthYearRule>,
    pub applies_min_age: Option<Age>,
    pub applies_max_age: Option<Age>,
    /// A signed waiver (c. 76 § 15D meningococcal) is accepted.
    pub waiver: bool,
}

/// A requirement set: who it applies to and its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementSet {
    pub id: String,
    pub label: String,
    pub grades: Vec<Grade>,
    /// The set applies from this age (inclusive) …
    pub min_age: Option<Age>,
    /// … to this age (exclusive).
    pub max_age: Option<Age>,
    /// In an ungraded classroom the set applies from this age.
    pub ungraded_min_age: Option<Age>,
    pub requirements: Vec<Requirement>,
}

/// A CDSi observation code that is evidence of immunity to an antigen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceCode {
    pub cdsi_observation: u16,
    pub antigen: String,
    pub kind: EvidenceKind,
}

/// A compiled rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub name: String,
    pub settings: Settings,
    pub groups: Vec<Group>,
    pub evidence_codes: Vec<EvidenceCode>,
    pub sets: Vec<RequirementSet>,
}

// ---- the file format ------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    name: String,
    #[serde(default)]
    settings: SettingsToml,
    #[serde(default)]
    group: Vec<GroupToml>,
    #[serde(default)]
    evidence_code: Vec<EvidenceCodeToml>,
    #[serde(default)]
    set: Vec<SetToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsToml {
    #[serde(default)]
    grace_days: u32,
    #[serde(default = "yes")]
    count_only_cdsi_valid: bool,
    #[serde(default = "earliest")]
    in_progress: String,
    #[serde(default = "july")]
    school_year_start: String,
    #[serde(default = "yes")]
    exemptions_renew_annually: bool,
    #[serde(default)]
    religious_exemptions_suspended: bool,
    #[serde(default)]
    contraindication_is_exemption: bool,
    /// The school years the file was published for, e.g. ["2025-26"].
    #[serde(default)]
    school_years: Vec<String>,
}

fn yes() -> bool {
    true
}
fn earliest() -> String {
    "earliest".into()
}
fn july() -> String {
    "07-01".into()
}

impl Default for SettingsToml {
    fn default() -> Self {
        SettingsToml {
            grace_days: 0,
            count_only_cdsi_valid: true,
            in_progress: earliest(),
            school_year_start: july(),
            exemptions_renew_annually: true,
            religious_exemptions_suspended: false,
            contraindication_is_exemption: false,
            school_years: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupToml {
    key: String,
    label: Option<String>,
    cdsi_group: Option<String>,
    cvx: Vec<u16>,
    #[serde(default)]
    immunity_antigens: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceCodeToml {
    cdsi_observation: u16,
    antigen: String,
    kind: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetToml {
    id: String,
    label: Option<String>,
    grades: Vec<String>,
    min_age: Option<String>,
    max_age: Option<String>,
    ungraded_min_age: Option<String>,
    #[serde(default)]
    requirement: Vec<RequirementToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequirementToml {
    group: String,
    label: Option<String>,
    count: Option<CountToml>,
    #[serde(default)]
    alternatives: Vec<CountToml>,
    #[serde(default)]
    cdsi_complete: bool,
    #[serde(default)]
    up_to_date: bool,
    #[serde(default)]
    evidence: Vec<String>,
    birth_year: Option<BirthYearToml>,
    applies_min_age: Option<String>,
    applies_max_age: Option<String>,
    #[serde(default)]
    waiver: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountToml {
    doses: u32,
    cvx: Option<Vec<u16>>,
    min_age: Option<String>,
    max_age: Option<String>,
    min_interval: Option<String>,
    first_dose_min_age: Option<String>,
    last_dose_min_age: Option<String>,
    #[serde(default)]
    last_dose_strictly_after: bool,
    last_dose_min_interval: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BirthYearToml {
    before: i32,
    #[serde(default = "yes")]
    us_born_only: bool,
    #[serde(default)]
    not_for_health_science: bool,
}

fn age(s: &Option<String>, what: &str) -> Result<Option<Age>, RulesError> {
    s.as_deref()
        .map(|a| Age::parse(a).map_err(|e| RulesError::Invalid(format!("{what}: {e}"))))
        .transpose()
}

fn count_spec(c: &CountToml, what: &str) -> Result<CountSpec, RulesError> {
    if c.doses == 0 || c.doses > 20 {
        return Err(RulesError::Invalid(format!(
            "{what}: doses must be 1 to 20"
        )));
    }
    Ok(CountSpec {
        doses: c.doses,
        cvx: c.cvx.as_ref().map(|v| v.iter().copied().collect()),
        min_age: age(&c.min_age, what)?,
        max_age: age(&c.max_age, what)?,
        min_interval: age(&c.min_interval, what)?,
        first_dose_min_age: age(&c.first_dose_min_age, what)?,
        last_dose_min_age: age(&c.last_dose_min_age, what)?,
        last_dose_strictly_after: c.last_dose_strictly_after,
        last_dose_min_interval: age(&c.last_dose_min_interval, what)?,
    })
}

impl Rules {
    /// The embedded Massachusetts 2025–26 rules.
    pub fn massachusetts() -> Result<Rules, RulesError> {
        Rules::parse(MASSACHUSETTS_2025)
    }

    /// The embedded Massachusetts file's text (a template for a new year's).
    pub fn massachusetts_text() -> &'static str {
        MASSACHUSETTS_2025
    }

    /// Parses and checks a rules file.
    pub fn parse(text: &str) -> Result<Rules, RulesError> {
        let file: FileToml =
            toml::from_str(text).map_err(|e| RulesError::Invalid(e.to_string()))?;
        let s = &file.settings;
        let in_progress = match s.in_progress.as_str() {
            "earliest" => InProgressRule::Earliest,
            "recommended" => InProgressRule::Recommended,
            "past_due" => InProgressRule::PastDue,
            "never" => InProgressRule::Never,
            other => {
                return Err(RulesError::Invalid(format!(
                "settings.in_progress: {other:?} is not earliest, recommended, past_due or never"
            )))
            }
        };
        let school_year_start = s
            .school_year_start
            .split_once('-')
            .and_then(|(m, d)| Some((m.parse::<u32>().ok()?, d.parse::<u32>().ok()?)))
            .filter(|(m, d)| NaiveDate::from_ymd_opt(2001, *m, *d).is_some())
            .ok_or_else(|| {
                RulesError::Invalid(format!(
                    "settings.school_year_start: {:?} is not MM-DD",
                    s.school_year_start
                ))
            })?;
        if s.grace_days > 30 {
            return Err(RulesError::Invalid(
                "settings.grace_days: at most 30".into(),
            ));
        }
        let mut years = Vec::new();
        for y in &s.school_years {
            years.push(
                parse_school_year(y)
                    .map_err(|e| RulesError::Invalid(format!("settings.school_years: {e}")))?,
            );
        }
        let school_years = match (years.iter().min(), years.iter().max()) {
            (Some(a), Some(b)) => Some((*a, *b)),
            _ => None,
        };
        let settings = Settings {
            school_years,
            grace_days: s.grace_days,
            count_only_cdsi_valid: s.count_only_cdsi_valid,
            in_progress,
            school_year_start,
            exemptions_renew_annually: s.exemptions_renew_annually,
            religious_exemptions_suspended: s.religious_exemptions_suspended,
            contraindication_is_exemption: s.contraindication_is_exemption,
        };
        let mut groups: Vec<Group> = Vec::new();
        for g in &file.group {
            let key = g.key.trim().to_string();
            if key.is_empty() || groups.iter().any(|x| x.key.eq_ignore_ascii_case(&key)) {
                return Err(RulesError::Invalid(format!(
                    "group {key:?}: empty or duplicate key"
                )));
            }
            if g.cvx.is_empty() {
                return Err(RulesError::Invalid(format!("group {key}: no CVX codes")));
            }
            groups.push(Group {
                label: g.label.clone().unwrap_or_else(|| key.clone()),
                key,
                cdsi_group: g.cdsi_group.clone(),
                cvx: g.cvx.iter().copied().collect(),
                immunity_antigens: g
                    .immunity_antigens
                    .iter()
                    .map(|a| a.trim().to_lowercase())
                    .collect(),
            });
        }
        let evidence_codes = file
            .evidence_code
            .iter()
            .map(|e| {
                Ok(EvidenceCode {
                    cdsi_observation: e.cdsi_observation,
                    antigen: e.antigen.trim().to_lowercase(),
                    kind: EvidenceKind::parse(&e.kind).ok_or_else(|| {
                        RulesError::Invalid(format!("evidence_code: unknown kind {:?}", e.kind))
                    })?,
                })
            })
            .collect::<Result<Vec<_>, RulesError>>()?;
        let mut sets = Vec::new();
        for st in &file.set {
            let what = format!("set {}", st.id);
            if sets.iter().any(|x: &RequirementSet| x.id == st.id) {
                return Err(RulesError::Invalid(format!("{what}: duplicate id")));
            }
            let grades = st
                .grades
                .iter()
                .map(|g| Grade::parse(g).map_err(|e| RulesError::Invalid(format!("{what}: {e}"))))
                .collect::<Result<Vec<_>, _>>()?;
            if grades.is_empty() {
                return Err(RulesError::Invalid(format!("{what}: no grades")));
            }
            let mut requirements = Vec::new();
            for r in &st.requirement {
                let rw = format!("{what} requirement {}", r.group);
                let gi = groups
                    .iter()
                    .position(|g| g.key.eq_ignore_ascii_case(r.group.trim()))
                    .ok_or_else(|| RulesError::Invalid(format!("{rw}: unknown group")))?;
                if requirements.iter().any(|x: &Requirement| x.group == gi) {
                    return Err(RulesError::Invalid(format!("{rw}: group listed twice")));
                }
                let count = r.count.as_ref().map(|c| count_spec(c, &rw)).transpose()?;
                let alternatives = r
                    .alternatives
                    .iter()
                    .map(|c| count_spec(c, &rw))
                    .collect::<Result<Vec<_>, _>>()?;
                if count.is_none() && !alternatives.is_empty() {
                    return Err(RulesError::Invalid(format!(
                        "{rw}: alternatives without a count"
                    )));
                }
                let ways = usize::from(count.is_some())
                    + usize::from(r.cdsi_complete)
                    + usize::from(r.up_to_date);
                if ways != 1 {
                    return Err(RulesError::Invalid(format!(
                        "{rw}: give exactly one of count, cdsi_complete, up_to_date"
                    )));
                }
                if (r.cdsi_complete || r.up_to_date) && groups[gi].cdsi_group.is_none() {
                    return Err(RulesError::Invalid(format!(
                        "{rw}: cdsi_complete/up_to_date need the group's cdsi_group"
                    )));
                }
                let evidence = r
                    .evidence
                    .iter()
                    .map(|e| {
                        EvidenceKind::parse(e).ok_or_else(|| {
                            RulesError::Invalid(format!("{rw}: unknown evidence kind {e:?}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if !evidence.is_empty() && groups[gi].immunity_antigens.is_empty() {
                    return Err(RulesError::Invalid(format!(
                        "{rw}: evidence accepted but the group names no immunity_antigens"
                    )));
                }
                requirements.push(Requirement {
                    group: gi,
                    label: r.label.clone().unwrap_or_else(|| groups[gi].label.clone()),
                    count,
                    alternatives,
                    cdsi_complete: r.cdsi_complete,
                    up_to_date: r.up_to_date,
                    evidence,
                    birth_year: r.birth_year.as_ref().map(|b| BirthYearRule {
                        before: b.before,
                        us_born_only: b.us_born_only,
                        not_for_health_science: b.not_for_health_science,
                    }),
                    applies_min_age: age(&r.applies_min_age, &rw)?,
                    applies_max_age: age(&r.applies_max_age, &rw)?,
                    waiver: r.waiver,
                });
            }
            sets.push(RequirementSet {
                label: st.label.clone().unwrap_or_else(|| st.id.clone()),
                id: st.id.clone(),
                grades,
                min_age: age(&st.min_age, &what)?,
                max_age: age(&st.max_age, &what)?,
                ungraded_min_age: age(&st.ungraded_min_age, &what)?,
                requirements,
            });
        }
        if sets.is_empty() {
            return Err(RulesError::Invalid("the file defines no [[set]]".into()));
        }
        Ok(Rules {
            name: file.name,
            settings,
            groups,
            evidence_codes,
            sets,
        })
    }

    /// The requirement set for a grade and an age on the assessment date.
    /// In an ungraded classroom: the set with the highest `ungraded_min_age`
    /// the student has reached.
    pub fn set_for(
        &self,
        grade: &Grade,
        birth: NaiveDate,
        on: NaiveDate,
    ) -> Option<&RequirementSet> {
        let reached = |a: Option<Age>| a.is_none_or(|a| a.after(birth) <= on);
        let below = |a: Option<Age>| a.is_none_or(|a| on < a.after(birth));
        if *grade == Grade::Ungraded {
            return self
                .sets
                .iter()
                .filter(|s| s.ungraded_min_age.is_some_and(|a| a.after(birth) <= on))
                .max_by_key(|s| s.ungraded_min_age.map(|a| a.after(birth)));
        }
        self.sets
            .iter()
            .find(|s| s.grades.contains(grade) && reached(s.min_age) && below(s.max_age))
    }

    /// The evidence of immunity a CDSi observation code stands for.
    pub fn evidence_for_cdsi_observation(&self, code: u16) -> Option<(&str, EvidenceKind)> {
        self.evidence_codes
            .iter()
            .find(|e| e.cdsi_observation == code)
            .map(|e| (e.antigen.as_str(), e.kind))
    }

    /// The group with this key.
    pub fn group(&self, key: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.key.eq_ignore_ascii_case(key))
    }

    /// The school year (its starting calendar year) a date falls in.
    pub fn school_year_of(&self, date: NaiveDate) -> i32 {
        let (m, d) = self.settings.school_year_start;
        if (date.month(), date.day()) >= (m, d) {
            date.year()
        } else {
            date.year() - 1
        }
    }

    /// The school year `on` falls in, when it is after the last school year
    /// the requirements were published for (they are out of date); `None`
    /// while they are current or the file does not say.
    pub fn outdated_on(&self, on: NaiveDate) -> Option<i32> {
        let (_, last) = self.settings.school_years?;
        let year = self.school_year_of(on);
        (year > last).then_some(year)
    }

    /// The school years the requirements were published for, as a label
    /// ("2024-25 to 2025-26").
    pub fn school_years_label(&self) -> Option<String> {
        let (a, b) = self.settings.school_years?;
        Some(if a == b {
            school_year_label(a)
        } else {
            format!("{} to {}", school_year_label(a), school_year_label(b))
        })
    }

    /// Every group key used by some requirement, in file order (report columns).
    pub fn required_groups(&self) -> Vec<&Group> {
        self.groups
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                self.sets
                    .iter()
                    .any(|s| s.requirements.iter().any(|r| r.group == *i))
            })
            .map(|(_, g)| g)
            .collect()
    }
}

/// "2025–26" for the school year starting in 2025.
pub fn school_year_label(start: i32) -> String {
    format!("{start}-{:02}", (start + 1).rem_euclid(100))
}

/// Parses "2025", "2025-26", "2025-2026" into the starting year.
pub fn parse_school_year(s: &str) -> Result<i32, RulesError> {
    let t = s.trim();
    let bad = || RulesError::Invalid(format!("not a school year: {s:?} (use e.g. 2025-26)"));
    let (a, b) = match t.split_once(['-', '/']) {
        Some((a, b)) => (a, Some(b)),
        None => (t, None),
    };
    let start: i32 = a.trim().parse().map_err(|_| bad())?;
    if !(1900..=2200).contains(&start) {
        return Err(bad());
    }
    if let Some(b) = b {
        let end: i32 = b.trim().parse().map_err(|_| bad())?;
        let ok = end == start + 1 || end == (start + 1).rem_euclid(100) && b.trim().len() == 2;
        if !ok {
            return Err(bad());
        }
    }
    Ok(start)
}

#[cfg(test)]
mod currency_tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn the_embedded_set_is_out_of_date_from_the_2026_27_school_year() {
        let rules = Rules::massachusetts().expect("embedded rules");
        assert_eq!(rules.settings.school_years, Some((2024, 2025)));
        assert_eq!(
            rules.school_years_label().as_deref(),
            Some("2024-25 to 2025-26")
        );
        assert_eq!(rules.outdated_on(d("2026-06-30")), None);
        assert_eq!(rules.outdated_on(d("2026-07-01")), Some(2026));
        assert_eq!(rules.outdated_on(d("2026-12-07")), Some(2026));
    }

    #[test]
    fn a_file_without_school_years_is_never_called_outdated_and_a_bad_year_is_refused() {
        let text =
            Rules::massachusetts_text().replace("school_years = [\"2024-25\", \"2025-26\"]", "");
        let rules = Rules::parse(&text).expect("parses");
        assert_eq!(rules.outdated_on(d("2040-01-01")), None);
        let bad = Rules::massachusetts_text().replace("\"2025-26\"]", "\"2025-27\"]");
        let err = Rules::parse(&bad).expect_err("refused");
        assert!(err.to_string().contains("settings.school_years"), "{err}");
    }
}
