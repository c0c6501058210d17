//! CDSi chapter 8 (select the best patient series per antigen: pre-filter,
//! one prioritized series, scoring, equivalent series groups) and chapter 9
//! (identify and evaluate vaccine groups, single and multiple antigen).

use chrono::NaiveDate;

use crate::api::*;
use crate::date::{Day, DAY_MAX, DAY_MIN};
use crate::engine::{out_date, Ctx, DEval, Run, Scratch, NONE16};
use crate::model::*;
use crate::supporting_data::SupportingData;

fn series_of<'a>(data: &'a SupportingData, r: &Run) -> &'a Series {
    &data.antigens[r.antigen as usize].series[r.series as usize]
}

/// Forecast finish date and completability of an in-process series (CDSi 8.5).
fn finish(data: &SupportingData, ctx: &Ctx<'_>, r: &Run) -> (Day, bool) {
    let s = series_of(data, r);
    let Some(f) = r.forecast.filter(|f| f.earliest_known) else {
        return (DAY_MAX, false);
    };
    let mut d = f.earliest;
    for sd in s.doses.iter().skip(r.t + 1) {
        if let Some(m) = sd.prev_min {
            d = m.add_to(d);
        }
    }
    let max_last = s
        .doses
        .last()
        .and_then(|sd| sd.ages.first())
        .and_then(|a| ctx.at_age(a.max))
        .unwrap_or(DAY_MAX);
    (d, d < max_last)
}

/// A small stack list of run indices (an antigen has at most 60 series,
/// enforced when the supporting data is loaded).
#[derive(Clone, Copy)]
struct Ids {
    n: usize,
    v: [u16; 64],
}

impl Ids {
    fn new() -> Ids {
        Ids { n: 0, v: [0; 64] }
    }

    fn from_iter(it: impl IntoIterator<Item = u16>) -> Ids {
        let mut ids = Ids::new();
        for i in it {
            ids.push(i);
        }
        ids
    }

    fn push(&mut self, i: u16) {
        if self.n < self.v.len() {
            self.v[self.n] = i;
            self.n += 1;
        }
    }

    fn as_slice(&self) -> &[u16] {
        &self.v[..self.n]
    }
}

/// Adds `w` to runs meeting a criterion when unique, 0 on ties, `-w` otherwise.
fn score_criterion(runs: &mut [Run], idx: &[u16], w: i32, meets: impl Fn(usize, &Run) -> bool) {
    let count = idx
        .iter()
        .enumerate()
        .filter(|(j, &i)| meets(*j, &runs[i as usize]))
        .count();
    for (j, &i) in idx.iter().enumerate() {
        let m = meets(j, &runs[i as usize]);
        let r = &mut runs[i as usize];
        if m {
            if count == 1 {
                r.score += w;
            }
        } else {
            r.score -= w;
        }
    }
}

