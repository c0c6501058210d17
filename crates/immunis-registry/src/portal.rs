//! Services behind the provider web portal (`immunis-web`): a ranked patient
//! search with the matcher's reasons, the chart (consolidated history
//! evaluated by CDSi, grouped by vaccine group, and the forecast in plain
//! words), and hand-recorded data — administered and historical doses, edits
//! and deletions with a reason, refusals, evidence of immunity,
//! contraindications, new patients with a duplicate check — and the facility's
//! lot inventory.
//!
//! Every call takes the session's [`Actor`], asks the access policy and is
//! audited. A hand-recorded dose takes the path of an HL7 submission: a
//! [`PatientSubmission`] from the user's facility is journaled (transport
//! `portal`) and applied by [`crate::ingest::apply_submission`] in one
//! group-commit job, each portal dose carrying a stable source id in ORC-3's
//! place (`P<journal id>-<n>`), so an edit is RXA-21 `U` and a deletion RXA-21
//! `D` of that id and every earlier version stays in the history.

use std::sync::OnceLock;

use chrono::NaiveDate;
use immunis_access::{decide, Action, Actor, Decision, Purpose, Role};
use immunis_cdsi::DoseStatus;
use immunis_matching::{normalize, Field, Level, Outcome};
use immunis_model::{
    Code, CompletionStatus, Cvx, DoseAction, DoseReport, Facility, InformationSource, Mvx,
    ObservationKind, Patient, PatientId, PatientObservation, PatientSubmission, Sex,
    SubmissionSource, VaccinationEvent, ValueSet, VisDocument,
};
use immunis_store::{name_key, DoseChange, JournalEntry, NewDoseChange, NewLot, StoreError, Tx};

pub use immunis_store::{DoseChange as PortalDoseChange, FacilityLot};

use crate::checkpoint::load_visible;
use crate::clinical::DataCurrency;
use crate::ingest::{apply_submission, DoseOutcome, IngestOutcome};
use crate::linkage::{query_record, to_match_record, Linker};
use crate::matching::{MatchDecision, PatientMatcher};
use crate::query::{candidates, PatientQuery, PatientRecord};
use crate::{audit_entry, Registry, RegistryError};

/// The linker used to rank search results (same model and policy as the
/// registry's default matcher).
fn linker() -> &'static Linker {
    static L: OnceLock<Linker> = OnceLock::new();
    L.get_or_init(Linker::default)
}

// ---------------------------------------------------------------- search --

/// What a person typed into the search form.
#[derive(Debug, Clone, Default)]
pub struct SearchForm {
    pub family: Option<String>,
    pub given: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    /// An identifier value (MRN, state id, Medicaid, …) of any authority, or
    /// a registry id written `#123`.
    pub identifier: Option<String>,
}

/// How sure the registry is that a hit is the person searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HitStrength {
    /// The matcher would link this record to the search (or an identifier
    /// and the name or birth date agree exactly).
    Likely,
    /// The matcher would send the pair to review.
    Possible,
    /// Shares something with the search, weakly.
    Weak,
}

impl HitStrength {
    pub fn label(self) -> &'static str {
        match self {
            HitStrength::Likely => "Likely match",
            HitStrength::Possible => "Possible match",
            HitStrength::Weak => "Weak match",
        }
    }
}

/// One ranked search result, as the actor may see it.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub id: PatientId,
    pub name: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub identifiers: Vec<String>,
    pub town: Option<String>,
    pub strength: HitStrength,
    /// Matcher score in bits (when the matcher compared the record).
    pub score: Option<f64>,
    /// Why it was found: the fields that agree (and the ones that differ).
    pub reasons: Vec<String>,
    /// Shown under an objection to data sharing: own organization's data only.
    pub restricted: bool,
}

#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// More candidates than shown.
    pub truncated: bool,
}

fn field_words(f: Field) -> &'static str {
    match f {
        Field::FirstName => "first name",
        Field::MiddleName => "middle name",
        Field::LastName => "last name",
        Field::Suffix => "suffix",
        Field::BirthDate => "birth date",
        Field::Sex => "sex",
        Field::MotherMaidenName => "mother's maiden name",
        Field::GuardianFirst => "guardian's first name",
        Field::GuardianLast => "guardian's last name",
        Field::Address => "address",
        Field::Phone => "phone",
        Field::Ssn => "SSN",
        Field::Medicaid => "Medicaid id",
        Field::Mrn => "MRN",
        Field::BirthCertificate => "birth certificate",
        Field::MultipleBirth => "multiple birth",
        Field::ShotHistory => "shot history",
    }
}

/// Fields whose agreement may be shown for a record seen under an objection
/// (the core demographics the provider sees anyway).
fn core_field(f: Field) -> bool {
    matches!(
        f,
        Field::FirstName
            | Field::MiddleName
            | Field::LastName
            | Field::Suffix
            | Field::BirthDate
            | Field::Sex
    )
}

/// Plain-words reasons from the matcher's per-field comparison.
fn reasons(result: &immunis_matching::MatchResult, restricted: bool) -> Vec<String> {
    let mut agree = Vec::new();
    let mut differ = Vec::new();
    for f in &result.fields {
        if f.detail.starts_with("registry rule") || (restricted && !core_field(f.field)) {
            continue;
        }
        let name = field_words(f.field);
        match f.level {
            Level::Exact => agree.push(format!("{name} same")),
            Level::Strong | Level::Moderate => agree.push(format!("{name} similar ({})", f.detail)),
            Level::Weak => agree.push(format!("{name} partly ({})", f.detail)),
            Level::Disagree => differ.push(format!("{name} differs")),
            Level::Missing => {}
        }
    }
    agree.extend(differ);
    agree
}

fn sex_word(s: Sex) -> &'static str {
    match s {
        Sex::Female => "female",
        Sex::Male => "male",
        Sex::Other => "other",
        Sex::Unknown => "unknown",
    }
}

/// The sex in words (for pages).
pub fn sex_label(s: Sex) -> &'static str {
    sex_word(s)
}

fn hit_from(
    rec: &PatientRecord,
    strength: HitStrength,
    score: Option<f64>,
    reasons: Vec<String>,
) -> SearchHit {
    let p = &rec.patient;
    SearchHit {
        id: rec.id,
        name: p.legal_name().display(),
        birth_date: p.birth_date.0,
        sex: p.sex,
        identifiers: p
            .identifiers
            .iter()
            .filter(|i| !i.value.is_empty())
            .map(|i| {
                if i.assigning_authority.is_empty() {
                    format!("{} {}", i.id_type, i.value)
                } else {
                    format!("{} {} ({})", i.id_type, i.value, i.assigning_authority)
                }
            })
            .collect(),
        town: p
            .addresses
            .first()
            .map(|a| a.city.trim().to_string())
            .filter(|c| !c.is_empty()),
        strength,
        score,
        reasons,
        restricted: rec.restricted,
    }
}

/// Most candidates the name-only search scores.
const NAME_ONLY_SCAN: i64 = 300;
/// Most candidates the birth-date-only search scores (a state registry has a
/// few hundred people per birth date).
const BIRTH_DATE_SCAN: i64 = 500;

