//! The storage test suite, run against both backends: SQLite in a temp dir,
//! and PostgreSQL when `IMMUNIS_TEST_PG` names a server (the test script starts
//! a throwaway cluster and sets it). Each PostgreSQL test gets a fresh database.

use std::sync::Arc;

use chrono::NaiveDate;
use immunis_model::{
    BirthDate, Code, CompletionStatus, Cvx, InformationSource, ObservationKind, OrganizationKind,
    Patient, PatientIdentifier, PatientObservation, PersonName, Sex, VaccinationEvent,
};
use immunis_store::{AuditEntry, EventStatus, JournalEntry, NewEvent, Store};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid literal date")
}

fn sample_patient() -> Patient {
    let mut p = Patient::new(
        PersonName::parse("O'Brien-Smith", "Ann").expect("valid"),
        BirthDate(date(2020, 1, 31)),
        Sex::Female,
    );
    p.identifiers
        .push(PatientIdentifier::new("MRN123", "CLINIC1", "MR"));
    p.identifiers
        .push(PatientIdentifier::new("BC-99", "MA", "BC"));
    p.mother_maiden_name = Some(PersonName::parse("Jones", "Mary").expect("valid"));
    p
}

fn sample_event(filler: &str) -> VaccinationEvent {
    VaccinationEvent {
        administered_date: Some(date(2020, 3, 31)),
        cvx: Some(Cvx::parse("20").expect("valid")),
        lot_number: Some("LOT1".into()),
        amount: Some(0.5),
        units: Some("mL".into()),
        information_source: InformationSource::Administered,
        completion: CompletionStatus::Complete,
        filler_order_number: Some(filler.into()),
        ..Default::default()
    }
}

struct Backend {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = immunis_store::open(dir.path(), None).expect("open sqlite");
    Backend {
        store,
        _dir: Some(dir),
    }
}

fn postgres(test: &str) -> Option<Backend> {
    let Ok(base) = std::env::var("IMMUNIS_TEST_PG") else {
        eprintln!("!!!! SKIPPED (PostgreSQL): IMMUNIS_TEST_PG is not set; run the suite through scripts/test.sh to include PostgreSQL !!!!");
        return None;
    };
    let db = format!("immunis_{}_{}", test, std::process::id());
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
    Some(Backend { store, _dir: None })
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[test] fn $name() { super::$name(&super::sqlite()); })*
        }
        mod postgres_backend {
            $(#[test] fn $name() {
                if let Some(b) = super::postgres(stringify!($name)) { super::$name(&b); }
            })*
        }
    };
}

both_backends!(
    portal_tables_roundtrip,
    journal_keeps_raw_bytes_and_response,
    patient_roundtrip_and_versions,
    identifier_and_name_lookup,
    events_update_and_delete_keep_history,
    observations_roundtrip,
    facilities_and_credentials,
    audit_chain_appends_and_verifies,
    failed_write_rolls_back,
    reopen_is_idempotent,
    security_tables_roundtrip,
    snapshot_is_a_consistent_copy_or_refused,
    school_tables_roundtrip,
    staged_blocking_keys_are_indexed_in_key_order,
);

