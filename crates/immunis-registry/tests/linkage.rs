//! Record linkage end to end, on SQLite and (when `IMMUNIS_TEST_PG` is set)
//! PostgreSQL: typo'd re-submissions link, twins never merge, possible
//! matches are queued with nothing linked, merge/unmerge is exact (a dose
//! that arrived after the merge included), and a person's "different
//! people" decision is never overridden by the automatic matcher.

use std::sync::Arc;

use chrono::NaiveDate;
use immunis_model::{
    Address, BirthDate, CompletionStatus, Cvx, DoseAction, DoseReport, InformationSource,
    OrganizationKind, Patient, PatientId, PatientIdentifier, PatientSubmission, PersonName, Phone,
    Sex, SubmissionSource, VaccinationEvent,
};
use immunis_registry::{
    console_admin, IngestOutcome, Linker, PatientQuery, Purpose, QueryOutcome, Registry, Reply,
    Resolution,
};
use immunis_store::{JournalEntry, Store};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid literal")
}

struct Env {
    store: Arc<dyn Store>,
    reg: Arc<Registry>,
    rt: tokio::runtime::Runtime,
    _dir: Option<tempfile::TempDir>,
}

fn finish(store: Arc<dyn Store>, dir: Option<tempfile::TempDir>) -> Env {
    let reg = Registry::new(store.clone()).expect("registry");
    let admin = console_admin();
    for code in ["PEDS", "CLINIC", "SCHOOL"] {
        reg.register_facility(&admin, code, OrganizationKind::Provider, code, code)
            .expect("facility");
    }
    Env {
        store,
        reg,
        rt: tokio::runtime::Runtime::new().expect("runtime"),
        _dir: dir,
    }
}

fn sqlite() -> Option<Env> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = immunis_store::open(dir.path(), None).expect("store");
    Some(finish(store, Some(dir)))
}

fn postgres(test: &str) -> Option<Env> {
    let Ok(base) = std::env::var("IMMUNIS_TEST_PG") else {
        eprintln!("!!!! SKIPPED (PostgreSQL): IMMUNIS_TEST_PG is not set !!!!");
        return None;
    };
    let db = format!("immunis_link_{}_{}", test, std::process::id());
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
    Some(finish(store, None))
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[test] fn $name() { if let Some(e) = super::sqlite() { super::$name(&e); } })*
        }
        mod postgres_backend {
            $(#[test] fn $name() {
                if let Some(e) = super::postgres(stringify!($name)) { super::$name(&e); }
            })*
        }
    };
}

both_backends!(
    typo_resubmission_links_to_the_same_person,
    twins_are_never_merged,
    possible_match_is_queued_and_nothing_linked,
    merge_then_unmerge_restores_both_exactly,
    human_different_decision_is_never_overridden,
    an_identifier_links_only_with_agreeing_demographics_and_the_index_follows,
    a_query_with_a_confirmed_identifier_finds_that_twin_alone,
);

/// A child with the demographics a pediatric EHR sends.
fn child(given: &str, mrn: &str, facility: &str) -> Patient {
    let mut p = Patient::new(
        PersonName::parse("Okafor", given).expect("valid"),
        BirthDate(d(2022, 7, 19)),
        Sex::Female,
    );
    p.names[0].middle = Some("Adaeze".into());
    p.identifiers
        .push(PatientIdentifier::new(mrn, facility, "MR"));
    p.mother_maiden_name = Some(PersonName::parse("Nwosu", "Chioma").expect("valid"));
    p.addresses.push(Address {
        street1: "14 Linden Street".into(),
        city: "Worcester".into(),
        state: "MA".into(),
        zip: "01609".into(),
        ..Default::default()
    });
    p.phones.push(Phone {
        number: "(508) 555-0142".into(),
        ..Default::default()
    });
    p
}

fn dose(filler: &str, cvx: &str, date: NaiveDate) -> VaccinationEvent {
    VaccinationEvent {
        administered_date: Some(date),
        cvx: Cvx::parse(cvx).ok(),
        information_source: InformationSource::Administered,
        completion: CompletionStatus::Complete,
        filler_order_number: Some(filler.into()),
        ..Default::default()
    }
}

