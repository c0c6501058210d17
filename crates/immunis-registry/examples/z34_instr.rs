//! The QBP Z34 path (parse, search, record read, RSP, journal + audit
//! commit) for instruction counting under callgrind, where this VM's
//! drifting speed cannot blur a comparison.
//!
//! Build a store once (outside valgrind), then count a run of N queries and
//! a run of none on copies of it; the difference is N queries' work:
//!
//!     cargo build --release -p immunis-registry --example z34_instr
//!     target/release/examples/z34_instr build 3000 /tmp/z34-store
//!     cp -r /tmp/z34-store /tmp/z34-a && valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.500 target/release/examples/z34_instr run /tmp/z34-a 500
//!     cp -r /tmp/z34-store /tmp/z34-b && valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.0 target/release/examples/z34_instr run /tmp/z34-b 0
//!
//! The queries run one after another on a current-thread runtime, so the
//! count is the work itself (no scheduling between workers).

mod common;

use std::path::Path;

// As in the `immunis` binary: the counts include the allocator it uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::{console_admin, Registry};

fn inbound() -> Inbound {
    Inbound {
        transport: "bench",
        remote_addr: None,
    }
}

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2025, 6, 30).expect("date")
}

fn open(dir: &Path) -> std::sync::Arc<Registry> {
    Registry::new(immunis_registry::open_store(dir, None).expect("store")).expect("registry")
}

async fn build(people: u64, dir: &Path) {
    let reg = open(dir);
    let generator =
        immunis_synth::Generator::new(immunis_synth::SynthConfig::new(people, 1, today()))
            .expect("generator");
    common::register_facilities(&reg, &generator);
    let who = Submitter::Authenticated(console_admin());
    let mut queries = String::new();
    for (i, person) in generator.enumerate() {
        for m in &person.messages {
            process_message(&reg, &who, m.hl7.as_bytes(), &inbound()).await;
        }
        if let Some(q) = person
            .messages
            .first()
            .and_then(|m| immunis_hl7::qbp::z34_query_for(&m.hl7, i))
        {
            queries.push_str(&q.replace('\r', "\u{1}"));
            queries.push('\n');
        }
    }
    reg.flush_audit().expect("fold");
    std::fs::write(dir.join("z34-queries.txt"), queries).expect("write queries");
    eprintln!("built {people} people in {}", dir.display());
}

async fn run(dir: &Path, n: usize) {
    let reg = open(dir);
    let text = std::fs::read_to_string(dir.join("z34-queries.txt")).expect("queries");
    let who = Submitter::Authenticated(console_admin());
    let mut found = 0;
    for line in text.lines().take(n) {
        let q = line.replace('\u{1}', "\r");
        let reply = process_message(&reg, &who, q.as_bytes(), &inbound()).await;
        if reply.windows(7).any(|w| w == b"|Z32^CD") {
            found += 1;
        }
    }
    reg.flush_audit().expect("fold");
    println!("{n} queries, {found} answered with one record (Z32)");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match args.get(1).map(String::as_str) {
        Some("build") => {
            let people = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3000);
            let dir = Path::new(args.get(3).map(String::as_str).unwrap_or("/tmp/z34-store"));
            rt.block_on(build(people, dir));
        }
        Some("run") => {
            let dir = Path::new(args.get(2).map(String::as_str).unwrap_or("/tmp/z34-store"));
            let n = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(500);
            rt.block_on(run(dir, n));
        }
        _ => eprintln!("usage: z34_instr build PEOPLE DIR | run DIR N"),
    }
}
