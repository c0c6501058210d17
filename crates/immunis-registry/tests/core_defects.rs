//! Defects found by the application-core review (issue 15), each with the
//! test that failed before its fix: the research extract honours an
//! objection filed on any record of a merged cluster and carries the
//! absorbed records' doses; a corrupt organization kind fails closed; deny
//! paths are audited.

mod support;

use std::sync::Arc;

use chrono::NaiveDate;
use immunis_model::{OrganizationKind, PatientId};
use immunis_registry::{console_admin, ConsentKind, Purpose, Registry};

fn vxu(
    ctrl: &str,
    mrn: &str,
    family: &str,
    given: &str,
    dob: &str,
    cvx: &str,
    date: &str,
) -> String {
    format!(
        "MSH|^~\\&|EHR|FA|IIS|MA|20240101||VXU^V04^VXU_V04|{ctrl}|P|2.5.1|||ER|AL\r\
         PID|1||{mrn}^^^MAIIS^MR||{family}^{given}^^^^^L||{dob}|F|||1 Main St^^Springfield^MA^01101^USA^L\r\
         ORC|RE||{ctrl}-1^FA\r\
         RXA|0|1|{date}||{cvx}^vaccine^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||^^^FA||||LOT{ctrl}|20300101|MSD^Merck^MVX|||CP|A\r"
    )
}

struct Env {
    reg: Arc<Registry>,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = immunis_registry::open_store(dir.path(), None).expect("store");
    let reg = Registry::new(store).expect("registry");
    reg.register_facility(
        &console_admin(),
        "Provider A",
        OrganizationKind::Provider,
        "FA",
        "FA",
    )
    .expect("facility");
    Env { reg, _dir: dir }
}

async fn submit(reg: &Registry, msg: &str) {
    support::submit_as(reg, "FA", msg).await;
}

async fn find(reg: &Registry, family: &str, given: &str, dob: NaiveDate) -> PatientId {
    support::find_one(reg, family, given, dob).await
}

/// Two records of one child, kept apart by the matcher (different names),
/// then merged by an administrator; `object_on_absorbed` files an objection
/// on the record that is merged away, before the merge.
async fn merged_child(object_on_absorbed: bool) -> Env {
    let e = env().await;
    let dob = NaiveDate::from_ymd_opt(2023, 2, 14).expect("date");
    submit(
        &e.reg,
        &vxu("A1", "M1", "Rivera", "Sofia", "20230214", "08", "20230214"),
    )
    .await;
    submit(
        &e.reg,
        &vxu("B1", "X9", "Okafor", "Ada", "20230214", "20", "20230414"),
    )
    .await;
    let keep = find(&e.reg, "Rivera", "Sofia", dob).await;
    let absorb = find(&e.reg, "Okafor", "Ada", dob).await;
    assert_ne!(keep, absorb);
    let admin = console_admin();
    if object_on_absorbed {
        e.reg
            .record_consent(
                &admin,
                absorb,
                ConsentKind::ObjectionFiled,
                Some(dob),
                Some(dob),
            )
            .expect("objection");
    }
    e.reg.merge(&admin, keep, absorb).expect("merge");
    e
}

#[tokio::test(flavor = "multi_thread")]
async fn the_extract_carries_every_dose_of_a_merged_cluster() {
    let e = merged_child(false).await;
    let rows = e
        .reg
        .deidentified_extract(&console_admin())
        .expect("extract");
    assert_eq!(rows.len(), 1, "one person after the merge: {rows:?}");
    let doses = &rows[0].doses;
    assert!(
        doses.contains(&("08".into(), "2023-02".into())),
        "{doses:?}"
    );
    assert!(
        doses.contains(&("20".into(), "2023-04".into())),
        "the absorbed record's dose is missing: {doses:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_objection_on_a_merged_away_record_keeps_the_person_out_of_the_extract() {
    let e = merged_child(true).await;
    // Reads honour it (the cluster's consent) ...
    let keep = find(
        &e.reg,
        "Rivera",
        "Sofia",
        NaiveDate::from_ymd_opt(2023, 2, 14).expect("date"),
    )
    .await;
    let rec = e
        .reg
        .patient_record(&console_admin(), Purpose::Administration, keep)
        .await
        .expect("record");
    assert!(rec.objection_active);
    // ... and so does the research extract.
    let rows = e
        .reg
        .deidentified_extract(&console_admin())
        .expect("extract");
    assert!(
        rows.is_empty(),
        "objection ignored by the extract: {rows:?}"
    );
}
