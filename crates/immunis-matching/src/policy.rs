//! The decision policy: a small classification tree over the comparison
//! vector that turns a scored pair into `Match` / `Possible Match` /
//! `Not a Match`, learned from labelled pairs.
//!
//! Why a tree on top of the Fellegi–Sunter score: reviewers' (and the AIRA
//! reference matcher's) decisions are not a threshold on one additive score.
//! Whether a field is absent on *one* record or on *both*, which field
//! disagrees, and which hard rule fired change the decision in ways a single
//! score cannot express. The tree sees, per field, the agreement
//! [`Level`] and the [`Presence`], the hard-rule flags, and the score
//! itself, so it can refine the score where the labels demand it.
//!
//! Precision comes first and is built into fitting: a leaf answers `Match`
//! only when **no** training pair in it was labelled `Not a Match`. Vetoes
//! (twins, birth-certificate conflicts) are applied by the [`crate::Matcher`]
//! before the policy and cannot be overridden.
//!
//! The policy is data (`data/policy.tsv`, embedded), written by
//! `examples/fit_policy.rs`. It is tied to the model whose score it was
//! fitted with: re-fit the policy whenever `data/model.tsv` changes.
//!
//! File format, one node per line (node 0 is the root; children always
//! have larger ids than their parent, so a walk cannot loop):
//!
//! ```text
//! # provenance: ...
//! split<TAB>id<TAB>test<TAB>yes-id<TAB>no-id
//! leaf<TAB>id<TAB>outcome<TAB>#match<TAB>#possible<TAB>#not-a-match
//! ```
//!
//! Tests: `level:FIELD:LEVEL`, `presence:FIELD:both|one|neither`,
//! `rule:RULE`, `score>=X`.

use crate::compare::{Comparison, HardRule, Presence, RuleSet};
use crate::error::ModelError;
use crate::model::{Field, Level, FIELD_COUNT, LEVEL_COUNT};
use crate::score::Outcome;

/// What the policy looks at for one pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    /// Agreement level per field.
    pub levels: [Level; FIELD_COUNT],
    /// Which records carry each field.
    pub presence: [Presence; FIELD_COUNT],
    /// Hard rules that fired.
    pub rules: RuleSet,
    /// Fellegi–Sunter score (bits).
    pub score: f64,
}

impl Features {
    /// Features of a comparison with its score.
    pub fn of(c: &Comparison<'_>, score: f64) -> Self {
        Self {
            levels: c.levels,
            presence: c.presence,
            rules: c.rules,
            score,
        }
    }
}

/// One yes/no question about a pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Test {
    /// The field has this agreement level.
    Level(Field, Level),
    /// The field has this presence.
    Presence(Field, Presence),
    /// This hard rule fired.
    Rule(HardRule),
    /// The score is at least this many bits.
    ScoreAtLeast(f64),
}

fn rule_name(r: HardRule) -> &'static str {
    match r {
        HardRule::BirthOrderConflict => "birth_order_conflict",
        HardRule::BirthCertificateConflict => "birth_certificate_conflict",
        HardRule::SsnConflict => "ssn_conflict",
        HardRule::SexConflict => "sex_conflict",
        HardRule::GivenNameConflict => "given_name_conflict",
        HardRule::MultipleBirthSiblings => "multiple_birth_siblings",
    }
}

impl Test {
    /// True when the pair answers yes.
    pub fn holds(&self, f: &Features) -> bool {
        match *self {
            Test::Level(field, level) => f.levels[field.index()] == level,
            Test::Presence(field, p) => f.presence[field.index()] == p,
            Test::Rule(r) => f.rules.contains(r),
            Test::ScoreAtLeast(x) => f.score >= x,
        }
    }

    /// Text form used in the policy file.
    pub fn encode(&self) -> String {
        match *self {
            Test::Level(field, level) => format!("level:{}:{}", field.name(), level.name()),
            Test::Presence(field, p) => format!("presence:{}:{}", field.name(), p.name()),
            Test::Rule(r) => format!("rule:{}", rule_name(r)),
            // `Display` of f64 round-trips exactly.
            Test::ScoreAtLeast(x) => format!("score>={x}"),
        }
    }

