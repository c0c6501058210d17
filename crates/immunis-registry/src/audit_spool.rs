//! The audit spool: audit entries for accesses that change nothing else (a
//! record read, a chart, a search) are made durable in an append-only file
//! and folded into the hash-chained trail in batches.
//!
//! Why: in SQLite every commit discards every reader connection's page
//! cache, so a read whose audit entry commits on its own makes the next reads
//! start cold — measured, that doubled the cost of auditing a read
//! (BENCHMARKS-security.md). The spool keeps the guarantee "no patient data
//! leaves before its audit entry is durable" (an entry is acknowledged only
//! after `fdatasync` of its file) with one trail commit per file instead of
//! one per read.
//!
//! Invariants:
//! * An entry is acknowledged only after the file holding it is synced (and
//!   the directory entry of a new file is synced too).
//! * A file is folded once: the fold inserts its entries and records its
//!   name in `audit_spool_folded` in one transaction, and skips a name already
//!   there (a crash between the fold and the file's deletion, or another
//!   process recovering the same file).
//! * A process holds an exclusive lock on the file it appends to; files
//!   nobody holds are complete and may be folded by anyone (recovery at open).
//! * A torn last line (a crash mid-write) was never acknowledged and is
//!   dropped; an unreadable line elsewhere stops the fold of that file (it is
//!   renamed `*.corrupt` for the operator), never silently.
//! * Entries keep their access time (`at`); their place in the chain is the
//!   fold order.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use immunis_model::PatientId;
use immunis_store::{now_millis, AuditEntry, AuditRecord};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::writer::Writer;
use crate::RegistryError;

/// A file is folded once it is this old… (each fold is a commit, and every
/// commit empties the SQLite readers' page caches: fewer, larger folds.)
const FOLD_AFTER: Duration = Duration::from_millis(500);
/// …or holds this many entries.
const FOLD_ENTRIES: usize = 16_384;
/// How long the spool sleeps after the first entry of a batch so that others
/// share its fsync (measured: with no wait, reads in flight synced a handful
/// at a time and the fsyncs' kernel time made an audited read ≈ 40 % dearer;
/// at 1 ms the spool thread still spent ≈ 6 % of all CPU in a read-only
/// load, mostly the sync's device notification, so 2 ms).
const LINGER: Duration = Duration::from_millis(2);
/// Entries written and synced together at most.
const MAX_BATCH: usize = 1024;
const QUEUE_DEPTH: usize = 8192;

/// One spool line.
#[derive(Serialize, Deserialize)]
struct Line {
    at: i64,
    actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    organization: Option<String>,
    role: String,
    purpose: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_addr: Option<String>,
    action: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    patient_ids: Vec<i64>,
    outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl Line {
    fn new(at: i64, e: AuditEntry) -> Line {
        Line {
            at,
            actor: e.actor,
            organization: e.organization,
            role: e.role,
            purpose: e.purpose,
            client_addr: e.client_addr,
            action: e.action,
            patient_ids: e.patient_ids.iter().map(|p| p.0).collect(),
            outcome: e.outcome,
            detail: e.detail,
        }
    }

    fn into_entry(self) -> (i64, AuditEntry) {
        (
            self.at,
            AuditEntry {
                actor: self.actor,
                organization: self.organization,
                role: self.role,
                purpose: self.purpose,
                client_addr: self.client_addr,
                action: self.action,
                patient_ids: self.patient_ids.into_iter().map(PatientId).collect(),
                outcome: self.outcome,
                detail: self.detail,
            },
        )
    }
}

enum Reply {
    Async(oneshot::Sender<Result<(), RegistryError>>),
    Blocking(mpsc::SyncSender<Result<(), RegistryError>>),
}

impl Reply {
    fn send(self, r: Result<(), RegistryError>) {
        match self {
            Reply::Async(tx) => {
                let _ = tx.send(r);
            }
            Reply::Blocking(tx) => {
                let _ = tx.send(r);
            }
        }
    }
}

enum Request {
    Append(Box<Line>, Reply),
    /// Fold everything appended so far, then answer.
    Flush(mpsc::SyncSender<Result<(), RegistryError>>),
}

/// Handle to the spool thread.
pub(crate) struct AuditSpool {
    queue: SyncSender<Request>,
    dir: PathBuf,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> RegistryError {
    RegistryError::Store(format!("audit spool: {what} {}: {e}", path.display()))
}

fn sync_dir(dir: &Path) -> Result<(), RegistryError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("cannot sync", dir, e))
}

