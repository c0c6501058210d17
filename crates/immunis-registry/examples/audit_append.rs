//! CPU and wall time of durable audit appends alone (no reads): THREADS
//! threads each appending COUNT entries through the group-commit writer.
//!
//!     cargo run --release -p immunis-registry --example audit_append -- [THREADS] [COUNT]

mod common;
use common::cpu_secs;
use std::time::Instant;

use immunis_registry::{console_admin, Registry};

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = Registry::new(immunis_registry::open_store(dir.path(), None).expect("store"))
        .expect("registry");
    let admin = console_admin();
    let cpu0 = cpu_secs();
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (reg, admin) = (&reg, &admin);
            s.spawn(move || {
                for i in 0..count {
                    reg.record_backup_written(admin, &format!("bench {t}/{i}"))
                        .expect("append");
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;
    let n = (threads * count) as f64;
    println!(
        "{} appends by {threads} threads in {secs:.2}s = {:.0}/s, {:.1} µs CPU per append",
        n,
        n / secs,
        cpu / n * 1e6
    );
}
