//! Fellegi–Sunter scoring and the three-way decision.
//!
//! score = Σ log2(m/u) over fields, with term-frequency adjustment of exact
//! name agreement (agreeing on a rare surname is stronger evidence than on a
//! common one). Vetoes (twins, birth-certificate conflicts) always force
//! `NotAMatch`. The outcome then comes from the learned decision
//! [`Policy`] when the matcher has one ([`Matcher::default`] does), or from
//! the two score thresholds with the capping hard rules otherwise. Precision
//! comes first, because a false merge combines two children's vaccination
//! records.

use serde::{Deserialize, Serialize};

use crate::compare::{compare, Comparison, HardRule};
use crate::model::{weight_of, Field, Level, Model, Thresholds, FIELD_COUNT};
use crate::normalize::{normalize, NameFrequencies, NormalizedRecord};
use crate::policy::{Features, Policy};
use crate::record::MatchRecord;

/// The three outcomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Outcome {
    /// Same person: link automatically.
    Match,
    /// Could be the same person: send to human review.
    PossibleMatch,
    /// Different people.
    NotAMatch,
}

impl Outcome {
    /// The AIRA test-file spelling ("Match", "Possible Match", "Not a Match").
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Match => "Match",
            Outcome::PossibleMatch => "Possible Match",
            Outcome::NotAMatch => "Not a Match",
        }
    }
}

/// One line of the explanation shown to a reviewer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldComparison {
    /// The field.
    pub field: Field,
    /// Its agreement level.
    pub level: Level,
    /// Which case applied ("nickname", "day/month swapped", ...).
    pub detail: &'static str,
    /// Contribution to the score (bits; 0 when missing).
    pub weight: f64,
}

/// The result of comparing two records.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MatchResult {
    /// Final decision (after hard rules).
    pub outcome: Outcome,
    /// Total log2 likelihood ratio.
    pub score: f64,
    /// Per-field explanation, in [`Field::ALL`] order; missing fields included.
    pub fields: Vec<FieldComparison>,
    /// Hard rules that fired.
    pub rules: Vec<HardRule>,
}

/// A configured matcher: model, name frequencies, thresholds and optional
/// decision policy. Cheap to share between threads (`&Matcher` is all
/// scoring needs).
#[derive(Clone, Debug)]
pub struct Matcher {
    model: Model,
    frequencies: NameFrequencies,
    policy: Option<Policy>,
}

impl Default for Matcher {
    /// The embedded model, name frequencies and decision policy.
    fn default() -> Self {
        Self::new(Model::embedded(), NameFrequencies::default())
            .with_policy(Some(Policy::embedded()))
    }
}

impl Matcher {
    /// A matcher with an explicit model and name-frequency table, deciding
    /// by the model's thresholds and the hard rules (no learned policy: a
    /// policy is only valid for the model it was fitted with; add one with
    /// [`Matcher::with_policy`]).
    pub fn new(model: Model, frequencies: NameFrequencies) -> Self {
        Self {
            model,
            frequencies,
            policy: None,
        }
    }

    /// Sets (or removes) the learned decision policy.
    pub fn with_policy(mut self, policy: Option<Policy>) -> Self {
        self.policy = policy;
        self
    }

    /// The decision policy in use, if any.
    pub fn policy(&self) -> Option<&Policy> {
        self.policy.as_ref()
    }

    /// The model in use.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Decision thresholds in use.
    pub fn thresholds(&self) -> Thresholds {
        self.model.thresholds
    }

    /// Replaces the thresholds (e.g. a registry that wants more review).
    /// Explicit thresholds mean a pure threshold decision: the learned
    /// policy, if any, is dropped.
    pub fn with_thresholds(mut self, t: Thresholds) -> Self {
        self.model.thresholds = t;
        self.policy = None;
        self
    }

    /// Normalizes and compares two raw records. Prefer [`Matcher::compare`]
    /// with cached [`NormalizedRecord`]s when one record meets many.
    pub fn compare_records(&self, a: &MatchRecord, b: &MatchRecord) -> MatchResult {
        self.compare(&normalize(a), &normalize(b))
    }

    /// Compares two normalized records.
    pub fn compare(&self, a: &NormalizedRecord, b: &NormalizedRecord) -> MatchResult {
        let c = compare(a, b);
        self.decide(&c)
    }

    /// Score only (no explanation allocated): the hot path for bulk dedup.
    pub fn score_only(&self, a: &NormalizedRecord, b: &NormalizedRecord) -> (Outcome, f64) {
        let c = compare(a, b);
        let score = self.score(&c);
        (self.outcome(&c, score), score)
    }

    fn field_weight(&self, c: &Comparison<'_>, f: Field) -> f64 {
        let level = c.level(f);
        let base = self.model.weight(f, level);
        if level != Level::Exact {
            return base;
        }
        let freq = match f {
            Field::FirstName => c.agreed_first.and_then(|n| self.frequencies.first_freq(n)),
            Field::LastName => c.agreed_last.and_then(|n| self.frequencies.last_freq(n)),
            _ => None,
        };
        match freq {
            Some(freq) => {
                let m = self.model.mu[f.index()][level.index()].m;
                let tf = weight_of(m, freq.max(self.model.min_name_frequency));
                tf.min(base + self.model.max_tf_bonus)
            }
            None => base,
        }
    }

    /// Per-field weights after term-frequency adjustment and the household
    /// cap (positive household weights scaled down proportionally).
    pub fn weights(&self, c: &Comparison<'_>) -> [f64; FIELD_COUNT] {
        let mut w = [0.0; FIELD_COUNT];
        let mut household = 0.0;
        for f in Field::ALL {
            let x = self.field_weight(c, f);
            w[f.index()] = x;
            if f.is_household() && x > 0.0 {
                household += x;
            }
        }
        let cap = self.model.household_cap;
        if household > cap {
            let scale = cap / household;
            for f in Field::ALL {
                if f.is_household() && w[f.index()] > 0.0 {
                    w[f.index()] *= scale;
                }
            }
        }
        w
    }

    /// Total score of a comparison vector.
    pub fn score(&self, c: &Comparison<'_>) -> f64 {
        self.weights(c).iter().sum()
    }

    /// Decision for a comparison vector with a given score.
    pub fn outcome(&self, c: &Comparison<'_>, score: f64) -> Outcome {
        if c.rules.iter().any(HardRule::is_veto) {
            return Outcome::NotAMatch;
        }
        if let Some(policy) = &self.policy {
            return policy.decide(&Features::of(c, score));
        }
        let t = self.model.thresholds;
        let mut outcome = if score >= t.matched {
            Outcome::Match
        } else if score >= t.possible {
            Outcome::PossibleMatch
        } else {
            Outcome::NotAMatch
        };
        for rule in c.rules.iter() {
            if rule.is_veto() {
                outcome = Outcome::NotAMatch;
            } else if outcome == Outcome::Match {
                outcome = Outcome::PossibleMatch;
            }
        }
        outcome
    }

    /// Full decision with explanation.
    pub fn decide(&self, c: &Comparison<'_>) -> MatchResult {
        let w = self.weights(c);
        let fields: Vec<FieldComparison> = Field::ALL
            .iter()
            .map(|&f| FieldComparison {
                field: f,
                level: c.level(f),
                detail: c.details[f.index()],
                weight: w[f.index()],
            })
            .collect();
        let score = fields.iter().map(|x| x.weight).sum();
        MatchResult {
            outcome: self.outcome(c, score),
            score,
            fields,
            rules: c.rules.iter().collect(),
        }
    }
}
