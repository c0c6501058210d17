//! CDSi chapter 8 (select the best patient series per antigen: pre-filter,
//! one prioritized series, scoring, equivalent series groups) and chapter 9
//! (identify and evaluate vaccine groups, single and multiple antigen).

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
    let Some(f) = r.forecast else {
        return (DAY_MAX, false);
    };
    let mut d = f.earliest;
    for sd in s.doses.iter().skip(r.t + 1) {
        let min = sd
            .intervals
            .iter()
            .filter(|i| matches!(i.from, IntervalFrom::Previous))
            .filter_map(|i| i.min)
            .next();
        if let Some(m) = min {
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

/// Adds `w` to runs meeting a criterion when unique, 0 on ties, `-w` otherwise.
fn score_criterion(runs: &mut [Run], idx: &[u16], w: i32, meets: &[bool]) {
    let count = meets.iter().filter(|m| **m).count();
    for (j, &i) in idx.iter().enumerate() {
        let r = &mut runs[i as usize];
        if meets[j] {
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
    let mut cand: Vec<u16> = group
        .iter()
        .copied()
        .filter(|&i| runs[i as usize].status != SeriesStatus::Contraindicated)
        .collect();
    if cand.is_empty() {
        cand = group.to_vec();
    }
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
    let mut scorable: Vec<u16> = cand
        .iter()
        .copied()
        .filter(|&i| {
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
        })
        .collect();
    if scorable.is_empty() {
        if let Some(&d) = cand.iter().find(|&&i| is_default(&runs[i as usize])) {
            return d;
        }
        return cand.first().copied().unwrap_or(NONE16);
    }
    // 8.2 one prioritized patient series
    if scorable.len() == 1 {
        return scorable[0];
    }
    let complete: Vec<u16> = scorable
        .iter()
        .copied()
        .filter(|&i| runs[i as usize].status == SeriesStatus::Complete)
        .collect();
    if complete.len() == 1 {
        return complete[0];
    }
    let in_process: Vec<u16> = scorable
        .iter()
        .copied()
        .filter(|&i| {
            let r = &runs[i as usize];
            r.status == SeriesStatus::NotComplete && r.any_satisfied()
        })
        .collect();
    if complete.is_empty() {
        if in_process.len() == 1 {
            return in_process[0];
        }
        if in_process.is_empty() {
            let defaults: Vec<u16> = scorable
                .iter()
                .copied()
                .filter(|&i| is_default(&runs[i as usize]))
                .collect();
            if defaults.len() == 1 {
                return defaults[0];
            }
        }
    }
    // 8.3 classify, 8.4 – 8.6 score
    for &i in &scorable {
        runs[i as usize].score = 0;
    }
    if complete.len() >= 2 {
        // 8.4 complete patient series: most valid doses
        scorable = complete;
        let max = scorable
            .iter()
            .map(|&i| runs[i as usize].valid_count)
            .max()
            .unwrap_or(0);
        let meets: Vec<bool> = scorable
            .iter()
            .map(|&i| runs[i as usize].valid_count == max)
            .collect();
        score_criterion(runs, &scorable, 1, &meets);
    } else if in_process.len() >= 2 {
        // 8.5 in-process patient series
        scorable = in_process;
        let product: Vec<bool> = scorable
            .iter()
            .map(|&i| {
                let r = &runs[i as usize];
                series_of(data, r).product_path
                    && r.evals.iter().all(|e| e.status == DoseStatus::Valid)
            })
            .collect();
        score_criterion(runs, &scorable, 2, &product);
        let fin: Vec<(Day, bool)> = scorable
            .iter()
            .map(|&i| finish(data, ctx, &runs[i as usize]))
            .collect();
        let completable: Vec<bool> = fin.iter().map(|f| f.1).collect();
        score_criterion(runs, &scorable, 3, &completable);
        let maxv = scorable
            .iter()
            .map(|&i| runs[i as usize].valid_count)
            .max()
            .unwrap_or(0);
        let most: Vec<bool> = scorable
            .iter()
            .map(|&i| runs[i as usize].valid_count == maxv)
            .collect();
        score_criterion(runs, &scorable, 2, &most);
        let remaining = |r: &Run| series_of(data, r).doses.len().saturating_sub(r.t);
        let minrem = scorable
            .iter()
            .map(|&i| remaining(&runs[i as usize]))
            .min()
            .unwrap_or(0);
        let closest: Vec<bool> = scorable
            .iter()
            .map(|&i| remaining(&runs[i as usize]) == minrem)
            .collect();
        score_criterion(runs, &scorable, 2, &closest);
        let minfin = fin
            .iter()
            .filter(|f| f.1)
            .map(|f| f.0)
            .min()
            .unwrap_or(DAY_MAX);
        let earliest: Vec<bool> = fin.iter().map(|f| f.1 && f.0 == minfin).collect();
        score_criterion(runs, &scorable, 1, &earliest);
    } else {
        // 8.6 no valid doses
        let starts: Vec<Day> = scorable
            .iter()
            .map(|&i| runs[i as usize].forecast.map_or(DAY_MAX, |f| f.earliest))
            .collect();
        let minstart = starts.iter().copied().min().unwrap_or(DAY_MAX);
        let first: Vec<bool> = starts.iter().map(|&s| s == minstart).collect();
        score_criterion(runs, &scorable, 1, &first);
        let completable: Vec<bool> = scorable
            .iter()
            .map(|&i| finish(data, ctx, &runs[i as usize]).1)
            .collect();
        score_criterion(runs, &scorable, 1, &completable);
        let not_product: Vec<bool> = scorable
            .iter()
            .map(|&i| !series_of(data, &runs[i as usize]).product_path)
            .collect();
        score_criterion(runs, &scorable, 1, &not_product);
    }
    // 8.7 highest score, ties broken by series preference
    let mut best = scorable[0];
    for &i in &scorable[1..] {
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
    let mut prioritized: Vec<u16> = Vec::new();
    let mut groups: Vec<u8> = Vec::new();
    let mut members: Vec<u16> = Vec::new();
    for aid in 0..data.antigens.len() {
        let (lo, hi) = s.antigen_runs[aid];
        let start = s.best_list.len() as u16;
        if lo == hi {
            s.best.push(NONE16);
            s.best_range.push((start, start));
            continue;
        }
        // 8.1 – 8.7: one prioritized series per series group
        prioritized.clear();
        groups.clear();
        for i in lo..hi {
            let g = series_of(data, &s.runs[i as usize]).series_group;
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        for &g in &groups {
            members.clear();
            members.extend(
                (lo..hi).filter(|&i| series_of(data, &s.runs[i as usize]).series_group == g),
            );
            // a series group none of whose series can start at the patient's
            // age, and with no satisfied target dose, is not applicable
            let applicable = members.iter().any(|&i| {
                let r = &s.runs[i as usize];
                let sr = series_of(data, r);
                r.any_satisfied()
                    || (ctx.assess >= ctx.at_age(sr.min_age_to_start).unwrap_or(DAY_MIN)
                        && ctx.assess < ctx.at_age(sr.max_age_to_start).unwrap_or(DAY_MAX))
            });
            if !applicable {
                continue;
            }
            let p = prioritize(data, ctx, &mut s.runs[..s.nruns], &members);
            if p != NONE16 {
                prioritized.push(p);
            }
        }
        // 8.8 table 8-14: is the prioritized series a best patient series?
        for &i in &prioritized {
            if is_best(data, &s.runs, &prioritized, i) {
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

fn to_forecast(f: &crate::engine::SeriesForecast) -> Forecast {
    Forecast {
        dose_number: f.dose,
        earliest: out_date(f.earliest),
        recommended: out_date(f.recommended),
        past_due: f.past_due.map(out_date),
        latest: f.latest.map(out_date),
        vaccines: Vec::new(),
    }
}

/// CDSi 7.6: recommended vaccines of the best series' next target dose.
fn recommended_vaccines(data: &SupportingData, ctx: &Ctx<'_>, r: &Run, earliest: Day) -> Vec<Cvx> {
    let s = series_of(data, r);
    let Some(sd) = s.doses.get(r.t) else {
        return Vec::new();
    };
    let antigen = &data.antigens[r.antigen as usize];
    sd.preferable
        .iter()
        .filter(|pv| pv.forecast)
        .filter(|pv| {
            earliest >= ctx.at_age(pv.begin_age).unwrap_or(crate::date::DAY_MIN)
                && earliest < ctx.at_age(pv.end_age).unwrap_or(DAY_MAX)
        })
        .filter(|pv| {
            // CDSi 7.3 vaccine-specific contraindications
            !antigen.vaccine_contraindications.iter().any(|vc| {
                vc.cvx == pv.cvx
                    && ctx.obs.iter().any(|o| o.0 == vc.observation)
                    && ctx.assess >= ctx.at_age(vc.begin_age).unwrap_or(crate::date::DAY_MIN)
                    && ctx.assess < ctx.at_age(vc.end_age).unwrap_or(DAY_MAX)
            })
        })
        .map(|pv| Cvx(pv.cvx))
        .collect()
}

/// CDSi chapter 9: vaccine group results.
pub(crate) fn vaccine_groups(
    data: &SupportingData,
    ctx: &Ctx<'_>,
    s: &Scratch,
    out: &mut Assessment,
) {
    out.vaccine_groups.clear();
    for (gid, g) in data.vaccine_groups.iter().enumerate() {
        let bests: Vec<&Run> = g
            .antigens
            .iter()
            .filter_map(|&a| {
                let b = *s.best.get(a as usize)?;
                (b != NONE16).then(|| &s.runs[b as usize])
            })
            .collect();
        if bests.is_empty() {
            continue;
        }
        let mut evaluations = Vec::new();
        for r in &bests {
            let aid = r.antigen as usize;
            for k in 0..r.evals.len() {
                let Some(e) = merged_eval(s, aid, k) else {
                    continue;
                };
                let di = s.adoses[aid][k] as usize;
                evaluations.push(DoseEvaluation {
                    dose_index: ctx.doses[di].orig as usize,
                    antigen: r.antigen,
                    status: e.status,
                    reason: e.reason,
                    reasons: e.reasons,
                });
            }
        }
        evaluations.sort_by_key(|e| (e.dose_index, e.antigen));
        let (status, forecast) = if bests.len() == 1 && g.antigens.len() == 1 {
            // CDSi 9.2 single antigen vaccine group
            let r = bests[0];
            let f = r.forecast.as_ref().map(|f| {
                let mut fc = to_forecast(f);
                fc.vaccines = recommended_vaccines(data, ctx, r, f.earliest);
                fc
            });
            (r.status, f)
        } else {
            multi_antigen(data, ctx, s, g, &bests)
        };
        out.vaccine_groups.push(VaccineGroupResult {
            group: gid as VaccineGroupId,
            status,
            forecast,
            evaluations,
        });
    }
}

/// CDSi 9.3 multiple antigen vaccine group (table 9-4, MULTIANTVG rules).
fn multi_antigen(
    data: &SupportingData,
    ctx: &Ctx<'_>,
    s: &Scratch,
    g: &VaccineGroup,
    bests: &[&Run],
) -> (SeriesStatus, Option<Forecast>) {
    let any = |st: SeriesStatus| bests.iter().any(|r| r.status == st);
    let all = |f: &dyn Fn(SeriesStatus) -> bool| bests.iter().all(|r| f(r.status));
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
        return (status, None);
    }
    let fs: Vec<(&Run, &crate::engine::SeriesForecast)> = bests
        .iter()
        .filter(|r| r.status == SeriesStatus::NotComplete)
        .filter_map(|r| r.forecast.as_ref().map(|f| (*r, f)))
        .collect();
    let Some(&(first_run, first)) = fs.first() else {
        return (status, None);
    };
    // MULTIANTVG-1: the latest earliest date of the antigens, unless an
    // antigen's next target dose has only "override" priority intervals
    // (CDSi 6.5 interval priority): then the earliest of the earliest dates
    let overrides = fs.iter().any(|(r, _)| {
        series_of(data, r).doses.get(r.t).is_some_and(|sd| {
            !sd.intervals.is_empty() && sd.intervals.iter().all(|iv| iv.priority_override)
        })
    });
    let (mut er, mut ef) = (first_run, first);
    for &(r, f) in &fs[1..] {
        if (f.earliest > ef.earliest) != overrides && f.earliest != ef.earliest {
            er = r;
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
        .iter()
        .map(|(_, f)| f.recommended)
        .min()
        .unwrap_or(earliest)
        .max(earliest);
    let past_due = fs
        .iter()
        .filter_map(|(_, f)| f.past_due)
        .min()
        .map(|p| p.max(earliest));
    // MULTIANTVG-4: earliest latest date
    let latest = fs.iter().filter_map(|(_, f)| f.latest).min();
    let mut vaccines: Vec<Cvx> = Vec::new();
    for (r, _) in &fs {
        for v in recommended_vaccines(data, ctx, r, earliest) {
            if !vaccines.contains(&v) {
                vaccines.push(v);
            }
        }
    }
    let _ = er;
    // FORECASTDN-2: the lowest dose number of the antigens when the full
    // vaccine group is administered, otherwise the highest
    let doses = fs.iter().map(|(_, f)| f.dose);
    let dose_number = if g.administer_full {
        doses.min()
    } else {
        doses.max()
    }
    .unwrap_or(ef.dose);
    (
        status,
        Some(Forecast {
            dose_number,
            earliest: out_date(earliest),
            recommended: out_date(recommended),
            past_due: past_due.map(out_date),
            latest: latest.map(out_date),
            vaccines,
        }),
    )
}
