//! Evaluating one student against the requirement set for their grade.
//!
//! Per requirement, in this order (the survey's categories, §5 of the
//! reference: a student goes in at most one):
//! 1. not required (outside the requirement's age limits);
//! 2. compliant by doses (the count, or one of its alternatives; or CDSi's
//!    series for `cdsi_complete` / `up_to_date` rules);
//! 3. compliant by evidence of immunity, then by birth year;
//! 4. exempt (a medical, religious or waiver exemption on file, valid for
//!    the school year and covering the vaccine);
//! 5. in progress (the next dose is not due yet by CDSi's forecast, per
//!    `settings.in_progress`);
//! 6. not compliant, with what is missing.

use chrono::{Duration, NaiveDate};

use crate::age::Age;
use crate::rules::{CountSpec, Group, InProgressRule, Requirement, Rules};
use crate::{
    Basis, CdsiGroup, CdsiStatus, Dose, ExemptionKind, Overall, RequirementResult, RulesError,
    Status, Student, StudentResult, Validity,
};

/// Evaluates a student on the assessment date `on`.
pub fn evaluate(
    rules: &Rules,
    student: &Student,
    on: NaiveDate,
) -> Result<StudentResult, RulesError> {
    let set = rules
        .set_for(&student.grade, student.birth_date, on)
        .ok_or_else(|| RulesError::NoSet {
            grade: student.grade.to_string(),
            age: age_words(student.birth_date, on),
        })?;
    let mut doses: Vec<&Dose> = student.doses.iter().collect();
    doses.sort_by_key(|d| d.date);
    let school_year = rules.school_year_of(on);
    let requirements: Vec<RequirementResult> = set
        .requirements
        .iter()
        .map(|r| requirement(rules, r, student, &doses, on, school_year))
        .collect();
    let statuses = || requirements.iter().map(|r| r.status);
    let overall = if statuses().any(|s| s == Status::NotCompliant) {
        Overall::NotCompliant
    } else if statuses().any(|s| matches!(s, Status::InProgress { .. })) {
        Overall::InProgress
    } else if let Some(k) = statuses()
        .filter_map(|s| match s {
            Status::Exempt(k) => Some(k),
            _ => None,
        })
        .min()
    {
        Overall::Exempt(k)
    } else {
        Overall::Compliant
    };
    Ok(StudentResult {
        set_id: set.id.clone(),
        set_label: set.label.clone(),
        school_year,
        requirements,
        overall,
    })
}

fn age_words(birth: NaiveDate, on: NaiveDate) -> String {
    let mut years = 0u32;
    while years < 200 && Age::years(years + 1).after(birth) <= on {
        years += 1;
    }
    format!("{years} years")
}

fn cdsi<'a>(student: &'a Student, group: &Group) -> Option<&'a CdsiGroup> {
    let name = group.cdsi_group.as_deref()?;
    student.cdsi.iter().find(|g| g.group == name)
}

/// The doses a spec counts (greedy, in date order); `notes` collects why
/// doses were passed over.
fn counted<'a>(
    rules: &Rules,
    group: &Group,
    spec: &CountSpec,
    birth: NaiveDate,
    doses: &[&'a Dose],
    mut notes: Option<&mut Vec<String>>,
) -> Vec<&'a Dose> {
    let grace = Duration::days(i64::from(rules.settings.grace_days));
    let cvx = spec.cvx.as_ref().unwrap_or(&group.cvx);
    let mut out: Vec<&Dose> = Vec::new();
    let label = &group.label;
    let mut note = |s: String| {
        if let Some(n) = notes.as_deref_mut() {
            if !n.contains(&s) {
                n.push(s);
            }
        }
    };
    for d in doses.iter().copied().filter(|d| cvx.contains(&d.cvx)) {
        if out.last().is_some_and(|p| p.date == d.date) {
            continue; // the same vaccine twice on one day counts once
        }
        if rules.settings.count_only_cdsi_valid {
            if let Some(cg) = group.cdsi_group.as_deref() {
                match d.validity(cg) {
                    Some(Validity::Valid) => {}
                    Some(Validity::NotValid(why)) => {
                        note(format!("{label} dose of {} does not count: {why}", d.date));
                        continue;
                    }
                    None => {
                        note(format!(
                            "{label} dose of {} does not count: not evaluated (CVX {})",
                            d.date, d.cvx
                        ));
                        continue;
                    }
                }
            }
        }
        if let Some(a) = spec.min_age {
            if d.date + grace < a.after(birth) {
                note(format!(
                    "{label} dose of {} does not count: given before {}",
                    d.date,
                    a.birthday_words()
                ));
                continue;
            }
        }
        if let Some(a) = spec.max_age {
            if d.date >= a.after(birth) {
                continue;
            }
        }
        if let (Some(iv), Some(prev)) = (spec.min_interval, out.last()) {
            if d.date + grace < iv.after(prev.date) {
                note(format!(
                    "{label} dose of {} does not count: less than {iv} after the previous dose",
                    d.date
                ));
                continue;
            }
        }
        out.push(d);
    }
    out
}