impl Registry {
    /// The portal's patient search: identifiers (any authority, or `#id`),
    /// names with a birth date (typo, nickname and swap tolerant through the
    /// matcher's blocking keys) or a surname alone; ranked by the matcher's
    /// score, each hit with the reasons it was found. Only people the actor
    /// may see are returned; the search is audited.
    pub async fn portal_search(
        &self,
        actor: &Actor,
        form: &SearchForm,
        limit: usize,
    ) -> Result<SearchResults, RegistryError> {
        let purpose = actor.role.default_purpose();
        if let Decision::Deny(why) = decide(actor, Action::SearchPatients, purpose, None) {
            let audit = audit_entry(actor, "search", purpose, "deny");
            return Err(self.denied(audit, why).await);
        }
        let clean = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let family = clean(&form.family);
        let given = clean(&form.given);
        let ident = clean(&form.identifier);
        if family.is_none() && ident.is_none() && form.birth_date.is_none() {
            return Err(RegistryError::Invalid(
                "Enter a last name, a birth date or an identifier".into(),
            ));
        }
        let q = PatientQuery {
            identifiers: Vec::new(),
            family: family.clone(),
            given: given.clone(),
            birth_date: form.birth_date,
            sex: form.sex,
            mother_maiden_family: None,
        };
        let qrec = normalize(&query_record(&q));
        let limit = limit.clamp(1, 100);
        let mut out = SearchResults::default();
        self.read(&mut |tx| {
            let mut ranked: Vec<Ranked> = Vec::new();
            if let Some(v) = &ident {
                let direct = v
                    .strip_prefix('#')
                    .and_then(|n| n.trim().parse::<i64>().ok())
                    .map(PatientId);
                let mut ids = Vec::new();
                if let Some(d) = direct {
                    if tx.load_patient(d)?.is_some() {
                        ids.push(d);
                    }
                } else {
                    ids = tx.find_by_identifier_value(v, 50)?;
                }
                for id in ids {
                    let root = tx.root_of(id)?;
                    let scored = score(tx, &qrec, root, family.is_some())?;
                    push_ranked(&mut ranked, (root, HitStrength::Likely, scored.0, scored.1));
                }
            }
            if family.is_some() {
                if form.birth_date.is_some() {
                    // The registry's exact search, then the matcher's candidates.
                    let (confident, possible) = candidates(tx, &q)?;
                    for (ids, strength) in [
                        (confident, HitStrength::Likely),
                        (possible, HitStrength::Possible),
                    ] {
                        for id in ids {
                            let root = tx.root_of(id)?;
                            let scored = score(tx, &qrec, root, true)?;
                            push_ranked(&mut ranked, (root, strength, scored.0, scored.1));
                        }
                    }
                    for c in linker().candidates(tx, &qrec, &|_| false)? {
                        let strength = match c.best.outcome {
                            Outcome::Match => HitStrength::Likely,
                            Outcome::PossibleMatch => HitStrength::Possible,
                            Outcome::NotAMatch => HitStrength::Weak,
                        };
                        let first_differs = c
                            .best
                            .result
                            .fields
                            .iter()
                            .any(|f| f.field == Field::FirstName && f.level == Level::Disagree);
                        if strength == HitStrength::Weak && (first_differs || c.best.score < 0.0) {
                            continue;
                        }
                        push_ranked(
                            &mut ranked,
                            (c.root, strength, Some(c.best.score), Some(c.best.result)),
                        );
                    }
                } else if let Some(f) = &family {
                    // Surname only (no birth date): the exact surname key,
                    // ranked by how well the rest agrees.
                    for id in tx.find_by_family(&name_key(f), NAME_ONLY_SCAN)? {
                        let (s, r) = score(tx, &qrec, id, true)?;
                        let first_differs = given.is_some()
                            && r.as_ref().is_some_and(|r| {
                                r.fields.iter().any(|f| {
                                    f.field == Field::FirstName && f.level == Level::Disagree
                                })
                            });
                        if first_differs {
                            continue;
                        }
                        let strength = match r.as_ref().map(|r| r.outcome) {
                            Some(Outcome::Match) => HitStrength::Likely,
                            Some(Outcome::PossibleMatch) => HitStrength::Possible,
                            _ => HitStrength::Weak,
                        };
                        push_ranked(&mut ranked, (id, strength, s, r));
                    }
                }
            }
            if let (None, Some(dob)) = (&family, form.birth_date) {
                // Birth date without a surname (a first name helps): everyone
                // born that day, ranked by how well the rest agrees; a first
                // name that disagrees drops the record.
                for id in tx.find_by_birth_date(dob, BIRTH_DATE_SCAN)? {
                    let (s, r) = score(tx, &qrec, id, given.is_some())?;
                    let first_differs = given.is_some()
                        && r.as_ref().is_some_and(|r| {
                            r.fields
                                .iter()
                                .any(|f| f.field == Field::FirstName && f.level == Level::Disagree)
                        });
                    if first_differs {
                        continue;
                    }
                    let strength = if given.is_some() {
                        HitStrength::Possible
                    } else {
                        HitStrength::Weak
                    };
                    push_ranked(&mut ranked, (id, strength, s, r));
                }
            }
            ranked.sort_by(|a, b| {
                a.1.cmp(&b.1)
                    .then(b.2.unwrap_or(f64::MIN).total_cmp(&a.2.unwrap_or(f64::MIN)))
            });
            out.hits.clear();
            out.truncated = false;
            for (id, strength, s, r) in ranked {
                if out.hits.len() >= limit {
                    out.truncated = true;
                    break;
                }
                let Some(rec) = load_visible(tx, self, actor, purpose, id)? else {
                    continue;
                };
                let why = r
                    .as_ref()
                    .map(|r| reasons(r, rec.restricted))
                    .unwrap_or_default();
                let mut why = why;
                if strength == HitStrength::Likely && ident.is_some() && why.is_empty() {
                    why.push("identifier same".into());
                }
                out.hits.push(hit_from(&rec, strength, s, why));
            }
            Ok(())
        })?;
        let mut audit = audit_entry(actor, "search", purpose, "allow");
        audit.patient_ids = out.hits.iter().map(|h| h.id).collect();
        audit.detail = Some(format!("portal search: {} shown", out.hits.len()));
        self.append_audit(audit).await?;
        Ok(out)
    }
}

/// A candidate: (survivor, strength, score, the matcher's comparison).
type Ranked = (
    PatientId,
    HitStrength,
    Option<f64>,
    Option<immunis_matching::MatchResult>,
);

/// Adds a candidate, or strengthens the one already found.
fn push_ranked(ranked: &mut Vec<Ranked>, entry: Ranked) {
    if let Some(existing) = ranked.iter_mut().find(|r| r.0 == entry.0) {
        if entry.1 < existing.1 {
            existing.1 = entry.1;
        }
        if existing.3.is_none() {
            existing.2 = entry.2;
            existing.3 = entry.3;
        }
    } else {
        ranked.push(entry);
    }
}

/// The matcher's comparison of the search with a stored record.
fn score(
    tx: &mut Tx<'_>,
    qrec: &immunis_matching::NormalizedRecord,
    id: PatientId,
    has_names: bool,
) -> Result<(Option<f64>, Option<immunis_matching::MatchResult>), StoreError> {
    if !has_names {
        return Ok((None, None));
    }
    let Some((_, _, n)) = linker().load(tx, id)? else {
        return Ok((None, None));
    };
    let r = linker().judge(qrec, &n);
    Ok((Some(r.score), Some(r)))
}

// ----------------------------------------------------------------- chart --

pub use crate::assessment::DueState;

/// The next dose of a vaccine group.
#[derive(Debug, Clone)]
pub struct NextDose {
    pub dose_number: u16,
    pub earliest: NaiveDate,
    pub recommended: NaiveDate,
    pub past_due: Option<NaiveDate>,
    pub latest: Option<NaiveDate>,
    pub vaccines: Vec<String>,
}

