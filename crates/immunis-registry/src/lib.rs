//! Application services of the registry: ingest a submission, answer a query,
//! administer submitters. The one place that orchestrates: every call takes the
//! authenticated [`Actor`], asks the access policy, writes an audit entry, and
//! goes through the group-commit writer for anything that changes data.
#![forbid(unsafe_code)]

pub mod assessment;
pub mod audit;
mod audit_spool;
pub mod auth;
pub mod backup;
pub mod checkpoint;
pub mod clinical;
pub mod consent;
pub mod consolidate;
pub mod consumer;
pub mod dedup;
pub mod documents;
pub mod extract;
pub mod forecast;
pub mod hl7;
mod hl7_query;
pub mod identity;
pub mod ingest;
pub mod linkage;
pub mod matching;
pub mod portal;
pub mod query;
pub mod recall;
pub mod review;
pub mod school;
pub mod totp;
pub mod writer;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use immunis_access::{Action, Actor, Decision, Purpose, Role};
use immunis_model::{CodeTables, PatientSubmission};
use immunis_store::{AuditEntry, JournalEntry, Store, StoreError, Tx};

pub use audit::{Anchor, AuditVerification, Disclosure};
pub use auth::AuthError;
pub use backup::SnapshotInfo;
pub use dedup::DedupSummary;
pub use documents::{DocumentSettings, SigningKeySummary};
pub use identity::{IssuedToken, NewUserSecrets, SecurityPolicy, Session, UserSummary};
pub use immunis_store::{ConsentEvent, ConsentKind};
pub use ingest::{DoseOutcome, IngestOutcome};
pub use linkage::{Linker, ProbabilisticMatcher, DEFAULT_MAX_CANDIDATES};
pub use matching::{ConservativeMatcher, MatchDecision, PatientMatcher, ReviewCandidate};
pub use query::{PatientQuery, PatientRecord, QueryOutcome};
pub use review::{MergeOutcome, RecordSummary, Resolution, ReviewItem};
pub use school::{SchoolReport, SchoolReportRow};
use writer::Writer;

/// Opens a store (for transports' tests and the CLI, which never touch it otherwise).
pub use immunis_store::open as open_store;

#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistryError {
    #[error("storage failure: {0}")]
    Store(String),
    #[error("the registry is shutting down")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
    #[error("access denied: {0}")]
    Denied(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
}

impl From<StoreError> for RegistryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => RegistryError::Invalid(m),
            StoreError::NotFound(w) => RegistryError::NotFound(w.to_string()),
            other => RegistryError::Store(other.to_string()),
        }
    }
}

/// The registry: storage, the group-commit writer, code tables and the matcher.
pub struct Registry {
    store: Arc<dyn Store>,
    pub(crate) writer: Writer,
    codes: &'static CodeTables,
    matcher: Arc<dyn PatientMatcher>,
    clinical: clinical::ClinicalData,
    auth_cache: auth::CredentialCache,
    facility_cache: auth::FacilityCache,
    grants: identity::Grants,
    documents: documents::Documents,
    consumer: consumer::ConsumerState,
    /// Only the audit benchmark turns this off (to measure the audit's cost).
    audit_enabled: Arc<AtomicBool>,
    /// Where stand-alone audit entries go when the store has a spool
    /// directory (SQLite); `None`: straight into the trail.
    spool: Option<audit_spool::AuditSpool>,
}

/// The response a transport sends back for a journaled message, built inside
/// the transaction so the journal holds exactly what was sent.
pub struct Reply {
    pub bytes: Vec<u8>,
    /// AA / AE / AR (or the RSP's MSA-1).
    pub code: String,
}

/// An audit entry on its way to durability (see [`Registry::begin_audit`]).
#[must_use = "the answer it covers may be released only after finish_audit"]
pub(crate) enum PendingAudit {
    /// The benchmark's audit-off side.
    Off,
    /// Handed to the spool; resolves once its file is synced.
    Spooled(tokio::sync::oneshot::Receiver<Result<(), RegistryError>>),
    /// No spool (PostgreSQL): written in its own transaction at the finish.
    Later(Box<AuditEntry>),
}

