//! Fits `data/model.tsv` from AIRA training files and reports per-file
//! figures.
//!
//! m probabilities: level frequencies over same-person pairs (ids `S-*`).
//! u probabilities: level frequencies over random pairs (patient A of one
//! test against patient B of a distant test), which estimates chance
//! agreement far better than the deliberately similar `D-*` pairs.
//! Cells never observed keep the hand-set priors (`data/priors.tsv`).
//! Thresholds: chosen on the training files to maximise three-class
//! agreement with zero false merges and a safety margin.
//!
//! Figures printed here are for the threshold path alone
//! (`Matcher::new`, no decision policy). The shipped `Matcher::default()`
//! decides with `data/policy.tsv`, which uses this model's score: after
//! writing a new model, re-fit the policy with `examples/fit_policy.rs`.
//!
//! ```text
//! cargo run --release -p immunis-matching --example fit_model -- \
//!     --train MIIS-B.txt,MIIS-C.txt --out crates/immunis-matching/data/model.tsv
//! cargo run --release -p immunis-matching --example fit_model -- --eval   # all files
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use immunis_matching::aira::{self, TestCase};
use immunis_matching::em::Pattern;
use immunis_matching::model::{Model, Thresholds, FIELD_COUNT, LEVEL_COUNT, MU};
use immunis_matching::{compare, normalize, Field, Level, Matcher, Outcome};

