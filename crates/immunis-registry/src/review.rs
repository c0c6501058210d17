//! The review queue and merge / unmerge: administrator-only services (access
//! decision `Action::Administer`), each action audited.
//!
//! A merge is non-destructive: the absorbed record keeps every row it owns
//! and only gets `merged_into = survivor`; reads of the survivor include the
//! absorbed record's events (de-duplicated at read time by `consolidate`),
//! reads of the absorbed id redirect to the survivor. Unmerge clears that one
//! pointer, so both records come back exactly as they were — doses that
//! arrived after the merge included, because ingest attaches each dose to the
//! record of the cluster that the submission's identifiers point to. A
//! person's decision is final for the automatic matcher: "different people"
//! (and every unmerge) is recorded in `link_decision`, which automatic
//! merging always checks.

use immunis_access::{decide, Action, Actor, Purpose};
use immunis_model::PatientId;
use immunis_store::{LinkDecision, ReviewStatus, StoreError, Tx};

use crate::{audit_entry, Registry, RegistryError};

/// A person's answer to a review item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Same person: merge the two records.
    Same,
    /// Different people: record a non-match the automatic matcher never overrides.
    Different,
}

/// Enough of a record to judge a pair (shown to administrators only).
#[derive(Debug, Clone)]
pub struct RecordSummary {
    pub id: PatientId,
    /// The survivor this record currently reads as.
    pub root: PatientId,
    pub name: String,
    pub birth_date: chrono::NaiveDate,
    pub sex: &'static str,
    pub identifiers: Vec<String>,
}

/// One pending possible match with the matcher's explanation.
#[derive(Debug, Clone)]
pub struct ReviewItem {
    pub id: i64,
    pub a: RecordSummary,
    pub b: RecordSummary,
    /// Score in bits.
    pub score: f64,
    /// Per-field lines: `field<TAB>level<TAB>detail<TAB>weight` (plus `rule` / `rules` lines).
    pub explanation: Vec<String>,
    pub origin: String,
}

/// What a merge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeOutcome {
    pub merge_id: i64,
    pub survivor: PatientId,
    pub absorbed: PatientId,
}

fn summary(tx: &mut Tx<'_>, id: PatientId) -> Result<RecordSummary, StoreError> {
    let s = tx
        .load_patient(id)?
        .ok_or(StoreError::NotFound("patient"))?;
    let root = tx.root_of(id)?;
    Ok(RecordSummary {
        id,
        root,
        name: s.patient.legal_name().display(),
        birth_date: s.patient.birth_date.0,
        sex: s.patient.sex.hl7(),
        identifiers: s
            .patient
            .identifiers
            .iter()
            .map(|i| format!("{}^{}^{}", i.value, i.assigning_authority, i.id_type))
            .collect(),
    })
}

/// Merges the clusters of `keep` and `absorb` inside a transaction: the root
/// of `absorb` gets `merged_into` = the root of `keep`. Automatic merges
/// (`human == false`) never cross a person's "different" decision; a human
/// merge replaces such decisions between the two clusters. Returns `None`
/// when nothing was done (already one person, or a decision forbids it).
pub(crate) fn merge_in_tx(
    tx: &mut Tx<'_>,
    keep: PatientId,
    absorb: PatientId,
    human: bool,
    actor: &str,
) -> Result<Option<MergeOutcome>, StoreError> {
    let survivor = tx.root_of(keep)?;
    let absorbed = tx.root_of(absorb)?;
    if survivor == absorbed {
        return Ok(None);
    }
    let ca = tx.cluster_of(survivor)?;
    let cb = tx.cluster_of(absorbed)?;
    if tx.decided_different(&ca, &cb)? {
        if !human {
            return Ok(None);
        }
        for a in &ca {
            for b in &cb {
                tx.clear_link_decision(*a, *b)?;
            }
        }
    }
    tx.set_merged_into(absorbed, Some(survivor))?;
    let merge_id = tx.insert_merge(
        survivor,
        absorbed,
        if human { "human" } else { "auto" },
        actor,
    )?;
    Ok(Some(MergeOutcome {
        merge_id,
        survivor,
        absorbed,
    }))
}

impl Registry {
    pub(crate) fn require_linkage_admin(
        &self,
        actor: &Actor,
        what: &'static str,
    ) -> Result<(), RegistryError> {
        if decide(actor, Action::Administer, Purpose::Administration, None).is_denied() {
            let audit = audit_entry(actor, what, Purpose::Administration, "deny");
            let _ = self
                .writer
                .run_blocking(move |tx| tx.append_audit(&audit).map(|_| ()));
            return Err(RegistryError::Denied(
                "only registry administrators link and unlink records",
            ));
        }
        Ok(())
    }