fn audit_entry(actor: &Actor, action: &str, purpose: Purpose, outcome: &str) -> AuditEntry {
    AuditEntry {
        actor: actor.subject.clone(),
        organization: actor.organization.map(|o| o.0.to_string()),
        role: actor.role.as_str().to_string(),
        purpose: purpose.as_str().to_string(),
        client_addr: actor.client_addr.clone(),
        action: action.to_string(),
        patient_ids: Vec::new(),
        outcome: outcome.to_string(),
        detail: None,
    }
}

impl Registry {
    pub fn new(store: Arc<dyn Store>) -> Result<Arc<Registry>, RegistryError> {
        Self::with_matcher(store, Arc::new(ProbabilisticMatcher::default()))
    }

    pub fn with_matcher(
        store: Arc<dyn Store>,
        matcher: Arc<dyn PatientMatcher>,
    ) -> Result<Arc<Registry>, RegistryError> {
        Self::with_clinical_data(store, matcher, clinical::ClinicalData::embedded()?)
    }

    /// A registry over the given clinical data (an operator's newer CDC
    /// supporting data release or school requirements).
    pub fn with_clinical_data(
        store: Arc<dyn Store>,
        matcher: Arc<dyn PatientMatcher>,
        clinical: clinical::ClinicalData,
    ) -> Result<Arc<Registry>, RegistryError> {
        let writer = Writer::start(store.clone());
        let spool = match store.audit_spool_dir() {
            Some(dir) => Some(audit_spool::AuditSpool::start(dir, writer.clone())?),
            None => None,
        };
        Ok(Arc::new(Registry {
            writer,
            spool,
            store,
            codes: CodeTables::embedded(),
            matcher,
            clinical,
            auth_cache: auth::CredentialCache::default(),
            facility_cache: auth::FacilityCache::default(),
            grants: identity::Grants::default(),
            documents: documents::Documents::default(),
            consumer: consumer::ConsumerState::default(),
            audit_enabled: Arc::new(AtomicBool::new(true)),
        }))
    }

    /// The CDSi engine (evaluation and forecast).
    pub fn engine(&self) -> &immunis_cdsi::Engine {
        self.clinical.engine()
    }

    /// The clinical data in force (CDSi release, school requirements).
    pub fn clinical(&self) -> &clinical::ClinicalData {
        &self.clinical
    }

    /// What of the clinical data is out of date on `today`.
    pub fn data_currency(&self, today: chrono::NaiveDate) -> clinical::DataCurrency {
        self.clinical.currency(today)
    }

