//! VXU interpretation and ACK building against the CDC IG examples
//! (corpus 001-008, 018) and the derived cases (157-170), data-driven.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::NaiveDate;
use immunis_hl7::{
    build_ack, interpret_vxu, split_messages, AckCode, Issue, Message, MessageHeader, ReplyOptions,
    Severity, VxuSubmission,
};
use immunis_model::{CodeTables, CompletionStatus, DoseAction, ObservationKind};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
}

fn opts() -> ReplyOptions {
    ReplyOptions {
        control_id: "ACK-1".into(),
        timestamp: "20250601120000-0500".into(),
        ..ReplyOptions::default()
    }
}

fn run(text: &str) -> (Option<VxuSubmission>, Vec<Issue>, String) {
    let msg = Message::parse(text).expect("parses");
    let (sub, issues) = interpret_vxu(&msg, today(), CodeTables::embedded());
    let ack = build_ack(&MessageHeader::from_message(&msg), &issues, &opts());
    (sub, issues, ack)
}

/// (segment, field, 0357 code, severity, 0533 code) of each ERR.
type ErrKey = (String, String, String, String, String);

fn err_keys(ack: &str, ig_quirk: bool) -> (String, Vec<ErrKey>) {
    let m = Message::parse(ack).expect("ACK re-parses");
    let msa = m.get("MSA", 1).text().into_owned();
    let errs = m
        .segments_named("ERR")
        .map(|e| {
            let loc = e.field(2);
            let n = loc.rep(1).comp_count();
            // IG example 006 writes `NK1^3` for NK1-3.
            let field = if n == 2 && ig_quirk {
                loc.comp(2)
            } else {
                loc.comp(3)
            };
            (
                loc.comp(1).raw().to_string(),
                field.raw().to_string(),
                e.field(3).comp(1).raw().to_string(),
                e.field(4).raw().to_string(),
                e.field(5).comp(1).raw().to_string(),
            )
        })
        .collect();
    (msa, errs)
}

/// Every expected ERR must be produced (app code compared only when the
/// example gives one) and nothing else with severity E or W.
fn assert_golden(case: &str, produced_ack: &str, expected_ack: &str) {
    let (msa, mut got) = err_keys(produced_ack, false);
    let (want_msa, want) = err_keys(expected_ack, true);
    assert_eq!(msa, want_msa, "{case}: MSA-1\n{produced_ack}");
    for w in &want {
        let pos = got.iter().position(|g| {
            g.0 == w.0 && g.1 == w.1 && g.2 == w.2 && g.3 == w.3 && (w.4.is_empty() || g.4 == w.4)
        });
        match pos {
            Some(p) => {
                got.remove(p);
            }
            None => panic!("{case}: missing ERR {w:?}\nproduced:\n{produced_ack}"),
        }
    }
    assert!(
        got.is_empty(),
        "{case}: unexpected ERR {got:?}\nproduced:\n{produced_ack}"
    );
}

fn base() -> String {
    common::corpus_text("001_")
}

#[test]
fn cdc_ig_ack_examples() {
    let b = base();
    let cases: Vec<(&str, String)> = vec![
        ("002_", b.clone()),
        ("003_", b.replace("|P|2.5.1|", "|P|2.3.1|")),
        ("004_", b.replace("|Patient^Johnny^New^^^^L|", "||")),
        (
            "005_",
            b.replace("85^hep B, unspec^CVX", "99999^unknown^CVX"),
        ),
        ("006_", b.replace("MTH^Mom^HL70063", "")),
        ("007_", b.replace("PID|1||432155", "PID|1|X-55|432155")),
        ("008_", b.replace("|20110411|", "|20990411|")),
    ];
    for (expected, input) in cases {
        let (_, _, ack) = run(&input);
        assert_golden(expected, &ack, &common::corpus_text(expected));
    }
}

#[test]
fn ig_example_018_unrecognised_type_is_acked_with_its_event() {
    // A QBP^Q11 sent where a VXU is expected.
    let (sub, issues, ack) = run(&common::corpus_text("011_"));
    assert!(sub.is_none());
    assert_eq!(AckCode::from_issues(&issues), AckCode::Reject);
    let m = Message::parse(&ack).unwrap();
    let want = common::corpus_text("018_");
    let want = Message::parse(&want).unwrap();
    assert_eq!(m.get("MSH", 9).raw(), want.get("MSH", 9).raw()); // ACK^Q11^ACK
    assert_eq!(m.get("MSA", 1).raw(), want.get("MSA", 1).raw()); // AR
    assert_eq!(m.get("ERR", 3).comp(1).raw(), "200");
}