fn ingest(e: &Env, facility: &str, p: Patient, doses: Vec<VaccinationEvent>) -> IngestOutcome {
    let sub = PatientSubmission {
        source: SubmissionSource {
            facility_code: facility.into(),
            message_control_id: "m".into(),
        },
        patient: p,
        doses: doses
            .into_iter()
            .map(|event| DoseReport {
                action: DoseAction::Add,
                event,
            })
            .collect(),
        observations: Vec::new(),
    };
    let entry = JournalEntry {
        transport: "test".into(),
        facility_code: Some(facility.into()),
        remote_addr: None,
        message_control_id: None,
        message_type: None,
        raw: b"MSH|...".to_vec(),
    };
    let (out, _) = e
        .reg
        .ingest_blocking(&console_admin(), sub, entry, |_| Reply {
            bytes: b"ACK".to_vec(),
            code: "AA".into(),
        })
        .expect("ingest");
    out
}

/// (record id read, sorted filler order numbers of the active doses).
fn read(e: &Env, id: PatientId) -> (PatientId, Vec<String>) {
    let rec =
        e.rt.block_on(
            e.reg
                .patient_record(&console_admin(), Purpose::Treatment, id),
        )
        .expect("record");
    let mut fillers: Vec<String> = rec
        .doses
        .iter()
        .flat_map(|d| {
            d.reporting_facilities.iter().map(move |f| {
                format!(
                    "{f}:{}",
                    d.primary
                        .event
                        .filler_order_number
                        .clone()
                        .unwrap_or_default()
                )
            })
        })
        .collect();
    fillers.sort();
    (rec.id, fillers)
}

fn pid(o: &IngestOutcome) -> PatientId {
    o.patient_id.expect("patient id")
}

fn typo_resubmission_links_to_the_same_person(e: &Env) {
    let a = ingest(
        e,
        "PEDS",
        child("Amara", "P100", "PEDS"),
        vec![dose("O1", "08", d(2022, 7, 19))],
    );
    // Another clinic, own MRN, given name mistyped, middle name missing.
    let mut typo = child("Amaar", "C555", "CLINIC");
    typo.names[0].middle = None;
    let b = ingest(e, "CLINIC", typo, vec![dose("X1", "20", d(2022, 9, 20))]);
    assert!(!b.patient_created, "typo'd re-submission links: {b:?}");
    assert_eq!(pid(&b), pid(&a));
    // The same clinic again, exact: links too.
    let c = ingest(e, "CLINIC", child("Amara", "C555", "CLINIC"), vec![]);
    assert_eq!(pid(&c), pid(&a));
    let (_, doses) = read(e, pid(&a));
    assert_eq!(doses, vec!["CLINIC:X1", "PEDS:O1"]);
}

/// One of a multiple birth: [`child`] with the birth order.
fn twin(given: &str, mrn: &str, order: u8) -> Patient {
    let mut p = child(given, mrn, "PEDS");
    p.multiple_birth = Some(true);
    p.birth_order = Some(order);
    p
}

fn twins_are_never_merged(e: &Env) {
    let a = twin("Amara", "T1", 1);
    let b = twin("Amina", "T2", 2);
    let oa = ingest(e, "PEDS", a.clone(), vec![dose("A1", "08", d(2022, 7, 19))]);
    let ob = ingest(e, "PEDS", b.clone(), vec![dose("B1", "08", d(2022, 7, 19))]);
    assert_ne!(pid(&oa), pid(&ob), "twins stay two people");
    // Even with the same given name typed for both (a data-entry slip), the
    // birth order keeps them apart.
    let mut slip = b.clone();
    slip.names[0].given = "Amara".into();
    slip.identifiers = vec![PatientIdentifier::new("T2", "PEDS", "MR")];
    let os = ingest(e, "PEDS", slip, vec![]);
    assert_ne!(pid(&os), pid(&oa), "birth order 2 is never twin 1");
    let s = e.reg.dedup(&console_admin(), 2, &|_, _| {}).expect("dedup");
    assert_eq!(s.merged, 0, "{s:?}");
    assert_ne!(read(e, pid(&oa)).0, read(e, pid(&ob)).0);
}

