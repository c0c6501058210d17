//! The scoring model: fields, agreement levels, Fellegi–Sunter m/u
//! probabilities and decision thresholds.
//!
//! The model is data (`data/model.tsv`, embedded), produced by
//! `examples/fit_model.rs` from labelled training pairs (m) and random
//! record pairs (u), or by [`crate::em`] from unlabelled candidate pairs.
//! Keeping it as data lets the registry re-fit it on its own population
//! without a code change, and lets reviewers see where the weights came from.

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// The compared fields. The discriminant is the index into weight tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Field {
    /// Given name (with nicknames, aliases, phonetic and typo tolerance).
    FirstName,
    /// Middle name or initial.
    MiddleName,
    /// Surname (with compound / hyphenated parts and aliases).
    LastName,
    /// Generational suffix.
    Suffix,
    /// Date of birth (with off-by-one, swap and transposition tolerance).
    BirthDate,
    /// Administrative sex.
    Sex,
    /// Mother's maiden name.
    MotherMaidenName,
    /// Guardian given names.
    GuardianFirst,
    /// Guardian surnames.
    GuardianLast,
    /// Postal address.
    Address,
    /// Phone number.
    Phone,
    /// Social Security number.
    Ssn,
    /// Medicaid id.
    Medicaid,
    /// MRN / other identifiers within one assigning authority.
    Mrn,
    /// Birth certificate number.
    BirthCertificate,
    /// Multiple-birth indicator and birth order.
    MultipleBirth,
    /// Shot-history overlap.
    ShotHistory,
}

/// Number of [`Field`]s.
pub const FIELD_COUNT: usize = 17;

impl Field {
    /// All fields in index order.
    pub const ALL: [Field; FIELD_COUNT] = [
        Field::FirstName,
        Field::MiddleName,
        Field::LastName,
        Field::Suffix,
        Field::BirthDate,
        Field::Sex,
        Field::MotherMaidenName,
        Field::GuardianFirst,
        Field::GuardianLast,
        Field::Address,
        Field::Phone,
        Field::Ssn,
        Field::Medicaid,
        Field::Mrn,
        Field::BirthCertificate,
        Field::MultipleBirth,
        Field::ShotHistory,
    ];

    /// Index into weight tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// True for fields siblings share (see [`Model::household_cap`]).
    pub fn is_household(self) -> bool {
        matches!(
            self,
            Field::MotherMaidenName
                | Field::GuardianFirst
                | Field::GuardianLast
                | Field::Address
                | Field::Phone
        )
    }

    /// Stable name used in the model file.
    pub fn name(self) -> &'static str {
        match self {
            Field::FirstName => "first_name",
            Field::MiddleName => "middle_name",
            Field::LastName => "last_name",
            Field::Suffix => "suffix",
            Field::BirthDate => "birth_date",
            Field::Sex => "sex",
            Field::MotherMaidenName => "mother_maiden_name",
            Field::GuardianFirst => "guardian_first",
            Field::GuardianLast => "guardian_last",
            Field::Address => "address",
            Field::Phone => "phone",
            Field::Ssn => "ssn",
            Field::Medicaid => "medicaid",
            Field::Mrn => "mrn",
            Field::BirthCertificate => "birth_certificate",
            Field::MultipleBirth => "multiple_birth",
            Field::ShotHistory => "shot_history",
        }
    }

    /// Inverse of [`Field::name`].
    pub fn from_name(s: &str) -> Option<Field> {
        Field::ALL.iter().copied().find(|f| f.name() == s)
    }
}

/// Agreement level of one field. What each level means is field-specific
/// (see `compare.rs`); the per-field detail string in a
/// [`crate::FieldComparison`] says which case applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    /// Identical after normalization.
    Exact,
    /// Equivalent: nickname, sounds alike, one-character typo, swapped digits.
    Strong,
    /// Partial: compound-name part, first/middle swap, off-by-one day.
    Moderate,
    /// Weak: initial only, same ZIP only, suffix on one side only.
    Weak,
    /// Both present and different.
    Disagree,
    /// Missing on at least one side: contributes nothing.
    Missing,
}

/// Number of [`Level`]s.
pub const LEVEL_COUNT: usize = 6;

