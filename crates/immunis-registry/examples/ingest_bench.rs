//! In-process ingest benchmark: a synthetic population's VXUs through
//! `process_message` (the HL7 service every transport calls) with N messages
//! in flight, so the group-commit writer sees the same batches as over MLLP,
//! without sockets. Meant for `valgrind --tool=callgrind` (instruction counts
//! are stable on a loaded machine) and quick before/after timings.
//!
//!     cargo run --release -p immunis-registry --example ingest_bench -- PEOPLE [IN_FLIGHT] [DIR]
//!
//! `IMMUNIS_DATABASE_URL` selects PostgreSQL instead of SQLite under DIR (a
//! temporary directory by default).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use immunis_model::{PatientId, PatientIdentifier};
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::{console_admin, Registry};
use immunis_synth::{write_population, SynthConfig};

// As in the `immunis` binary: the counts include the allocator it uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let people: u64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(300);
    let in_flight: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(8);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = args
        .get(3)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let url = std::env::var("IMMUNIS_DATABASE_URL").ok();

    let today = NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
    let config = SynthConfig::new(people, 1, today);
    let mut hl7 = Vec::new();
    let mut truth_csv = Vec::new();
    write_population(&config, &mut hl7, &mut truth_csv).expect("synth");
    let text = String::from_utf8(hl7).expect("utf-8 hl7");
    let messages: Vec<Vec<u8>> = text
        .split('\n')
        .filter(|m| !m.is_empty())
        .map(|m| m.as_bytes().to_vec())
        .collect();
    let truth = Truth::new(&String::from_utf8_lossy(&truth_csv), &messages);

    let store = immunis_store::open(&dir, url.as_deref()).expect("store");
    let reg = Arc::new(Registry::new(store).expect("registry"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let total = messages.len();
    let mut shares: Vec<Vec<Vec<u8>>> = (0..in_flight.max(1)).map(|_| Vec::new()).collect();
    let n = shares.len();
    for (i, m) in messages.into_iter().enumerate() {
        shares[i % n].push(m);
    }
    let io_before = proc_io();
    let started = Instant::now();
    let codes = rt.block_on(async {
        let tasks: Vec<_> = shares
            .into_iter()
            .map(|share| {
                let reg = reg.clone();
                tokio::spawn(async move {
                    let who = Submitter::Authenticated(console_admin());
                    let inbound = Inbound {
                        transport: "bench",
                        remote_addr: None,
                    };
                    let mut aa = 0u64;
                    for m in share {
                        let reply = process_message(&reg, &who, &m, &inbound).await;
                        if String::from_utf8_lossy(&reply).contains("MSA|AA") {
                            aa += 1;
                        }
                    }
                    aa
                })
            })
            .collect();
        let mut aa = 0;
        for t in tasks {
            aa += t.await.expect("task");
        }
        aa
    });
    let secs = started.elapsed().as_secs_f64();
    // What the messages became, against the generator's truth: a faster
    // ingest path must not link differently.
    let (patients, events) = reg.counts(&console_admin()).expect("counts");
    println!(
        "{people} people, {total} messages, {n} in flight: {secs:.2} s, {:.0} msg/s, AA {codes}; {patients} records, {events} events",
        total as f64 / secs
    );
    // What the commits wrote (the WAL's frames: every page a commit dirtied,
    // in full) and in how many system calls, per message.
    let io = proc_io();
    let per = |k: &str| {
        (io.get(k).copied().unwrap_or(0) - io_before.get(k).copied().unwrap_or(0)) as f64
            / total as f64
    };
    println!(
        "written {:.1} KiB in {:.1} write calls per message",
        per("wchar") / 1024.0,
        per("syscw")
    );
    drop(reg);
    let store = immunis_store::open(&dir, url.as_deref()).expect("store");
    let (split, extra, false_links) = truth.check(store.as_ref());
    println!(
        "truth: {split} people split over {extra} extra records; {false_links} records hold more than one person"
    );
}

/// This process's I/O counters (/proc/self/io; empty elsewhere).
fn proc_io() -> HashMap<String, u64> {
    std::fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// The generator's truth: which person each message is about, and the
/// identifiers (PID-3) the message carried.
struct Truth {
    /// (person key, identifiers) per message.
    messages: Vec<(u64, Vec<PatientIdentifier>)>,
}

impl Truth {
    fn new(csv: &str, messages: &[Vec<u8>]) -> Truth {
        let person: HashMap<&str, u64> = csv
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut f = l.split(',');
                Some((f.next()?, f.next()?.parse().ok()?))
            })
            .collect();
        let messages = messages
            .iter()
            .filter_map(|m| {
                let text = String::from_utf8_lossy(m);
                let field = |seg: &str, n: usize| -> Option<String> {
                    let line = text.split('\r').find(|l| l.starts_with(seg))?;
                    line.split('|').nth(n).map(str::to_string)
                };
                let key = *person.get(field("MSH", 9)?.as_str())?;
                let ids = field("PID", 3)?
                    .split('~')
                    .map(|rep| {
                        let c: Vec<&str> = rep.split('^').collect();
                        let at = |i: usize| c.get(i).copied().unwrap_or("");
                        PatientIdentifier::new(at(0), at(3), at(4))
                    })
                    .collect();
                Some((key, ids))
            })
            .collect();
        Truth { messages }
    }

    /// (people whose identifiers lead to more than one record, the extra
    /// records, records whose identifiers belong to more than one person).
    fn check(&self, store: &dyn immunis_store::Store) -> (usize, usize, usize) {
        let mut roots_of: BTreeMap<u64, BTreeSet<PatientId>> = BTreeMap::new();
        let mut people_of: BTreeMap<PatientId, BTreeSet<u64>> = BTreeMap::new();
        store
            .read(&mut |tx| {
                for (key, ids) in &self.messages {
                    for id in ids.iter().filter(|i| !i.value.is_empty()) {
                        for pid in tx.find_by_identifier(id)? {
                            let root = tx.root_of(pid)?;
                            roots_of.entry(*key).or_default().insert(root);
                            people_of.entry(root).or_default().insert(*key);
                        }
                    }
                }
                Ok(())
            })
            .expect("read");
        let split = roots_of.values().filter(|r| r.len() > 1).count();
        let extra = roots_of.values().map(|r| r.len().saturating_sub(1)).sum();
        let false_links = people_of.values().filter(|p| p.len() > 1).count();
        (split, extra, false_links)
    }
}
