//! Data-driven cases: `tests/cases.toml` holds synthetic students beside the
//! statuses the embedded Massachusetts rules must give them. Doses are written
//! relative to the birth date ("4y1m 20" = CVX 20 at 4 years 1 month) or as a
//! date, optionally marked `invalid` (CDSi Not Valid); named dose lists can
//! be combined with `use`. A case can patch the rules' settings.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use immunis_schools::{
    evaluate, Age, CdsiGroup, CdsiStatus, Dose, Evidence, EvidenceKind, Exemption, ExemptionKind,
    Grade, NextDose, Rules, Student, Validity, MASSACHUSETTS_2025,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    profiles: BTreeMap<String, Vec<String>>,
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    birth: String,
    grade: String,
    on: String,
    #[serde(default, rename = "use")]
    uses: Vec<String>,
    #[serde(default)]
    doses: Vec<String>,
    #[serde(default)]
    evidence: Vec<String>,
    #[serde(default)]
    cdsi: Vec<String>,
    #[serde(default)]
    exemptions: Vec<String>,
    #[serde(default)]
    born_in_us: Option<bool>,
    #[serde(default)]
    health_science: bool,
    #[serde(default)]
    settings: BTreeMap<String, toml::Value>,
    // expectations
    set: Option<String>,
    overall: Option<String>,
    #[serde(default)]
    status: BTreeMap<String, String>,
    #[serde(default)]
    missing: Vec<String>,
    #[serde(default)]
    notes: Vec<String>,
    #[serde(default)]
    no_missing: bool,
    error: Option<String>,
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("bad date {s:?}: {e}"))
}

fn when(s: &str, birth: NaiveDate) -> NaiveDate {
    if s.contains('-') && s.len() == 10 {
        date(s)
    } else {
        Age::parse(s)
            .unwrap_or_else(|e| panic!("bad age {s:?}: {e}"))
            .after(birth)
    }
}

fn dose(spec: &str, birth: NaiveDate, rules: &Rules) -> Dose {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    assert!(parts.len() >= 2, "dose spec {spec:?}: `WHEN CVX [invalid]`");
    let cvx: u16 = parts[1].parse().expect("cvx");
    let invalid = parts.get(2) == Some(&"invalid");
    let mut cdsi: Vec<(String, Validity)> = Vec::new();
    for g in rules.groups.iter().filter(|g| g.cvx.contains(&cvx)) {
        if let Some(cg) = &g.cdsi_group {
            if !cdsi.iter().any(|(n, _)| n == cg) {
                let v = if invalid {
                    Validity::NotValid("Age: Too Young".into())
                } else {
                    Validity::Valid
                };
                cdsi.push((cg.clone(), v));
            }
        }
    }
    Dose {
        date: when(parts[0], birth),
        cvx,
        cdsi,
    }
}

fn cdsi_group(spec: &str) -> CdsiGroup {
    // GROUP STATUS [DOSE EARLIEST RECOMMENDED PAST_DUE|-]
    let p: Vec<&str> = spec.split_whitespace().collect();
    let status = match p[1] {
        "not_complete" => CdsiStatus::NotComplete,
        "complete" => CdsiStatus::Complete,
        "immune" => CdsiStatus::Immune,
        "contraindicated" => CdsiStatus::Contraindicated,
        "aged_out" => CdsiStatus::AgedOut,
        "not_recommended" => CdsiStatus::NotRecommended,
        other => panic!("cdsi status {other}"),
    };
    let next = (p.len() >= 6).then(|| NextDose {
        dose_number: p[2].parse().expect("dose number"),
        earliest: date(p[3]),
        recommended: date(p[4]),
        past_due: (p[5] != "-").then(|| date(p[5])),
    });
    CdsiGroup {
        group: p[0].to_string(),
        status,
        next,
    }
}

fn exemption(spec: &str) -> Exemption {
    // KIND GROUPS|* SIGNED [SCHOOL_YEAR|-] [EXPIRES]
    let p: Vec<&str> = spec.split_whitespace().collect();
    Exemption {
        kind: ExemptionKind::parse(p[0]).expect("kind"),
        groups: if p[1] == "*" {
            Vec::new()
        } else {
            p[1].split(',').map(str::to_string).collect()
        },
        signed: date(p[2]),
        school_year: p
            .get(3)
            .filter(|y| **y != "-")
            .map(|y| y.parse().expect("year")),
        expires: p.get(4).map(|d| date(d)),
    }
}

fn rules_with(settings: &BTreeMap<String, toml::Value>) -> Rules {
    let mut text = MASSACHUSETTS_2025.to_string();
    for (k, v) in settings {
        let prefix = format!("\n{k} = ");
        let start = text
            .find(&prefix)
            .unwrap_or_else(|| panic!("no setting {k}"));
        let line_end = text[start + 1..]
            .find('\n')
            .map(|i| start + 1 + i)
            .unwrap_or(text.len());
        let v = match v {
            toml::Value::String(s) => format!("\"{s}\""),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => panic!("setting {k}: unsupported value {other:?}"),
        };
        text.replace_range(start + 1..line_end, &format!("{k} = {v}"));
    }
    Rules::parse(&text).expect("patched rules parse")
}