impl Level {
    /// All levels in index order.
    pub const ALL: [Level; LEVEL_COUNT] = [
        Level::Exact,
        Level::Strong,
        Level::Moderate,
        Level::Weak,
        Level::Disagree,
        Level::Missing,
    ];

    /// Index into weight tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Stable name used in the model file.
    pub fn name(self) -> &'static str {
        match self {
            Level::Exact => "exact",
            Level::Strong => "strong",
            Level::Moderate => "moderate",
            Level::Weak => "weak",
            Level::Disagree => "disagree",
            Level::Missing => "missing",
        }
    }

    /// Inverse of [`Level::name`].
    pub fn from_name(s: &str) -> Option<Level> {
        Level::ALL.iter().copied().find(|l| l.name() == s)
    }
}

/// m and u probabilities of one (field, level) cell.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MU {
    /// P(level | same person).
    pub m: f64,
    /// P(level | different people).
    pub u: f64,
}

/// Score thresholds for the three outcomes (log2 likelihood ratio).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// At or above: `Match` (link automatically).
    pub matched: f64,
    /// At or above (and below `matched`): `PossibleMatch` (human review).
    pub possible: f64,
}

/// A complete scoring model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// m/u per field and level (`Missing` is ignored: weight 0).
    pub mu: [[MU; LEVEL_COUNT]; FIELD_COUNT],
    /// Decision thresholds.
    pub thresholds: Thresholds,
    /// Lowest frequency used for term-frequency adjustment, so that a name
    /// seen once in a small table does not get an absurd weight.
    pub min_name_frequency: f64,
    /// Largest extra weight (bits) term-frequency adjustment may add on top
    /// of the average exact-agreement weight; rare names help, but bounded.
    pub max_tf_bonus: f64,
    /// Cap (bits) on the summed positive weight of the household fields
    /// (mother's maiden name, guardians, address, phone). Siblings share all
    /// of them, so they are not independent evidence of identity; without
    /// the cap a sibling pair could out-score a true match.
    pub household_cap: f64,
    /// Where the model came from (free text, kept in the file header).
    pub provenance: String,
}

/// Weights are clamped to this magnitude: no single field may decide alone.
pub const MAX_WEIGHT: f64 = 14.0;

impl Model {
    /// The model shipped with the crate (`data/model.tsv`).
    ///
    /// The embedded file is validated by this crate's unit tests, so failure
    /// here is a build defect, not an input problem.
    pub fn embedded() -> Model {
        #[allow(clippy::expect_used)]
        Model::parse(include_str!("../data/model.tsv"))
            .expect("embedded data/model.tsv is validated by unit tests")
    }

    /// The log2 likelihood-ratio weight of a (field, level) cell.
    pub fn weight(&self, field: Field, level: Level) -> f64 {
        if level == Level::Missing {
            return 0.0;
        }
        let mu = self.mu[field.index()][level.index()];
        weight_of(mu.m, mu.u)
    }

