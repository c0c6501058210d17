//! The assessment pipeline: CDSi chapter 5 (organize history, relevant
//! patient series), chapter 6 (evaluate doses) and chapter 7 (forecast) for
//! every relevant patient series; chapters 8 and 9 live in [`crate::select`].
//!
//! All work happens on integer day numbers and small integer ids; the
//! per-patient buffers live in a reusable [`Scratch`].

use chrono::NaiveDate;

use crate::api::*;
use crate::date::{add_opt, from_naive, Day, DAY_MAX, DAY_MIN};
use crate::model::*;
use crate::supporting_data::SupportingData;

/// A dose administered, sorted by date, as the engine sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PDose {
    pub day: Day,
    pub cvx: u16,
    /// Packed MVX code, 0 when unknown (an [`Mvx`] is never 0).
    pub mvx: u32,
    /// Volume in millilitres, NaN when unknown (keeps the dose small).
    pub volume: f32,
    pub cond: DoseCondition,
    /// Index in the caller's dose slice.
    pub orig: u16,
}

/// Evaluation of one antigen dose within one patient series.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DEval {
    pub status: DoseStatus,
    pub reason: Option<EvalReason>,
    /// Every failed check.
    pub reasons: EvalReasons,
    /// Target dose satisfied (index), `NONE8` when none.
    pub target: u8,
}

pub(crate) const NONE8: u8 = u8::MAX;
pub(crate) const NONE16: u16 = u16::MAX;

/// Target dose status (CDSi 6.10 / 7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TStat {
    NotSatisfied,
    Satisfied,
    Skipped,
}

/// A patient series forecast (CDSi 7.5).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SeriesForecast {
    pub dose: u16,
    pub earliest: Day,
    pub recommended: Day,
    pub past_due: Option<Day>,
    pub latest: Option<Day>,
    /// Whether any input of the candidate earliest date exists (FORECASTDTCAN-1:
    /// minimum age, an interval from an existing reference, a live virus
    /// conflict, a season start, a dose of the antigen). CDSi table 7-12: an
    /// empty attribute leaves the date empty, so a target dose without any of
    /// them (e.g. a dose with no minimum age after skipped target doses, with
    /// no dose given) has no earliest date: `earliest` then holds the birth
    /// date for output, but chapter 8 treats the series as neither starting
    /// earliest (SELECTB-14) nor completable (SELECTB-3/12).
    pub earliest_known: bool,
}

/// One patient series (an antigen series tracked for this patient).
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub antigen: AntigenId,
    pub series: u8,
    pub evals: Vec<DEval>,
    pub targets: Vec<TStat>,
    /// Per target dose: antigen-dose index which satisfied it.
    pub sat_by: Vec<u16>,
    pub t: usize,
    pub status: SeriesStatus,
    pub forecast: Option<SeriesForecast>,
    pub valid_count: u16,
    pub first_valid: Option<Day>,
    pub score: i32,
}

impl Run {
    fn new() -> Run {
        Run {
            antigen: 0,
            series: 0,
            evals: Vec::new(),
            targets: Vec::new(),
            sat_by: Vec::new(),
            t: 0,
            status: SeriesStatus::NotComplete,
            forecast: None,
            valid_count: 0,
            first_valid: None,
            score: 0,
        }
    }

    pub fn any_satisfied(&self) -> bool {
        self.targets.contains(&TStat::Satisfied)
    }
}

/// Reusable per-assessment buffers. Create one per thread and pass it to
/// [`crate::Engine::assess_with`] to avoid allocation in batch runs.
#[derive(Debug, Default)]
pub struct Scratch {
    pub(crate) doses: Vec<PDose>,
    /// Antigen doses: per antigen, the indices into `doses`.
    pub(crate) adoses: Vec<Vec<u16>>,
    pub(crate) runs: Vec<Run>,
    pub(crate) nruns: usize,
    /// Per antigen: range of runs.
    pub(crate) antigen_runs: Vec<(u16, u16)>,
    /// Per antigen: bitmask of the series groups with a relevant series
    /// which can start at the patient's age.
    pub(crate) age_ok: Vec<u64>,
    pub(crate) obs: Vec<(u16, Option<Day>)>,
    pub(crate) immune: Vec<bool>,
    pub(crate) contraindicated: Vec<bool>,
    /// Per antigen: index of the primary best run (NONE16 when none).
    pub(crate) best: Vec<u16>,
    /// All best runs (one per series group, CDSi 8.8), grouped by antigen.
    pub(crate) best_list: Vec<u16>,
    /// Per antigen: range into `best_list`.
    pub(crate) best_range: Vec<(u16, u16)>,
    /// Indices of live-virus "previous" doses (see `Ctx::live_doses`).
    pub(crate) live_doses: Vec<u16>,
    /// Birth date + N months, memoized per patient (CALCDT for ages).
    pub(crate) months: MonthCache,
}

