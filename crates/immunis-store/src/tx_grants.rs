//! Live sessions and bearer tokens (schema v8): only the SHA-256 of each
//! secret is stored, with the actor it stands for and its expiry rules, so
//! sessions survive a restart and revocations reach every server process.

use immunis_model::OrganizationId;

use crate::tx::{int, opt_int, opt_text, text};
use crate::{Result, Tx, Value};

/// A stored session or token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// Hex SHA-256 of the secret.
    pub token_hash: String,
    /// "session" or "token".
    pub kind: String,
    pub subject: String,
    pub role: String,
    pub organization_id: Option<OrganizationId>,
    pub facility_code: Option<String>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub last_used_at: i64,
    /// Sessions: the inactivity limit; tokens: none.
    pub idle_limit_ms: Option<i64>,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "token_hash, kind, subject, role, organization_id, facility_code, \
                       created_at, last_used_at, idle_limit_ms, expires_at, revoked_at";

fn grant_row(mut r: Vec<Value>) -> GrantRecord {
    GrantRecord {
        token_hash: text(&mut r, 0),
        kind: text(&mut r, 1),
        subject: text(&mut r, 2),
        role: text(&mut r, 3),
        organization_id: opt_int(&r, 4).map(OrganizationId),
        facility_code: opt_text(&mut r, 5),
        created_at: int(&r, 6),
        last_used_at: int(&r, 7),
        idle_limit_ms: opt_int(&r, 8),
        expires_at: int(&r, 9),
        revoked_at: opt_int(&r, 10),
    }
}

impl Tx<'_> {
    pub fn insert_grant(&mut self, g: &GrantRecord) -> Result<()> {
        self.conn.execute(
            &format!(
                "INSERT INTO auth_grant ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ),
            &[
                g.token_hash.as_str().into(),
                g.kind.as_str().into(),
                g.subject.as_str().into(),
                g.role.as_str().into(),
                g.organization_id.map(|o| o.0).into(),
                g.facility_code.as_deref().into(),
                Value::Int(g.created_at),
                Value::Int(g.last_used_at),
                g.idle_limit_ms.into(),
                Value::Int(g.expires_at),
                g.revoked_at.into(),
            ],
        )?;
        Ok(())
    }

    pub fn find_grant(&mut self, token_hash: &str) -> Result<Option<GrantRecord>> {
        let rows = self.conn.query(
            &format!("SELECT {COLUMNS} FROM auth_grant WHERE token_hash = $1"),
            &[token_hash.into()],
        )?;
        Ok(rows.into_iter().next().map(grant_row))
    }

    /// Moves a session's inactivity clock forward (never backward).
    pub fn touch_grant(&mut self, token_hash: &str, at: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE auth_grant SET last_used_at = $1 WHERE token_hash = $2 AND last_used_at < $1",
            &[Value::Int(at), token_hash.into()],
        )?;
        Ok(())
    }

    /// Ends one grant (logout); returns whether it was live.
    pub fn revoke_grant(&mut self, token_hash: &str, at: i64) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE auth_grant SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
            &[Value::Int(at), token_hash.into()],
        )?;
        Ok(n > 0)
    }

    /// Ends every grant of a subject (a disabled user); returns how many.
    /// Revokes a subject's grants but the one whose hash is `keep` (the
    /// session that changed the password goes on).
    pub fn revoke_other_grants_of(&mut self, subject: &str, keep: &str, at: i64) -> Result<u64> {
        self.conn.execute(
            "UPDATE auth_grant SET revoked_at = $1 WHERE subject = $2 AND token_hash <> $3 AND revoked_at IS NULL",
            &[Value::Int(at), subject.into(), keep.into()],
        )
    }

    pub fn revoke_grants_of(&mut self, subject: &str, at: i64) -> Result<u64> {
        self.conn.execute(
            "UPDATE auth_grant SET revoked_at = $1 WHERE subject = $2 AND revoked_at IS NULL",
            &[Value::Int(at), subject.into()],
        )
    }
}
