//! Parse throughput on the whole shared corpus: immunis-hl7 vs hl7-parser.
//!
//! Each corpus file is split into messages first (batches, MLLP framing),
//! then both parsers get the same message strings. Throughput is in bytes
//! of message text per second. Run:
//! `CARGO_TARGET_DIR=/work/targets/hl7 cargo bench -p immunis-hl7 --bench parse`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
mod common;

use common::corpus_messages;
use immunis_hl7::Message;

fn bench(c: &mut Criterion) {
    let msgs = corpus_messages();
    let bytes: usize = msgs.iter().map(String::len).sum();
    let mut g = c.benchmark_group("corpus");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(4));
    g.warm_up_time(Duration::from_secs(1));

    g.bench_function("immunis_hl7_parse", |b| {
        b.iter(|| {
            let mut segs = 0;
            for m in &msgs {
                if let Ok(p) = Message::parse(black_box(m)) {
                    segs += p.len();
                }
            }
            black_box(segs)
        })
    });
    g.bench_function("immunis_hl7_parse_and_read_all_components", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for m in &msgs {
                if let Ok(p) = Message::parse(black_box(m)) {
                    for s in p.segments() {
                        for f in s.fields() {
                            for r in f.reps() {
                                for c in r.comps() {
                                    n += c.raw().len();
                                }
                            }
                        }
                    }
                }
            }
            black_box(n)
        })
    });
    g.bench_function("hl7_parser_0_3_lenient_newlines", |b| {
        b.iter(|| {
            let mut segs = 0;
            for m in &msgs {
                if let Ok(p) = hl7_parser::parse_message_with_lenient_newlines(black_box(m)) {
                    segs += p.segments.len();
                }
            }
            black_box(segs)
        })
    });
    g.finish();

    // Whole VXU pipeline: parse + IG interpretation + ACK, on the corpus VXUs.
    let vxus: Vec<&String> = msgs
        .iter()
        .filter(|m| Message::parse(m).is_ok_and(|p| p.get("MSH", 9).comp(1).raw() == "VXU"))
        .collect();
    eprintln!(
        "{} messages ({bytes} bytes), {} VXU",
        msgs.len(),
        vxus.len()
    );
    let vbytes: usize = vxus.iter().map(|m| m.len()).sum();
    let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
    let codes = immunis_model::CodeTables::embedded();
    let opts = immunis_hl7::ReplyOptions::default();
    let mut g = c.benchmark_group("vxu");
    g.throughput(Throughput::Bytes(vbytes as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("parse_interpret_ack", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in &vxus {
                if let Ok(p) = Message::parse(black_box(m)) {
                    let (_, issues) = immunis_hl7::interpret_vxu(&p, today, codes);
                    let h = immunis_hl7::MessageHeader::from_message(&p);
                    n += immunis_hl7::build_ack(&h, &issues, &opts).len();
                }
            }
            black_box(n)
        })
    });
    g.finish();

    // RSP Z32 building (what every successful Z34 answer costs after the
    // registry's reads): every corpus VXU that interprets with doses,
    // answered as a complete history to the CDC IG's Z34 example (011).
    let (subs, query) = common::rsp_material(&msgs);
    let records = common::history_records(&subs);
    let mut g = c.benchmark_group("rsp");
    g.throughput(Throughput::Elements(records.len() as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("build_rsp_history", |b| {
        b.iter(|| {
            let mut n = 0;
            for r in &records {
                n += immunis_hl7::build_rsp_history(&query.echo, black_box(r), &[], &opts).len();
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
