//! The official record and the SMART Health Card go through the access
//! decision and the visibility rules of `patient_record`: under an objection
//! a provider's card holds only its own organization's doses; a school
//! without the person on its roster, or a study, gets nothing; every issue
//! (allowed or denied) is audited and allowed ones are disclosures. Consumer
//! access: only exact details with a contact on file send a code, the code
//! opens a session for that one record, and keys rotate with the old ones
//! still published.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use chrono::NaiveDate;
use immunis_model::{OrganizationKind, PatientId};
use immunis_registry::consumer::{
    CodeChannel, ContactKind, Delivery, RecordRequest, RequestOutcome,
};

/// Keeps what would be delivered (the operator's channels are adapters in
/// `immunis-channels`).
#[derive(Default)]
struct CaptureChannel {
    sent: std::sync::Mutex<Vec<Delivery>>,
}

impl CodeChannel for CaptureChannel {
    fn name(&self) -> &'static str {
        "capture"
    }

    fn deliver(&self, d: &Delivery) -> Result<(), String> {
        self.sent
            .lock()
            .map_err(|_| "poisoned".to_string())?
            .push(d.clone());
        Ok(())
    }
}
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::{console_admin, DocumentSettings, Purpose, Registry, RegistryError};
use immunis_store::ConsentKind;

fn vxu(facility: &str, ctrl: &str, cvx: &str, date: &str) -> String {
    format!(
        "MSH|^~\\&|EHR|{facility}|IIS|MA|20240101||VXU^V04^VXU_V04|{ctrl}|P|2.5.1|||ER|AL\r\
         PID|1||M1^^^MAIIS^MR||Rivera^Sofia^^^^^L||20230214|F|||1 Main St^^Springfield^MA^01101^USA^L||^PRN^PH^^^413^5550199~^NET^Internet^rivera.family@example.org\r\
         ORC|RE||{ctrl}-1^{facility}\r\
         RXA|0|1|{date}||{cvx}^vaccine^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||^^^{facility}||||LOT1|20300101|MSD^Merck^MVX|||CP|A\r"
    )
}

