//! When a person is due for what: a simplified US (ACIP) childhood and adult
//! schedule, with realistic lateness, skipped visits and missing doses.
//!
//! The output is a list of planned visits (date + antigens wanted); which
//! product (single or combination vaccine) covers them is the facility's
//! choice, made later from its formulary.

use chrono::{Datelike, NaiveDate};

use crate::data::Antigen;
use crate::rng::Rng;

/// How a family keeps appointments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compliance {
    OnTime,
    Late,
    Sparse,
}

impl Compliance {
    pub fn draw(rng: &mut Rng) -> Compliance {
        match rng.below(100) {
            0..=71 => Compliance::OnTime,
            72..=91 => Compliance::Late,
            _ => Compliance::Sparse,
        }
    }

    fn delay_days(self, rng: &mut Rng) -> i64 {
        match self {
            Compliance::OnTime => rng.exp(5.0).min(30.0) as i64,
            Compliance::Late => 14 + rng.exp(45.0).min(300.0) as i64,
            Compliance::Sparse => 30 + rng.exp(120.0).min(600.0) as i64,
        }
    }

    fn skip_visit(self) -> f64 {
        match self {
            Compliance::OnTime => 0.02,
            Compliance::Late => 0.10,
            Compliance::Sparse => 0.30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VisitKind {
    /// Birth-hospital dose (HepB).
    Birth,
    WellChild,
    Flu,
    Covid,
    Adult,
}

#[derive(Debug, Clone)]
pub(crate) struct PlannedVisit {
    pub date: NaiveDate,
    pub kind: VisitKind,
    pub needs: Vec<Antigen>,
}

pub(crate) fn add_days(d: NaiveDate, n: i64) -> NaiveDate {
    d.checked_add_signed(chrono::TimeDelta::days(n))
        .unwrap_or(d)
}

pub(crate) fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

pub(crate) fn age_days(birth: NaiveDate, on: NaiveDate) -> i64 {
    (on - birth).num_days()
}

/// Completed years of age on `on`.
pub(crate) fn age_years(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut y = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        y -= 1;
    }
    y
}

/// The date `years` after `birth` (Feb 29 → Feb 28).
pub(crate) fn birthday(birth: NaiveDate, years: i32) -> NaiveDate {
    let y = birth.year() + years;
    NaiveDate::from_ymd_opt(y, birth.month(), birth.day())
        .or_else(|| NaiveDate::from_ymd_opt(y, birth.month(), 28))
        .unwrap_or(birth)
}

/// Inputs of [`plan`].
pub(crate) struct PlanInput {
    pub birth: NaiveDate,
    pub today: NaiveDate,
    pub history_start: NaiveDate,
    /// Adult (≥ 19 y) doses only from this date on.
    pub adult_start: NaiveDate,
    pub compliance: Compliance,
    /// 0..1: how keen the family is on seasonal vaccines.
    pub propensity: f64,
    pub born_here: bool,
}

/// Childhood well-visit template: (target age in days, antigens).
const CHILD_VISITS: [(i64, &[Antigen]); 10] = [
    (
        61,
        &[
            Antigen::Dtap,
            Antigen::Ipv,
            Antigen::Hib,
            Antigen::Pcv,
            Antigen::Rv,
            Antigen::HepB,
        ],
    ),
    (
        122,
        &[
            Antigen::Dtap,
            Antigen::Ipv,
            Antigen::Hib,
            Antigen::Pcv,
            Antigen::Rv,
        ],
    ),
    (
        183,
        &[
            Antigen::Dtap,
            Antigen::Ipv,
            Antigen::Hib,
            Antigen::Pcv,
            Antigen::Rv,
            Antigen::HepB,
        ],
    ),
    (
        365,
        &[
            Antigen::Mmr,
            Antigen::Var,
            Antigen::HepA,
            Antigen::Pcv,
            Antigen::Hib,
        ],
    ),
    (457, &[Antigen::Dtap]),
    (548, &[Antigen::HepA]),
    (
        1461,
        &[Antigen::Dtap, Antigen::Ipv, Antigen::Mmr, Antigen::Var],
    ),
    (4018, &[Antigen::Tdap, Antigen::Hpv, Antigen::MenAcwy]),
    (4200, &[Antigen::Hpv]),
    (5844, &[Antigen::MenAcwy]),
];

/// Plans every visit from birth to `today`, then keeps those inside the history window.
pub(crate) fn plan(rng: &mut Rng, p: &PlanInput) -> Vec<PlannedVisit> {
    let mut visits = Vec::new();
    let child_window_end = birthday(p.birth, 19);

    // Birth dose in hospital (most newborns get it).
    if p.born_here && rng.chance(0.85) {
        visits.push(PlannedVisit {
            date: add_days(p.birth, rng.below(2) as i64),
            kind: VisitKind::Birth,
            needs: vec![Antigen::HepB],
        });
    }

    // Well-child visits; lateness accumulates (a late family stays late).
    let mut prev: Option<NaiveDate> = None;
    let mut drift = 0i64;
    for (age, needs) in CHILD_VISITS {
        if rng.chance(p.compliance.skip_visit()) {
            continue;
        }
        drift = (drift / 2).max(0) + p.compliance.delay_days(rng);
        let mut date = add_days(p.birth, age + drift);
        if let Some(pv) = prev {
            date = date.max(add_days(pv, 28));
        }
        let mut needs: Vec<Antigen> = needs
            .iter()
            .copied()
            .filter(|_| !rng.chance(0.03))
            .collect();
        if age == 5844 && rng.chance(0.2) {
            needs.push(Antigen::MenB);
        }
        if needs.is_empty() || date >= child_window_end {
            continue;
        }
        prev = Some(date);
        visits.push(PlannedVisit {
            date,
            kind: VisitKind::WellChild,
            needs,
        });
    }

    plan_flu(rng, p, &mut visits);
    plan_covid(rng, p, &mut visits);
    plan_adult(rng, p, &mut visits);

    visits.retain(|v| {
        v.date >= p.birth
            && v.date <= p.today
            && v.date >= p.history_start
            && (v.date < child_window_end || v.date >= p.adult_start)
    });
    if visits.is_empty() {
        visits.push(fallback_visit(rng, p));
    }
    visits.sort_by_key(|v| v.date);
    visits
}

fn flu_base(age: i32) -> f64 {
    match age {
        0..=4 => 0.6,
        5..=17 => 0.45,
        18..=49 => 0.33,
        50..=64 => 0.45,
        _ => 0.65,
    }
}

fn plan_flu(rng: &mut Rng, p: &PlanInput, visits: &mut Vec<PlannedVisit>) {
    let first_year = p.birth.year().max(p.history_start.year() - 1);
    let factor = 0.4 + 1.2 * p.propensity;
    let mut had_flu = false;
    for y in first_year..=p.today.year() {
        let date = add_days(ymd(y, 9, 10), rng.below(100) as i64);
        let age_d = age_days(p.birth, date);
        if age_d < 183 || date > p.today {
            continue;
        }
        let age = age_years(p.birth, date);
        if !rng.chance((flu_base(age) * factor).min(0.95)) {
            continue;
        }
        visits.push(PlannedVisit {
            date,
            kind: VisitKind::Flu,
            needs: vec![Antigen::Flu],
        });
        // Children under 9 getting their first flu vaccine need two doses.
        if !had_flu && age < 9 && rng.chance(0.7) {
            visits.push(PlannedVisit {
                date: add_days(date, 28 + rng.below(21) as i64),
                kind: VisitKind::Flu,
                needs: vec![Antigen::Flu],
            });
        }
        had_flu = true;
    }
}

fn plan_covid(rng: &mut Rng, p: &PlanInput, visits: &mut Vec<PlannedVisit>) {
    let factor = 0.5 + p.propensity;
    let push = |date: NaiveDate, visits: &mut Vec<PlannedVisit>| {
        visits.push(PlannedVisit {
            date,
            kind: VisitKind::Covid,
            needs: vec![Antigen::Covid],
        })
    };
    let age_on = |d: NaiveDate| age_years(p.birth, d);
    // Primary series by eligibility wave.
    let start = ymd(2021, 1, 10);
    let age = age_on(start);
    let (wave, prob) = match age {
        65.. => (ymd(2021, 1, 15), 0.85),
        18..=64 => (ymd(2021, 3, 15), 0.72),
        11..=17 => (ymd(2021, 5, 15), 0.55),
        4..=10 => (ymd(2021, 11, 5), 0.35),
        _ => (ymd(2099, 1, 1), 0.0),
    };
    let mut primary = false;
    if rng.chance((prob * factor).min(0.97)) {
        let d1 = add_days(wave, rng.below(110) as i64);
        push(d1, visits);
        if rng.chance(0.93) {
            push(add_days(d1, 21 + rng.below(14) as i64), visits);
        }
        primary = true;
    }
    if primary && age >= 18 && rng.chance(0.6) {
        push(add_days(ymd(2021, 10, 1), rng.below(120) as i64), visits);
    }
    // Updated vaccines each autumn from 2022.
    for (y, young, old) in [
        (2022, 0.22, 0.45),
        (2023, 0.18, 0.40),
        (2024, 0.15, 0.38),
        (2025, 0.12, 0.35),
    ] {
        let d = add_days(ymd(y, 9, 12), rng.below(100) as i64);
        let a = age_on(d);
        if a < 5 {
            continue;
        }
        let base = if a >= 65 { old } else { young };
        let base = if primary { base * 1.6 } else { base * 0.5 };
        if rng.chance((base * factor).min(0.95)) {
            push(d, visits);
        }
    }
}

fn plan_adult(rng: &mut Rng, p: &PlanInput, visits: &mut Vec<PlannedVisit>) {
    let adult = |needs: Vec<Antigen>, date: NaiveDate, visits: &mut Vec<PlannedVisit>| {
        visits.push(PlannedVisit {
            date,
            kind: VisitKind::Adult,
            needs,
        })
    };
    // Td/Tdap boosters every ten years after the adolescent Tdap.
    let offset = rng.range(0, 9) as i32;
    let mut had_adult_tdap = false;
    for k in 0..8 {
        let at = 21 + offset + 10 * k;
        let date = add_days(birthday(p.birth, at), rng.below(365) as i64);
        if date > p.today {
            break;
        }
        if !rng.chance(0.45) {
            continue;
        }
        let need = if !had_adult_tdap || rng.chance(0.4) {
            Antigen::Tdap
        } else {
            Antigen::Td
        };
        had_adult_tdap |= need == Antigen::Tdap;
        adult(vec![need], date, visits);
    }
    // Zoster: recombinant (2 doses) at 50+ from 2018, live (1 dose) at 60+ before.
    let rzv_from = birthday(p.birth, 50).max(ymd(2018, 1, 1));
    if rzv_from < p.today && rng.chance(0.35) {
        let span = (p.today - rzv_from).num_days().max(1);
        let d1 = add_days(rzv_from, rng.below(span as u64) as i64);
        adult(vec![Antigen::Zoster], d1, visits);
        if rng.chance(0.75) {
            adult(
                vec![Antigen::Zoster],
                add_days(d1, 60 + rng.below(120) as i64),
                visits,
            );
        }
    } else {
        let zvl_from = birthday(p.birth, 60);
        if zvl_from < ymd(2017, 6, 1) && rng.chance(0.25) {
            let span = (ymd(2017, 12, 31) - zvl_from).num_days().max(1);
            adult(
                vec![Antigen::Zoster],
                add_days(zvl_from, rng.below(span as u64) as i64),
                visits,
            );
        }
    }
    // Pneumococcal at 65.
    if rng.chance(0.6) {
        let d = add_days(birthday(p.birth, 65), rng.below(400) as i64);
        adult(vec![Antigen::Pcv], d, visits);
        if d < ymd(2021, 10, 20) && rng.chance(0.7) {
            adult(
                vec![Antigen::Ppsv],
                add_days(d, 365 + rng.below(60) as i64),
                visits,
            );
        }
    }
}

/// Everyone in the registry has at least one report: a recent flu shot, or a
/// HepB dose for a newborn.
fn fallback_visit(rng: &mut Rng, p: &PlanInput) -> PlannedVisit {
    let start = p
        .birth
        .max(p.history_start)
        .max(if age_years(p.birth, p.today) >= 19 {
            p.adult_start
        } else {
            p.birth
        });
    let six_months = add_days(p.birth, 183);
    if p.today < six_months {
        let span = (p.today - start).num_days().max(0);
        return PlannedVisit {
            date: add_days(start, rng.below(span as u64 + 1) as i64),
            kind: VisitKind::WellChild,
            needs: vec![Antigen::HepB],
        };
    }
    let lo = start.max(six_months);
    let span = (p.today - lo).num_days().max(0);
    PlannedVisit {
        date: add_days(lo, rng.below(span as u64 + 1) as i64),
        kind: VisitKind::Flu,
        needs: vec![Antigen::Flu],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(birth: NaiveDate, today: NaiveDate) -> PlanInput {
        PlanInput {
            birth,
            today,
            history_start: ymd(2000, 1, 1),
            adult_start: ymd(2015, 1, 1),
            compliance: Compliance::OnTime,
            propensity: 0.5,
            born_here: true,
        }
    }

    #[test]
    fn visits_stay_within_life_and_window() {
        for seed in 0..300 {
            let mut r = Rng::new(seed);
            let birth = add_days(ymd(1930, 1, 1), r.below(34_000) as i64);
            let today = ymd(2025, 6, 30);
            let p = input(birth, today);
            let v = plan(&mut r, &p);
            assert!(!v.is_empty());
            for x in &v {
                assert!(x.date >= birth && x.date <= today, "{x:?} birth {birth}");
                assert!(x.date >= p.history_start);
            }
            assert!(v.windows(2).all(|w| w[0].date <= w[1].date));
        }
    }

    #[test]
    fn infant_on_time_gets_two_month_visit() {
        let birth = ymd(2024, 1, 1);
        let mut r = Rng::new(3);
        let v = plan(&mut r, &input(birth, ymd(2024, 12, 31)));
        assert!(v
            .iter()
            .any(|x| x.kind == VisitKind::WellChild && x.needs.contains(&Antigen::Rv)));
    }

    #[test]
    fn ages() {
        let b = ymd(2000, 2, 29);
        assert_eq!(age_years(b, ymd(2001, 2, 28)), 0);
        assert_eq!(age_years(b, ymd(2001, 3, 1)), 1);
        assert_eq!(birthday(b, 1), ymd(2001, 2, 28));
    }
}
