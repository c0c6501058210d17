//! QBP Z34/Z44 interpretation and RSP Z31/Z32/Z33/Z42 building, against the
//! CDC IG examples (corpus 009-017) and by structural round trip: a history
//! built from an interpreted VXU re-reads into the same domain values.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::NaiveDate;
use immunis_hl7::{
    build_rsp_candidates, build_rsp_error, build_rsp_evaluated, build_rsp_history,
    build_rsp_not_found, build_rsp_too_many, interpret_qbp, interpret_vxu, DoseEvaluation,
    Forecast, Message, PatientRecord, QbpOutcome, QueryProfile, Recommendation, ReplyOptions,
    SeriesStatus, Severity, VxuSubmission,
};
use immunis_model::{Code, CodeTables, PatientSubmission};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn opts() -> ReplyOptions {
    ReplyOptions {
        control_id: "RSP-1".into(),
        timestamp: "20250601120000-0500".into(),
        ..ReplyOptions::default()
    }
}

fn qbp(prefix: &str) -> QbpOutcome {
    let text = common::corpus_text(prefix);
    interpret_qbp(&Message::parse(&text).unwrap())
}

fn vxu(text: &str) -> PatientSubmission {
    let msg = Message::parse(text).unwrap();
    let (sub, _) = interpret_vxu(&msg, d(2025, 6, 1), CodeTables::embedded());
    let VxuSubmission { submission, .. } = sub.unwrap();
    submission
}

fn names(text: &str) -> Vec<String> {
    Message::parse(text)
        .unwrap()
        .segments()
        .map(|s| s.name().to_string())
        .collect()
}

/// MSA-1, QAK-2, MSH-9, MSH-21.1, segment names.
fn shape(text: &str) -> (String, String, String, String, Vec<String>) {
    let m = Message::parse(text).unwrap();
    (
        m.get("MSA", 1).raw().to_string(),
        m.get("QAK", 2).raw().to_string(),
        m.get("MSH", 9).raw().to_string(),
        m.get("MSH", 21).comp(1).raw().to_string(),
        names(text),
    )
}

#[test]
fn qbp_z34_example_011() {
    let o = qbp("011_");
    assert!(
        o.issues.iter().all(|i| i.severity != Severity::Error),
        "{:#?}",
        o.issues
    );
    let q = o.query.unwrap();
    assert_eq!(q.profile, QueryProfile::Z34);
    assert_eq!(q.tag, "1057");
    assert_eq!(q.identifiers[0].value, "123456");
    assert_eq!(q.identifiers[0].assigning_authority, "MYEHR");
    assert_eq!(q.identifiers[0].id_type, "MR");
    let n = q.name.unwrap();
    assert_eq!((n.family.as_str(), n.given.as_str()), ("Child", "Bobbie"));
    assert_eq!(q.mother_maiden_name.unwrap().family, "Que");
    assert_eq!(q.birth_date, Some(d(2005, 5, 12)));
    assert_eq!(q.address.unwrap().city, "Myfaircity");
    assert_eq!(q.quantity_limit, Some(5));
}

#[test]
fn qbp_variants_from_corpus() {
    let z44 = qbp("066_");
    assert_eq!(z44.query.as_ref().unwrap().profile, QueryProfile::Z44);
    // 067: SOAP 2014 sample, HD subcomponents in CX-4, no RCP (warning only).
    let o = qbp("067_");
    let q = o.query.unwrap();
    assert_eq!(q.identifiers[0].assigning_authority, "IZGATEWAYTEST");
    assert_eq!(q.multiple_birth, Some(true));
    assert_eq!(q.birth_order, Some(1));
    assert!(o.issues.iter().any(|i| i.location.segment == "RCP"));
    assert_eq!(qbp("181_").query.unwrap().quantity_limit, Some(1));
}

#[test]
fn missing_query_tag_gives_z33_ae_like_017() {
    let o = qbp("016_");
    assert!(o.query.is_none());
    // 016 also lacks RCP: a warning the IG example does not show.
    assert!(o
        .issues
        .iter()
        .any(|i| i.severity == Severity::Warning && i.location.segment == "RCP"));
    let errors: Vec<_> = o
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .cloned()
        .collect();
    let rsp = build_rsp_error(&o.echo, &errors, &opts());
    let want = common::corpus_text("017_");
    let (msa, qak, ty, profile, segs) = shape(&rsp);
    let w = shape(&want);
    assert_eq!(
        (&msa, &qak, &ty, &profile, &segs),
        (&w.0, &w.1, &w.2, &w.3, &w.4)
    );
    let m = Message::parse(&rsp).unwrap();
    let wm = Message::parse(&want).unwrap();
    for f in [2, 3, 4] {
        assert_eq!(
            m.get("ERR", f).comp(1).raw(),
            wm.get("ERR", f).comp(1).raw(),
            "ERR-{f}"
        );
    }
    assert_eq!(m.get("ERR", 2).raw(), "QPD^1^2");
    assert_eq!(m.get("MSA", 2).raw(), "793543"); // the QBP's MSH-10
    assert_eq!(m.get("QPD", 3).raw(), wm.get("QPD", 3).raw()); // echo
    assert_eq!(m.get("QPD", 8).raw(), wm.get("QPD", 8).raw());
}

