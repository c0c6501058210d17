//! Patient identification for incoming records: the [`PatientMatcher`] seam.
//! The registry's default is the probabilistic matcher
//! ([`crate::linkage::ProbabilisticMatcher`]); [`ConservativeMatcher`] is the
//! earlier exact matcher (an identifier from the same assigning authority, or
//! exact name + birth date + compatible sex), kept for comparison and tests.

use immunis_matching::NormalizedRecord;
use immunis_model::{DoseReport, Patient, PatientId, Sex};
use immunis_store::{name_key, StoreError, Tx};

use crate::query::PatientQuery;

/// A stored record an incoming person may be: goes on the review queue.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewCandidate {
    pub patient_id: PatientId,
    /// Match score (bits).
    pub score: f64,
    /// Per-field explanation (see [`crate::linkage::explanation_text`]).
    pub explanation: String,
}

/// What the matcher concluded about an incoming person.
#[derive(Debug, Clone, PartialEq)]
pub enum MatchDecision {
    /// The same person as this stored record (the record the submission's
    /// data is attached to; it may be merged into a survivor).
    Existing(PatientId),
    New,
    /// Possibly one of these people: link nothing; the record is kept as a
    /// new person and each pair goes on the review queue.
    Review(Vec<ReviewCandidate>),
}

/// A search's survivors: (confident, possible).
pub type SearchCandidates = (Vec<PatientId>, Vec<PatientId>);

/// Who an incoming person is. Runs inside the write transaction.
pub trait PatientMatcher: Send + Sync {
    fn identify(
        &self,
        tx: &mut Tx<'_>,
        incoming: &Patient,
        doses: &[DoseReport],
    ) -> Result<MatchDecision, StoreError>;

    /// The matcher's work on an incoming record that needs no transaction
    /// (its normalized form), done before the job reaches the single
    /// writer thread; handed back to [`PatientMatcher::identify_with_record`].
    fn prepare(&self, _incoming: &Patient, _doses: &[DoseReport]) -> Option<NormalizedRecord> {
        None
    }

    /// [`PatientMatcher::identify`], plus the matched record's stored
    /// demographics when the matcher already read them (saves reading the
    /// record again in the same transaction). `prepared` is this matcher's
    /// [`PatientMatcher::prepare`] of the same record, when the caller made it.
    fn identify_with_record(
        &self,
        tx: &mut Tx<'_>,
        incoming: &Patient,
        doses: &[DoseReport],
        _prepared: Option<&NormalizedRecord>,
    ) -> Result<(MatchDecision, Option<Patient>), StoreError> {
        Ok((self.identify(tx, incoming, doses)?, None))
    }

    /// Keeps the matcher's index current after a person is created or their
    /// demographics change.
    fn index(&self, _tx: &mut Tx<'_>, _id: PatientId, _p: &Patient) -> Result<(), StoreError> {
        Ok(())
    }

    /// [`PatientMatcher::index`] after an update from `old` to `new` (the
    /// index holds `old`'s entries): a matcher may skip the work when nothing
    /// it indexes changed.
    fn reindex(
        &self,
        tx: &mut Tx<'_>,
        id: PatientId,
        _old: &Patient,
        new: &Patient,
    ) -> Result<(), StoreError> {
        self.index(tx, id, new)
    }

    /// Candidates for a search: (confident, possible) survivors; `None` uses
    /// the registry's exact search.
    fn search(
        &self,
        _tx: &mut Tx<'_>,
        _q: &PatientQuery,
    ) -> Result<Option<SearchCandidates>, StoreError> {
        Ok(None)
    }
}

fn ambiguous(ids: Vec<PatientId>) -> Vec<ReviewCandidate> {
    ids.into_iter()
        .map(|patient_id| ReviewCandidate {
            patient_id,
            score: 0.0,
            explanation: "exact matcher: several people fit equally well\n".into(),
        })
        .collect()
}

/// Exact identifier, then exact demographics.
#[derive(Debug, Default)]
pub struct ConservativeMatcher;

fn compatible(stored: &Patient, incoming: &Patient) -> bool {
    let sex_ok = stored.sex == incoming.sex
        || matches!(stored.sex, Sex::Unknown)
        || matches!(incoming.sex, Sex::Unknown);
    let order_ok = match (stored.birth_order, incoming.birth_order) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    sex_ok && order_ok
}

impl PatientMatcher for ConservativeMatcher {
    fn identify(
        &self,
        tx: &mut Tx<'_>,
        incoming: &Patient,
        _doses: &[DoseReport],
    ) -> Result<MatchDecision, StoreError> {
        let name = incoming.legal_name();
        let family = name_key(&name.family);
        let given = name_key(&name.given);
        // 1. An identifier from the same assigning authority, confirmed by
        //    birth date or family name (MRNs get mistyped and reused).
        let mut seen: Vec<PatientId> = Vec::new();
        for id in incoming.identifiers.iter().filter(|i| !i.value.is_empty()) {
            let mut hits = tx.find_by_identifier(id)?;
            hits.dedup();
            let mut confirmed = Vec::new();
            for pid in hits {
                // A person found through an earlier identifier was already judged.
                if seen.contains(&pid) {
                    continue;
                }
                seen.push(pid);
                if let Some(s) = tx.load_patient(pid)? {
                    if s.merged_into.is_some() {
                        continue;
                    }
                    let p = &s.patient;
                    let same_birth = p.birth_date == incoming.birth_date;
                    let same_family = name_key(&p.legal_name().family) == family;
                    if (same_birth || same_family) && compatible(p, incoming) {
                        confirmed.push(pid);
                    }
                }
            }
            match confirmed.len() {
                0 => {}
                1 => return Ok(MatchDecision::Existing(confirmed[0])),
                _ => return Ok(MatchDecision::Review(ambiguous(confirmed))),
            }
        }
        // 2. Exact family + given + birth date, compatible sex and birth order.
        let mut fits = Vec::new();
        for pid in tx.find_by_family_and_birth(&family, incoming.birth_date.0)? {
            if let Some(s) = tx.load_patient(pid)? {
                let p = &s.patient;
                if name_key(&p.legal_name().given) == given && compatible(p, incoming) {
                    fits.push(pid);
                }
            }
        }
        Ok(match fits.len() {
            0 => MatchDecision::New,
            1 => MatchDecision::Existing(fits[0]),
            _ => MatchDecision::Review(ambiguous(fits)),
        })
    }
}
