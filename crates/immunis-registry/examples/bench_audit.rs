//! Audit overhead benchmark: the same synthetic workload with the audit
//! trail on and off, in the same run, alternating (on, off, on, off) on fresh
//! SQLite stores so neither side gets a warmer cache.
//!
//! Ingest: every VXU of a synthetic population through the registry's HL7
//! service (parse, validate, match, apply, journal, ACK, audit), IN_FLIGHT
//! (default 64) in flight so the group commit batches them. Query: a record read
//! (`patient_record`, consent state + policy + consolidation + audit) of
//! every person, five times over, IN_FLIGHT at a time. HL7 query: a QBP Z34
//! for the person of every other message, IN_FLIGHT at a time. CPU time per
//! operation (from /proc/self/stat) is printed beside the rates. Chart: the
//! record read plus CDSi evaluation and forecast (`portal_chart`).
//!
//!     cargo run --release -p immunis-registry --example bench_audit -- [PEOPLE] [ROUNDS] [IN_FLIGHT]

mod common;
use common::cpu_secs;

/// The allocator the `immunis` binary runs with (glibc's malloc behaves
/// differently enough under this load to swing the results).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::sync::Arc;
use std::time::Instant;

use immunis_model::{OrganizationKind, PatientId};
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::{console_admin, Purpose, Registry};

struct Run {
    messages: usize,
    ingest_secs: f64,
    ingest_cpu: f64,
    reads: usize,
    read_secs: f64,
    read_cpu: f64,
    queries: usize,
    query_secs: f64,
    query_cpu: f64,
    chart_secs: f64,
    chart_cpu: f64,
}

fn bench_inbound() -> Inbound {
    Inbound {
        transport: "bench",
        remote_addr: None,
    }
}

