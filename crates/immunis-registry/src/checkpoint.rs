//! The access checkpoint: where a person's record is read as a given
//! caller may see it. It computes the policy inputs (the whole merged
//! cluster's consent, roster, jurisdiction, own record), asks
//! `immunis_access::decide`, applies `immunis_access::redact`, and returns
//! the result as [`Visible<T>`] — a value only this module can make, so
//! anything holding one went through the decision. Denials are audited here
//! too ([`Registry::denied`]), and a deny path never drops its audit.
//!
//! The application-core work (issue 15) moves the remaining policy calls
//! and audit appends of the other modules behind this seam; the layering
//! test's `POLICY_CALLERS` list records which still call the policy.

use std::collections::{BTreeSet, HashMap};
use std::ops::Deref;

use immunis_access::{
    decide, redact, Action, Actor, ItemFacts, PatientContext, Purpose, RecordView, Redacted, Role,
};
use immunis_model::{Dated, OrganizationId, Patient, PatientId};
use immunis_store::{AuditEntry, StoreError, StoredEvent, StoredObservation, Tx};

use crate::consent::{derive_state, ConsentState};
use crate::consolidate::{consolidate, refusals};
use crate::query::PatientRecord;
use crate::{Registry, RegistryError};

/// Something the access checkpoint let a caller see (the decision made and
/// applied). Only this module constructs one.
#[derive(Debug, Clone)]
pub struct Visible<T>(T);

impl<T> Visible<T> {
    /// The value, for a caller that has to own it.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Visible<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl Registry {
    /// A denial, audited: the attempt is part of the accounting. The caller
    /// gets the denial, or — when the audit entry itself cannot be written —
    /// that failure: a deny path never drops its audit silently.
    pub(crate) async fn denied(&self, audit: AuditEntry, why: &'static str) -> RegistryError {
        match self.append_audit(audit).await {
            Ok(()) => RegistryError::Denied(why),
            Err(e) => e,
        }
    }

    /// [`Registry::denied`] for callers outside the async runtime.
    pub(crate) fn denied_blocking(&self, audit: AuditEntry, why: &'static str) -> RegistryError {
        match self.append_audit_blocking(audit) {
            Ok(()) => RegistryError::Denied(why),
            Err(e) => e,
        }
    }
}

/// The policy inputs for one person and one actor: the consent state from
/// the history, and the person's relation to the actor's organization
/// (roster, jurisdiction) or to the actor (own record).
pub(crate) fn patient_context(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: PatientId,
    patient: &Patient,
    objection_active: bool,
) -> Result<PatientContext, StoreError> {
    let mut ctx = PatientContext {
        objection_active,
        ..Default::default()
    };
    match (actor.role, actor.organization) {
        (Role::School | Role::HealthDepartment, Some(org)) => {
            ctx.on_roster = tx.on_roster(org, id)?;
        }
        (Role::BoardOfHealth, Some(org)) => {
            let area = tx.jurisdiction(org)?;
            ctx.in_jurisdiction = patient.addresses.iter().any(|a| {
                area.iter().any(|(kind, value)| match kind.as_str() {
                    "zip" => {
                        let z = a.zip.trim();
                        !z.is_empty() && z.get(..5).unwrap_or(z) == value
                    }
                    "town" => {
                        let c = a.city.trim();
                        !c.is_empty() && c.eq_ignore_ascii_case(value)
                    }
                    _ => false,
                })
            });
        }
        (Role::Person, _) => {
            ctx.is_self = match actor.subject.strip_prefix("consumer:") {
                // A consumer session (one-time code, "My immunization record"):
                // live, and bound to this record or one merged into it.
                Some(sid) => match tx.find_consumer_session(None, Some(sid))? {
                    Some(s) if s.expires_at > immunis_store::now_millis() => {
                        tx.root_of(s.patient_id)? == id
                    }
                    _ => false,
                },
                None => tx
                    .find_user(&actor.subject)?
                    .is_some_and(|u| !u.disabled && u.person_patient_id == Some(id)),
            };
        }
        _ => {}
    }
    Ok(ctx)
}