    /// Pending possible matches, oldest first (items whose records have
    /// meanwhile become one person are left out). Audited.
    pub fn review_list(
        &self,
        actor: &Actor,
        limit: usize,
    ) -> Result<Vec<ReviewItem>, RegistryError> {
        self.require_linkage_admin(actor, "review_list")?;
        let mut out = Vec::new();
        self.store.read(&mut |tx| {
            out.clear();
            let mut after = 0;
            while out.len() < limit {
                let page = tx.reviews(ReviewStatus::Pending, after, 200)?;
                if page.is_empty() {
                    break;
                }
                for r in page {
                    after = r.id;
                    let a = summary(tx, r.patient_a)?;
                    let b = summary(tx, r.patient_b)?;
                    if a.root == b.root {
                        continue;
                    }
                    out.push(ReviewItem {
                        id: r.id,
                        a,
                        b,
                        score: r.score_millibits as f64 / 1000.0,
                        explanation: r.explanation.lines().map(str::to_string).collect(),
                        origin: r.origin,
                    });
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(())
        })?;
        let mut audit = audit_entry(actor, "review_list", Purpose::Administration, "allow");
        audit.patient_ids = out.iter().flat_map(|i| [i.a.id, i.b.id]).collect();
        audit.detail = Some(format!("{} items", out.len()));
        self.writer
            .run_blocking(move |tx| tx.append_audit(&audit).map(|_| ()))?;
        Ok(out)
    }

    /// Resolves a review item: `Same` merges the two records (the older
    /// survives), `Different` records a non-match. Audited.
    pub fn review_resolve(
        &self,
        actor: &Actor,
        review_id: i64,
        resolution: Resolution,
    ) -> Result<Option<MergeOutcome>, RegistryError> {
        self.require_linkage_admin(actor, "review_resolve")?;
        let mut audit = audit_entry(actor, "review_resolve", Purpose::Administration, "allow");
        let who = actor.subject.clone();
        self.writer.run_blocking(move |tx| {
            let r = tx
                .review(review_id)?
                .ok_or(StoreError::NotFound("review item"))?;
            if r.status != ReviewStatus::Pending {
                return Err(StoreError::Conflict(format!(
                    "review item {review_id} is already {}",
                    r.status.as_str()
                )));
            }
            let merged = match resolution {
                Resolution::Same => {
                    let m = merge_in_tx(tx, r.patient_a, r.patient_b, true, &who)?;
                    tx.resolve_review(review_id, ReviewStatus::Same, &who)?;
                    m
                }
                Resolution::Different => {
                    if tx.root_of(r.patient_a)? == tx.root_of(r.patient_b)? {
                        return Err(StoreError::Conflict(
                            "the two records are merged; unmerge them instead".into(),
                        ));
                    }
                    tx.set_link_decision(
                        r.patient_a,
                        r.patient_b,
                        LinkDecision::Different,
                        &who,
                        Some(review_id),
                    )?;
                    tx.resolve_review(review_id, ReviewStatus::Different, &who)?;
                    None
                }
            };
            audit.patient_ids = vec![r.patient_a, r.patient_b];
            audit.detail = Some(format!(
                "review {review_id}: {}{}",
                match resolution {
                    Resolution::Same => "same person",
                    Resolution::Different => "different people",
                },
                merged.map_or(String::new(), |m| format!("; merge {}", m.merge_id))
            ));
            tx.append_audit(&audit)?;
            Ok(merged)
        })
    }

    /// Merges `absorb` (and everything merged into it) into `keep`'s person.
    /// A human merge: it overrides an earlier "different" decision. Audited.
    pub fn merge(
        &self,
        actor: &Actor,
        keep: PatientId,
        absorb: PatientId,
    ) -> Result<MergeOutcome, RegistryError> {
        self.require_linkage_admin(actor, "merge")?;
        let mut audit = audit_entry(actor, "merge", Purpose::Administration, "allow");
        let who = actor.subject.clone();
        self.writer.run_blocking(move |tx| {
            let m = merge_in_tx(tx, keep, absorb, true, &who)?.ok_or_else(|| {
                StoreError::Conflict("the two records are already one person".into())
            })?;
            audit.patient_ids = vec![m.survivor, m.absorbed];
            audit.detail = Some(format!("merge {}", m.merge_id));
            tx.append_audit(&audit)?;
            Ok(m)
        })
    }

    /// Undoes the merge that absorbed `absorbed`: both records read as they
    /// were, and a "different people" decision keeps the automatic matcher
    /// from merging them again. Audited.
    pub fn unmerge(
        &self,
        actor: &Actor,
        absorbed: PatientId,
    ) -> Result<MergeOutcome, RegistryError> {
        self.require_linkage_admin(actor, "unmerge")?;
        let mut audit = audit_entry(actor, "unmerge", Purpose::Administration, "allow");
        let who = actor.subject.clone();
        self.writer.run_blocking(move |tx| {
            let p = tx
                .load_patient(absorbed)?
                .ok_or(StoreError::NotFound("patient"))?;
            let Some(into) = p.merged_into else {
                return Err(StoreError::Conflict(format!(
                    "patient {} is not merged into another record",
                    absorbed.0
                )));
            };
            let m = tx.active_merge_of(absorbed)?;
            tx.set_merged_into(absorbed, None)?;
            if let Some(m) = &m {
                tx.mark_unmerged(m.id, &who)?;
            }
            tx.set_link_decision(absorbed, into, LinkDecision::Different, &who, None)?;
            let out = MergeOutcome {
                merge_id: m.map_or(0, |m| m.id),
                survivor: into,
                absorbed,
            };
            audit.patient_ids = vec![into, absorbed];
            audit.detail = Some(format!("unmerge {}", out.merge_id));
            tx.append_audit(&audit)?;
            Ok(out)
        })
    }
}