    /// Parses the TSV model format written by [`Model::to_tsv`].
    pub fn parse(text: &str) -> Result<Model, ModelError> {
        let neutral = MU { m: 1.0, u: 1.0 };
        let mut mu = [[neutral; LEVEL_COUNT]; FIELD_COUNT];
        let mut matched = None;
        let mut possible = None;
        let mut min_name_frequency = 1e-5;
        let mut max_tf_bonus = 4.0;
        let mut household_cap = f64::INFINITY;
        let mut provenance = String::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim_end();
            if let Some(c) = line.strip_prefix("# provenance:") {
                provenance = c.trim().to_owned();
                continue;
            }
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            let bad = |msg: &str| ModelError::Syntax {
                line: line_no,
                message: msg.to_owned(),
            };
            let num = |s: &str| -> Result<f64, ModelError> {
                s.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| bad(&format!("not a number: {s:?}")))
            };
            match cols.as_slice() {
                ["mu", field, level, m, u] => {
                    let f = Field::from_name(field)
                        .ok_or_else(|| bad(&format!("unknown field {field:?}")))?;
                    let l = Level::from_name(level)
                        .ok_or_else(|| bad(&format!("unknown level {level:?}")))?;
                    let (m, u) = (num(m)?, num(u)?);
                    if !(0.0..=1.0).contains(&m)
                        || !(0.0..=1.0).contains(&u)
                        || m <= 0.0
                        || u <= 0.0
                    {
                        return Err(bad("m and u must be in (0, 1]"));
                    }
                    mu[f.index()][l.index()] = MU { m, u };
                }
                ["threshold", "match", v] => matched = Some(num(v)?),
                ["threshold", "possible", v] => possible = Some(num(v)?),
                ["setting", "min_name_frequency", v] => min_name_frequency = num(v)?,
                ["setting", "max_tf_bonus", v] => max_tf_bonus = num(v)?,
                ["setting", "household_cap", v] => household_cap = num(v)?,
                _ => return Err(bad("expected mu/threshold/setting row")),
            }
        }
        let matched = matched.ok_or(ModelError::MissingThreshold("match"))?;
        let possible = possible.ok_or(ModelError::MissingThreshold("possible"))?;
        if possible > matched {
            return Err(ModelError::ThresholdOrder { possible, matched });
        }
        Ok(Model {
            mu,
            thresholds: Thresholds { matched, possible },
            min_name_frequency,
            max_tf_bonus,
            household_cap,
            provenance,
        })
    }

    /// Serializes the model in the TSV format read by [`Model::parse`].
    pub fn to_tsv(&self) -> String {
        let mut s = String::new();
        s.push_str("# Immunis patient-matching model (Fellegi-Sunter).\n");
        s.push_str(&format!("# provenance: {}\n", self.provenance));
        s.push_str(
            "# mu<TAB>field<TAB>level<TAB>m<TAB>u   weight = log2(m/u), clamped to +-14 bits\n",
        );
        for f in Field::ALL {
            for l in Level::ALL {
                if l == Level::Missing {
                    continue;
                }
                let c = self.mu[f.index()][l.index()];
                s.push_str(&format!(
                    "mu\t{}\t{}\t{:.6e}\t{:.6e}\n",
                    f.name(),
                    l.name(),
                    c.m,
                    c.u
                ));
            }
        }
        s.push_str(&format!(
            "threshold\tmatch\t{:.3}\n",
            self.thresholds.matched
        ));
        s.push_str(&format!(
            "threshold\tpossible\t{:.3}\n",
            self.thresholds.possible
        ));
        s.push_str(&format!(
            "setting\tmin_name_frequency\t{}\n",
            self.min_name_frequency
        ));
        s.push_str(&format!("setting\tmax_tf_bonus\t{}\n", self.max_tf_bonus));
        if self.household_cap.is_finite() {
            s.push_str(&format!("setting\thousehold_cap\t{}\n", self.household_cap));
        }
        s
    }
}

/// log2(m/u) clamped to ±[`MAX_WEIGHT`].
pub fn weight_of(m: f64, u: f64) -> f64 {
    let w = (m.max(1e-9) / u.max(1e-9)).log2();
    w.clamp(-MAX_WEIGHT, MAX_WEIGHT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_model_parses_and_is_sane() {
        let m = Model::parse(include_str!("../data/model.tsv"));
        let m = match m {
            Ok(m) => m,
            Err(e) => panic!("embedded model invalid: {e}"),
        };
        assert!(m.thresholds.possible < m.thresholds.matched);
        // Agreement must be positive evidence, disagreement negative.
        for f in [Field::FirstName, Field::LastName, Field::BirthDate] {
            assert!(m.weight(f, Level::Exact) > 0.0, "{f:?}");
            assert!(m.weight(f, Level::Disagree) < 0.0, "{f:?}");
        }
    }

    #[test]
    fn round_trip() {
        let m = Model::embedded();
        let again = Model::parse(&m.to_tsv());
        assert!(matches!(again, Ok(ref a) if a.thresholds == m.thresholds));
    }

    #[test]
    fn syntax_errors_carry_line_numbers() {
        let err = Model::parse("threshold\tmatch\t1\nmu\tnope\texact\t0.5\t0.5\n");
        assert!(
            matches!(err, Err(ModelError::Syntax { line: 2, .. })),
            "{err:?}"
        );
    }
}