/// Memo of CALCDT "birth date + N months" for one patient: ages in the
/// supporting data are whole months plus days (CALCDT-1..5: months first,
/// then days), so the month part is computed once per patient and distinct
/// month count. A generation counter invalidates it between patients without
/// clearing.
#[derive(Debug, Default)]
pub(crate) struct MonthCache {
    generation: u32,
    dob: Day,
    dob_ymd: (i32, u32, u32),
    /// Born on 29 February (the only birth date where adding years then
    /// months differs from adding the total months).
    dob_feb29: bool,
    /// (generation << 32) | date as u32.
    slots: Vec<std::cell::Cell<u64>>,
}

/// Months memoized (125 years); larger or negative periods are computed.
const MONTH_SLOTS: usize = 1500;

impl MonthCache {
    /// Starts a new patient.
    pub(crate) fn begin(&mut self, dob: Day) {
        if self.slots.len() < MONTH_SLOTS {
            self.slots.resize_with(MONTH_SLOTS, Default::default);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            for c in &self.slots {
                c.set(0);
            }
            self.generation = 1;
        }
        self.dob = dob;
        self.dob_ymd = crate::date::civil_from_days(dob);
        self.dob_feb29 = self.dob_ymd.1 == 2 && self.dob_ymd.2 == 29;
    }

    /// CALCDT: birth date plus a period.
    #[inline]
    pub(crate) fn age(&self, p: crate::date::Dur) -> Day {
        if p.months == 0 {
            return self.dob + i32::from(p.days);
        }
        let Some(c) = usize::try_from(p.months)
            .ok()
            .and_then(|m| self.slots.get(m))
        else {
            return p.add_to_ymd(self.dob, self.dob_ymd);
        };
        let v = c.get();
        if (v >> 32) as u32 == self.generation {
            return (v as u32) as i32 + i32::from(p.days);
        }
        if self.dob_feb29 {
            // CALCDT adds years then months (see Dur), which from 29 February
            // is not always "birth date + whole months": no memo for this
            // patient (nothing is stored, so every lookup misses)
            return p.add_to_ymd(self.dob, self.dob_ymd);
        }
        let base = crate::date::Dur::new(p.months, 0).add_to_ymd(self.dob, self.dob_ymd);
        c.set((u64::from(self.generation) << 32) | u64::from(base as u32));
        base + i32::from(p.days)
    }
}

impl Scratch {
    /// Fresh buffers.
    pub fn new() -> Scratch {
        Scratch::default()
    }
}

/// Immutable patient context for one assessment.
pub(crate) struct Ctx<'a> {
    pub data: &'a SupportingData,
    pub dob: Day,
    pub assess: Day,
    pub sex: Sex,
    pub doses: &'a [PDose],
    pub obs: &'a [(u16, Option<Day>)],
    /// Memoized birth date + months.
    pub months: &'a MonthCache,
    /// Indices into `doses` of the doses which are the previous vaccine of a
    /// live virus conflict (CDSi 6.7), in date order.
    pub live_doses: &'a [u16],
}

impl Ctx<'_> {
    #[inline]
    pub fn age(&self, d: Option<crate::date::Dur>, default: Day) -> Day {
        self.at_age(d).unwrap_or(default)
    }

    /// CALCDT from the birth date.
    #[inline]
    pub fn at_age(&self, d: Option<crate::date::Dur>) -> Option<Day> {
        d.map(|p| self.months.age(p))
    }

    #[inline]
    fn has_obs(&self, code: u16) -> bool {
        self.obs.iter().any(|o| o.0 == code)
    }
}

#[inline]
fn in_window(day: Day, eff: Option<Day>, cess: Option<Day>) -> bool {
    eff.is_none_or(|e| day >= e) && cess.is_none_or(|c| day <= c)
}

