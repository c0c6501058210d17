//! Tamper evidence and accountability for the audit trail: re-walking the
//! hash chain against the **anchors** (chain head hash + seq, written to the
//! `audit_anchor` table and, optionally, to a file the operator keeps
//! elsewhere) so that edited, deleted, reordered *and truncated* records are
//! detected; and the **accounting of disclosures** (who saw a person's
//! record, when, for what purpose).

use std::collections::BTreeMap;

use immunis_access::Actor;
use immunis_model::PatientId;
use immunis_store::AuditRecord;

use crate::{audit_entry, Registry, RegistryError};
use immunis_access::Purpose;

/// The result of re-walking the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerification {
    Intact {
        records: i64,
        head: String,
        /// Anchors checked (table and file).
        anchors: usize,
    },
    Broken {
        seq: i64,
        reason: String,
    },
}

/// One anchor: the chain head at some moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
}

impl Anchor {
    /// One line of an anchor file: `seq hash`.
    pub fn to_line(&self) -> String {
        format!("{} {}", self.seq, self.hash)
    }

    /// Parses the lines of an anchor file (blank lines and `#` comments skipped).
    pub fn parse_file(text: &str) -> Result<Vec<Anchor>, RegistryError> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let mut parts = l.split_whitespace();
                let seq = parts.next().and_then(|s| s.parse::<i64>().ok());
                let hash = parts.next();
                match (seq, hash) {
                    (Some(seq), Some(hash)) if hash.len() == 64 => Ok(Anchor {
                        seq,
                        hash: hash.to_string(),
                    }),
                    _ => Err(RegistryError::Invalid(format!(
                        "not an anchor line (expected `SEQ HASH`): {l:?}"
                    ))),
                }
            })
            .collect()
    }
}

/// One disclosure of a person's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosure {
    pub at_millis: i64,
    pub actor: String,
    pub role: String,
    pub organization: Option<String>,
    pub purpose: String,
    pub action: String,
    pub client_addr: Option<String>,
}

/// Actions that show a person's data to the actor.
const DISCLOSING_ACTIONS: &[&str] = &[
    "search",
    "read_record",
    "read_consent",
    "issue_record_document",
    "reminder_recall",
    "school_report",
];

impl Registry {
    /// Writes an anchor for the current chain head (administrators); returns
    /// it so the caller can also store it outside the database. `None` when
    /// the trail is empty.
    pub fn anchor_audit(&self, actor: &Actor) -> Result<Option<Anchor>, RegistryError> {
        self.require_admin(actor)?;
        self.writer.run_blocking(move |tx| {
            let Some((seq, hash)) = tx.audit_head()? else {
                return Ok(None);
            };
            let known = tx.audit_anchors()?;
            if !known.iter().any(|(s, _, _)| *s == seq) {
                tx.insert_audit_anchor(seq, &hash)?;
            }
            Ok(Some(Anchor { seq, hash }))
        })
    }

    /// Async form of [`Registry::anchor_audit`] for the server's periodic task.
    pub async fn anchor_audit_async(&self, actor: &Actor) -> Result<Option<Anchor>, RegistryError> {
        self.require_admin(actor)?;
        self.writer
            .run(move |tx| {
                let Some((seq, hash)) = tx.audit_head()? else {
                    return Ok(None);
                };
                let known = tx.audit_anchors()?;
                if !known.iter().any(|(s, _, _)| *s == seq) {
                    tx.insert_audit_anchor(seq, &hash)?;
                }
                Ok(Some(Anchor { seq, hash }))
            })
            .await
    }

