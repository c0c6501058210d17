//! Finding people and reading their record (QBP Z34/Z44, search screens),
//! with the access decision applied and every read audited.

use chrono::NaiveDate;
use immunis_access::{decide, Action, Actor, Decision, Purpose};
use immunis_model::{Patient, PatientId, PatientIdentifier, Sex};
use immunis_store::{name_key, AuditEntry, StoreError, StoredEvent, StoredObservation, Tx};

use crate::checkpoint::{load_visible, Visible};
use crate::consolidate::ConsolidatedDose;
use crate::{audit_entry, Registry, RegistryError};

/// Demographics to look a person up by (QPD-3..11 or a search form).
#[derive(Debug, Clone, Default)]
pub struct PatientQuery {
    pub identifiers: Vec<PatientIdentifier>,
    pub family: Option<String>,
    pub given: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    pub mother_maiden_family: Option<String>,
}

/// One person's record as the asking actor may see it.
#[derive(Debug, Clone)]
pub struct PatientRecord {
    pub id: PatientId,
    pub patient: Patient,
    pub doses: Vec<ConsolidatedDose>,
    pub refusals: Vec<StoredEvent>,
    pub observations: Vec<StoredObservation>,
    /// True when an objection to data sharing limited what is shown.
    pub restricted: bool,
    /// The current consent state (from the consent history).
    pub objection_active: bool,
}

#[derive(Debug, Clone)]
pub enum QueryOutcome {
    /// Exactly one person matched with confidence.
    Found(Box<PatientRecord>),
    /// Several possible people (never more than the requested limit).
    Candidates(Vec<PatientRecord>),
    NotFound,
    /// More candidates than the requested limit.
    TooMany,
}

pub(crate) fn candidates(
    tx: &mut Tx<'_>,
    q: &PatientQuery,
) -> Result<(Vec<PatientId>, Vec<PatientId>), StoreError> {
    // (confident, possible)
    let mut confident = Vec::new();
    let mut possible = Vec::new();
    for id in q.identifiers.iter().filter(|i| !i.value.is_empty()) {
        for pid in tx.find_by_identifier(id)? {
            if let Some(s) = tx.load_patient(pid)? {
                let dob_ok = q.birth_date.is_none_or(|d| d == s.patient.birth_date.0);
                let fam_ok = q
                    .family
                    .as_deref()
                    .is_none_or(|f| name_key(f) == name_key(&s.patient.legal_name().family));
                if dob_ok && fam_ok {
                    confident.push(pid);
                } else if dob_ok || fam_ok {
                    possible.push(pid);
                }
            }
        }
    }
    if let (Some(family), Some(dob)) = (q.family.as_deref(), q.birth_date) {
        let fk = name_key(family);
        let gk = q.given.as_deref().map(name_key).unwrap_or_default();
        for pid in tx.find_by_family_and_birth(&fk, dob)? {
            if let Some(s) = tx.load_patient(pid)? {
                let sgk = name_key(&s.patient.legal_name().given);
                let sex_ok = match q.sex {
                    Some(x) if x != Sex::Unknown && s.patient.sex != Sex::Unknown => {
                        x == s.patient.sex
                    }
                    _ => true,
                };
                if sgk == gk && sex_ok {
                    confident.push(pid);
                } else if sgk.chars().next() == gk.chars().next() || gk.is_empty() {
                    possible.push(pid);
                }
            }
        }
        if !gk.is_empty() {
            // Family name changed (marriage, hyphenation): same given name and birth date.
            for pid in tx.find_by_birth_and_given(dob, &gk)? {
                possible.push(pid);
            }
        }
    }
    confident.sort();
    confident.dedup();
    possible.sort();
    possible.dedup();
    possible.retain(|p| !confident.contains(p));
    Ok((confident, possible))
}

/// Maps records to their merge survivors (deduplicated, order kept).
fn roots(
    tx: &mut Tx<'_>,
    (confident, possible): (Vec<PatientId>, Vec<PatientId>),
) -> Result<(Vec<PatientId>, Vec<PatientId>), StoreError> {
    let mut c = Vec::new();
    for p in confident {
        let r = tx.root_of(p)?;
        if !c.contains(&r) {
            c.push(r);
        }
    }
    let mut v = Vec::new();
    for p in possible {
        let r = tx.root_of(p)?;
        if !c.contains(&r) && !v.contains(&r) {
            v.push(r);
        }
    }
    Ok((c, v))
}

impl Registry {
    /// Finds a person for a query; at most `limit` candidates are returned.
    /// The search is audited before this returns.
    pub async fn find_patients(
        &self,
        actor: &Actor,
        purpose: Purpose,
        q: &PatientQuery,
        limit: usize,
    ) -> Result<QueryOutcome, RegistryError> {
        let (outcome, audit) = self.search(actor, purpose, q, limit).await?;
        self.append_audit(audit).await?;
        Ok(outcome)
    }

