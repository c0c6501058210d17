//! Property tests: the parser, batch splitter, writer and MLLP decoder never
//! panic on arbitrary or mutated input, and round-trip what they should.
//! Case counts are high on purpose (`PROPTEST_CASES` overrides them).

mod common;

use immunis_hl7::{
    frame, split_messages, FieldValue, Message, MessageBuilder, MllpDecoder, SegmentBuilder,
};
use proptest::prelude::*;

/// `PROPTEST_CASES` overrides the per-test default (for long runs).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn walk(msg: &Message<'_>) -> usize {
    let mut n = 0;
    for seg in msg.segments() {
        n += seg.raw().len() + seg.name().len();
        for f in seg.fields() {
            n += f.decoded().len() + usize::from(f.is_null());
            for r in f.reps() {
                for c in r.comps() {
                    n += c.text().len() + c.sub_text(2).len();
                }
            }
        }
    }
    for path in [
        "MSH-9.2",
        "PID-3[2].4.2",
        "RXA[2]-5.1",
        "OBX[9]-5",
        "X",
        "PID-",
        "P[0]-1",
    ] {
        n += msg.query(path).map_or(0, str::len);
    }
    n
}

fn exercise(text: &str) {
    if let Ok(m) = Message::parse(text) {
        walk(&m);
    }
    for m in split_messages(text).messages {
        if let Ok(m) = Message::parse(m) {
            walk(&m);
        }
    }
}

/// Bytes biased towards HL7 structure.
fn hl7ish() -> impl Strategy<Value = Vec<u8>> {
    let atom = prop_oneof![
        4 => prop::sample::select(b"|^~\\&#\r\nMSHPIDRXAOBX0123 \x0b\x1c".to_vec()),
        1 => any::<u8>(),
    ];
    prop::collection::vec(atom, 0..400).prop_map(|mut v| {
        // Half the time, start with a plausible header.
        if v.first().is_some_and(|b| b % 2 == 0) {
            let mut h = b"MSH|^~\\&|".to_vec();
            h.append(&mut v);
            h
        } else {
            v
        }
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, u8),
    Delete(usize),
    Replace(usize, u8),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        3 => prop::sample::select(b"|^~\\&\r\n\x0b\x1cX.0 ".to_vec()),
        1 => any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Replace(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Mutation::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i % len);
            }
            Mutation::Replace(i, b) if !bytes.is_empty() => {
                if let Some(x) = bytes.get_mut(i % len) {
                    *x = b;
                }
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(4000)))]

    #[test]
    fn parser_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn parser_never_panics_on_hl7ish_bytes(bytes in hl7ish()) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn parser_never_panics_on_arbitrary_strings(s in "\\PC{0,300}") {
        exercise(&s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(3000)))]

    #[test]
    fn parser_never_panics_on_mutated_corpus(
        idx in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..12),
    ) {
        let corpus = corpus_cached();
        let (_, bytes) = idx.get(corpus);
        let mutated = mutate(bytes.clone(), &muts);
        exercise(&String::from_utf8_lossy(&mutated));
    }

    #[test]
    fn writer_values_roundtrip(
        values in prop::collection::vec("\\PC{0,20}", 1..6),
        comps in prop::collection::vec("[^\r\n]{0,8}", 1..4),
    ) {
        let mut seg = SegmentBuilder::new("ZZZ");
        for (i, v) in values.iter().enumerate() {
            seg.set(i + 1, v.as_str());
        }
        // A non-empty last field so segment-end trimming cannot bite.
        let last = values.len() + 1;
        seg.set(last, FieldValue::comps(comps.iter().map(String::as_str).chain(["end"])));
        let mut b = MessageBuilder::new();
        b.push(SegmentBuilder::new("MSH").with(3, "A"));
        b.push(seg);
        let text = b.encode();
        let m = Message::parse(&text).expect("built message parses");
        prop_assert_eq!(m.len(), 2);
        for (i, v) in values.iter().enumerate() {
            prop_assert_eq!(m.get("ZZZ", i + 1).decoded(), v.as_str());
        }
        for (i, c) in comps.iter().enumerate() {
            prop_assert_eq!(m.get("ZZZ", last).comp(i + 1).text(), c.as_str());
        }
    }

    #[test]
    fn mllp_decoder_never_panics(
        chunks in prop::collection::vec(prop::collection::vec(
            prop_oneof![3 => prop::sample::select(vec![0x0b_u8, 0x1c, 0x0d, b'a']), 1 => any::<u8>()],
            0..64), 0..16),
        max in 0usize..80,
    ) {
        let mut d = MllpDecoder::new(max);
        for c in &chunks {
            d.push(c);
            while let Some(r) = d.next_frame() {
                if let Ok(m) = r {
                    prop_assert!(m.len() <= max);
                    prop_assert!(!m.contains(&0x0b) && !m.contains(&0x1c));
                }
            }
        }
    }

    #[test]
    fn mllp_decoder_recovers_frames_whatever_the_chunking(
        msgs in prop::collection::vec(prop::collection::vec(0x20u8..0x7f, 0..50), 0..6),
        garbage in prop::collection::vec(prop::collection::vec(
            any::<u8>().prop_filter("no framing byte", |b| *b != 0x0b && *b != 0x1c), 0..10), 0..7),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut stream = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            if let Some(g) = garbage.get(i) {
                stream.extend(g);
            }
            stream.extend(frame(m));
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        points.push(stream.len());
        points.sort_unstable();
        let mut d = MllpDecoder::new(64);
        let mut got = Vec::new();
        let mut at = 0;
        for p in points {
            d.push(&stream[at..p]);
            at = p;
            while let Some(r) = d.next_frame() {
                got.push(r.expect("no frame exceeds 64 bytes"));
            }
        }
        prop_assert_eq!(got, msgs);
    }
}

