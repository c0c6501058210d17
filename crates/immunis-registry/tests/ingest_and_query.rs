//! Registry services end to end on a real SQLite store: ingest, idempotent
//! re-send, update/delete by (facility, ORC-3), consolidation across sources,
//! queries, and the MSH-4 ↔ authenticated facility rule.

use chrono::NaiveDate;
use immunis_model::{
    BirthDate, CompletionStatus, Cvx, DoseAction, DoseReport, InformationSource, OrganizationKind,
    Patient, PatientIdentifier, PatientSubmission, PersonName, Sex, SubmissionSource,
    VaccinationEvent,
};
use immunis_registry::{
    console_admin, DoseOutcome, PatientQuery, Purpose, QueryOutcome, Registry, Reply,
};
use immunis_store::JournalEntry;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid literal")
}

fn child(mrn: &str, facility: &str) -> Patient {
    let mut p = Patient::new(
        PersonName::parse("Rivera", "Sofia").expect("valid"),
        BirthDate(d(2023, 2, 14)),
        Sex::Female,
    );
    p.identifiers
        .push(PatientIdentifier::new(mrn, facility, "MR"));
    p
}

fn dose(filler: &str, cvx: &str, date: NaiveDate, src: InformationSource) -> VaccinationEvent {
    VaccinationEvent {
        administered_date: Some(date),
        cvx: Cvx::parse(cvx).ok(),
        information_source: src,
        completion: CompletionStatus::Complete,
        filler_order_number: Some(filler.into()),
        ..Default::default()
    }
}

fn submission(
    facility: &str,
    patient: Patient,
    doses: Vec<(DoseAction, VaccinationEvent)>,
) -> PatientSubmission {
    PatientSubmission {
        source: SubmissionSource {
            facility_code: facility.into(),
            message_control_id: "m".into(),
        },
        patient,
        doses: doses
            .into_iter()
            .map(|(action, event)| DoseReport { action, event })
            .collect(),
        observations: Vec::new(),
    }
}

fn entry() -> JournalEntry {
    JournalEntry {
        transport: "test".into(),
        facility_code: None,
        remote_addr: None,
        message_control_id: None,
        message_type: None,
        raw: b"MSH|...".to_vec(),
    }
}

fn ack(_: &immunis_registry::IngestOutcome) -> Reply {
    Reply {
        bytes: b"ACK".to_vec(),
        code: "AA".into(),
    }
}

