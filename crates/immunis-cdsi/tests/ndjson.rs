//! NDJSON boundary: one line in, one line out, in order; bad lines produce
//! error lines and processing continues.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use immunis_cdsi::ndjson::{run, OutError, OutPatient};
use immunis_cdsi::Engine;

#[test]
fn ndjson_lines_in_order_with_errors() {
    let engine = Engine::default_data().expect("embedded data");
    let input = concat!(
        r#"{"id":"case-1","birth_date":"2020-01-31","sex":"F","assessment_date":"2020-04-15","doses":[{"date":"2020-03-31","cvx":"20","mvx":"SKB"}],"observations":[{"code":"055","date":"2021-01-01"}]}"#,
        "\n",
        "this is not json\n",
        "\n",
        r#"{"id":7,"birth_date":"2020-02-30","sex":"F","assessment_date":"2025-11-10","doses":[]}"#,
        "\n",
        r#"{"id":"case-4","birth_date":"2020-01-31","sex":"X","assessment_date":"2025-11-10"}"#,
        "\n",
        r#"{"id":"case-5","birth_date":"2025-11-10","sex":"M","assessment_date":"2025-11-10","doses":[{"date":"2025-11-10","cvx":"abc"}]}"#,
        "\n",
        r#"{"id":"case-6","birth_date":"2025-11-10","sex":"U","assessment_date":"2025-11-10"}"#,
        "\n",
    );
    let mut out = Vec::new();
    let stats = run(&engine, input.as_bytes(), &mut out).expect("io");
    let text = String::from_utf8(out).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(stats.lines, 6);
    assert_eq!(stats.ok, 2);
    assert_eq!(stats.errors, 4);

    let first: OutPatient = serde_json::from_str(lines[0]).expect("patient line");
    assert_eq!(first.id, serde_json::json!("case-1"));
    let dtap = first
        .vaccine_groups
        .iter()
        .find(|g| g.name == "DTaP/Tdap/Td")
        .expect("DTaP group");
    assert_eq!(dtap.status, "Not Complete");
    let f = dtap.forecast.as_ref().expect("forecast");
    assert_eq!(f.dose_number, 2);
    // dose 1 on 2020-03-31 (valid at 8 weeks): dose 2 earliest 4 weeks later
    assert_eq!(f.earliest, "2020-04-28");
    assert_eq!(f.recommended, "2020-05-31");
    // latest recommended age 5 months + 4 weeks: 2020-06-31 rolls to
    // 2020-07-01 (CALCDT-4), + 28 days = 2020-07-29, past due the day before
    assert_eq!(f.past_due.as_deref(), Some("2020-07-28"));
    let ev = dtap
        .evaluations
        .iter()
        .find(|e| e.antigen == "Diphtheria")
        .expect("diphtheria evaluation");
    assert_eq!(
        (ev.dose_index, ev.status.as_str(), ev.reason.as_deref()),
        (0, "Valid", None)
    );

    let e: OutError = serde_json::from_str(lines[1]).expect("error line");
    assert_eq!(e.id, serde_json::Value::Null);
    let e: OutError = serde_json::from_str(lines[2]).expect("error line");
    assert_eq!(e.id, serde_json::json!(7));
    assert!(e.error.contains("2020-02-30"), "{}", e.error);
    let e: OutError = serde_json::from_str(lines[3]).expect("error line");
    assert!(e.error.contains("sex"), "{}", e.error);
    let e: OutError = serde_json::from_str(lines[4]).expect("error line");
    assert!(e.error.contains("CVX"), "{}", e.error);

    let newborn: OutPatient = serde_json::from_str(lines[5]).expect("patient line");
    let hepb = newborn
        .vaccine_groups
        .iter()
        .find(|g| g.name == "HepB")
        .expect("HepB group");
    let f = hepb.forecast.as_ref().expect("newborn HepB due");
    assert_eq!((f.dose_number, f.earliest.as_str()), (1, "2025-11-10"));
    // no group that is not due carries a forecast
    for g in &newborn.vaccine_groups {
        assert_eq!(
            g.forecast.is_some(),
            g.status == "Not Complete",
            "{}",
            g.name
        );
    }
}

/// `volume_ml` is an optional dose field: a short volume of a preferable
/// vaccine leaves the dose valid (`reason` null) with "Less than recommended
/// volume" in `reasons`; a negative volume is an error line.
#[test]
fn ndjson_dose_volume() {
    let engine = Engine::default_data().expect("embedded data");
    let input = concat!(
        r#"{"id":1,"birth_date":"2025-01-01","sex":"F","assessment_date":"2025-01-02","doses":[{"date":"2025-01-01","cvx":"08","volume_ml":0.25}]}"#,
        "\n",
        r#"{"id":2,"birth_date":"2025-01-01","sex":"F","assessment_date":"2025-01-02","doses":[{"date":"2025-01-01","cvx":"08","volume_ml":-1}]}"#,
        "\n",
    );
    let mut out = Vec::new();
    let stats = run(&engine, input.as_bytes(), &mut out).expect("io");
    assert_eq!((stats.ok, stats.errors), (1, 1));
    let text = String::from_utf8(out).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    let p: OutPatient = serde_json::from_str(lines[0]).expect("patient line");
    let hepb = p
        .vaccine_groups
        .iter()
        .find(|g| g.name == "HepB")
        .expect("HepB");
    let e = &hepb.evaluations[0];
    assert_eq!((e.status.as_str(), e.reason.as_deref()), ("Valid", None));
    assert_eq!(e.reasons, vec!["Less than recommended volume".to_string()]);
    assert_eq!(hepb.forecast.as_ref().expect("dose 2").dose_number, 2);
    let e: OutError = serde_json::from_str(lines[1]).expect("error line");
    assert!(e.error.contains("volume"), "{}", e.error);
}