/// CDSi 5.1: prepares sorted doses and antigen dose lists; 4.1 observations.
pub(crate) fn organize(data: &SupportingData, p: &PatientHistory<'_>, s: &mut Scratch) -> Day {
    let dob = from_naive(p.birth_date);
    s.months.begin(dob);
    s.doses.clear();
    for (i, d) in p.doses.iter().enumerate().take(u16::MAX as usize - 1) {
        s.doses.push(PDose {
            day: from_naive(d.date),
            cvx: d.cvx.0,
            mvx: d.mvx.map_or(0, |m| m.0),
            volume: d.volume_ml.unwrap_or(f32::NAN),
            cond: d.condition,
            orig: i as u16,
        });
    }
    s.doses.sort_by_key(|d| (d.day, d.orig));
    let na = data.antigens.len();
    if s.adoses.len() < na {
        s.adoses.resize_with(na, Vec::new);
    }
    for v in s.adoses.iter_mut() {
        v.clear();
    }
    for (i, d) in s.doses.iter().enumerate() {
        let Some(assocs) = data.cvx_antigens.get(d.cvx as usize) else {
            continue;
        };
        for a in assocs {
            // CDSi 5.1: association begin/end age
            let b = a.begin_age.map_or(DAY_MIN, |p| s.months.age(p));
            let e = a.end_age.map_or(DAY_MAX, |p| s.months.age(p));
            if d.day >= b && d.day < e {
                let v = &mut s.adoses[a.antigen as usize];
                if v.last() != Some(&(i as u16)) {
                    v.push(i as u16);
                }
            }
        }
    }
    s.live_doses.clear();
    for (i, d) in s.doses.iter().enumerate() {
        if data
            .live_previous
            .get(d.cvx as usize)
            .copied()
            .unwrap_or(false)
        {
            s.live_doses.push(i as u16);
        }
    }
    s.obs.clear();
    for o in p.observations {
        s.obs.push((o.code, o.date.map(from_naive)));
    }
    dob
}

/// CDSi 5.3: is this antigen series relevant for the patient?
pub(crate) fn is_relevant(ctx: &Ctx<'_>, series: &Series) -> bool {
    if series.genders != 0 && series.genders & ctx.sex.bit() == 0 {
        return false;
    }
    match series.series_type {
        SeriesType::Standard | SeriesType::EvaluationOnly => true,
        SeriesType::Risk => {
            !ctx.obs.is_empty()
                && series.indications.iter().any(|ind| {
                    ctx.has_obs(ind.observation) && {
                        let b = ctx.age(ind.begin_age, DAY_MIN);
                        let e = ctx.age(ind.end_age, DAY_MAX);
                        ctx.assess >= b && ctx.assess < e
                    }
                })
        }
    }
}

/// Which context a conditional skip is evaluated in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cx {
    Eval,
    Forecast,
}

/// Outcome of CDSi 6.8 / 6.9 for one dose and target dose.
#[derive(Clone, Copy, PartialEq, Eq)]
enum VaccineFit {
    /// A preferable vaccine.
    Preferable,
    /// A preferable vaccine given with less than the recommended volume
    /// (CDSi 6.8: still preferable, reason "Less than recommended volume").
    PreferableLowVolume,
    /// An allowable vaccine.
    Allowable,
    /// Neither.
    None,
}

/// CDSi 6.8: is the administered volume below the preferable vaccine's
/// volume? Unknown on either side is not (the dose is taken as given with the
/// recommended volume); a tolerance absorbs decimal representation.
#[inline]
fn volume_short(recommended: Option<f32>, given: f32) -> bool {
    // an unknown (NaN) given volume compares false
    recommended.is_some_and(|r| given + 1e-6 < r)
}

/// Evaluates (CDSi 6) and forecasts (CDSi 7) one patient series.
pub(crate) struct SeriesRunner<'a, 'b> {
    pub ctx: &'b Ctx<'a>,
    pub series: &'a Series,
    pub adoses: &'b [u16],
    /// Bitmask of complete series groups of this antigen (for "Completed Series").
    pub groups_complete: u64,
}

impl SeriesRunner<'_, '_> {
    #[inline]
    fn dose(&self, k: usize) -> &PDose {
        &self.ctx.doses[self.adoses[k] as usize]
    }

    /// CALCDTINT-1: reference dose for "from previous": the closest earlier
    /// antigen dose evaluated Valid or Not Valid (not inadvertent).
    fn previous_ref(&self, run: &Run, before: usize) -> Option<Day> {
        (0..before).rev().find_map(|j| {
            let e = &run.evals[j];
            let counts = matches!(e.status, DoseStatus::Valid | DoseStatus::NotValid)
                && e.reason != Some(EvalReason::InadvertentVaccine);
            counts.then(|| self.dose(j).day)
        })
    }

    /// CALCDTINT-1..4: reference date of an interval.
    fn interval_ref(&self, run: &Run, iv: &IntervalDef, before: usize) -> Option<Day> {
        match &iv.from {
            IntervalFrom::Previous => self.previous_ref(run, before),
            IntervalFrom::TargetDose(n) => {
                let k = *run.sat_by.get(*n as usize)?;
                (k != NONE16 && (k as usize) < before).then(|| self.dose(k as usize).day)
            }
            // CALCDTINT-3: the most recent dose of one of the listed vaccine
            // types, whatever antigens it carries (e.g. a Td dose for the
            // Pertussis adolescent dose), before the dose being evaluated
            IntervalFrom::MostRecent(list) => {
                let limit = if before < self.adoses.len() {
                    self.dose(before).day
                } else {
                    crate::date::DAY_MAX
                };
                self.ctx
                    .doses
                    .iter()
                    .rev()
                    .find(|d| {
                        d.day < limit && d.cond == DoseCondition::Normal && list.contains(&d.cvx)
                    })
                    .map(|d| d.day)
            }
            IntervalFrom::Observation(code) => {
                self.ctx.obs.iter().find(|o| o.0 == *code).and_then(|o| o.1)
            }
        }
    }