    /// Re-walks the whole hash chain, page by page, and checks every anchor
    /// (the table's and `external`, e.g. read from the operator's file): the
    /// record at an anchor's seq must exist and carry the anchored hash. An
    /// edited field breaks its hash; a deleted row leaves a gap; swapped rows
    /// break the links; a truncated tail or a re-hashed chain contradicts an
    /// anchor.
    pub fn verify_audit(
        &self,
        actor: &Actor,
        external: &[Anchor],
    ) -> Result<AuditVerification, RegistryError> {
        self.require_admin(actor)?;
        self.flush_audit()?;
        let mut anchors: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        let mut stored = Vec::new();
        self.read(&mut |tx| {
            stored = tx.audit_anchors()?;
            Ok(())
        })?;
        for (seq, hash, _) in stored {
            anchors.entry(seq).or_default().push(hash);
        }
        for a in external {
            anchors.entry(a.seq).or_default().push(a.hash.clone());
        }
        let anchor_count = anchors.values().map(Vec::len).sum();
        let mut prev = immunis_store::genesis();
        let mut seq = 0i64;
        loop {
            let mut page: Vec<AuditRecord> = Vec::new();
            self.read(&mut |tx| {
                page = tx.audit_records(seq, 10_000)?;
                Ok(())
            })?;
            if page.is_empty() {
                if let Some((&anchored, _)) = anchors.range(seq + 1..).next() {
                    return Ok(AuditVerification::Broken {
                        seq: anchored,
                        reason: format!(
                            "the trail ends at record {seq} but an anchor names record {anchored} (tail truncated)"
                        ),
                    });
                }
                return Ok(AuditVerification::Intact {
                    records: seq,
                    head: prev,
                    anchors: anchor_count,
                });
            }
            match immunis_store::verify_chain(&page, prev.clone(), seq) {
                Ok((h, s)) => {
                    for r in &page {
                        if let Some(hashes) = anchors.get(&r.seq) {
                            if hashes.iter().any(|h| *h != r.hash) {
                                return Ok(AuditVerification::Broken {
                                    seq: r.seq,
                                    reason: "record does not match its anchor (trail rewritten)"
                                        .into(),
                                });
                            }
                        }
                    }
                    prev = h;
                    seq = s;
                }
                Err((bad, reason)) => return Ok(AuditVerification::Broken { seq: bad, reason }),
            }
        }
    }

    /// The accounting of disclosures for one person: every allowed access
    /// that showed their data, oldest first (administrators; audited itself).
    pub fn disclosures(
        &self,
        actor: &Actor,
        patient: PatientId,
    ) -> Result<Vec<Disclosure>, RegistryError> {
        self.require_admin(actor)?;
        self.flush_audit()?;
        // Other processes' entries not folded yet (a running server's, seen
        // from the CLI): read before the trail, then keep only the files
        // the trail does not name as folded (see AuditSpool::pending).
        let pending = self.spool.as_ref().map(|s| s.pending()).unwrap_or_default();
        let mut records = Vec::new();
        let mut unfolded: Vec<(i64, immunis_store::AuditEntry)> = Vec::new();
        self.read(&mut |tx| {
            records = tx.audit_records_for_patient(patient)?;
            unfolded.clear();
            for (name, entries) in &pending {
                if !tx.audit_spool_folded(name)? {
                    unfolded.extend(
                        entries
                            .iter()
                            .filter(|(_, e)| e.patient_ids.contains(&patient))
                            .cloned(),
                    );
                }
            }
            Ok(())
        })?;
        records.extend(crate::audit_spool::pending_records(std::mem::take(
            &mut unfolded,
        )));
        records.sort_by_key(|r| r.at);
        let out = records
            .into_iter()
            .filter(|r| {
                r.entry.outcome == "allow" && DISCLOSING_ACTIONS.contains(&r.entry.action.as_str())
            })
            .map(|r| Disclosure {
                at_millis: r.at,
                actor: r.entry.actor,
                role: r.entry.role,
                organization: r.entry.organization,
                purpose: r.entry.purpose,
                action: r.entry.action,
                client_addr: r.entry.client_addr,
            })
            .collect();
        let mut audit = audit_entry(
            actor,
            "accounting_of_disclosures",
            Purpose::Administration,
            "allow",
        );
        audit.patient_ids = vec![patient];
        self.append_audit_blocking(audit)?;
        Ok(out)
    }
}
