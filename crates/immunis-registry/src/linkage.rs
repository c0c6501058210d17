//! Probabilistic record linkage in the registry: the bridge between the
//! registry's records and the pure matcher (`immunis-matching`).
//!
//! * [`to_match_record`] converts a [`Patient`] (+ shot history) into the
//!   matcher's [`MatchRecord`].
//! * [`Linker`] keeps the blocking-key index (`patient_blocking_key`) up to
//!   date, finds candidates through it (skipping oversized blocks), scores
//!   them and groups them by merge cluster (a survivor and everything merged
//!   into it).
//! * [`ProbabilisticMatcher`] is the [`PatientMatcher`] used at ingest and by
//!   patient search: Match → link, Possible Match → new person + review queue,
//!   Not a Match → new person.

use std::collections::BTreeMap;

use immunis_matching::{
    blocking_keys_normalized, normalize, Field, FieldComparison, Identifier, IdentifierKind, Level,
    MatchRecord, MatchResult, Matcher, MultipleBirth, NormalizedRecord, Outcome, Shot,
};
use immunis_model::{CompletionStatus, DoseReport, Patient, PatientId, Sex, VaccinationEvent};
use immunis_store::{StoreError, Tx};

use crate::matching::{MatchDecision, PatientMatcher, ReviewCandidate, SearchCandidates};
use crate::query::PatientQuery;

/// Blocks holding more people than this are skipped when looking for
/// candidates (a shared clinic phone, a placeholder identifier).
pub const DEFAULT_MAX_BLOCK: usize = 500;

/// When several separate people score as a Match, the best one is linked
/// only if it leads the next by at least this many bits; otherwise the
/// record goes to review.
pub const AMBIGUITY_MARGIN_BITS: f64 = 6.0;

fn sex(s: Sex) -> Option<immunis_matching::Sex> {
    match s {
        Sex::Female => Some(immunis_matching::Sex::Female),
        Sex::Male => Some(immunis_matching::Sex::Male),
        Sex::Other => Some(immunis_matching::Sex::Other),
        Sex::Unknown => None,
    }
}

fn name(n: &immunis_model::PersonName) -> immunis_matching::PersonName {
    immunis_matching::PersonName {
        first: n.given.clone(),
        middle: n.middle.clone().unwrap_or_default(),
        last: n.family.clone(),
        suffix: n.suffix.clone().unwrap_or_default(),
    }
}

/// HL7 identifier type (CX-5) → the matcher's identifier kind.
pub fn identifier_kind(id_type: &str) -> IdentifierKind {
    match id_type.trim().to_ascii_uppercase().as_str() {
        "SS" | "SSN" => IdentifierKind::Ssn,
        "MA" | "MC" => IdentifierKind::Medicaid,
        "BC" | "BR" => IdentifierKind::BirthCertificate,
        "MR" | "PI" | "PT" | "" => IdentifierKind::Mrn,
        other => IdentifierKind::Other(other.to_string()),
    }
}

/// A dose that counts as shot history for matching (given, dated, coded).
fn shot(ev: &VaccinationEvent) -> Option<Shot> {
    if ev.completion != CompletionStatus::Complete {
        return None;
    }
    Some(Shot {
        date: ev.administered_date?,
        cvx: ev.cvx.as_ref()?.as_str().to_string(),
    })
}

/// Converts a registry patient and its doses into the matcher's record.
pub fn to_match_record<'e>(
    p: &Patient,
    doses: impl IntoIterator<Item = &'e VaccinationEvent>,
) -> MatchRecord {
    let mut shots: Vec<Shot> = doses.into_iter().filter_map(shot).collect();
    shots.sort();
    shots.dedup();
    MatchRecord {
        name: name(p.legal_name()),
        aliases: p.names.iter().skip(1).map(name).collect(),
        birth_date: Some(p.birth_date.0),
        sex: sex(p.sex),
        mother_maiden_name: p
            .mother_maiden_name
            .as_ref()
            .map(|m| m.family.clone())
            .unwrap_or_default(),
        guardians: p.guardians.iter().map(|g| name(&g.name)).collect(),
        addresses: p
            .addresses
            .iter()
            .map(|a| immunis_matching::Address {
                street1: a.street1.clone(),
                street2: a.street2.clone().unwrap_or_default(),
                city: a.city.clone(),
                state: a.state.clone(),
                zip: a.zip.clone(),
            })
            .collect(),
        phones: p.phones.iter().map(|ph| ph.number.clone()).collect(),
        identifiers: p
            .identifiers
            .iter()
            .filter(|i| !i.value.is_empty())
            .map(|i| Identifier {
                kind: identifier_kind(&i.id_type),
                authority: i.assigning_authority.clone(),
                value: i.value.clone(),
            })
            .collect(),
        multiple_birth: MultipleBirth {
            indicator: p.multiple_birth,
            plurality: None,
            order: p.birth_order,
        },
        shots,
    }
}