    /// CDSi 6.2 / 7.1: can the target dose be skipped?
    fn skip(&self, run: &Run, sd: &SeriesDose, cx: Cx, refd: Day, before: usize) -> bool {
        sd.skips.iter().any(|sk| {
            let applies = match sk.context {
                SkipContext::Both => true,
                SkipContext::Evaluation => cx == Cx::Eval,
                SkipContext::Forecast => cx == Cx::Forecast,
            };
            if !applies {
                return false;
            }
            let mut res = |set: &ConditionSet| {
                if !in_window(refd, set.effective, set.cessation) {
                    return false;
                }
                if set.all {
                    set.conditions
                        .iter()
                        .all(|c| self.condition(run, c, refd, before))
                } else {
                    set.conditions
                        .iter()
                        .any(|c| self.condition(run, c, refd, before))
                }
            };
            if sk.all {
                sk.sets.iter().all(&mut res)
            } else {
                sk.sets.iter().any(&mut res)
            }
        })
    }

    /// CDSi 6.2 tables 6-6 … 6-10: one conditional-skip condition.
    fn condition(&self, run: &Run, c: &Condition, refd: Day, before: usize) -> bool {
        let ctx = self.ctx;
        match c.kind {
            ConditionKind::Age => {
                let b = ctx.age(c.begin_age, DAY_MIN);
                let e = ctx.age(c.end_age, DAY_MAX);
                refd >= b && refd < e
            }
            ConditionKind::Interval => match (self.previous_ref(run, before), c.interval) {
                (Some(p), Some(iv)) => refd >= iv.add_to(p),
                _ => false,
            },
            ConditionKind::CompletedSeries => c
                .series_groups
                .iter()
                .any(|g| *g < 64 && self.groups_complete & (1u64 << g) != 0),
            ConditionKind::CountByAge
            | ConditionKind::CountByDate
            | ConditionKind::CountByDateAndAge => {
                let (mut lo, mut hi) = (DAY_MIN, DAY_MAX);
                if matches!(
                    c.kind,
                    ConditionKind::CountByAge | ConditionKind::CountByDateAndAge
                ) {
                    lo = lo.max(ctx.age(c.begin_age, DAY_MIN));
                    hi = hi.min(ctx.age(c.end_age, DAY_MAX));
                }
                if matches!(
                    c.kind,
                    ConditionKind::CountByDate | ConditionKind::CountByDateAndAge
                ) {
                    lo = lo.max(c.start_date.unwrap_or(DAY_MIN));
                    hi = hi.min(c.end_date.unwrap_or(DAY_MAX));
                }
                let mut n = 0u16;
                for j in 0..before {
                    let d = self.dose(j);
                    if d.day < lo || d.day >= hi {
                        continue;
                    }
                    if !c.vaccine_types.is_empty() && !c.vaccine_types.contains(&d.cvx) {
                        continue;
                    }
                    if c.valid_only && run.evals[j].status != DoseStatus::Valid {
                        continue;
                    }
                    if !c.valid_only && run.evals[j].status == DoseStatus::SubStandard {
                        continue;
                    }
                    n += 1;
                }
                match c.logic {
                    CountLogic::Greater => n > c.dose_count,
                    CountLogic::Equal => n == c.dose_count,
                    CountLogic::Less => n < c.dose_count,
                }
            }
            ConditionKind::Unknown => false,
        }
    }

