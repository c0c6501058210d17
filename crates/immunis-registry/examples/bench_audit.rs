//! Audit overhead benchmark: the same synthetic workload with the audit
//! trail on and off, in the same run, alternating (on, off, on, off) on fresh
//! SQLite stores so neither side gets a warmer cache.
//!
//! Ingest: every VXU of a synthetic population through the registry's HL7
//! service (parse, validate, match, apply, journal, ACK, audit), IN_FLIGHT
//! (default 64) in flight so the group commit batches them. Query: a record read
//! (`patient_record_with`, consent state + policy + consolidation + audit,
//! rendered to the JSON API's answer) of every person, five times over,
//! IN_FLIGHT at a time. HL7 query: a QBP Z34
//! for the person of every other message, IN_FLIGHT at a time. CPU time per
//! operation (from /proc/self/stat) is printed beside the rates. Chart: the
//! record read plus CDSi evaluation and forecast (`portal_chart_with`).
//!
//!     cargo run --release -p immunis-registry --example bench_audit -- [PEOPLE] [ROUNDS] [IN_FLIGHT] [on|off]
//!
//! `BENCH_READ_REPEAT=N` reads (and charts) every person N times instead of
//! five: a longer read phase, steadier figures.
//!
//! `BENCH_INTERLEAVE=CHUNK`: one store instead of fresh ones per side, and
//! within every phase the audit is switched on and off every CHUNK
//! operations (on, off, off, on, … so neither side always goes first), the
//! CPU and wall time of each chunk added to its side; an "on" chunk ends
//! with the fold of its spooled entries, so it pays for them. Drift in the
//! machine's speed (this VM's identical runs differ by ±30 %) then falls on
//! both sides alike; `ROUNDS` repeats the whole thing on fresh stores.
//!
//! `BENCH_HOLD_US=N` (with `BENCH_INTERLEAVE`): an experiment, not the
//! audit — the audit stays off and the "on" chunks instead hold each
//! finished answer (and its task) for N µs before dropping it, as an
//! audited read holds it while its entry is synced. It tells the cost of
//! the wait itself from the cost of the audit's work.

mod common;
use common::cpu_secs;

/// The allocator the `immunis` binary runs with (glibc's malloc behaves
/// differently enough under this load to swing the results).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::sync::Arc;
use std::time::Instant;

use immunis_model::PatientId;
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::{console_admin, Actor, Purpose, Registry};

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

/// Ends a phase: folds the phase's own spooled audit entries into the trail
/// (their cost is the phase's), notes the wall time, then waits until the
/// store is quiet (the background WAL checkpoint of what the phase wrote
/// finishes) and notes the CPU time. So each phase is billed for its own
/// deferred work, and the next one starts from the same state whether the
/// audit was on or off (without this, the ingest's checkpoint ran into the
/// read phase and the read figures swung by ±30 % between identical rounds).
async fn end_phase(reg: &Registry, start: Instant, cpu0: f64) -> (f64, f64) {
    reg.flush_audit().expect("fold the audit spool");
    let secs = start.elapsed().as_secs_f64();
    tokio::time::sleep(std::time::Duration::from_millis(SETTLE_MS)).await;
    (secs, cpu_secs() - cpu0)
}

/// How long a phase's background work is given to finish (the checkpointer
/// runs every 250 ms).
const SETTLE_MS: u64 = 1500;

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2025, 6, 30).expect("date")
}

/// A fresh SQLite registry with the synthetic population's facilities, and
/// that population's VXU messages (not yet sent).
fn setup(people: u64) -> (tempfile::TempDir, Arc<Registry>, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = Registry::new(immunis_registry::open_store(dir.path(), None).expect("store"))
        .expect("registry");
    let generator =
        immunis_synth::Generator::new(immunis_synth::SynthConfig::new(people, 1, today()))
            .expect("generator");
    common::register_facilities(&reg, &generator);
    let messages = generator
        .flat_map(|p| p.messages.into_iter().map(|m| m.hl7))
        .collect();
    (dir, reg, messages)
}

/// A QBP Z34 for the person of every other message.
fn z34_queries(messages: &[String]) -> Vec<String> {
    messages
        .iter()
        .enumerate()
        .step_by(2)
        .filter_map(|(i, m)| immunis_hl7::qbp::z34_query_for(m, i))
        .collect()
}