fn setup() -> (tempfile::TempDir, std::sync::Arc<Registry>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = immunis_store::open(dir.path(), None).expect("store");
    let reg = Registry::new(store).expect("registry");
    let admin = console_admin();
    for (org, code) in [("Pediatrics Inc", "PEDS"), ("Town School", "SCHOOL1")] {
        reg.register_facility(&admin, org, OrganizationKind::Provider, code, code)
            .expect("facility");
    }
    reg.add_submitter_credential(&admin, "PEDS", "peds-ehr", "correct horse battery")
        .expect("credential");
    (dir, reg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_resend_update_delete_and_consolidate() {
    let (_dir, reg) = setup();
    let peds = reg
        .authenticate_submitter("peds-ehr", "correct horse battery", None)
        .await
        .expect("login");
    assert!(reg
        .authenticate_submitter("peds-ehr", "wrong", None)
        .await
        .is_err());

    let s1 = submission(
        "PEDS",
        child("M1", "PEDS"),
        vec![
            (
                DoseAction::Add,
                dose("O1", "08", d(2023, 2, 14), InformationSource::Administered),
            ),
            (
                DoseAction::Add,
                dose("O2", "20", d(2023, 4, 14), InformationSource::Administered),
            ),
        ],
    );
    let (o1, _) = reg
        .ingest(&peds, s1.clone(), entry(), ack)
        .await
        .expect("ingest");
    assert!(o1.patient_created);
    assert_eq!(o1.doses, vec![DoseOutcome::Added, DoseOutcome::Added]);

    // Re-sending the same message applies nothing twice.
    let (o2, _) = reg.ingest(&peds, s1, entry(), ack).await.expect("resend");
    assert!(!o2.patient_created);
    assert_eq!(o2.patient_id, o1.patient_id);
    assert_eq!(
        o2.doses,
        vec![DoseOutcome::Unchanged, DoseOutcome::Unchanged]
    );

    // Update O2's lot, delete O1.
    let mut upd = dose("O2", "20", d(2023, 4, 14), InformationSource::Administered);
    upd.lot_number = Some("LOT9".into());
    let s3 = submission(
        "PEDS",
        child("M1", "PEDS"),
        vec![
            (DoseAction::Update, upd),
            (
                DoseAction::Delete,
                dose("O1", "08", d(2023, 2, 14), InformationSource::Administered),
            ),
            (
                DoseAction::Delete,
                dose(
                    "NOPE",
                    "08",
                    d(2023, 2, 14),
                    InformationSource::Administered,
                ),
            ),
        ],
    );
    let (o3, _) = reg.ingest(&peds, s3, entry(), ack).await.expect("update");
    assert_eq!(
        o3.doses,
        vec![
            DoseOutcome::Updated,
            DoseOutcome::Deleted,
            DoseOutcome::NotFound
        ]
    );

    // A school reports the DTaP historically, a day off: one dose, two sources.
    let admin = console_admin();
    let school_sub = submission(
        "SCHOOL1",
        child("S-77", "SCHOOL1"),
        vec![(
            DoseAction::Add,
            dose(
                "H1",
                "107",
                d(2023, 4, 15),
                InformationSource::Historical("07".into()),
            ),
        )],
    );
    let (o4, _) = reg
        .ingest(&admin, school_sub, entry(), ack)
        .await
        .expect("school");
    // Same name, birth date and sex but an MRN of another authority: the
    // probabilistic matcher does not link on that alone; the pair is queued
    // and an administrator confirms it is one person.
    assert!(o4.needs_review, "name + birth date + sex only: review");
    assert_ne!(o4.patient_id, o1.patient_id);
    let items = reg.review_list(&admin, 10).expect("review list");
    assert_eq!(items.len(), 1);
    reg.review_resolve(&admin, items[0].id, immunis_registry::Resolution::Same)
        .expect("resolve same");

    let pid = o1.patient_id.expect("patient id");
    let rec = reg
        .patient_record(&peds, Purpose::Treatment, pid)
        .await
        .expect("record");
    assert_eq!(
        rec.doses.len(),
        1,
        "deleted HepB gone; DTaP reported twice is one dose"
    );
    assert_eq!(rec.doses[0].sources.len(), 2);
    assert_eq!(
        rec.doses[0].primary.event.lot_number.as_deref(),
        Some("LOT9"),
        "administered, updated report is primary"
    );
    assert!(
        rec.patient.identifiers.len() >= 2,
        "identifiers from both sources kept"
    );

    // Query by identifier and by demographics.
    let q = PatientQuery {
        identifiers: vec![PatientIdentifier::new("M1", "PEDS", "MR")],
        ..Default::default()
    };
    match reg
        .find_patients(&peds, Purpose::Treatment, &q, 10)
        .await
        .expect("query")
    {
        QueryOutcome::Found(r) => assert_eq!(r.id, pid),
        other => panic!("expected one match, got {other:?}"),
    }
    let q = PatientQuery {
        family: Some("rivera".into()),
        given: Some("SOFIA".into()),
        birth_date: Some(d(2023, 2, 14)),
        ..Default::default()
    };
    assert!(matches!(
        reg.find_patients(&peds, Purpose::Treatment, &q, 10).await,
        Ok(QueryOutcome::Found(_))
    ));
    let q = PatientQuery {
        family: Some("Nobody".into()),
        birth_date: Some(d(2000, 1, 1)),
        ..Default::default()
    };
    assert!(matches!(
        reg.find_patients(&peds, Purpose::Treatment, &q, 10).await,
        Ok(QueryOutcome::NotFound)
    ));

    // MSH-4 must be the authenticated facility.
    let forged = submission("SCHOOL1", child("X", "SCHOOL1"), vec![]);
    assert!(reg.ingest(&peds, forged, entry(), ack).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twins_are_not_merged_and_objection_limits_providers() {
    let (_dir, reg) = setup();
    let admin = console_admin();
    let mut a = child("T1", "PEDS");
    a.multiple_birth = Some(true);
    a.birth_order = Some(1);
    let mut b = a.clone();
    b.names[0].given = "Lucia".into();
    b.birth_order = Some(2);
    b.identifiers = vec![PatientIdentifier::new("T2", "PEDS", "MR")];
    let (oa, _) = reg
        .ingest(&admin, submission("PEDS", a, vec![]), entry(), ack)
        .await
        .expect("a");
    let (ob, _) = reg
        .ingest(&admin, submission("PEDS", b, vec![]), entry(), ack)
        .await
        .expect("b");
    assert_ne!(oa.patient_id, ob.patient_id, "twins stay two people");

    // An objection recorded by PEDS: the school's provider org sees only its own doses.
    let mut objecting = child("T1", "PEDS");
    objecting.multiple_birth = Some(true);
    objecting.birth_order = Some(1);
    objecting.protection = Some(immunis_model::Dated {
        value: true,
        effective: Some(d(2024, 1, 1)),
    });
    reg.ingest(
        &admin,
        submission(
            "PEDS",
            objecting,
            vec![(
                DoseAction::Add,
                dose("P1", "08", d(2023, 2, 14), InformationSource::Administered),
            )],
        ),
        entry(),
        ack,
    )
    .await
    .expect("objection");
    let school_actor = reg.facility_actor("SCHOOL1", None).expect("actor");
    let pid = oa.patient_id.expect("id");
    assert!(
        reg.patient_record(&school_actor, Purpose::Treatment, pid)
            .await
            .is_err(),
        "another organization that gave nothing sees nothing under an objection"
    );
    let peds = reg.facility_actor("PEDS", None).expect("actor");
    let rec = reg
        .patient_record(&peds, Purpose::Treatment, pid)
        .await
        .expect("own org");
    assert!(rec.restricted);
    assert_eq!(rec.doses.len(), 1);
}