/// A stored person as the matcher sees it: demographics plus the shot
/// history of their active events, read from the event columns
/// ([`Tx::load_shots`]) rather than by decoding every event document — the
/// same shots [`to_match_record`] takes from the decoded events.
pub fn stored_match_record(
    tx: &mut Tx<'_>,
    id: PatientId,
    p: &Patient,
) -> Result<MatchRecord, StoreError> {
    let mut rec = to_match_record(p, std::iter::empty());
    rec.shots = tx
        .load_shots(id)?
        .into_iter()
        .map(|(date, cvx)| Shot { date, cvx })
        .collect();
    rec.shots.sort();
    rec.shots.dedup();
    Ok(rec)
}

/// Converts a search (QBP QPD or a form) into the matcher's record.
pub fn query_record(q: &PatientQuery) -> MatchRecord {
    let mut r = MatchRecord {
        name: immunis_matching::PersonName::new(
            q.given.as_deref().unwrap_or(""),
            q.family.as_deref().unwrap_or(""),
        ),
        birth_date: q.birth_date,
        sex: q.sex.and_then(sex),
        mother_maiden_name: q.mother_maiden_family.clone().unwrap_or_default(),
        ..MatchRecord::default()
    };
    r.identifiers = q
        .identifiers
        .iter()
        .filter(|i| !i.value.is_empty())
        .map(|i| Identifier {
            kind: identifier_kind(&i.id_type),
            authority: i.assigning_authority.clone(),
            value: i.value.clone(),
        })
        .collect();
    r
}

/// The matcher's per-field explanation as stored with a review item: one
/// `field<TAB>level<TAB>detail<TAB>weight` line per field, then a
/// `rules<TAB>…` line when hard rules fired.
pub fn explanation_text(r: &MatchResult) -> String {
    let mut s = String::new();
    for f in &r.fields {
        if f.detail.starts_with("registry rule") {
            s.push_str(&format!("rule\t{}\n", f.detail));
            continue;
        }
        s.push_str(&format!(
            "{}\t{}\t{}\t{:+.2}\n",
            f.field.name(),
            f.level.name(),
            f.detail,
            f.weight
        ));
    }
    if !r.rules.is_empty() {
        let rules: Vec<String> = r.rules.iter().map(|h| format!("{h:?}")).collect();
        s.push_str(&format!("rules\t{}\n", rules.join(",")));
    }
    s
}

/// One stored record compared with an incoming one.
#[derive(Debug, Clone)]
pub struct Scored {
    /// The record that was compared (may be merged into another).
    pub record: PatientId,
    /// The survivor of its merge cluster.
    pub root: PatientId,
    pub outcome: Outcome,
    pub score: f64,
    pub result: MatchResult,
    pub patient: Patient,
}

/// The best comparison per merge cluster.
#[derive(Debug, Clone)]
pub struct ClusterScore {
    pub root: PatientId,
    /// Best outcome over the cluster's compared records, then best score.
    pub best: Scored,
    /// Every compared record of the cluster.
    pub members: Vec<Scored>,
}

fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Match => 2,
        Outcome::PossibleMatch => 1,
        Outcome::NotAMatch => 0,
    }
}

/// Blocking-key maintenance, candidate search and scoring.
#[derive(Debug)]
pub struct Linker {
    matcher: Matcher,
    max_block: usize,
    /// At most this many candidates are loaded and scored per lookup,
    /// those sharing the most blocking keys first.
    max_candidates: usize,
}

/// Candidates scored per lookup at most. Blocks grow with the registry (at
/// 1 M people a probe's blocks hold 17 people at the median, 66 at the 99th
/// percentile); the cap bounds the lookup's cost at any size. At 1 M, 2,000
/// people looked up as their later, varied submissions carried them got the
/// same decisions with the cap (24 or 32) as with every candidate, at p99
/// 1.8–2.0 ms instead of 3.7–5.1 ms (BENCHMARKS-linkage.md, session 5).
pub const DEFAULT_MAX_CANDIDATES: usize = 32;