/// The entries of a spool file, in order. A torn last line (no newline, or
/// not JSON) is dropped: it was never acknowledged.
/// `None` when the file is gone (another process folded and removed it).
fn read_entries(path: &Path) -> Result<Option<Vec<(i64, AuditEntry)>>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mut out = Vec::new();
    let complete = bytes.ends_with(b"\n");
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let last = lines.len().saturating_sub(1);
    for (i, raw) in lines.into_iter().enumerate() {
        if raw.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Line>(raw) {
            Ok(line) if i < last || complete => out.push(line.into_entry()),
            // The last line is torn when the file does not end in a newline.
            _ if i == last && !complete => {}
            Ok(_) => {}
            Err(e) => return Err(format!("line {}: {e}", i + 1)),
        }
    }
    Ok(Some(out))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Folds one complete spool file into the trail (once) and deletes it.
/// `known`: its entries as this process wrote them (so the file is not read
/// back and parsed); `None` reads the file (recovery of another process's).
fn fold_file(
    writer: &Writer,
    path: &Path,
    known: Option<Vec<(i64, AuditEntry)>>,
) -> Result<usize, RegistryError> {
    let name = file_name(path);
    let read = match known {
        Some(entries) => Ok(Some(entries)),
        None => read_entries(path),
    };
    let entries = match read {
        Ok(Some(e)) => e,
        // Folded and removed by another process (recovering it) already.
        Ok(None) => return Ok(0),
        Err(why) => {
            let corrupt = path.with_extension("corrupt");
            let _ = std::fs::rename(path, &corrupt);
            tracing::error!(
                "audit spool file {} is unreadable ({why}); kept as {} for the operator",
                path.display(),
                corrupt.display()
            );
            return Err(RegistryError::Store(format!(
                "audit spool file {name} is unreadable: {why}"
            )));
        }
    };
    let n = entries.len();
    if n > 0 {
        writer.run_blocking(move |tx| {
            if tx.audit_spool_folded(&name)? {
                return Ok(());
            }
            for (at, e) in &entries {
                tx.append_audit_at(e, *at)?;
            }
            tx.mark_audit_spool_folded(&name, entries.len() as i64)
        })?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("cannot remove", path, e)),
    }
    Ok(n)
}

/// Spool files in `dir` (sorted: names start with a timestamp).
fn spool_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .collect();
    files.sort();
    files
}

/// The file a spool appends to, locked against other processes' recovery.
struct Current {
    path: PathBuf,
    file: File,
    opened: Instant,
    /// What the file holds (synced), for the fold.
    entries: Vec<(i64, AuditEntry)>,
}

impl AuditSpool {
    /// Starts the spool in `dir` (created if missing) after folding the files
    /// that crashed or stopped processes left behind.
    pub(crate) fn start(dir: PathBuf, writer: Writer) -> Result<AuditSpool, RegistryError> {
        std::fs::create_dir_all(&dir).map_err(|e| io_err("cannot create", &dir, e))?;
        recover(&dir, &writer)?;
        let (queue, rx) = mpsc::sync_channel(QUEUE_DEPTH);
        let thread_dir = dir.clone();
        std::thread::Builder::new()
            .name("immunis-audit-spool".into())
            .spawn(move || spool_loop(thread_dir, writer, rx))
            .map_err(|e| RegistryError::Internal(format!("cannot start the audit spool: {e}")))?;
        Ok(AuditSpool { queue, dir })
    }

    fn enqueue(&self, req: Request) {
        if let Err(mpsc::SendError(req)) = self.queue.send(req) {
            match req {
                Request::Append(_, reply) => reply.send(Err(RegistryError::Unavailable)),
                Request::Flush(reply) => {
                    let _ = reply.send(Err(RegistryError::Unavailable));
                }
            }
        }
    }

    /// Starts appending `entry` (accessed now): the returned receiver
    /// resolves once it is durable. The caller can do its own work meanwhile.
    pub(crate) fn begin(&self, entry: AuditEntry) -> oneshot::Receiver<Result<(), RegistryError>> {
        let (tx, rx) = oneshot::channel();
        self.enqueue(Request::Append(
            Box::new(Line::new(now_millis(), entry)),
            Reply::Async(tx),
        ));
        rx
    }