    /// Inverse of [`Test::encode`].
    pub fn decode(s: &str) -> Option<Test> {
        if let Some(x) = s.strip_prefix("score>=") {
            return x
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Test::ScoreAtLeast);
        }
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            ["level", f, l] => Some(Test::Level(Field::from_name(f)?, Level::from_name(l)?)),
            ["presence", f, p] => Some(Test::Presence(
                Field::from_name(f)?,
                Presence::from_name(p)?,
            )),
            ["rule", r] => HardRule::ALL
                .into_iter()
                .find(|x| rule_name(*x) == *r)
                .map(Test::Rule),
            _ => None,
        }
    }
}

/// A node of the tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// Ask `test`; go to `yes` or `no`.
    Split {
        /// The question.
        test: Test,
        /// Child when the test holds.
        yes: usize,
        /// Child when it does not.
        no: usize,
    },
    /// Answer.
    Leaf {
        /// The decision.
        outcome: Outcome,
        /// Training pairs that reached the leaf, by label
        /// (Match, Possible Match, Not a Match): the evidence behind it.
        counts: [u32; 3],
    },
}

/// A fitted decision policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    nodes: Vec<Node>,
    /// Where the policy came from (free text, kept in the file header).
    pub provenance: String,
}

/// Options for [`Policy::fit`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitOptions {
    /// Weight of a `Not a Match` pair relative to the other labels when
    /// choosing splits: isolating different-person pairs matters most.
    pub not_match_weight: f64,
    /// Smallest number of training pairs on each side of a split.
    pub min_leaf: usize,
    /// Depth cap.
    pub max_depth: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            not_match_weight: 3.0,
            min_leaf: 1,
            max_depth: 48,
        }
    }
}

fn class(o: Outcome) -> usize {
    match o {
        Outcome::Match => 0,
        Outcome::PossibleMatch => 1,
        Outcome::NotAMatch => 2,
    }
}

/// The precision-first leaf rule: `Match` only without any `Not a Match`
/// evidence; otherwise the more frequent of the other two labels
/// (review on a tie).
fn leaf_outcome(counts: [u32; 3]) -> Outcome {
    let [m, p, n] = counts;
    if m > 0 && m >= p && m >= n && n == 0 {
        Outcome::Match
    } else if n > p {
        Outcome::NotAMatch
    } else {
        Outcome::PossibleMatch
    }
}

fn gini(w: &[f64; 3]) -> f64 {
    let total: f64 = w.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    1.0 - w.iter().map(|x| (x / total) * (x / total)).sum::<f64>()
}

struct Fitter<'a> {
    examples: &'a [(Features, Outcome)],
    opts: FitOptions,
    nodes: Vec<Node>,
}