impl Default for Linker {
    fn default() -> Self {
        Linker {
            matcher: Matcher::default(),
            max_block: DEFAULT_MAX_BLOCK,
            max_candidates: DEFAULT_MAX_CANDIDATES,
        }
    }
}

impl Linker {
    /// A linker that scores at most `n` candidates per lookup (those sharing
    /// the most blocking keys; `usize::MAX`: every candidate).
    pub fn with_max_candidates(mut self, n: usize) -> Self {
        self.max_candidates = n.max(1);
        self
    }

    /// A linker with another oversized-block limit.
    pub fn with_max_block(mut self, max_block: usize) -> Self {
        self.max_block = max_block.max(2);
        self
    }

    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    pub fn max_block(&self) -> usize {
        self.max_block
    }

    /// Compares two records: the matcher's decision, then the registry's two
    /// rules for records the matcher's learned policy was not fitted on
    /// (sparse submissions carrying little more than name, birth date, sex
    /// and an MRN), each noted in the explanation:
    /// * **identity**: no hard rule fired, given name, surname and birth date
    ///   agree exactly, a personal identifier (MRN of the same assigning
    ///   authority, SSN, Medicaid, birth certificate) agrees exactly and none
    ///   disagrees → `Match`;
    /// * **review floor**: no hard rule fired and the score reaches the
    ///   model's review threshold → at least `PossibleMatch` (a duplicate is
    ///   sent to a person rather than silently created).
    ///
    /// * **cap**: whenever a hard rule fired (sex, SSN or given-name conflict)
    ///   the outcome is at most `PossibleMatch`, as the rules document;
    /// * **contradiction**: a Match whose birth date disagrees beyond a typo
    ///   (weak / disagree), or whose mother's maiden name, guardian given
    ///   name, SSN, Medicaid id, MRN (same authority) or birth certificate
    ///   disagrees, becomes `PossibleMatch`.
    ///
    /// Vetoes (twins, birth order, birth certificate) always stand.
    pub fn judge(&self, a: &NormalizedRecord, b: &NormalizedRecord) -> MatchResult {
        let mut r = self.matcher.compare(a, b);
        if !r.rules.is_empty() {
            // Every hard rule caps at Possible Match, whatever the learned
            // policy says (it links e.g. same-household siblings with
            // unrelated given names, the twin signature, on score alone).
            if r.outcome == Outcome::Match {
                apply_rule(
                    &mut r,
                    Outcome::PossibleMatch,
                    Field::FirstName,
                    Level::Missing,
                    "registry rule: a hard rule caps the decision at Possible Match",
                );
            }
            return r;
        }
        let level = |f: Field| r.fields.get(f.index()).map(|c| c.level);
        if r.outcome == Outcome::Match {
            // Contradictions the learned policy links over (measured: 19
            // false merges in 1M synthetic people, all common names): a
            // birth date that disagrees beyond a typo, a different
            // mother's maiden name or guardian given name, or a personal
            // identifier that disagrees.
            let contradiction =
                matches!(level(Field::BirthDate), Some(Level::Weak | Level::Disagree))
                    || [
                        Field::MotherMaidenName,
                        Field::GuardianFirst,
                        Field::Ssn,
                        Field::Medicaid,
                        Field::Mrn,
                        Field::BirthCertificate,
                    ]
                    .iter()
                    .any(|f| level(*f) == Some(Level::Disagree));
            if contradiction {
                apply_rule(&mut r, Outcome::PossibleMatch, Field::BirthDate, Level::Missing, "registry rule: a contradicting birth date, mother, guardian or identifier caps the decision at Possible Match");
            }
            return r;
        }
        let exact = |f: Field| level(f) == Some(Level::Exact);
        let ids = [
            Field::Mrn,
            Field::Ssn,
            Field::Medicaid,
            Field::BirthCertificate,
        ];
        let identity = exact(Field::FirstName)
            && exact(Field::LastName)
            && exact(Field::BirthDate)
            && level(Field::Sex) != Some(Level::Disagree)
            && ids.iter().any(|f| exact(*f))
            && !ids.iter().any(|f| level(*f) == Some(Level::Disagree))
            && level(Field::MotherMaidenName) != Some(Level::Disagree)
            && level(Field::GuardianFirst) != Some(Level::Disagree);
        if identity {
            apply_rule(
                &mut r,
                Outcome::Match,
                Field::Mrn,
                Level::Exact,
                "registry rule: identity (exact names, birth date and identifier)",
            );
        } else if r.outcome == Outcome::NotAMatch && r.score >= self.matcher.thresholds().possible {
            apply_rule(
                &mut r,
                Outcome::PossibleMatch,
                Field::ShotHistory,
                Level::Missing,
                "registry rule: review floor (score above the review threshold)",
            );
        }
        r
    }

