//! Linkage quality against ground truth: a synthetic population (2,000
//! people, with nicknames, typos, hyphenations, swapped birth day/month,
//! twins and triplets) is imported message by message, then de-duplicated;
//! "same person" links are scored pairwise against the truth, joined through
//! the journal's message control id → patient id → merge survivor.
//! Set `IMMUNIS_EVAL_PEOPLE` to run at another size.

use std::collections::HashMap;

use chrono::NaiveDate;
use immunis_model::PatientId;
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::{console_admin, Registry};
use immunis_synth::{write_population, SynthConfig};

#[derive(Debug, Default)]
struct Quality {
    true_pairs: u64,
    predicted_pairs: u64,
    correct_pairs: u64,
    twin_false_merges: u64,
    records: usize,
    people: usize,
}

impl Quality {
    fn precision(&self) -> f64 {
        if self.predicted_pairs == 0 {
            1.0
        } else {
            self.correct_pairs as f64 / self.predicted_pairs as f64
        }
    }
    fn recall(&self) -> f64 {
        self.correct_pairs as f64 / self.true_pairs.max(1) as f64
    }
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// truth: control id → (person key, twin group).
fn measure(
    reg: &Registry,
    store: &dyn immunis_store::Store,
    truth: &HashMap<String, (String, String)>,
) -> Quality {
    let _ = reg;
    let mut rows = Vec::new();
    let mut roots: HashMap<PatientId, PatientId> = HashMap::new();
    store
        .read(&mut |tx| {
            rows = tx.journal_patients()?;
            roots.clear();
            for (_, p) in &rows {
                if !roots.contains_key(p) {
                    let r = tx.root_of(*p)?;
                    roots.insert(*p, r);
                }
            }
            Ok(())
        })
        .expect("read journal");
    let mut by_person: HashMap<&str, u64> = HashMap::new();
    let mut by_root: HashMap<PatientId, u64> = HashMap::new();
    let mut by_both: HashMap<(&str, PatientId), u64> = HashMap::new();
    let mut root_people: HashMap<PatientId, Vec<(&str, &str)>> = HashMap::new();
    for (mcid, p) in &rows {
        let Some((person, twin)) = truth.get(mcid) else {
            continue;
        };
        let root = roots[p];
        *by_person.entry(person).or_default() += 1;
        *by_root.entry(root).or_default() += 1;
        *by_both.entry((person, root)).or_default() += 1;
        let v = root_people.entry(root).or_default();
        if !v.iter().any(|(k, _)| k == person) {
            v.push((person, twin));
        }
    }
    let mut twin_false_merges = 0;
    for people in root_people.values() {
        for (i, a) in people.iter().enumerate() {
            for b in &people[i + 1..] {
                if !a.1.is_empty() && a.1 == b.1 {
                    twin_false_merges += 1;
                }
            }
        }
    }
    Quality {
        true_pairs: by_person.values().map(|n| pairs(*n)).sum(),
        predicted_pairs: by_root.values().map(|n| pairs(*n)).sum(),
        correct_pairs: by_both.values().map(|n| pairs(*n)).sum(),
        twin_false_merges,
        records: by_root.len(),
        people: by_person.len(),
    }
}

#[test]
fn synthetic_population_precision_and_recall() {
    let people: u64 = std::env::var("IMMUNIS_EVAL_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let today = NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
    let config = SynthConfig::new(people, 42, today);
    let (mut hl7, mut truth_csv) = (Vec::new(), Vec::new());
    write_population(&config, &mut hl7, &mut truth_csv).expect("synth");
    let truth_text = String::from_utf8(truth_csv).expect("utf-8 truth");
    let mut truth = HashMap::new();
    for line in truth_text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() >= 4 {
            truth.insert(f[0].to_string(), (f[1].to_string(), f[3].to_string()));
        }
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let store = immunis_store::open(dir.path(), None).expect("store");
    let reg = Registry::new(store.clone()).expect("registry");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let who = Submitter::Authenticated(console_admin());
    let inbound = Inbound {
        transport: "test",
        remote_addr: None,
    };
    let text = String::from_utf8(hl7).expect("utf-8 hl7");
    let started = std::time::Instant::now();
    rt.block_on(async {
        for m in text.split('\n').filter(|m| !m.is_empty()) {
            process_message(&reg, &who, m.as_bytes(), &inbound).await;
        }
    });
    let import_secs = started.elapsed().as_secs_f64();
    let after_ingest = measure(&reg, store.as_ref(), &truth);
    let started = std::time::Instant::now();
    let s = reg.dedup(&console_admin(), 2, &|_, _| {}).expect("dedup");
    let dedup_secs = started.elapsed().as_secs_f64();
    let after_dedup = measure(&reg, store.as_ref(), &truth);
    for (what, q) in [
        ("after ingest", &after_ingest),
        ("after dedup", &after_dedup),
    ] {
        eprintln!(
            "{what}: people {} records {} | true pairs {} predicted {} correct {} | precision {:.4} recall {:.4} | twin false merges {}",
            q.people,
            q.records,
            q.true_pairs,
            q.predicted_pairs,
            q.correct_pairs,
            q.precision(),
            q.recall(),
            q.twin_false_merges
        );
    }
    eprintln!("import {import_secs:.1} s; dedup {dedup_secs:.1} s: {s:?}");
    assert_eq!(after_dedup.twin_false_merges, 0, "twins merged");
    assert_eq!(after_ingest.twin_false_merges, 0, "twins linked at ingest");
    assert!(
        after_dedup.precision() >= 0.99,
        "precision {:.4}",
        after_dedup.precision()
    );
    assert!(after_dedup.recall() >= after_ingest.recall());
    // Measured 0.9876 after ingest and 0.9912 after dedup at 2,000 people (seed 42).
    assert!(
        after_dedup.recall() >= 0.98,
        "recall {:.4}",
        after_dedup.recall()
    );
}
