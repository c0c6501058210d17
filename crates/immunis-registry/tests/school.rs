//! The school nurse view on a real store (SQLite, and PostgreSQL when
//! `IMMUNIS_TEST_PG` is set): roster grades, the report through the real
//! CDSi engine and the Massachusetts rules, an objection shown as "record not
//! available to school", exemptions, the grade filter, who may do what, the
//! per-student audit and the CSV export.

use std::sync::Arc;

use chrono::NaiveDate;
use immunis_model::{
    BirthDate, Code, CompletionStatus, Cvx, DoseAction, DoseReport, InformationSource,
    ObservationKind, OrganizationKind, Patient, PatientId, PatientIdentifier, PatientObservation,
    PatientSubmission, PersonName, Sex, SubmissionSource, VaccinationEvent,
};
use immunis_registry::school::{NewExemption, RowStatus};
use immunis_registry::{
    console_admin, Actor, AuditVerification, ConsentKind, Registry, RegistryError, Reply, Role,
    SchoolReport,
};
use immunis_schools::{ExemptionKind, Grade, Overall, Rules, Status};
use immunis_store::{JournalEntry, Store};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid literal")
}

const TODAY: (i32, u32, u32) = (2025, 9, 2);

fn today() -> NaiveDate {
    d(TODAY.0, TODAY.1, TODAY.2)
}

fn months(birth: NaiveDate, m: u32) -> NaiveDate {
    birth
        .checked_add_months(chrono::Months::new(m))
        .expect("in range")
}

/// A complete kindergarten history (CDC schedule ages) for a birth date.
fn k_series(birth: NaiveDate) -> Vec<(&'static str, NaiveDate)> {
    let m = |n| months(birth, n);
    vec![
        ("08", birth),
        ("08", m(2)),
        ("08", m(6)),
        ("20", m(2)),
        ("20", m(4)),
        ("20", m(6)),
        ("20", m(15)),
        ("20", m(49)),
        ("10", m(2)),
        ("10", m(4)),
        ("10", m(6)),
        ("10", m(49)),
        ("03", m(12)),
        ("03", m(49)),
        ("21", m(12)),
        ("21", m(49)),
    ]
}