    /// Appends `entry` (accessed now) and blocks until it is durable.
    pub(crate) fn append_blocking(&self, entry: AuditEntry) -> Result<(), RegistryError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.enqueue(Request::Append(
            Box::new(Line::new(now_millis(), entry)),
            Reply::Blocking(tx),
        ));
        rx.recv().unwrap_or(Err(RegistryError::Unavailable))
    }

    /// Folds every entry this process appended so far into the trail.
    pub(crate) fn flush(&self) -> Result<(), RegistryError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.enqueue(Request::Flush(tx));
        rx.recv().unwrap_or(Err(RegistryError::Unavailable))
    }

    /// Entries made durable but not folded yet (a running server's, seen
    /// from the CLI), per file name, with their access times. Read these
    /// *before* the trail, then drop the files the trail names as folded:
    /// a file folded in between is then counted once, never missed.
    pub(crate) fn pending(&self) -> Vec<(String, Vec<(i64, AuditEntry)>)> {
        let mut out = Vec::new();
        for path in spool_files(&self.dir) {
            // A file folded and deleted meanwhile is simply gone (and in the trail).
            if let Ok(Some(entries)) = read_entries(&path) {
                out.push((file_name(&path), entries));
            }
        }
        out
    }
}

impl Drop for AuditSpool {
    /// A registry going away (a CLI command ending, a server stopping) folds
    /// what it spooled, so the next reader of the trail finds it there. (A
    /// process killed first leaves its file for recovery at the next open.)
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::error!("audit spool: fold at shutdown failed: {e}");
        }
    }
}

/// Folds the spool files no live process holds.
fn recover(dir: &Path, writer: &Writer) -> Result<(), RegistryError> {
    for path in spool_files(dir) {
        let Ok(f) = OpenOptions::new().read(true).write(true).open(&path) else {
            continue;
        };
        // Held by a live process: it is still being appended to.
        if f.try_lock().is_err() {
            continue;
        }
        let n = match fold_file(writer, &path, None) {
            Ok(n) => n,
            // Damaged: renamed `*.corrupt` and logged for the operator; the
            // registry still starts.
            Err(_) if !path.exists() && path.with_extension("corrupt").exists() => continue,
            Err(e) => return Err(e),
        };
        if n > 0 {
            tracing::info!("audit spool: recovered {n} entries left by an earlier process");
        }
        drop(f);
    }
    Ok(())
}

fn open_current(dir: &Path) -> Result<Current, RegistryError> {
    // Time first, so names sort in creation order; pid and a counter keep
    // them unique across processes and within one.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let path = dir.join(format!("{nanos:024}-{}-{n}.ndjson", std::process::id()));
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| io_err("cannot create", &path, e))?;
    file.try_lock().map_err(|e| {
        RegistryError::Store(format!("audit spool: cannot lock {}: {e}", path.display()))
    })?;
    sync_dir(dir)?;
    Ok(Current {
        path,
        file,
        opened: Instant::now(),
        entries: Vec::new(),
    })
}

/// Work for the folder thread: a closed file to fold and/or a flush to
/// answer once everything handed over before it is folded.
struct Fold {
    file: Option<(PathBuf, Vec<(i64, AuditEntry)>)>,
    reply: Option<SyncSender<Result<(), RegistryError>>>,
}

/// Folds closed files in the order they were closed, off the append path
/// (appends go on into a new file meanwhile).
fn folder_loop(writer: Writer, rx: Receiver<Fold>) {
    let mut last: Result<(), RegistryError> = Ok(());
    while let Ok(job) = rx.recv() {
        if let Some((path, entries)) = job.file {
            last = fold_file(&writer, &path, Some(entries)).map(|_| ());
            if let Err(e) = &last {
                tracing::error!("audit spool: fold failed: {e}");
            }
        }
        if let Some(reply) = job.reply {
            let _ = reply.send(last.clone());
            last = Ok(());
        }
    }
}

