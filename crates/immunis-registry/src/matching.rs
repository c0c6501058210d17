//! Patient identification for incoming records: the seam where the full
//! probabilistic matcher (`immunis-matching`) plugs in. The default here is
//! conservative: an identifier from the same assigning authority, or exact
//! name + birth date + compatible sex; never link two people on weak evidence.

use immunis_model::{Patient, PatientId, Sex};
use immunis_store::{name_key, StoreError, Tx};

/// What the matcher concluded about an incoming person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchDecision {
    Existing(PatientId),
    New,
    /// Several people fit equally well: create nobody's link; the record is
    /// kept as a new person and flagged for review.
    Ambiguous(Vec<PatientId>),
}

pub trait PatientMatcher: Send + Sync {
    fn identify(&self, tx: &mut Tx<'_>, incoming: &Patient) -> Result<MatchDecision, StoreError>;
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
    fn identify(&self, tx: &mut Tx<'_>, incoming: &Patient) -> Result<MatchDecision, StoreError> {
        let name = incoming.legal_name();
        let family = name_key(&name.family);
        let given = name_key(&name.given);
        // 1. An identifier from the same assigning authority, confirmed by
        //    birth date or family name (MRNs get mistyped and reused).
        for id in incoming.identifiers.iter().filter(|i| !i.value.is_empty()) {
            let mut hits = tx.find_by_identifier(id)?;
            hits.dedup();
            let mut confirmed = Vec::new();
            for pid in hits {
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
                _ => return Ok(MatchDecision::Ambiguous(confirmed)),
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
            _ => MatchDecision::Ambiguous(fits),
        })
    }
}
