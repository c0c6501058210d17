//! The embedded default backend: one SQLite file under `--data-dir`, WAL mode,
//! every commit made durable by an fsync of the WAL before `write` returns
//! (`write_pipelined` hands that fsync to its caller), one writer connection
//! and a small pool of readers.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use crate::{migrate, Conn, PendingSync, Result, Store, StoreError, Tx, Value};

/// The database file in a data directory.
pub(crate) const DB_FILE: &str = "immunis.db";

pub struct SqliteStore {
    path: PathBuf,
    /// The WAL file (`<db>-wal`), watched to bound its size.
    wal: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<ReaderPool>,
    reader_free: Condvar,
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn from_ref(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        // The schema has no REAL columns; a real would be a foreign write.
        ValueRef::Real(f) => Value::Text(f.to_string()),
        ValueRef::Text(t) => Value::Text(match std::str::from_utf8(t) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(t).into_owned(),
        }),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn configure(conn: &Connection) -> Result<()> {
    // The busy handler first: the pragmas below may need a lock another
    // process (the server, while the CLI takes a backup) holds for a moment.
    conn.busy_handler(Some(retry_when_busy))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; \
         PRAGMA cache_size=-8192; PRAGMA temp_store=MEMORY;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Retries a locked database every millisecond for up to ≈ 30 s. SQLite's
/// own busy timeout backs off to 100 ms sleeps, which sleep through the short
/// gaps between a busy server's group commits, so a second process (the CLI
/// writing an audit entry beside a server under load) could starve; a quick
/// retry takes the lock in such a gap.
fn retry_when_busy(attempt: i32) -> bool {
    if attempt >= 30_000 {
        return false;
    }
    std::thread::sleep(std::time::Duration::from_millis(1));
    true
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/immunis.db` and migrates it.
    pub fn open(data_dir: &Path) -> Result<SqliteStore> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Open(format!("{}: {e}", data_dir.display())))?;
        let path = data_dir.join(DB_FILE);
        let mut writer = Connection::open(&path)?;
        configure(&writer)?;
        if !migrate::up_to_date(&mut ConnRef(&writer), migrate::SQLITE) {
            let tx = writer.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // `Transaction` derefs to `Connection`; migrations run inside it.
            let conn: &Connection = &tx;
            let mut shim = ConnRef(conn);
            migrate::apply(&mut shim, migrate::SQLITE)?;
            tx.commit()?;
        }
        // Checkpoints copy WAL pages into the database file and fsync it; in the
        // commit path they stall every ACK behind them. The writer never
        // checkpoints; a background thread does it (PASSIVE: never blocks the
        // writer), so that cost lands on the other core.
        //
        // A PASSIVE checkpoint never finishes while the writer keeps
        // appending, so the WAL is never reset and grows without bound
        // (measured: 16.5 GB of WAL after 136 k new people, ≈ 120 kB per
        // message, mostly blocking-key index pages). So the writer itself
        // runs a RESTART checkpoint after a commit once the WAL passes
        // `WAL_RESTART_BYTES`: the background thread has already copied most
        // frames, the next transaction starts the WAL over, and
        // `journal_size_limit` then truncates the file back.
        //
        // The writer's commits do not fsync (`synchronous=NORMAL`): every
        // write is made durable by an fsync of the WAL file after its commit
        // ([`sync_wal`]) — inside `write`, or by the caller of
        // `write_pipelined` on another thread while the next transaction
        // runs. A checkpoint still syncs the WAL before it copies frames
        // and the database file after, so nothing reaches the database file
        // or leaves the WAL undurably.
        writer.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit={WAL_KEEP_BYTES}; \
             PRAGMA synchronous=NORMAL;"
        ))?;
        spawn_checkpointer(path.clone());
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        Ok(SqliteStore {
            path,
            wal,
            writer: Mutex::new(writer),
            readers: Mutex::new(ReaderPool::default()),
            reader_free: Condvar::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs SQLite's `PRAGMA integrity_check` on a database file (a restored
    /// backup) without migrating or changing it; `Ok(())` when it reports "ok".
    pub fn check_file_integrity(path: &Path) -> Result<()> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        let problems: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()?;
        if problems.len() == 1 && problems[0] == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt(problems.join("; ")))
        }
    }

    /// A reader connection: a pooled one, a new one while fewer than
    /// [`MAX_READERS`] exist, else the next one returned. Opening a
    /// connection parses the whole schema, so connections are kept rather
    /// than opened per burst (profiled: a pool that dropped connections past
    /// 8 spent more time re-parsing the schema than reading).
    fn reader(&self) -> Result<Connection> {
        let mut pool = self.readers.lock().map_err(|_| poisoned())?;
        loop {
            if let Some(c) = pool.idle.pop() {
                return Ok(c);
            }
            if pool.open < MAX_READERS {
                pool.open += 1;
                drop(pool);
                let opened = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(StoreError::from)
                .and_then(|c| configure(&c).map(|()| c))
                .and_then(|c| {
                    // A read never writes (and the read transaction's
                    // patient memo relies on it): SQLite refuses any
                    // write on this connection.
                    c.execute_batch("PRAGMA query_only=ON")?;
                    Ok(c)
                });
                if opened.is_err() {
                    if let Ok(mut p) = self.readers.lock() {
                        p.open -= 1;
                    }
                    self.reader_free.notify_one();
                }
                return opened;
            }
            pool = self.reader_free.wait(pool).map_err(|_| poisoned())?;
        }
    }

    /// Closes a reader connection instead of pooling it.
    fn forget_reader(&self, conn: Connection) {
        drop(conn);
        if let Ok(mut pool) = self.readers.lock() {
            pool.open -= 1;
        }
        self.reader_free.notify_one();
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut pool) = self.readers.lock() {
            pool.idle.push(conn);
        }
        self.reader_free.notify_one();
    }
}

/// Reader connections kept open at most (concurrent reads beyond this wait
/// for one: more would only contend for the same two cores and page cache).
const MAX_READERS: usize = 16;

#[derive(Default)]
struct ReaderPool {
    idle: Vec<Connection>,
    /// Open reader connections, idle or in use.
    open: usize,
}

/// Runs `PRAGMA wal_checkpoint(PASSIVE)` every 250 ms on its own connection.
/// It stops when the database file goes away (tests delete their temp dirs).
fn spawn_checkpointer(path: PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("immunis-checkpoint".into())
        .spawn(move || {
            let Ok(conn) = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            else {
                return;
            };
            let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
            let wal = PathBuf::from(format!("{}-wal", path.display()));
            loop {
                std::thread::sleep(std::time::Duration::from_millis(250));
                if !path.exists() {
                    return;
                }
                // Past the limit the writer restarts the WAL itself; a
                // passive pass here would only hold the checkpoint lock it
                // needs.
                if wal_len(&wal) > WAL_RESTART_BYTES {
                    continue;
                }
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!("WAL checkpoint failed: {e}");
                }
            }
        });
    if let Err(e) = spawned {
        // Without the thread the WAL only grows until restart; say so loudly.
        tracing::error!("cannot start the WAL checkpoint thread: {e}");
    }
}

/// WAL size past which the writer runs a RESTART checkpoint after its commit.
/// Small enough that the WAL file is reused (frames overwrite blocks already
/// allocated and cached) rather than grown: with 256 MiB the commits' WAL
/// writes spent their time allocating ext4 blocks and zeroing new page-cache
/// pages (`perf`), and 8-connection ingest ran 22–28 % slower than with 64.
const WAL_RESTART_BYTES: u64 = 64 << 20;

/// Makes every commit in the WAL durable: fdatasync of the file (the
/// inode, whichever descriptor; opened by name each time, so a WAL that
/// SQLite truncated or recreated is still the one synced). No WAL file: the
/// last connection closed and checkpointed it into the database file, which
/// that checkpoint synced.
fn sync_wal(wal: &Path) -> Result<()> {
    match std::fs::File::open(wal) {
        Ok(f) => f.sync_data().map_err(|e| {
            tracing::error!("fsync of the WAL failed: {e}");
            StoreError::Io(format!("fsync {}: {e}", wal.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Io(format!("open {}: {e}", wal.display()))),
    }
}

fn wal_len(wal: &Path) -> u64 {
    std::fs::metadata(wal).map_or(0, |m| m.len())
}
/// Size the WAL file is truncated back to when it is reset.
const WAL_KEEP_BYTES: u64 = 64 << 20;

fn poisoned() -> StoreError {
    StoreError::Open("connection pool lock poisoned by an earlier panic".into())
}

/// `Conn` over a shared `&Connection` (rusqlite statements only need `&self`).
struct ConnRef<'c>(&'c Connection);

impl Conn for ConnRef<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let mut stmt = self.0.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let cols = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut r = Vec::with_capacity(cols);
            for i in 0..cols {
                r.push(from_ref(row.get_ref(i)?));
            }
            out.push(r);
        }
        Ok(out)
    }
    fn batch(&mut self, sql: &str) -> Result<()> {
        self.0.execute_batch(sql)?;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn read_leaves_runtime(&self) -> bool {
        false
    }

    fn audit_spool_dir(&self) -> Option<PathBuf> {
        self.path.parent().map(|d| d.join("audit-spool"))
    }

    fn snapshot_into(&self, dest: &Path) -> Result<()> {
        if dest.exists() {
            return Err(StoreError::Conflict(format!(
                "{} already exists; a snapshot never overwrites",
                dest.display()
            )));
        }
        let dest_str = dest
            .to_str()
            .ok_or_else(|| StoreError::Open(format!("{} is not UTF-8", dest.display())))?;
        let conn = self.reader()?;
        // A read transaction's snapshot of the live database, written page by
        // page; writers keep committing meanwhile (WAL). It writes only the
        // new file, but `query_only` refuses VACUUM INTO, so it is lifted for
        // this statement and restored before the connection goes back (a
        // connection that cannot restore it is dropped, not pooled).
        let vacuumed = conn
            .execute_batch("PRAGMA query_only=OFF")
            .and_then(|()| conn.execute("VACUUM INTO ?1", [dest_str]));
        match conn.execute_batch("PRAGMA query_only=ON") {
            Ok(()) => self.give_back(conn),
            Err(_) => self.forget_reader(conn),
        }
        vacuumed?;
        // SQLite does not fsync the VACUUM INTO output.
        std::fs::File::open(dest)
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::Open(format!("{}: {e}", dest.display())))?;
        Ok(())
    }

    fn write(&self, f: &mut dyn FnMut(&mut Tx<'_>) -> Result<()>) -> Result<()> {
        self.write_pipelined(f)?.wait()
    }

    fn write_pipelined(&self, f: &mut dyn FnMut(&mut Tx<'_>) -> Result<()>) -> Result<PendingSync> {
        let mut conn = self.writer.lock().map_err(|_| poisoned())?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut shim = ConnRef(&tx);
            let mut t = Tx::new(&mut shim);
            f(&mut t)?;
        }
        // synchronous=NORMAL: the commit is in the WAL file (the OS page
        // cache: it survives the process, not yet a power cut).
        tx.commit()?;
        if wal_len(&self.wal) > WAL_RESTART_BYTES {
            // Committed already: a checkpoint that cannot finish now (a
            // long reader) is retried after a later commit, not an error.
            // A bounded wait for readers bounds the stall of the ACKs behind it.
            conn.busy_timeout(std::time::Duration::from_secs(2))?;
            match conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)) {
                Ok(0) => {}
                // Common under a steady read load (a reader's snapshot pins
                // the WAL); worth a warning only once the WAL keeps growing.
                Ok(_) if wal_len(&self.wal) > 4 * WAL_RESTART_BYTES => tracing::warn!(
                    "WAL checkpoint (restart) could not finish; retried after the next commit"
                ),
                Ok(_) => tracing::debug!("WAL checkpoint (restart) deferred: a reader is active"),
                Err(e) => tracing::warn!("WAL checkpoint (restart) failed: {e}"),
            }
            conn.busy_handler(Some(retry_when_busy))?;
        }
        let wal = self.wal.clone();
        Ok(PendingSync::by(move || sync_wal(&wal)))
    }

    fn read(&self, f: &mut dyn FnMut(&mut Tx<'_>) -> Result<()>) -> Result<()> {
        let mut conn = self.reader()?;
        let result = (|| {
            let tx = conn.transaction()?;
            {
                let mut shim = ConnRef(&tx);
                let mut t = Tx::new_read(&mut shim);
                f(&mut t)?;
            }
            tx.commit()?;
            Ok(())
        })();
        self.give_back(conn);
        result
    }
}