    /// The packed blocking keys of a normalized record.
    pub fn keys(n: &NormalizedRecord) -> Vec<i64> {
        let mut k: Vec<i64> = blocking_keys_normalized(n)
            .iter()
            .map(|b| b.packed())
            .collect();
        k.sort_unstable();
        k.dedup();
        k
    }

    /// The packed blocking keys of a patient's demographics.
    pub fn patient_keys(p: &Patient) -> Vec<i64> {
        Self::keys(&normalize(&to_match_record(p, std::iter::empty())))
    }

    /// (Re)indexes a person's blocking keys.
    pub fn index(&self, tx: &mut Tx<'_>, id: PatientId, p: &Patient) -> Result<(), StoreError> {
        tx.replace_blocking_keys(id, &Self::patient_keys(p))
    }

    /// A stored record as the matcher sees it (demographics + active shots).
    pub fn load(
        &self,
        tx: &mut Tx<'_>,
        id: PatientId,
    ) -> Result<Option<(Patient, Option<PatientId>, NormalizedRecord)>, StoreError> {
        let Some(s) = tx.load_patient(id)? else {
            return Ok(None);
        };
        let rec = stored_match_record(tx, id, &s.patient)?;
        Ok(Some((s.patient, s.merged_into, normalize(&rec))))
    }

    /// The deterministic first step: the one person holding an identifier of
    /// the incoming record (same value, assigning authority and type), when
    /// the demographics confirm it (the record scores a Match against that
    /// person under the same rules as the full search). A clinic's repeat
    /// submissions carry the MRN it sent the first time, so most messages
    /// stop here without scoring a block. Anything less clear — no holder,
    /// holders that disagree, a merged-away holder, a score short of Match —
    /// returns `None` and the caller runs the full search, which decides.
    pub fn identified(
        &self,
        tx: &mut Tx<'_>,
        identifiers: &[immunis_model::PatientIdentifier],
        incoming: &NormalizedRecord,
    ) -> Result<Option<(PatientId, Patient)>, StoreError> {
        let mut holder: Option<PatientId> = None;
        for id in identifiers
            .iter()
            .filter(|i| !i.value.is_empty() && !i.assigning_authority.is_empty())
        {
            for hit in tx.find_by_identifier(id)? {
                match holder {
                    None => holder = Some(hit),
                    Some(h) if h == hit => {}
                    Some(_) => return Ok(None),
                }
            }
        }
        let Some(id) = holder else {
            return Ok(None);
        };
        let Some((patient, merged_into, stored)) = self.load(tx, id)? else {
            return Ok(None);
        };
        if merged_into.is_some() || self.judge(incoming, &stored).outcome != Outcome::Match {
            return Ok(None);
        }
        Ok(Some((id, patient)))
    }

