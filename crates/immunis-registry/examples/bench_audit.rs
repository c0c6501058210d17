//! Audit overhead benchmark: the same synthetic workload with the audit
//! trail on and off, in the same run, alternating (on, off, on, off) on fresh
//! SQLite stores so neither side gets a warmer cache.
//!
//! Ingest: every VXU of a synthetic population through the registry's HL7
//! service (parse, validate, match, apply, journal, ACK, audit), IN_FLIGHT
//! (default 64) at a time so the group commit batches them. Query: a record read
//! (`patient_record`, consent state + policy + consolidation + audit) of
//! every person, five times over, IN_FLIGHT at a time.
//!
//!     cargo run --release -p immunis-registry --example bench_audit -- [PEOPLE] [ROUNDS] [IN_FLIGHT]

use std::sync::Arc;
use std::time::Instant;

use immunis_model::{OrganizationKind, PatientId};
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::{console_admin, Purpose, Registry};

struct Run {
    messages: usize,
    ingest_secs: f64,
    reads: usize,
    read_secs: f64,
}

async fn run(audit: bool, people: u64, inflight: usize) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = Registry::new(immunis_registry::open_store(dir.path(), None).expect("store"))
        .expect("registry");
    let today = chrono::NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
    let generator =
        immunis_synth::Generator::new(immunis_synth::SynthConfig::new(people, 1, today))
            .expect("generator");
    let admin = console_admin();
    for f in generator.facilities() {
        reg.register_facility(
            &admin,
            &f.name,
            OrganizationKind::Provider,
            &f.code,
            &f.name,
        )
        .expect("facility");
    }
    let messages: Vec<String> = generator
        .flat_map(|p| p.messages.into_iter().map(|m| m.hl7))
        .collect();
    reg.set_audit_enabled_for_benchmark(audit);
    let who = Submitter::Authenticated(admin.clone());
    let start = Instant::now();
    for chunk in messages.chunks(inflight) {
        let mut tasks = Vec::with_capacity(chunk.len());
        for m in chunk {
            let (reg, who, m) = (reg.clone(), who.clone(), m.clone());
            tasks.push(tokio::spawn(async move {
                let inbound = Inbound {
                    transport: "bench",
                    remote_addr: None,
                };
                process_message(&reg, &who, m.as_bytes(), &inbound).await
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
    }
    let ingest_secs = start.elapsed().as_secs_f64();
    let (patients, _) = reg.counts(&admin).expect("counts");
    let reader = reg
        .facility_actor(
            &reg.list_facilities(&admin).expect("facilities")[0].0.code,
            None,
        )
        .expect("reader");
    // Every person read five times, interleaved.
    let ids: Vec<i64> = (0..5).flat_map(|_| 1..=patients).collect();
    let start = Instant::now();
    for chunk in ids.chunks(inflight) {
        let mut tasks = Vec::with_capacity(chunk.len());
        for &id in chunk {
            let (reg, actor): (Arc<Registry>, _) = (reg.clone(), reader.clone());
            tasks.push(tokio::spawn(async move {
                let _ = reg
                    .patient_record(&actor, Purpose::Treatment, PatientId(id))
                    .await;
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
    }
    let read_secs = start.elapsed().as_secs_f64();
    Run {
        messages: messages.len(),
        ingest_secs,
        reads: ids.len(),
        read_secs,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let people: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let inflight: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    println!("{people} people, {rounds} rounds, {inflight} requests in flight");
    let mut on = (0.0, 0.0);
    let mut off = (0.0, 0.0);
    for round in 0..rounds {
        for audit in [true, false] {
            let r = run(audit, people, inflight).await;
            let ingest = r.messages as f64 / r.ingest_secs;
            let read = r.reads as f64 / r.read_secs;
            println!(
                "round {} audit {:3}: ingest {} msgs in {:.2}s = {:.0} msg/s; reads {} in {:.2}s = {:.0} reads/s",
                round + 1,
                if audit { "on" } else { "off" },
                r.messages,
                r.ingest_secs,
                ingest,
                r.reads,
                r.read_secs,
                read
            );
            let slot = if audit { &mut on } else { &mut off };
            slot.0 += r.ingest_secs / r.messages as f64;
            slot.1 += r.read_secs / r.reads as f64;
        }
    }
    let rate = |per: f64| rounds as f64 / per;
    println!(
        "mean ingest: audit on {:.0} msg/s, off {:.0} msg/s, overhead {:.1}%",
        rate(on.0),
        rate(off.0),
        (on.0 / off.0 - 1.0) * 100.0
    );
    println!(
        "mean reads:  audit on {:.0} reads/s, off {:.0} reads/s, overhead {:.1}%",
        rate(on.1),
        rate(off.1),
        (on.1 / off.1 - 1.0) * 100.0
    );
}
