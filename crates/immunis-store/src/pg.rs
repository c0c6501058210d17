//! The production backend: PostgreSQL through the synchronous `postgres`
//! client. Same SQL as SQLite; durability is PostgreSQL's `synchronous_commit`
//! (on by default): `write` returns after the commit record is flushed.

use std::collections::HashMap;
use std::error::Error;
use std::sync::Mutex;

use bytes::BytesMut;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

use crate::{migrate, Conn, Result, Store, StoreError, Tx, Value};

/// A client with its prepared-statement cache and the writes held back to
/// be pipelined (see [`Conn::execute_deferred`]). The async client runs on
/// the connection's own single-threaded runtime, as the sync `postgres`
/// client does internally; used directly so several statements can be in
/// flight at once.
pub struct PgConn {
    rt: tokio::runtime::Runtime,
    client: Client,
    cache: HashMap<String, Statement>,
    pending: Vec<(String, Vec<Value>)>,
    /// BEGIN has reached the server (a ROLLBACK is needed on failure).
    in_tx: bool,
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => {
                if *ty == Type::INT4 {
                    i32::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
                    i.to_string().to_sql(ty, out)
                } else {
                    i.to_sql(ty, out)
                }
            }
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn column(row: &tokio_postgres::Row, i: usize) -> std::result::Result<Value, postgres::Error> {
    let ty = row
        .columns()
        .get(i)
        .map(|c| c.type_().clone())
        .unwrap_or(Type::TEXT);
    Ok(if ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?
            .map_or(Value::Null, Value::Int)
    } else if ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into()))
    } else if ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into()))
    } else if ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into()))
    } else if ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(Value::Null, Value::Blob)
    } else {
        row.try_get::<_, Option<String>>(i)?
            .map_or(Value::Null, Value::Text)
    })
}

impl PgConn {
    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s.clone());
        }
        let s = self.rt.block_on(self.client.prepare(sql))?;
        self.cache.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Sends the deferred writes, then `last` if given, as one pipeline
    /// (tokio-postgres writes every request before reading any response, so
    /// the whole batch costs one round trip); returns `last`'s outcome.
    fn pipeline(&mut self, last: Option<Last<'_>>) -> Result<Outcome> {
        let pending = std::mem::take(&mut self.pending);
        let mut stmts = Vec::with_capacity(pending.len());
        for (sql, _) in &pending {
            stmts.push(self.statement(sql)?);
        }
        let last = match last {
            Some(l) => Some((self.statement(l.sql)?, l.params, l.rows)),
            None => None,
        };
        if pending.iter().any(|(sql, _)| sql == "BEGIN") {
            self.in_tx = true;
        }
        let client = &self.client;
        let writes = futures_util::future::try_join_all(stmts.iter().zip(&pending).map(
            |(stmt, (_, params))| async move {
                let refs: Vec<&(dyn ToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                client.execute(stmt, &refs).await
            },
        ));
        let last = async {
            match &last {
                Some((stmt, params, rows)) => {
                    let refs: Vec<&(dyn ToSql + Sync)> =
                        params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                    if *rows {
                        client.query(stmt, &refs).await.map(Outcome::Rows)
                    } else {
                        client.execute(stmt, &refs).await.map(Outcome::Count)
                    }
                }
                None => Ok(Outcome::Count(0)),
            }
        };
        let (_, out) = self
            .rt
            .block_on(async { futures_util::future::try_join(writes, last).await })?;
        Ok(out)
    }

    fn begin(&mut self) {
        self.pending.push(("BEGIN".to_string(), Vec::new()));
    }

    /// Sends the deferred writes and COMMIT as one pipeline.
    fn commit(&mut self) -> Result<()> {
        self.pending.push(("COMMIT".to_string(), Vec::new()));
        let r = self.pipeline(None).map(|_| ());
        if r.is_ok() {
            self.in_tx = false;
        }
        r
    }

    /// Drops the deferred writes; rolls back if BEGIN reached the server.
    fn rollback(&mut self) -> Result<()> {
        self.pending.clear();
        if std::mem::take(&mut self.in_tx) {
            self.rt.block_on(self.client.batch_execute("ROLLBACK"))?;
        }
        Ok(())
    }
}

