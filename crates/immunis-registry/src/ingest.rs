//! Applying one person's submission inside a write transaction: identify the
//! person, update demographics (new version, history kept), apply each dose by
//! its RXA-21 action with (sending facility, ORC-3) as the dose identity, and
//! record patient-level observations. Re-sending the same data changes nothing.

use immunis_matching::NormalizedRecord;
use immunis_model::{DoseAction, Patient, PatientId, PatientSubmission, VaccinationEvent};
use immunis_store::{EventStatus, NewEvent, NewReview, StoreError, Tx};

use crate::matching::{MatchDecision, PatientMatcher};

/// What happened to one reported dose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoseOutcome {
    Added,
    Updated,
    Deleted,
    /// Already recorded from this source: nothing applied twice.
    Unchanged,
    /// Update/delete for a dose this source never reported.
    NotFound,
}

#[derive(Debug, Clone, Default)]
pub struct IngestOutcome {
    pub patient_id: Option<PatientId>,
    pub patient_created: bool,
    /// The matcher found possible matches: the record was kept apart and the
    /// pairs queued for review.
    pub needs_review: bool,
    /// One entry per submitted dose, in order.
    pub doses: Vec<DoseOutcome>,
    pub observations_added: usize,
}

impl IngestOutcome {
    pub fn count(&self, o: DoseOutcome) -> usize {
        self.doses.iter().filter(|d| **d == o).count()
    }
}

/// Folds incoming demographics into the stored ones: identifiers accumulate,
/// a changed legal name keeps the old one as an alias, newer contact details
/// replace older ones (older versions stay in history), and statuses given in
/// the message win.
pub fn merge_demographics(stored: &Patient, incoming: &Patient) -> Patient {
    let mut p = stored.clone();
    for id in &incoming.identifiers {
        if !p.identifiers.contains(id) {
            p.identifiers.push(id.clone());
        }
    }
    let new_legal = incoming.legal_name().clone();
    if new_legal.family != p.legal_name().family || new_legal.given != p.legal_name().given {
        let mut old = p.legal_name().clone();
        old.name_type = immunis_model::NameType::Alias;
        p.names.retain(|n| n != &old && n != &new_legal);
        p.names.insert(0, new_legal);
        if !old.family.is_empty() {
            p.names.push(old);
        }
    } else if let Some(first) = p.names.first_mut() {
        if new_legal.middle.is_some() {
            first.middle = new_legal.middle.clone();
        }
        if new_legal.suffix.is_some() {
            first.suffix = new_legal.suffix.clone();
        }
    }
    for alias in incoming.names.iter().skip(1) {
        if !p.names.contains(alias) {
            p.names.push(alias.clone());
        }
    }
    macro_rules! take_if_some {
        ($($f:ident),*) => {$( if incoming.$f.is_some() { p.$f = incoming.$f.clone(); } )*};
    }
    take_if_some!(
        mother_maiden_name,
        multiple_birth,
        birth_order,
        death_date,
        deceased,
        registry_status,
        publicity,
        protection
    );
    macro_rules! take_if_nonempty {
        ($($f:ident),*) => {$( if !incoming.$f.is_empty() { p.$f = incoming.$f.clone(); } )*};
    }
    take_if_nonempty!(race, ethnicity, addresses, phones, guardians);
    if p.sex == immunis_model::Sex::Unknown {
        p.sex = incoming.sex;
    }
    p
}

fn same_report(a: &VaccinationEvent, b: &VaccinationEvent) -> bool {
    a == b
}

/// Applies a submission; returns what happened. Runs inside the group commit.
pub fn apply_submission(
    tx: &mut Tx<'_>,
    matcher: &dyn PatientMatcher,
    sub: &PatientSubmission,
    journal_id: Option<i64>,
) -> Result<IngestOutcome, StoreError> {
    apply_prepared(tx, matcher, sub, &prepare(matcher, sub), journal_id)
}

/// The work on a submission that needs no transaction: the stored documents
/// of its doses (in order) and the matcher's normalized form of the person.
/// Pure, so the ingest does it before its job reaches the (single) writer
/// thread.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub docs: Vec<String>,
    pub match_record: Option<NormalizedRecord>,
}

pub fn prepare(matcher: &dyn PatientMatcher, sub: &PatientSubmission) -> Prepared {
    Prepared {
        docs: sub
            .doses
            .iter()
            .map(|d| immunis_store::event_to_doc(&d.event))
            .collect(),
        match_record: matcher.prepare(&sub.patient, &sub.doses),
    }
}