/// Bulk loading: staged keys are invisible to the matcher's probe until
/// they are indexed; then they are found, duplicates (in the stage and
/// against the index) are kept once, and the stage is empty.
fn staged_blocking_keys_are_indexed_in_key_order(b: &Backend) {
    let mut ids = Vec::new();
    b.store
        .write(&mut |tx| {
            ids.clear();
            for _ in 0..3 {
                ids.push(tx.insert_patient(&sample_patient(), None)?);
            }
            tx.add_blocking_keys(ids[0], &[7, 8])?;
            tx.stage_blocking_keys(ids[1], &[9, 7, 9])?;
            tx.stage_blocking_keys(ids[2], &[9])?;
            // Already indexed: kept once.
            tx.stage_blocking_keys(ids[0], &[7])?;
            Ok(())
        })
        .expect("load");
    let probe = |b: &Backend| {
        let mut found = Vec::new();
        b.store
            .read(&mut |tx| {
                found = tx.blocking_candidates(&[7, 9], 100)?.0;
                found.sort();
                Ok(())
            })
            .expect("probe");
        found
    };
    assert_eq!(probe(b), vec![ids[0]], "staged keys are not probed yet");
    let mut moved = 0;
    b.store
        .write(&mut |tx| {
            moved = tx.index_staged_blocking_keys()?;
            Ok(())
        })
        .expect("index");
    assert_eq!(
        moved, 3,
        "(7, p1), (9, p1), (9, p2); the duplicates are kept once"
    );
    assert_eq!(probe(b), ids);
    b.store
        .write(&mut |tx| {
            moved = tx.index_staged_blocking_keys()?;
            Ok(())
        })
        .expect("index again");
    assert_eq!(moved, 0, "the stage was emptied");

    // In slices, one transaction each: keys of every slice (by their low
    // 56 bits, the hash under a packed key's kind) and the ends of the i64
    // range are all indexed once, and nothing is lost.
    let extremes = [i64::MIN, -5, 0, (3 << 56) | 0x0080_0000_0000_0000, i64::MAX];
    b.store
        .write(&mut |tx| {
            tx.stage_blocking_keys(ids[2], &extremes)?;
            tx.stage_blocking_keys(ids[1], &[9])?;
            Ok(())
        })
        .expect("stage again");
    let mut per_part = Vec::new();
    for part in 0..3 {
        b.store
            .write(&mut |tx| {
                per_part.push(tx.index_staged_blocking_keys_part(part, 3)?);
                Ok(())
            })
            .expect("index a slice");
    }
    assert_eq!(
        per_part,
        vec![2, 1, 2],
        "MIN and 0 (low bits 0), the kind-3 key (low bits 2^55), -5 and MAX \
         (low bits near 2^56); (9, p1) was indexed already"
    );
    b.store
        .read(&mut |tx| {
            let found = tx.blocking_candidates(&extremes, 100)?.0;
            assert_eq!(found, vec![ids[2]]);
            let mut expected = extremes.to_vec();
            expected.push(9);
            expected.sort_unstable();
            assert_eq!(tx.blocking_keys_of(ids[2])?, expected);
            Ok(())
        })
        .expect("probe the slices");
}

/// Backups: SQLite writes a consistent copy that opens as a store with the
/// same data; it never overwrites. PostgreSQL refuses with the operator's way.
fn snapshot_is_a_consistent_copy_or_refused(b: &Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let dest = dir.path().join("snap").join("immunis.db");
    std::fs::create_dir_all(dest.parent().expect("has parent")).expect("mkdir");
    let mut pid = None;
    b.store
        .write(&mut |tx| {
            pid = Some(tx.insert_patient(&sample_patient(), None)?);
            Ok(())
        })
        .expect("write");
    match b.store.backend() {
        "sqlite" => {
            b.store.snapshot_into(&dest).expect("snapshot");
            immunis_store::sqlite::SqliteStore::check_file_integrity(&dest).expect("intact");
            assert!(matches!(
                b.store.snapshot_into(&dest),
                Err(immunis_store::StoreError::Conflict(_))
            ));
            let copy = immunis_store::open(dest.parent().expect("dir"), None).expect("reopen");
            let mut found = None;
            copy.read(&mut |tx| {
                found = tx.load_patient(pid.expect("inserted"))?;
                Ok(())
            })
            .expect("read copy");
            assert_eq!(
                found.map(|p| p.patient.legal_name().family.clone()),
                Some(sample_patient().legal_name().family.clone())
            );
        }
        _ => {
            let err = b.store.snapshot_into(&dest).expect_err("operator's job");
            assert!(err.to_string().contains("pg_basebackup"), "{err}");
            assert!(!dest.exists());
        }
    }
}