/// CDSi 8.1 – 8.7 for one series group: returns the prioritized run.
fn prioritize(data: &SupportingData, ctx: &Ctx<'_>, runs: &mut [Run], group: &[u16]) -> u16 {
    // 8.1 pre-filter: drop contraindicated unless all are
    let mut cand = Ids::from_iter(
        group
            .iter()
            .copied()
            .filter(|&i| runs[i as usize].status != SeriesStatus::Contraindicated),
    );
    if cand.n == 0 {
        cand = Ids::from_iter(group.iter().copied());
    }
    let cand = cand.as_slice();
    let highest_risk = cand
        .iter()
        .map(|&i| series_of(data, &runs[i as usize]))
        .filter(|s| s.series_type == SeriesType::Risk)
        .map(|s| s.priority)
        .min();
    let group_valid = cand.iter().any(|&i| runs[i as usize].valid_count > 0);
    let is_default = |r: &Run| {
        let s = series_of(data, r);
        s.series_type == SeriesType::Standard && s.default_series
    };
    let group_default = cand.iter().any(|&i| is_default(&runs[i as usize]));
    let scorable = Ids::from_iter(cand.iter().copied().filter(|&i| {
        let r = &runs[i as usize];
        let s = series_of(data, r);
        match s.series_type {
            SeriesType::Risk => Some(s.priority) == highest_risk,
            SeriesType::Standard => {
                let before_max = match (r.first_valid, ctx.at_age(s.max_age_to_start)) {
                    (Some(f), Some(m)) => f < m,
                    _ => true,
                };
                (r.valid_count > 0 && before_max) || (!group_valid && !group_default)
            }
            SeriesType::EvaluationOnly => r.status == SeriesStatus::Complete,
        }
    }));
    if scorable.n == 0 {
        if let Some(&d) = cand.iter().find(|&&i| is_default(&runs[i as usize])) {
            return d;
        }
        return cand.first().copied().unwrap_or(NONE16);
    }
    // 8.2 one prioritized patient series
    if scorable.n == 1 {
        return scorable.v[0];
    }
    let complete = Ids::from_iter(
        scorable
            .as_slice()
            .iter()
            .copied()
            .filter(|&i| runs[i as usize].status == SeriesStatus::Complete),
    );
    if complete.n == 1 {
        return complete.v[0];
    }
    let in_process = Ids::from_iter(scorable.as_slice().iter().copied().filter(|&i| {
        let r = &runs[i as usize];
        r.status == SeriesStatus::NotComplete && r.any_satisfied()
    }));
    if complete.n == 0 {
        if in_process.n == 1 {
            return in_process.v[0];
        }
        if in_process.n == 0 {
            let defaults = Ids::from_iter(
                scorable
                    .as_slice()
                    .iter()
                    .copied()
                    .filter(|&i| is_default(&runs[i as usize])),
            );
            if defaults.n == 1 {
                return defaults.v[0];
            }
        }
    }
    // 8.3 classify, 8.4 – 8.6 score
    for &i in scorable.as_slice() {
        runs[i as usize].score = 0;
    }
    let scorable = if complete.n >= 2 {
        // 8.4 complete patient series: most valid doses
        let ids = complete;
        let idx = ids.as_slice();
        let max = idx
            .iter()
            .map(|&i| runs[i as usize].valid_count)
            .max()
            .unwrap_or(0);
        score_criterion(runs, idx, 1, |_, r| r.valid_count == max);
        ids
    } else if in_process.n >= 2 {
        // 8.5 in-process patient series
        let ids = in_process;
        let idx = ids.as_slice();
        score_criterion(runs, idx, 2, |_, r| {
            series_of(data, r).product_path && r.evals.iter().all(|e| e.status == DoseStatus::Valid)
        });
        let mut fin = [(DAY_MAX, false); 64];
        for (j, &i) in idx.iter().enumerate() {
            fin[j] = finish(data, ctx, &runs[i as usize]);
        }
        score_criterion(runs, idx, 3, |j, _| fin[j].1);
        let maxv = idx
            .iter()
            .map(|&i| runs[i as usize].valid_count)
            .max()
            .unwrap_or(0);
        score_criterion(runs, idx, 2, |_, r| r.valid_count == maxv);
        let remaining = |r: &Run| series_of(data, r).doses.len().saturating_sub(r.t);
        let minrem = idx
            .iter()
            .map(|&i| remaining(&runs[i as usize]))
            .min()
            .unwrap_or(0);
        score_criterion(runs, idx, 2, |_, r| remaining(r) == minrem);
        let minfin = fin[..idx.len()]
            .iter()
            .filter(|f| f.1)
            .map(|f| f.0)
            .min()
            .unwrap_or(DAY_MAX);
        score_criterion(runs, idx, 1, |j, _| fin[j].1 && fin[j].0 == minfin);
        ids
    } else {
        // 8.6 no valid doses
        let idx = scorable.as_slice();
        // SELECTB-14: the start date is the forecast earliest date; a series
        // whose earliest date is empty (table 7-12) has none
        let start = |r: &Run| {
            r.forecast
                .filter(|f| f.earliest_known)
                .map_or(DAY_MAX, |f| f.earliest)
        };
        let minstart = idx
            .iter()
            .map(|&i| start(&runs[i as usize]))
            .min()
            .unwrap_or(DAY_MAX);
        score_criterion(runs, idx, 1, |_, r| {
            minstart != DAY_MAX && start(r) == minstart
        });
        let mut completable = [false; 64];
        for (j, &i) in idx.iter().enumerate() {
            completable[j] = finish(data, ctx, &runs[i as usize]).1;
        }
        score_criterion(runs, idx, 1, |j, _| completable[j]);
        score_criterion(runs, idx, 1, |_, r| !series_of(data, r).product_path);
        scorable
    };
    // 8.7 highest score, ties broken by series preference
    let idx = scorable.as_slice();
    let mut best = idx[0];
    for &i in &idx[1..] {
        let (a, b) = (&runs[i as usize], &runs[best as usize]);
        let pa = series_of(data, a).preference;
        let pb = series_of(data, b).preference;
        if a.score > b.score || (a.score == b.score && pa < pb) {
            best = i;
        }
    }
    best
}