fn spool_loop(dir: PathBuf, writer: Writer, rx: Receiver<Request>) {
    let (fold_tx, fold_rx) = mpsc::channel::<Fold>();
    let folder = std::thread::Builder::new()
        .name("immunis-audit-fold".into())
        .spawn(move || folder_loop(writer, fold_rx));
    if let Err(e) = &folder {
        tracing::error!("audit spool: cannot start the folder thread: {e}");
    }
    let mut current: Option<Current> = None;
    let mut buf: Vec<u8> = Vec::with_capacity(64 << 10);
    // Closes the current file (unlocked from then on: complete, so anyone
    // may fold it, once) and hands it to the folder.
    let close = |current: &mut Option<Current>,
                 reply: Option<SyncSender<Result<(), RegistryError>>>| {
        let file = current.take().map(|c| (c.path, c.entries));
        if file.is_some() || reply.is_some() {
            if let Err(mpsc::SendError(job)) = fold_tx.send(Fold { file, reply }) {
                if let Some(r) = job.reply {
                    let _ = r.send(Err(RegistryError::Unavailable));
                }
            }
        }
    };
    loop {
        let wait = match &current {
            Some(c) => FOLD_AFTER.saturating_sub(c.opened.elapsed()),
            None => Duration::from_secs(3600),
        };
        let first = match rx.recv_timeout(wait) {
            Ok(r) => Some(r),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                close(&mut current, None);
                drop(fold_tx);
                // Let the folder finish what it was handed.
                if let Ok(h) = folder {
                    let _ = h.join();
                }
                return;
            }
        };
        let mut appends: Vec<(Box<Line>, Reply)> = Vec::new();
        let mut flushes = Vec::new();
        let mut next = first;
        let mut lingered = false;
        while let Some(req) = next.take() {
            match req {
                Request::Append(line, reply) => appends.push((line, reply)),
                Request::Flush(reply) => flushes.push(reply),
            }
            if appends.len() >= MAX_BATCH {
                break;
            }
            next = rx.try_recv().ok();
            if next.is_none() && !lingered && !appends.is_empty() && flushes.is_empty() {
                // Group commit: an fsync costs the same for one entry or a
                // thousand, so give the reads in flight a moment to join.
                // Sleep, then take what came: waiting on the queue instead
                // woke this thread for every entry (with the fold from
                // memory, the audit's threads went from 8.2 % to 5.4 % of
                // all CPU samples in an audited read-only load).
                lingered = true;
                std::thread::sleep(LINGER);
                next = rx.try_recv().ok();
            }
        }
        if !appends.is_empty() {
            let (lines, replies): (Vec<Line>, Vec<Reply>) =
                appends.into_iter().map(|(l, r)| (*l, r)).unzip();
            let written = write_batch(&dir, &mut current, &mut buf, lines);
            if written.is_err() {
                // Never append after a failed write: a torn line must stay
                // the file's last. The file is folded with the entries synced
                // before (this batch was not acknowledged) and the next batch
                // opens a new one.
                close(&mut current, None);
            }
            for reply in replies {
                reply.send(written.clone());
            }
        }
        let due = current
            .as_ref()
            .is_some_and(|c| c.opened.elapsed() >= FOLD_AFTER || c.entries.len() >= FOLD_ENTRIES);
        if due {
            close(&mut current, None);
        }
        for reply in flushes {
            close(&mut current, Some(reply));
        }
    }
}

/// Appends the batch to the current file and syncs it; the entries are kept
/// for the fold once synced.
fn write_batch(
    dir: &Path,
    current: &mut Option<Current>,
    buf: &mut Vec<u8>,
    lines: Vec<Line>,
) -> Result<(), RegistryError> {
    if current.is_none() {
        *current = Some(open_current(dir)?);
    }
    let Some(c) = current.as_mut() else {
        return Err(RegistryError::Internal("no audit spool file".into()));
    };
    buf.clear();
    for line in &lines {
        serde_json::to_writer(&mut *buf, line)
            .map_err(|e| RegistryError::Internal(format!("audit spool: {e}")))?;
        buf.push(b'\n');
    }
    c.file
        .write_all(buf)
        .and_then(|()| c.file.sync_data())
        .map_err(|e| io_err("cannot write", &c.path, e))?;
    c.entries.extend(lines.into_iter().map(Line::into_entry));
    Ok(())
}

