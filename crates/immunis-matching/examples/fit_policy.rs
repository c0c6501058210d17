//! Fits the decision policy (`data/policy.tsv`) on labelled AIRA files and
//! reports every available file, marking which were used for fitting.
//!
//! The policy's score feature comes from the embedded Fellegi–Sunter model
//! (`data/model.tsv`); re-run this after re-fitting the model.
//!
//! ```text
//! cargo run --release -p immunis-matching --example fit_policy -- \
//!     --train MIIS-B.txt,MIIS-C.txt,MIIS-D.txt --out crates/immunis-matching/data/policy.tsv
//! # evaluate the embedded policy only:
//! cargo run --release -p immunis-matching --example fit_policy
//! ```

use std::path::PathBuf;

use immunis_matching::aira::{self, TestCase};
use immunis_matching::policy::{Features, FitOptions};
use immunis_matching::{compare, normalize, Matcher, Model, NameFrequencies, Policy};

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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let train: Vec<String> = arg("--train")
        .map(|s| s.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let mut opts = FitOptions::default();
    if let Some(w) = arg("--not-match-weight").and_then(|s| s.parse().ok()) {
        opts.not_match_weight = w;
    }
    if let Some(m) = arg("--min-leaf").and_then(|s| s.parse().ok()) {
        opts.min_leaf = m;
    }
    let model = match arg("--model") {
        Some(path) => {
            let text =
                std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
            Model::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
        }
        None => Model::embedded(),
    };
    let scorer = Matcher::new(model, NameFrequencies::default());

    let policy = if train.is_empty() {
        Policy::embedded()
    } else {
        let mut examples = Vec::new();
        for f in &train {
            for c in load(f) {
                let Some(expected) = c.expected else { continue };
                let (na, nb) = (normalize(&c.a), normalize(&c.b));
                let cmp = compare(&na, &nb);
                examples.push((Features::of(&cmp, scorer.score(&cmp)), expected));
            }
        }
        let provenance = format!(
            "CART (weighted Gini, not-a-match weight {}, min leaf {}) on {} labelled pairs of {}; score from the embedded model; Match leaves hold no Not-a-Match pair",
            opts.not_match_weight,
            opts.min_leaf,
            examples.len(),
            train.join(", ")
        );
        let policy = Policy::fit(&examples, opts, provenance);
        println!(
            "fitted: {} nodes, {} leaves",
            policy.nodes().len(),
            policy.leaves()
        );
        if let Some(path) = arg("--out") {
            std::fs::write(&path, policy.to_tsv()).unwrap_or_else(|e| panic!("{path}: {e}"));
            println!("wrote {path}");
        }
        policy
    };
    let matcher = scorer.with_policy(Some(policy));
    let mut files: Vec<String> = std::fs::read_dir(shared_dir())
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".txt"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    for f in files {
        let cases = load(&f);
        let mut s = aira::Summary::default();
        for (c, o) in cases.iter().zip(aira::classify(&matcher, &cases)) {
            s.add(c.expected, o);
        }
        let role = if train.is_empty() {
            ""
        } else if train.contains(&f) {
            "tuned"
        } else {
            "held out"
        };
        println!(
            "{f:<26} {role:<9} agreement {:6.2}%  match recall {:6.2}%  false merges {}",
            100.0 * s.agreement(),
            100.0 * s.match_recall(),
            s.false_merges()
        );
    }
}