/// CDSi chapter 8: the best patient series of every antigen (one per
/// series group, table 8-14) into `s.best_list` / `s.best_range`, and the
/// primary one (status and forecast of the antigen) into `s.best`.
pub(crate) fn select_best(data: &SupportingData, ctx: &Ctx<'_>, s: &mut Scratch) {
    s.best.clear();
    s.best_list.clear();
    s.best_range.clear();
    for aid in 0..data.antigens.len() {
        let (lo, hi) = s.antigen_runs[aid];
        let start = s.best_list.len() as u16;
        if lo == hi {
            s.best.push(NONE16);
            s.best_range.push((start, start));
            continue;
        }
        // 8.1 – 8.7: one prioritized series per series group (runs are in
        // series order; series groups are small integers)
        let mut prioritized = Ids::new();
        let mut seen = 0u64;
        for first in lo..hi {
            let g = series_of(data, &s.runs[first as usize]).series_group;
            let bit = 1u64 << (g & 63);
            if seen & bit != 0 {
                continue;
            }
            seen |= bit;
            let members = Ids::from_iter(
                (first..hi).filter(|&i| series_of(data, &s.runs[i as usize]).series_group == g),
            );
            let members = members.as_slice();
            // a series group none of whose series can start at the patient's
            // age, and with no satisfied target dose, is not applicable
            let applicable = s.age_ok[aid] & (1u64 << (g & 63)) != 0
                || members.iter().any(|&i| s.runs[i as usize].any_satisfied());
            if !applicable {
                continue;
            }
            let p = prioritize(data, ctx, &mut s.runs[..s.nruns], members);
            if p != NONE16 {
                prioritized.push(p);
            }
        }
        let prioritized = prioritized.as_slice();
        // 8.8 table 8-14: is the prioritized series a best patient series?
        for &i in prioritized {
            if is_best(data, &s.runs, prioritized, i) {
                s.best_list.push(i);
            }
        }
        let end = s.best_list.len() as u16;
        s.best_range.push((start, end));
        let primary = primary_of(&s.runs, &s.best_list[start as usize..end as usize]);
        s.best.push(primary);
        if primary != NONE16 {
            forecast_dose_number(data, ctx, s, aid, primary);
        }
    }
}

/// The evaluation of antigen dose `k` reported for the antigen: valid when
/// any best patient series counted it (several series groups may each own
/// some doses, e.g. standard PCV doses then a risk PPSV23 dose), otherwise the
/// evaluation in the primary best series.
pub(crate) fn merged_eval(s: &Scratch, aid: usize, k: usize) -> Option<DEval> {
    let (lo, hi) = *s.best_range.get(aid)?;
    let primary = *s.best.get(aid)?;
    for &i in &s.best_list[lo as usize..hi as usize] {
        if let Some(e) = s.runs[i as usize].evals.get(k) {
            if e.status == DoseStatus::Valid {
                return Some(*e);
            }
        }
    }
    s.runs.get(primary as usize)?.evals.get(k).copied()
}

