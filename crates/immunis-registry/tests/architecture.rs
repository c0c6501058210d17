//! Architecture invariants, checked: transports never touch storage (every
//! read and write of patient data goes through `immunis-registry`), and every
//! public registry read path of patient data leaves an audit entry — allowed
//! or denied.

use std::path::Path;

use immunis_model::{OrganizationKind, PatientId};
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::{console_admin, AuditVerification, PatientQuery, Purpose, Registry, Role};
use immunis_store::ConsentKind;

fn crate_dir(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates dir")
        .join(name)
}

fn dependencies_section(manifest: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t == "[dependencies]";
            continue;
        }
        if inside {
            out.push_str(t);
            out.push('\n');
        }
    }
    out
}

fn rust_sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn transports_never_depend_on_the_store_or_the_policy() {
    for name in ["immunis-server", "immunis-web"] {
        edge_never_touches_the_store_or_the_policy(name);
    }
}

fn edge_never_touches_the_store_or_the_policy(name: &str) {
    let server = crate_dir(name);
    let manifest = std::fs::read_to_string(server.join("Cargo.toml")).expect("manifest");
    let deps = dependencies_section(&manifest);
    assert!(
        !deps.contains("immunis-store"),
        "{name} must not depend on immunis-store"
    );
    assert!(
        !deps.contains("immunis-access"),
        "{name} must not make access decisions"
    );
    let mut files = Vec::new();
    rust_sources(&server.join("src"), &mut files);
    assert!(!files.is_empty());
    for f in files {
        let text = std::fs::read_to_string(&f).expect("source");
        for forbidden in ["immunis_store", "immunis_access::decide"] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}",
                f.display()
            );
        }
    }
}

fn audit_count(reg: &Registry) -> i64 {
    match reg.verify_audit(&console_admin(), &[]).expect("verify") {
        AuditVerification::Intact { records, .. } => records,
        b => panic!("{b:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_public_read_path_audits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = Registry::new(immunis_registry::open_store(dir.path(), None).expect("store"))
        .expect("registry");
    let admin = console_admin();
    reg.register_facility(&admin, "Org A", OrganizationKind::Provider, "FA", "FA")
        .expect("facility");
    let fa = reg.facility_actor("FA", None).expect("fa");
    let vxu = "MSH|^~\\&|EHR|FA|IIS|MA|20240101||VXU^V04^VXU_V04|C1|P|2.5.1|||ER|AL\r\
PID|1||M1^^^MAIIS^MR||Rivera^Sofia^^^^^L||20230214|F\r\
ORC|RE||P1^FA\r\
RXA|0|1|20230214||08^HepB^CVX|0.5|mL^mL^UCUM||00^New^NIP001||^^^FA||||L|20300101|MSD^Merck^MVX|||CP|A\r";
    let inbound = Inbound {
        transport: "test",
        remote_addr: None,
    };
    let before = audit_count(&reg);
    process_message(
        &reg,
        &Submitter::Authenticated(fa.clone()),
        vxu.as_bytes(),
        &inbound,
    )
    .await;
    assert_eq!(audit_count(&reg), before + 1, "ingest audits");
    let pid = PatientId(1);
    let mut denied = fa.clone();
    denied.role = Role::Study;

    let mut n = audit_count(&reg);
    let mut step = |what: &str, reg: &Registry| {
        let now = audit_count(reg);
        assert!(now > n, "{what} left no audit entry");
        n = now;
    };
    let _ = reg.patient_record(&fa, Purpose::Treatment, pid).await;
    step("patient_record (allowed)", &reg);
    let _ = reg.patient_record(&denied, Purpose::Research, pid).await;
    step("patient_record (denied)", &reg);
    let q = PatientQuery {
        family: Some("Rivera".into()),
        given: Some("Sofia".into()),
        birth_date: chrono::NaiveDate::from_ymd_opt(2023, 2, 14),
        ..Default::default()
    };
    let _ = reg.find_patients(&fa, Purpose::Treatment, &q, 5).await;
    step("find_patients (allowed)", &reg);
    let _ = reg.find_patients(&denied, Purpose::Research, &q, 5).await;
    step("find_patients (denied)", &reg);
    let qbp =
        "MSH|^~\\&|EHR|FA|IIS|MA|20240101||QBP^Q11^QBP_Q11|Q1|P|2.5.1|||||||||Z34^CDCPHINVS\r\
QPD|Z34^Request^CDCPHINVS|T1|M1^^^MAIIS^MR|Rivera^Sofia^^^^^L||20230214|F\r\
RCP|I|5^RD&records&HL70126\r";
    process_message(
        &reg,
        &Submitter::Authenticated(fa.clone()),
        qbp.as_bytes(),
        &inbound,
    )
    .await;
    step("HL7 QBP", &reg);
    let _ = reg.consent_history(&admin, pid);
    step("consent_history", &reg);
    let _ = reg.disclosures(&admin, pid);
    step("disclosures", &reg);
    reg.record_consent(&admin, pid, ConsentKind::ObjectionFiled, None, None)
        .expect("consent");
    step("record_consent", &reg);
    let rules = immunis_schools::Rules::massachusetts().expect("school rules");
    let school = reg
        .add_organization(&admin, "School A", OrganizationKind::School)
        .expect("school");
    reg.set_school_grade(&admin, "School A", pid, &immunis_schools::Grade::K, None)
        .expect("roster");
    step("set_school_grade", &reg);
    let mut nurse = fa.clone();
    nurse.role = Role::School;
    nurse.organization = Some(school);
    let today = chrono::NaiveDate::from_ymd_opt(2025, 9, 2).expect("date");
    let _ = reg.school_report(&nurse, &rules, "School A", None, today);
    step("school_report (objection: denied row)", &reg);
    let _ = reg.school_report(&denied, &rules, "School A", None, today);
    step("school_report (denied)", &reg);
    // The portal's deny paths (issue 15: two were not audited).
    let newcomer = immunis_model::Patient::new(
        immunis_model::PersonName::parse("Okafor", "Ada").expect("name"),
        immunis_model::BirthDate(chrono::NaiveDate::from_ymd_opt(2024, 5, 1).expect("date")),
        immunis_model::Sex::Female,
    );
    let form = immunis_registry::portal::SearchForm {
        family: Some("Rivera".into()),
        ..Default::default()
    };
    let _ = reg.portal_search(&denied, &form, 10).await;
    step("portal_search (denied)", &reg);
    let r = reg.portal_duplicate_check(&denied, &newcomer).await;
    assert!(r.is_err());
    step("portal_duplicate_check (denied)", &reg);
    let r = reg
        .portal_register_patient(&nurse, None, newcomer.clone(), today)
        .await;
    assert!(r.is_err());
    step("portal_register_patient (denied)", &reg);
    let _ = reg.deidentified_extract(&fa);
    step("deidentified_extract (denied)", &reg);
}
