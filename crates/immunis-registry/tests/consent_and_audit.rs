//! The objection to data sharing as a consent history driven by HL7 PD1-12/13
//! and by forms, its effect on what providers see (including the Z42
//! forecast), and the tamper evidence of the audit trail: edited, deleted,
//! reordered and truncated records are all detected.

use std::sync::Arc;

use immunis_model::{OrganizationKind, PatientId};
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::{console_admin, Actor, AuditVerification, Purpose, Registry};
use immunis_store::{ConsentKind, Store, Value};

fn setup() -> (tempfile::TempDir, Arc<dyn Store>, Arc<Registry>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = immunis_store::open(dir.path(), None).expect("store");
    let reg = Registry::new(store.clone()).expect("registry");
    let admin = console_admin();
    for (org, code) in [("Pediatrics Inc", "PEDS"), ("Other Clinic", "OTHER")] {
        reg.register_facility(&admin, org, OrganizationKind::Provider, code, code)
            .expect("facility");
    }
    (dir, store, reg)
}

fn inbound() -> Inbound {
    Inbound {
        transport: "test",
        remote_addr: None,
    }
}

/// A VXU for Sofia Rivera (MRN M1 in a shared authority) from `facility`.
fn vxu(facility: &str, ctrl: &str, pd1: &str, doses: &[(&str, &str, &str)]) -> String {
    let mut m = format!(
        "MSH|^~\\&|EHR|{facility}|IIS|MA|20240101||VXU^V04^VXU_V04|{ctrl}|P|2.5.1|||ER|AL\r\
         PID|1||M1^^^MAIIS^MR||Rivera^Sofia^^^^^L||20230214|F|||1 Main St^^Springfield^MA^01101^USA^L\r"
    );
    if !pd1.is_empty() {
        m.push_str(&format!("PD1|||||||||||{pd1}\r"));
    }
    for (filler, cvx, date) in doses {
        m.push_str(&format!(
            "ORC|RE||{filler}^{facility}\rRXA|0|1|{date}||{cvx}^vaccine^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||^^^{facility}||||LOT1|20300101|MSD^Merck^MVX|||CP|A\r"
        ));
    }
    m
}

const Z44: &str = "MSH|^~\\&|EHR|PEDS|IIS|MA|20240101||QBP^Q11^QBP_Q11|Q1|P|2.5.1|||||||||Z44^CDCPHINVS\r\
QPD|Z44^Request Evaluated History and Forecast^CDCPHINVS|T1|M1^^^MAIIS^MR|Rivera^Sofia^^^^^L||20230214|F\r\
RCP|I|5^RD&records&HL70126\r";

async fn send(reg: &Registry, actor: &Actor, msg: &str) -> String {
    let reply = process_message(
        reg,
        &Submitter::Authenticated(actor.clone()),
        msg.as_bytes(),
        &inbound(),
    )
    .await;
    String::from_utf8_lossy(&reply).into_owned()
}

fn msa(reply: &str) -> &str {
    reply
        .split('\r')
        .find(|s| s.starts_with("MSA|"))
        .and_then(|s| s.split('|').nth(1))
        .unwrap_or("")
}

/// Administered doses in an RSP (the forecast's 998 placeholder excluded).
fn rxa_count(reply: &str) -> usize {
    reply
        .split('\r')
        .filter(|s| s.starts_with("RXA|") && !s.contains("|998^"))
        .count()
}

/// PEDS gave HepB dose 1; OTHER gave doses 2 and 3.
async fn hepb_series(reg: &Registry, peds: &Actor, other: &Actor, pd1: &str) {
    let r = send(
        reg,
        peds,
        &vxu("PEDS", "C1", pd1, &[("P1", "08", "20230214")]),
    )
    .await;
    assert_eq!(msa(&r), "AA", "{r}");
    let r = send(
        reg,
        other,
        &vxu(
            "OTHER",
            "C2",
            "",
            &[("O2", "08", "20230414"), ("O3", "08", "20230814")],
        ),
    )
    .await;
    assert_eq!(msa(&r), "AA", "{r}");
}