/// Schema v5 (schools): roster grades and school years, school exemptions
/// (withdrawn, never deleted).
fn school_tables_roundtrip(b: &Backend) {
    use immunis_model::OrganizationKind;
    use immunis_store::NewSchoolExemption;
    b.store
        .write(&mut |tx| {
            let pid = tx.insert_patient(&sample_patient(), None)?;
            let other = tx.insert_patient(&sample_patient(), None)?;
            let org = tx.insert_organization("School", OrganizationKind::School)?;
            let org2 = tx.insert_organization("Other School", OrganizationKind::School)?;
            tx.add_roster(org, other)?;
            tx.set_roster_grade(org, pid, Some("K"), Some(2025))?;
            tx.set_roster_grade(org, pid, Some("1"), Some(2026))?;
            let roster = tx.roster(org)?;
            assert_eq!(roster.len(), 2);
            let me = roster
                .iter()
                .find(|r| r.patient_id == pid)
                .expect("on roster");
            assert_eq!(
                (me.grade.as_deref(), me.school_year),
                (Some("1"), Some(2026))
            );
            let them = roster
                .iter()
                .find(|r| r.patient_id == other)
                .expect("on roster");
            assert_eq!((them.grade.as_deref(), them.school_year), (None, None));
            assert!(tx.roster(org2)?.is_empty());
            let groups = vec!["MMR".to_string(), "Varicella".to_string()];
            let id = tx.insert_school_exemption(&NewSchoolExemption {
                organization_id: org,
                patient_id: pid,
                kind: "medical",
                vaccine_groups: &groups,
                signed: date(2025, 8, 20),
                school_year: Some(2025),
                expires: Some(date(2026, 6, 30)),
                filed_by: "nurse",
            })?;
            tx.insert_school_exemption(&NewSchoolExemption {
                organization_id: org,
                patient_id: other,
                kind: "religious",
                vaccine_groups: &[],
                signed: date(2025, 8, 21),
                school_year: None,
                expires: None,
                filed_by: "nurse",
            })?;
            let all = tx.school_exemptions(org)?;
            assert_eq!(all.len(), 2);
            assert_eq!(all[0].vaccine_groups, groups);
            assert_eq!(all[0].expires, Some(date(2026, 6, 30)));
            assert!(all[1].vaccine_groups.is_empty() && all[1].school_year.is_none());
            assert!(tx.withdraw_school_exemption(id, "nurse")?);
            assert!(!tx.withdraw_school_exemption(id, "nurse")?);
            assert_eq!(tx.school_exemptions(org)?.len(), 1);
            let kept = tx.school_exemption(id)?.expect("never deleted");
            assert!(kept.withdrawn_at.is_some());
            assert!(tx.school_exemptions(org2)?.is_empty());
            Ok(())
        })
        .expect("school tables");
}

