//! Targets over every AIRA / MIIS test file in the shared folder.
//!
//! Hard target (asserted): no `Not a Match` pair answered `Match`, on every
//! file. Agreement and Match recall are asserted against regression floors
//! and printed; see BENCHMARKS.md for why the brief's 95% recall is not
//! reachable together with zero false merges on these files (identical
//! comparison vectors are labelled `Not a Match` in MIIS-C and `Match` in
//! MIIS-D/E).

use std::path::PathBuf;

use immunis_matching::aira::{self, run_match_pairs};

/// Regression floors (measured figures are higher; see BENCHMARKS.md).
const MIN_AGREEMENT: f64 = 0.80;
const MIN_MATCH_RECALL: f64 = 0.66;

fn aira_dir() -> PathBuf {
    match std::env::var_os("IMMUNIS_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
    .join("matching/aira-patient-matching")
}

#[test]
fn every_aira_file_meets_targets() {
    let dir = aira_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "\n!!! SKIPPED: AIRA folder {} not found (set IMMUNIS_SHARED) !!!\n",
            dir.display()
        );
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no AIRA .txt files in {}", dir.display());

    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let cases = aira::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut out = Vec::new();
        let mut err = Vec::new();
        let summary =
            run_match_pairs(&text, &mut out, &mut err).unwrap_or_else(|e| panic!("{name}: {e}"));

        // Contract: one line per test, in file order, id TAB label.
        let out = String::from_utf8(out).unwrap_or_default();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), cases.len(), "{name}: one line per test");
        for (line, case) in lines.iter().zip(&cases) {
            let (id, label) = line.split_once('\t').unwrap_or(("", ""));
            assert_eq!(id, case.id, "{name}: file order");
            assert!(
                matches!(label, "Match" | "Possible Match" | "Not a Match"),
                "{name}: bad label {label:?}"
            );
        }
        let err = String::from_utf8(err).unwrap_or_default();
        assert!(
            err.contains("agreement"),
            "{name}: confusion matrix on stderr"
        );

        println!(
            "{name:<28} agreement {:6.2}%  match recall {:6.2}%  false merges {}",
            100.0 * summary.agreement(),
            100.0 * summary.match_recall(),
            summary.false_merges()
        );
        print!("{err}");
        if summary.false_merges() != 0 {
            failures.push(format!("{name}: {} false merges", summary.false_merges()));
        }
        if summary.agreement() < MIN_AGREEMENT {
            failures.push(format!("{name}: agreement {:.4}", summary.agreement()));
        }
        if summary.match_recall() < MIN_MATCH_RECALL {
            failures.push(format!(
                "{name}: match recall {:.4}",
                summary.match_recall()
            ));
        }
    }
    assert!(failures.is_empty(), "targets missed: {failures:#?}");
}
