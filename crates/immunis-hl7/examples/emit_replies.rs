//! Write the ACK for every corpus message, and sample RSPs (Z31, Z32, Z33,
//! Z42), into a directory, one file each, for external validators (the lead's
//! hl7apy checks).
//!
//! `cargo run -p immunis-hl7 --example emit_replies -- OUT_DIR`
//! (corpus from `$IMMUNIS_SHARED` or `../../../shared`).

use std::path::PathBuf;

use chrono::NaiveDate;
use immunis_hl7::{
    build_ack, build_rsp_candidates, build_rsp_error, build_rsp_evaluated, build_rsp_history,
    build_rsp_not_found, interpret_qbp, interpret_vxu, split_messages, Forecast, Message,
    MessageHeader, PatientRecord, Recommendation, ReplyOptions, SeriesStatus,
};
use immunis_model::{Code, CodeTables};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: emit_replies OUT_DIR")?,
    );
    std::fs::create_dir_all(&out)?;
    let shared = std::env::var_os("IMMUNIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let today = NaiveDate::from_ymd_opt(2025, 6, 1).ok_or("date")?;
    let opts = ReplyOptions {
        control_id: "R1".into(),
        timestamp: "20250601120000-0500".into(),
        ..ReplyOptions::default()
    };
    let mut files: Vec<_> = std::fs::read_dir(shared.join("hl7/messages"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    let qbp_text =
        std::fs::read_to_string(shared.join("hl7/messages/066_qbp_aira-qbp-z44-for-v43h49.hl7"))?;
    let qbp_msg = Message::parse(&qbp_text)?;
    let q = interpret_qbp(&qbp_msg);
    let mut n = 0;
    for f in files {
        let stem = f
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("x")
            .to_string();
        let text = String::from_utf8_lossy(&std::fs::read(&f)?).into_owned();
        for (i, part) in split_messages(&text).messages.into_iter().enumerate() {
            let Ok(msg) = Message::parse(part) else {
                continue;
            };
            let (sub, issues) = interpret_vxu(&msg, today, CodeTables::embedded());
            let ack = build_ack(&MessageHeader::from_message(&msg), &issues, &opts);
            std::fs::write(out.join(format!("{stem}.{i}.ack.hl7")), ack)?;
            n += 1;
            if let Some(sub) = sub {
                let s = &sub.submission;
                let rec = PatientRecord::of_submission(s);
                let z32 = build_rsp_history(&q.echo, &rec, &[], &opts);
                std::fs::write(out.join(format!("{stem}.{i}.z32.hl7")), z32)?;
                let fc = Forecast::acip(
                    today,
                    vec![Recommendation {
                        vaccine_group: Code::with_text("03", "MMR"),
                        series_name: Some("MMR 2-dose".into()),
                        dose_number: Some(1),
                        doses_in_series: Some(2),
                        earliest: Some(today),
                        due: Some(today),
                        overdue: None,
                        latest: None,
                        status: SeriesStatus::OnSchedule,
                    }],
                );
                let z42 = build_rsp_evaluated(&q.echo, &rec, &fc, &[], &opts);
                std::fs::write(out.join(format!("{stem}.{i}.z42.hl7")), z42)?;
                let z31 = build_rsp_candidates(&q.echo, &[&s.patient], &[], &opts);
                std::fs::write(out.join(format!("{stem}.{i}.z31.hl7")), z31)?;
                n += 3;
            }
            let qo = interpret_qbp(&msg);
            let z33 = if qo.query.is_some() {
                build_rsp_not_found(&qo.echo, &qo.issues, &opts)
            } else {
                build_rsp_error(&qo.echo, &qo.issues, &opts)
            };
            std::fs::write(out.join(format!("{stem}.{i}.z33.hl7")), z33)?;
            n += 1;
        }
    }
    println!("wrote {n} replies to {}", out.display());
    Ok(())
}
