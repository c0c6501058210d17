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

use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::{console_admin, Registry};
use immunis_synth::{write_population, SynthConfig};

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
    write_population(&config, &mut hl7, std::io::sink()).expect("synth");
    let text = String::from_utf8(hl7).expect("utf-8 hl7");
    let messages: Vec<Vec<u8>> = text
        .split('\n')
        .filter(|m| !m.is_empty())
        .map(|m| m.as_bytes().to_vec())
        .collect();

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
    println!(
        "{people} people, {total} messages, {n} in flight: {secs:.2} s, {:.0} msg/s, AA {codes}",
        total as f64 / secs
    );
}