#[test]
fn rsp_carries_one_err_the_most_severe() {
    // 2.5.1 RSP_K11: `[ERR]` (hl7apy rejects a second ERR).
    let o = qbp("016_");
    assert!(o.issues.len() >= 2, "{:?}", o.issues);
    let rsp = build_rsp_error(&o.echo, &o.issues, &opts());
    let m = Message::parse(&rsp).unwrap();
    assert_eq!(m.segments_named("ERR").count(), 1);
    assert_eq!(m.get("ERR", 4).raw(), "E");
    assert_eq!(m.get("ERR", 2).raw(), "QPD^1^2");
}

#[test]
fn not_found_and_too_many_like_014_015() {
    let o = qbp("011_");
    for (rsp, want) in [
        (build_rsp_not_found(&o.echo, &[], &opts()), "014_"),
        (build_rsp_too_many(&o.echo, &[], &opts()), "015_"),
    ] {
        assert_eq!(shape(&rsp), shape(&common::corpus_text(want)), "{want}");
        let m = Message::parse(&rsp).unwrap();
        assert_eq!(m.get("QAK", 1).raw(), "1057");
        assert_eq!(m.get("QPD", 2).raw(), "1057");
        assert_eq!(
            m.get("QAK", 3).raw(),
            "Z34^Request Immunization History^CDCPHINVS"
        );
    }
}

#[test]
fn candidates_like_012_and_quantity_limit() {
    let base = common::corpus_text("001_");
    let a = vxu(&base);
    let mut b = a.clone();
    b.patient.guardians.clear();
    b.patient.identifiers[0].value = "99".into();
    let o = qbp("011_");
    let rsp = build_rsp_candidates(&o.echo, &[&a.patient, &b.patient], &[], &opts());
    assert_eq!(shape(&rsp), {
        let mut w = shape(&common::corpus_text("012_"));
        w.1 = "OK".into();
        w
    });
    let m = Message::parse(&rsp).unwrap();
    assert_eq!(m.query("PID[2]-1"), Some("2"));
    assert_eq!(m.query("PID[2]-3.1"), Some("99"));
    // RCP-2 = 1 with two candidates → Z33 TM (IIS Sandbox / IG).
    let one = qbp("181_");
    let rsp = build_rsp_candidates(&one.echo, &[&a.patient, &b.patient], &[], &opts());
    let s = shape(&rsp);
    assert_eq!((s.1.as_str(), s.3.as_str()), ("TM", "Z33"));
    let rsp = build_rsp_candidates(&one.echo, &[], &[], &opts());
    assert_eq!(shape(&rsp).1, "NF");
}

fn record(s: &PatientSubmission) -> PatientRecord<'_> {
    PatientRecord::of_submission(s)
}

/// Turn an RSP into a VXU carrying the same patient groups.
fn rsp_as_vxu(rsp: &str) -> String {
    let mut out = String::from(
        "MSH|^~\\&|IIS|X||DCS|20250601||VXU^V04^VXU_V04|RT1|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS\r",
    );
    for line in rsp.split('\r').skip(1) {
        if !["MSA", "QAK", "QPD", "ERR"]
            .iter()
            .any(|p| line.starts_with(p))
            && !line.is_empty()
        {
            out.push_str(line);
            out.push('\r');
        }
    }
    out
}

#[test]
fn z32_history_round_trips_through_vxu_interpretation() {
    let o = qbp("011_");
    for file in ["001_", "021_", "026_", "025_", "048_", "176_"] {
        let original = vxu(&common::corpus_text(file));
        let rsp = build_rsp_history(&o.echo, &record(&original), &[], &opts());
        let s = shape(&rsp);
        assert_eq!(
            (s.0.as_str(), s.1.as_str(), s.3.as_str()),
            ("AA", "OK", "Z32")
        );
        assert_eq!(&s.4[..5], ["MSH", "MSA", "QAK", "QPD", "PID"]);
        let back = vxu(&rsp_as_vxu(&rsp));
        assert_eq!(back.patient, original.patient, "{file}");
        assert_eq!(back.observations, original.observations, "{file}");
        assert_eq!(back.doses.len(), original.doses.len(), "{file}");
        for (b, a) in back.doses.iter().zip(&original.doses) {
            let mut a = a.event.clone();
            let mut b = b.event.clone();
            // RXA-5.2 is rewritten with the CDC short description.
            a.trade_name = None;
            b.trade_name = None;
            assert_eq!(b, a, "{file}");
        }
    }
}