    /// Candidates of an incoming record through the blocking index, scored
    /// and grouped by merge cluster; best cluster first. `skip` filters out
    /// record ids (e.g. the record itself during dedup).
    pub fn candidates(
        &self,
        tx: &mut Tx<'_>,
        incoming: &NormalizedRecord,
        skip: &dyn Fn(PatientId) -> bool,
    ) -> Result<Vec<ClusterScore>, StoreError> {
        let keys = Self::keys(incoming);
        let (mut ids, _oversized) = tx.blocking_candidates(&keys, self.max_block)?;
        ids.truncate(self.max_candidates);
        let mut by_root: BTreeMap<PatientId, Vec<Scored>> = BTreeMap::new();
        for id in ids.into_iter().filter(|i| !skip(*i)) {
            let Some((patient, merged_into, n)) = self.load(tx, id)? else {
                continue;
            };
            let root = match merged_into {
                None => id,
                Some(_) => tx.root_of(id)?,
            };
            let result = self.judge(incoming, &n);
            by_root.entry(root).or_default().push(Scored {
                record: id,
                root,
                outcome: result.outcome,
                score: result.score,
                result,
                patient,
            });
        }
        let mut out: Vec<ClusterScore> = by_root
            .into_iter()
            .filter_map(|(root, mut members)| {
                members.sort_by(|a, b| {
                    rank(b.outcome)
                        .cmp(&rank(a.outcome))
                        .then(b.score.total_cmp(&a.score))
                });
                let best = members.first()?.clone();
                Some(ClusterScore {
                    root,
                    best,
                    members,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            rank(b.best.outcome)
                .cmp(&rank(a.best.outcome))
                .then(b.best.score.total_cmp(&a.best.score))
        });
        Ok(out)
    }

    /// The decision for an incoming person given its scored clusters.
    pub fn decide(&self, incoming: &Patient, clusters: &[ClusterScore]) -> MatchDecision {
        let matches: Vec<&ClusterScore> = clusters
            .iter()
            .filter(|c| c.best.outcome == Outcome::Match)
            .collect();
        let clear_winner = match matches.as_slice() {
            [] => None,
            [one] => Some(*one),
            [first, second, ..] => {
                (first.best.score - second.best.score >= AMBIGUITY_MARGIN_BITS).then_some(*first)
            }
        };
        if let Some(c) = clear_winner {
            return MatchDecision::Existing(route(incoming, c));
        }
        let review: Vec<ReviewCandidate> = clusters
            .iter()
            .filter(|c| c.best.outcome != Outcome::NotAMatch)
            .map(|c| ReviewCandidate {
                patient_id: c.best.record,
                score: c.best.score,
                explanation: explanation_text(&c.best.result),
            })
            .collect();
        if review.is_empty() {
            MatchDecision::New
        } else {
            MatchDecision::Review(review)
        }
    }
}

/// Which record of a matched cluster a submission belongs to: the one
/// sharing an identifier with it (same value and assigning authority), else
/// the best-scoring one. Doses are attached to that record, so an unmerge
/// later gives each dose back to the person whose source sent it.
fn route(incoming: &Patient, c: &ClusterScore) -> PatientId {
    for m in c.members.iter().filter(|m| m.outcome == Outcome::Match) {
        let shares = m.patient.identifiers.iter().any(|s| {
            !s.value.is_empty()
                && incoming.identifiers.iter().any(|i| {
                    i.value == s.value
                        && i.assigning_authority == s.assigning_authority
                        && i.id_type == s.id_type
                })
        });
        if shares {
            return m.record;
        }
    }
    c.best.record
}

/// The probabilistic [`PatientMatcher`]: blocking index → scoring → decision.
#[derive(Debug, Default)]
pub struct ProbabilisticMatcher {
    linker: Linker,
}

impl ProbabilisticMatcher {
    pub fn new(linker: Linker) -> Self {
        ProbabilisticMatcher { linker }
    }
    pub fn linker(&self) -> &Linker {
        &self.linker
    }
}

impl PatientMatcher for ProbabilisticMatcher {
    fn identify(
        &self,
        tx: &mut Tx<'_>,
        incoming: &Patient,
        doses: &[DoseReport],
    ) -> Result<MatchDecision, StoreError> {
        Ok(self.identify_with_record(tx, incoming, doses, None)?.0)
    }

    fn prepare(&self, incoming: &Patient, doses: &[DoseReport]) -> Option<NormalizedRecord> {
        Some(normalize(&to_match_record(
            incoming,
            doses.iter().map(|d| &d.event),
        )))
    }

    fn identify_with_record(
        &self,
        tx: &mut Tx<'_>,
        incoming: &Patient,
        doses: &[DoseReport],
        prepared: Option<&NormalizedRecord>,
    ) -> Result<(MatchDecision, Option<Patient>), StoreError> {
        let made;
        let rec = match prepared {
            Some(r) => r,
            None => {
                made = self.prepare(incoming, doses).unwrap_or_default();
                &made
            }
        };
        if let Some((id, patient)) = self.linker.identified(tx, &incoming.identifiers, rec)? {
            return Ok((MatchDecision::Existing(id), Some(patient)));
        }
        let clusters = self.linker.candidates(tx, rec, &|_| false)?;
        let decision = self.linker.decide(incoming, &clusters);
        // The matched record was read (in this transaction) to score it.
        let record = match &decision {
            MatchDecision::Existing(id) => clusters
                .into_iter()
                .flat_map(|c| c.members)
                .find(|m| m.record == *id)
                .map(|m| m.patient),
            _ => None,
        };
        Ok((decision, record))
    }

    fn index(&self, tx: &mut Tx<'_>, id: PatientId, p: &Patient) -> Result<(), StoreError> {
        self.linker.index(tx, id, p)
    }

    fn reindex(
        &self,
        tx: &mut Tx<'_>,
        id: PatientId,
        old: &Patient,
        new: &Patient,
    ) -> Result<(), StoreError> {
        // The keys are a function of the match record: most updates (a
        // new phone type, a registry status, a guardian's phone) leave it
        // as it was.
        let unchanged =
            to_match_record(old, std::iter::empty()) == to_match_record(new, std::iter::empty());
        if unchanged {
            return Ok(());
        }
        self.linker.index(tx, id, new)
    }

    fn search(
        &self,
        tx: &mut Tx<'_>,
        q: &PatientQuery,
    ) -> Result<Option<SearchCandidates>, StoreError> {
        let rec = normalize(&query_record(q));
        // The deterministic step, as for a submission: an identifier of the
        // query held by one record that the query's demographics match
        // answers it without scoring a block (at 1 M people a block holds
        // 17 records at the median, each read and normalized to be scored).
        if let Some((id, _)) = self.linker.identified(tx, &q.identifiers, &rec)? {
            return Ok(Some((vec![id], Vec::new())));
        }
        let clusters = self.linker.candidates(tx, &rec, &|_| false)?;
        let mut confident = Vec::new();
        let mut possible = Vec::new();
        for c in clusters {
            match c.best.outcome {
                Outcome::Match => confident.push(c.root),
                Outcome::PossibleMatch => possible.push(c.root),
                Outcome::NotAMatch => {}
            }
        }
        Ok(Some((confident, possible)))
    }
}

/// Applies a registry rule on top of the matcher: sets the outcome and records
/// why as a zero-weight entry of the explanation the review screen shows.
fn apply_rule(
    r: &mut MatchResult,
    outcome: Outcome,
    field: Field,
    level: Level,
    detail: &'static str,
) {
    r.outcome = outcome;
    r.fields.push(FieldComparison {
        field,
        level,
        detail,
        weight: 0.0,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use immunis_model::{BirthDate, PatientIdentifier, PersonName};

    fn d(y: i32, m: u32, day: u32) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(y, m, day).expect("valid literal")
    }

    #[test]
    fn sparse_resend_links_and_household_sibling_is_only_possible() {
        let mut p = Patient::new(
            PersonName::parse("Rivera", "Sofia").expect("valid"),
            BirthDate(d(2023, 2, 14)),
            Sex::Female,
        );
        p.identifiers
            .push(PatientIdentifier::new("M1", "PEDS", "MR"));
        let n = normalize(&to_match_record(&p, std::iter::empty()));
        let r = Linker::default().judge(&n, &n);
        assert_eq!(r.outcome, Outcome::Match, "{}", explanation_text(&r));
        let mut a = p.clone();
        a.names[0].given = "Amara".into();
        a.names[0].middle = Some("Adaeze".into());
        a.mother_maiden_name = Some(PersonName::parse("Nwosu", "Chioma").expect("valid"));
        a.addresses.push(immunis_model::Address {
            street1: "14 Linden Street".into(),
            city: "Worcester".into(),
            state: "MA".into(),
            zip: "01609".into(),
            ..Default::default()
        });
        a.phones.push(immunis_model::Phone {
            number: "(508) 555-0142".into(),
            ..Default::default()
        });
        let mut z = a.clone();
        z.names[0].given = "Zara".into();
        z.identifiers = vec![PatientIdentifier::new("Q1", "CLINIC", "MR")];
        let na = normalize(&to_match_record(&a, std::iter::empty()));
        let nz = normalize(&to_match_record(&z, std::iter::empty()));
        let r = Linker::default().judge(&na, &nz);
        assert_eq!(
            r.outcome,
            Outcome::PossibleMatch,
            "{}",
            explanation_text(&r)
        );
    }
}