fn shared_dir() -> PathBuf {
    match std::env::var_os("IMMUNIS_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
    .join("matching/aira-patient-matching")
}

fn load(name: &str) -> Vec<TestCase> {
    let path = shared_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    aira::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn pattern(a: &immunis_matching::MatchRecord, b: &immunis_matching::MatchRecord) -> Pattern {
    let (na, nb) = (normalize(a), normalize(b));
    compare(&na, &nb).levels
}

fn estimate(
    same: &[Pattern],
    random: &[Pattern],
    priors: &Model,
    pseudo: f64,
    provenance: String,
) -> Model {
    let mut model = priors.clone();
    let count = |pats: &[Pattern], f: usize| {
        let mut c = [0.0f64; LEVEL_COUNT];
        for p in pats {
            c[p[f].index()] += 1.0;
        }
        c
    };
    for f in 0..FIELD_COUNT {
        let (cm, cu) = (count(same, f), count(random, f));
        let nm: f64 = cm.iter().take(5).sum();
        let nu: f64 = cu.iter().take(5).sum();
        for l in 0..5 {
            let prior = priors.mu[f][l];
            // Smoothed toward the prior with a pseudo-count of 2 pairs, so
            // unseen cells neither vanish nor dominate.
            let k = pseudo;
            let m = if nm > 0.0 {
                (cm[l] + k * prior.m) / (nm + k)
            } else {
                prior.m
            };
            let u = if nu > 0.0 {
                (cu[l] + k * prior.u) / (nu + k)
            } else {
                prior.u
            };
            model.mu[f][l] = MU { m, u };
        }
    }
    model.provenance = provenance;
    model
}

struct Scored {
    expected: Option<Outcome>,
    score: f64,
    capped: bool,
    vetoed: bool,
    id: String,
}

fn score_all(matcher: &Matcher, cases: &[TestCase]) -> Vec<Scored> {
    cases
        .iter()
        .map(|c| {
            let (na, nb) = (normalize(&c.a), normalize(&c.b));
            let cmp = compare(&na, &nb);
            let score = matcher.score(&cmp);
            Scored {
                expected: c.expected,
                score,
                capped: cmp.rules.iter().any(|r| !r.is_veto()),
                vetoed: cmp.rules.iter().any(|r| r.is_veto()),
                id: c.id.clone(),
            }
        })
        .collect()
}

fn decide(s: &Scored, t: Thresholds) -> Outcome {
    if s.vetoed {
        return Outcome::NotAMatch;
    }
    if s.score >= t.matched && !s.capped {
        Outcome::Match
    } else if s.score >= t.possible {
        Outcome::PossibleMatch
    } else {
        Outcome::NotAMatch
    }
}

fn tune(scored: &[Scored], margin: f64) -> Thresholds {
    // Lowest match threshold with no different-person pair (by id or by
    // label) above it, plus a margin for held-out data.
    let worst_negative = scored
        .iter()
        .filter(|s| s.expected == Some(Outcome::NotAMatch) && !s.capped && !s.vetoed)
        .map(|s| s.score)
        .fold(f64::NEG_INFINITY, f64::max);
    let floor = worst_negative + margin;
    let mut best = (
        Thresholds {
            matched: floor,
            possible: 0.0,
        },
        -1.0,
    );
    let mut tm = floor;
    while tm < floor + 30.0 {
        let mut tp = -30.0;
        while tp <= tm {
            let t = Thresholds {
                matched: tm,
                possible: tp,
            };
            let hits = scored
                .iter()
                .filter(|s| s.expected.is_some_and(|e| e == decide(s, t)))
                .count() as f64;
            if hits > best.1 {
                best = (t, hits);
            }
            tp += 0.25;
        }
        tm += 0.25;
    }
    best.0
}

fn report(name: &str, matcher: &Matcher, cases: &[TestCase], verbose: bool) {
    let outcomes = aira::classify(matcher, cases);
    let mut summary = aira::Summary::default();
    let mut by_scenario: BTreeMap<String, [u32; 2]> = BTreeMap::new();
    for (c, o) in cases.iter().zip(&outcomes) {
        summary.add(c.expected, *o);
        let scen = c.id.split(':').nth(1).unwrap_or("").to_owned();
        let key = format!("{} {}", &c.id[..1], scen);
        let e = by_scenario.entry(key).or_default();
        e[1] += 1;
        if c.expected == Some(*o) {
            e[0] += 1;
        }
    }
    println!(
        "{name:<26} agreement {:6.2}%  match recall {:6.2}%  false merges {}",
        100.0 * summary.agreement(),
        100.0 * summary.match_recall(),
        summary.false_merges()
    );
    if verbose {
        let _ = summary.write_matrix(std::io::stdout());
        for (k, [ok, n]) in &by_scenario {
            if ok < n {
                println!("   {k:<40} {ok}/{n}");
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let all = [
        "Dev-Test-2015-01-01.txt",
        "MIIS-B.txt",
        "MIIS-C.txt",
        "MIIS-D.txt",
        "MIIS-E.txt",
        "MIIS-E2.txt",
        "MIIS-E3.txt",
        "MIIS-F1.txt",
        "MIIS-F2.txt",
    ];
    let available: Vec<&str> = all
        .iter()
        .copied()
        .filter(|f| shared_dir().join(f).exists())
        .collect();
    let verbose = args.iter().any(|a| a == "-v");
    let mut train: Vec<String> = Vec::new();
    let mut out: Option<String> = None;
    let mut margin = 3.0;
    let mut pseudo = 2.0;
    let mut household_cap = f64::INFINITY;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--train" => {
                train = args[i + 1].split(',').map(str::to_owned).collect();
                i += 1;
            }
            "--out" => {
                out = Some(args[i + 1].clone());
                i += 1;
            }
            "--pseudo" => {
                pseudo = args[i + 1].parse().unwrap_or(pseudo);
                i += 1;
            }
            "--household-cap" => {
                household_cap = args[i + 1].parse().unwrap_or(household_cap);
                i += 1;
            }
            "--margin" => {
                margin = args[i + 1].parse().unwrap_or(margin);
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }

    let model = if train.is_empty() {
        Model::embedded()
    } else {
        let priors =
            Model::parse(include_str!("../data/priors.tsv")).unwrap_or_else(|e| panic!("{e}"));
        let mut same = Vec::new();
        let mut random = Vec::new();
        let mut train_cases = Vec::new();
        for f in &train {
            let cases = load(f);
            let n = cases.len();
            for (i, c) in cases.iter().enumerate() {
                if c.id.starts_with('S') && c.expected != Some(Outcome::NotAMatch) {
                    same.push(pattern(&c.a, &c.b));
                }
                // Distant tests: different people with overwhelming probability.
                for k in [n / 3, n / 2, 2 * n / 3] {
                    let other = &cases[(i + k) % n];
                    random.push(pattern(&c.a, &other.b));
                }
            }
            train_cases.extend(cases);
        }
        let provenance = format!(
            "m from {} same-person pairs, u from {} random pairs of {}; priors (pseudo-count {pseudo}) for unseen cells; thresholds tuned on the same files (margin {margin} bits)",
            same.len(),
            random.len(),
            train.join(", ")
        );
        let mut model = estimate(&same, &random, &priors, pseudo, provenance);
        model.household_cap = household_cap;
        let matcher = Matcher::new(model.clone(), immunis_matching::NameFrequencies::default());
        let scored = score_all(&matcher, &train_cases);
        model.thresholds = tune(&scored, margin);
        let neg: Vec<&Scored> = scored
            .iter()
            .filter(|s| s.expected == Some(Outcome::NotAMatch) && !s.capped && !s.vetoed)
            .collect();
        let max_neg = neg
            .iter()
            .map(|s| s.score)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut top: Vec<&&Scored> = neg.iter().collect();
        top.sort_by(|a, b| b.score.total_cmp(&a.score));
        for s in top.iter().take(8) {
            println!("high Not-a-Match score {:.2} ({})", s.score, s.id);
        }
        let _ = max_neg;
        println!("thresholds: {:?}", model.thresholds);
        for f in Field::ALL {
            let w: Vec<String> = Level::ALL[..5]
                .iter()
                .map(|l| format!("{:6.2}", model.weight(f, *l)))
                .collect();
            println!("  {:<20} {}", f.name(), w.join(" "));
        }
        if let Some(path) = &out {
            std::fs::write(path, model.to_tsv()).unwrap_or_else(|e| panic!("{path}: {e}"));
            println!("wrote {path}");
        }
        model
    };
    let matcher = Matcher::new(model, immunis_matching::NameFrequencies::default());
    if let Some(pos) = args.iter().position(|a| a == "--explain") {
        let (file, id) = (&args[pos + 1], &args[pos + 2]);
        let want: Option<Outcome> = args.get(pos + 3).map(|w| match w.as_str() {
            "M" => Outcome::Match,
            "P" => Outcome::PossibleMatch,
            _ => Outcome::NotAMatch,
        });
        let got: Option<Outcome> = args.get(pos + 4).map(|w| match w.as_str() {
            "M" => Outcome::Match,
            "P" => Outcome::PossibleMatch,
            _ => Outcome::NotAMatch,
        });
        for c in load(file).iter().filter(|c| c.id.contains(id.as_str())) {
            if want.is_some() && c.expected != want {
                continue;
            }
            if got.is_some() && Some(matcher.compare_records(&c.a, &c.b).outcome) != got {
                continue;
            }
            let r = matcher.compare_records(&c.a, &c.b);
            println!(
                "{} expected {:?} got {:?} score {:.2} rules {:?}",
                c.id, c.expected, r.outcome, r.score, r.rules
            );
            for f in &r.fields {
                println!(
                    "  {:<20} {:<9} {:>7.2}  {}",
                    f.field.name(),
                    f.level.name(),
                    f.weight,
                    f.detail
                );
            }
        }
        return;
    }
    for f in available {
        let tag = if train.iter().any(|t| t == f) {
            "(train)"
        } else {
            ""
        };
        report(&format!("{f} {tag}"), &matcher, &load(f), verbose);
    }
}