fn eval(group: &str, n: u32, valid: bool) -> DoseEvaluation {
    DoseEvaluation {
        vaccine_group: Code::with_text(group, "group"),
        series_name: Some("series".into()),
        dose_number: Some(n),
        doses_in_series: Some(3),
        valid,
        reason: (!valid).then(|| Code::with_text("TOO_EARLY", "Too early")),
    }
}

#[test]
fn z42_evaluated_history_and_forecast_layout() {
    let o = qbp("066_");
    let s = vxu(&common::corpus_text("001_"));
    let mut rec = record(&s);
    rec.doses[0].evaluations = vec![eval("45", 1, true)];
    rec.doses[1].evaluations = vec![
        eval("107", 1, true),
        eval("17", 1, true),
        eval("89", 1, false),
    ];
    let forecast = Forecast::acip(
        d(2012, 2, 1),
        vec![
            Recommendation {
                vaccine_group: Code::with_text("03", "MMR"),
                series_name: None,
                dose_number: Some(1),
                doses_in_series: Some(2),
                earliest: Some(d(2012, 4, 11)),
                due: Some(d(2012, 4, 11)),
                overdue: Some(d(2012, 8, 11)),
                latest: None,
                status: SeriesStatus::OnSchedule,
            },
            Recommendation {
                vaccine_group: Code::with_text("45", "HepB"),
                series_name: None,
                dose_number: None,
                doses_in_series: None,
                earliest: None,
                due: None,
                overdue: None,
                latest: None,
                status: SeriesStatus::Complete,
            },
        ],
    );
    let rsp = build_rsp_evaluated(&o.echo, &rec, &forecast, &[], &opts());
    let m = Message::parse(&rsp).unwrap();
    assert_eq!(m.get("MSH", 21).comp(1).raw(), "Z42");
    assert_eq!(m.get("QAK", 2).raw(), "OK");
    // OBX-1 runs 1..n through the message.
    let ids: Vec<usize> = m
        .segments_named("OBX")
        .map(|s| s.field(1).raw().parse().unwrap())
        .collect();
    assert_eq!(ids, (1..=ids.len()).collect::<Vec<_>>());
    // Evaluation right after the first RXA (historical, no dose OBX).
    let segs: Vec<_> = m.segments().collect();
    let rxa1 = segs.iter().position(|s| s.name() == "RXA").unwrap();
    let after: Vec<_> = segs[rxa1 + 1..]
        .iter()
        .take_while(|s| s.name() == "OBX")
        .map(|s| s.field(3).comp(1).raw())
        .collect();
    assert_eq!(
        after,
        ["30956-7", "59779-9", "59780-7", "30973-2", "59782-3", "59781-5"]
    );
    // The invalid evaluation carries a reason.
    assert!(m
        .segments_named("OBX")
        .any(|s| s.field(3).comp(1).raw() == "30982-3" && s.field(5).comp(1).raw() == "TOO_EARLY"));
    // Forecast group: last ORC is 9999, last RXA is 998 NA.
    let orc = m.segments_named("ORC").last().unwrap();
    assert_eq!(orc.field(3).raw(), "9999");
    let rxa = m.segments_named("RXA").last().unwrap();
    assert_eq!(rxa.field(5).comp(1).raw(), "998");
    assert_eq!(rxa.field(20).raw(), "NA");
    assert_eq!(rxa.field(3).raw(), "20120201");
    let forecast_obx: Vec<(String, String)> = segs[rxa.index() + 1..]
        .iter()
        .map(|s| {
            (
                s.field(4).raw().to_string(),
                s.field(3).comp(1).raw().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("1", "30956-7"),
        ("1", "59779-9"),
        ("1", "30973-2"),
        ("1", "59782-3"),
        ("1", "30981-5"),
        ("1", "30980-7"),
        ("1", "59778-1"),
        ("1", "59783-1"),
        ("2", "30956-7"),
        ("2", "59779-9"),
        ("2", "59783-1"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(forecast_obx, want);
    let status = m.segments_named("OBX").last().unwrap();
    assert_eq!(status.field(5).raw(), "LA13421-5^Complete^LN");
    // Same layout as the IG forecast-only example 010.
    let ig_text = common::corpus_text("010_");
    let ig = Message::parse(&ig_text).unwrap();
    let ig_rxa = ig.segment("RXA").unwrap();
    assert_eq!(ig_rxa.field(5).comp(1).raw(), rxa.field(5).comp(1).raw());
    assert_eq!(ig_rxa.field(6).raw(), rxa.field(6).raw());
    assert_eq!(ig_rxa.field(20).raw(), rxa.field(20).raw());
    assert_eq!(
        ig.query("OBX[2]-5"),
        m.segments_named("OBX")
            .find(|s| s.field(3).comp(1).raw() == "59779-9")
            .map(|s| s.field(5).raw())
    );
}