#[test]
fn massachusetts_cases() {
    let file: File = toml::from_str(include_str!("cases.toml")).expect("tests/cases.toml parses");
    let mut failures = Vec::new();
    let default_rules = Rules::massachusetts().expect("embedded rules");
    for c in &file.case {
        let rules = if c.settings.is_empty() {
            default_rules.clone()
        } else {
            rules_with(&c.settings)
        };
        let birth = date(&c.birth);
        let on = date(&c.on);
        let mut s = Student::new(birth, Grade::parse(&c.grade).expect("grade"));
        for u in &c.uses {
            let list = file
                .profiles
                .get(u)
                .unwrap_or_else(|| panic!("{}: no profile {u}", c.name));
            s.doses.extend(list.iter().map(|d| dose(d, birth, &rules)));
        }
        s.doses
            .extend(c.doses.iter().map(|d| dose(d, birth, &rules)));
        s.evidence = c
            .evidence
            .iter()
            .map(|e| {
                let (antigen, kind) = e.rsplit_once(' ').expect("ANTIGEN KIND");
                Evidence {
                    antigen: antigen.to_string(),
                    kind: EvidenceKind::parse(kind).expect("evidence kind"),
                }
            })
            .collect();
        s.cdsi = c.cdsi.iter().map(|g| cdsi_group(g)).collect();
        s.exemptions = c.exemptions.iter().map(|e| exemption(e)).collect();
        s.born_in_us = c.born_in_us;
        s.health_science = c.health_science;
        let result = evaluate(&rules, &s, on);
        let mut fail = |what: String| failures.push(format!("[{}] {what}", c.name));
        let r = match (result, &c.error) {
            (Err(e), Some(want)) => {
                if !e.to_string().contains(want.as_str()) {
                    fail(format!("error {e} does not contain {want:?}"));
                }
                continue;
            }
            (Err(e), None) => {
                fail(format!("unexpected error {e}"));
                continue;
            }
            (Ok(r), Some(want)) => {
                fail(format!("expected error {want:?}, got {:?}", r.overall));
                continue;
            }
            (Ok(r), None) => r,
        };
        if let Some(set) = &c.set {
            if &r.set_id != set {
                fail(format!("set {} (want {set})", r.set_id));
            }
        }
        if let Some(o) = &c.overall {
            if &r.overall.to_string() != o {
                fail(format!(
                    "overall {} (want {o}); {:?}",
                    r.overall, r.requirements
                ));
            }
        }
        for (g, want) in &c.status {
            match r.requirement(g) {
                Some(req) if &req.status.to_string() == want => {}
                Some(req) => fail(format!(
                    "{g}: {} (want {want}); missing {:?} notes {:?}",
                    req.status, req.missing, req.notes
                )),
                None => fail(format!("{g}: not in the set {}", r.set_id)),
            }
        }
        let missing = r.missing();
        for m in &c.missing {
            if !missing.iter().any(|x| x.starts_with(m.as_str())) {
                fail(format!("missing {missing:?} lacks {m:?}"));
            }
        }
        if c.no_missing && !missing.is_empty() {
            fail(format!("expected nothing missing, got {missing:?}"));
        }
        let notes: Vec<&String> = r.requirements.iter().flat_map(|x| &x.notes).collect();
        for n in &c.notes {
            if !notes.iter().any(|x| x.contains(n.as_str())) {
                fail(format!("notes {notes:?} lack {n:?}"));
            }
        }
    }
    assert!(file.case.len() >= 40, "the table keeps its edge cases");
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        file.case.len(),
        failures.join("\n")
    );
}

#[test]
fn bad_rules_files_are_refused_with_a_reason() {
    let base = MASSACHUSETTS_2025;
    let cases = [
        (
            base.replace("group = \"Tdap\"\n", "group = \"Tdapx\"\n"),
            "unknown group",
        ),
        (
            base.replace("min_age = \"1y\"", "min_age = \"1q\""),
            "not an age",
        ),
        (
            base.replace("in_progress = \"earliest\"", "in_progress = \"soon\""),
            "in_progress",
        ),
        (
            base.replace(
                "cdsi_complete = true",
                "cdsi_complete = true\ncount = { doses = 3 }",
            ),
            "exactly one",
        ),
        (
            base.replace("grace_days = 0", "grace_days = 0\nsurprise = 1"),
            "unknown field",
        ),
        (
            base.replace("grades = [\"11\", \"12\"]", "grades = [\"13\"]"),
            "not a grade",
        ),
        ("name = \"x\"\n".to_string(), "no [[set]]"),
    ];
    for (text, want) in cases {
        match Rules::parse(&text) {
            Ok(_) => panic!("accepted a file that should fail with {want:?}"),
            Err(e) => assert!(e.to_string().contains(want), "{e} lacks {want:?}"),
        }
    }
}

#[test]
fn grades_and_school_years() {
    for (s, g) in [
        ("K", Grade::K),
        ("kg", Grade::K),
        ("K2", Grade::K),
        ("Kindergarten", Grade::K),
        ("07", Grade::Grade(7)),
        ("grade 7", Grade::Grade(7)),
        ("pre-k", Grade::Preschool),
        ("college", Grade::College),
        ("ungraded", Grade::Ungraded),
    ] {
        assert_eq!(Grade::parse(s).expect(s), g, "{s}");
    }
    for bad in ["0", "13", "", "first"] {
        assert!(Grade::parse(bad).is_err(), "{bad}");
    }
    let rules = Rules::massachusetts().expect("rules");
    assert_eq!(rules.school_year_of(date("2025-09-02")), 2025);
    assert_eq!(rules.school_year_of(date("2026-06-30")), 2025);
    assert_eq!(rules.school_year_of(date("2026-07-01")), 2026);
    assert_eq!(immunis_schools::parse_school_year("2025-26"), Ok(2025));
    assert_eq!(immunis_schools::parse_school_year("2025-2026"), Ok(2025));
    assert_eq!(immunis_schools::parse_school_year("2025"), Ok(2025));
    assert!(immunis_schools::parse_school_year("2025-24").is_err());
    assert_eq!(immunis_schools::school_year_label(2025), "2025-26");
    assert_eq!(
        rules.evidence_for_cdsi_observation(24),
        Some(("varicella", EvidenceKind::ClinicianHistory))
    );
}
