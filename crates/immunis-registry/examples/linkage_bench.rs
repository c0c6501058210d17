//! Linkage benchmark: bulk-loads N synthetic people (true demographics from
//! `immunis-synth`) with their blocking keys into a fresh SQLite registry,
//! then times matching single incoming records through the blocking index
//! (p50/p99 of `PatientMatcher::identify` in a read transaction) and a full
//! `dedup` run.
//!
//!     cargo run --release -p immunis-registry --example linkage_bench -- N [QUERIES] [DIR] [reuse]
//!
//! `reuse` keeps an earlier run's database in DIR (no load; probes are read
//! back from it). The loaded population has exactly one record per person,
//! so every merge dedup makes there is a false merge.

use std::time::Instant;

use chrono::NaiveDate;
use immunis_registry::{console_admin, Linker, PatientMatcher, ProbabilisticMatcher, Registry};
use immunis_synth::{Generator, SynthConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let queries: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(2000);
    let dir = match args.get(3) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("immunis-linkage-bench-{n}")),
    };
    let reuse = args.get(4).is_some_and(|a| a == "reuse");
    if !reuse {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let store = immunis_store::open(&dir, None)?;
    let today = NaiveDate::from_ymd_opt(2025, 6, 30).ok_or("date")?;
    let mut config = SynthConfig::new(n, 7, today);
    config.facilities = 40;

    // Bulk load: true demographics + blocking keys, 20,000 people per transaction.
    let started = Instant::now();
    let mut probes = Vec::new();
    let mut batch = Vec::with_capacity(20_000);
    let every = (n as usize / queries.max(1)).max(1);
    let mut loaded = 0usize;
    let flush = |batch: &mut Vec<immunis_model::Patient>| -> Result<(), immunis_store::StoreError> {
        let b = std::mem::take(batch);
        store.write(&mut |tx| {
            for p in &b {
                let id = tx.insert_patient(p, None)?;
                tx.add_blocking_keys(id, &Linker::patient_keys(p))?;
            }
            Ok(())
        })
    };
    if reuse {
        let every = (n / queries.max(1) as u64).max(1) as i64;
        store.read(&mut |tx| {
            for i in 0..queries as i64 {
                if let Some(p) = tx.load_patient(immunis_model::PatientId(1 + i * every))? {
                    probes.push(p.patient);
                }
            }
            Ok(())
        })?;
    }
    for person in Generator::new(config)?.take(if reuse { 0 } else { n as usize }) {
        if loaded.checked_rem(every) == Some(0) && probes.len() < queries {
            // The probe is a later submission: the first message's demographics.
            probes.push(person.patient.clone());
        }
        batch.push(person.patient);
        loaded += 1;
        if batch.len() == 20_000 {
            flush(&mut batch)?;
            eprintln!(
                "loaded {loaded} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    if !batch.is_empty() {
        flush(&mut batch)?;
    }
    let load_secs = started.elapsed().as_secs_f64();
    println!(
        "bulk load: {n} people in {load_secs:.1} s ({:.0}/s)",
        n as f64 / load_secs
    );

    // Single-record matching through the blocking index.
    let matcher = ProbabilisticMatcher::default();
    let mut times = Vec::with_capacity(probes.len());
    let mut linked = 0;
    for p in &probes {
        let t = Instant::now();
        let mut decision = None;
        store.read(&mut |tx| {
            decision = Some(matcher.identify(tx, p, &[])?);
            Ok(())
        })?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if matches!(decision, Some(immunis_registry::MatchDecision::Existing(_))) {
            linked += 1;
        }
    }
    times.sort_by(f64::total_cmp);
    let pct = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "match one record at N={n}: {} probes, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} linked to an existing person)",
        times.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0),
        linked
    );

    // Bulk dedup over the whole registry.
    let reg = Registry::new(store.clone())?;
    let t = Instant::now();
    let s = reg.dedup(&console_admin(), 2, &|_, _| {})?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "dedup N={n}: {secs:.1} s ({:.0} records/s), {s:?}",
        s.records as f64 / secs
    );
    Ok(())
}