fn corpus_cached() -> &'static [(String, Vec<u8>)] {
    use std::sync::OnceLock;
    static CORPUS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    CORPUS.get_or_init(common::corpus)
}

mod interpretation {
    //! The VXU and QBP interpreters and the ACK/RSP builders never panic on
    //! mutated corpus messages, and what they build always re-parses.
    use super::*;
    use immunis_hl7::{
        build_ack, build_rsp_error, build_rsp_history, interpret_qbp, interpret_vxu, AckCode,
        HistoryDose, MessageHeader, PatientRecord, ReplyOptions,
    };
    use immunis_model::CodeTables;

    fn check_one(text: &str, today: chrono::NaiveDate) -> Result<(), TestCaseError> {
        let opts = ReplyOptions {
            control_id: "P1".into(),
            timestamp: "20250101".into(),
            ..ReplyOptions::default()
        };
        for part in split_messages(text).messages {
            let Ok(msg) = Message::parse(part) else {
                continue;
            };
            let (sub, issues) = interpret_vxu(&msg, today, CodeTables::embedded());
            let ack = build_ack(&MessageHeader::from_message(&msg), &issues, &opts);
            let re = Message::parse(&ack).expect("ACK parses");
            prop_assert_eq!(re.get("MSA", 1).raw(), AckCode::from_issues(&issues).code());
            prop_assert_eq!(re.segments_named("ERR").count(), issues.len());
            if let Some(sub) = sub {
                let s = &sub.submission;
                for d in &s.doses {
                    // Kept doses have a date within [birth, today] and a CVX.
                    let date = d.event.administered_date.expect("dose date");
                    prop_assert!(date >= s.patient.birth_date.0 && date <= today);
                    prop_assert!(d.event.cvx.is_some());
                }
                let q = interpret_qbp(&msg);
                let rec = PatientRecord {
                    patient: &s.patient,
                    doses: s
                        .doses
                        .iter()
                        .map(|d| HistoryDose {
                            event: &d.event,
                            facility: None,
                            evaluations: Vec::new(),
                        })
                        .collect(),
                    observations: &s.observations,
                };
                let rsp = build_rsp_history(&q.echo, &rec, &[], &opts);
                prop_assert!(Message::parse(&rsp).is_ok());
            } else {
                prop_assert!(AckCode::from_issues(&issues) != AckCode::Accept);
            }
            let q = interpret_qbp(&msg);
            let rsp = build_rsp_error(&q.echo, &q.issues, &opts);
            prop_assert!(Message::parse(&rsp).is_ok());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases(3000)))]

        #[test]
        fn interpreters_never_panic_on_mutated_corpus(
            idx in any::<prop::sample::Index>(),
            muts in prop::collection::vec(mutation(), 0..10),
            days in 0i64..20_000,
        ) {
            let corpus = corpus_cached();
            let (_, bytes) = idx.get(corpus);
            let mutated = mutate(bytes.clone(), &muts);
            let today = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).expect("date")
                + chrono::Duration::days(days);
            check_one(&String::from_utf8_lossy(&mutated), today)?;
        }

        #[test]
        fn interpreters_never_panic_on_hl7ish_bytes(bytes in hl7ish()) {
            let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
            check_one(&String::from_utf8_lossy(&bytes), today)?;
        }
    }
}