fn possible_match_is_queued_and_nothing_linked(e: &Env) {
    let a = ingest(
        e,
        "PEDS",
        child("Amara", "P1", "PEDS"),
        vec![dose("O1", "08", d(2022, 7, 19))],
    );
    // A school: same name, birth date and sex, its own id, nothing else.
    let sparse = Patient {
        identifiers: vec![PatientIdentifier::new("S-9", "SCHOOL", "MR")],
        ..Patient::new(
            PersonName::parse("Okafor", "Amara").expect("valid"),
            BirthDate(d(2022, 7, 19)),
            Sex::Female,
        )
    };
    let b = ingest(e, "SCHOOL", sparse, vec![dose("H1", "20", d(2022, 9, 20))]);
    assert!(b.patient_created && b.needs_review, "{b:?}");
    assert_ne!(pid(&a), pid(&b));
    let items = e.reg.review_list(&console_admin(), 10).expect("list");
    assert_eq!(items.len(), 1);
    let ids = [items[0].a.id, items[0].b.id];
    assert!(ids.contains(&pid(&a)) && ids.contains(&pid(&b)));
    assert!(items[0]
        .explanation
        .iter()
        .any(|l| l.starts_with("first_name\texact")));
    // Nothing linked: each record has only its own dose.
    assert_eq!(read(e, pid(&a)).1, vec!["PEDS:O1"]);
    assert_eq!(read(e, pid(&b)).1, vec!["SCHOOL:H1"]);
    // A non-admin cannot see the queue.
    let peds = e.reg.facility_actor("PEDS", None).expect("actor");
    assert!(e.reg.review_list(&peds, 10).is_err());
}

fn merge_then_unmerge_restores_both_exactly(e: &Env) {
    let a = ingest(
        e,
        "PEDS",
        child("Amara", "P1", "PEDS"),
        vec![dose("O1", "08", d(2022, 7, 19))],
    );
    let sparse = |id: &str| Patient {
        identifiers: vec![PatientIdentifier::new(id, "SCHOOL", "MR")],
        ..Patient::new(
            PersonName::parse("Okafor", "Amara").expect("valid"),
            BirthDate(d(2022, 7, 19)),
            Sex::Female,
        )
    };
    let b = ingest(
        e,
        "SCHOOL",
        sparse("S-9"),
        vec![dose("H1", "20", d(2022, 9, 20))],
    );
    let (pa, pb) = (pid(&a), pid(&b));
    let before = |id| {
        let mut out = None;
        e.store
            .read(&mut |tx| {
                out = tx.load_patient(id)?;
                Ok(())
            })
            .expect("read");
        out.expect("patient")
    };
    let (a0, b0) = (before(pa), before(pb));
    let (_, a_doses0) = read(e, pa);
    let (_, b_doses0) = read(e, pb);

    let m = e.reg.merge(&console_admin(), pa, pb).expect("merge");
    assert_eq!((m.survivor, m.absorbed), (pa, pb));
    let (id, doses) = read(e, pa);
    assert_eq!(id, pa);
    assert_eq!(doses, vec!["PEDS:O1", "SCHOOL:H1"], "survivor reads both");
    assert_eq!(read(e, pb).0, pa, "absorbed id redirects to the survivor");

    // After the merge the school sends another dose for its student.
    let late = ingest(
        e,
        "SCHOOL",
        sparse("S-9"),
        vec![dose("H2", "03", d(2023, 7, 20))],
    );
    assert_eq!(pid(&late), pb, "routed to the school's own record");
    assert_eq!(read(e, pa).1, vec!["PEDS:O1", "SCHOOL:H1", "SCHOOL:H2"]);

    e.reg.unmerge(&console_admin(), pb).expect("unmerge");
    let (a1, b1) = (before(pa), before(pb));
    assert_eq!(a1.patient, a0.patient);
    assert_eq!(b1.patient, b0.patient);
    assert_eq!((a1.merged_into, b1.merged_into), (None, None));
    assert_eq!(read(e, pa).1, a_doses0);
    let (id, doses) = read(e, pb);
    assert_eq!(id, pb);
    let mut expect = b_doses0.clone();
    expect.push("SCHOOL:H2".into());
    assert_eq!(
        doses, expect,
        "the late dose stays with the school's record"
    );
    // The unmerge is a person's decision: dedup does not merge them again.
    let s = e.reg.dedup(&console_admin(), 1, &|_, _| {}).expect("dedup");
    assert_eq!(s.merged, 0);
    assert_ne!(read(e, pb).0, pa);
    assert!(e.reg.verify_audit(&console_admin(), &[]).is_ok());
}

