//! The objection to data sharing (105 CMR 222) as first-class data: a
//! history of consent events per person (filed, withdrawn — any number of
//! times), from which the current state derives. Events come from a signed
//! form recorded by the registry (or a provider on the person's behalf) or
//! from HL7 PD1-12 (Y files an objection dated PD1-13, N withdraws it) sent by
//! an authorized submitter. Nothing is ever deleted: the history is the record.

use chrono::NaiveDate;
use immunis_access::{decide, Action, Actor, Decision, Purpose};
use immunis_model::{Dated, PatientId};
use immunis_store::{ConsentEvent, ConsentKind, NewConsentEvent, StoreError, Tx};

use crate::{audit_entry, Registry, RegistryError};

/// The consent state of one person, derived from the history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsentState {
    pub objection_active: bool,
    /// The effective date of the latest event, if any.
    pub since: Option<NaiveDate>,
    pub events: usize,
}

/// Derives the current state from a history (oldest first).
pub fn derive_state(history: &[ConsentEvent]) -> ConsentState {
    match history.last() {
        None => ConsentState::default(),
        Some(last) => ConsentState {
            objection_active: last.kind == ConsentKind::ObjectionFiled,
            since: last.effective_date,
            events: history.len(),
        },
    }
}

/// Applies a submitted PD1-12/13 inside the ingest transaction: records a
/// consent event only when it changes the current state (a re-sent Y does not
/// file twice; an N with no objection on file withdraws nothing). The caller
/// has already decided the actor may submit for this person.
pub(crate) fn apply_submitted_protection(
    tx: &mut Tx<'_>,
    actor: &Actor,
    patient: PatientId,
    protection: Option<&Dated<bool>>,
    journal_id: Option<i64>,
) -> Result<Option<ConsentKind>, StoreError> {
    let Some(p) = protection else {
        return Ok(None);
    };
    if decide(actor, Action::RecordConsent, Purpose::Treatment, None).is_denied() {
        return Ok(None);
    }
    let current = tx.objection_active(patient)?;
    if p.value == current {
        return Ok(None);
    }
    let kind = if p.value {
        ConsentKind::ObjectionFiled
    } else {
        ConsentKind::ObjectionWithdrawn
    };
    let org = actor.organization.map(|o| o.0.to_string());
    tx.insert_consent_event(&NewConsentEvent {
        patient_id: patient,
        kind,
        effective_date: p.effective,
        form_received: None,
        recorded_by: &actor.subject,
        organization: org.as_deref(),
        source: "hl7",
        journal_id,
    })?;
    Ok(Some(kind))
}

impl Registry {
    /// Records a signed objection form (or its withdrawal) for a person: who
    /// recorded it, the date on the form and when it was received. Audited.
    pub fn record_consent(
        &self,
        actor: &Actor,
        patient: PatientId,
        kind: ConsentKind,
        effective_date: Option<NaiveDate>,
        form_received: Option<NaiveDate>,
    ) -> Result<i64, RegistryError> {
        if let Decision::Deny(why) =
            decide(actor, Action::RecordConsent, Purpose::Administration, None)
        {
            return Err(RegistryError::Denied(why));
        }
        let who = actor.subject.clone();
        let org = actor.organization.map(|o| o.0.to_string());
        let mut audit = audit_entry(actor, "record_consent", Purpose::Administration, "allow");
        audit.patient_ids = vec![patient];
        audit.detail = Some(kind.as_str().to_string());
        self.writer.run_blocking(move |tx| {
            if tx.load_patient(patient)?.is_none() {
                return Err(StoreError::NotFound("patient"));
            }
            let id = tx.insert_consent_event(&NewConsentEvent {
                patient_id: patient,
                kind,
                effective_date,
                form_received,
                recorded_by: &who,
                organization: org.as_deref(),
                source: "form",
                journal_id: None,
            })?;
            tx.append_audit(&audit)?;
            Ok(id)
        })
    }

    /// A person's full consent history (administrators), audited.
    pub fn consent_history(
        &self,
        actor: &Actor,
        patient: PatientId,
    ) -> Result<Vec<ConsentEvent>, RegistryError> {
        self.require_admin(actor)?;
        let mut out = Vec::new();
        self.read(&mut |tx| {
            out = tx.consent_events(patient)?;
            Ok(())
        })?;
        let mut audit = audit_entry(actor, "read_consent", Purpose::Administration, "allow");
        audit.patient_ids = vec![patient];
        self.append_audit_blocking(audit)?;
        Ok(out)
    }
}
