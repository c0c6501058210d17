//! The portal chart path (record read through the access decision, CDSi
//! evaluation and forecast, the one assessment, the chart's view model,
//! audit) for instruction counting under callgrind. Uses the store that
//! `z34_instr build` makes:
//!
//!     cargo build --release -p immunis-registry --example chart_instr --example z34_instr
//!     target/release/examples/z34_instr build 3000 /tmp/z34-store
//!     cp -r /tmp/z34-store /tmp/ch-a && valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.ch500 target/release/examples/chart_instr /tmp/ch-a 500
//!     cp -r /tmp/z34-store /tmp/ch-b && valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.ch0 target/release/examples/chart_instr /tmp/ch-b 0
//!
//! (the difference of the two totals over 500 is the work per chart).

use std::path::Path;

// As in the `immunis` binary: the counts include the allocator it uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use immunis_model::PatientId;
use immunis_registry::{console_admin, Registry};

async fn run(dir: &Path, n: i64) {
    let reg =
        Registry::new(immunis_registry::open_store(dir, None).expect("store")).expect("registry");
    let today = chrono::NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
    let admin = console_admin();
    let (mut charts, mut groups) = (0, 0);
    for id in 1..=n {
        if let Ok(c) = reg.portal_chart(&admin, PatientId(id), today).await {
            charts += 1;
            groups += c.groups.len();
        }
    }
    reg.flush_audit().expect("fold");
    println!("{n} charts asked, {charts} made, {groups} vaccine groups shown");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(args.get(1).map(String::as_str).unwrap_or("/tmp/z34-store"));
    let n = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(500);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(dir, n));
}