/// Whether the counted doses satisfy the spec's last/first-dose conditions
/// (ignoring the number of doses).
fn conditions_hold(rules: &Rules, spec: &CountSpec, birth: NaiveDate, c: &[&Dose]) -> bool {
    let grace = Duration::days(i64::from(rules.settings.grace_days));
    let Some(last) = c.last() else {
        return false;
    };
    if let (Some(a), Some(first)) = (spec.first_dose_min_age, c.first()) {
        if first.date + grace < a.after(birth) {
            return false;
        }
    }
    if let Some(a) = spec.last_dose_min_age {
        let day = a.after(birth);
        let ok = if spec.last_dose_strictly_after {
            last.date + grace > day
        } else {
            last.date + grace >= day
        };
        if !ok {
            return false;
        }
    }
    if let Some(iv) = spec.last_dose_min_interval {
        if c.len() >= 2 && last.date + grace < iv.after(c[c.len() - 2].date) {
            return false;
        }
    }
    true
}

fn met(rules: &Rules, group: &Group, spec: &CountSpec, s: &Student, doses: &[&Dose]) -> bool {
    let c = counted(rules, group, spec, s.birth_date, doses, None);
    c.len() >= spec.doses as usize && conditions_hold(rules, spec, s.birth_date, &c)
}

fn last_dose_words(spec: &CountSpec) -> String {
    let mut parts = Vec::new();
    if let Some(a) = spec.last_dose_min_age {
        parts.push(format!(
            "{} {}",
            if spec.last_dose_strictly_after {
                "after"
            } else {
                "on or after"
            },
            a.birthday_words()
        ));
    }
    if let Some(iv) = spec.last_dose_min_interval {
        parts.push(format!("at least {iv} after the previous dose"));
    }
    parts.join(" and ")
}

fn doses_words(label: &str, from: usize, to: usize) -> String {
    if from == to {
        format!("needs {label} dose {from}")
    } else {
        format!("needs {label} doses {from}-{to}")
    }
}

/// What the main count still needs, in plain words.
fn count_missing(
    rules: &Rules,
    group: &Group,
    spec: &CountSpec,
    s: &Student,
    doses: &[&Dose],
    notes: &mut Vec<String>,
) -> String {
    let c = counted(rules, group, spec, s.birth_date, doses, Some(notes));
    let n = spec.doses as usize;
    let k = c.len();
    let mut text = if k < n {
        doses_words(&group.label, k + 1, n)
    } else {
        doses_words(&group.label, k + 1, k + 1)
    };
    let mut conditions = Vec::new();
    if let Some(a) = spec.min_age {
        // Say so when a dose was passed over for being given too young.
        let cvx = spec.cvx.as_ref().unwrap_or(&group.cvx);
        let young = doses
            .iter()
            .any(|d| cvx.contains(&d.cvx) && d.date < a.after(s.birth_date));
        if young {
            conditions.push(format!("on or after {}", a.birthday_words()));
        }
    }
    let last = last_dose_words(spec);
    if !last.is_empty() {
        conditions.push(if n > k + 1 {
            format!("the last {last}")
        } else {
            last
        });
    }
    if !conditions.is_empty() {
        text.push_str(&format!(" ({})", conditions.join("; ")));
    }
    text
}

