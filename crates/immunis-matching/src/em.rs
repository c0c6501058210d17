//! Expectation–maximization fitting of m/u probabilities from unlabelled
//! comparison vectors (Fellegi–Sunter under conditional independence).
//!
//! The registry has no labels for its own population, but it has millions
//! of candidate pairs from blocking. EM recovers P(level | match) and
//! P(level | non-match) from them; the fitted model is written out with
//! [`Model::to_tsv`] and reviewed like any other data change. Missing levels
//! are treated as ignorable (they carry weight 0 and are excluded from both
//! numerator and denominator).

use std::collections::HashMap;

use crate::model::{Level, Model, FIELD_COUNT, LEVEL_COUNT, MU};

/// A comparison vector without the explanation.
pub type Pattern = [Level; FIELD_COUNT];

/// Options for [`fit`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmOptions {
    /// Iteration cap.
    pub max_iterations: usize,
    /// Stop when no probability moves more than this.
    pub tolerance: f64,
    /// Keep the starting u probabilities (e.g. measured on random pairs,
    /// which estimates u far better than EM does) and fit only m and the
    /// match proportion.
    pub fix_u: bool,
    /// Starting guess of the share of candidate pairs that are matches.
    pub initial_proportion: f64,
}

impl Default for EmOptions {
    fn default() -> Self {
        Self {
            max_iterations: 200,
            tolerance: 1e-6,
            fix_u: false,
            initial_proportion: 0.1,
        }
    }
}

/// What [`fit`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct EmFit {
    /// The fitted model (thresholds copied from the starting model).
    pub model: Model,
    /// Estimated share of matches among the input pairs.
    pub proportion: f64,
    /// Iterations run.
    pub iterations: usize,
}

/// Fits m (and optionally u) from unlabelled comparison vectors, starting
/// from `init`.
pub fn fit(patterns: &[Pattern], init: &Model, opts: EmOptions) -> EmFit {
    // Identical vectors are common: iterate over distinct ones with counts.
    let mut grouped: HashMap<Pattern, f64> = HashMap::new();
    for p in patterns {
        *grouped.entry(*p).or_default() += 1.0;
    }
    let distinct: Vec<(Pattern, f64)> = grouped.into_iter().collect();

    let mut model = init.clone();
    let mut p = opts.initial_proportion.clamp(1e-6, 1.0 - 1e-6);
    let mut iterations = 0;
    const FLOOR: f64 = 1e-6;
    for _ in 0..opts.max_iterations {
        iterations += 1;
        let mut m_acc = [[0.0f64; LEVEL_COUNT]; FIELD_COUNT];
        let mut u_acc = [[0.0f64; LEVEL_COUNT]; FIELD_COUNT];
        let (mut g_total, mut n_total) = (0.0, 0.0);
        for (pat, count) in &distinct {
            // Log domain to avoid underflow with 17 fields.
            let (mut lm, mut lu) = (p.ln(), (1.0 - p).ln());
            for (f, level) in pat.iter().enumerate() {
                if *level == Level::Missing {
                    continue;
                }
                let c = model.mu[f][level.index()];
                lm += c.m.max(FLOOR).ln();
                lu += c.u.max(FLOOR).ln();
            }
            let g = 1.0 / (1.0 + (lu - lm).exp());
            g_total += g * count;
            n_total += count;
            for (f, level) in pat.iter().enumerate() {
                if *level == Level::Missing {
                    continue;
                }
                m_acc[f][level.index()] += g * count;
                u_acc[f][level.index()] += (1.0 - g) * count;
            }
        }
        let mut delta: f64 = 0.0;
        for f in 0..FIELD_COUNT {
            let m_sum: f64 = m_acc[f].iter().sum();
            let u_sum: f64 = u_acc[f].iter().sum();
            for l in 0..LEVEL_COUNT {
                if l == Level::Missing.index() {
                    continue;
                }
                let old = model.mu[f][l];
                let m = if m_sum > 0.0 {
                    (m_acc[f][l] / m_sum).max(FLOOR)
                } else {
                    old.m
                };
                let u = if opts.fix_u || u_sum <= 0.0 {
                    old.u
                } else {
                    (u_acc[f][l] / u_sum).max(FLOOR)
                };
                delta = delta.max((m - old.m).abs()).max((u - old.u).abs());
                model.mu[f][l] = MU { m, u };
            }
        }
        let new_p = (g_total / n_total.max(1.0)).clamp(1e-6, 1.0 - 1e-6);
        delta = delta.max((new_p - p).abs());
        p = new_p;
        if delta < opts.tolerance {
            break;
        }
    }
    model.provenance = format!(
        "EM on {} comparison vectors ({} iterations) from: {}",
        patterns.len(),
        iterations,
        init.provenance
    );
    EmFit {
        model,
        proportion: p,
        iterations,
    }
}

/// Sets u probabilities from comparison vectors of random (overwhelmingly
/// non-matching) record pairs, smoothed toward `init` with `pseudo_count`
/// pseudo-pairs per field. This is the usual companion of [`fit`] with
/// `fix_u`: blocked candidate pairs are mostly matches, so they say little
/// about chance agreement.
pub fn estimate_u(random: &[Pattern], init: &Model, pseudo_count: f64) -> Model {
    let mut model = init.clone();
    for f in 0..FIELD_COUNT {
        let mut counts = [0.0f64; LEVEL_COUNT];
        for p in random {
            counts[p[f].index()] += 1.0;
        }
        let present: f64 = counts
            .iter()
            .enumerate()
            .filter(|(l, _)| *l != Level::Missing.index())
            .map(|(_, c)| c)
            .sum();
        if present <= 0.0 {
            continue;
        }
        for (l, count) in counts.iter().enumerate() {
            if l == Level::Missing.index() {
                continue;
            }
            let prior = init.mu[f][l].u;
            model.mu[f][l].u = (count + pseudo_count * prior) / (present + pseudo_count);
        }
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;

    #[test]
    fn recovers_separated_populations() {
        // 100 matches agreeing on everything, 900 non-matches disagreeing on
        // names and dates: EM must find ~10% matches and positive weights.
        let mut agree = [Level::Missing; FIELD_COUNT];
        let mut disagree = [Level::Missing; FIELD_COUNT];
        for f in [
            Field::FirstName,
            Field::LastName,
            Field::BirthDate,
            Field::Sex,
        ] {
            agree[f.index()] = Level::Exact;
            disagree[f.index()] = Level::Disagree;
        }
        disagree[Field::Sex.index()] = Level::Exact;
        let mut pats = vec![agree; 100];
        pats.extend(vec![disagree; 900]);
        let fit = fit(&pats, &Model::embedded(), EmOptions::default());
        assert!((fit.proportion - 0.1).abs() < 0.02, "{}", fit.proportion);
        assert!(fit.model.weight(Field::LastName, Level::Exact) > 3.0);
        assert!(fit.model.weight(Field::LastName, Level::Disagree) < -3.0);
    }
}
