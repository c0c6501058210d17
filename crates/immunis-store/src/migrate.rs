//! Versioned migrations, the same story for both backends: numbered SQL files
//! per backend, applied in order inside a transaction, recorded in
//! `schema_migrations`.

use crate::{Conn, Result, StoreError, Value};

pub struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/sqlite/0002_linkage.sql"),
    },
];

pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/postgres/0002_linkage.sql"),
    },
];

/// Applies every migration newer than the recorded version. The caller holds
/// a transaction (or an exclusive lock) around this call.
pub fn apply(conn: &mut dyn Conn, migrations: &[Migration]) -> Result<i64> {
    conn.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )?;
    let rows = conn.query("SELECT MAX(version) FROM schema_migrations", &[])?;
    let current = rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let mut last = current;
    for m in migrations.iter().filter(|m| m.version > current) {
        conn.batch(m.sql).map_err(|e| StoreError::Migration {
            version: m.version,
            reason: e.to_string(),
        })?;
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[Value::Int(m.version), Value::Int(crate::now_millis())],
        )?;
        last = m.version;
    }
    Ok(last)
}