impl Conn for PgConn {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        if self.pending.is_empty() {
            let stmt = self.statement(sql)?;
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            return Ok(self.rt.block_on(self.client.execute(&stmt, &refs))?);
        }
        // Row count wanted: run it as the pipeline's last statement.
        match self.pipeline(Some(Last {
            sql,
            params,
            rows: false,
        }))? {
            Outcome::Count(n) => Ok(n),
            Outcome::Rows(r) => Ok(r.len() as u64),
        }
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        let rows = if self.pending.is_empty() {
            let stmt = self.statement(sql)?;
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            self.rt.block_on(self.client.query(&stmt, &refs))?
        } else {
            match self.pipeline(Some(Last {
                sql,
                params,
                rows: true,
            }))? {
                Outcome::Rows(r) => r,
                Outcome::Count(_) => Vec::new(),
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut r = Vec::with_capacity(row.len());
            for i in 0..row.len() {
                r.push(column(row, i)?);
            }
            out.push(r);
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        if !self.pending.is_empty() {
            self.pipeline(None)?;
        }
        self.rt.block_on(self.client.batch_execute(sql))?;
        Ok(())
    }

    fn execute_deferred(&mut self, sql: &str, params: Vec<Value>) -> Result<()> {
        self.pending.push((sql.to_string(), params));
        // Bound the memory a long transaction (a bulk load) holds.
        if self.pending.len() >= MAX_PENDING {
            self.pipeline(None)?;
        }
        Ok(())
    }
}

/// The statement that ends a pipeline and whose result is wanted.
struct Last<'a> {
    sql: &'a str,
    params: &'a [Value],
    /// Rows (a query) or the row count (an execute).
    rows: bool,
}

enum Outcome {
    Rows(Vec<tokio_postgres::Row>),
    Count(u64),
}

/// Deferred writes held at most before they are sent anyway.
const MAX_PENDING: usize = 1024;

pub struct PgStore {
    url: String,
    writer: Mutex<PgConn>,
    readers: Mutex<Vec<PgConn>>,
}

fn connect(url: &str) -> Result<PgConn> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Open(format!("runtime for the PostgreSQL client: {e}")))?;
    let (client, connection) = rt.block_on(tokio_postgres::connect(url, NoTls))?;
    // Drives the socket whenever the runtime runs (inside each block_on).
    rt.spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("PostgreSQL connection closed: {e}");
        }
    });
    Ok(PgConn {
        rt,
        client,
        cache: HashMap::new(),
        pending: Vec::new(),
        in_tx: false,
    })
}

/// One transaction: BEGIN goes out with the first statement, the deferred
/// writes and COMMIT in one pipeline at the end.
fn in_tx(conn: &mut PgConn, f: &mut dyn FnMut(&mut Tx<'_>) -> Result<()>) -> Result<()> {
    conn.begin();
    let result = {
        let mut t = Tx::new(conn);
        f(&mut t)
    };
    let result = result.and_then(|()| conn.commit());
    if let Err(e) = result {
        // A failed rollback leaves the connection unusable; report the first error.
        let _ = conn.rollback();
        return Err(e);
    }
    Ok(())
}

fn migrate_locked(conn: &mut PgConn) -> Result<()> {
    conn.batch("BEGIN")?;
    match migrate::apply(conn, migrate::POSTGRES) {
        Ok(_) => conn.batch("COMMIT"),
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}

fn poisoned() -> StoreError {
    StoreError::Open("connection pool lock poisoned by an earlier panic".into())
}

impl PgStore {
    /// Connects and migrates (under an advisory lock so two servers starting
    /// together do not race).
    pub fn open(url: &str) -> Result<PgStore> {
        let mut writer = connect(url)?;
        writer.batch("SELECT pg_advisory_lock(727274)")?;
        let migrated = migrate_locked(&mut writer);
        writer.batch("SELECT pg_advisory_unlock(727274)")?;
        migrated?;
        Ok(PgStore {
            url: url.to_string(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn write(&self, f: &mut dyn FnMut(&mut Tx<'_>) -> Result<()>) -> Result<()> {
        let mut conn = self.writer.lock().map_err(|_| poisoned())?;
        in_tx(&mut conn, f)
    }

    fn read(&self, f: &mut dyn FnMut(&mut Tx<'_>) -> Result<()>) -> Result<()> {
        let pooled = self.readers.lock().map_err(|_| poisoned())?.pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => connect(&self.url)?,
        };
        let result = in_tx(&mut conn, f);
        if result.is_ok() {
            if let Ok(mut pool) = self.readers.lock() {
                if pool.len() < 64 {
                    pool.push(conn);
                }
            }
        }
        result
    }
}
