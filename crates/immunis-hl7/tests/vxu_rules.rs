//! One IG rule per case: a conformant VXU (corpus 157) is edited field by
//! field and the interpretation must report the expected issue and keep or
//! drop the expected data.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::NaiveDate;
use immunis_hl7::{interpret_vxu, AckCode, Issue, Message, Severity};
use immunis_model::{
    CodeTables, CompletionStatus, DoseAction, ObservationKind, PatientSubmission, RegistryStatus,
};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// Set field `field` of the `occ`-th `seg` line (non-MSH numbering).
fn set(text: &str, seg: &str, occ: usize, field: usize, value: &str) -> String {
    let mut seen = 0;
    text.split('\r')
        .map(|line| {
            if !line.starts_with(seg) {
                return line.to_string();
            }
            seen += 1;
            if seen != occ {
                return line.to_string();
            }
            let mut parts: Vec<String> = line.split('|').map(str::to_string).collect();
            if parts.len() <= field {
                parts.resize(field + 1, String::new());
            }
            parts[field] = value.to_string();
            parts.join("|")
        })
        .collect::<Vec<_>>()
        .join("\r")
}

fn drop_line(text: &str, starts: &str) -> String {
    text.split('\r')
        .filter(|l| !l.starts_with(starts))
        .collect::<Vec<_>>()
        .join("\r")
}

fn run(text: &str) -> (Option<PatientSubmission>, Vec<Issue>) {
    let m = Message::parse(text).unwrap();
    let (s, i) = interpret_vxu(&m, d(2025, 6, 1), CodeTables::embedded());
    (s.map(|s| s.submission), i)
}

fn has(issues: &[Issue], sev: Severity, loc: &str) -> bool {
    issues
        .iter()
        .any(|i| i.severity == sev && i.location.to_string() == loc)
}

type Check = fn(&Option<PatientSubmission>, &[Issue]);

