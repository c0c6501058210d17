//! Helpers several of this crate's test files share (each file uses some).
#![allow(dead_code)]

use chrono::NaiveDate;
use immunis_model::PatientId;
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::{console_admin, PatientQuery, Purpose, QueryOutcome, Registry};

/// Submits an HL7 message as the registered facility `facility` and
/// asserts it was accepted.
pub async fn submit_as(reg: &Registry, facility: &str, msg: &str) {
    let actor = reg.facility_actor(facility, None).expect("facility actor");
    let inbound = Inbound {
        transport: "test",
        remote_addr: None,
    };
    let ack = process_message(
        reg,
        &Submitter::Authenticated(actor),
        msg.as_bytes(),
        &inbound,
    )
    .await;
    let ack = String::from_utf8_lossy(&ack);
    assert!(ack.contains("MSA|AA"), "{ack}");
}

/// The one person with this name and birth date (as the console sees them).
pub async fn find_one(reg: &Registry, family: &str, given: &str, dob: NaiveDate) -> PatientId {
    let q = PatientQuery {
        family: Some(family.into()),
        given: Some(given.into()),
        birth_date: Some(dob),
        ..Default::default()
    };
    match reg
        .find_patients(&console_admin(), Purpose::Administration, &q, 5)
        .await
        .expect("find")
    {
        QueryOutcome::Found(r) => r.id,
        other => panic!("expected one person, got {other:?}"),
    }
}