fn facility_orgs(
    tx: &mut Tx<'_>,
    codes: BTreeSet<&str>,
) -> Result<HashMap<String, OrganizationId>, StoreError> {
    let mut out = HashMap::new();
    for c in codes {
        if let Some(f) = tx.find_facility(c)? {
            out.insert(c.to_string(), f.organization_id);
        }
    }
    Ok(out)
}

/// The records of a merged cluster (`root` first) and the person's consent
/// state. The consent history, not the last PD1 received, is the truth; in a
/// merged cluster an objection filed on any of its records counts (the
/// survivor's own history gives the date). Every reader of a person — a
/// record read, a population scan, the research extract — takes it from
/// here.
pub(crate) fn cluster_and_consent(
    tx: &mut Tx<'_>,
    root: PatientId,
) -> Result<(Vec<PatientId>, ConsentState), StoreError> {
    let cluster = tx.cluster_of(root)?;
    let mut consent = derive_state(&tx.consent_events(root)?);
    for member in cluster.iter().filter(|m| **m != root) {
        let c = derive_state(&tx.consent_events(*member)?);
        consent.objection_active |= c.objection_active;
        consent.events += c.events;
    }
    Ok((cluster, consent))
}

/// Loads a record and applies the access decision; `None` when the actor may
/// not see this person at all.
pub(crate) fn load_visible(
    tx: &mut Tx<'_>,
    reg: &Registry,
    actor: &Actor,
    purpose: Purpose,
    id: PatientId,
) -> Result<Option<Visible<PatientRecord>>, StoreError> {
    if tx.load_patient(id)?.is_none() {
        return Ok(None);
    }
    // A record merged into another reads as its survivor; the survivor's
    // record includes every event of the records merged into it.
    let id = tx.root_of(id)?;
    let Some(stored) = tx.load_patient(id)? else {
        return Ok(None);
    };
    let (cluster, consent) = cluster_and_consent(tx, id)?;
    let ctx = patient_context(tx, actor, id, &stored.patient, consent.objection_active)?;
    let decision = decide(actor, Action::ReadRecord, purpose, Some(ctx));
    if decision.is_denied() {
        return Ok(None);
    }
    let mut events = Vec::new();
    let mut observations = Vec::new();
    let mut patient = stored.patient;
    for member in &cluster {
        events.extend(tx.load_events(*member)?);
        observations.extend(tx.load_observations(*member)?);
        if *member != id {
            if let Some(m) = tx.load_patient(*member)? {
                for ident in m.patient.identifiers {
                    if !patient.identifiers.contains(&ident) {
                        patient.identifiers.push(ident);
                    }
                }
            }
        }
    }
    events.sort_by_key(|e| e.id.0);
    if consent.events > 0 {
        patient.protection = Some(Dated {
            value: consent.objection_active,
            effective: consent.since,
        });
    }
    // What the decision hides is decided by the policy crate: the record's
    // rows go there with the facts it needs (who recorded each, what kind).
    let mut codes: BTreeSet<&str> = events.iter().map(|e| e.facility_code.as_str()).collect();
    codes.extend(observations.iter().map(|o| o.facility_code.as_str()));
    let orgs = facility_orgs(tx, codes)?;
    let owner = |code: &str| orgs.get(code).copied();
    let view = RecordView {
        patient,
        events,
        observations,
    };
    let Some(Redacted { view, restricted }) = redact(
        decision,
        actor,
        view,
        |e: &StoredEvent| ItemFacts {
            owner: owner(&e.facility_code),
            refusal: e.event.completion == immunis_model::CompletionStatus::Refused,
            evidence_of_immunity: false,
        },
        |o: &StoredObservation| ItemFacts {
            owner: owner(&o.facility_code),
            refusal: false,
            evidence_of_immunity: o.observation.kind
                == immunis_model::ObservationKind::EvidenceOfImmunity,
        },
    ) else {
        return Ok(None);
    };
    let RecordView {
        patient,
        events,
        observations,
    } = view;
    let doses = consolidate(reg.codes(), &events);
    let refused = refusals(&events).into_iter().cloned().collect();
    Ok(Some(Visible(PatientRecord {
        id,
        patient,
        doses,
        refusals: refused,
        observations,
        restricted,
        objection_active: consent.objection_active,
    })))
}