#[test]
fn ack_header_is_swapped_and_echoes_control_id() {
    let (_, _, ack) = run(&base());
    let m = Message::parse(&ack).unwrap();
    assert_eq!(m.get("MSH", 3).raw(), "MYIIS"); // incoming MSH-5
    assert_eq!(m.get("MSH", 5).raw(), "MYEHR"); // incoming MSH-3
    assert_eq!(m.get("MSH", 6).raw(), "DCS"); // incoming MSH-4
    assert_eq!(m.get("MSH", 9).raw(), "ACK^V04^ACK");
    assert_eq!(m.get("MSH", 10).raw(), "ACK-1");
    assert_eq!(m.get("MSH", 21).raw(), "Z23^CDCPHINVS");
    assert_eq!(m.get("MSA", 2).raw(), "45646ug");
}

#[test]
fn ig_001_interprets_to_domain_values() {
    let (sub, issues, _) = run(&base());
    assert!(issues.is_empty(), "{issues:#?}");
    let s = sub.unwrap().submission;
    assert_eq!(s.source.facility_code, "DCS");
    assert_eq!(s.source.message_control_id, "45646ug");
    let p = &s.patient;
    assert_eq!(p.legal_name().family, "Patient");
    assert_eq!(p.legal_name().given, "Johnny");
    assert_eq!(
        p.birth_date.0,
        NaiveDate::from_ymd_opt(2011, 4, 11).unwrap()
    );
    assert_eq!(p.identifiers[0].value, "432155");
    assert_eq!(p.identifiers[0].assigning_authority, "dcs");
    assert_eq!(p.identifiers[0].id_type, "MR");
    assert_eq!(p.mother_maiden_name.as_ref().unwrap().family, "Lastname");
    assert_eq!(p.guardians.len(), 1);
    assert_eq!(p.guardians[0].relationship.code, "MTH");
    assert_eq!(p.addresses[0].city, "Somewhere");
    assert_eq!(p.phones[0].number, "1112320112");
    assert_eq!(p.race[0].code, "1002-5");
    assert_eq!(p.ethnicity[0].code, "2186-5");
    assert_eq!(s.doses.len(), 3);
    let cvx: Vec<_> = s
        .doses
        .iter()
        .map(|d| d.event.cvx.as_ref().unwrap().as_str().to_string())
        .collect();
    assert_eq!(cvx, ["85", "110", "48"]);
    let d2 = &s.doses[1].event;
    assert!(d2.information_source.is_administered());
    assert!(!s.doses[0].event.information_source.is_administered());
    assert_eq!(d2.lot_number.as_deref(), Some("xy3939"));
    assert_eq!(d2.mvx.as_ref().unwrap().as_str(), "SKB");
    assert_eq!(d2.amount, Some(0.5));
    assert_eq!(d2.funding_eligibility.as_ref().unwrap().code, "V02");
    assert_eq!(d2.route.as_ref().unwrap().code, "C28161");
    assert_eq!(d2.site.as_ref().unwrap().code, "RT");
    assert_eq!(d2.filler_order_number.as_deref(), Some("65930"));
    assert_eq!(d2.vis.len(), 1);
    assert_eq!(
        d2.vis[0].presented,
        Some(NaiveDate::from_ymd_opt(2012, 1, 13).unwrap())
    );
    assert_eq!(d2.vis[0].document, "253088698300026411121116");
    assert_eq!(s.doses[0].event.amount, None); // 999
}

/// (file prefix, MSA-1, submission kept, expected (0357 code, ERR-2 prefix) among E issues)
type DerivedCase = (
    &'static str,
    &'static str,
    bool,
    &'static [(&'static str, &'static str)],
);

const DERIVED: &[DerivedCase] = &[
    ("157_", "AA", true, &[]),
    ("159_", "AR", false, &[("203", "MSH^1^12")]),
    ("160_", "AR", false, &[("200", "MSH^1^9")]),
    ("161_", "AR", false, &[("202", "MSH^1^11")]),
    ("162_", "AE", true, &[("101", "MSH^1^10")]),
    ("163_", "AE", false, &[("100", "PID")]),
    ("164_", "AE", false, &[("102", "PID^1^7"), ("100", "PID")]),
    (
        "165_",
        "AE",
        true,
        &[("103", "RXA^1^5"), ("101", "RXA^1^5"), ("100", "RXA^1")],
    ),
    ("166_", "AE", true, &[("101", "RXA^1^3"), ("100", "RXA^1")]),
    ("167_", "AE", true, &[("101", "RXA^1^18"), ("100", "RXA^1")]),
    ("168_", "AA", true, &[]),
    ("169_", "AA", true, &[]),
    ("170_", "AA", true, &[]),
    ("171_", "AA", true, &[]),
    ("172_", "AA", true, &[]),
    ("173_", "AA", true, &[]),
    ("176_", "AA", true, &[]),
    ("130_", "AE", true, &[("101", "RXA^1^18"), ("100", "RXA^1")]),
];

