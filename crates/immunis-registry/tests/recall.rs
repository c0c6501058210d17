//! Reminder/recall: the list follows the access policy (provider's own
//! patients, an objection limiting a provider to its own doses, a board of
//! health's residents, schools refused), the person's reminder preference
//! (PD1-11), deceased and inactive records, the age range and vaccine
//! groups; every listed person is in a committed audit entry.

use chrono::NaiveDate;
use immunis_model::{OrganizationKind, PatientId};
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::recall::{RecallCriteria, RecallRow, RecallStatus};
use immunis_registry::{console_admin, Actor, Registry, RegistryError, Role};
use immunis_store::ConsentKind;

fn vxu(
    facility: &str,
    ctrl: &str,
    mrn: &str,
    name: &str,
    zip: &str,
    pd1: &str,
    doses: &[(&str, &str)],
) -> String {
    let mut m = format!(
        "MSH|^~\\&|EHR|{facility}|IIS|MA|20240101||VXU^V04^VXU_V04|{ctrl}|P|2.5.1|||ER|AL\r\
         PID|1||{mrn}^^^{facility}^MR||{name}^Sofia^^^^L||20230214|F|||1 Main St^^Springfield^MA^{zip}^USA^L||^PRN^PH^^^413^5551234\r\
         {pd1}"
    );
    for (i, (cvx, date)) in doses.iter().enumerate() {
        m.push_str(&format!(
            "ORC|RE||{ctrl}-{i}^{facility}\r\
             RXA|0|1|{date}||{cvx}^vaccine^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||^^^{facility}||||LOT1|20300101|MSD^Merck^MVX|||CP|A\r"
        ));
    }
    m
}

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 1).expect("valid literal date")
}

fn criteria() -> RecallCriteria {
    RecallCriteria {
        as_of: as_of(),
        min_age_months: None,
        max_age_months: None,
        vaccine_groups: Vec::new(),
        due_within_days: None,
    }
}

fn run(reg: &Registry, actor: &Actor, c: &RecallCriteria) -> Result<Vec<RecallRow>, RegistryError> {
    let mut rows = Vec::new();
    tokio::task::block_in_place(|| {
        reg.reminder_recall(actor, c, 2, &mut |r| {
            rows.push(r.clone());
            Ok(())
        })
    })?;
    Ok(rows)
}

