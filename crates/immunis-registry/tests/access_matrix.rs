//! The access matrix, generated: every role (as a human user, an OAuth2
//! client, a facility system, a person) × every interface available now
//! (registry record read, registry search, HL7 QBP Z34 and Z44 for systems)
//! × consent state (none, active objection, withdrawn) × whose doses (the
//! actor's own organization's or another's), asserting exactly which doses
//! are visible and failing on any leak. Transport-level variants (MLLP, SOAP,
//! HTTP) of the HL7 interface run in `immunis-server`'s tests and the e2e suite.

use std::collections::BTreeSet;

use immunis_model::{OrganizationKind, PatientId};
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::{
    console_admin, totp, Actor, PatientQuery, QueryOutcome, Registry, RegistryError,
};
use immunis_store::ConsentKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Consent {
    None,
    Active,
    Withdrawn,
}

/// What an actor should see: nothing, or exactly these facilities' doses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sees {
    Nothing,
    Doses(BTreeSet<&'static str>),
}

fn doses(f: &[&'static str]) -> Sees {
    Sees::Doses(f.iter().copied().collect())
}

struct Case {
    name: &'static str,
    actor: Actor,
    /// Expected for (none, active, withdrawn).
    expect: [Sees; 3],
    /// Whether HL7 QBP applies (systems of provider organizations).
    hl7: bool,
    /// School-entry data only (no address in what is returned).
    school_entry_only: bool,
}

fn vxu(facility: &str, ctrl: &str, filler: &str, cvx: &str, date: &str) -> String {
    format!(
        "MSH|^~\\&|EHR|{facility}|IIS|MA|20240101||VXU^V04^VXU_V04|{ctrl}|P|2.5.1|||ER|AL\r\
         PID|1||M1^^^MAIIS^MR||Rivera^Sofia^^^^^L||20230214|F|||1 Main St^^Springfield^MA^01101^USA^L\r\
         ORC|RE||{filler}^{facility}\r\
         RXA|0|1|{date}||{cvx}^vaccine^CVX|0.5|mL^mL^UCUM||00^New immunization record^NIP001||^^^{facility}||||LOT1|20300101|MSD^Merck^MVX|||CP|A\r"
    )
}

fn qbp(profile: &str, facility: &str) -> String {
    format!(
        "MSH|^~\\&|EHR|{facility}|IIS|MA|20240101||QBP^Q11^QBP_Q11|Q1|P|2.5.1|||||||||{profile}^CDCPHINVS\r\
         QPD|{profile}^Request^CDCPHINVS|T1|M1^^^MAIIS^MR|Rivera^Sofia^^^^^L||20230214|F\r\
         RCP|I|5^RD&records&HL70126\r"
    )
}

fn totp_now(secret: &str, offset: u64) -> String {
    let s = totp::base32_decode(secret).expect("base32");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    totp::code_at(&s, now + offset)
}

async fn user_actor(reg: &Registry, name: &str, org: Option<&str>, person: Option<i64>) -> Actor {
    let admin = console_admin();
    let s = reg
        .add_user(
            &admin,
            name,
            org,
            person.map(PatientId),
            Some("plum-ferry-42-orbit"),
        )
        .expect("user");
    reg.login(
        name,
        "plum-ferry-42-orbit",
        &totp_now(&s.totp_secret, 0),
        None,
    )
    .await
    .expect("login")
    .actor
}

async fn client_actor(reg: &Registry, id: &str, org: &str) -> Actor {
    let secret = reg
        .add_oauth_client(&console_admin(), id, org)
        .expect("client");
    let t = reg.issue_token(id, &secret, None).await.expect("token");
    reg.token_actor(&t.access_token, None).expect("actor")
}

fn seen_in_record(rec: &immunis_registry::PatientRecord) -> Sees {
    Sees::Doses(
        rec.doses
            .iter()
            .map(|d| match d.primary.facility_code.as_str() {
                "FA" => "FA",
                "FB" => "FB",
                other => panic!("unexpected facility {other}"),
            })
            .collect(),
    )
}

fn seen_in_rsp(rsp: &str) -> Sees {
    let rxa: Vec<&str> = rsp
        .split('\r')
        .filter(|s| s.starts_with("RXA|") && !s.contains("|998^"))
        .collect();
    if rxa.is_empty() && !rsp.split('\r').any(|s| s.starts_with("PID|")) {
        return Sees::Nothing;
    }
    let mut set = BTreeSet::new();
    for r in rxa {
        if r.contains("^^^FA|") {
            set.insert("FA");
        } else if r.contains("^^^FB|") {
            set.insert("FB");
        } else {
            panic!("RXA from an unknown facility: {r}");
        }
    }
    Sees::Doses(set)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_interface_consent_state_and_dose_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = immunis_registry::open_store(dir.path(), None).expect("store");
    let reg = Registry::new(store).expect("registry");
    let admin = console_admin();
    use OrganizationKind as K;
    for (name, kind) in [
        ("Provider A", K::Provider),
        ("Provider B", K::Provider),
        ("Provider C", K::Provider),
        ("Springfield Elementary", K::School),
        ("Shelbyville Elementary", K::School),
        ("Springfield BOH", K::BoardOfHealth),
        ("Shelbyville BOH", K::BoardOfHealth),
        ("WIC Springfield", K::HealthDepartmentProgram),
        ("WIC Shelbyville", K::HealthDepartmentProgram),
        ("Approved Study 7", K::Study),
    ] {
        reg.add_organization(&admin, name, kind).expect("org");
    }
    for (org, code) in [
        ("Provider A", "FA"),
        ("Provider B", "FB"),
        ("Provider C", "FC"),
    ] {
        reg.register_facility(&admin, org, K::Provider, code, code)
            .expect("facility");
    }
    let fa = reg.facility_actor("FA", None).expect("fa");
    let fb = reg.facility_actor("FB", None).expect("fb");
    let inbound = Inbound {
        transport: "test",
        remote_addr: None,
    };
    for (actor, fac, ctrl, filler, cvx, date) in [
        (&fa, "FA", "A1", "PA1", "08", "20230214"),
        (&fb, "FB", "B1", "PB1", "20", "20230414"),
    ] {
        let r = process_message(
            &reg,
            &Submitter::Authenticated(actor.clone()),
            vxu(fac, ctrl, filler, cvx, date).as_bytes(),
            &inbound,
        )
        .await;
        assert!(String::from_utf8_lossy(&r).contains("MSA|AA"));
    }
    let pid = PatientId(1);
    reg.add_to_roster(&admin, "Springfield Elementary", pid)
        .expect("roster");
    reg.add_to_roster(&admin, "WIC Springfield", pid)
        .expect("enrolled");
    reg.add_jurisdiction(&admin, "Springfield BOH", "zip", "01101")
        .expect("zip");
    reg.add_jurisdiction(&admin, "Shelbyville BOH", "town", "Shelbyville")
        .expect("town");

    let all = || doses(&["FA", "FB"]);
    let nothing = || Sees::Nothing;
    let mut cases = vec![
        Case {
            name: "facility system A (own doses: FA)",
            actor: fa.clone(),
            expect: [all(), doses(&["FA"]), all()],
            hl7: true,
            school_entry_only: false,
        },
        Case {
            name: "facility system B (own doses: FB)",
            actor: fb.clone(),
            expect: [all(), doses(&["FB"]), all()],
            hl7: true,
            school_entry_only: false,
        },
        Case {
            name: "facility system C (gave nothing)",
            actor: reg.facility_actor("FC", None).expect("fc"),
            expect: [all(), nothing(), all()],
            hl7: true,
            school_entry_only: false,
        },
        Case {
            name: "OAuth client of provider A",
            actor: client_actor(&reg, "ehr-a", "Provider A").await,
            expect: [all(), doses(&["FA"]), all()],
            hl7: true,
            school_entry_only: false,
        },
        Case {
            name: "OAuth client of provider C",
            actor: client_actor(&reg, "ehr-c", "Provider C").await,
            expect: [all(), nothing(), all()],
            hl7: true,
            school_entry_only: false,
        },
        Case {
            name: "provider user of B",
            actor: user_actor(&reg, "nurse-b", Some("Provider B"), None).await,
            expect: [all(), doses(&["FB"]), all()],
            hl7: false,
            school_entry_only: false,
        },
        Case {
            name: "school with the student on its roster",
            actor: user_actor(&reg, "nurse-school", Some("Springfield Elementary"), None).await,
            expect: [all(), nothing(), all()],
            hl7: false,
            school_entry_only: true,
        },
        Case {
            name: "school without the student",
            actor: client_actor(&reg, "other-school", "Shelbyville Elementary").await,
            expect: [nothing(), nothing(), nothing()],
            hl7: false,
            school_entry_only: true,
        },
        Case {
            name: "board of health of the residence",
            actor: user_actor(&reg, "boh-springfield", Some("Springfield BOH"), None).await,
            expect: [all(), nothing(), all()],
            hl7: false,
            school_entry_only: false,
        },
        Case {
            name: "board of health elsewhere",
            actor: client_actor(&reg, "boh-shelbyville", "Shelbyville BOH").await,
            expect: [nothing(), nothing(), nothing()],
            hl7: false,
            school_entry_only: false,
        },
        Case {
            name: "health-department program with the client enrolled",
            actor: user_actor(&reg, "wic-worker", Some("WIC Springfield"), None).await,
            expect: [all(), all(), all()],
            hl7: false,
            school_entry_only: false,
        },
        Case {
            name: "health-department program without the client",
            actor: client_actor(&reg, "wic-shelbyville", "WIC Shelbyville").await,
            expect: [nothing(), nothing(), nothing()],
            hl7: false,
            school_entry_only: false,
        },
        Case {
            name: "approved study",
            actor: user_actor(&reg, "researcher", Some("Approved Study 7"), None).await,
            expect: [nothing(), nothing(), nothing()],
            hl7: false,
            school_entry_only: false,
        },
        Case {
            name: "the person",
            actor: user_actor(&reg, "sofia-parent", None, Some(1)).await,
            expect: [all(), all(), all()],
            hl7: false,
            school_entry_only: false,
        },
        Case {
            name: "registry administrator",
            actor: admin.clone(),
            expect: [all(), all(), all()],
            hl7: false,
            school_entry_only: false,
        },
    ];
    // Another person's account: register a second patient from FC.
    let fc = reg.facility_actor("FC", None).expect("fc");
    let other = vxu("FC", "C9", "PC9", "08", "20230301")
        .replace("M1^^^MAIIS", "M9^^^MAIIS")
        .replace("Rivera^Sofia", "Other^Olga");
    let r = process_message(
        &reg,
        &Submitter::Authenticated(fc),
        other.as_bytes(),
        &inbound,
    )
    .await;
    assert!(String::from_utf8_lossy(&r).contains("MSA|AA"));
    cases.push(Case {
        name: "another person",
        actor: user_actor(&reg, "olga", None, Some(2)).await,
        expect: [nothing(), nothing(), nothing()],
        hl7: false,
        school_entry_only: false,
    });

    let mut checked = 0;
    for (i, consent) in [Consent::None, Consent::Active, Consent::Withdrawn]
        .into_iter()
        .enumerate()
    {
        match consent {
            Consent::None => {}
            Consent::Active => {
                reg.record_consent(&admin, pid, ConsentKind::ObjectionFiled, None, None)
                    .expect("file");
            }
            Consent::Withdrawn => {
                reg.record_consent(&admin, pid, ConsentKind::ObjectionWithdrawn, None, None)
                    .expect("withdraw");
            }
        }
        for case in &cases {
            let expected = &case.expect[i];
            let purpose = case.actor.role.default_purpose();
            let ctx = format!("{} / consent {consent:?}", case.name);

            // 1. Registry read of the record.
            let got = match reg.patient_record(&case.actor, purpose, pid).await {
                Ok(rec) => {
                    if case.school_entry_only {
                        assert!(rec.patient.addresses.is_empty(), "{ctx}: address leaked");
                        assert!(
                            rec.observations.iter().all(|o| o.observation.kind
                                == immunis_model::ObservationKind::EvidenceOfImmunity),
                            "{ctx}: observations other than evidence of immunity leaked"
                        );
                    }
                    seen_in_record(&rec)
                }
                Err(RegistryError::NotFound(_)) => Sees::Nothing,
                Err(e) => panic!("{ctx}: {e}"),
            };
            assert_eq!(&got, expected, "{ctx}: record read");
            checked += 1;

            // 2. Registry search by demographics.
            let q = PatientQuery {
                family: Some("Rivera".into()),
                given: Some("Sofia".into()),
                birth_date: chrono::NaiveDate::from_ymd_opt(2023, 2, 14),
                ..Default::default()
            };
            let got = match reg.find_patients(&case.actor, purpose, &q, 10).await {
                Ok(QueryOutcome::Found(rec)) => seen_in_record(&rec),
                Ok(QueryOutcome::NotFound) | Err(RegistryError::Denied(_)) => Sees::Nothing,
                Ok(other) => panic!("{ctx}: unexpected search outcome {other:?}"),
                Err(e) => panic!("{ctx}: {e}"),
            };
            // A person reads their own record by id; searching is not theirs.
            let expected_search = if case.actor.role == immunis_registry::Role::Person {
                &Sees::Nothing
            } else {
                expected
            };
            assert_eq!(&got, expected_search, "{ctx}: search");
            checked += 1;

            // 3. HL7 QBP Z34 and Z44 (systems of provider organizations).
            if case.hl7 {
                let facility = case.actor.facility_code.as_deref().unwrap_or("FA");
                for profile in ["Z34", "Z44"] {
                    let rsp = process_message(
                        &reg,
                        &Submitter::Authenticated(case.actor.clone()),
                        qbp(profile, facility).as_bytes(),
                        &inbound,
                    )
                    .await;
                    let rsp = String::from_utf8_lossy(&rsp).into_owned();
                    assert_eq!(&seen_in_rsp(&rsp), expected, "{ctx}: QBP {profile}\n{rsp}");
                    if consent == Consent::Active && *expected != Sees::Nothing {
                        assert!(rsp.contains("objected to data sharing"), "{ctx}: {rsp}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "matrix too small: {checked}");

    // De-identified extracts: studies only; no names, ids or full dates.
    for case in &cases {
        let got = reg.deidentified_extract(&case.actor);
        let study = case.actor.role == immunis_registry::Role::Study;
        let admin_role = case.actor.role == immunis_registry::Role::RegistryAdmin;
        assert_eq!(got.is_ok(), study || admin_role, "{}: extract", case.name);
        if let Ok(rows) = got {
            assert_eq!(rows.len(), 2, "both people (no objection active now)");
            let text = format!("{rows:?}");
            for leak in ["Rivera", "Sofia", "M1", "2023-02-14", "FA", "Springfield"] {
                assert!(!text.contains(leak), "extract leaks {leak}: {text}");
            }
            assert!(rows
                .iter()
                .any(|r| r.doses.contains(&("08".into(), "2023-02".into()))));
        }
    }
}