/// Schema v3 (security): consent history, anchors, disclosures lookup,
/// users, OAuth clients, rosters, jurisdictions, certificates.
fn security_tables_roundtrip(b: &Backend) {
    use immunis_model::{OrganizationKind, PatientId};
    use immunis_store::{ConsentKind, NewConsentEvent, NewUser};
    b.store
        .write(&mut |tx| {
            let pid = tx.insert_patient(&sample_patient(), None)?;
            let other = tx.insert_patient(&sample_patient(), None)?;
            assert!(!tx.objection_active(pid)?);
            for (kind, day) in [
                (ConsentKind::ObjectionFiled, 1),
                (ConsentKind::ObjectionWithdrawn, 2),
                (ConsentKind::ObjectionFiled, 3),
            ] {
                tx.insert_consent_event(&NewConsentEvent {
                    patient_id: pid,
                    kind,
                    effective_date: Some(date(2024, 1, day)),
                    form_received: Some(date(2024, 2, day)),
                    recorded_by: "registry",
                    organization: None,
                    source: "form",
                    journal_id: None,
                })?;
            }
            let h = tx.consent_events(pid)?;
            assert_eq!(h.len(), 3);
            assert_eq!(h[1].kind, ConsentKind::ObjectionWithdrawn);
            assert_eq!(h[2].form_received, Some(date(2024, 2, 3)));
            assert!(tx.objection_active(pid)?);
            assert!(!tx.objection_active(other)?);

            for ids in [vec![pid], vec![other, pid], vec![PatientId(pid.0 * 10 + 1)]] {
                tx.append_audit(&AuditEntry {
                    actor: "a".into(),
                    role: "r".into(),
                    purpose: "p".into(),
                    action: "read_record".into(),
                    outcome: "allow".into(),
                    patient_ids: ids,
                    ..Default::default()
                })?;
            }
            assert_eq!(tx.audit_records_for_patient(pid)?.len(), 2);
            let (seq, hash) = tx.audit_head()?.expect("head");
            assert_eq!(seq, 3);
            tx.insert_audit_anchor(seq, &hash)?;
            assert_eq!(tx.audit_anchors()?.len(), 1);

            let org = tx.insert_organization("School", OrganizationKind::School)?;
            assert_eq!(tx.list_organizations()?.len(), 1);
            assert_eq!(
                tx.find_organization(org)?.map(|o| o.kind),
                Some(OrganizationKind::School)
            );
            tx.add_roster(org, pid)?;
            tx.add_roster(org, pid)?;
            assert!(tx.on_roster(org, pid)? && !tx.on_roster(org, other)?);
            tx.add_jurisdiction(org, "town", "Springfield")?;
            tx.add_jurisdiction(org, "zip", "01101")?;
            assert_eq!(tx.jurisdiction(org)?.len(), 2);

            let id = tx.insert_user(&NewUser {
                username: "u1",
                organization_id: Some(org),
                role: "school",
                person_patient_id: None,
                password_hash: "h",
                totp_secret: "S",
            })?;
            assert!(tx
                .insert_user(&NewUser {
                    username: "u1",
                    organization_id: None,
                    role: "person",
                    person_patient_id: Some(pid),
                    password_hash: "h",
                    totp_secret: "S",
                })
                .is_err());
            tx.update_user_login_state(id, 3, 99, 7)?;
            let u = tx.find_user("u1")?.expect("user");
            assert_eq!(
                (u.failed_logins, u.locked_until, u.totp_last_step),
                (3, 99, 7)
            );
            assert!(tx.set_user_disabled("u1", true)?);
            assert!(tx.list_users()?[0].disabled);
            assert_eq!(tx.count_users_with_role("school")?, 1);

            tx.insert_oauth_client("c1", org, "school", "h")?;
            assert_eq!(
                tx.find_oauth_client("c1")?.map(|c| c.organization_id),
                Some(org)
            );
            tx.register_certificate(&"ab".repeat(32), "FAC")?;
            assert_eq!(
                tx.certificate_facility(&"ab".repeat(32))?.as_deref(),
                Some("FAC")
            );
            assert_eq!(tx.live_patient_ids()?, vec![pid, other]);
            Ok(())
        })
        .expect("write");
}

fn journal_keeps_raw_bytes_and_response(b: &Backend) {
    let raw = b"MSH|^~\\&|A\x00\xff\r".to_vec();
    let mut id = 0;
    b.store
        .write(&mut |tx| {
            id = tx.journal_insert(&JournalEntry {
                transport: "mllp".into(),
                facility_code: Some("F1".into()),
                remote_addr: Some("127.0.0.1:5000".into()),
                message_control_id: Some("X1".into()),
                message_type: Some("VXU^V04".into()),
                raw: raw.clone(),
            })?;
            tx.journal_respond(id, b"MSH|ACK", "AA", None)
        })
        .expect("write");
    b.store
        .read(&mut |tx| {
            let j = tx.journal_get(id)?.expect("journal row");
            assert_eq!(
                j.raw, raw,
                "raw bytes stored verbatim, NUL and 0xFF included"
            );
            assert_eq!(j.response.as_deref(), Some(&b"MSH|ACK"[..]));
            assert_eq!(j.outcome.as_deref(), Some("AA"));
            assert_eq!(tx.journal_outcomes()?, vec![(Some("AA".to_string()), 1)]);
            Ok(())
        })
        .expect("read");
}