fn hepb_forecast(reg: &Registry, rec: &immunis_registry::PatientRecord) -> Option<u16> {
    let ev = immunis_registry::forecast::evaluate(
        reg.engine(),
        rec,
        chrono::NaiveDate::from_ymd_opt(2024, 3, 1).expect("date"),
    );
    let g = ev
        .assessment
        .vaccine_groups
        .iter()
        .find(|g| reg.engine().vaccine_group_name(g.group) == "HepB")
        .expect("HepB group assessed");
    g.forecast.as_ref().map(|f| f.dose_number)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pd1_objection_is_history_and_limits_providers_and_the_forecast() {
    let (_dir, _store, reg) = setup();
    let admin = console_admin();
    let peds = reg.facility_actor("PEDS", None).expect("peds");
    let other = reg.facility_actor("OTHER", None).expect("other");
    hepb_series(&reg, &peds, &other, "|Y|20240105").await;
    let pid = PatientId(1);

    // The objection is one consent event, from PEDS, dated by PD1-13.
    let history = reg.consent_history(&admin, pid).expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, ConsentKind::ObjectionFiled);
    assert_eq!(history[0].recorded_by, "facility:PEDS");
    assert_eq!(
        history[0].effective_date,
        chrono::NaiveDate::from_ymd_opt(2024, 1, 5)
    );
    assert_eq!(history[0].source, "hl7");

    // Re-sending Y does not file twice.
    let r = send(&reg, &peds, &vxu("PEDS", "C3", "|Y|20240105", &[])).await;
    assert_eq!(msa(&r), "AA", "{r}");
    assert_eq!(reg.consent_history(&admin, pid).expect("h").len(), 1);

    // PEDS sees only its own dose, and the forecast uses only that dose.
    let rec = reg
        .patient_record(&peds, Purpose::Treatment, pid)
        .await
        .expect("peds record");
    assert!(rec.restricted && rec.objection_active);
    assert_eq!(rec.doses.len(), 1);
    assert_eq!(
        hepb_forecast(&reg, &rec),
        Some(2),
        "dose 2 due from PEDS's view"
    );
    let rsp = send(&reg, &peds, Z44).await;
    assert_eq!(rxa_count(&rsp), 1, "{rsp}");
    assert!(rsp.contains("the forecast uses only those"), "{rsp}");
    assert!(!rsp.contains("O2") && !rsp.contains("OTHER"), "{rsp}");

    // The administrator sees all three doses and a complete series.
    let full = reg
        .patient_record(&admin, Purpose::Administration, pid)
        .await
        .expect("admin record");
    assert_eq!(full.doses.len(), 3);
    assert_eq!(hepb_forecast(&reg, &full), None, "series complete");

    // PD1-12 = N from an authorized submitter withdraws it; history is kept.
    let r = send(&reg, &other, &vxu("OTHER", "C4", "|N|20240201", &[])).await;
    assert_eq!(msa(&r), "AA", "{r}");
    let history = reg.consent_history(&admin, pid).expect("history");
    assert_eq!(
        history.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![ConsentKind::ObjectionFiled, ConsentKind::ObjectionWithdrawn]
    );
    let rec = reg
        .patient_record(&peds, Purpose::Treatment, pid)
        .await
        .expect("record");
    assert!(!rec.restricted && !rec.objection_active);
    assert_eq!(rec.doses.len(), 3);
    let rsp = send(&reg, &peds, Z44).await;
    assert_eq!(rxa_count(&rsp), 3, "{rsp}");

    // A form filed again through the registry: active again, three events.
    reg.record_consent(
        &admin,
        pid,
        ConsentKind::ObjectionFiled,
        chrono::NaiveDate::from_ymd_opt(2024, 2, 10),
        chrono::NaiveDate::from_ymd_opt(2024, 2, 12),
    )
    .expect("form");
    let rec = reg
        .patient_record(&other, Purpose::Treatment, pid)
        .await
        .expect("other record");
    assert!(rec.restricted);
    assert_eq!(rec.doses.len(), 2);
    assert_eq!(reg.consent_history(&admin, pid).expect("h").len(), 3);

    // Only providers and the registry record objections.
    let mut school = other.clone();
    school.role = immunis_registry::Role::School;
    assert!(reg
        .record_consent(&school, pid, ConsentKind::ObjectionWithdrawn, None, None)
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_objection_the_forecast_uses_every_dose() {
    let (_dir, _store, reg) = setup();
    let peds = reg.facility_actor("PEDS", None).expect("peds");
    let other = reg.facility_actor("OTHER", None).expect("other");
    hepb_series(&reg, &peds, &other, "").await;
    let rec = reg
        .patient_record(&peds, Purpose::Treatment, PatientId(1))
        .await
        .expect("record");
    assert!(!rec.restricted);
    assert_eq!(rec.doses.len(), 3);
    assert_eq!(hepb_forecast(&reg, &rec), None);
}

async fn trail(reg: &Registry) {
    let peds = reg.facility_actor("PEDS", None).expect("peds");
    let other = reg.facility_actor("OTHER", None).expect("other");
    hepb_series(reg, &peds, &other, "").await;
    for _ in 0..3 {
        reg.patient_record(&peds, Purpose::Treatment, PatientId(1))
            .await
            .expect("read");
    }
    // The reads' entries are durable in the audit spool; fold them into the
    // stored trail that the tests below tamper with.
    reg.flush_audit().expect("fold the spool");
}

fn tamper(store: &Arc<dyn Store>, sql: &str, params: &[Value]) {
    store
        .write(&mut |tx| tx.execute_raw(sql, params).map(|_| ()))
        .expect("tamper");
}

fn broken(reg: &Registry, external: &[immunis_registry::Anchor]) -> (i64, String) {
    match reg
        .verify_audit(&console_admin(), external)
        .expect("verify")
    {
        AuditVerification::Broken { seq, reason } => (seq, reason),
        ok => panic!("tampering not detected: {ok:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_detects_edit_delete_swap_and_truncation() {
    // Intact trail verifies, with its anchor.
    let (_d, _store, reg) = setup();
    trail(&reg).await;
    let anchor = reg
        .anchor_audit(&console_admin())
        .expect("anchor")
        .expect("non-empty");
    assert!(matches!(
        reg.verify_audit(&console_admin(), std::slice::from_ref(&anchor)),
        Ok(AuditVerification::Intact { anchors: 2, .. })
    ));

    // Edit one field.
    let (_d1, s1, r1) = setup();
    trail(&r1).await;
    tamper(
        &s1,
        "UPDATE audit_log SET actor = 'someone-else' WHERE seq = $1",
        &[Value::Int(4)],
    );
    let (seq, reason) = broken(&r1, &[]);
    assert_eq!(seq, 4);
    assert!(reason.contains("edited"), "{reason}");

    // Delete a row in the middle.
    let (_d2, s2, r2) = setup();
    trail(&r2).await;
    tamper(
        &s2,
        "DELETE FROM audit_log WHERE seq = $1",
        &[Value::Int(5)],
    );
    let (seq, reason) = broken(&r2, &[]);
    assert_eq!(seq, 6);
    assert!(reason.contains("gap"), "{reason}");

    // Swap two rows (their contents change places, seq stays in order).
    let (_d3, s3, r3) = setup();
    trail(&r3).await;
    tamper(&s3, "UPDATE audit_log SET seq = -1 WHERE seq = 4", &[]);
    tamper(&s3, "UPDATE audit_log SET seq = 4 WHERE seq = 5", &[]);
    tamper(&s3, "UPDATE audit_log SET seq = 5 WHERE seq = -1", &[]);
    let (seq, _) = broken(&r3, &[]);
    assert_eq!(seq, 4);

    // Truncate the tail: the chain alone still links, the anchor catches it.
    let (_d4, s4, r4) = setup();
    trail(&r4).await;
    let a4 = r4
        .anchor_audit(&console_admin())
        .expect("anchor")
        .expect("non-empty");
    tamper(
        &s4,
        "DELETE FROM audit_log WHERE seq >= $1",
        &[Value::Int(a4.seq - 1)],
    );
    let (seq, reason) = broken(&r4, &[]);
    assert_eq!(seq, a4.seq);
    assert!(reason.contains("truncated"), "{reason}");

    // Truncate the tail *and* the anchor table: the operator's file catches it.
    let (_d5, s5, r5) = setup();
    trail(&r5).await;
    let a5 = r5
        .anchor_audit(&console_admin())
        .expect("anchor")
        .expect("non-empty");
    let file = a5.to_line();
    tamper(
        &s5,
        "DELETE FROM audit_log WHERE seq >= $1",
        &[Value::Int(a5.seq - 1)],
    );
    tamper(&s5, "DELETE FROM audit_anchor", &[]);
    let parsed = immunis_registry::Anchor::parse_file(&file).expect("parse");
    let (_, reason) = broken(&r5, &parsed);
    assert!(reason.contains("truncated"), "{reason}");

    // Rewrite a record and re-hash the rest of the chain: the anchor catches it.
    let (_d6, s6, r6) = setup();
    trail(&r6).await;
    let a6 = r6
        .anchor_audit(&console_admin())
        .expect("anchor")
        .expect("non-empty");
    let mut records = Vec::new();
    s6.read(&mut |tx| {
        records = tx.audit_records(0, 1000)?;
        Ok(())
    })
    .expect("read");
    let mut prev = immunis_store::genesis();
    for r in &mut records {
        if r.seq == 2 {
            r.entry.actor = "forged".into();
        }
        let h = immunis_store::audit_hash(&prev, r.seq, r.at, &r.entry);
        tamper(
            &s6,
            "UPDATE audit_log SET actor = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
            &[
                Value::Text(r.entry.actor.clone()),
                Value::Text(prev.clone()),
                Value::Text(h.clone()),
                Value::Int(r.seq),
            ],
        );
        prev = h;
    }
    let (seq, reason) = broken(&r6, &[]);
    assert_eq!(seq, a6.seq);
    assert!(reason.contains("anchor"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounting_of_disclosures_lists_who_saw_the_record() {
    let (_d, _s, reg) = setup();
    trail(&reg).await;
    let list = reg
        .disclosures(&console_admin(), PatientId(1))
        .expect("disclosures");
    assert_eq!(list.len(), 3);
    assert!(list
        .iter()
        .all(|d| d.actor == "facility:PEDS" && d.purpose == "treatment"));
    // Asking for the accounting is itself audited.
    let again = reg
        .disclosures(&console_admin(), PatientId(1))
        .expect("disclosures");
    assert_eq!(again.len(), 3);
    assert!(reg
        .disclosures(&reg.facility_actor("PEDS", None).expect("a"), PatientId(1))
        .is_err());
}

/// A rendered read (the JSON API) and a rendered chart (the portal's page)
/// are audited like a plain read; a reader who may not see the person gets
/// nothing rendered and is audited as denied, not disclosed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendered_reads_and_charts_are_disclosures_and_denials_render_nothing() {
    let (_d, _s, reg) = setup();
    let peds = reg.facility_actor("PEDS", None).expect("peds");
    let other = reg.facility_actor("OTHER", None).expect("other");
    hepb_series(&reg, &peds, &other, "").await;
    let doses = reg
        .patient_record_with(&peds, Purpose::Treatment, PatientId(1), |r| r.doses.len())
        .await
        .expect("rendered read");
    assert_eq!(doses, 3);
    let today = chrono::NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
    let groups = reg
        .portal_chart_with(&peds, PatientId(1), today, |c| {
            c.groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>()
        })
        .await
        .expect("rendered chart");
    assert!(groups.iter().any(|g| g == "HepB"), "{groups:?}");
    // A school with no roster entry for this person sees nothing.
    let admin = console_admin();
    reg.add_organization(&admin, "Some School", OrganizationKind::School)
        .expect("school");
    let secret = reg
        .add_oauth_client(&admin, "school-system", "Some School")
        .expect("client");
    let token = reg
        .issue_token("school-system", &secret, None)
        .await
        .expect("token");
    let school = reg
        .token_actor(&token.access_token, None)
        .expect("school actor");
    let mut rendered = false;
    let denied = reg
        .patient_record_with(&school, school.role.default_purpose(), PatientId(1), |_| {
            rendered = true;
        })
        .await;
    assert!(denied.is_err());
    assert!(!rendered, "nothing may be rendered for a denied reader");
    reg.flush_audit().expect("fold the spool");
    let list = reg.disclosures(&admin, PatientId(1)).expect("disclosures");
    let peds_reads: Vec<_> = list
        .iter()
        .filter(|d| d.actor == "facility:PEDS" && d.action == "read_record")
        .collect();
    assert_eq!(peds_reads.len(), 2, "{list:?}");
    assert!(
        list.iter()
            .all(|d| d.organization.as_deref() != Some("Some School")
                && !d.actor.contains("school-system")),
        "a denied read is not a disclosure: {list:?}"
    );
}
