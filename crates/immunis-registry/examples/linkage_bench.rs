//! Linkage benchmark: bulk-loads N synthetic people (true demographics from
//! `immunis-synth`) with their blocking keys into a fresh SQLite registry,
//! then times matching single incoming records through the blocking index
//! (p50/p99 of `PatientMatcher::identify` in a read transaction) and a full
//! `dedup` run.
//!
//!     cargo run --release -p immunis-registry --example linkage_bench -- N [QUERIES] [DIR] [reuse]
//!
//! `reuse` keeps an earlier run's database in DIR (no load; probes are read
//! back from it). `LINKAGE_SKIP_DEDUP=1` stops after the matching probes;
//! `LINKAGE_MAX_CANDIDATES=N` caps the candidates scored per lookup (default
//! `DEFAULT_MAX_CANDIDATES`; a large N scores every candidate);
//! `LINKAGE_VARIANT_PROBES=1` also looks up people as their later (varied)
//! submissions carried them, with and without the cap (see
//! `variant_probes`). `LINKAGE_DUPLICATES=K` stores every K-th person twice
//! (the second record their later varied submission, without identifiers)
//! and checks `dedup` against that truth.
//! The loader stages each person's blocking keys and indexes them all in key
//! order at the end (`Tx::stage_blocking_keys`), a slice of the keys' hash bits per
//! transaction: inserted person by person, each key dirtied a random page of
//! a large index. Without `LINKAGE_DUPLICATES` the loaded population has
//! exactly one record per person, so every merge dedup makes is a false
//! merge.

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

    // Bulk load: true demographics + staged blocking keys, 20,000 people per
    // transaction, then the keys indexed in key order, a slice per
    // transaction.
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
                tx.stage_blocking_keys(id, &Linker::patient_keys(p))?;
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
    // `LINKAGE_DUPLICATES=K`: every K-th person also gets a second record,
    // their later varied submission without identifiers (as from a clinic
    // that never saw them), stored after everyone else; `dedup` should
    // merge each pair and nothing else.
    let dup_every: Option<usize> = std::env::var("LINKAGE_DUPLICATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|k| *k > 0);
    let mut duplicates: Vec<(immunis_model::Patient, immunis_model::PatientId)> = Vec::new();
    for person in Generator::new(config)?.take(if reuse { 0 } else { n as usize }) {
        if loaded.checked_rem(every) == Some(0) && probes.len() < queries {
            // The probe is a later submission: the first message's demographics.
            probes.push(person.patient.clone());
        }
        if dup_every.is_some_and(|k| loaded % k == k / 2) {
            if let Some(mut v) = later_variant(&person, today) {
                v.identifiers.clear();
                duplicates.push((v, immunis_model::PatientId(loaded as i64 + 1)));
            }
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
    for chunk in duplicates.chunks(20_000) {
        batch.extend(chunk.iter().map(|(p, _)| p.clone()));
        flush(&mut batch)?;
    }
    if !duplicates.is_empty() {
        eprintln!(
            "{} duplicate records stored after the people",
            duplicates.len()
        );
    }
    let staged_secs = started.elapsed().as_secs_f64();
    let mut keys = 0;
    if !reuse {
        // A slice of the keys' hash bits per transaction (about 500,000 people's
        // keys each): one transaction would hold the whole index in the WAL
        // beside the database while it checkpoints.
        let parts = (n / 500_000).max(1) as u32;
        for part in 0..parts {
            store.write(&mut |tx| {
                keys += tx.index_staged_blocking_keys_part(part, parts)?;
                Ok(())
            })?;
            if parts > 1 {
                eprintln!(
                    "indexed slice {} of {parts} in {:.1} s",
                    part + 1,
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    let load_secs = started.elapsed().as_secs_f64();
    println!(
        "bulk load: {n} people in {load_secs:.1} s ({:.0}/s; people and staged keys {staged_secs:.1} s, indexing {keys} keys {:.1} s)",
        n as f64 / load_secs,
        load_secs - staged_secs
    );

    // Single-record matching through the blocking index.
    // `LINKAGE_MAX_CANDIDATES=N`: score at most N candidates per lookup.
    let linker = match std::env::var("LINKAGE_MAX_CANDIDATES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(n) => {
            println!("at most {n} candidates per lookup");
            Linker::default().with_max_candidates(n)
        }
        None => Linker::default(),
    };
    let matcher = ProbabilisticMatcher::new(linker);
    let mut times = Vec::with_capacity(probes.len());
    let mut linked = 0;
    // How many people each probe's blocks hold (what the matcher may load).
    let mut blocked: Vec<usize> = Vec::with_capacity(probes.len());
    for p in &probes {
        let keys = Linker::patient_keys(p);
        store.read(&mut |tx| {
            blocked.push(
                tx.blocking_candidates(&keys, Linker::default().max_block())?
                    .0
                    .len(),
            );
            Ok(())
        })?;
    }
    blocked.sort_unstable();
    if let Some(max) = blocked.last() {
        println!(
            "people in a probe's blocks: p50 {}, p90 {}, p99 {}, max {max}",
            blocked[blocked.len() / 2],
            blocked[blocked.len() * 9 / 10],
            blocked[(blocked.len() * 99 / 100).min(blocked.len() - 1)],
        );
    }
    for p in &probes {
        let (ms, decision) = lookup(&store, &matcher, p)?;
        times.push(ms);
        if matches!(decision, immunis_registry::MatchDecision::Existing(_)) {
            linked += 1;
        }
    }
    times.sort_by(f64::total_cmp);
    let pct = |q: f64| percentile(&times, q);
    println!(
        "match one record at N={n}: {} probes, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} linked to an existing person)",
        times.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0),
        linked
    );

    if std::env::var_os("LINKAGE_VARIANT_PROBES").is_some() {
        variant_probes(&store, n, queries, today)?;
    }

    if std::env::var_os("LINKAGE_SKIP_DEDUP").is_some() {
        return Ok(());
    }
    // Bulk dedup over the whole registry.
    let reg = Registry::new(store.clone())?;
    let t = Instant::now();
    let s = reg.dedup(&console_admin(), 2, &|_, _| {})?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "dedup N={n}: {secs:.1} s ({:.0} records/s), {s:?}",
        s.records as f64 / secs
    );
    if !duplicates.is_empty() {
        // The i-th duplicate is record n + 1 + i; found when dedup put it
        // in its person's merge cluster.
        let mut found = 0u64;
        store.read(&mut |tx| {
            found = 0;
            for (i, (_, person)) in duplicates.iter().enumerate() {
                let dup = immunis_model::PatientId(n as i64 + 1 + i as i64);
                if tx.root_of(dup)? == tx.root_of(*person)? {
                    found += 1;
                }
            }
            Ok(())
        })?;
        let wrong = s.merged.saturating_sub(found);
        println!(
            "against the truth: {} injected duplicates, {found} merged with their person (recall {:.4}), {wrong} merges of different people (precision {:.4})",
            duplicates.len(),
            found as f64 / duplicates.len() as f64,
            if s.merged == 0 { 1.0 } else { found as f64 / s.merged as f64 }
        );
    }
    Ok(())
}

/// The person as a later submission carried them: the first of their
/// synthetic messages whose PID differs from the stored truth (nickname,
/// typo, dropped middle name, new address, newborn name…).
fn later_variant(
    person: &immunis_synth::SynthPerson,
    today: NaiveDate,
) -> Option<immunis_model::Patient> {
    let codes = immunis_model::CodeTables::embedded();
    person.messages.iter().find_map(|m| {
        let msg = immunis_hl7::Message::parse(&m.hl7).ok()?;
        let (sub, _) = immunis_hl7::vxu::interpret_vxu(&msg, today, codes);
        let p = sub?.submission.patient;
        (p != person.patient).then_some(p)
    })
}

/// `LINKAGE_VARIANT_PROBES=1`: the people as a later submission carried them
/// — for every N/QUERIES-th person, the first of their synthetic messages
/// whose PID differs from the stored truth (nickname, typo, dropped middle
/// name, new address, newborn name…) — looked up with every candidate and
/// with the cap (`LINKAGE_MAX_CANDIDATES`, default the registry's), in the
/// same run:
/// whether the cap loses true matches where blocks are large. The store
/// must be this benchmark's load of the same N (ids in generation order).
fn variant_probes(
    store: &std::sync::Arc<dyn immunis_store::Store>,
    n: u64,
    queries: usize,
    today: NaiveDate,
) -> Result<(), Box<dyn std::error::Error>> {
    use immunis_model::PatientId;
    use immunis_registry::MatchDecision;
    let mut config = SynthConfig::new(n, 7, today);
    config.facilities = 40;
    let every = (n as usize / queries.max(1)).max(1);
    let mut probes: Vec<(immunis_model::Patient, PatientId)> = Vec::new();
    for (i, person) in Generator::new(config)?.enumerate() {
        if i % every != 0 {
            continue;
        }
        if let Some(p) = later_variant(&person, today) {
            probes.push((p, PatientId(i as i64 + 1)));
        }
        if probes.len() >= queries {
            break;
        }
    }
    let cap: usize = std::env::var("LINKAGE_MAX_CANDIDATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(immunis_registry::DEFAULT_MAX_CANDIDATES);
    // As sent, a probe whose identifier the stored person holds takes the
    // deterministic step and never searches the blocks; without its
    // identifiers (a clinic the person never visited) every probe does.
    let stripped: Vec<(immunis_model::Patient, PatientId)> = probes
        .iter()
        .map(|(p, id)| {
            let mut p = p.clone();
            p.identifiers.clear();
            (p, *id)
        })
        .collect();
    for (set, label, linker) in [
        (
            &probes,
            "every candidate".to_string(),
            Linker::default().with_max_candidates(usize::MAX),
        ),
        (
            &probes,
            format!("at most {cap} candidates"),
            Linker::default().with_max_candidates(cap),
        ),
        (
            &stripped,
            "without identifiers, every candidate".to_string(),
            Linker::default().with_max_candidates(usize::MAX),
        ),
        (
            &stripped,
            format!("without identifiers, at most {cap} candidates"),
            Linker::default().with_max_candidates(cap),
        ),
    ] {
        let matcher = ProbabilisticMatcher::new(linker);
        let (mut right, mut review, mut wrong, mut missed) = (0, 0, 0, 0);
        let mut times = Vec::with_capacity(probes.len());
        for (p, truth) in set {
            let (ms, decision) = lookup(store, &matcher, p)?;
            times.push(ms);
            match decision {
                MatchDecision::Existing(id) if id == *truth => right += 1,
                MatchDecision::Existing(_) => wrong += 1,
                MatchDecision::Review(c) if c.iter().any(|c| c.patient_id == *truth) => review += 1,
                _ => missed += 1,
            }
        }
        times.sort_by(f64::total_cmp);
        let pct = |q: f64| percentile(&times, q);
        println!(
            "variant probes, {label}: {} probes; linked to the right person {right}, queued with them {review}, linked elsewhere {wrong}, not found {missed}; p50 {:.3} ms, p99 {:.3} ms",
            set.len(),
            pct(0.5),
            pct(0.99),
        );
    }
    Ok(())
}

/// One lookup in its own read transaction: (milliseconds, decision).
fn lookup(
    store: &std::sync::Arc<dyn immunis_store::Store>,
    matcher: &ProbabilisticMatcher,
    p: &immunis_model::Patient,
) -> Result<(f64, immunis_registry::MatchDecision), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let mut decision = immunis_registry::MatchDecision::New;
    store.read(&mut |tx| {
        decision = matcher.identify(tx, p, &[])?;
        Ok(())
    })?;
    Ok((t.elapsed().as_secs_f64() * 1000.0, decision))
}

/// The `q` quantile of sorted `times`.
fn percentile(times: &[f64], q: f64) -> f64 {
    times[((times.len() as f64 - 1.0) * q).round() as usize]
}
