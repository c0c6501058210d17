//! Dumps one TSV row per AIRA test: expected label, per-field agreement
//! level and detail, hard rules, score, and which side has each field.
//! Used to study how the labels depend on the comparison vector.
//!
//! ```text
//! cargo run --release -p immunis-matching --example dump_features > /tmp/features.tsv
//! ```

use std::path::PathBuf;

use immunis_matching::aira;
use immunis_matching::compare::has_field as has;
use immunis_matching::{compare, normalize, Field, Matcher};

fn shared_dir() -> PathBuf {
    match std::env::var_os("IMMUNIS_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
    .join("matching/aira-patient-matching")
}

fn main() {
    let matcher = Matcher::default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared_dir())
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "txt"));
    files.sort();
    let mut header = vec![
        "file".to_owned(),
        "id".into(),
        "expected".into(),
        "outcome".into(),
        "score".into(),
        "rules".into(),
    ];
    for f in Field::ALL {
        header.push(format!("{}_level", f.name()));
        header.push(format!("{}_detail", f.name()));
        header.push(format!("{}_sides", f.name()));
    }
    println!("{}", header.join("\t"));
    for path in files {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(cases) = aira::parse(&text) else {
            continue;
        };
        for c in cases {
            let (na, nb) = (normalize(&c.a), normalize(&c.b));
            let cmp = compare(&na, &nb);
            let r = matcher.decide(&cmp);
            let mut row = vec![
                name.clone(),
                c.id.clone(),
                c.expected
                    .map(|e| e.label())
                    .unwrap_or("Not Sure")
                    .to_owned(),
                r.outcome.label().to_owned(),
                format!("{:.2}", r.score),
                r.rules
                    .iter()
                    .map(|x| format!("{x:?}"))
                    .collect::<Vec<_>>()
                    .join("|"),
            ];
            for f in Field::ALL {
                row.push(cmp.level(f).name().to_owned());
                row.push(cmp.details[f.index()].to_owned());
                let sides = match (has(&na, f), has(&nb, f)) {
                    (true, true) => "AB",
                    (true, false) => "A",
                    (false, true) => "B",
                    (false, false) => "-",
                };
                row.push(sides.to_owned());
            }
            println!("{}", row.join("\t"));
        }
    }
}