fn patient_roundtrip_and_versions(b: &Backend) {
    let p = sample_patient();
    let mut id = None;
    b.store
        .write(&mut |tx| {
            id = Some(tx.insert_patient(&p, None)?);
            Ok(())
        })
        .expect("insert");
    let id = id.expect("id");
    let mut p2 = p.clone();
    p2.names[0].given = "Annie".into();
    b.store
        .write(&mut |tx| tx.update_patient(id, &p2, None).map(|v| assert_eq!(v, 2)))
        .expect("update");
    b.store
        .read(&mut |tx| {
            let s = tx.load_patient(id)?.expect("patient");
            assert_eq!(s.version, 2);
            assert_eq!(s.patient, p2);
            let versions = tx.patient_versions(id)?;
            assert_eq!(versions.len(), 2);
            assert_eq!(versions[0].2, p, "first version kept verbatim");
            assert_eq!(tx.count_patients()?, 1);
            Ok(())
        })
        .expect("read");
}

fn identifier_and_name_lookup(b: &Backend) {
    let p = sample_patient();
    let mut id = None;
    b.store
        .write(&mut |tx| {
            id = Some(tx.insert_patient(&p, None)?);
            Ok(())
        })
        .expect("insert");
    let id = id.expect("id");
    b.store
        .read(&mut |tx| {
            let hits = tx.find_by_identifier(&PatientIdentifier::new("MRN123", "CLINIC1", "MR"))?;
            assert_eq!(hits, vec![id]);
            let other_authority =
                tx.find_by_identifier(&PatientIdentifier::new("MRN123", "CLINIC2", "MR"))?;
            assert!(
                other_authority.is_empty(),
                "an MRN is only unique per assigning authority"
            );
            let untyped =
                tx.find_by_identifier(&PatientIdentifier::new("MRN123", "CLINIC1", ""))?;
            assert_eq!(untyped, vec![id]);
            assert_eq!(
                tx.find_by_family_and_birth("OBRIENSMITH", date(2020, 1, 31))?,
                vec![id]
            );
            assert!(tx
                .find_by_family_and_birth("OBRIENSMITH", date(2020, 1, 30))?
                .is_empty());
            assert_eq!(
                tx.find_by_birth_and_given(date(2020, 1, 31), "ANN")?,
                vec![id]
            );
            Ok(())
        })
        .expect("read");
}

fn events_update_and_delete_keep_history(b: &Backend) {
    let p = sample_patient();
    let ev = sample_event("ORD-1");
    b.store
        .write(&mut |tx| {
            let pid = tx.insert_patient(&p, None)?;
            let first = tx.insert_event(&NewEvent {
                patient_id: pid,
                facility_code: "F1",
                event: &ev,
                supersedes: None,
                journal_id: None,
                doc: None,
            })?;
            let found = tx
                .find_event_by_source("F1", "ORD-1")?
                .expect("found by source");
            assert_eq!(found.id, first);
            assert_eq!(found.event, ev);
            let mut updated = ev.clone();
            updated.lot_number = Some("LOT2".into());
            tx.set_event_status(first, EventStatus::Superseded)?;
            let second = tx.insert_event(&NewEvent {
                patient_id: pid,
                facility_code: "F1",
                event: &updated,
                supersedes: Some(first),
                journal_id: None,
                doc: None,
            })?;
            tx.set_event_status(second, EventStatus::Deleted)?;
            assert!(
                tx.find_event_by_source("F1", "ORD-1")?.is_none(),
                "deleted dose is not active"
            );
            let all = tx.load_events(pid)?;
            assert_eq!(all.len(), 2, "nothing is physically deleted");
            assert_eq!(all[0].status, EventStatus::Superseded);
            assert_eq!(all[1].status, EventStatus::Deleted);
            assert_eq!(all[1].supersedes, Some(first));
            assert_eq!(all[1].event.lot_number.as_deref(), Some("LOT2"));
            Ok(())
        })
        .expect("write");
}

