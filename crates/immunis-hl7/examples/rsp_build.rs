//! Builds the RSP Z32 of every corpus VXU (with doses) N times: a fixed
//! amount of work for instruction counting, steadier than wall time on a
//! shared VM:
//!
//!     valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!         target/release/examples/rsp_build 50
//!
//! (`cargo bench -p immunis-hl7 --bench parse -- rsp` times the same work.)

#[path = "../benches/common/mod.rs"]
mod common;

use immunis_hl7::ReplyOptions;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let msgs = common::corpus_messages();
    let (subs, query) = common::rsp_material(&msgs);
    let records = common::history_records(&subs);
    let opts = ReplyOptions::default();
    let mut bytes = 0;
    for _ in 0..rounds {
        for r in &records {
            bytes += immunis_hl7::build_rsp_history(&query.echo, r, &[], &opts).len();
        }
    }
    println!("{} records × {rounds}: {bytes} bytes of RSP", records.len());
}
