//! The production backend: PostgreSQL through the synchronous `postgres`
//! client. Same SQL as SQLite; durability is PostgreSQL's `synchronous_commit`
//! (on by default): `write` returns after the commit record is flushed.

use std::collections::HashMap;
use std::error::Error;
use std::sync::Mutex;

use bytes::BytesMut;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};

use crate::{migrate, Conn, Result, Store, StoreError, Tx, Value};

/// A client with its prepared-statement cache.
pub struct PgConn {
    client: Client,
    cache: HashMap<String, Statement>,
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

fn column(row: &postgres::Row, i: usize) -> std::result::Result<Value, postgres::Error> {
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
        let s = self.client.prepare(sql)?;
        self.cache.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

impl Conn for PgConn {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let stmt = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        Ok(self.client.execute(&stmt, &refs)?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        let stmt = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = self.client.query(&stmt, &refs)?;
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
        self.client.batch_execute(sql)?;
        Ok(())
    }
}

pub struct PgStore {
    url: String,
    writer: Mutex<PgConn>,
    readers: Mutex<Vec<PgConn>>,
}

fn connect(url: &str) -> Result<PgConn> {
    let client = Client::connect(url, NoTls)?;
    Ok(PgConn {
        client,
        cache: HashMap::new(),
    })
}

fn in_tx(conn: &mut PgConn, f: &mut dyn FnMut(&mut Tx<'_>) -> Result<()>) -> Result<()> {
    conn.batch("BEGIN")?;
    let result = {
        let mut t = Tx::new(conn);
        f(&mut t)
    };
    match result {
        Ok(()) => conn.batch("COMMIT"),
        Err(e) => {
            // A failed rollback leaves the connection unusable; report the first error.
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
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