/// Spool entries as trail-like records for the accounting of disclosures
/// (not chained yet: `seq` 0, no hashes).
pub(crate) fn pending_records(pending: Vec<(i64, AuditEntry)>) -> Vec<AuditRecord> {
    pending
        .into_iter()
        .map(|(at, entry)| AuditRecord {
            seq: 0,
            at,
            entry,
            prev_hash: String::new(),
            hash: String::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn entry(actor: &str, patient: i64) -> AuditEntry {
        AuditEntry {
            actor: actor.into(),
            role: "provider".into(),
            purpose: "treatment".into(),
            action: "read_record".into(),
            patient_ids: vec![PatientId(patient)],
            outcome: "allow".into(),
            ..AuditEntry::default()
        }
    }

    fn trail(store: &Arc<dyn immunis_store::Store>) -> Vec<AuditRecord> {
        let mut out = Vec::new();
        store
            .read(&mut |tx| {
                out = tx.audit_records(0, 100_000)?;
                Ok(())
            })
            .expect("read trail");
        out
    }

    fn setup() -> (
        tempfile::TempDir,
        Arc<dyn immunis_store::Store>,
        Writer,
        PathBuf,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = immunis_store::open(dir.path(), None).expect("store");
        let spool_dir = store.audit_spool_dir().expect("sqlite has a spool");
        std::fs::create_dir_all(&spool_dir).expect("spool dir");
        let writer = Writer::start(store.clone());
        (dir, store, writer, spool_dir)
    }

    fn line(at: i64, actor: &str) -> String {
        let mut s = serde_json::to_string(&Line::new(at, entry(actor, 7))).expect("json");
        s.push('\n');
        s
    }

    #[test]
    fn appends_are_durable_then_folded_in_order_with_their_access_time() {
        let (_d, store, writer, dir) = setup();
        let spool = Arc::new(AuditSpool::start(dir.clone(), writer).expect("spool"));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let spool = spool.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        spool
                            .append_blocking(entry(&format!("user{t}"), i))
                            .expect("durable");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        // Durable before folded: the entries are in the spool files.
        let pending: usize = spool.pending().iter().map(|(_, e)| e.len()).sum();
        assert!(pending <= 400);
        spool.flush().expect("flush");
        let records = trail(&store);
        assert_eq!(records.len(), 400);
        assert!(spool_files(&dir).is_empty(), "folded files are deleted");
        let (_, last) =
            immunis_store::verify_chain(&records, immunis_store::genesis(), 0).expect("chain");
        assert_eq!(last, 400);
        let now = now_millis();
        assert!(records.iter().all(|r| r.at <= now && r.at > now - 60_000));
        for t in 0..8 {
            let mine: Vec<i64> = records
                .iter()
                .filter(|r| r.entry.actor == format!("user{t}"))
                .map(|r| r.entry.patient_ids[0].0)
                .collect();
            assert_eq!(
                mine,
                (0..50).collect::<Vec<_>>(),
                "each thread's order kept"
            );
        }
    }

    #[test]
    fn a_dead_processs_file_is_recovered_once_and_its_torn_tail_dropped() {
        let (_d, store, writer, dir) = setup();
        // What a crashed process leaves: two acknowledged lines and a torn one.
        let left = dir.join("000000000000000000000001-99999-0.ndjson");
        let torn = line(1_700_000_000_002, "torn");
        let text = format!(
            "{}{}{}",
            line(1_700_000_000_000, "a"),
            line(1_700_000_000_001, "b"),
            &torn[..torn.len() / 2]
        );
        std::fs::write(&left, text).expect("write");
        // A file already folded before the crash deleted it.
        let folded = dir.join("000000000000000000000002-99999-1.ndjson");
        std::fs::write(&folded, line(1_700_000_000_003, "again")).expect("write");
        let name = file_name(&folded);
        writer
            .run_blocking(move |tx| tx.mark_audit_spool_folded(&name, 1))
            .expect("mark");

        let spool = AuditSpool::start(dir.clone(), writer).expect("spool");
        let records = trail(&store);
        let actors: Vec<&str> = records.iter().map(|r| r.entry.actor.as_str()).collect();
        assert_eq!(actors, ["a", "b"]);
        assert_eq!(records[0].at, 1_700_000_000_000);
        assert!(spool_files(&dir).is_empty());
        drop(spool);
    }

    #[test]
    fn a_file_another_process_folded_and_removed_meanwhile_is_not_an_error() {
        let (_d, store, writer, dir) = setup();
        let gone = dir.join("000000000000000000000009-99999-0.ndjson");
        assert_eq!(fold_file(&writer, &gone, None).expect("no error"), 0);
        assert!(trail(&store).is_empty());
    }

    #[test]
    fn a_file_another_process_holds_is_left_alone() {
        let (_d, store, writer, dir) = setup();
        let held = dir.join("000000000000000000000001-99999-0.ndjson");
        std::fs::write(&held, line(1, "live")).expect("write");
        let f = OpenOptions::new().read(true).open(&held).expect("open");
        f.try_lock().expect("lock");
        let spool = AuditSpool::start(dir.clone(), writer).expect("spool");
        assert!(trail(&store).is_empty());
        assert!(held.exists());
        // Its entries still count as pending (the accounting of disclosures shows them).
        let pending = spool.pending();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].1[0].1.actor, "live");
    }

    #[test]
    fn an_unreadable_line_in_the_middle_is_kept_for_the_operator() {
        let (_d, store, writer, dir) = setup();
        let bad = dir.join("000000000000000000000001-99999-0.ndjson");
        std::fs::write(&bad, format!("{}not json\n{}", line(1, "a"), line(2, "b"))).expect("w");
        let spool = AuditSpool::start(dir.clone(), writer).expect("starts anyway");
        assert!(
            trail(&store).is_empty(),
            "nothing folded from a damaged file"
        );
        drop(spool);
        assert!(bad.with_extension("corrupt").exists());
    }
}