    /// The search with its audit entry not yet written: the caller must commit
    /// the entry before it answers (the HL7 path commits it together with the
    /// journaled query and response, saving one commit per query). A denial
    /// is audited here.
    pub(crate) async fn search(
        &self,
        actor: &Actor,
        purpose: Purpose,
        q: &PatientQuery,
        limit: usize,
    ) -> Result<(QueryOutcome, AuditEntry), RegistryError> {
        if let Decision::Deny(why) = decide(actor, Action::SearchPatients, purpose, None) {
            let audit = audit_entry(actor, "search", purpose, "deny");
            return Err(self.denied(audit, why).await);
        }
        let mut outcome = QueryOutcome::NotFound;
        let mut seen = Vec::new();
        let limit = limit.max(1);
        self.read(&mut |tx| {
            // The matcher's Match / Possible Match, united with the exact
            // search (identifier confirmed by birth date or surname; exact
            // names and birth date): a lookup by exact demographics finds
            // the person even where the matcher would only queue the pair.
            let exact = candidates(tx, q)?;
            let (mut confident, mut possible) = roots(tx, exact)?;
            if let Some((c, p)) = self.matcher.search(tx, q)? {
                for r in c {
                    if !confident.contains(&r) {
                        confident.push(r);
                    }
                }
                possible.extend(p);
            }
            possible.sort();
            possible.dedup();
            possible.retain(|p| !confident.contains(p));
            let mut visible_conf = Vec::new();
            for pid in confident {
                if let Some(r) = load_visible(tx, self, actor, purpose, pid)? {
                    visible_conf.push(r.into_inner());
                }
            }
            outcome = if visible_conf.len() == 1 && possible.is_empty() {
                QueryOutcome::Found(Box::new(visible_conf.remove(0)))
            } else {
                let mut all = visible_conf;
                for pid in possible {
                    if let Some(r) = load_visible(tx, self, actor, purpose, pid)? {
                        all.push(r.into_inner());
                    }
                }
                match all.len() {
                    0 => QueryOutcome::NotFound,
                    n if n > limit => QueryOutcome::TooMany,
                    _ => QueryOutcome::Candidates(all),
                }
            };
            seen = match &outcome {
                QueryOutcome::Found(r) => vec![r.id],
                QueryOutcome::Candidates(v) => v.iter().map(|r| r.id).collect(),
                _ => Vec::new(),
            };
            Ok(())
        })?;
        let mut audit = audit_entry(actor, "search", purpose, "allow");
        audit.patient_ids = seen;
        audit.detail = Some(
            match &outcome {
                QueryOutcome::Found(_) => "found",
                QueryOutcome::Candidates(_) => "candidates",
                QueryOutcome::NotFound => "not found",
                QueryOutcome::TooMany => "too many",
            }
            .to_string(),
        );
        Ok((outcome, audit))
    }

    /// Reads one person's record as the actor may see it (audited).
    pub async fn patient_record(
        &self,
        actor: &Actor,
        purpose: Purpose,
        id: PatientId,
    ) -> Result<PatientRecord, RegistryError> {
        self.patient_record_with(actor, purpose, id, |r| r).await
    }

    /// Reads one person's record as the actor may see it and turns it into
    /// the caller's answer with `render` while the audit entry is being made
    /// durable; the answer is released only once it is. A record is many
    /// small allocations: rendered and freed on the thread that read it, it
    /// does not cross the wait (bench_audit's record reads; see
    /// BENCHMARKS-security.md).
    pub async fn patient_record_with<R>(
        &self,
        actor: &Actor,
        purpose: Purpose,
        id: PatientId,
        render: impl FnOnce(PatientRecord) -> R,
    ) -> Result<R, RegistryError> {
        let (rec, pending) = self.begin_record_read(actor, purpose, id)?;
        let out = rec.map(render);
        self.finish_audit(pending).await?;
        out.ok_or_else(|| RegistryError::NotFound("patient".into()))
    }

    /// Reads the record (None: not there or not visible) and starts its
    /// audit entry; the caller finishes the audit before answering.
    pub(crate) fn begin_record_read(
        &self,
        actor: &Actor,
        purpose: Purpose,
        id: PatientId,
    ) -> Result<(Option<PatientRecord>, crate::PendingAudit), RegistryError> {
        let mut rec = None;
        self.read(&mut |tx| {
            rec = load_visible(tx, self, actor, purpose, id)?.map(Visible::into_inner);
            Ok(())
        })?;
        let mut audit = audit_entry(
            actor,
            "read_record",
            purpose,
            if rec.is_some() { "allow" } else { "deny" },
        );
        audit.patient_ids = vec![id];
        Ok((rec, self.begin_audit(audit)))
    }
}