fn requirement(
    rules: &Rules,
    req: &Requirement,
    s: &Student,
    doses: &[&Dose],
    on: NaiveDate,
    school_year: i32,
) -> RequirementResult {
    let group = &rules.groups[req.group];
    let mut result = RequirementResult {
        group: group.key.clone(),
        label: req.label.clone(),
        status: Status::NotCompliant,
        missing: Vec::new(),
        notes: Vec::new(),
    };
    // 1. Applies?
    let applies = req
        .applies_min_age
        .is_none_or(|a| a.after(s.birth_date) <= on)
        && req
            .applies_max_age
            .is_none_or(|a| on < a.after(s.birth_date));
    if !applies {
        result.status = Status::NotRequired;
        return result;
    }
    let cdsi_result = cdsi(s, group);
    // 2. By doses.
    let by_doses = if let Some(spec) = &req.count {
        met(rules, group, spec, s, doses)
            || req
                .alternatives
                .iter()
                .any(|alt| met(rules, group, alt, s, doses))
    } else {
        let done = cdsi_result.is_some_and(|g| {
            matches!(
                g.status,
                CdsiStatus::Complete
                    | CdsiStatus::Immune
                    | CdsiStatus::AgedOut
                    | CdsiStatus::NotRecommended
            )
        });
        let not_past_due = req.up_to_date
            && cdsi_result.is_some_and(|g| {
                g.status == CdsiStatus::NotComplete
                    && g.next.is_some_and(|n| n.past_due.is_none_or(|p| on < p))
            });
        done || not_past_due
    };
    if by_doses {
        result.status = Status::Compliant(Basis::Doses);
        return result;
    }
    // 3. Evidence of immunity, birth year.
    if !req.evidence.is_empty() && !group.immunity_antigens.is_empty() {
        let covered: Vec<&String> = group
            .immunity_antigens
            .iter()
            .filter(|a| {
                s.evidence
                    .iter()
                    .any(|e| &&e.antigen == a && req.evidence.contains(&e.kind))
            })
            .collect();
        if covered.len() == group.immunity_antigens.len() {
            result.status = Status::Compliant(Basis::Immunity);
            return result;
        }
        if !covered.is_empty() {
            let rest: Vec<&str> = group
                .immunity_antigens
                .iter()
                .filter(|a| !covered.contains(a))
                .map(String::as_str)
                .collect();
            result.notes.push(format!(
                "evidence of immunity does not cover {}",
                rest.join(", ")
            ));
        }
    }
    if let Some(b) = req.birth_year {
        use chrono::Datelike;
        if s.birth_date.year() < b.before
            && (!b.us_born_only || s.born_in_us == Some(true))
            && (!b.not_for_health_science || !s.health_science)
        {
            result.status = Status::Compliant(Basis::BirthYear);
            return result;
        }
    }
    // 4. Exemptions.
    let mut exempt: Option<ExemptionKind> = None;
    for e in &s.exemptions {
        let covers = e.groups.is_empty()
            || e.groups.iter().any(|g| {
                g.eq_ignore_ascii_case(&group.key) || g.eq_ignore_ascii_case(&group.label)
            });
        if !covers || e.signed > on {
            continue;
        }
        let kind = e.kind.as_str();
        if e.kind == ExemptionKind::Waiver && !req.waiver {
            result
                .notes
                .push(format!("a waiver is not accepted for {}", req.label));
            continue;
        }
        if e.kind == ExemptionKind::Religious && rules.settings.religious_exemptions_suspended {
            result
                .notes
                .push("religious exemptions do not apply during the declared emergency".into());
            continue;
        }
        if e.expires.is_some_and(|x| x < on) {
            result.notes.push(format!(
                "{kind} exemption expired on {}",
                e.expires.unwrap_or(on)
            ));
            continue;
        }
        let year = e
            .school_year
            .unwrap_or_else(|| rules.school_year_of(e.signed));
        if rules.settings.exemptions_renew_annually && year != school_year {
            result.notes.push(format!(
                "{kind} exemption for school year {} must be renewed",
                crate::school_year_label(year)
            ));
            continue;
        }
        exempt = Some(exempt.map_or(e.kind, |k| k.min(e.kind)));
    }
    let contraindicated = cdsi_result.is_some_and(|g| g.status == CdsiStatus::Contraindicated);
    if exempt.is_none() && contraindicated && rules.settings.contraindication_is_exemption {
        exempt = Some(ExemptionKind::Medical);
    }
    if let Some(k) = exempt {
        result.status = Status::Exempt(k);
        return result;
    }
    // 5./6. What is missing; in progress or not compliant.
    let missing = if let Some(spec) = &req.count {
        count_missing(rules, group, spec, s, doses, &mut result.notes)
    } else {
        match cdsi_result.and_then(|g| g.next) {
            Some(n) => {
                let mut t =
                    doses_words(&group.label, n.dose_number as usize, n.dose_number as usize);
                if req.up_to_date {
                    if let Some(p) = n.past_due {
                        t.push_str(&format!(" (past due since {p})"));
                    }
                }
                t
            }
            None => format!("needs {} (no CDSi assessment)", group.label),
        }
    };
    if contraindicated {
        result.notes.push(format!(
            "a contraindication to {} is recorded: a medical exemption certificate is needed",
            group.label
        ));
    }
    let due = cdsi_result.and_then(|g| g.next).and_then(|n| {
        let date = match rules.settings.in_progress {
            InProgressRule::Earliest => Some(n.earliest),
            InProgressRule::Recommended => Some(n.recommended),
            InProgressRule::PastDue => Some(n.past_due.unwrap_or(NaiveDate::MAX)),
            InProgressRule::Never => None,
        }?;
        (date > on).then_some(date)
    });
    match due {
        Some(d) if !contraindicated => {
            result.status = Status::InProgress { due: d };
            let when = if d == NaiveDate::MAX {
                String::new()
            } else {
                format!(", due {d}")
            };
            result.missing.push(format!("{missing}{when}"));
        }
        _ => {
            result.status = Status::NotCompliant;
            result.missing.push(missing);
        }
    }
    result
}