fn without(series: Vec<(&'static str, NaiveDate)>, cvx: &str) -> Vec<(&'static str, NaiveDate)> {
    series.into_iter().filter(|(c, _)| *c != cvx).collect()
}

struct Env {
    reg: Arc<Registry>,
    _store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

fn sqlite() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = immunis_store::open(dir.path(), None).expect("store");
    Env {
        reg: Registry::new(store.clone()).expect("registry"),
        _store: store,
        _dir: Some(dir),
    }
}

fn postgres(test: &str) -> Option<Env> {
    let Ok(base) = std::env::var("IMMUNIS_TEST_PG") else {
        eprintln!("!!!! SKIPPED (PostgreSQL): IMMUNIS_TEST_PG is not set !!!!");
        return None;
    };
    let db = format!("immunis_school_{}_{}", test, std::process::id());
    let mut admin = postgres::Client::connect(&format!("{base} dbname=postgres"), postgres::NoTls)
        .expect("connect to the test PostgreSQL server");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .expect("drop old test database");
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .expect("create test database");
    let store = immunis_store::open(
        std::path::Path::new("."),
        Some(&format!("{base} dbname={db}")),
    )
    .expect("open postgres store");
    Some(Env {
        reg: Registry::new(store.clone()).expect("registry"),
        _store: store,
        _dir: None,
    })
}

fn ingest(
    reg: &Registry,
    mrn: &str,
    family: &str,
    given: &str,
    birth: NaiveDate,
    doses: &[(&str, NaiveDate)],
    observations: Vec<PatientObservation>,
) -> PatientId {
    let mut p = Patient::new(
        PersonName::parse(family, given).expect("name"),
        BirthDate(birth),
        Sex::Female,
    );
    p.identifiers
        .push(PatientIdentifier::new(mrn, "PEDS", "MR"));
    let sub = PatientSubmission {
        source: SubmissionSource {
            facility_code: "PEDS".into(),
            message_control_id: mrn.into(),
        },
        patient: p,
        doses: doses
            .iter()
            .enumerate()
            .map(|(i, (cvx, date))| DoseReport {
                action: DoseAction::Add,
                event: VaccinationEvent {
                    administered_date: Some(*date),
                    cvx: Cvx::parse(cvx).ok(),
                    information_source: InformationSource::Administered,
                    completion: CompletionStatus::Complete,
                    filler_order_number: Some(format!("{mrn}-{i}")),
                    ..Default::default()
                },
            })
            .collect(),
        observations,
    };
    let entry = JournalEntry {
        transport: "test".into(),
        facility_code: Some("PEDS".into()),
        remote_addr: None,
        message_control_id: Some(mrn.into()),
        message_type: None,
        raw: b"MSH|test".to_vec(),
    };
    let (outcome, _) = reg
        .ingest_blocking(&console_admin(), sub, entry, |_| Reply {
            bytes: b"ACK".to_vec(),
            code: "AA".into(),
        })
        .expect("ingest");
    outcome.patient_id.expect("a patient")
}

fn audit_count(reg: &Registry) -> i64 {
    match reg.verify_audit(&console_admin(), &[]).expect("verify") {
        AuditVerification::Intact { records, .. } => records,
        b => panic!("{b:?}"),
    }
}

fn row(r: &SchoolReport, id: PatientId) -> &immunis_registry::SchoolReportRow {
    r.rows
        .iter()
        .find(|x| x.patient_id == id)
        .unwrap_or_else(|| panic!("no row for {id:?}"))
}

fn cell(r: &SchoolReport, id: PatientId, key: &str) -> Status {
    let i = r
        .columns
        .iter()
        .position(|c| c.key == key)
        .unwrap_or_else(|| panic!("no column {key}"));
    row(r, id).cells[i]
        .as_ref()
        .unwrap_or_else(|| panic!("{id:?} has no {key} cell"))
        .status
}

fn scenario(reg: &Registry) {
    let admin = console_admin();
    let rules = Rules::massachusetts().expect("rules");
    reg.register_facility(
        &admin,
        "Pediatrics Inc",
        OrganizationKind::Provider,
        "PEDS",
        "PEDS",
    )
    .expect("facility");
    let maple = reg
        .add_organization(&admin, "Maple Elementary", OrganizationKind::School)
        .expect("school");
    let oak = reg
        .add_organization(&admin, "Oak Middle", OrganizationKind::School)
        .expect("school");
    let nurse = Actor {
        subject: "nurse.maple".into(),
        role: Role::School,
        organization: Some(maple),
        facility_code: None,
        client_addr: None,
    };
    let other_nurse = Actor {
        subject: "nurse.oak".into(),
        role: Role::School,
        organization: Some(oak),
        facility_code: None,
        client_addr: None,
    };
    let provider = reg.facility_actor("PEDS", None).expect("provider actor");

    let kb = d(2020, 3, 10);
    let ava = ingest(reg, "A1", "Abbott", "Ava", kb, &k_series(kb), vec![]);
    let mut ben_doses = without(k_series(kb), "03");
    ben_doses.extend([("03", months(kb, 11)), ("03", months(kb, 49))]);
    let ben = ingest(reg, "B1", "Baker", "Ben", kb, &ben_doses, vec![]);
    let history = PatientObservation {
        kind: ObservationKind::EvidenceOfImmunity,
        value: Code::new("38907003"), // SNOMED history of varicella: CDSi 024
        date: Some(d(2022, 5, 1)),
    };
    let cal = ingest(
        reg,
        "C1",
        "Cole",
        "Cal",
        kb,
        &without(k_series(kb), "21"),
        vec![history],
    );
    let dee = ingest(reg, "D1", "Dunn", "Dee", kb, &k_series(kb), vec![]);
    let eb = d(2013, 5, 1);
    let mut eve_doses = k_series(eb);
    eve_doses.extend([("115", d(2024, 6, 3)), ("114", d(2024, 6, 3))]);
    let eve = ingest(reg, "E1", "Evans", "Eve", eb, &eve_doses, vec![]);
    let fay = ingest(
        reg,
        "F1",
        "Fox",
        "Fay",
        kb,
        &without(k_series(kb), "03"),
        vec![],
    );
    let gus = ingest(reg, "G1", "Gray", "Gus", kb, &k_series(kb), vec![]);
    let mut hal_doses = without(k_series(kb), "03");
    hal_doses.push(("03", d(2025, 8, 23))); // late starter: dose 2 not yet allowed
    let hal = ingest(reg, "H1", "Hale", "Hal", kb, &hal_doses, vec![]);
    reg.record_consent(&admin, dee, ConsentKind::ObjectionFiled, None, None)
        .expect("objection");

    // Roster: administrators put students on it, with their grade.
    let k = Grade::parse("K").expect("grade");
    for p in [ava, ben, cal, dee, fay, hal] {
        reg.set_school_grade(&admin, "Maple Elementary", p, &k, Some(2025))
            .expect("roster");
    }
    reg.set_school_grade(
        &admin,
        "Maple Elementary",
        eve,
        &Grade::Grade(7),
        Some(2025),
    )
    .expect("roster");

    // Who may maintain the school's records.
    assert!(matches!(
        reg.set_school_grade(&nurse, "Maple Elementary", gus, &k, None),
        Err(RegistryError::Denied(_))
    ));
    assert!(matches!(
        reg.set_school_grade(&other_nurse, "Maple Elementary", ava, &k, None),
        Err(RegistryError::Denied(_))
    ));
    assert!(matches!(
        reg.set_school_grade(&provider, "Maple Elementary", ava, &k, None),
        Err(RegistryError::Denied(_))
    ));
    reg.set_school_grade(&nurse, "Maple Elementary", ava, &k, Some(2025))
        .expect("a nurse keeps grades of her own students");
    assert!(matches!(
        reg.set_school_grade(&admin, "Pediatrics Inc", ava, &k, None),
        Err(RegistryError::Invalid(_))
    ));
    let religious = NewExemption {
        kind: ExemptionKind::Religious,
        groups: Vec::new(),
        signed: d(2025, 8, 20),
        school_year: Some(2025),
        expires: None,
    };
    assert!(matches!(
        reg.record_school_exemption(&nurse, &rules, "Maple Elementary", gus, &religious),
        Err(RegistryError::Denied(_))
    ));
    let bad_group = NewExemption {
        groups: vec!["Smallpox".into()],
        ..religious.clone()
    };
    assert!(matches!(
        reg.record_school_exemption(&nurse, &rules, "Maple Elementary", fay, &bad_group),
        Err(RegistryError::Invalid(_))
    ));
    // A wrong exemption, withdrawn, and the right one.
    let wrong = reg
        .record_school_exemption(&nurse, &rules, "Maple Elementary", ben, &religious)
        .expect("file");
    reg.withdraw_school_exemption(&nurse, "Maple Elementary", wrong)
        .expect("withdraw");
    assert!(reg
        .withdraw_school_exemption(&nurse, "Maple Elementary", wrong)
        .is_err());
    reg.record_school_exemption(&nurse, &rules, "Maple Elementary", fay, &religious)
        .expect("file");
    // The school files its own paper even under an objection.
    reg.record_school_exemption(&nurse, &rules, "Maple Elementary", dee, &religious)
        .expect("file under objection");

    // The report, as the nurse sees it; one audit entry per student.
    let before = audit_count(reg);
    let report = reg
        .school_report(&nurse, &rules, "Maple Elementary", None, today())
        .expect("report");
    assert_eq!(audit_count(reg), before + 7, "one audit entry per student");
    assert_eq!(report.rows.len(), 7);
    assert!(report.rows.iter().all(|r| r.patient_id != gus));
    assert_eq!(report.school_year, "2025-26");

    assert_eq!(
        row(&report, ava).status,
        RowStatus::Assessed(Overall::Compliant)
    );
    assert_eq!(row(&report, ava).name, "Abbott, Ava");
    assert_eq!(row(&report, ava).requirement_set, "k-6");

    assert_eq!(
        row(&report, ben).status,
        RowStatus::Assessed(Overall::NotCompliant)
    );
    assert_eq!(cell(&report, ben, "MMR"), Status::NotCompliant);
    assert!(
        row(&report, ben)
            .missing
            .iter()
            .any(|m| m == "needs MMR dose 2 (on or after the 1st birthday)"),
        "{:?}",
        row(&report, ben).missing
    );

    assert_eq!(
        cell(&report, cal, "Varicella"),
        Status::Compliant(immunis_schools::Basis::Immunity)
    );
    assert_eq!(
        row(&report, cal).status,
        RowStatus::Assessed(Overall::Compliant)
    );

    // Under an objection: nothing from the registry, not even the name.
    let dee_row = row(&report, dee);
    assert_eq!(dee_row.status, RowStatus::NotAvailable);
    assert!(dee_row.name.is_empty() && dee_row.birth_date.is_none());
    assert!(dee_row.cells.iter().all(Option::is_none));
    assert_eq!(dee_row.grade, "K");

    assert_eq!(row(&report, eve).requirement_set, "7-10");
    assert_eq!(
        row(&report, eve).status,
        RowStatus::Assessed(Overall::Compliant)
    );
    assert_eq!(
        cell(&report, eve, "MenACWY"),
        Status::Compliant(immunis_schools::Basis::Doses)
    );

    assert_eq!(
        row(&report, fay).status,
        RowStatus::Assessed(Overall::Exempt(ExemptionKind::Religious))
    );
    assert_eq!(
        cell(&report, fay, "MMR"),
        Status::Exempt(ExemptionKind::Religious)
    );
    assert_eq!(
        cell(&report, fay, "DTaP"),
        Status::Compliant(immunis_schools::Basis::Doses)
    );
    // Ben's withdrawn exemption does not count.
    assert_eq!(
        cell(&report, ben, "DTaP"),
        Status::Compliant(immunis_schools::Basis::Doses)
    );

    // The real CDSi forecast: MMR dose 2 cannot be given before 28 days.
    assert!(
        matches!(cell(&report, hal, "MMR"), Status::InProgress { due } if due > today()),
        "{:?}",
        cell(&report, hal, "MMR")
    );
    assert_eq!(
        row(&report, hal).status,
        RowStatus::Assessed(Overall::InProgress)
    );

    let s = &report.summary;
    assert_eq!(
        (
            s.students,
            s.compliant,
            s.not_compliant,
            s.in_progress,
            s.exempt,
            s.not_available
        ),
        (7, 3, 1, 1, 1, 1)
    );
    let mmr = s
        .per_requirement
        .iter()
        .find(|c| c.key == "MMR")
        .expect("MMR counts");
    assert_eq!(
        (
            mmr.by_doses,
            mmr.religious,
            mmr.in_progress,
            mmr.not_compliant
        ),
        (3, 1, 1, 1)
    );

    // Grade filter.
    let k_only = reg
        .school_report(&nurse, &rules, "Maple Elementary", Some(&k), today())
        .expect("K report");
    assert_eq!(k_only.rows.len(), 6);
    let g7 = reg
        .school_report(
            &admin,
            &rules,
            "Maple Elementary",
            Some(&Grade::Grade(7)),
            today(),
        )
        .expect("grade 7 report");
    assert_eq!(g7.rows.len(), 1);
    assert_eq!(g7.rows[0].patient_id, eve);

    // An administrator's report shows what the school sees: Dee still hidden.
    let as_admin = reg
        .school_report(&admin, &rules, "Maple Elementary", None, today())
        .expect("admin report");
    assert_eq!(row(&as_admin, dee).status, RowStatus::NotAvailable);

    // Other schools and other roles get nothing (and are audited).
    let before = audit_count(reg);
    assert!(matches!(
        reg.school_report(&other_nurse, &rules, "Maple Elementary", None, today()),
        Err(RegistryError::Denied(_))
    ));
    assert!(matches!(
        reg.school_report(&provider, &rules, "Maple Elementary", None, today()),
        Err(RegistryError::Denied(_))
    ));
    assert_eq!(audit_count(reg), before + 2);

    // The accounting of disclosures lists the school's reads, per student;
    // Dee's denied read is not a disclosure.
    let ava_disclosures = reg.disclosures(&admin, ava).expect("disclosures");
    assert!(ava_disclosures
        .iter()
        .any(|x| x.action == "school_report" && x.actor == "nurse.maple"));
    let dee_disclosures = reg.disclosures(&admin, dee).expect("disclosures");
    assert!(dee_disclosures.iter().all(|x| x.action != "school_report"));
    let gus_disclosures = reg.disclosures(&admin, gus).expect("disclosures");
    assert!(gus_disclosures.iter().all(|x| x.action != "school_report"));

    // CSV: one row per student, per-requirement columns, missing items.
    let mut buf = Vec::new();
    report.write_csv(&mut buf).expect("csv");
    let mut rdr = csv::Reader::from_reader(buf.as_slice());
    let header: Vec<String> = rdr
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        &header[..6],
        [
            "registry_id",
            "name",
            "birth_date",
            "grade",
            "requirement_set",
            "overall"
        ]
    );
    assert_eq!(header.last().map(String::as_str), Some("missing"));
    let mmr_col = header.iter().position(|h| h == "MMR").expect("MMR column");
    let records: Vec<csv::StringRecord> = rdr.records().map(|r| r.expect("record")).collect();
    assert_eq!(records.len(), 7);
    let by_id = |id: PatientId| {
        records
            .iter()
            .find(|r| r.get(0) == Some(id.0.to_string().as_str()))
            .expect("row")
    };
    let b = by_id(ben);
    assert_eq!(b.get(1), Some("Baker, Ben"));
    assert_eq!(b.get(2), Some("2020-03-10"));
    assert_eq!(b.get(5), Some("not compliant"));
    assert_eq!(b.get(mmr_col), Some("not compliant"));
    assert!(b
        .get(header.len() - 1)
        .is_some_and(|m| m.contains("needs MMR dose 2")));
    let dd = by_id(dee);
    assert_eq!(dd.get(1), Some(""));
    assert_eq!(dd.get(5), Some("record not available to school"));
    assert_eq!(by_id(fay).get(5), Some("exempt (religious)"));
}

#[test]
fn school_report_on_sqlite() {
    scenario(&sqlite().reg);
}

#[test]
fn school_report_on_postgres() {
    if let Some(env) = postgres("report") {
        scenario(&env.reg);
    }
}