/// CDSi 7.5 FORECASTDN-1: the forecast dose number is the number of valid
/// doses plus one; for a seasonal target dose only doses given on or after the
/// season start count.
fn forecast_dose_number(
    data: &SupportingData,
    ctx: &Ctx<'_>,
    s: &mut Scratch,
    aid: usize,
    primary: u16,
) {
    let r = &s.runs[primary as usize];
    if r.forecast.is_none() {
        return;
    }
    let season_start = series_of(data, r)
        .doses
        .get(r.t)
        .and_then(|sd| sd.season_start)
        .unwrap_or(DAY_MIN);
    let mut n = 0u16;
    for k in 0..s.adoses[aid].len() {
        let day = ctx.doses[s.adoses[aid][k] as usize].day;
        if day >= season_start
            && merged_eval(s, aid, k).is_some_and(|e| e.status == DoseStatus::Valid)
        {
            n += 1;
        }
    }
    if let Some(f) = s.runs[primary as usize].forecast.as_mut() {
        f.dose = n + 1;
    }
}

/// CDSi 8.8 table 8-14: a prioritized patient series is a best patient
/// series when it is complete; otherwise when no prioritized series of one of
/// its equivalent series groups is complete, it is not "evaluation only", and
/// it is a risk series or no prioritized series of an equivalent series group
/// is a risk series.
fn is_best(data: &SupportingData, runs: &[Run], prioritized: &[u16], i: u16) -> bool {
    let r = &runs[i as usize];
    if r.status == SeriesStatus::Complete {
        return true;
    }
    let s = series_of(data, r);
    let in_equivalent = |j: &&u16| {
        **j != i
            && s.equivalent_group
                .is_some_and(|eq| series_of(data, &runs[**j as usize]).series_group == eq)
    };
    if prioritized
        .iter()
        .filter(in_equivalent)
        .any(|&j| runs[j as usize].status == SeriesStatus::Complete)
    {
        return false;
    }
    match s.series_type {
        SeriesType::EvaluationOnly => false,
        SeriesType::Risk => true,
        SeriesType::Standard => !prioritized
            .iter()
            .filter(in_equivalent)
            .any(|&j| series_of(data, &runs[j as usize]).series_type == SeriesType::Risk),
    }
}

/// The best patient series which gives the antigen its status and forecast
/// (CDSi 9.2 with several best series, one per series group): a series that
/// still needs a dose (the one with the earliest forecast), else a complete or
/// immune one, else the first.
fn primary_of(runs: &[Run], best: &[u16]) -> u16 {
    let mut pick: Option<(u8, Day, u16)> = None;
    for &i in best {
        let r = &runs[i as usize];
        let key = match r.status {
            SeriesStatus::NotComplete => (0, r.forecast.map_or(DAY_MAX, |f| f.earliest)),
            SeriesStatus::Complete | SeriesStatus::Immune => (1, 0),
            _ => (2, 0),
        };
        if pick.is_none_or(|(a, b, _)| (key.0, key.1) < (a, b)) {
            pick = Some((key.0, key.1, i));
        }
    }
    pick.map_or(NONE16, |p| p.2)
}

/// Writes a forecast into `slot`, reusing its vaccine list allocation.
fn set_forecast(
    slot: &mut Option<Forecast>,
    dose: u16,
    earliest: Day,
    recommended: Day,
    past_due: Option<Day>,
    latest: Option<Day>,
) -> &mut Vec<Cvx> {
    let f = slot.get_or_insert_with(|| Forecast {
        dose_number: 0,
        earliest: NaiveDate::MIN,
        recommended: NaiveDate::MIN,
        past_due: None,
        latest: None,
        vaccines: Vec::new(),
    });
    f.dose_number = dose;
    f.earliest = out_date(earliest);
    f.recommended = out_date(recommended);
    f.past_due = past_due.map(out_date);
    f.latest = latest.map(out_date);
    f.vaccines.clear();
    &mut f.vaccines
}