/// Who reads (the first facility) and what: every person five times (or
/// `BENCH_READ_REPEAT`), interleaved.
fn read_work(reg: &Registry) -> (Actor, Vec<i64>) {
    let admin = console_admin();
    let (patients, _) = reg.counts(&admin).expect("counts");
    let reader = reg
        .facility_actor(
            &reg.list_facilities(&admin).expect("facilities")[0].0.code,
            None,
        )
        .expect("reader");
    let repeat: i64 = std::env::var("BENCH_READ_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    (reader, (0..repeat).flat_map(|_| 1..=patients).collect())
}

async fn run(audit: bool, people: u64, inflight: usize) -> Run {
    let (_dir, reg, messages) = setup(people);
    let today = today();
    let admin = console_admin();
    reg.set_audit_enabled_for_benchmark(audit);
    let who = Submitter::Authenticated(admin.clone());
    eprintln!("phase ingest"); // a marker for attaching a profiler
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
    let (ingest_secs, ingest_cpu) = end_phase(&reg, start, cpu0).await;
    let (reader, ids) = read_work(&reg);
    eprintln!("phase reads"); // a marker for attaching a profiler
    let cpu0 = cpu_secs();
    let start = Instant::now();
    let (r, a) = (reg.clone(), reader.clone());
    pipelined(ids.clone(), inflight, move |id: i64| {
        let (reg, actor) = (r.clone(), a.clone());
        async move {
            let _ = read_one(&reg, &actor, id).await;
        }
    })
    .await;
    let (read_secs, read_cpu) = end_phase(&reg, start, cpu0).await;
    // The chart: the same reads plus the CDSi evaluation and forecast (what
    // the portal chart and a record with its forecast cost).
    eprintln!("phase charts"); // a marker for attaching a profiler
    let cpu0 = cpu_secs();
    let start = Instant::now();
    let (r, a) = (reg.clone(), reader.clone());
    pipelined(ids.clone(), inflight, move |id: i64| {
        let (reg, actor) = (r.clone(), a.clone());
        async move {
            let _ = chart_one(&reg, &actor, id, today).await;
        }
    })
    .await;
    let (chart_secs, chart_cpu) = end_phase(&reg, start, cpu0).await;
    // QBP Z34 for the person of every other message (the HL7 query path:
    // the query and its response are journaled in the same commit as the
    // audit entry).
    let queries = z34_queries(&messages);
    eprintln!("phase z34"); // a marker for attaching a profiler
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
    let (query_secs, query_cpu) = end_phase(&reg, start, cpu0).await;
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

/// One record read as the JSON API answers it: the record, rendered to the
/// API's JSON (id, flags, each dose's CVX, date and facility) while the
/// audit entry is made durable.
async fn read_one(reg: &Registry, actor: &Actor, id: i64) -> Option<String> {
    reg.patient_record_with(actor, Purpose::Treatment, PatientId(id), |rec| {
        let doses: Vec<_> = rec
            .doses
            .iter()
            .map(|d| {
                serde_json::json!({
                    "cvx": d.primary.event.cvx.as_ref().map(|c| c.as_str().to_string()),
                    "date": d.primary.event.administered_date.map(|x| x.to_string()),
                    "facility": d.primary.facility_code,
                })
            })
            .collect();
        serde_json::json!({
            "id": rec.id.0,
            "restricted": rec.restricted,
            "objection_to_sharing": rec.objection_active,
            "doses": doses,
        })
        .to_string()
    })
    .await
    .ok()
}

/// One chart as the portal's chart page takes it: built (CDSi evaluation
/// and forecast) and summarised while the audit entry is made durable. The
/// summary stands in for the page (the web crate renders HTML there): it is
/// cheap, so the audit's share of the chart looks no smaller than it is.
async fn chart_one(
    reg: &Registry,
    actor: &Actor,
    id: i64,
    today: chrono::NaiveDate,
) -> Option<usize> {
    reg.portal_chart_with(actor, PatientId(id), today, |c| {
        c.groups.iter().map(|g| g.doses.len()).sum::<usize>()
    })
    .await
    .ok()
}

/// `BENCH_HOLD_US`: the "on" side of an interleaved run holds each record
/// answer this long instead of auditing (0: off).
static HOLD_US: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Whether the current chunk holds (set by `interleaved`).
static HOLDING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Per side (on, off): operations, wall seconds, CPU seconds.
#[derive(Default, Clone, Copy)]
struct Sides {
    on: (usize, f64, f64),
    off: (usize, f64, f64),
}

impl Sides {
    fn add(&mut self, other: Sides) {
        for (a, b) in [(&mut self.on, other.on), (&mut self.off, other.off)] {
            a.0 += b.0;
            a.1 += b.1;
            a.2 += b.2;
        }
    }

    fn print(&self, what: &str) {
        let rate = |s: (usize, f64, f64)| s.0 as f64 / s.1;
        let cpu = |s: (usize, f64, f64)| s.2 / s.0 as f64 * 1e6;
        println!(
            "{what:>8}: on {:>6} ops {:>8.0}/s {:>6.0} µs CPU | off {:>6} ops {:>8.0}/s {:>6.0} µs CPU | throughput overhead {:+5.1}% CPU overhead {:+5.1}%",
            self.on.0,
            rate(self.on),
            cpu(self.on),
            self.off.0,
            rate(self.off),
            cpu(self.off),
            (rate(self.off) / rate(self.on) - 1.0) * 100.0,
            (cpu(self.on) / cpu(self.off) - 1.0) * 100.0,
        );
    }
}

/// Runs `items` in chunks of `chunk`, the audit on and off by turns
/// (on, off, off, on, …), each chunk pipelined with `inflight` in flight.
async fn interleaved<T, F, Fut>(
    reg: &Registry,
    items: Vec<T>,
    chunk: usize,
    inflight: usize,
    f: F,
) -> Sides
where
    T: Send + Clone + 'static,
    F: Fn(T) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut sides = Sides::default();
    for (i, batch) in items.chunks(chunk.max(1)).enumerate() {
        let on = matches!(i % 4, 0 | 3);
        let hold = HOLD_US.load(std::sync::atomic::Ordering::Relaxed) > 0;
        reg.set_audit_enabled_for_benchmark(on && !hold);
        HOLDING.store(on && hold, std::sync::atomic::Ordering::Relaxed);
        let cpu0 = cpu_secs();
        let start = Instant::now();
        pipelined(batch.to_vec(), inflight, f.clone()).await;
        if on {
            reg.flush_audit().expect("fold the audit spool");
        }
        let side = if on { &mut sides.on } else { &mut sides.off };
        side.0 += batch.len();
        side.1 += start.elapsed().as_secs_f64();
        side.2 += cpu_secs() - cpu0;
    }
    reg.set_audit_enabled_for_benchmark(true);
    sides
}

/// The interleaved run on one fresh store: (ingest, reads, charts, Z34).
async fn run_interleaved(people: u64, inflight: usize, chunk: usize) -> [Sides; 4] {
    let (_dir, reg, messages) = setup(people);
    let today = today();
    let admin = console_admin();
    let who = Submitter::Authenticated(admin.clone());
    let (r, w) = (reg.clone(), who.clone());
    let ingest = interleaved(&reg, messages.clone(), chunk, inflight, move |m: String| {
        let (reg, who) = (r.clone(), w.clone());
        async move {
            process_message(&reg, &who, m.as_bytes(), &bench_inbound()).await;
        }
    })
    .await;
    let (reader, ids) = read_work(&reg);
    let (r, a) = (reg.clone(), reader.clone());
    let reads = interleaved(&reg, ids.clone(), chunk, inflight, move |id: i64| {
        let (reg, actor) = (r.clone(), a.clone());
        async move {
            let answer = read_one(&reg, &actor, id).await;
            if HOLDING.load(std::sync::atomic::Ordering::Relaxed) {
                let us = HOLD_US.load(std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_micros(us)).await;
            }
            drop(answer);
        }
    })
    .await;
    let (r, a) = (reg.clone(), reader.clone());
    let charts = interleaved(&reg, ids, chunk, inflight, move |id: i64| {
        let (reg, actor) = (r.clone(), a.clone());
        async move {
            let _ = chart_one(&reg, &actor, id, today).await;
        }
    })
    .await;
    let queries = z34_queries(&messages);
    let (r, w) = (reg.clone(), who.clone());
    let z34 = interleaved(&reg, queries, chunk, inflight, move |q: String| {
        let (reg, who) = (r.clone(), w.clone());
        async move {
            process_message(&reg, &who, q.as_bytes(), &bench_inbound()).await;
        }
    })
    .await;
    [ingest, reads, charts, z34]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let people: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let inflight: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    println!("{people} people, {rounds} rounds, {inflight} requests in flight");
    if let Some(chunk) = std::env::var("BENCH_INTERLEAVE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        println!("interleaved: audit on/off every {chunk} operations on one store per round");
        if let Some(us) = std::env::var("BENCH_HOLD_US")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            println!("experiment: audit off throughout; \"on\" reads hold their answer {us} µs");
            HOLD_US.store(us, std::sync::atomic::Ordering::Relaxed);
        }
        let names = ["ingest", "reads", "charts", "Z34"];
        let mut total = [Sides::default(); 4];
        for round in 0..rounds {
            let r = run_interleaved(people, inflight, chunk).await;
            println!("round {}", round + 1);
            for (i, s) in r.iter().enumerate() {
                s.print(names[i]);
                total[i].add(*s);
            }
        }
        println!("all rounds");
        for (i, s) in total.iter().enumerate() {
            s.print(names[i]);
        }
        return;
    }
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