/// One dose as shown in the chart, with its CDSi evaluation.
#[derive(Debug, Clone)]
pub struct DoseView {
    /// Index into [`Chart::record`]`.doses`.
    pub index: usize,
    pub date: NaiveDate,
    pub cvx: String,
    pub vaccine: String,
    pub lot: Option<String>,
    pub facility: String,
    /// How many sources reported this dose.
    pub reports: usize,
    pub historical: bool,
    /// Valid for every antigen of the group it is shown under.
    pub valid: bool,
    /// `Antigen: Status — reason` for the antigens that did not count it.
    pub notes: Vec<String>,
    /// The portal source id when the actor's organization recorded the dose
    /// by hand (then it can be edited or deleted here).
    pub editable_source: Option<String>,
}

#[derive(Debug, Clone)]
pub struct GroupView {
    pub name: String,
    pub status: String,
    pub state: DueState,
    pub next: Option<NextDose>,
    pub doses: Vec<DoseView>,
}

/// The chart: the record as the actor may see it, evaluated and forecast.
#[derive(Debug, Clone)]
pub struct Chart {
    pub record: PatientRecord,
    pub groups: Vec<GroupView>,
    /// Doses no vaccine group evaluated (unknown or non-US products).
    pub other_doses: Vec<DoseView>,
    pub changes: Vec<DoseChange>,
    pub assessed_on: NaiveDate,
    /// The clinical data the evaluation rests on, and what of it is out of
    /// date on the assessment date.
    pub currency: DataCurrency,
}

impl Chart {
    /// Groups needing a dose now (overdue first), for the summary line.
    pub fn due_now(&self) -> Vec<&GroupView> {
        let mut v: Vec<&GroupView> = self
            .groups
            .iter()
            .filter(|g| matches!(g.state, DueState::Overdue | DueState::DueNow))
            .collect();
        v.sort_by_key(|g| g.state);
        v
    }

    /// The earliest upcoming recommended date over the groups not due yet.
    pub fn next_visit(&self) -> Option<&GroupView> {
        self.groups
            .iter()
            .filter(|g| matches!(g.state, DueState::Upcoming | DueState::CanGive))
            .filter(|g| g.next.is_some())
            .min_by_key(|g| g.next.as_ref().map(|n| n.recommended))
    }
}

/// Portal source ids are `P<journal id>-<n>`.
fn is_portal_source(s: &str) -> bool {
    s.strip_prefix('P').is_some_and(|r| {
        r.split_once('-').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
    })
}

impl Registry {
    /// The facilities of the actor's organization (where a portal user
    /// records from).
    pub fn portal_facilities(&self, actor: &Actor) -> Result<Vec<Facility>, RegistryError> {
        let Some(org) = actor.organization else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        self.read(&mut |tx| {
            out = tx
                .list_facilities()?
                .into_iter()
                .filter(|(f, _)| f.organization_id == org)
                .map(|(f, _)| f)
                .collect();
            Ok(())
        })?;
        Ok(out)
    }

    /// The conditions the forecast understands (CDSi observation code, title),
    /// for the evidence-of-immunity / contraindication form.
    pub fn portal_observation_choices(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .engine()
            .data()
            .observations
            .iter()
            .map(|o| (format!("{:03}", o.code), o.title.clone()))
            .collect();
        v.sort_by(|a, b| a.1.cmp(&b.1));
        v
    }

    /// The chart of one person as the actor may see it (audited as a read):
    /// history grouped by vaccine group with each dose's evaluation, and the
    /// forecast as of `today`.
    pub async fn portal_chart(
        &self,
        actor: &Actor,
        id: PatientId,
        today: NaiveDate,
    ) -> Result<Chart, RegistryError> {
        self.portal_chart_with(actor, id, today, |c| c).await
    }

    /// [`Registry::portal_chart`], turned into the caller's answer (a page)
    /// by `render`. The CDSi evaluation and forecast and the rendering run
    /// while the read's audit entry is being made durable, and the chart is
    /// freed on the thread that built it; the answer is released once the
    /// entry is durable (bench_audit's charts; BENCHMARKS-security.md).
    pub async fn portal_chart_with<R>(
        &self,
        actor: &Actor,
        id: PatientId,
        today: NaiveDate,
        render: impl FnOnce(Chart) -> R,
    ) -> Result<R, RegistryError> {
        let purpose = actor.role.default_purpose();
        let (record, pending) = self.begin_record_read(actor, purpose, id)?;
        let answer = match record {
            Some(record) => self.chart_of(actor, record, today).map(render),
            None => Err(RegistryError::NotFound("patient".into())),
        };
        self.finish_audit(pending).await?;
        answer
    }

    fn chart_of(
        &self,
        actor: &Actor,
        record: PatientRecord,
        today: NaiveDate,
    ) -> Result<Chart, RegistryError> {
        let own: Vec<String> = self
            .portal_facilities(actor)?
            .into_iter()
            .map(|f| f.code)
            .collect();
        let mut changes = Vec::new();
        if !record.restricted {
            let rid = record.id;
            self.read(&mut |tx| {
                changes.clear();
                for member in tx.cluster_of(rid)? {
                    changes.extend(tx.dose_changes(member)?);
                }
                Ok(())
            })?;
        } else {
            let rid = record.id;
            let own = own.clone();
            self.read(&mut |tx| {
                changes = tx
                    .dose_changes(rid)?
                    .into_iter()
                    .filter(|c| own.contains(&c.facility_code))
                    .collect();
                Ok(())
            })?;
        }
        Ok(build_chart(self, record, &own, changes, today))
    }
}