/// CDSi 7.6: recommended vaccines of the best series' next target dose,
/// appended to `out` (without duplicates).
fn recommended_vaccines(
    data: &SupportingData,
    ctx: &Ctx<'_>,
    r: &Run,
    earliest: Day,
    out: &mut Vec<Cvx>,
) {
    let s = series_of(data, r);
    let Some(sd) = s.doses.get(r.t) else {
        return;
    };
    let antigen = &data.antigens[r.antigen as usize];
    let ok = sd
        .preferable
        .iter()
        .filter(|pv| pv.forecast)
        .filter(|pv| {
            earliest >= ctx.at_age(pv.begin_age).unwrap_or(DAY_MIN)
                && earliest < ctx.at_age(pv.end_age).unwrap_or(DAY_MAX)
        })
        .filter(|pv| {
            // CDSi 7.3 vaccine-specific contraindications
            !antigen.vaccine_contraindications.iter().any(|vc| {
                vc.cvx == pv.cvx
                    && ctx.obs.iter().any(|o| o.0 == vc.observation)
                    && ctx.assess >= ctx.at_age(vc.begin_age).unwrap_or(DAY_MIN)
                    && ctx.assess < ctx.at_age(vc.end_age).unwrap_or(DAY_MAX)
            })
        });
    for pv in ok {
        if !out.contains(&Cvx(pv.cvx)) {
            out.push(Cvx(pv.cvx));
        }
    }
}

/// The primary best runs of the antigens of a vaccine group.
fn best_runs<'s>(s: &'s Scratch, g: &'s VaccineGroup) -> impl Iterator<Item = &'s Run> + Clone {
    g.antigens.iter().filter_map(move |&a| {
        let b = *s.best.get(a as usize)?;
        (b != NONE16).then(|| &s.runs[b as usize])
    })
}

/// CDSi chapter 9: vaccine group results, written into `out` reusing its
/// allocations (batch callers pass the same `Assessment` every time).
pub(crate) fn vaccine_groups(
    data: &SupportingData,
    ctx: &Ctx<'_>,
    s: &Scratch,
    out: &mut Assessment,
) {
    let mut n = 0;
    for (gid, g) in data.vaccine_groups.iter().enumerate() {
        let bests = best_runs(s, g);
        let Some(first) = bests.clone().next() else {
            continue;
        };
        if out.vaccine_groups.len() <= n {
            out.vaccine_groups.push(VaccineGroupResult {
                group: 0,
                status: SeriesStatus::NotComplete,
                forecast: None,
                evaluations: Vec::new(),
            });
        }
        let res = &mut out.vaccine_groups[n];
        n += 1;
        res.group = gid as VaccineGroupId;
        res.evaluations.clear();
        for r in bests.clone() {
            let aid = r.antigen as usize;
            for k in 0..r.evals.len() {
                let Some(e) = merged_eval(s, aid, k) else {
                    continue;
                };
                let di = s.adoses[aid][k] as usize;
                res.evaluations.push(DoseEvaluation {
                    dose_index: ctx.doses[di].orig as usize,
                    antigen: r.antigen,
                    status: e.status,
                    reason: e.reason,
                    reasons: e.reasons,
                });
            }
        }
        if g.antigens.len() > 1 {
            res.evaluations
                .sort_unstable_by_key(|e| (e.dose_index, e.antigen));
        } else {
            res.evaluations.sort_by_key(|e| e.dose_index);
        }
        if g.antigens.len() == 1 {
            // CDSi 9.2 single antigen vaccine group
            res.status = first.status;
            match first.forecast.as_ref() {
                Some(f) => {
                    let v = set_forecast(
                        &mut res.forecast,
                        f.dose,
                        f.earliest,
                        f.recommended,
                        f.past_due,
                        f.latest,
                    );
                    recommended_vaccines(data, ctx, first, f.earliest, v);
                }
                None => res.forecast = None,
            }
        } else {
            res.status = multi_antigen(data, ctx, s, g, bests, &mut res.forecast);
        }
    }
    out.vaccine_groups.truncate(n);
}