/// Runs `f` over `items` with `inflight` always in flight (the next starts
/// as soon as one finishes), like clients that keep sending; not in lock-step
/// waves, which would make every wave wait for the slowest commit.
async fn pipelined<T, F, Fut>(items: Vec<T>, inflight: usize, f: F)
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(tokio::sync::Semaphore::new(inflight.max(1)));
    let f = Arc::new(f);
    let mut tasks = Vec::with_capacity(items.len());
    for item in items {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            f(item).await;
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
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
    let cpu0 = cpu_secs();
    let start = Instant::now();
    let (r, w) = (reg.clone(), who.clone());
    pipelined(messages.clone(), inflight, move |m: String| {
        let (reg, who) = (r.clone(), w.clone());
        async move {
            process_message(&reg, &who, m.as_bytes(), &bench_inbound()).await;
        }
    })
    .await;
    let ingest_secs = start.elapsed().as_secs_f64();
    let ingest_cpu = cpu_secs() - cpu0;
    let (patients, _) = reg.counts(&admin).expect("counts");
    let reader = reg
        .facility_actor(
            &reg.list_facilities(&admin).expect("facilities")[0].0.code,
            None,
        )
        .expect("reader");
    // Every person read five times, interleaved.
    let ids: Vec<i64> = (0..5).flat_map(|_| 1..=patients).collect();
    let cpu0 = cpu_secs();
    let start = Instant::now();
    let (r, a) = (reg.clone(), reader.clone());
    pipelined(ids.clone(), inflight, move |id: i64| {
        let (reg, actor) = (r.clone(), a.clone());
        async move {
            let _ = reg
                .patient_record(&actor, Purpose::Treatment, PatientId(id))
                .await;
        }
    })
    .await;
    let read_secs = start.elapsed().as_secs_f64();
    let read_cpu = cpu_secs() - cpu0;
    // The chart: the same reads plus the CDSi evaluation and forecast (what
    // the portal chart and a record with its forecast cost).
    let cpu0 = cpu_secs();
    let start = Instant::now();
    let (r, a) = (reg.clone(), reader.clone());
    pipelined(ids.clone(), inflight, move |id: i64| {
        let (reg, actor) = (r.clone(), a.clone());
        async move {
            let _ = reg.portal_chart(&actor, PatientId(id), today).await;
        }
    })
    .await;
    let chart_secs = start.elapsed().as_secs_f64();
    let chart_cpu = cpu_secs() - cpu0;
    // QBP Z34 for the person of every other message (the HL7 query path:
    // the query and its response are journaled in the same commit as the
    // audit entry).
    let queries: Vec<String> = messages
        .iter()
        .enumerate()
        .step_by(2)
        .filter_map(|(i, m)| immunis_hl7::qbp::z34_query_for(m, i))
        .collect();
    let cpu0 = cpu_secs();
    let start = Instant::now();
    let (r, w) = (reg.clone(), who.clone());
    let n_queries = queries.len();
    pipelined(queries, inflight, move |q: String| {
        let (reg, who) = (r.clone(), w.clone());
        async move {
            process_message(&reg, &who, q.as_bytes(), &bench_inbound()).await;
        }
    })
    .await;
    let query_secs = start.elapsed().as_secs_f64();
    let query_cpu = cpu_secs() - cpu0;
    Run {
        chart_secs,
        chart_cpu,
        queries: n_queries,
        query_secs,
        query_cpu,
        messages: messages.len(),
        ingest_secs,
        ingest_cpu,
        reads: ids.len(),
        read_secs,
        read_cpu,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let people: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let inflight: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    println!("{people} people, {rounds} rounds, {inflight} requests in flight");
    let mut on = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let mut off = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    // An optional 4th argument "on" or "off" runs one side only (for profiling).
    let sides: Vec<bool> = match args.next().as_deref() {
        Some("on") => vec![true],
        Some("off") => vec![false],
        _ => vec![true, false],
    };
    for round in 0..rounds {
        for &audit in &sides {
            let r = run(audit, people, inflight).await;
            let ingest = r.messages as f64 / r.ingest_secs;
            let read = r.reads as f64 / r.read_secs;
            println!(
                "round {} audit {:3}: ingest {} msgs in {:.2}s = {:.0} msg/s ({:.0} µs CPU/msg); reads {} in {:.2}s = {:.0} reads/s ({:.0} µs CPU/read)",
                round + 1,
                if audit { "on" } else { "off" },
                r.messages,
                r.ingest_secs,
                ingest,
                r.ingest_cpu / r.messages as f64 * 1e6,
                r.reads,
                r.read_secs,
                read,
                r.read_cpu / r.reads as f64 * 1e6,
            );
            let slot = if audit { &mut on } else { &mut off };
            slot.0 += r.ingest_secs / r.messages as f64;
            slot.1 += r.read_secs / r.reads as f64;
            slot.2 += r.ingest_cpu / r.messages as f64;
            slot.3 += r.read_cpu / r.reads as f64;
            slot.4 += r.query_secs / r.queries as f64;
            slot.5 += r.query_cpu / r.queries as f64;
            slot.6 += r.chart_secs / r.reads as f64;
            slot.7 += r.chart_cpu / r.reads as f64;
            println!(
                "             charts {} in {:.2}s = {:.0} charts/s ({:.0} µs CPU/chart)",
                r.reads,
                r.chart_secs,
                r.reads as f64 / r.chart_secs,
                r.chart_cpu / r.reads as f64 * 1e6,
            );
            println!(
                "             Z34 queries {} in {:.2}s = {:.0} queries/s ({:.0} µs CPU/query)",
                r.queries,
                r.query_secs,
                r.queries as f64 / r.query_secs,
                r.query_cpu / r.queries as f64 * 1e6,
            );
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
    println!(
        "mean Z34:    audit on {:.0} queries/s, off {:.0} queries/s, overhead {:.1}%",
        rate(on.4),
        rate(off.4),
        (on.4 / off.4 - 1.0) * 100.0
    );
    println!(
        "CPU per op:  ingest on {:.0} µs, off {:.0} µs ({:+.1}%); reads on {:.0} µs, off {:.0} µs ({:+.1}%)",
        on.2 / rounds as f64 * 1e6,
        off.2 / rounds as f64 * 1e6,
        (on.2 / off.2 - 1.0) * 100.0,
        on.3 / rounds as f64 * 1e6,
        off.3 / rounds as f64 * 1e6,
        (on.3 / off.3 - 1.0) * 100.0
    );
    println!(
        "mean charts: audit on {:.0} charts/s, off {:.0} charts/s, overhead {:.1}%; CPU per chart on {:.0} µs, off {:.0} µs ({:+.1}%)",
        rate(on.6),
        rate(off.6),
        (on.6 / off.6 - 1.0) * 100.0,
        on.7 / rounds as f64 * 1e6,
        off.7 / rounds as f64 * 1e6,
        (on.7 / off.7 - 1.0) * 100.0
    );
    println!(
        "CPU per Z34: on {:.0} µs, off {:.0} µs ({:+.1}%)",
        on.5 / rounds as f64 * 1e6,
        off.5 / rounds as f64 * 1e6,
        (on.5 / off.5 - 1.0) * 100.0
    );
}