fn build_chart(
    reg: &Registry,
    record: PatientRecord,
    own: &[String],
    changes: Vec<DoseChange>,
    today: NaiveDate,
) -> Chart {
    let engine = reg.engine();
    let assessed = reg.assess(&record, today);
    let ev = &assessed.evaluated;
    let codes = reg.codes();
    let dose_view = |i: usize| -> Option<DoseView> {
        let d = record.doses.get(i)?;
        let e = &d.primary.event;
        let cvx = e
            .cvx
            .as_ref()
            .map(|c| c.as_str().to_string())
            .unwrap_or_default();
        let vaccine = e
            .cvx
            .as_ref()
            .and_then(|c| codes.cvx(c))
            .map(|c| c.short_description.clone())
            .unwrap_or_else(|| format!("CVX {cvx}"));
        let editable_source = e
            .filler_order_number
            .clone()
            .filter(|s| is_portal_source(s) && own.contains(&d.primary.facility_code));
        Some(DoseView {
            index: i,
            date: e.administered_date?,
            cvx,
            vaccine,
            lot: e.lot_number.clone(),
            facility: d.primary.facility_code.clone(),
            reports: d.sources.len(),
            historical: !e.information_source.is_administered(),
            valid: true,
            notes: Vec::new(),
            editable_source,
        })
    };
    let mut shown = vec![false; record.doses.len()];
    let mut groups = Vec::new();
    for ga in assessed.groups() {
        let g = ga.result;
        let next = ga.forecast().map(|f| NextDose {
            dose_number: f.dose_number,
            earliest: f.earliest,
            recommended: f.recommended,
            past_due: f.past_due,
            latest: f.latest,
            vaccines: f
                .vaccines
                .iter()
                .map(|c| {
                    let code = format!("{:02}", c.0);
                    immunis_model::Cvx::parse(&code)
                        .ok()
                        .and_then(|cv| codes.cvx(&cv).map(|i| i.short_description.clone()))
                        .unwrap_or(code)
                })
                .collect(),
        });
        let mut doses: Vec<DoseView> = Vec::new();
        for e in &g.evaluations {
            let Some(&ri) = ev.dose_map.get(e.dose_index) else {
                continue;
            };
            let pos = match doses.iter().position(|d| d.index == ri) {
                Some(p) => p,
                None => {
                    let Some(v) = dose_view(ri) else { continue };
                    if let Some(s) = shown.get_mut(ri) {
                        *s = true;
                    }
                    doses.push(v);
                    doses.len() - 1
                }
            };
            if e.status != DoseStatus::Valid {
                if let Some(d) = doses.get_mut(pos) {
                    d.valid = false;
                    let why: Vec<&str> = e.reasons.iter().map(|r| r.as_str()).collect();
                    let mut note =
                        format!("{}: {}", engine.antigen_name(e.antigen), e.status.as_str());
                    if !why.is_empty() {
                        note.push_str(" — ");
                        note.push_str(&why.join(", "));
                    }
                    d.notes.push(note);
                }
            }
        }
        doses.sort_by_key(|d| (d.date, d.index));
        // Expired seasonal data answers "not recommended" for the season it
        // no longer covers: the assessment gives no forecast, the status
        // says why.
        let status = match ga.season_ended {
            Some(last) => format!(
                "Cannot be assessed: the CDC schedule data's season ended {}",
                last.format("%b %-d, %Y")
            ),
            None => g.status.as_str().to_string(),
        };
        groups.push(GroupView {
            name: ga.name.to_string(),
            status,
            state: ga.state,
            next,
            doses,
        });
    }
    let other_doses = (0..record.doses.len())
        .filter(|i| !shown.get(*i).copied().unwrap_or(true))
        .filter_map(dose_view)
        .collect();
    Chart {
        record,
        groups,
        other_doses,
        changes,
        assessed_on: ev.assessed_on,
        currency: assessed.currency.clone(),
    }
}

// ----------------------------------------------------------------- writes --

/// A dose typed into the portal.
#[derive(Debug, Clone, Default)]
pub struct DoseEntry {
    /// `true`: given here today or earlier by this facility (RXA-9 `00`);
    /// `false`: a historical dose from a paper card (RXA-9 `01`).
    pub administered: bool,
    pub date: Option<NaiveDate>,
    pub cvx: String,
    /// A lot of the facility's inventory (fills lot, manufacturer, expiry,
    /// route, site, amount unless given).
    pub lot_id: Option<i64>,
    pub lot_number: Option<String>,
    pub mvx: Option<String>,
    pub route: Option<String>,
    pub site: Option<String>,
    pub amount_ml: Option<String>,
    /// Who gave it (free text, RXA-10).
    pub given_by: Option<String>,
    /// The lot's expiration date (RXA-16) when no inventory lot gives it.
    pub expiration: Option<NaiveDate>,
    /// VFC / funding eligibility at the time of the dose (OBX 64994-7, e.g. `V02`).
    pub funding_eligibility: Option<String>,
    /// Funding source of the dose (OBX 30963-3, e.g. `VXC1`), when no lot gives it.
    pub funding_source: Option<String>,
    /// The Vaccine Information Statements given (document, published,
    /// presented); rows with an empty document are ignored.
    pub vis: Vec<VisDocument>,
}

impl DoseEntry {
    /// The entry that reproduces a stored dose: what a correction form shows
    /// before the user changes anything.
    pub fn of_event(e: &VaccinationEvent) -> DoseEntry {
        let code = |c: &Option<Code>| c.as_ref().map(|c| c.code.clone());
        DoseEntry {
            administered: matches!(e.information_source, InformationSource::Administered),
            date: e.administered_date,
            cvx: e
                .cvx
                .as_ref()
                .map(|c| c.as_str().to_string())
                .unwrap_or_default(),
            lot_id: None,
            lot_number: e.lot_number.clone(),
            mvx: e.mvx.as_ref().map(|m| m.as_str().to_string()),
            route: code(&e.route),
            site: code(&e.site),
            amount_ml: e.amount.map(|a| a.to_string()),
            given_by: code(&e.administering_provider),
            expiration: e.expiration_date,
            funding_eligibility: code(&e.funding_eligibility),
            funding_source: code(&e.funding_source),
            vis: e.vis.clone(),
        }
    }
}

/// A refusal typed into the portal (RXA-20 `RE`, RXA-18 NIP002).
#[derive(Debug, Clone)]
pub struct RefusalEntry {
    pub date: Option<NaiveDate>,
    pub cvx: String,
    /// NIP002: 00 parental decision, 01 religious exemption, 02 other, 03 patient decision.
    pub reason: String,
}

/// What a portal write did.
#[derive(Debug, Clone)]
pub struct PortalWrite {
    pub patient_id: PatientId,
    /// `None` when nothing was changed and nothing journaled.
    pub journal_id: Option<i64>,
    pub outcome: IngestOutcome,
    /// The source id given to a new dose.
    pub source_id: Option<String>,
}

/// Identifies the patient the chart is open on: the portal never re-matches
/// a person the user already chose.
struct Pinned(PatientId);

impl PatientMatcher for Pinned {
    fn identify(
        &self,
        _tx: &mut Tx<'_>,
        _incoming: &Patient,
        _doses: &[DoseReport],
    ) -> Result<MatchDecision, StoreError> {
        Ok(MatchDecision::Existing(self.0))
    }
}

fn invalid(msg: impl Into<String>) -> RegistryError {
    RegistryError::Invalid(msg.into())
}

fn parse_cvx(reg: &Registry, raw: &str) -> Result<Cvx, RegistryError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(invalid("Choose the vaccine (CVX code)"));
    }
    let cvx = Cvx::parse(raw).map_err(|_| invalid(format!("{raw:?} is not a CVX code")))?;
    if !reg.codes().is_known_cvx(&cvx) {
        return Err(invalid(format!("CVX {raw} is not in the CDC CVX table")));
    }
    Ok(cvx)
}

fn check_date(
    what: &str,
    date: Option<NaiveDate>,
    birth: NaiveDate,
    today: NaiveDate,
) -> Result<NaiveDate, RegistryError> {
    let d = date.ok_or_else(|| invalid(format!("Enter the {what} date")))?;
    if d > today {
        return Err(invalid(format!("The {what} date {d} is in the future")));
    }
    if d < birth {
        return Err(invalid(format!(
            "The {what} date {d} is before the birth date {birth}"
        )));
    }
    Ok(d)
}

