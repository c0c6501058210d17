//! Bulk de-duplication of the whole registry through the blocking index:
//! backfill missing blocking keys, then compare every record with the
//! candidates sharing a key (each pair once), auto-merge only `Match` pairs
//! (never across a person's "different" decision) and queue `Possible Match`
//! pairs for review. Scoring runs on worker threads with their own read
//! connections; merges and queue entries are written in batches through the
//! group-commit writer. Admin-only and audited.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use immunis_access::Actor;
use immunis_matching::{normalize, Outcome};
use immunis_model::PatientId;
use immunis_store::{NewReview, StoreError};

use crate::linkage::{explanation_text, stored_match_record, Linker};
use crate::review::merge_in_tx;
use crate::{audit_entry, Purpose, Registry, RegistryError};

/// What a dedup run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DedupSummary {
    /// Records walked.
    pub records: u64,
    /// Records whose blocking keys had to be computed first.
    pub indexed: u64,
    /// Candidate pairs scored.
    pub pairs_compared: u64,
    /// Merges made (Match pairs that were not already one person).
    pub merged: u64,
    /// Possible matches put on the review queue.
    pub queued: u64,
    /// Match pairs not merged because a person decided they are different.
    pub kept_apart: u64,
}

/// Progress callback: (records done, records total).
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

enum Found {
    Match(PatientId, PatientId),
    Possible(PatientId, PatientId, f64, String),
}

const PAGE: usize = 256;