fn card_cvx(file: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(file).expect("file json");
    let jws = v["verifiableCredential"][0].as_str().expect("jws");
    let payload = jws.split('.').nth(1).expect("payload");
    let raw = miniz_oxide::inflate::decompress_to_vec(&B64URL.decode(payload).expect("b64"))
        .expect("raw deflate");
    let p: serde_json::Value = serde_json::from_slice(&raw).expect("payload json");
    let mut out: Vec<String> = p["vc"]["credentialSubject"]["fhirBundle"]["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["resource"]["vaccineCode"]["coding"][0]["code"].as_str())
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

async fn setup() -> (tempfile::TempDir, Arc<Registry>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = immunis_registry::open_store(dir.path(), None).expect("store");
    let reg = Registry::new(store).expect("registry");
    reg.set_document_settings(DocumentSettings {
        public_url: Some("https://iis.example.org".into()),
        ..Default::default()
    });
    let admin = console_admin();
    use OrganizationKind as K;
    for (org, code) in [("Provider A", "FA"), ("Provider B", "FB")] {
        reg.register_facility(&admin, org, K::Provider, code, code)
            .expect("facility");
    }
    reg.add_organization(&admin, "Springfield Elementary", K::School)
        .expect("school");
    reg.add_organization(&admin, "Study 7", K::Study)
        .expect("study");
    let inbound = Inbound {
        transport: "test",
        remote_addr: None,
    };
    for (fac, ctrl, cvx, date) in [
        ("FA", "A1", "08", "20230214"),
        ("FB", "B1", "08", "20230320"),
    ] {
        let actor = reg.facility_actor(fac, None).expect("facility actor");
        let r = process_message(
            &reg,
            &Submitter::Authenticated(actor),
            vxu(fac, ctrl, cvx, date).as_bytes(),
            &inbound,
        )
        .await;
        assert!(String::from_utf8_lossy(&r).contains("MSA|AA"));
    }
    (dir, reg)
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, 1).expect("date")
}

#[tokio::test(flavor = "multi_thread")]
async fn documents_follow_access_and_objection_and_are_audited() {
    let (_dir, reg) = setup().await;
    let admin = console_admin();
    let pid = PatientId(1);
    let fa = reg.facility_actor("FA", None).expect("fa");
    let fb = reg.facility_actor("FB", None).expect("fb");
    let file = reg
        .health_card_file(&fa, Purpose::Treatment, pid, today(), 1_717_200_000)
        .await
        .expect("card");
    assert_eq!(card_cvx(&file), vec!["08", "08"], "both providers' doses");
    let pdf = reg
        .official_record_pdf(&fa, Purpose::Treatment, pid, today(), 1_717_200_000)
        .await
        .expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"));

    reg.record_consent(&admin, pid, ConsentKind::ObjectionFiled, None, None)
        .expect("objection");
    let a = reg
        .health_card_file(&fa, Purpose::Treatment, pid, today(), 0)
        .await
        .expect("A still gets its own");
    assert_eq!(
        card_cvx(&a),
        vec!["08"],
        "under the objection: own doses only"
    );
    let a_pdf = reg
        .official_record_pdf(&fa, Purpose::Treatment, pid, today(), 0)
        .await
        .expect("pdf");
    assert!(String::from_utf8_lossy(&a_pdf).len() > 1000);
    let b = reg
        .health_card_file(&fb, Purpose::Treatment, pid, today(), 0)
        .await
        .expect("B gets its own");
    assert_eq!(card_cvx(&b), vec!["08"]);
    assert_ne!(a, b, "each provider's card is its own");

    // A school without the person on its roster, and a study: nothing.
    let school = immunis_registry::Actor {
        subject: "nurse".into(),
        role: immunis_registry::Role::School,
        organization: Some(immunis_model::OrganizationId(3)),
        facility_code: None,
        client_addr: None,
    };
    let r = reg
        .official_record_pdf(&school, Purpose::SchoolEntry, pid, today(), 0)
        .await;
    assert!(matches!(r, Err(RegistryError::NotFound(_))), "{r:?}");
    let mut study = school.clone();
    study.role = immunis_registry::Role::Study;
    let r = reg
        .health_card_file(&study, Purpose::Research, pid, today(), 0)
        .await;
    assert!(matches!(r, Err(RegistryError::NotFound(_))));

    // Allowed issues are disclosures; denied ones are audited too.
    let d = reg.disclosures(&admin, pid).expect("disclosures");
    let issued: Vec<_> = d
        .iter()
        .filter(|x| x.action == "issue_record_document")
        .collect();
    assert_eq!(issued.len(), 5, "{d:?}");
    assert!(matches!(
        reg.verify_audit(&admin, &[]).expect("verify"),
        immunis_registry::AuditVerification::Intact { .. }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn consumer_codes_sessions_and_key_rotation() {
    let (_dir, reg) = setup().await;
    let channel = Arc::new(CaptureChannel::default());
    reg.set_code_channel(channel.clone());
    reg.set_consumer_policy(immunis_registry::consumer::ConsumerPolicy {
        response_floor: std::time::Duration::from_millis(50),
        ..Default::default()
    });
    let dob = NaiveDate::from_ymd_opt(2023, 2, 14).expect("date");
    let files = || channel.sent.lock().map(|v| v.clone()).unwrap_or_default();
    let ask = |given: &str, contact: &str| RecordRequest {
        given: given.into(),
        family: "RIVERA".into(),
        birth_date: dob,
        contact: contact.into(),
    };
    // Contact not on file, and wrong given name: accepted, nothing sent.
    for r in [
        ask("Sofia", "other@example.org"),
        ask("Sofie", "(413) 555-0199"),
    ] {
        let out = reg.consumer_request(&r, None).await.expect("request");
        assert!(matches!(out, RequestOutcome::Accepted { .. }));
    }
    let RequestOutcome::Accepted { handle } = reg
        .consumer_request(&ask("sofia", "+1 413 555 0199"), None)
        .await
        .expect("request")
    else {
        panic!("rate limited")
    };
    let mut sent = Vec::new();
    for _ in 0..100 {
        sent = files();
        if !sent.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(sent.len(), 1, "only the matching request sends a code");
    assert_eq!(sent[0].kind, ContactKind::Sms);
    let body = sent[0].body.as_str();
    let code: String = body
        .split_whitespace()
        .find(|w| {
            w.trim_end_matches('.').len() == 6
                && w.trim_end_matches('.').bytes().all(|b| b.is_ascii_digit())
        })
        .map(|w| w.trim_end_matches('.').to_string())
        .expect("code in message");
    assert!(reg
        .consumer_verify("not-a-handle", &code, None)
        .await
        .is_err());
    let login = reg
        .consumer_verify(&handle, &code, None)
        .await
        .expect("code accepted");
    assert!(
        reg.consumer_verify(&handle, &code, None).await.is_err(),
        "single use"
    );
    let (actor, pid) = reg.consumer_session(&login.token, None).expect("session");
    assert_eq!(pid, PatientId(1));
    let file = reg
        .health_card_file(&actor, Purpose::SelfAccess, pid, today(), 0)
        .await
        .expect("own card");
    assert_eq!(card_cvx(&file), vec!["08", "08"]);
    // The session reads only its own record.
    let other = reg
        .official_record_pdf(&actor, Purpose::SelfAccess, PatientId(2), today(), 0)
        .await;
    assert!(other.is_err());
    reg.consumer_logout(&login.token).await.expect("logout");
    assert!(reg.consumer_session(&login.token, None).is_err());
    assert!(reg
        .health_card_file(&actor, Purpose::SelfAccess, pid, today(), 0)
        .await
        .is_err());

    // Rotation keeps the old key published until it is retired.
    let admin = console_admin();
    let first = reg.list_signing_keys(&admin).expect("keys");
    assert_eq!(first.len(), 1, "made on first use");
    let kid = reg.rotate_signing_key(&admin).expect("rotate");
    let jwks = reg.jwks().expect("jwks");
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2));
    assert!(
        reg.retire_signing_key(&admin, &kid).is_err(),
        "not the active one"
    );
    reg.retire_signing_key(&admin, &first[0].kid)
        .expect("retire old");
    let jwks = reg.jwks().expect("jwks");
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str());
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(1));
    let fa = reg.facility_actor("FA", None).expect("fa");
    assert!(reg.rotate_signing_key(&fa).is_err(), "administrators only");
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_keys_are_encrypted_at_rest_with_a_kek() {
    let (_dir, reg) = setup().await;
    let kek = immunis_registry::documents::parse_key_encryption_key(&"ab".repeat(32)).expect("kek");
    reg.set_document_settings(DocumentSettings {
        public_url: Some("https://iis.example.org".into()),
        key_encryption_key: Some(kek),
        ..Default::default()
    });
    let admin = console_admin();
    reg.rotate_signing_key(&admin).expect("rotate");
    assert!(reg.list_signing_keys(&admin).expect("keys")[0].encrypted);
    let fa = reg.facility_actor("FA", None).expect("fa");
    reg.health_card_file(&fa, Purpose::Treatment, PatientId(1), today(), 0)
        .await
        .expect("signs with the decrypted key");
    // Without the KEK (or with another) the key cannot be used: a clear error.
    reg.set_document_settings(DocumentSettings {
        public_url: Some("https://iis.example.org".into()),
        key_encryption_key: Some([7u8; 32]),
        ..Default::default()
    });
    let r = reg
        .health_card_file(&fa, Purpose::Treatment, PatientId(1), today(), 0)
        .await;
    assert!(matches!(r, Err(RegistryError::Invalid(m)) if m.contains("does not decrypt")));
}