impl Fitter<'_> {
    fn weight(&self, i: usize) -> (usize, f64) {
        let c = class(self.examples[i].1);
        let w = if c == 2 {
            self.opts.not_match_weight
        } else {
            1.0
        };
        (c, w)
    }

    /// Best split of `idx` by weighted Gini gain, if any improves.
    fn best_split(&self, idx: &[usize]) -> Option<Test> {
        let mut total = [0.0f64; 3];
        // Per field: weighted class totals by level and by presence.
        let mut by_level = [[[0.0f64; 3]; LEVEL_COUNT]; FIELD_COUNT];
        let mut n_level = [[0usize; LEVEL_COUNT]; FIELD_COUNT];
        let mut by_pres = [[[0.0f64; 3]; 3]; FIELD_COUNT];
        let mut n_pres = [[0usize; 3]; FIELD_COUNT];
        let mut by_rule = [[0.0f64; 3]; HardRule::ALL.len()];
        let mut n_rule = [0usize; HardRule::ALL.len()];
        for &i in idx {
            let (c, w) = self.weight(i);
            let f = &self.examples[i].0;
            total[c] += w;
            for field in 0..FIELD_COUNT {
                let l = f.levels[field].index();
                by_level[field][l][c] += w;
                n_level[field][l] += 1;
                let p = Presence::ALL
                    .iter()
                    .position(|x| *x == f.presence[field])
                    .unwrap_or(0);
                by_pres[field][p][c] += w;
                n_pres[field][p] += 1;
            }
            for (k, r) in HardRule::ALL.iter().enumerate() {
                if f.rules.contains(*r) {
                    by_rule[k][c] += w;
                    n_rule[k] += 1;
                }
            }
        }
        let wt: f64 = total.iter().sum();
        let parent = gini(&total) * wt;
        let n = idx.len();
        let mut best: Option<(f64, Test)> = None;
        let mut consider = |yes: &[f64; 3], n_yes: usize, test: Test| {
            if n_yes < self.opts.min_leaf || n - n_yes < self.opts.min_leaf {
                return;
            }
            let no = [total[0] - yes[0], total[1] - yes[1], total[2] - yes[2]];
            let wy: f64 = yes.iter().sum();
            let wn: f64 = no.iter().sum();
            let gain = parent - gini(yes) * wy - gini(&no) * wn;
            if gain > 1e-9 && best.as_ref().is_none_or(|(g, _)| gain > *g + 1e-12) {
                best = Some((gain, test));
            }
        };
        for field in Field::ALL {
            for level in Level::ALL {
                let k = level.index();
                consider(
                    &by_level[field.index()][k],
                    n_level[field.index()][k],
                    Test::Level(field, level),
                );
            }
            for (k, p) in Presence::ALL.iter().enumerate() {
                consider(
                    &by_pres[field.index()][k],
                    n_pres[field.index()][k],
                    Test::Presence(field, *p),
                );
            }
        }
        for (k, r) in HardRule::ALL.iter().enumerate() {
            consider(&by_rule[k], n_rule[k], Test::Rule(*r));
        }
        // Score: sweep from the top, yes = score >= midpoint.
        let mut sorted: Vec<usize> = idx.to_vec();
        sorted.sort_by(|a, b| {
            self.examples[*b]
                .0
                .score
                .total_cmp(&self.examples[*a].0.score)
        });
        let mut yes = [0.0f64; 3];
        for (k, pair) in sorted.windows(2).enumerate() {
            let (c, w) = self.weight(pair[0]);
            yes[c] += w;
            let (hi, lo) = (
                self.examples[pair[0]].0.score,
                self.examples[pair[1]].0.score,
            );
            if hi > lo {
                consider(&yes, k + 1, Test::ScoreAtLeast(lo + (hi - lo) / 2.0));
            }
        }
        best.map(|(_, t)| t)
    }

    fn build(&mut self, idx: Vec<usize>, depth: usize) -> usize {
        let mut counts = [0u32; 3];
        for &i in &idx {
            counts[class(self.examples[i].1)] += 1;
        }
        let id = self.nodes.len();
        let pure = counts.iter().filter(|c| **c > 0).count() <= 1;
        let split = if pure || depth >= self.opts.max_depth {
            None
        } else {
            self.best_split(&idx)
        };
        let Some(test) = split else {
            self.nodes.push(Node::Leaf {
                outcome: leaf_outcome(counts),
                counts,
            });
            return id;
        };
        // Placeholder, patched once the children exist.
        self.nodes.push(Node::Leaf {
            outcome: Outcome::PossibleMatch,
            counts,
        });
        let (yes_idx, no_idx): (Vec<usize>, Vec<usize>) = idx
            .into_iter()
            .partition(|&i| test.holds(&self.examples[i].0));
        let yes = self.build(yes_idx, depth + 1);
        let no = self.build(no_idx, depth + 1);
        self.nodes[id] = Node::Split { test, yes, no };
        id
    }
}