    fn select_age<'s>(&self, sd: &'s SeriesDose, day: Day) -> Option<&'s AgeDef> {
        if sd.ages.len() <= 1 {
            return sd.ages.first();
        }
        sd.ages
            .iter()
            .find(|a| in_window(day, a.effective, a.cessation))
            .or_else(|| sd.ages.first())
    }

    /// CDSi 6.7: live virus conflict of antigen dose `k`.
    fn live_conflict(&self, run: &Run, k: usize) -> bool {
        let data = self.ctx.data;
        let d = self.dose(k);
        let Some(&(lo, hi)) = data.live_by_current.get(d.cvx as usize) else {
            return false;
        };
        if lo == hi {
            return false;
        }
        let confl = &data.live_virus[lo as usize..hi as usize];
        for &pi in self.ctx.live_doses {
            let pi = pi as usize;
            let p = &self.ctx.doses[pi];
            if p.day >= d.day {
                break;
            }
            for lv in confl.iter().filter(|lv| lv.previous == p.cvx) {
                // CALCDTCONFLICT: a previous dose not valid in this series
                // uses the full conflict end interval, otherwise the minimum.
                let not_valid = self
                    .adoses
                    .iter()
                    .position(|&x| x as usize == pi)
                    .is_some_and(|j| j < k && run.evals[j].status == DoseStatus::NotValid);
                let begin = lv.begin.add_to(p.day);
                let end = if not_valid { lv.end } else { lv.min_end }.add_to(p.day);
                if d.day >= begin && d.day < end {
                    return true;
                }
            }
        }
        false
    }

    /// CDSi 6.8 / 6.9: preferable vaccine (type, age, trade name, volume) or
    /// allowable vaccine (type, age).
    fn vaccine_fit(&self, sd: &SeriesDose, d: &PDose) -> VaccineFit {
        let ctx = self.ctx;
        let mut fit = VaccineFit::None;
        for pv in &sd.preferable {
            if pv.cvx == d.cvx
                && d.day >= ctx.age(pv.begin_age, DAY_MIN)
                && d.day < ctx.age(pv.end_age, DAY_MAX)
                && match pv.mvx {
                    Some(a) => d.mvx == 0 || a.0 == d.mvx,
                    None => true,
                }
            {
                // 6.8: volume at least the preferable volume (an unknown
                // volume on either side is taken as the recommended one);
                // less volume still makes the dose a preferable vaccine
                if volume_short(pv.volume, d.volume) {
                    fit = VaccineFit::PreferableLowVolume;
                } else {
                    return VaccineFit::Preferable;
                }
            }
        }
        if fit != VaccineFit::None {
            return fit;
        }
        let allowable = sd.allowable.iter().any(|av| {
            av.cvx == d.cvx
                && d.day >= ctx.age(av.begin_age, DAY_MIN)
                && d.day < ctx.age(av.end_age, DAY_MAX)
        });
        if allowable {
            VaccineFit::Allowable
        } else {
            VaccineFit::None
        }
    }

    /// CDSi 6.5 / 6.6: all applicable intervals satisfied (absolute minimum).
    fn intervals_ok(&self, run: &Run, ivs: &[IntervalDef], k: usize, day: Day) -> bool {
        ivs.iter().all(|iv| {
            if !in_window(day, iv.effective, iv.cessation) {
                return true;
            }
            match self.interval_ref(run, iv, k) {
                None => true,
                Some(r) => day >= add_opt(r, iv.abs_min).unwrap_or(r),
            }
        })
    }

    /// CDSi chapter 6: evaluate every antigen dose against the target doses.
    pub fn evaluate(&self, run: &mut Run) {
        let n = self.series.doses.len();
        run.evals.clear();
        run.targets.clear();
        run.targets.resize(n, TStat::NotSatisfied);
        run.sat_by.clear();
        run.sat_by.resize(n, NONE16);
        run.t = 0;
        run.valid_count = 0;
        run.first_valid = None;
        run.forecast = None;
        run.score = 0;
        run.status = SeriesStatus::NotComplete;
        for k in 0..self.adoses.len() {
            let d = *self.dose(k);
            // CDSi 6.1: dose administered condition
            match d.cond {
                DoseCondition::Expired => {
                    run.evals.push(DEval {
                        status: DoseStatus::SubStandard,
                        reason: Some(EvalReason::Expired),
                        reasons: EvalReasons::of(EvalReason::Expired),
                        target: NONE8,
                    });
                    continue;
                }
                DoseCondition::SubPotent => {
                    run.evals.push(DEval {
                        status: DoseStatus::SubStandard,
                        reason: Some(EvalReason::SubPotent),
                        reasons: EvalReasons::of(EvalReason::SubPotent),
                        target: NONE8,
                    });
                    continue;
                }
                DoseCondition::Normal => {}
            }
            // placeholder while evaluating (not counted by references)
            run.evals.push(DEval {
                status: DoseStatus::Extraneous,
                reason: None,
                reasons: EvalReasons::EMPTY,
                target: NONE8,
            });
            // CDSi 6.2: conditional skip, evaluation context
            while run.t < n {
                let sd = &self.series.doses[run.t];
                if !sd.skips.is_empty() && self.skip(run, sd, Cx::Eval, d.day, k) {
                    run.targets[run.t] = TStat::Skipped;
                    run.t += 1;
                } else {
                    break;
                }
            }
            if run.t >= n {
                run.evals[k] = DEval {
                    status: DoseStatus::Extraneous,
                    reason: Some(EvalReason::SeriesAlreadyComplete),
                    reasons: EvalReasons::of(EvalReason::SeriesAlreadyComplete),
                    target: NONE8,
                };
                continue;
            }
            let sd = &self.series.doses[run.t];
            // CDSi 6.3: inadvertent vaccine
            if sd.inadvertent.contains(&d.cvx) {
                run.evals[k] = DEval {
                    status: DoseStatus::NotValid,
                    reason: Some(EvalReason::InadvertentVaccine),
                    reasons: EvalReasons::of(EvalReason::InadvertentVaccine),
                    target: NONE8,
                };
                continue;
            }
            // CDSi 6.4 – 6.9: every check runs; a dose failing several
            // carries every reason (CDC cases name the one under test)
            let mut why = EvalReasons::EMPTY;
            let mut too_old = false;
            // CDSi 6.4: age
            if let Some(age) = self.select_age(sd, d.day) {
                let abs_min = self.ctx.at_age(age.abs_min.or(age.min)).unwrap_or(DAY_MIN);
                if d.day < abs_min {
                    why.insert(EvalReason::AgeTooYoung);
                }
                let max = self.ctx.at_age(age.max).unwrap_or(DAY_MAX);
                if d.day >= max {
                    why.insert(EvalReason::AgeTooOld);
                    too_old = true;
                }
            }
            // CDSi 6.5 preferable interval, 6.6 allowable interval
            let iv_ok = self.intervals_ok(run, &sd.intervals, k, d.day)
                || (!sd.allowable_intervals.is_empty()
                    && self.intervals_ok(run, &sd.allowable_intervals, k, d.day));
            if !iv_ok {
                why.insert(EvalReason::IntervalTooSoon);
            }
            // CDSi 6.7: live virus conflict
            if self.live_conflict(run, k) {
                why.insert(EvalReason::LiveVirusConflict);
            }
            // CDSi 6.8 preferable vaccine, 6.9 allowable vaccine
            let fit = self.vaccine_fit(sd, &d);
            if fit == VaccineFit::None {
                why.insert(EvalReason::NotPreferableOrAllowable);
            }
            let failed = !why.is_empty();
            if fit == VaccineFit::PreferableLowVolume {
                why.insert(EvalReason::LessThanRecommendedVolume);
            }
            if failed {
                // a dose past the maximum age is extraneous (CDSi 6.4)
                run.evals[k] = DEval {
                    status: if too_old {
                        DoseStatus::Extraneous
                    } else {
                        DoseStatus::NotValid
                    },
                    reason: why.first(),
                    reasons: why,
                    target: NONE8,
                };
                continue;
            }
            // CDSi 6.10: satisfy target dose (a preferable vaccine with less
            // than the recommended volume keeps its 6.8 reason)
            run.evals[k] = DEval {
                status: DoseStatus::Valid,
                reason: None,
                reasons: why,
                target: run.t as u8,
            };
            run.targets[run.t] = TStat::Satisfied;
            run.sat_by[run.t] = k as u16;
            run.valid_count += 1;
            if run.first_valid.is_none() {
                run.first_valid = Some(d.day);
            }
            if !sd.recurring {
                run.t += 1;
            }
        }
    }

    /// CDSi chapter 7: forecast for this patient series.
    pub fn forecast(&self, run: &mut Run, immune: bool, contraindicated: bool) {
        self.forecast_next(run, immune, contraindicated);
        // CDSi 7.6 validate recommendation: a target dose which would be
        // skipped on its own earliest date (e.g. a child's DTaP dose whose
        // earliest date falls after the 7th birthday) is skipped, and the
        // next target dose is forecast instead
        let n = self.series.doses.len();
        let all = self.adoses.len();
        while let Some(f) = run.forecast {
            let sd = &self.series.doses[run.t];
            if sd.skips.is_empty() || !self.skip(run, sd, Cx::Forecast, f.earliest, all) {
                break;
            }
            run.targets[run.t] = TStat::Skipped;
            run.t += 1;
            if run.t >= n {
                run.forecast = None;
                run.status = if run.any_satisfied() {
                    SeriesStatus::Complete
                } else {
                    SeriesStatus::NotRecommended
                };
                break;
            }
            self.forecast_next(run, immune, contraindicated);
        }
    }

    /// CDSi 7.1 – 7.5 for the next target dose.
    fn forecast_next(&self, run: &mut Run, immune: bool, contraindicated: bool) {
        let ctx = self.ctx;
        let n = self.series.doses.len();
        let all = self.adoses.len();
        // CDSi 7.1: conditional skip, forecast context (assessment date)
        while run.t < n {
            let sd = &self.series.doses[run.t];
            if !sd.skips.is_empty() && self.skip(run, sd, Cx::Forecast, ctx.assess, all) {
                if run.targets[run.t] != TStat::Satisfied {
                    run.targets[run.t] = TStat::Skipped;
                }
                run.t += 1;
            } else {
                break;
            }
        }
        // CDSi 7.2 / 7.3 / 7.4: forecast need
        run.forecast = None;
        if immune {
            run.status = SeriesStatus::Immune;
            return;
        }
        if contraindicated {
            run.status = SeriesStatus::Contraindicated;
            return;
        }
        if run.t >= n {
            run.status = if run.any_satisfied() {
                SeriesStatus::Complete
            } else {
                SeriesStatus::NotRecommended
            };
            return;
        }
        let sd = &self.series.doses[run.t];
        if let Some(end) = sd.season_end {
            if ctx.assess > end {
                run.status = SeriesStatus::NotRecommended;
                return;
            }
        }
        let age = self.select_age(sd, ctx.assess);
        let max_date = age.and_then(|a| ctx.at_age(a.max));
        if let Some(m) = max_date {
            if ctx.assess >= m {
                run.status = SeriesStatus::AgedOut;
                return;
            }
        }
        // CDSi 7.5: forecast dates
        let min_age = age.and_then(|a| ctx.at_age(a.min.or(a.abs_min)));
        let mut earliest_known = min_age.is_some();
        let mut earliest = min_age.unwrap_or(ctx.dob);
        let mut rec_int: Option<Day> = None;
        let mut pd_int: Option<Day> = None;
        for iv in &sd.intervals {
            if !in_window(ctx.assess, iv.effective, iv.cessation) {
                continue;
            }
            let Some(r) = self.interval_ref(run, iv, all) else {
                continue;
            };
            if let Some(m) = add_opt(r, iv.min) {
                earliest = earliest.max(m);
                earliest_known = true;
            }
            if let Some(e) = add_opt(r, iv.earliest_rec) {
                rec_int = Some(rec_int.map_or(e, |x| x.max(e)));
            }
            if let Some(l) = add_opt(r, iv.latest_rec) {
                pd_int = Some(pd_int.map_or(l, |x| x.max(l)));
            }
        }
        // live virus conflicts with the recommended vaccines
        let live_prev = &ctx.data.live_previous;
        for p in ctx
            .doses
            .iter()
            .filter(|p| sd.live && live_prev.get(p.cvx as usize).copied().unwrap_or(false))
        {
            for pv in sd.preferable.iter() {
                let Some(&(lo, hi)) = ctx.data.live_by_current.get(pv.cvx as usize) else {
                    continue;
                };
                for lv in &ctx.data.live_virus[lo as usize..hi as usize] {
                    if lv.previous == p.cvx {
                        earliest = earliest.max(lv.end.add_to(p.day));
                        earliest_known = true;
                    }
                }
            }
        }
        if let Some(s) = sd.season_start {
            earliest = earliest.max(s);
            earliest_known = true;
        }
        // CDSi 7.5 earliest date: never before the patient's last dose of
        // the antigen (matters when that dose did not count, e.g. an
        // inadvertent vaccine given before the target dose's minimum age)
        if let Some(k) = self.adoses.len().checked_sub(1) {
            earliest = earliest.max(self.dose(k).day);
            earliest_known = true;
        }
        let rec_age = age.and_then(|a| ctx.at_age(a.earliest_rec));
        let unadj_rec = match (rec_age, rec_int) {
            (Some(a), _) => a,
            (None, Some(i)) => i,
            (None, None) => earliest,
        };
        let pd_age = age.and_then(|a| ctx.at_age(a.latest_rec));
        let unadj_pd = match (pd_age, pd_int) {
            (Some(a), _) => Some(a - 1),
            (None, Some(i)) => Some(i - 1),
            (None, None) => None,
        };
        let latest = max_date.map(|m| m - 1);
        if let Some(m) = max_date {
            if earliest >= m {
                run.status = SeriesStatus::AgedOut;
                return;
            }
        }
        run.status = SeriesStatus::NotComplete;
        run.forecast = Some(SeriesForecast {
            // dose number counts the target doses not skipped
            dose: (run.targets[..run.t]
                .iter()
                .filter(|t| **t != TStat::Skipped)
                .count()
                + 1) as u16,
            earliest,
            recommended: unadj_rec.max(earliest),
            past_due: unadj_pd.map(|p| p.max(earliest)),
            latest,
            earliest_known,
        });
    }
}