/// [`apply_submission`] with the transaction-free work done already
/// ([`prepare`], with the same matcher).
pub fn apply_prepared(
    tx: &mut Tx<'_>,
    matcher: &dyn PatientMatcher,
    sub: &PatientSubmission,
    prepared: &Prepared,
    journal_id: Option<i64>,
) -> Result<IngestOutcome, StoreError> {
    let facility = sub.source.facility_code.as_str();
    let mut out = IngestOutcome::default();
    let docs = &prepared.docs;
    let (decision, record) = matcher.identify_with_record(
        tx,
        &sub.patient,
        &sub.doses,
        prepared.match_record.as_ref(),
    )?;
    let pid = match decision {
        MatchDecision::Existing(pid) => {
            let stored = match record {
                Some(p) => p,
                None => {
                    tx.load_patient(pid)?
                        .ok_or(StoreError::NotFound("patient"))?
                        .patient
                }
            };
            let merged = merge_demographics(&stored, &sub.patient);
            if merged != stored {
                tx.update_patient(pid, &merged, journal_id)?;
                matcher.reindex(tx, pid, &stored, &merged)?;
            }
            pid
        }
        MatchDecision::New => {
            out.patient_created = true;
            let pid = tx.insert_patient(&sub.patient, journal_id)?;
            matcher.index(tx, pid, &sub.patient)?;
            pid
        }
        MatchDecision::Review(candidates) => {
            out.patient_created = true;
            out.needs_review = true;
            let pid = tx.insert_patient(&sub.patient, journal_id)?;
            matcher.index(tx, pid, &sub.patient)?;
            for c in candidates {
                tx.insert_review(&NewReview {
                    patient_a: c.patient_id,
                    patient_b: pid,
                    score_millibits: (c.score * 1000.0).round() as i64,
                    explanation: c.explanation,
                    origin: "ingest".into(),
                })?;
            }
            pid
        }
    };
    // The person's merge cluster: a re-send or update may have been recorded
    // on another record of the same (merged) person. A record created just
    // now is nobody's survivor and merged into nothing.
    let cluster = if out.patient_created {
        vec![pid]
    } else {
        tx.cluster_of_record(pid)?
    };
    out.patient_id = Some(pid);
    // Doses added by this message through the re-send check: it compares
    // with what was stored before the message (so two identical doses in one
    // message are both recorded, as when it read the history up front).
    let mut added_here: Vec<&VaccinationEvent> = Vec::new();
    for (i, dose) in sub.doses.iter().enumerate() {
        let ev = &dose.event;
        let encoded;
        let doc: &str = match docs.get(i) {
            Some(d) => d,
            None => {
                encoded = immunis_store::event_to_doc(ev);
                &encoded
            }
        };
        let by_source = match ev
            .filler_order_number
            .as_deref()
            .filter(|f| !f.is_empty() && *f != "9999")
        {
            Some(filler) => tx.find_event_doc_by_source(facility, filler)?,
            None => None,
        };
        let outcome = match dose.action {
            DoseAction::Add | DoseAction::Update => match by_source {
                Some((_, _, old_doc)) if old_doc == doc => DoseOutcome::Unchanged,
                Some((old_id, old_pid, _)) => {
                    tx.set_event_status(old_id, EventStatus::Superseded)?;
                    // The new version stays with the record that held the old
                    // one (so an unmerge keeps the dose's history together).
                    let owner = if cluster.contains(&old_pid) {
                        old_pid
                    } else {
                        pid
                    };
                    tx.add_event(&NewEvent {
                        patient_id: owner,
                        facility_code: facility,
                        event: ev,
                        supersedes: Some(old_id),
                        journal_id,
                        doc: Some(doc),
                    })?;
                    DoseOutcome::Updated
                }
                None => {
                    // Without a usable ORC-3, an identical active report from
                    // the same source is a re-send. Only that source's active
                    // events with the same date and CVX can be identical, so
                    // only those are read and decoded.
                    let mut stored = 0;
                    for member in &cluster {
                        stored += tx
                            .find_active_events_like(*member, facility, ev)?
                            .iter()
                            .filter(|e| same_report(&e.event, ev))
                            .count();
                    }
                    let from_this_message =
                        added_here.iter().filter(|a| same_report(a, ev)).count();
                    let resent = stored > from_this_message;
                    if resent {
                        DoseOutcome::Unchanged
                    } else {
                        tx.add_event(&NewEvent {
                            patient_id: pid,
                            facility_code: facility,
                            event: ev,
                            supersedes: None,
                            journal_id,
                            doc: Some(doc),
                        })?;
                        added_here.push(ev);
                        DoseOutcome::Added
                    }
                }
            },
            DoseAction::Delete => match by_source {
                Some((old_id, _, _)) => {
                    tx.set_event_status(old_id, EventStatus::Deleted)?;
                    DoseOutcome::Deleted
                }
                None => DoseOutcome::NotFound,
            },
        };
        out.doses.push(outcome);
    }

    if !sub.observations.is_empty() {
        let known = tx.load_observations(pid)?;
        for o in &sub.observations {
            if !known.iter().any(|k| &k.observation == o) {
                tx.insert_observation(pid, facility, o, journal_id)?;
                out.observations_added += 1;
            }
        }
    }
    Ok(out)
}
