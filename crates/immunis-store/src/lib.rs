//! Immunis storage: one interface ([`Store`], [`Tx`]) over two real backends,
//! SQLite (embedded default) and PostgreSQL, with the same migrations story.
//!
//! Both backends run the *same* SQL (positional `$n` parameters, which SQLite
//! also accepts) through the small [`Conn`] seam; only DDL differs, in
//! `migrations/<backend>/`. The store knows nothing of HL7 or of access
//! policy: the registry decides what may be read and written, the store keeps it.
#![forbid(unsafe_code)]

mod codec;
mod migrate;
pub mod pg;
pub mod sqlite;
mod tx;
mod tx_documents;
mod tx_grants;
mod tx_identity;
mod tx_linkage;
mod tx_portal;
mod tx_school;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use codec::{event_from_doc, event_to_doc, patient_from_doc, patient_to_doc};
pub use tx::{audit_hash, genesis, name_key, verify_chain};
pub use tx::{
    AuditEntry, AuditRecord, EventStatus, JournalEntry, JournalRecord, NewEvent, StoredEvent,
    StoredObservation, StoredPatient, SubmitterCredential, Tx,
};
pub use tx_documents::{ConsumerCode, ConsumerSession, SigningKeyRecord};
pub use tx_grants::GrantRecord;
pub use tx_identity::{
    ConsentEvent, ConsentKind, NewConsentEvent, NewUser, OAuthClientRecord, UserRecord,
};
pub use tx_linkage::{LinkDecision, MergeRecord, NewReview, ReviewRecord, ReviewStatus};
pub use tx_portal::{DoseChange, FacilityLot, NewDoseChange, NewLot};
pub use tx_school::{NewSchoolExemption, RosterEntry, SchoolExemptionRecord};

/// A storage failure. Callers map it to an HL7 AE/207 or an HTTP 500; it never
/// carries patient data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("stored document is corrupt: {0}")]
    Corrupt(String),
    #[error("migration {version} failed: {reason}")]
    Migration { version: i64, reason: String },
    #[error("cannot open store: {0}")]
    Open(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not supported by this backend: {0}")]
    Unsupported(String),
    /// The disk refused (an fsync failed): nothing written since the last
    /// durable commit may be acknowledged.
    #[error("storage I/O: {0}")]
    Io(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A SQL value crossing the backend seam.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
    pub fn into_string(self) -> Option<String> {
        match self {
            Value::Text(s) => Some(s),
            Value::Blob(b) => String::from_utf8(b).ok(),
            _ => None,
        }
    }
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Value::Blob(b) => Some(b),
            Value::Text(s) => Some(s.into_bytes()),
            _ => None,
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// The backend seam: run one statement, get rows of [`Value`]s.
pub trait Conn {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64>;
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>>;
    fn batch(&mut self, sql: &str) -> Result<()>;
    /// A write whose row count nobody reads. A backend may hold it and send
    /// it together with the next statement or the commit (PostgreSQL
    /// pipelines them: one round trip instead of one per statement); it runs
    /// before anything issued after it, and its error surfaces at the latest
    /// when the transaction commits (which then fails as a whole).
    fn execute_deferred(&mut self, sql: &str, params: Vec<Value>) -> Result<()> {
        self.execute(sql, &params).map(|_| ())
    }
}

/// A committed transaction that may not be on disk yet (from
/// [`Store::write_pipelined`]). [`PendingSync::wait`] returns once it — and
/// every commit of the same store before it — is durable; until then nobody
/// may be told the data is saved.
#[must_use = "a pipelined commit is durable only once wait() returned Ok"]
pub struct PendingSync(Option<Box<dyn FnOnce() -> Result<()> + Send>>);

impl PendingSync {
    /// A commit that was durable when it returned.
    pub fn durable() -> PendingSync {
        PendingSync(None)
    }

    /// A commit made durable by `sync`.
    pub fn by(sync: impl FnOnce() -> Result<()> + Send + 'static) -> PendingSync {
        PendingSync(Some(Box::new(sync)))
    }

    /// Blocks until the commit is durable.
    pub fn wait(self) -> Result<()> {
        match self.0 {
            None => Ok(()),
            Some(sync) => sync(),
        }
    }
}

/// A registry database. `write` runs one transaction and returns only after the
/// commit is durable (SQLite: the WAL fsynced; PostgreSQL `synchronous_commit`
/// on): callers acknowledge data only after it returns `Ok`.
pub trait Store: Send + Sync + 'static {
    /// "sqlite" or "postgres".
    fn backend(&self) -> &'static str;
    fn write(&self, f: &mut dyn FnMut(&mut Tx<'_>) -> Result<()>) -> Result<()>;
    /// [`Store::write`] that may return before the commit reaches the disk:
    /// the caller waits on the [`PendingSync`] before it acknowledges
    /// anything, and meanwhile may run the next transaction (the group
    /// commit overlaps one batch's fsync with the next batch's work). The
    /// changes are visible to readers at once, as with any commit.
    fn write_pipelined(&self, f: &mut dyn FnMut(&mut Tx<'_>) -> Result<()>) -> Result<PendingSync> {
        self.write(f).map(|()| PendingSync::durable())
    }
    fn read(&self, f: &mut dyn FnMut(&mut Tx<'_>) -> Result<()>) -> Result<()>;
    /// Whether a read must leave the async runtime's worker (tokio's
    /// `block_in_place`): the PostgreSQL client drives its own runtime and
    /// waits on the network. An embedded SQLite read is a short stretch of
    /// CPU work on cached pages, cheaper run in place than the hand-off
    /// (measured: the hand-off cost more than the read itself).
    fn read_leaves_runtime(&self) -> bool {
        true
    }
    /// Writes a transactionally consistent copy of the whole database to
    /// `dest` (a new file) while the store stays online. SQLite does it with
    /// `VACUUM INTO`; a PostgreSQL cluster is backed up by its operator
    /// (`pg_basebackup` + WAL archiving), so that backend says so.
    /// Where the registry may keep its audit spool (entries made durable in
    /// an append-only file and folded into the trail in batches), or `None`
    /// to append every entry to the trail directly. SQLite: `audit-spool/`
    /// beside the database — every commit there discards the readers' page
    /// caches, so one commit per read would double a read's cost.
    fn audit_spool_dir(&self) -> Option<PathBuf> {
        None
    }

    fn snapshot_into(&self, dest: &Path) -> Result<()> {
        let _ = dest;
        Err(StoreError::Unsupported(format!(
            "{} snapshots are taken by the database operator (e.g. pg_basebackup with WAL archiving)",
            self.backend()
        )))
    }
}

/// Opens the store named by the CLI options: PostgreSQL when a URL is given,
/// else SQLite under `data_dir` (created if missing). Migrations run on open.
pub fn open(data_dir: &Path, database_url: Option<&str>) -> Result<Arc<dyn Store>> {
    match database_url {
        Some(url) => Ok(Arc::new(pg::PgStore::open(url)?)),
        None => Ok(Arc::new(sqlite::SqliteStore::open(data_dir)?)),
    }
}

/// Whether `data_dir` holds an embedded (SQLite) registry: commands that
/// only work on an existing registry check it first, so a mistyped
/// `--data-dir` is reported instead of an empty database being made.
pub fn sqlite_registry_exists(data_dir: &Path) -> bool {
    data_dir.join(sqlite::DB_FILE).is_file()
}

/// Milliseconds since the epoch, the store's timestamp unit.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