impl Policy {
    /// The policy shipped with the crate (`data/policy.tsv`), fitted for the
    /// embedded model. Validated by this crate's unit tests, so failure here
    /// is a build defect, not an input problem.
    pub fn embedded() -> Policy {
        #[allow(clippy::expect_used)]
        Policy::parse(include_str!("../data/policy.tsv"))
            .expect("embedded data/policy.tsv is validated by unit tests")
    }

    /// The nodes (node 0 is the root).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Number of leaves.
    pub fn leaves(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf { .. }))
            .count()
    }

    /// Walks the tree. A malformed tree cannot be built through
    /// [`Policy::parse`] or [`Policy::fit`]; should a walk still fail, the
    /// answer is the safe `PossibleMatch`.
    pub fn decide(&self, f: &Features) -> Outcome {
        let mut at = 0;
        for _ in 0..=self.nodes.len() {
            match self.nodes.get(at) {
                Some(Node::Split { test, yes, no }) => {
                    at = if test.holds(f) { *yes } else { *no };
                }
                Some(Node::Leaf { outcome, .. }) => return *outcome,
                None => break,
            }
        }
        Outcome::PossibleMatch
    }

    /// Fits a tree to labelled pairs (CART, weighted Gini) with the
    /// precision-first leaf rule described in the module docs.
    pub fn fit(examples: &[(Features, Outcome)], opts: FitOptions, provenance: String) -> Policy {
        let mut fitter = Fitter {
            examples,
            opts,
            nodes: Vec::new(),
        };
        fitter.build((0..examples.len()).collect(), 0);
        Policy {
            nodes: fitter.nodes,
            provenance,
        }
    }

    /// Parses the format written by [`Policy::to_tsv`].
    pub fn parse(text: &str) -> Result<Policy, ModelError> {
        let mut nodes: Vec<Option<Node>> = Vec::new();
        let mut provenance = String::new();
        let mut parent_of: Vec<(usize, usize, usize)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim_end();
            if let Some(p) = line.strip_prefix("# provenance:") {
                provenance = p.trim().to_owned();
                continue;
            }
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: String| ModelError::Syntax {
                line: line_no,
                message,
            };
            let num = |s: &str| -> Result<usize, ModelError> {
                s.trim()
                    .parse::<usize>()
                    .map_err(|_| bad(format!("not a node id: {s:?}")))
            };
            let cols: Vec<&str> = line.split('\t').collect();
            let (id, node) = match cols.as_slice() {
                ["split", id, test, yes, no] => {
                    let test =
                        Test::decode(test).ok_or_else(|| bad(format!("unknown test {test:?}")))?;
                    let (id, yes, no) = (num(id)?, num(yes)?, num(no)?);
                    if yes <= id || no <= id {
                        return Err(bad("children must have larger ids than their parent".into()));
                    }
                    parent_of.push((line_no, yes, no));
                    (id, Node::Split { test, yes, no })
                }
                ["leaf", id, outcome, m, p, n] => {
                    let outcome = match *outcome {
                        "Match" => Outcome::Match,
                        "Possible Match" => Outcome::PossibleMatch,
                        "Not a Match" => Outcome::NotAMatch,
                        other => return Err(bad(format!("unknown outcome {other:?}"))),
                    };
                    let c = |s: &str| -> Result<u32, ModelError> {
                        s.trim()
                            .parse::<u32>()
                            .map_err(|_| bad(format!("not a count: {s:?}")))
                    };
                    (
                        num(id)?,
                        Node::Leaf {
                            outcome,
                            counts: [c(m)?, c(p)?, c(n)?],
                        },
                    )
                }
                _ => return Err(bad("expected a split or leaf row".into())),
            };
            if nodes.len() <= id {
                nodes.resize(id + 1, None);
            }
            if nodes[id].is_some() {
                return Err(bad(format!("node {id} defined twice")));
            }
            nodes[id] = Some(node);
        }
        for (line, yes, no) in parent_of {
            for child in [yes, no] {
                if nodes.get(child).is_none_or(Option::is_none) {
                    return Err(ModelError::Syntax {
                        line,
                        message: format!("child node {child} is not defined"),
                    });
                }
            }
        }
        let nodes: Option<Vec<Node>> = nodes.into_iter().collect();
        let nodes = nodes.ok_or(ModelError::Syntax {
            line: 0,
            message: "node ids must be contiguous from 0".into(),
        })?;
        if nodes.is_empty() {
            return Err(ModelError::Syntax {
                line: 0,
                message: "empty policy".into(),
            });
        }
        Ok(Policy { nodes, provenance })
    }

    /// Serializes the policy.
    pub fn to_tsv(&self) -> String {
        let mut s = String::new();
        s.push_str("# Immunis patient-matching decision policy (classification tree).\n");
        s.push_str(&format!("# provenance: {}\n", self.provenance));
        s.push_str("# split<TAB>id<TAB>test<TAB>yes<TAB>no | leaf<TAB>id<TAB>outcome<TAB>#match<TAB>#possible<TAB>#not-a-match\n");
        for (id, n) in self.nodes.iter().enumerate() {
            match n {
                Node::Split { test, yes, no } => {
                    s.push_str(&format!("split\t{id}\t{}\t{yes}\t{no}\n", test.encode()));
                }
                Node::Leaf { outcome, counts } => {
                    s.push_str(&format!(
                        "leaf\t{id}\t{}\t{}\t{}\t{}\n",
                        outcome.label(),
                        counts[0],
                        counts[1],
                        counts[2]
                    ));
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(first: Level, score: f64) -> Features {
        let mut levels = [Level::Missing; FIELD_COUNT];
        levels[Field::FirstName.index()] = first;
        Features {
            levels,
            presence: [Presence::Both; FIELD_COUNT],
            rules: RuleSet::default(),
            score,
        }
    }

    #[test]
    fn embedded_policy_parses() {
        let p = Policy::parse(include_str!("../data/policy.tsv"));
        assert!(matches!(p, Ok(ref p) if p.leaves() > 1), "{p:?}");
    }

    #[test]
    fn fit_separates_and_never_matches_with_not_a_match_evidence() {
        let mut ex = Vec::new();
        for i in 0..20 {
            ex.push((features(Level::Exact, 30.0 + f64::from(i)), Outcome::Match));
            ex.push((features(Level::Disagree, 5.0), Outcome::NotAMatch));
        }
        // A contradicted cell: same features, both labels.
        ex.push((features(Level::Strong, 20.0), Outcome::Match));
        ex.push((features(Level::Strong, 20.0), Outcome::NotAMatch));
        let p = Policy::fit(&ex, FitOptions::default(), "test".into());
        assert_eq!(p.decide(&features(Level::Exact, 35.0)), Outcome::Match);
        assert_eq!(
            p.decide(&features(Level::Disagree, 5.0)),
            Outcome::NotAMatch
        );
        assert_ne!(p.decide(&features(Level::Strong, 20.0)), Outcome::Match);
        let again = Policy::parse(&p.to_tsv());
        assert_eq!(again.as_ref().ok(), Some(&p));
    }

    #[test]
    fn parse_rejects_loops_and_dangling_children() {
        let looped = "split\t0\trule:sex_conflict\t0\t1\nleaf\t1\tMatch\t1\t0\t0\n";
        assert!(matches!(
            Policy::parse(looped),
            Err(ModelError::Syntax { line: 1, .. })
        ));
        let dangling = "split\t0\trule:sex_conflict\t1\t2\nleaf\t1\tMatch\t1\t0\t0\n";
        assert!(Policy::parse(dangling).is_err());
        assert!(Policy::parse("").is_err());
    }

    #[test]
    fn tests_round_trip() {
        for t in [
            Test::Level(Field::Ssn, Level::Strong),
            Test::Presence(Field::Phone, Presence::One),
            Test::Rule(HardRule::GivenNameConflict),
            Test::ScoreAtLeast(12.345_678_9),
        ] {
            assert_eq!(Test::decode(&t.encode()), Some(t));
        }
    }
}
