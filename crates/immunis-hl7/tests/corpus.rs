//! Every corpus message parses without panic; segment counts match the
//! README catalogue; header fields are where they should be.

mod common;

use immunis_hl7::{split_messages, Message};

#[test]
fn every_corpus_file_splits_and_parses() {
    let mut parsed = 0;
    for (name, bytes) in common::corpus() {
        let text = String::from_utf8_lossy(&bytes);
        // Raw parse of the whole payload must never panic (may fail).
        let _ = Message::parse(&text);
        let batch = split_messages(&text);
        for m in &batch.messages {
            let msg = Message::parse(m).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(msg.segment_at(0).map(|s| s.name()), Some("MSH"), "{name}");
            // Touch every field, repetition and component.
            for seg in msg.segments() {
                for f in seg.fields() {
                    for r in f.reps() {
                        for c in 1..=r.comp_count() {
                            let _ = r.comp(c).text();
                        }
                    }
                }
            }
            parsed += 1;
        }
        if !name.contains("empty-payload") {
            assert!(!batch.messages.is_empty(), "{name}: no message found");
        }
    }
    assert!(parsed >= 150, "only {parsed} messages parsed");
}

#[test]
fn segment_counts_match_catalogue() {
    let counts = common::catalogue_segment_counts();
    assert!(counts.len() > 100, "catalogue parse found {}", counts.len());
    let corpus = common::corpus();
    let mut checked = 0;
    for (name, want) in counts {
        let Some((_, bytes)) = corpus.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let text = String::from_utf8_lossy(bytes);
        let b = split_messages(&text);
        let got: usize = b.envelope.len()
            + b.stray.len()
            + b.messages
                .iter()
                .map(|m| Message::parse(m).map_or(0, |m| m.len()))
                .sum::<usize>();
        assert_eq!(got, want, "{name}");
        checked += 1;
    }
    assert!(checked > 100, "checked only {checked}");
}

#[test]
fn header_fields_of_known_messages() {
    let cases = [
        ("001_", "VXU", "V04", "45646ug", "2.5.1"),
        ("011_", "QBP", "Q11", "793543", "2.5.1"),
        ("018_", "ACK", "Q11", "", "2.5.1"),
        ("037_", "ACK", "", "", "2.3.1"),
        ("173_", "VXU", "V04", "NIST-IZ-001.00", "2.5.1"),
    ];
    for (file, ty, ev, id, ver) in cases {
        let text = common::corpus_text(file);
        let b = split_messages(&text);
        let m = Message::parse(b.messages.first().expect("a message")).expect("parses");
        assert_eq!(m.get("MSH", 9).comp(1).raw(), ty, "{file}");
        assert_eq!(m.get("MSH", 9).comp(2).raw(), ev, "{file}");
        if !id.is_empty() {
            assert_eq!(m.get("MSH", 10).raw(), id, "{file}");
        }
        assert_eq!(m.get("MSH", 12).comp(1).raw(), ver, "{file}");
    }
}

#[test]
fn batches_and_multi_message_payloads() {
    let t35 = common::corpus_text("035_");
    let b = split_messages(&t35);
    assert!(b.is_batch());
    assert_eq!(b.messages.len(), 1);
    let t59 = common::corpus_text("059_");
    let b = split_messages(&t59);
    assert!(b.is_batch());
    assert_eq!(b.messages.len(), 1);
    let m = Message::parse(b.messages[0]).expect("parses");
    assert_eq!(m.get("MSH", 9).comp(1).raw(), "VXU");
    let t174 = common::corpus_text("174_");
    let b = split_messages(&t174);
    assert_eq!(b.messages.len(), 2);
    assert!(!b.is_batch());
    assert!(split_messages(&common::corpus_text("178_"))
        .messages
        .is_empty());
}

#[test]
fn escapes_and_utf8_decode_on_access() {
    let text = common::corpus_text("176_");
    let m = Message::parse(&text).expect("parses");
    let family = m.get("PID", 5).comp(1).text();
    assert!(family.contains('&'), "{family}");
    assert!(!family.contains("\\T\\"), "{family}");
}