fn human_different_decision_is_never_overridden(e: &Env) {
    // A possible pair resolved as different people.
    let a = ingest(e, "PEDS", child("Amara", "P1", "PEDS"), vec![]);
    let sparse = Patient {
        identifiers: vec![PatientIdentifier::new("S-9", "SCHOOL", "MR")],
        ..Patient::new(
            PersonName::parse("Okafor", "Amara").expect("valid"),
            BirthDate(d(2022, 7, 19)),
            Sex::Female,
        )
    };
    let b = ingest(e, "SCHOOL", sparse, vec![]);
    let items = e.reg.review_list(&console_admin(), 10).expect("list");
    assert_eq!(items.len(), 1);
    e.reg
        .review_resolve(&console_admin(), items[0].id, Resolution::Different)
        .expect("resolve");
    assert!(e
        .reg
        .review_list(&console_admin(), 10)
        .expect("list")
        .is_empty());

    // Two records the matcher would call a Match (identical), created
    // without the matcher, then separated by a person (unmerge).
    let twin_like = child("Zara", "Q1", "CLINIC");
    let mut ids = Vec::new();
    e.store
        .write(&mut |tx| {
            ids.clear();
            for _ in 0..2 {
                let id = tx.insert_patient(&twin_like, None)?;
                Linker::default().index(tx, id, &twin_like)?;
                ids.push(id);
            }
            Ok(())
        })
        .expect("insert");
    e.reg
        .merge(&console_admin(), ids[0], ids[1])
        .expect("merge");
    e.reg.unmerge(&console_admin(), ids[1]).expect("unmerge");

    let s = e.reg.dedup(&console_admin(), 2, &|_, _| {}).expect("dedup");
    let mut merges = Vec::new();
    e.store
        .read(&mut |tx| {
            for i in 1..10 {
                if let Some(m) = tx.merge_record(i)? {
                    merges.push((m.survivor, m.absorbed, m.method, m.unmerged_at.is_some()));
                }
            }
            Ok(())
        })
        .expect("read");
    assert_eq!(s.merged, 0, "{s:?} {merges:?}");
    assert!(s.kept_apart >= 1, "{s:?}");
    // Decided pairs are not queued again (other pairs, e.g. Zara vs Amara,
    // may be: same family, birth date and house).
    for i in e.reg.review_list(&console_admin(), 50).expect("list") {
        let pair = [i.a.id, i.b.id];
        for (x, y) in [(ids[0], ids[1]), (pid(&a), pid(&b))] {
            assert!(
                !(pair.contains(&x) && pair.contains(&y)),
                "decided pair queued again"
            );
        }
    }
    assert_ne!(read(e, ids[0]).0, read(e, ids[1]).0);
    assert_ne!(read(e, pid(&a)).0, read(e, pid(&b)).0);
    // A new submission looking like both: linked to neither blindly.
    let o = ingest(e, "CLINIC", child("Zara", "Q1", "CLINIC"), vec![]);
    assert!(o.needs_review && o.patient_created, "{o:?}");
}