impl Registry {
    /// De-duplicates the whole registry (see the module docs). `workers`
    /// scoring threads (at least 1).
    pub fn dedup(
        &self,
        actor: &Actor,
        workers: usize,
        progress: Progress<'_>,
    ) -> Result<DedupSummary, RegistryError> {
        self.require_linkage_admin(actor, "dedup")?;
        let linker = Linker::default();
        let mut summary = DedupSummary::default();

        // 1. Every record id (8 bytes each: 8 MB at a million people).
        let mut all: Vec<PatientId> = Vec::new();
        loop {
            let after = all.last().copied().unwrap_or(PatientId(0));
            let mut page = Vec::new();
            self.store.read(&mut |tx| {
                page = tx.patient_ids_after(after, 10_000)?;
                Ok(())
            })?;
            if page.is_empty() {
                break;
            }
            all.extend(page.into_iter().map(|(id, _)| id));
        }
        let total = all.len() as u64;
        summary.records = total;

        // 2. Backfill blocking keys for records indexed before migration 0002.
        for chunk in all.chunks(1000) {
            let mut missing = Vec::new();
            self.store.read(&mut |tx| {
                missing = tx.without_blocking_keys(chunk)?;
                Ok(())
            })?;
            if missing.is_empty() {
                continue;
            }
            summary.indexed += missing.len() as u64;
            self.writer.run_blocking(move |tx| {
                for id in &missing {
                    if let Some(s) = tx.load_patient(*id)? {
                        tx.replace_blocking_keys(*id, &Linker::patient_keys(&s.patient))?;
                    }
                }
                Ok(())
            })?;
        }

        // 3. Score in parallel; apply in page order on this thread.
        let next = AtomicUsize::new(0);
        let pages: Vec<&[PatientId]> = all.chunks(PAGE).collect();
        let (send, recv) = mpsc::sync_channel::<Result<(usize, u64, Vec<Found>), StoreError>>(8);
        let workers = workers.max(1);
        let mut done: u64 = 0;
        let mut first_error: Option<RegistryError> = None;
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let send = send.clone();
                let (next, pages, linker) = (&next, &pages, &linker);
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(page) = pages.get(i) else { break };
                    let r = self
                        .score_page(linker, page)
                        .map(|(n, f)| (page.len(), n, f));
                    if send.send(r).is_err() {
                        break;
                    }
                });
            }
            drop(send);
            for r in recv {
                let (len, compared, found) = match r {
                    Ok(x) => x,
                    Err(e) => {
                        first_error.get_or_insert(e.into());
                        // Stop handing out pages; drain what is in flight.
                        next.store(usize::MAX / 2, Ordering::Relaxed);
                        continue;
                    }
                };
                summary.pairs_compared += compared;
                if !found.is_empty() && first_error.is_none() {
                    match self.apply_found(actor, found) {
                        Ok((m, q, k)) => {
                            summary.merged += m;
                            summary.queued += q;
                            summary.kept_apart += k;
                        }
                        Err(e) => {
                            first_error.get_or_insert(e);
                            next.store(usize::MAX / 2, Ordering::Relaxed);
                        }
                    }
                }
                done += len as u64;
                progress(done, total);
            }
        });
        if let Some(e) = first_error {
            return Err(e);
        }
        let mut audit = audit_entry(actor, "dedup", Purpose::Administration, "allow");
        audit.detail = Some(format!(
            "records {} indexed {} pairs {} merged {} queued {} kept apart {}",
            summary.records,
            summary.indexed,
            summary.pairs_compared,
            summary.merged,
            summary.queued,
            summary.kept_apart
        ));
        self.writer
            .run_blocking(move |tx| tx.append_audit(&audit).map(|_| ()))?;
        Ok(summary)
    }

    /// Scores one page of records against their candidates with a larger id.
    fn score_page(
        &self,
        linker: &Linker,
        page: &[PatientId],
    ) -> Result<(u64, Vec<Found>), StoreError> {
        let mut found = Vec::new();
        let mut compared = 0u64;
        self.store.read(&mut |tx| {
            found.clear();
            compared = 0;
            for &p in page {
                let Some(s) = tx.load_patient(p)? else {
                    continue;
                };
                let rec = normalize(&stored_match_record(tx, p, &s.patient)?);
                let clusters = linker.candidates(tx, &rec, &|q| q <= p)?;
                for c in clusters {
                    for m in c.members {
                        compared += 1;
                        match m.outcome {
                            Outcome::Match => found.push(Found::Match(p, m.record)),
                            Outcome::PossibleMatch => found.push(Found::Possible(
                                p,
                                m.record,
                                m.score,
                                explanation_text(&m.result),
                            )),
                            Outcome::NotAMatch => {}
                        }
                    }
                }
            }
            Ok(())
        })?;
        Ok((compared, found))
    }

    /// Writes one page's findings: (merged, queued, kept apart).
    fn apply_found(
        &self,
        actor: &Actor,
        found: Vec<Found>,
    ) -> Result<(u64, u64, u64), RegistryError> {
        let who = actor.subject.clone();
        self.writer.run_blocking(move |tx| {
            let (mut merged, mut queued, mut kept) = (0, 0, 0);
            for f in &found {
                match f {
                    Found::Match(a, b) => {
                        // The older survivor keeps the record.
                        let (ra, rb) = (tx.root_of(*a)?, tx.root_of(*b)?);
                        if ra == rb {
                            continue;
                        }
                        let (keep, absorb) = if ra.0 < rb.0 { (ra, rb) } else { (rb, ra) };
                        match merge_in_tx(tx, keep, absorb, false, &who)? {
                            Some(_) => merged += 1,
                            None => kept += 1,
                        }
                    }
                    Found::Possible(a, b, score, explanation) => {
                        if tx.root_of(*a)? == tx.root_of(*b)? {
                            continue;
                        }
                        if tx.decided_different(&[*a], &[*b])? {
                            continue;
                        }
                        let r = tx.insert_review(&NewReview {
                            patient_a: *a,
                            patient_b: *b,
                            score_millibits: (score * 1000.0).round() as i64,
                            explanation: explanation.clone(),
                            origin: "dedup".into(),
                        })?;
                        if r.is_some() {
                            queued += 1;
                        }
                    }
                }
            }
            Ok((merged, queued, kept))
        })
    }
}