fn people(rows: &[RecallRow]) -> Vec<String> {
    let mut v: Vec<String> = rows.iter().map(|r| r.family.clone()).collect();
    v.dedup();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_follows_policy_preferences_and_criteria() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = Registry::new(immunis_registry::open_store(dir.path(), None).expect("store"))
        .expect("registry");
    let admin = console_admin();
    use OrganizationKind as K;
    for (name, kind) in [
        ("Provider A", K::Provider),
        ("Provider B", K::Provider),
        ("Springfield BOH", K::BoardOfHealth),
        ("Springfield Elementary", K::School),
    ] {
        reg.add_organization(&admin, name, kind).expect("org");
    }
    reg.register_facility(&admin, "Provider A", K::Provider, "FA", "FA")
        .expect("facility");
    reg.register_facility(&admin, "Provider B", K::Provider, "FB", "FB")
        .expect("facility");
    reg.add_jurisdiction(&admin, "Springfield BOH", "zip", "01101")
        .expect("zip");
    let fa = reg.facility_actor("FA", None).expect("fa");
    let fb = reg.facility_actor("FB", None).expect("fb");
    let inbound = Inbound {
        transport: "test",
        remote_addr: None,
    };
    // Born 2023-02-14; on 2025-06-01 a child with only a birth HepB and a
    // 2-month DTaP is overdue for DTaP, HepB, Hib, PCV, polio, MMR, varicella…
    let people_in = [
        (
            &fa,
            "FA",
            "A1",
            "M1",
            "Early",
            "01101",
            "",
            vec![("08", "20230214"), ("20", "20230414")],
        ),
        (
            &fa,
            "FA",
            "A2",
            "M2",
            "Optout",
            "01101",
            "PD1|||||||||||01|||||A\r",
            vec![("08", "20230214")],
        ),
        (
            &fa,
            "FA",
            "A3",
            "M3",
            "Moved",
            "01101",
            "PD1||||||||||||||||M|20240101\r",
            vec![("08", "20230214")],
        ),
        (
            &fb,
            "FB",
            "B1",
            "M4",
            "Elsewhere",
            "02139",
            "PD1|||||||||||05|||||A\r",
            vec![("08", "20230214")],
        ),
        // Fully vaccinated for the toddler MMR series: not on an MMR list.
        (
            &fb,
            "FB",
            "B2",
            "M5",
            "Complete",
            "01101",
            "",
            vec![("08", "20230214"), ("03", "20240215")],
        ),
    ];
    for (actor, fac, ctrl, mrn, name, zip, pd1, doses) in people_in {
        let r = process_message(
            &reg,
            &Submitter::Authenticated(actor.clone()),
            vxu(fac, ctrl, mrn, name, zip, pd1, &doses).as_bytes(),
            &inbound,
        )
        .await;
        assert!(
            String::from_utf8_lossy(&r).contains("MSA|AA"),
            "{}",
            String::from_utf8_lossy(&r)
        );
    }
    // "Early" also got a dose at provider B, then objected to data sharing.
    let r = process_message(
        &reg,
        &Submitter::Authenticated(fb.clone()),
        vxu(
            "FB",
            "B3",
            "MB1",
            "Early",
            "01101",
            "",
            &[("10", "20230414")],
        )
        .as_bytes(),
        &inbound,
    )
    .await;
    assert!(String::from_utf8_lossy(&r).contains("MSA|AA"));

    // The registry's statewide run: everyone active who wants reminders.
    let all = run(&reg, &admin, &criteria()).expect("statewide");
    // "Elsewhere" asked for reminders only (PD1-11 05): not on a recall list.
    assert_eq!(people(&all), ["Early", "Complete"]);
    assert!(all.iter().all(|r| r.status == RecallStatus::Overdue));

    // Age range and groups narrow the list.
    let mut c = criteria();
    c.vaccine_groups = vec!["MMR".into()];
    let mmr = run(&reg, &admin, &c).expect("mmr");
    assert!(mmr.iter().all(|r| r.vaccine_group == "MMR"));
    assert!(!people(&mmr).contains(&"Complete".to_string()));
    c.max_age_months = Some(12);
    assert!(run(&reg, &admin, &c).expect("babies").is_empty());
    c.vaccine_groups = vec!["No Such Group".into()];
    assert!(matches!(
        run(&reg, &admin, &c),
        Err(RegistryError::Invalid(_))
    ));

    // Reminders within a window list "Elsewhere" (05 = reminders, no calls).
    let mut c = criteria();
    c.due_within_days = Some(3650);
    let with_due = run(&reg, &admin, &c).expect("due");
    let elsewhere: Vec<_> = with_due
        .iter()
        .filter(|r| r.family == "Elsewhere")
        .collect();
    assert!(!elsewhere.is_empty());
    assert!(elsewhere
        .iter()
        .all(|r| r.status == RecallStatus::Due && r.phone.is_none()));
    let early: Vec<_> = with_due.iter().filter(|r| r.family == "Early").collect();
    assert!(early
        .iter()
        .all(|r| r.phone.as_deref() == Some("4135551234")));

    // Provider A's list: its own patients only.
    let a = run(&reg, &fa, &criteria()).expect("provider A");
    assert_eq!(people(&a), ["Early"]);
    let polio_known = a
        .iter()
        .all(|r| r.vaccine_group != "Polio" || r.dose_number >= 2);
    assert!(
        polio_known,
        "A sees B's polio dose while there is no objection"
    );

    // After an objection, A forecasts from its own doses only (polio dose 1 due).
    reg.record_consent(
        &admin,
        PatientId(1),
        ConsentKind::ObjectionFiled,
        None,
        None,
    )
    .expect("objection");
    let a = run(&reg, &fa, &criteria()).expect("provider A under objection");
    assert!(a
        .iter()
        .any(|r| r.family == "Early" && r.vaccine_group == "Polio" && r.dose_number == 1));
    assert!(
        a.iter().all(|r| r.street.is_none()),
        "other providers' demographics withheld"
    );

    // The board of health: residents, nobody under an objection.
    let boh_org = reg
        .list_organizations(&admin)
        .expect("orgs")
        .into_iter()
        .find(|o| o.name == "Springfield BOH")
        .expect("boh");
    let boh = Actor {
        subject: "boh-nurse".into(),
        role: Role::BoardOfHealth,
        organization: Some(boh_org.id),
        facility_code: None,
        client_addr: None,
    };
    assert_eq!(
        people(&run(&reg, &boh, &criteria()).expect("boh")),
        ["Complete"]
    );

    // Schools use the school report, not reminder/recall.
    let school = Actor {
        subject: "nurse".into(),
        role: Role::School,
        organization: None,
        facility_code: None,
        client_addr: None,
    };
    assert!(matches!(
        run(&reg, &school, &criteria()),
        Err(RegistryError::Denied(_))
    ));

    // Every listed person is in the audit trail of the runs.
    let disclosures = reg.disclosures(&admin, PatientId(1)).expect("disclosures");
    assert!(
        disclosures
            .iter()
            .filter(|d| d.action == "reminder_recall")
            .count()
            >= 3
    );
}
