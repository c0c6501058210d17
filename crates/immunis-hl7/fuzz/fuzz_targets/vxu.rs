//! Fuzz VXU/QBP interpretation and the ACK/RSP builders: never panic, and
//! the built replies always re-parse.
#![no_main]

use chrono::NaiveDate;
use immunis_hl7::{
    build_ack, build_rsp_error, interpret_qbp, interpret_vxu, split_messages, Message,
    MessageHeader, ReplyOptions,
};
use immunis_model::CodeTables;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let today = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    let opts = ReplyOptions::default();
    for part in split_messages(&text).messages {
        let Ok(msg) = Message::parse(part) else {
            continue;
        };
        let (_, issues) = interpret_vxu(&msg, today, CodeTables::embedded());
        let ack = build_ack(&MessageHeader::from_message(&msg), &issues, &opts);
        assert!(Message::parse(&ack).is_ok());
        let q = interpret_qbp(&msg);
        let rsp = build_rsp_error(&q.echo, &q.issues, &opts);
        assert!(Message::parse(&rsp).is_ok());
    }
});