#[test]
fn derived_cases() {
    for &(file, msa, kept, errs) in DERIVED {
        let text = common::corpus_text(file);
        let (sub, issues, ack) = run(&text);
        let m = Message::parse(&ack).unwrap();
        assert_eq!(m.get("MSA", 1).raw(), msa, "{file}: {issues:#?}");
        assert_eq!(sub.is_some(), kept, "{file}");
        let e: Vec<(String, String)> = issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .map(|i| {
                (
                    i.code.map(|c| c.code().to_string()).unwrap_or_default(),
                    i.location.to_string(),
                )
            })
            .collect();
        assert_eq!(e.len(), errs.len(), "{file}: {e:?}");
        for (code, loc) in errs {
            assert!(
                e.iter()
                    .any(|(c, l)| c == code && (l == loc || l.starts_with(&format!("{loc}^")))),
                "{file}: expected {code} at {loc}, got {e:?}"
            );
        }
    }
}

#[test]
fn domain_details_of_derived_and_nist_cases() {
    let dose = |file: &str| {
        let (sub, _, _) = run(&common::corpus_text(file));
        sub.unwrap().submission
    };
    // 165: unknown CVX → the dose is dropped, the patient kept.
    assert!(dose("165_").doses.is_empty());
    // 168: RXA-9 with 998/NA → IZ-47 warning, no dose (998 carries none).
    let (sub, issues, _) = run(&common::corpus_text("168_"));
    assert!(sub.unwrap().submission.doses.is_empty());
    assert!(issues
        .iter()
        .any(|i| i.severity == Severity::Warning && i.location.to_string() == "RXA^1^9"));
    // NA with a real vaccine is kept as "not administered".
    let na = common::corpus_text("157_")
        .replace("|||CP|A", "|||NA|A")
        .replace("00^New immunization record^NIP001", "");
    let (sub, _, _) = run(&na);
    let s = sub.unwrap().submission;
    assert_eq!(
        s.doses[0].event.completion,
        CompletionStatus::NotAdministered
    );
    // 169/170: delete/update on the same ORC-3 as 157.
    let add = dose("157_");
    let del = dose("169_");
    let upd = dose("170_");
    assert_eq!(add.doses[0].action, DoseAction::Add);
    assert_eq!(del.doses[0].action, DoseAction::Delete);
    assert_eq!(upd.doses[0].action, DoseAction::Update);
    assert_eq!(
        add.doses[0].event.filler_order_number,
        del.doses[0].event.filler_order_number
    );
    assert_eq!(
        add.doses[0].event.filler_order_number.as_deref(),
        Some("IZ-783274")
    );
    assert_eq!(add.source.facility_code, del.source.facility_code);
    // 157: PD1 publicity / registry status, NK1.
    let p = &add.patient;
    assert_eq!(p.publicity.as_ref().unwrap().value.code, "02");
    assert!(p.registry_status.is_some());
    assert_eq!(p.guardians[0].name.family, "Lam");
    // 025: refusal with reason, ORC-3 9999 is no identity.
    let s = dose("025_");
    let ev = &s.doses[0].event;
    assert_eq!(ev.completion, CompletionStatus::Refused);
    assert_eq!(ev.refusal_reason.as_ref().unwrap().code, "00");
    assert_eq!(ev.filler_order_number, None);
    // 026: CVX 998 NA + evidence of immunity → no dose, one observation.
    let s = dose("026_");
    assert!(s.doses.is_empty());
    assert_eq!(s.observations.len(), 1);
    assert_eq!(s.observations[0].kind, ObservationKind::EvidenceOfImmunity);
    assert_eq!(s.observations[0].value.code, "38907003");
    // 176: escapes decoded in names.
    let s = dose("176_");
    assert!(s.patient.legal_name().family.contains('&'));
}

#[test]
fn every_corpus_vxu_interprets_without_panic() {
    let mut n = 0;
    for (name, bytes) in common::corpus() {
        let text = String::from_utf8_lossy(&bytes);
        for m in split_messages(&text).messages {
            let Ok(msg) = Message::parse(m) else { continue };
            let (sub, issues) = interpret_vxu(&msg, today(), CodeTables::embedded());
            let code = AckCode::from_issues(&issues);
            if sub.is_none() {
                assert_ne!(code, AckCode::Accept, "{name}: rejected without error");
            }
            let ack = build_ack(&MessageHeader::from_message(&msg), &issues, &opts());
            let re = Message::parse(&ack).expect("ACK re-parses");
            assert_eq!(re.segments_named("ERR").count(), issues.len(), "{name}");
            if name.contains("_vxu_") {
                n += 1;
            }
        }
    }
    assert!(n > 40, "only {n} VXU");
}