fn observations_roundtrip(b: &Backend) {
    b.store
        .write(&mut |tx| {
            let pid = tx.insert_patient(&sample_patient(), None)?;
            let o = PatientObservation {
                kind: ObservationKind::EvidenceOfImmunity,
                value: Code {
                    code: "38907003".into(),
                    text: None,
                    system: Some("SCT".into()),
                },
                date: Some(date(2021, 1, 1)),
            };
            tx.insert_observation(pid, "F1", &o, None)?;
            let got = tx.load_observations(pid)?;
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].observation, o);
            assert_eq!(got[0].facility_code, "F1");
            Ok(())
        })
        .expect("write");
}

fn facilities_and_credentials(b: &Backend) {
    b.store
        .write(&mut |tx| {
            let org = tx.insert_organization("Dabig Clinic System", OrganizationKind::Provider)?;
            let fid = tx.insert_facility(org, "DCS", "Dabig Clinic")?;
            tx.insert_credential(fid, "dcs-ehr", "hash")?;
            assert!(
                tx.insert_credential(fid, "dcs-ehr", "other").is_err(),
                "usernames are unique"
            );
            let c = tx.find_credential("dcs-ehr")?.expect("credential");
            assert_eq!(c.facility.code, "DCS");
            assert_eq!(c.facility.organization_id, org);
            assert!(!c.disabled);
            assert!(tx.find_credential("nobody")?.is_none());
            assert_eq!(tx.find_facility("DCS")?.map(|f| f.id), Some(fid));
            assert_eq!(tx.list_facilities()?.len(), 1);
            Ok(())
        })
        .expect("write");
}

fn audit_chain_appends_and_verifies(b: &Backend) {
    b.store
        .write(&mut |tx| {
            for i in 0..5 {
                tx.append_audit(&AuditEntry {
                    actor: format!("user{i}"),
                    role: "provider".into(),
                    purpose: "treatment".into(),
                    action: "read".into(),
                    outcome: "allow".into(),
                    ..Default::default()
                })?;
            }
            Ok(())
        })
        .expect("write");
    b.store
        .read(&mut |tx| {
            let recs = tx.audit_records(0, 100)?;
            assert_eq!(recs.len(), 5);
            assert!(immunis_store::verify_chain(&recs, immunis_store::genesis(), 0).is_ok());
            let mut tampered = recs.clone();
            tampered[2].entry.actor = "mallory".into();
            assert_eq!(
                immunis_store::verify_chain(&tampered, immunis_store::genesis(), 0)
                    .map_err(|e| e.0),
                Err(3)
            );
            let mut dropped = recs.clone();
            dropped.remove(1);
            assert!(immunis_store::verify_chain(&dropped, immunis_store::genesis(), 0).is_err());
            Ok(())
        })
        .expect("read");
}

fn failed_write_rolls_back(b: &Backend) {
    let r = b.store.write(&mut |tx| {
        tx.insert_patient(&sample_patient(), None)?;
        Err(immunis_store::StoreError::Conflict("abort".into()))
    });
    assert!(r.is_err());
    b.store
        .read(&mut |tx| {
            assert_eq!(
                tx.count_patients()?,
                0,
                "an aborted transaction leaves nothing"
            );
            Ok(())
        })
        .expect("read");
}

fn reopen_is_idempotent(b: &Backend) {
    // Opening an already-migrated store again must not re-run migrations.
    b.store
        .write(&mut |tx| tx.insert_patient(&sample_patient(), None).map(|_| ()))
        .expect("write");
    b.store
        .read(&mut |tx| {
            assert_eq!(tx.count_patients()?, 1);
            Ok(())
        })
        .expect("read");
}

