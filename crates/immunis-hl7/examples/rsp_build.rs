//! Builds the RSP Z32 of every corpus VXU (with doses) N times: a fixed
//! amount of work for instruction counting, steadier than wall time on a
//! shared VM:
//!
//!     valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!         target/release/examples/rsp_build 50
//!
//! (`cargo bench -p immunis-hl7 --bench parse -- rsp` times the same work.)

use std::path::PathBuf;

use immunis_hl7::{split_messages, HistoryDose, Message, PatientRecord, ReplyOptions};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let shared = std::env::var_os("IMMUNIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let mut files: Vec<_> = std::fs::read_dir(shared.join("hl7/messages"))
        .expect("corpus directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut msgs = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).expect("corpus file");
        let text = String::from_utf8_lossy(&bytes);
        msgs.extend(split_messages(&text).messages.iter().map(|m| m.to_string()));
    }
    let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
    let codes = immunis_model::CodeTables::embedded();
    let subs: Vec<immunis_model::PatientSubmission> = msgs
        .iter()
        .filter_map(|m| {
            let p = Message::parse(m).ok()?;
            let (sub, _) = immunis_hl7::interpret_vxu(&p, today, codes);
            sub.map(|s| s.submission).filter(|s| !s.doses.is_empty())
        })
        .collect();
    let query = msgs
        .iter()
        .filter_map(|m| Message::parse(m).ok())
        .map(|m| immunis_hl7::interpret_qbp(&m))
        .find(|o| o.query.is_some())
        .expect("a QBP in the corpus");
    let records: Vec<PatientRecord<'_>> = subs
        .iter()
        .map(|s| PatientRecord {
            patient: &s.patient,
            doses: s
                .doses
                .iter()
                .map(|r| HistoryDose {
                    event: &r.event,
                    facility: Some(s.source.facility_code.as_str()),
                    evaluations: Vec::new(),
                })
                .collect(),
            observations: &s.observations,
        })
        .collect();
    let opts = ReplyOptions::default();
    let mut bytes = 0;
    for _ in 0..rounds {
        for r in &records {
            bytes += immunis_hl7::build_rsp_history(&query.echo, r, &[], &opts).len();
        }
    }
    println!("{} records × {rounds}: {bytes} bytes of RSP", records.len());
}