/// (stored blocking keys, the keys of the stored demographics) of a record.
fn keys(e: &Env, id: PatientId) -> (Vec<i64>, Vec<i64>) {
    let mut out = (Vec::new(), Vec::new());
    e.store
        .read(&mut |tx| {
            let stored = tx.load_patient(id)?.expect("stored").patient;
            out = (tx.blocking_keys_of(id)?, Linker::patient_keys(&stored));
            Ok(())
        })
        .expect("read");
    out
}

fn an_identifier_links_only_with_agreeing_demographics_and_the_index_follows(e: &Env) {
    let a = ingest(
        e,
        "PEDS",
        child("Amara", "P1", "PEDS"),
        vec![dose("O1", "08", d(2022, 7, 19))],
    );
    // The clinic's MRN on somebody else entirely (a slip at the front
    // desk): the identifier alone links nobody.
    let mut other = Patient::new(
        PersonName::parse("Lindqvist", "Tomas").expect("valid"),
        BirthDate(d(1961, 3, 2)),
        Sex::Male,
    );
    other
        .identifiers
        .push(PatientIdentifier::new("P1", "PEDS", "MR"));
    let o = ingest(e, "PEDS", other, vec![]);
    assert_ne!(pid(&o), pid(&a), "{o:?}");
    // The same child after a move: linked, and the blocking index holds the
    // new address's keys.
    let before = keys(e, pid(&a));
    let mut moved = child("Amara", "P1", "PEDS");
    moved.addresses[0] = Address {
        street1: "9 Elm Road".into(),
        city: "Springfield".into(),
        state: "MA".into(),
        zip: "01103".into(),
        ..Default::default()
    };
    let m = ingest(e, "PEDS", moved.clone(), vec![]);
    assert!(!m.patient_created, "{m:?}");
    assert_eq!(pid(&m), pid(&a));
    let after = keys(e, pid(&a));
    assert_eq!(
        after.0, after.1,
        "the index holds the stored demographics' keys"
    );
    assert_ne!(after.0, before.0, "the move changed the keys");
    // An update that changes nothing the matcher indexes leaves them.
    moved.registry_status = Some(immunis_model::Dated {
        value: immunis_model::RegistryStatus::Active,
        effective: Some(d(2024, 1, 2)),
    });
    let u = ingest(e, "PEDS", moved, vec![]);
    assert_eq!(pid(&u), pid(&a));
    assert_eq!(keys(e, pid(&a)), after);
}

fn a_query_with_a_confirmed_identifier_finds_that_twin_alone(e: &Env) {
    let a = twin("Amara", "T1", 1);
    let b = twin("Ngozi", "T2", 2);
    let oa = ingest(e, "PEDS", a, vec![dose("A1", "08", d(2022, 7, 19))]);
    ingest(e, "PEDS", b, vec![dose("B1", "08", d(2022, 7, 19))]);
    let query = |identifiers: Vec<PatientIdentifier>, given: &str| PatientQuery {
        identifiers,
        family: Some("Okafor".into()),
        given: Some(given.into()),
        birth_date: Some(d(2022, 7, 19)),
        sex: Some(Sex::Female),
        mother_maiden_family: Some("Nwosu".into()),
    };
    let find = |q: &PatientQuery| {
        e.rt.block_on(
            e.reg
                .find_patients(&console_admin(), Purpose::Treatment, q, 10),
        )
        .expect("search")
    };
    // Twin 1's MRN with her demographics: her record, not the pair.
    let with_mrn = find(&query(
        vec![PatientIdentifier::new("T1", "PEDS", "MR")],
        "Amara",
    ));
    match with_mrn {
        QueryOutcome::Found(r) => assert_eq!(r.id, pid(&oa)),
        other => panic!("expected twin 1 alone, got {other:?}"),
    }
    // Her MRN with her sister's given name is not confirmed by the
    // demographics: the search does not answer with twin 1 alone.
    let mismatched = find(&query(
        vec![PatientIdentifier::new("T1", "PEDS", "MR")],
        "Ngozi",
    ));
    assert!(
        !matches!(&mismatched, QueryOutcome::Found(r) if r.id == pid(&oa)),
        "{mismatched:?}"
    );
}