#[test]
fn ig_rules_one_by_one() {
    let base = common::corpus_text("157_");
    let (s, i) = run(&base);
    assert!(i.is_empty(), "baseline must be clean: {i:#?}");
    assert!(s.is_some());
    let observation_group = |loinc: &str, value: &str| {
        format!(
            "{base}\rORC|RE||9999^CDC\rRXA|0|1|20120814||998^No vaccine administered^CVX|999||||||||||||||NA|A\rOBX|1|CE|{loinc}^x^LN|1|{value}||||||F|||20120801"
        )
    };
    let cases: Vec<(&str, String, Check)> = vec![
        (
            "multiple birth",
            set(&set(&base, "PID", 1, 24, "Y"), "PID", 1, 25, "2"),
            |s, i| {
                let p = &s.as_ref().unwrap().patient;
                assert_eq!((p.multiple_birth, p.birth_order), (Some(true), Some(2)));
                assert!(i.is_empty(), "{i:?}");
            },
        ),
        (
            "multiple birth without order",
            set(&base, "PID", 1, 24, "Y"),
            |_, i| assert!(has(i, Severity::Warning, "PID^1^25")),
        ),
        (
            "death",
            set(&set(&base, "PID", 1, 30, "Y"), "PID", 1, 29, "20200101"),
            |s, _| {
                let p = &s.as_ref().unwrap().patient;
                assert_eq!((p.deceased, p.death_date), (Some(true), Some(d(2020, 1, 1))));
            },
        ),
        (
            "death indicator without date",
            set(&base, "PID", 1, 30, "Y"),
            |_, i| assert!(has(i, Severity::Warning, "PID^1^29")),
        ),
        (
            "protection indicator (data-sharing objection)",
            set(&set(&base, "PD1", 1, 12, "Y"), "PD1", 1, 13, "20120701"),
            |s, i| {
                let pr = s.as_ref().unwrap().patient.protection.clone().unwrap();
                assert!(pr.value);
                assert_eq!(pr.effective, Some(d(2012, 7, 1)));
                assert!(i.is_empty(), "{i:?}");
            },
        ),
        (
            "protection without date",
            set(&base, "PD1", 1, 12, "N"),
            |s, i| {
                assert!(!s.as_ref().unwrap().patient.protection.as_ref().unwrap().value);
                assert!(has(i, Severity::Warning, "PD1^1^13"));
            },
        ),
        (
            "registry status",
            set(&base, "PD1", 1, 16, "M"),
            |s, _| {
                let st = s.as_ref().unwrap().patient.registry_status.clone().unwrap();
                assert_eq!(st.value, RegistryStatus::MovedOrGoneElsewhere);
                assert_eq!(st.effective, Some(d(2012, 7, 1)));
            },
        ),
        (
            "bad registry status",
            set(&base, "PD1", 1, 16, "Z"),
            |_, i| assert!(has(i, Severity::Warning, "PD1^1^16")),
        ),
        (
            "administered in the future",
            set(&base, "RXA", 1, 3, "20300101"),
            |s, i| {
                assert!(s.as_ref().unwrap().doses.is_empty());
                assert!(has(i, Severity::Error, "RXA^1^3"));
                assert!(has(i, Severity::Error, "RXA^1"));
            },
        ),
        (
            "bad administration date",
            set(&base, "RXA", 1, 3, "2012AB14"),
            |s, i| {
                assert!(s.as_ref().unwrap().doses.is_empty());
                assert!(i.iter().any(|i| i.location.to_string() == "RXA^1^3"
                    && i.code.map(|c| c.code()) == Some(102)));
            },
        ),
        (
            "delete without ORC-3",
            set(&set(&base, "RXA", 1, 21, "D"), "ORC", 1, 3, ""),
            |s, i| {
                assert!(s.as_ref().unwrap().doses.is_empty());
                assert!(has(i, Severity::Error, "ORC^1^3"));
            },
        ),
        (
            "unknown action code",
            set(&base, "RXA", 1, 21, "X"),
            |s, i| {
                assert_eq!(s.as_ref().unwrap().doses[0].action, DoseAction::Add);
                assert!(has(i, Severity::Warning, "RXA^1^21"));
            },
        ),
        (
            "unknown relationship",
            set(&base, "NK1", 1, 3, "ZZZ^odd^HL70063"),
            |s, i| {
                assert_eq!(s.as_ref().unwrap().patient.guardians.len(), 1);
                assert!(has(i, Severity::Warning, "NK1^1^3"));
            },
        ),
        (
            "NK1 without name: segment rejected",
            set(&base, "NK1", 1, 2, ""),
            |s, i| {
                assert!(s.as_ref().unwrap().patient.guardians.is_empty());
                assert!(has(i, Severity::Error, "NK1^1^2"));
                assert_eq!(AckCode::from_issues(i), AckCode::Error);
            },
        ),
        (
            "contraindication",
            observation_group("30945-0", "91930004^Allergy to eggs^SCT"),
            |s, _| {
                let o = &s.as_ref().unwrap().observations;
                assert_eq!(o.len(), 1);
                assert_eq!(o[0].kind, ObservationKind::Contraindication);
                assert_eq!(o[0].date, Some(d(2012, 8, 1)));
            },
        ),
        (
            "reaction",
            observation_group("31044-1", "39579001^Anaphylaxis^SCT"),
            |s, _| assert_eq!(s.as_ref().unwrap().observations[0].kind, ObservationKind::Reaction),
        ),
        (
            "special indication",
            observation_group("59785-6", "VXC7^exposure to rabies^CDCPHINVS"),
            |s, _| {
                assert_eq!(s.as_ref().unwrap().observations[0].kind, ObservationKind::Indication)
            },
        ),
        (
            "refusal with reason; RXA-9 must then be empty (IZ-47)",
            set(
                &set(&base, "RXA", 1, 20, "RE"),
                "RXA",
                1,
                18,
                "00^Parental decision^NIP002",
            ),
            |s, i| {
                let ev = &s.as_ref().unwrap().doses[0].event;
                assert_eq!(ev.completion, CompletionStatus::Refused);
                assert_eq!(ev.refusal_reason.as_ref().unwrap().code, "00");
                assert!(has(i, Severity::Warning, "RXA^1^9"));
            },
        ),
        (
            "refusal reason without RE (IZ-32)",
            set(&base, "RXA", 1, 18, "00^Parental decision^NIP002"),
            |s, i| {
                assert!(s.as_ref().unwrap().doses[0].event.refusal_reason.is_none());
                assert!(has(i, Severity::Warning, "RXA^1^18"));
            },
        ),
        (
            "new administration without funding OBX (IZ-23)",
            drop_line(&base, "OBX|1|"),
            |s, i| {
                assert!(s.as_ref().unwrap().doses[0].event.funding_eligibility.is_none());
                assert!(has(i, Severity::Warning, "RXA^1"));
                assert_eq!(AckCode::from_issues(i), AckCode::Accept);
            },
        ),
        (
            "unknown manufacturer",
            set(&base, "RXA", 1, 17, "QQQ^Nobody^MVX"),
            |s, i| {
                assert!(s.as_ref().unwrap().doses[0].event.mvx.is_none());
                assert!(has(i, Severity::Warning, "RXA^1^17"));
            },
        ),
        (
            "odd sex",
            set(&base, "PID", 1, 8, "Q"),
            |_, i| assert!(has(i, Severity::Warning, "PID^1^8")),
        ),
        (
            "identifiers with authority and type",
            set(&base, "PID", 1, 3, "D26376273^^^NIST MPI^MR~555^^^MAA&2.16.840.1&ISO^SR"),
            |s, _| {
                let ids = &s.as_ref().unwrap().patient.identifiers;
                assert_eq!(ids.len(), 2);
                assert_eq!(
                    (ids[1].value.as_str(), ids[1].assigning_authority.as_str(), ids[1].id_type.as_str()),
                    ("555", "MAA", "SR")
                );
            },
        ),
        (
            "second order group with an unknown CVX: that dose only",
            format!(
                "{base}\rORC|RE||IZ-2^NDA\rRXA|0|1|20120814||9876^bad^CVX|0.5|mL^^UCUM||01^hist^NIP001||||||||||CP|A"
            ),
            |s, i| {
                assert_eq!(s.as_ref().unwrap().doses.len(), 1);
                assert!(has(i, Severity::Error, "RXA^2^5"));
                assert!(has(i, Severity::Error, "RXA^2"));
                assert_eq!(AckCode::from_issues(i), AckCode::Error);
            },
        ),
        (
            "CVX with leading zeros and spaces",
            set(&base, "RXA", 1, 5, " 0140 ^flu^CVX"),
            |s, i| {
                assert_eq!(s.as_ref().unwrap().doses[0].event.cvx.as_ref().unwrap().as_str(), "140");
                assert!(i.is_empty(), "{i:?}");
            },
        ),
        (
            "HL7 explicit nulls read as empty",
            set(&set(&base, "PID", 1, 29, "\"\""), "PID", 1, 24, "\"\""),
            |s, i| {
                assert!(s.as_ref().unwrap().patient.death_date.is_none());
                assert!(i.is_empty(), "{i:?}");
            },
        ),
        (
            "NDC only",
            set(&base, "RXA", 1, 5, "49281-0400-10^Adacel^NDC"),
            |s, _| {
                let ev = &s.as_ref().unwrap().doses[0].event;
                assert!(ev.cvx.is_some(), "NDC should map to a CVX");
                assert_eq!(ev.ndc.as_deref(), Some("49281040010"));
            },
        ),
    ];
    for (name, text, check) in cases {
        let (s, i) = run(&text);
        eprintln!("case: {name}");
        check(&s, &i);
    }
}