fn opt(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A correction rebuilds the dose from the form; what the form does not show
/// (NDC, trade name, ordering provider, the coding text of an unchanged code,
/// units of an unchanged amount, the historical source's code) is taken from
/// the stored version, and so is "entered by" when nothing else differs.
fn keep_what_the_form_does_not_edit(
    stored: &VaccinationEvent,
    event: &mut VaccinationEvent,
    editor: &str,
) {
    event.ndc.clone_from(&stored.ndc);
    event.trade_name.clone_from(&stored.trade_name);
    event
        .ordering_provider
        .clone_from(&stored.ordering_provider);
    event
        .placer_order_number
        .clone_from(&stored.placer_order_number);
    if event.amount == stored.amount {
        event.units.clone_from(&stored.units);
    }
    if let (InformationSource::Historical(_), InformationSource::Historical(_)) =
        (&event.information_source, &stored.information_source)
    {
        event.information_source = stored.information_source.clone();
    }
    if event.information_source == stored.information_source {
        event
            .administering_facility
            .clone_from(&stored.administering_facility);
    }
    for (new, old) in [
        (&mut event.route, &stored.route),
        (&mut event.site, &stored.site),
        (&mut event.funding_eligibility, &stored.funding_eligibility),
        (&mut event.funding_source, &stored.funding_source),
        (
            &mut event.administering_provider,
            &stored.administering_provider,
        ),
    ] {
        if let (Some(n), Some(o)) = (new.as_ref(), old.as_ref()) {
            if n.code == o.code {
                *new = Some(o.clone());
            }
        }
    }
    event.entered_by.clone_from(&stored.entered_by);
    if event != stored {
        event.entered_by = Some(Code::new(editor));
    }
}

/// A summary of a portal submission for the message journal (what the person
/// entered, in the order entered).
fn journal_text(
    actor: &Actor,
    facility: &str,
    patient: PatientId,
    what: &str,
    lines: &[String],
) -> Vec<u8> {
    let mut s = format!(
        "IMMUNIS-PORTAL 1\nuser: {}\nfacility: {facility}\npatient: {}\naction: {what}\n",
        actor.subject, patient.0
    );
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    s.into_bytes()
}

/// One hand submission to apply.
struct HandSubmission {
    patient: PatientId,
    facility: String,
    what: &'static str,
    doses: Vec<DoseReport>,
    observations: Vec<PatientObservation>,
    /// Assign `P<journal>-<n>` to doses without a source id.
    assign_sources: bool,
    change: Option<(String, &'static str, String)>,
    lines: Vec<String>,
}

impl Registry {
    /// The facility the actor records from: `requested` if it is one of the
    /// actor's organization's, else the organization's only (or first) one.
    fn portal_facility(
        &self,
        actor: &Actor,
        requested: Option<&str>,
    ) -> Result<String, RegistryError> {
        let facilities = self.portal_facilities(actor)?;
        match requested.map(str::trim).filter(|s| !s.is_empty()) {
            Some(code) => facilities
                .iter()
                .find(|f| f.code == code)
                .map(|f| f.code.clone())
                .ok_or(RegistryError::Denied(
                    "that facility is not one of your organization's",
                )),
            None => facilities
                .first()
                .map(|f| f.code.clone())
                .ok_or(RegistryError::Denied(
                    "your organization has no registered facility to record from",
                )),
        }
    }

    /// Checks the actor may submit and see this person; returns the record
    /// (as the actor sees it).
    async fn portal_target(
        &self,
        actor: &Actor,
        patient: PatientId,
    ) -> Result<PatientRecord, RegistryError> {
        if let Decision::Deny(why) = decide(actor, Action::SubmitRecord, Purpose::Treatment, None) {
            let audit = audit_entry(actor, "portal_submit", Purpose::Treatment, "deny");
            return Err(self.denied(audit, why).await);
        }
        self.patient_record(actor, actor.role.default_purpose(), patient)
            .await
    }

    async fn portal_apply(
        &self,
        actor: &Actor,
        sub: HandSubmission,
    ) -> Result<PortalWrite, RegistryError> {
        let entry = JournalEntry {
            transport: "portal".into(),
            facility_code: Some(sub.facility.clone()),
            remote_addr: actor.client_addr.clone(),
            message_control_id: None,
            message_type: Some(format!("PORTAL^{}", sub.what.to_ascii_uppercase())),
            raw: journal_text(actor, &sub.facility, sub.patient, sub.what, &sub.lines),
        };
        let mut audit = audit_entry(actor, "ingest", Purpose::Treatment, "allow");
        let who = actor.subject.clone();
        let audit_on = self.audit_enabled();
        self.writer
            .run(move |tx| {
                let root = tx.root_of(sub.patient)?;
                let stored = tx
                    .load_patient(root)?
                    .ok_or(StoreError::NotFound("patient"))?;
                let jid = tx.journal_insert(&entry)?;
                let mut doses = sub.doses.clone();
                let mut first_source = None;
                if sub.assign_sources {
                    for (i, d) in doses.iter_mut().enumerate() {
                        if d.event.filler_order_number.is_none() {
                            let s = format!("P{jid}-{}", i + 1);
                            first_source.get_or_insert_with(|| s.clone());
                            d.event.filler_order_number = Some(s);
                        }
                    }
                }
                let submission = PatientSubmission {
                    source: SubmissionSource {
                        facility_code: sub.facility.clone(),
                        message_control_id: format!("PORTAL{jid}"),
                    },
                    patient: stored.patient.clone(),
                    doses,
                    observations: sub.observations.clone(),
                };
                // The person the chart is open on; within a merged cluster the
                // record that holds the dose being changed keeps it (ingest).
                let outcome = apply_submission(tx, &Pinned(root), &submission, Some(jid))?;
                if outcome.doses.contains(&DoseOutcome::NotFound) {
                    return Err(StoreError::Conflict(
                        "that dose was not recorded by your facility (or was already deleted)".into(),
                    ));
                }
                let changed = outcome.doses.iter().any(|d| *d != DoseOutcome::Unchanged);
                if let Some((source, action, reason)) = sub.change.as_ref().filter(|_| changed) {
                    tx.insert_dose_change(&NewDoseChange {
                        patient_id: root,
                        facility_code: &sub.facility,
                        source_id: source,
                        action,
                        reason,
                        actor: &who,
                        journal_id: Some(jid),
                    })?;
                }
                let summary = format!(
                    "AA portal {}: doses added {} updated {} deleted {} unchanged {}; observations added {}",
                    sub.what,
                    outcome.count(DoseOutcome::Added),
                    outcome.count(DoseOutcome::Updated),
                    outcome.count(DoseOutcome::Deleted),
                    outcome.count(DoseOutcome::Unchanged),
                    outcome.observations_added
                );
                tx.journal_respond(jid, summary.as_bytes(), "AA", Some(root))?;
                audit.patient_ids = vec![root];
                audit.detail = Some(format!("journal {jid}; {}", summary.trim_start_matches("AA ")));
                if audit_on {
                    tx.append_audit(&audit)?;
                }
                Ok(PortalWrite {
                    patient_id: root,
                    journal_id: Some(jid),
                    outcome,
                    source_id: first_source,
                })
            })
            .await
    }

    fn dose_event(
        &self,
        actor: &Actor,
        facility: &str,
        entry: &DoseEntry,
        birth: NaiveDate,
        today: NaiveDate,
    ) -> Result<(VaccinationEvent, Vec<String>), RegistryError> {
        let what = if entry.administered {
            "vaccination"
        } else {
            "historical dose"
        };
        let date = check_date(what, entry.date, birth, today)?;
        let mut lot: Option<FacilityLot> = None;
        if let Some(id) = entry.lot_id {
            let mut found = None;
            self.read(&mut |tx| {
                found = tx.lot(id)?;
                Ok(())
            })?;
            let l = found
                .filter(|l| l.facility_code == facility)
                .ok_or_else(|| invalid("That lot is not in your facility's inventory"))?;
            lot = Some(l);
        }
        let cvx_raw = if entry.cvx.trim().is_empty() {
            lot.as_ref().map(|l| l.cvx.clone()).unwrap_or_default()
        } else {
            entry.cvx.clone()
        };
        let cvx = parse_cvx(self, &cvx_raw)?;
        if let Some(l) = &lot {
            if l.cvx != cvx.as_str() {
                return Err(invalid(format!(
                    "Lot {} is CVX {}, not the chosen vaccine (CVX {})",
                    l.lot_number,
                    l.cvx,
                    cvx.as_str()
                )));
            }
            if l.expiration_date.is_some_and(|x| x < date) && entry.administered {
                return Err(invalid(format!(
                    "Lot {} expired on {} (before {date})",
                    l.lot_number,
                    l.expiration_date.map(|d| d.to_string()).unwrap_or_default()
                )));
            }
        }
        let lot_number =
            opt(&entry.lot_number).or_else(|| lot.as_ref().map(|l| l.lot_number.clone()));
        if entry.administered && lot_number.is_none() {
            return Err(invalid(
                "Enter the lot number (or choose a lot from your inventory)",
            ));
        }
        let mvx_raw = opt(&entry.mvx).or_else(|| lot.as_ref().and_then(|l| l.mvx.clone()));
        let mvx = match mvx_raw {
            Some(m) => Some(
                Mvx::parse(&m)
                    .map_err(|_| invalid(format!("{m:?} is not an MVX manufacturer code")))?,
            ),
            None => None,
        };
        let amount_raw =
            opt(&entry.amount_ml).or_else(|| lot.as_ref().and_then(|l| l.amount_ml.clone()));
        let amount = match amount_raw {
            Some(a) => Some(
                a.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v > 0.0 && *v <= 10.0)
                    .ok_or_else(|| {
                        invalid(format!(
                            "Amount {a:?} must be a number of mL between 0 and 10"
                        ))
                    })?,
            ),
            None => None,
        };
        let route = opt(&entry.route).or_else(|| lot.as_ref().and_then(|l| l.route.clone()));
        let site = opt(&entry.site).or_else(|| lot.as_ref().and_then(|l| l.site.clone()));
        let codes = self.codes();
        let coded = |set: ValueSet, what: &str, v: Option<String>| match v {
            Some(c) if !codes.is_valid_code(set, &c) => {
                Err(invalid(format!("{c:?} is not a known {what} code")))
            }
            v => Ok(v.map(Code::new)),
        };
        let route_code = coded(ValueSet::Route, "route", route.clone())?;
        let site_code = coded(ValueSet::Site, "body site", site.clone())?;
        let funding_eligibility = coded(
            ValueSet::FundingEligibility,
            "VFC eligibility",
            opt(&entry.funding_eligibility),
        )?;
        let funding_source = coded(
            ValueSet::FundingSource,
            "funding source",
            opt(&entry.funding_source)
                .or_else(|| lot.as_ref().and_then(|l| l.funding_source.clone())),
        )?;
        let expiration_date = lot
            .as_ref()
            .and_then(|l| l.expiration_date)
            .or(entry.expiration);
        if let Some(x) = expiration_date.filter(|x| *x < date && entry.administered) {
            return Err(invalid(format!(
                "Lot {} expired on {x}, before the date given ({date}): an expired lot cannot be administered",
                lot_number.as_deref().unwrap_or_default()
            )));
        }
        let mut vis = Vec::new();
        for v in &entry.vis {
            let document = v.document.trim();
            if document.is_empty() {
                continue;
            }
            if let Some(p) = v.presented.filter(|p| *p > today) {
                return Err(invalid(format!(
                    "The date the information statement was given ({p}) is in the future"
                )));
            }
            vis.push(VisDocument {
                document: document.to_string(),
                published: v.published,
                presented: v.presented,
            });
        }
        let event = VaccinationEvent {
            administered_date: Some(date),
            cvx: Some(cvx.clone()),
            mvx: mvx.clone(),
            lot_number: lot_number.clone(),
            expiration_date,
            amount,
            units: amount.map(|_| "mL".to_string()),
            route: route_code,
            site: site_code,
            information_source: if entry.administered {
                InformationSource::Administered
            } else {
                InformationSource::Historical("01".into())
            },
            completion: CompletionStatus::Complete,
            funding_eligibility,
            funding_source,
            vis,
            administering_facility: entry.administered.then(|| Code::new(facility)),
            administering_provider: opt(&entry.given_by).map(Code::new),
            entered_by: Some(Code::new(actor.subject.as_str())),
            ..Default::default()
        };
        let lines = vec![
            format!(
                "kind: {}",
                if entry.administered {
                    "administered"
                } else {
                    "historical"
                }
            ),
            format!("date: {date}"),
            format!("cvx: {}", cvx.as_str()),
            format!("lot: {}", lot_number.unwrap_or_default()),
            format!(
                "mvx: {}",
                mvx.map(|m| m.as_str().to_string()).unwrap_or_default()
            ),
            format!("route: {}", route.unwrap_or_default()),
            format!("site: {}", site.unwrap_or_default()),
        ];
        Ok((event, lines))
    }

    /// Records a dose (administered here, or historical from a paper card)
    /// from the actor's facility: journaled and applied like an HL7 dose.
    pub async fn portal_record_dose(
        &self,
        actor: &Actor,
        patient: PatientId,
        facility: Option<&str>,
        entry: &DoseEntry,
        today: NaiveDate,
    ) -> Result<PortalWrite, RegistryError> {
        let rec = self.portal_target(actor, patient).await?;
        let facility = self.portal_facility(actor, facility)?;
        let (event, lines) =
            self.dose_event(actor, &facility, entry, rec.patient.birth_date.0, today)?;
        self.portal_apply(
            actor,
            HandSubmission {
                patient: rec.id,
                facility,
                what: "dose",
                doses: vec![DoseReport {
                    action: DoseAction::Add,
                    event,
                }],
                observations: Vec::new(),
                assign_sources: true,
                change: None,
                lines,
            },
        )
        .await
    }

    /// Corrects a dose this facility recorded in the portal (RXA-21 `U` of
    /// its source id); the earlier version stays, superseded.
    pub async fn portal_update_dose(
        &self,
        actor: &Actor,
        patient: PatientId,
        source_id: &str,
        entry: &DoseEntry,
        reason: &str,
        today: NaiveDate,
    ) -> Result<PortalWrite, RegistryError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(invalid("Give the reason for the correction"));
        }
        if !is_portal_source(source_id) {
            return Err(invalid(
                "Only doses recorded in the portal can be corrected here",
            ));
        }
        let rec = self.portal_target(actor, patient).await?;
        let (facility, stored) = self.owned_portal_dose(actor, rec.id, source_id)?;
        let (mut event, mut lines) =
            self.dose_event(actor, &facility, entry, rec.patient.birth_date.0, today)?;
        event.filler_order_number = Some(source_id.to_string());
        keep_what_the_form_does_not_edit(&stored, &mut event, &actor.subject);
        if event == stored {
            // Nothing changed: no new version, no change record.
            return Ok(PortalWrite {
                patient_id: rec.id,
                journal_id: None,
                outcome: IngestOutcome {
                    doses: vec![DoseOutcome::Unchanged],
                    ..Default::default()
                },
                source_id: Some(source_id.to_string()),
            });
        }
        lines.push(format!("source: {source_id}"));
        lines.push(format!("reason: {reason}"));
        self.portal_apply(
            actor,
            HandSubmission {
                patient: rec.id,
                facility,
                what: "update",
                doses: vec![DoseReport {
                    action: DoseAction::Update,
                    event,
                }],
                observations: Vec::new(),
                assign_sources: false,
                change: Some((source_id.to_string(), "update", reason.to_string())),
                lines,
            },
        )
        .await
    }

    /// Deletes a dose this facility recorded in the portal (RXA-21 `D`); the
    /// event stays in the history, marked deleted, with the reason.
    pub async fn portal_delete_dose(
        &self,
        actor: &Actor,
        patient: PatientId,
        source_id: &str,
        reason: &str,
    ) -> Result<PortalWrite, RegistryError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(invalid("Give the reason for the deletion"));
        }
        if !is_portal_source(source_id) {
            return Err(invalid(
                "Only doses recorded in the portal can be deleted here",
            ));
        }
        let rec = self.portal_target(actor, patient).await?;
        let (facility, _) = self.owned_portal_dose(actor, rec.id, source_id)?;
        let event = VaccinationEvent {
            filler_order_number: Some(source_id.to_string()),
            ..Default::default()
        };
        self.portal_apply(
            actor,
            HandSubmission {
                patient: rec.id,
                facility,
                what: "delete",
                doses: vec![DoseReport {
                    action: DoseAction::Delete,
                    event,
                }],
                observations: Vec::new(),
                assign_sources: false,
                change: Some((source_id.to_string(), "delete", reason.to_string())),
                lines: vec![format!("source: {source_id}"), format!("reason: {reason}")],
            },
        )
        .await
    }

    /// The facility of the actor's organization that recorded this source id
    /// for this person, and the dose's current (active) version.
    fn owned_portal_dose(
        &self,
        actor: &Actor,
        patient: PatientId,
        source: &str,
    ) -> Result<(String, VaccinationEvent), RegistryError> {
        let own: Vec<String> = self
            .portal_facilities(actor)?
            .into_iter()
            .map(|f| f.code)
            .collect();
        let mut found = None;
        let src = source.to_string();
        self.read(&mut |tx| {
            found = None;
            let root = tx.root_of(patient)?;
            let cluster = tx.cluster_of(root)?;
            for code in &own {
                if let Some((_, pid, doc)) = tx.find_event_doc_by_source(code, &src)? {
                    if cluster.contains(&pid) {
                        found = Some((code.clone(), immunis_store::event_from_doc(&doc)?));
                        break;
                    }
                }
            }
            Ok(())
        })?;
        found.ok_or(RegistryError::Denied(
            "that dose was not recorded by your organization in the portal",
        ))
    }

    /// A dose this organization recorded in the portal, as the correction
    /// form shows it: every stored detail, read through the same access
    /// decision (and audit) as the chart.
    pub async fn portal_dose_entry(
        &self,
        actor: &Actor,
        patient: PatientId,
        source_id: &str,
    ) -> Result<DoseEntry, RegistryError> {
        if !is_portal_source(source_id) {
            return Err(invalid(
                "Only doses recorded in the portal can be corrected here",
            ));
        }
        let rec = self.portal_target(actor, patient).await?;
        let (_, stored) = self.owned_portal_dose(actor, rec.id, source_id)?;
        Ok(DoseEntry::of_event(&stored))
    }

    /// Records a refusal of a vaccine.
    pub async fn portal_record_refusal(
        &self,
        actor: &Actor,
        patient: PatientId,
        facility: Option<&str>,
        entry: &RefusalEntry,
        today: NaiveDate,
    ) -> Result<PortalWrite, RegistryError> {
        let rec = self.portal_target(actor, patient).await?;
        let facility = self.portal_facility(actor, facility)?;
        let date = check_date("refusal", entry.date, rec.patient.birth_date.0, today)?;
        let cvx = parse_cvx(self, &entry.cvx)?;
        let reason = entry.reason.trim();
        if !matches!(reason, "00" | "01" | "02" | "03") {
            return Err(invalid("Choose the reason for the refusal"));
        }
        let event = VaccinationEvent {
            administered_date: Some(date),
            cvx: Some(cvx.clone()),
            completion: CompletionStatus::Refused,
            refusal_reason: Some(Code::new(reason)),
            entered_by: Some(Code::new(actor.subject.as_str())),
            ..Default::default()
        };
        self.portal_apply(
            actor,
            HandSubmission {
                patient: rec.id,
                facility,
                what: "refusal",
                doses: vec![DoseReport {
                    action: DoseAction::Add,
                    event,
                }],
                observations: Vec::new(),
                assign_sources: true,
                change: None,
                lines: vec![
                    format!("date: {date}"),
                    format!("cvx: {}", cvx.as_str()),
                    format!("reason: {reason}"),
                ],
            },
        )
        .await
    }

    /// Records evidence of immunity, a contraindication or a precaution
    /// (a SNOMED / CDC code or a CDSi observation code), which the forecast
    /// uses.
    #[allow(clippy::too_many_arguments)]
    pub async fn portal_record_observation(
        &self,
        actor: &Actor,
        patient: PatientId,
        facility: Option<&str>,
        kind: ObservationKind,
        code: &str,
        date: Option<NaiveDate>,
        today: NaiveDate,
    ) -> Result<PortalWrite, RegistryError> {
        let rec = self.portal_target(actor, patient).await?;
        let facility = self.portal_facility(actor, facility)?;
        let code = code.trim();
        if code.is_empty()
            || code.len() > 20
            || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(invalid("Choose the condition (a code from the list)"));
        }
        let date = match date {
            Some(_) => Some(check_date(
                "observation",
                date,
                rec.patient.birth_date.0,
                today,
            )?),
            None => None,
        };
        self.portal_apply(
            actor,
            HandSubmission {
                patient: rec.id,
                facility,
                what: "observation",
                doses: Vec::new(),
                observations: vec![PatientObservation {
                    kind,
                    value: Code::new(code),
                    date,
                }],
                assign_sources: false,
                change: None,
                lines: vec![
                    format!("kind: {}", kind.as_str()),
                    format!("code: {code}"),
                    format!("date: {}", date.map(|d| d.to_string()).unwrap_or_default()),
                ],
            },
        )
        .await
    }

    /// The people a new record may duplicate (the matcher's candidates the
    /// actor may see), shown before a new patient is created. Audited.
    pub async fn portal_duplicate_check(
        &self,
        actor: &Actor,
        patient: &Patient,
    ) -> Result<Vec<SearchHit>, RegistryError> {
        let purpose = actor.role.default_purpose();
        if let Decision::Deny(why) = decide(actor, Action::SearchPatients, purpose, None) {
            let mut audit = audit_entry(actor, "search", purpose, "deny");
            audit.detail = Some("portal duplicate check".into());
            return Err(self.denied(audit, why).await);
        }
        let rec = normalize(&to_match_record(patient, std::iter::empty()));
        let mut hits = Vec::new();
        self.read(&mut |tx| {
            hits.clear();
            for c in linker().candidates(tx, &rec, &|_| false)? {
                let strength = match c.best.outcome {
                    Outcome::Match => HitStrength::Likely,
                    Outcome::PossibleMatch => HitStrength::Possible,
                    Outcome::NotAMatch => continue,
                };
                if let Some(r) = load_visible(tx, self, actor, purpose, c.root)? {
                    let why = reasons(&c.best.result, r.restricted);
                    hits.push(hit_from(&r, strength, Some(c.best.score), why));
                }
                if hits.len() >= 10 {
                    break;
                }
            }
            Ok(())
        })?;
        let mut audit = audit_entry(actor, "search", purpose, "allow");
        audit.patient_ids = hits.iter().map(|h| h.id).collect();
        audit.detail = Some(format!("portal duplicate check: {} shown", hits.len()));
        self.append_audit(audit).await?;
        Ok(hits)
    }

    /// Registers a new person from the actor's facility, through the
    /// registry's matcher like any submission: a clear Match is not created
    /// again (the existing record is returned), a Possible Match is created
    /// and queued for review.
    pub async fn portal_register_patient(
        &self,
        actor: &Actor,
        facility: Option<&str>,
        patient: Patient,
        today: NaiveDate,
    ) -> Result<(PatientId, IngestOutcome), RegistryError> {
        if let Decision::Deny(why) = decide(actor, Action::SubmitRecord, Purpose::Treatment, None) {
            let mut audit = audit_entry(actor, "portal_submit", Purpose::Treatment, "deny");
            audit.detail = Some("register patient".into());
            return Err(self.denied(audit, why).await);
        }
        if patient.birth_date.0 > today {
            return Err(invalid("The birth date is in the future"));
        }
        if patient.legal_name().family.trim().is_empty() {
            return Err(invalid("Enter the last name"));
        }
        let facility = self.portal_facility(actor, facility)?;
        let entry = JournalEntry {
            transport: "portal".into(),
            facility_code: Some(facility.clone()),
            remote_addr: actor.client_addr.clone(),
            message_control_id: None,
            message_type: Some("PORTAL^PATIENT".into()),
            raw: journal_text(
                actor,
                &facility,
                PatientId(0),
                "register",
                &[
                    format!("name: {}", patient.legal_name().display()),
                    format!("birth: {}", patient.birth_date.0),
                    format!("sex: {}", patient.sex.hl7()),
                ],
            ),
        };
        let matcher = self.matcher.clone();
        let mut audit = audit_entry(actor, "ingest", Purpose::Treatment, "allow");
        let audit_on = self.audit_enabled();
        self.writer
            .run(move |tx| {
                let jid = tx.journal_insert(&entry)?;
                let sub = PatientSubmission {
                    source: SubmissionSource {
                        facility_code: facility.clone(),
                        message_control_id: format!("PORTAL{jid}"),
                    },
                    patient: patient.clone(),
                    doses: Vec::new(),
                    observations: Vec::new(),
                };
                let outcome = apply_submission(tx, matcher.as_ref(), &sub, Some(jid))?;
                let pid = outcome.patient_id.ok_or(StoreError::NotFound("patient"))?;
                let text = format!(
                    "AA portal register: {}{}",
                    if outcome.patient_created {
                        "created"
                    } else {
                        "matched an existing record"
                    },
                    if outcome.needs_review {
                        "; queued for review"
                    } else {
                        ""
                    }
                );
                tx.journal_respond(jid, text.as_bytes(), "AA", Some(pid))?;
                audit.patient_ids = vec![pid];
                audit.detail = Some(format!("journal {jid}; {}", text.trim_start_matches("AA ")));
                if audit_on {
                    tx.append_audit(&audit)?;
                }
                Ok((pid, outcome))
            })
            .await
    }

    // ------------------------------------------------------------- lots --

    fn lot_actor_check(&self, actor: &Actor) -> Result<(), RegistryError> {
        match decide(actor, Action::SubmitRecord, Purpose::Treatment, None) {
            Decision::Deny(why) => Err(RegistryError::Denied(why)),
            _ if actor.role == Role::RegistryAdmin && actor.organization.is_none() => Ok(()),
            _ => Ok(()),
        }
    }

    /// The lots of the actor's facilities (active only unless `all`).
    pub fn portal_lots(&self, actor: &Actor, all: bool) -> Result<Vec<FacilityLot>, RegistryError> {
        self.lot_actor_check(actor)?;
        let codes: Vec<String> = self
            .portal_facilities(actor)?
            .into_iter()
            .map(|f| f.code)
            .collect();
        let mut out = Vec::new();
        self.read(&mut |tx| {
            out = tx.facility_lots(&codes, all)?;
            Ok(())
        })?;
        Ok(out)
    }

    /// Adds a lot to one of the actor's facilities. Audited.
    #[allow(clippy::too_many_arguments)]
    pub async fn portal_add_lot(
        &self,
        actor: &Actor,
        facility: Option<&str>,
        cvx: &str,
        lot_number: &str,
        mvx: Option<&str>,
        expiration: Option<NaiveDate>,
        route: Option<&str>,
        site: Option<&str>,
        amount_ml: Option<&str>,
    ) -> Result<i64, RegistryError> {
        self.lot_actor_check(actor)?;
        let facility = self.portal_facility(actor, facility)?;
        let cvx = parse_cvx(self, cvx)?;
        let lot_number = lot_number.trim().to_string();
        if lot_number.is_empty() || lot_number.len() > 40 {
            return Err(invalid("Enter the lot number (at most 40 characters)"));
        }
        let mvx = match mvx.map(str::trim).filter(|s| !s.is_empty()) {
            Some(m) => Some(
                Mvx::parse(m)
                    .map_err(|_| invalid(format!("{m:?} is not an MVX manufacturer code")))?
                    .as_str()
                    .to_string(),
            ),
            None => None,
        };
        if let Some(a) = amount_ml.map(str::trim).filter(|s| !s.is_empty()) {
            if a.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0 && *v <= 10.0)
                .is_none()
            {
                return Err(invalid(format!(
                    "Amount {a:?} must be a number of mL between 0 and 10"
                )));
            }
        }
        let keep = |s: Option<&str>| {
            s.map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let (route, site, amount) = (keep(route), keep(site), keep(amount_ml));
        let who = actor.subject.clone();
        let mut audit = audit_entry(actor, "add_lot", Purpose::Administration, "allow");
        audit.detail = Some(format!(
            "facility {facility} cvx {} lot {lot_number}",
            cvx.as_str()
        ));
        let cvx = cvx.as_str().to_string();
        self.writer
            .run(move |tx| {
                let id = tx.insert_lot(&NewLot {
                    facility_code: &facility,
                    cvx: &cvx,
                    lot_number: &lot_number,
                    mvx: mvx.as_deref(),
                    expiration_date: expiration,
                    route: route.as_deref(),
                    site: site.as_deref(),
                    amount_ml: amount.as_deref(),
                    funding_source: None,
                    created_by: &who,
                })?;
                tx.append_audit(&audit)?;
                Ok(id)
            })
            .await
    }

    /// Takes a lot off the list (or puts it back). Audited.
    pub async fn portal_set_lot_active(
        &self,
        actor: &Actor,
        id: i64,
        active: bool,
    ) -> Result<(), RegistryError> {
        self.lot_actor_check(actor)?;
        let codes: Vec<String> = self
            .portal_facilities(actor)?
            .into_iter()
            .map(|f| f.code)
            .collect();
        let mut audit = audit_entry(
            actor,
            if active { "restore_lot" } else { "retire_lot" },
            Purpose::Administration,
            "allow",
        );
        audit.detail = Some(format!("lot {id}"));
        self.writer
            .run(move |tx| {
                let lot = tx.lot(id)?.ok_or(StoreError::NotFound("lot"))?;
                if !codes.contains(&lot.facility_code) {
                    return Err(StoreError::NotFound("lot"));
                }
                tx.set_lot_active(id, active)?;
                tx.append_audit(&audit)?;
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_source_ids() {
        assert!(is_portal_source("P12-1"));
        assert!(!is_portal_source("P12"));
        assert!(!is_portal_source("12-1"));
        assert!(!is_portal_source("Px-1"));
        assert!(!is_portal_source("P1-"));
    }
}