/// CDSi 7.2: evidence of immunity for an antigen.
pub(crate) fn immune(ctx: &Ctx<'_>, a: &Antigen) -> bool {
    if !ctx.obs.is_empty() && a.immunity_observations.iter().any(|&c| ctx.has_obs(c)) {
        return true;
    }
    if let Some(b) = a.immunity_birth_date {
        if ctx.dob < b && !a.immunity_exclusions.iter().any(|&c| ctx.has_obs(c)) {
            return true;
        }
    }
    false
}

/// CDSi 7.3: antigen contraindication at the assessment date.
pub(crate) fn contraindicated(ctx: &Ctx<'_>, a: &Antigen) -> bool {
    !ctx.obs.is_empty()
        && a.contraindications.iter().any(|c| {
            ctx.has_obs(c.observation)
                && ctx.assess >= ctx.age(c.begin_age, DAY_MIN)
                && ctx.assess < ctx.age(c.end_age, DAY_MAX)
        })
}

/// Runs chapters 5–7 for all antigens into `s.runs`.
pub(crate) fn run_all(data: &SupportingData, ctx: &Ctx<'_>, s: &mut Scratch) {
    let na = data.antigens.len();
    s.antigen_runs.clear();
    s.age_ok.clear();
    s.immune.clear();
    s.contraindicated.clear();
    s.nruns = 0;
    for (aid, antigen) in data.antigens.iter().enumerate() {
        let start = s.nruns;
        let imm = immune(ctx, antigen);
        let ci = contraindicated(ctx, antigen);
        s.immune.push(imm);
        s.contraindicated.push(ci);
        let adoses = std::mem::take(&mut s.adoses[aid]);
        let mut groups_complete = 0u64;
        // series groups which chapter 8 will ignore (no series can start at
        // the patient's age, see select::select_best) and in which no dose
        // can be valid (the last dose precedes every minimum age) are not
        // evaluated at all
        let last_dose = adoses.last().map(|&i| ctx.doses[i as usize].day);
        let mut needed = 0u64;
        // series groups with a relevant series which can start at the
        // patient's age (chapter 8 applicability, see select::select_best)
        let mut age_ok = 0u64;
        // With no dose of the antigen, a series group made only of standard
        // series with a default series always yields that default series in
        // chapter 8 (no series has a valid dose, so 8.1 scores none and 8.2
        // takes the default): only it is run. Per group: the default series
        // index, NONE8 when every relevant series must run.
        let no_doses = adoses.is_empty();
        let mut only = [NONE8; 64];
        let mut mixed = 0u64;
        // relevant series (CDSi 5.3), as a bitmask (at most 60 series)
        let mut relevant = 0u64;
        for (si, series) in antigen.series.iter().enumerate() {
            let gi = (series.series_group & 63) as usize;
            let g = 1u64 << gi;
            if !is_relevant(ctx, series) {
                continue;
            }
            relevant |= 1u64 << (si & 63);
            if no_doses {
                if series.series_type != SeriesType::Standard {
                    mixed |= g;
                } else if series.default_series && only[gi] == NONE8 {
                    only[gi] = si as u8;
                }
            }
            let can_start = ctx.assess >= ctx.age(series.min_age_to_start, DAY_MIN)
                && ctx.assess < ctx.age(series.max_age_to_start, DAY_MAX);
            if can_start {
                age_ok |= g;
            }
            let can_be_valid = match (last_dose, series.min_valid_days) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(l), Some(m)) => l >= ctx.dob + m,
            };
            if can_start || can_be_valid {
                needed |= g;
            }
        }
        // series without "Completed Series" conditions first
        for pass in 0..2 {
            for (si, series) in antigen.series.iter().enumerate() {
                let gi = (series.series_group & 63) as usize;
                if series.depends_on_groups != (pass == 1)
                    || needed & (1u64 << gi) == 0
                    || (no_doses
                        && mixed & (1u64 << gi) == 0
                        && only[gi] != NONE8
                        && only[gi] as usize != si)
                    || relevant & (1u64 << (si & 63)) == 0
                {
                    continue;
                }
                if s.runs.len() <= s.nruns {
                    s.runs.push(Run::new());
                }
                let run = &mut s.runs[s.nruns];
                run.antigen = aid as AntigenId;
                run.series = si as u8;
                let runner = SeriesRunner {
                    ctx,
                    series,
                    adoses: &adoses,
                    groups_complete,
                };
                runner.evaluate(run);
                runner.forecast(run, imm, ci);
                if run.status == SeriesStatus::Complete && series.series_group < 64 {
                    groups_complete |= 1u64 << series.series_group;
                }
                s.nruns += 1;
            }
        }
        s.adoses[aid] = adoses;
        s.antigen_runs.push((start as u16, s.nruns as u16));
        s.age_ok.push(age_ok);
    }
    debug_assert_eq!(s.antigen_runs.len(), na);
}

/// Converts a day number to a date for output (saturating to the epoch on
/// impossible values, which cannot arise from valid input).
pub(crate) fn out_date(d: Day) -> NaiveDate {
    crate::date::to_naive(d).unwrap_or_default()
}