    /// Runs a read transaction. A PostgreSQL read blocks on the network in
    /// a client with its own runtime, so inside an async runtime it runs in
    /// `block_in_place`, which hands this worker's other tasks to another
    /// thread. An SQLite read runs in place: it is CPU work on cached pages,
    /// and the hand-off cost more than the read (bench_audit: 77–97 µs CPU
    /// per record read in place against 209–332 µs handed off).
    pub(crate) fn read(
        &self,
        f: &mut dyn FnMut(&mut Tx<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // block_in_place needs the multi-thread runtime; on a current-thread
        // runtime (or none) the read simply runs.
        match tokio::runtime::Handle::try_current() {
            Ok(h)
                if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
                    && self.store.read_leaves_runtime() =>
            {
                tokio::task::block_in_place(|| self.store.read(f))
            }
            _ => self.store.read(f),
        }
    }

    pub fn codes(&self) -> &'static CodeTables {
        self.codes
    }

    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Records a message that was answered without touching any record (AR,
    /// or AE for a message rejected whole): journal and response, durably.
    pub async fn journal_only(
        &self,
        entry: JournalEntry,
        reply: Reply,
    ) -> Result<(), RegistryError> {
        self.writer
            .run(move |tx| {
                let id = tx.journal_insert(&entry)?;
                tx.journal_respond(id, &reply.bytes, &reply.code, None)
            })
            .await
    }

    /// Blocking form of [`Registry::journal_only`] for the CLI.
    pub fn journal_only_blocking(
        &self,
        entry: JournalEntry,
        reply: Reply,
    ) -> Result<(), RegistryError> {
        self.writer.run_blocking(move |tx| {
            let id = tx.journal_insert(&entry)?;
            tx.journal_respond(id, &reply.bytes, &reply.code, None)
        })
    }

    fn ingest_job(
        &self,
        actor: &Actor,
        submission: PatientSubmission,
        entry: JournalEntry,
        respond: impl Fn(&IngestOutcome) -> Reply + Send + 'static,
    ) -> Result<
        impl FnMut(&mut Tx<'_>) -> Result<(IngestOutcome, Reply), StoreError> + Send + 'static,
        RegistryError,
    > {
        let decision =
            immunis_access::decide(actor, Action::SubmitRecord, Purpose::Treatment, None);
        if let Decision::Deny(why) = decision {
            return Err(RegistryError::Denied(why));
        }
        if actor.facility_code.as_deref() != Some(submission.source.facility_code.as_str())
            && actor.role != Role::RegistryAdmin
        {
            return Err(RegistryError::Denied(
                "sending facility (MSH-4) does not match the authenticated facility",
            ));
        }
        let matcher = self.matcher.clone();
        let prepared = ingest::prepare(matcher.as_ref(), &submission);
        let mut audit = audit_entry(actor, "ingest", Purpose::Treatment, "allow");
        let consent_actor = actor.clone();
        let audit_on = self.audit_enabled.clone();
        Ok(move |tx: &mut Tx<'_>| {
            let jid = tx.journal_insert(&entry)?;
            let outcome =
                ingest::apply_prepared(tx, matcher.as_ref(), &submission, &prepared, Some(jid))?;
            let consent = match outcome.patient_id {
                Some(pid) => consent::apply_submitted_protection(
                    tx,
                    &consent_actor,
                    pid,
                    submission.patient.protection.as_ref(),
                    Some(jid),
                )?,
                None => None,
            };
            let reply = respond(&outcome);
            tx.journal_respond(jid, &reply.bytes, &reply.code, outcome.patient_id)?;
            audit.patient_ids = outcome.patient_id.into_iter().collect();
            audit.detail = Some(format!(
                "journal {jid}; doses added {} updated {} deleted {} unchanged {}",
                outcome.count(DoseOutcome::Added),
                outcome.count(DoseOutcome::Updated),
                outcome.count(DoseOutcome::Deleted),
                outcome.count(DoseOutcome::Unchanged)
            ));
            if let Some(kind) = consent {
                if let Some(d) = audit.detail.as_mut() {
                    d.push_str("; ");
                    d.push_str(kind.as_str());
                }
            }
            if audit_on.load(Ordering::Relaxed) {
                tx.append_audit(&audit)?;
            }
            Ok((outcome, reply))
        })
    }

    /// Journals the message, applies the submission, builds the reply with
    /// `respond`, and returns once all of it is durably committed.
    pub async fn ingest(
        &self,
        actor: &Actor,
        submission: PatientSubmission,
        entry: JournalEntry,
        respond: impl Fn(&IngestOutcome) -> Reply + Send + 'static,
    ) -> Result<(IngestOutcome, Reply), RegistryError> {
        let job = self.ingest_job(actor, submission, entry, respond)?;
        self.writer.run(job).await
    }

    /// Blocking form of [`Registry::ingest`] (CLI import).
    pub fn ingest_blocking(
        &self,
        actor: &Actor,
        submission: PatientSubmission,
        entry: JournalEntry,
        respond: impl Fn(&IngestOutcome) -> Reply + Send + 'static,
    ) -> Result<(IngestOutcome, Reply), RegistryError> {
        let job = self.ingest_job(actor, submission, entry, respond)?;
        self.writer.run_blocking(job)
    }

    /// Turns the audit trail off or on. For the audit-overhead benchmark only:
    /// a registry in service always audits.
    #[doc(hidden)]
    pub(crate) fn audit_enabled(&self) -> bool {
        self.audit_enabled.load(Ordering::Relaxed)
    }

    pub fn set_audit_enabled_for_benchmark(&self, on: bool) {
        self.audit_enabled.store(on, Ordering::Relaxed);
    }

    /// Appends one audit entry in its own durable write.
    pub(crate) async fn append_audit(&self, audit: AuditEntry) -> Result<(), RegistryError> {
        let pending = self.begin_audit(audit);
        self.finish_audit(pending).await
    }

    /// Starts the durable write of `audit` without waiting for it, so the
    /// caller can render its answer meanwhile; [`Registry::finish_audit`]
    /// must resolve before that answer is released.
    pub(crate) fn begin_audit(&self, audit: AuditEntry) -> PendingAudit {
        if !self.audit_enabled.load(Ordering::Relaxed) {
            return PendingAudit::Off;
        }
        match &self.spool {
            Some(spool) => PendingAudit::Spooled(spool.begin(audit)),
            None => PendingAudit::Later(Box::new(audit)),
        }
    }

    /// Waits until the entry [`Registry::begin_audit`] started is durable.
    pub(crate) async fn finish_audit(&self, pending: PendingAudit) -> Result<(), RegistryError> {
        match pending {
            PendingAudit::Off => Ok(()),
            PendingAudit::Spooled(rx) => rx.await.unwrap_or(Err(RegistryError::Unavailable)),
            PendingAudit::Later(audit) => {
                self.writer
                    .run(move |tx| tx.append_audit(&audit).map(|_| ()))
                    .await
            }
        }
    }

    /// Blocking form of [`Registry::append_audit`].
    pub(crate) fn append_audit_blocking(&self, audit: AuditEntry) -> Result<(), RegistryError> {
        if let Some(spool) = &self.spool {
            return spool.append_blocking(audit);
        }
        self.writer
            .run_blocking(move |tx| tx.append_audit(&audit).map(|_| ()))
    }

    /// Folds every audit entry this registry has made durable in its spool
    /// into the hash-chained trail (done anyway within half a second; a
    /// no-op without a spool). Verification and the accounting of
    /// disclosures call it first; a server calls it when it stops.
    pub fn flush_audit(&self) -> Result<(), RegistryError> {
        match &self.spool {
            Some(spool) => spool.flush(),
            None => Ok(()),
        }
    }

    /// Counts for status pages and tests: (patients, vaccination events).
    pub fn counts(&self, actor: &Actor) -> Result<(i64, i64), RegistryError> {
        if immunis_access::decide(actor, Action::Administer, Purpose::Administration, None)
            .is_denied()
        {
            return Err(RegistryError::Denied(
                "only registry administrators see totals",
            ));
        }
        let mut out = (0, 0);
        self.read(&mut |tx| {
            out = (tx.count_patients()?, tx.count_events()?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Journal outcomes (AA/AE/AR counts), for the administrator.
    pub fn journal_outcomes(
        &self,
        actor: &Actor,
    ) -> Result<Vec<(Option<String>, i64)>, RegistryError> {
        if immunis_access::decide(actor, Action::Administer, Purpose::Administration, None)
            .is_denied()
        {
            return Err(RegistryError::Denied(
                "only registry administrators read the journal",
            ));
        }
        let mut out = Vec::new();
        self.read(&mut |tx| {
            out = tx.journal_outcomes()?;
            Ok(())
        })?;
        Ok(out)
    }
}

/// The actor for local administration from the CLI (the operator at the console).
pub fn console_admin() -> Actor {
    Actor {
        subject: "console".into(),
        role: Role::RegistryAdmin,
        organization: None,
        facility_code: None,
        client_addr: None,
    }
}
