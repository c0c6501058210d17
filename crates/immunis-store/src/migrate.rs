//! Versioned migrations, the same story for both backends: numbered SQL files
//! per backend, applied in order inside a transaction, recorded in
//! `schema_migrations`.

use crate::{Conn, Result, StoreError, Value};

pub struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

// One line per migration, in version order (parallel branches each add a line).
#[rustfmt::skip]
pub const SQLITE: &[Migration] = &[
    Migration { version: 1, sql: include_str!("../migrations/sqlite/0001_initial.sql") },
    Migration { version: 2, sql: include_str!("../migrations/sqlite/0002_linkage.sql") },
    Migration { version: 3, sql: include_str!("../migrations/sqlite/0003_security.sql") },
    Migration { version: 4, sql: include_str!("../migrations/sqlite/0004_documents.sql") },
    Migration { version: 5, sql: include_str!("../migrations/sqlite/0005_school.sql") },
    Migration { version: 6, sql: include_str!("../migrations/sqlite/0006_portal.sql") },
    Migration { version: 8, sql: include_str!("../migrations/sqlite/0008_grants.sql") },
    Migration { version: 9, sql: include_str!("../migrations/sqlite/0009_audit_spool.sql") },
    Migration { version: 10, sql: include_str!("../migrations/sqlite/0010_bulk_stage.sql") },
    Migration { version: 11, sql: include_str!("../migrations/sqlite/0011_event_covering.sql") },
];

#[rustfmt::skip]
pub const POSTGRES: &[Migration] = &[
    Migration { version: 1, sql: include_str!("../migrations/postgres/0001_initial.sql") },
    Migration { version: 2, sql: include_str!("../migrations/postgres/0002_linkage.sql") },
    Migration { version: 3, sql: include_str!("../migrations/postgres/0003_security.sql") },
    Migration { version: 4, sql: include_str!("../migrations/postgres/0004_documents.sql") },
    Migration { version: 5, sql: include_str!("../migrations/postgres/0005_school.sql") },
    Migration { version: 6, sql: include_str!("../migrations/postgres/0006_portal.sql") },
    Migration { version: 8, sql: include_str!("../migrations/postgres/0008_grants.sql") },
    Migration { version: 9, sql: include_str!("../migrations/postgres/0009_audit_spool.sql") },
    Migration { version: 10, sql: include_str!("../migrations/postgres/0010_bulk_stage.sql") },
    Migration { version: 11, sql: include_str!("../migrations/postgres/0011_event_covering.sql") },
];

/// Applies, in order, every migration not yet recorded (not only those newer
/// than the highest: branches developed in parallel number theirs
/// independently, so a database may hold 3 before 2 arrives). The caller
/// holds a transaction (or an exclusive lock) around this call.
/// Whether every migration is already recorded (a read: a process opening
/// an up-to-date store, such as the CLI beside a running server, then needs
/// no write lock at all).
pub fn up_to_date(conn: &mut dyn Conn, migrations: &[Migration]) -> bool {
    let Ok(rows) = conn.query("SELECT version FROM schema_migrations", &[]) else {
        return false;
    };
    let applied: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.first().and_then(Value::as_i64))
        .collect();
    migrations.iter().all(|m| applied.contains(&m.version))
}

pub fn apply(conn: &mut dyn Conn, migrations: &[Migration]) -> Result<i64> {
    conn.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )?;
    let rows = conn.query("SELECT version FROM schema_migrations", &[])?;
    let applied: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.first().and_then(Value::as_i64))
        .collect();
    let mut last = applied.iter().copied().max().unwrap_or(0);
    for m in migrations.iter().filter(|m| !applied.contains(&m.version)) {
        conn.batch(m.sql).map_err(|e| StoreError::Migration {
            version: m.version,
            reason: e.to_string(),
        })?;
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[Value::Int(m.version), Value::Int(crate::now_millis())],
        )?;
        last = last.max(m.version);
    }
    Ok(last)
}
