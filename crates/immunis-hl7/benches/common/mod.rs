//! Fixtures shared by the parse bench and the `rsp_build` example.

use std::path::PathBuf;

use immunis_hl7::{split_messages, Message, PatientRecord, QbpOutcome};
use immunis_model::PatientSubmission;

/// Every message of the shared corpus (batches split, MLLP framing removed).
pub fn corpus_messages() -> Vec<String> {
    let shared = std::env::var_os("IMMUNIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let dir = shared.join("hl7/messages");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).expect("corpus file");
        let text = String::from_utf8_lossy(&bytes);
        for m in split_messages(&text).messages {
            out.push(m.to_string());
        }
    }
    out
}

/// The corpus VXUs that interpret with doses, and the first QBP whose
/// query interprets: the material of an RSP Z32 answer.
pub fn rsp_material(msgs: &[String]) -> (Vec<PatientSubmission>, QbpOutcome) {
    let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
    let codes = immunis_model::CodeTables::embedded();
    let subs = msgs
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
    (subs, query)
}

/// Each submission as the complete history an RSP Z32 carries.
pub fn history_records(subs: &[PatientSubmission]) -> Vec<PatientRecord<'_>> {
    subs.iter().map(PatientRecord::of_submission).collect()
}