#[test]
fn sqlite_reopen_keeps_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let s = immunis_store::open(dir.path(), None).expect("open");
        s.write(&mut |tx| tx.insert_patient(&sample_patient(), None).map(|_| ()))
            .expect("write");
    }
    let s = immunis_store::open(dir.path(), None).expect("reopen");
    s.read(&mut |tx| {
        assert_eq!(tx.count_patients()?, 1);
        Ok(())
    })
    .expect("read");
}

/// Upgrading a v1 database: an objection held only in the patient document
/// (PD1-12 = Y) becomes the first event of the consent history.
#[test]
fn sqlite_upgrade_carries_existing_objections_into_the_consent_history() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (objecting, other) = {
        let s = immunis_store::open(dir.path(), None).expect("open");
        let mut ids = (immunis_model::PatientId(0), immunis_model::PatientId(0));
        s.write(&mut |tx| {
            let mut p = sample_patient();
            p.protection = Some(immunis_model::Dated {
                value: true,
                effective: None,
            });
            ids = (
                tx.insert_patient(&p, None)?,
                tx.insert_patient(&sample_patient(), None)?,
            );
            // Back to schema v1: no security tables, version 3 not recorded.
            for t in [
                "consent_event",
                "audit_anchor",
                "app_user",
                "oauth_client",
                "roster",
                "jurisdiction",
                "client_certificate",
            ] {
                tx.execute_raw(&format!("DROP TABLE {t}"), &[])?;
            }
            tx.execute_raw("DELETE FROM schema_migrations WHERE version = 3", &[])?;
            Ok(())
        })
        .expect("write");
        ids
    };
    let s = immunis_store::open(dir.path(), None).expect("reopen migrates");
    s.read(&mut |tx| {
        assert!(tx.objection_active(objecting)?);
        assert_eq!(tx.consent_events(objecting)?.len(), 1);
        assert!(!tx.objection_active(other)?);
        Ok(())
    })
    .expect("read");
}

/// Schema v6 (the web portal): lots with defaults, hand-change reasons, and
/// the surname / identifier-value lookups of the portal's search.
fn portal_tables_roundtrip(b: &Backend) {
    use immunis_store::{NewDoseChange, NewLot};
    b.store
        .write(&mut |tx| {
            let pid = tx.insert_patient(&sample_patient(), None)?;
            let id = tx.insert_lot(&NewLot {
                facility_code: "F1",
                cvx: "20",
                lot_number: "L-1",
                mvx: Some("PMC"),
                expiration_date: Some(date(2030, 1, 31)),
                route: Some("C28161"),
                site: None,
                amount_ml: Some("0.5"),
                funding_source: None,
                created_by: "nurse",
            })?;
            let lot = tx.lot(id)?.expect("lot");
            assert_eq!(lot.lot_number, "L-1");
            assert_eq!(lot.expiration_date, Some(date(2030, 1, 31)));
            assert!(lot.active);
            assert_eq!(tx.facility_lots(&["F1".into()], false)?.len(), 1);
            assert!(tx.set_lot_active(id, false)?);
            assert!(tx.facility_lots(&["F1".into()], false)?.is_empty());
            assert_eq!(tx.facility_lots(&["F1".into()], true)?.len(), 1);
            assert!(!tx.set_lot_active(id + 1000, false)?);
            tx.insert_dose_change(&NewDoseChange {
                patient_id: pid,
                facility_code: "F1",
                source_id: "P1-1",
                action: "delete",
                reason: "wrong child",
                actor: "nurse",
                journal_id: None,
            })?;
            let changes = tx.dose_changes(pid)?;
            assert_eq!(changes.len(), 1);
            assert_eq!(changes[0].reason, "wrong child");
            assert_eq!(
                tx.find_by_family(&immunis_store::name_key("O'Brien-Smith"), 10)?,
                vec![pid]
            );
            assert_eq!(tx.find_by_identifier_value("MRN123", 10)?, vec![pid]);
            assert!(tx.find_by_identifier_value("nope", 10)?.is_empty());
            Ok(())
        })
        .expect("portal tables");
}