/// CDSi 9.3 multiple antigen vaccine group (table 9-4, MULTIANTVG rules).
fn multi_antigen<'s>(
    data: &SupportingData,
    ctx: &Ctx<'_>,
    s: &Scratch,
    g: &VaccineGroup,
    bests: impl Iterator<Item = &'s Run> + Clone,
    slot: &mut Option<Forecast>,
) -> SeriesStatus {
    let any = |st: SeriesStatus| bests.clone().any(|r| r.status == st);
    let all = |f: &dyn Fn(SeriesStatus) -> bool| bests.clone().all(|r| f(r.status));
    let status = if g.administer_full {
        if any(SeriesStatus::Contraindicated) {
            SeriesStatus::Contraindicated
        } else if any(SeriesStatus::AgedOut) {
            SeriesStatus::AgedOut
        } else if any(SeriesStatus::NotRecommended) {
            SeriesStatus::NotRecommended
        } else if any(SeriesStatus::NotComplete) {
            SeriesStatus::NotComplete
        } else if all(&|s| s == SeriesStatus::Immune) {
            SeriesStatus::Immune
        } else {
            SeriesStatus::Complete
        }
    } else if any(SeriesStatus::NotComplete) {
        SeriesStatus::NotComplete
    } else if all(&|s| s == SeriesStatus::Contraindicated) {
        SeriesStatus::Contraindicated
    } else if all(&|s| s == SeriesStatus::Immune) {
        SeriesStatus::Immune
    } else if all(&|s| matches!(s, SeriesStatus::Complete | SeriesStatus::Immune)) {
        SeriesStatus::Complete
    } else if any(SeriesStatus::AgedOut) {
        SeriesStatus::AgedOut
    } else if any(SeriesStatus::Complete) {
        SeriesStatus::Complete
    } else {
        SeriesStatus::NotRecommended
    };
    if status != SeriesStatus::NotComplete {
        *slot = None;
        return status;
    }
    let fs = bests
        .filter(|r| r.status == SeriesStatus::NotComplete)
        .filter_map(|r| r.forecast.as_ref().map(|f| (r, f)));
    let Some((_, first)) = fs.clone().next() else {
        *slot = None;
        return status;
    };
    // MULTIANTVG-1: the latest earliest date of the antigens, unless an
    // antigen's next target dose has only "override" priority intervals
    // (CDSi 6.5 interval priority): then the earliest of the earliest dates
    let overrides = fs.clone().any(|(r, _)| {
        series_of(data, r).doses.get(r.t).is_some_and(|sd| {
            !sd.intervals.is_empty() && sd.intervals.iter().all(|iv| iv.priority_override)
        })
    });
    let mut ef = first;
    for (_, f) in fs.clone().skip(1) {
        if (f.earliest > ef.earliest) != overrides && f.earliest != ef.earliest {
            ef = f;
        }
    }
    let mut earliest = ef.earliest;
    if overrides {
        // ... but not before the last dose administered in the group
        let last = g
            .antigens
            .iter()
            .filter_map(|&a| s.adoses.get(a as usize)?.last())
            .map(|&i| ctx.doses[i as usize].day)
            .max();
        if let Some(l) = last {
            earliest = earliest.max(l);
        }
    }
    // MULTIANTVG-2/3: earliest recommended / past due, not before earliest
    let recommended = fs
        .clone()
        .map(|(_, f)| f.recommended)
        .min()
        .unwrap_or(earliest)
        .max(earliest);
    let past_due = fs
        .clone()
        .filter_map(|(_, f)| f.past_due)
        .min()
        .map(|p| p.max(earliest));
    // MULTIANTVG-4: earliest latest date
    let latest = fs.clone().filter_map(|(_, f)| f.latest).min();
    // FORECASTDN-2: the lowest dose number of the antigens when the full
    // vaccine group is administered, otherwise the highest
    let doses = fs.clone().map(|(_, f)| f.dose);
    let dose_number = if g.administer_full {
        doses.min()
    } else {
        doses.max()
    }
    .unwrap_or(ef.dose);
    let v = set_forecast(slot, dose_number, earliest, recommended, past_due, latest);
    for (r, _) in fs {
        recommended_vaccines(data, ctx, r, earliest, v);
    }
    status
}
