//! Schema v4: SMART Health Card signing keys, and the one-time codes and
//! sessions of consumer access ("My immunization record"). Same SQL on both
//! backends. Secrets are stored hashed (codes, session tokens) or as the
//! registry hands them over (the signing key's private half, encrypted by
//! the registry when a key-encryption key is configured).

use immunis_model::PatientId;

use crate::{now_millis, Result, StoreError, Tx, Value};

#[derive(Debug, Clone)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub public_jwk: String,
    pub private_key: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ConsumerCode {
    pub id: i64,
    pub patient_id: PatientId,
    pub code_hash: String,
    pub channel: String,
    pub expires_at: i64,
    pub attempts: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ConsumerSession {
    pub sid: String,
    pub patient_id: PatientId,
    pub expires_at: i64,
}

fn text(row: &mut [Value], i: usize) -> String {
    row.get_mut(i)
        .map(|v| std::mem::replace(v, Value::Null))
        .and_then(Value::into_string)
        .unwrap_or_default()
}

fn int(row: &[Value], i: usize) -> i64 {
    row.get(i).and_then(Value::as_i64).unwrap_or(0)
}

fn opt_int(row: &[Value], i: usize) -> Option<i64> {
    row.get(i).and_then(Value::as_i64)
}

impl<'a> Tx<'a> {
    // ---- signing keys -----------------------------------------------------

    pub fn insert_signing_key(
        &mut self,
        kid: &str,
        public_jwk: &str,
        private_key: &str,
        activate: bool,
    ) -> Result<()> {
        let now = now_millis();
        self.conn.execute(
            "INSERT INTO signing_key (kid, public_jwk, private_key, created_at, activated_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                kid.into(),
                public_jwk.into(),
                private_key.into(),
                Value::Int(now),
                if activate { Value::Int(now) } else { Value::Null },
            ],
        )?;
        Ok(())
    }

    /// Every key, newest first.
    pub fn signing_keys(&mut self) -> Result<Vec<SigningKeyRecord>> {
        let rows = self.conn.query(
            "SELECT kid, public_jwk, private_key, created_at, activated_at, retired_at FROM signing_key ORDER BY created_at DESC, kid",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .map(|mut r| SigningKeyRecord {
                kid: text(&mut r, 0),
                public_jwk: text(&mut r, 1),
                private_key: text(&mut r, 2),
                created_at: int(&r, 3),
                activated_at: opt_int(&r, 4),
                retired_at: opt_int(&r, 5),
            })
            .collect())
    }

    /// Retires a key (it leaves the JWKS; cards it signed no longer verify).
    pub fn retire_signing_key(&mut self, kid: &str) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE signing_key SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL",
            &[Value::Int(now_millis()), kid.into()],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound("unretired signing key"));
        }
        Ok(())
    }

    // ---- consumer one-time codes -----------------------------------------

    pub fn insert_consumer_code(
        &mut self,
        request_hash: &str,
        patient: PatientId,
        code_hash: &str,
        channel: &str,
        expires_at: i64,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO consumer_code (request_hash, patient_id, code_hash, channel, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                request_hash.into(),
                Value::Int(patient.0),
                code_hash.into(),
                channel.into(),
                Value::Int(now_millis()),
                Value::Int(expires_at),
            ],
        )?;
        Ok(())
    }

    pub fn find_consumer_code(&mut self, request_hash: &str) -> Result<Option<ConsumerCode>> {
        let rows = self.conn.query(
            "SELECT id, patient_id, code_hash, channel, expires_at, attempts, used_at FROM consumer_code WHERE request_hash = $1",
            &[request_hash.into()],
        )?;
        Ok(rows.into_iter().next().map(|mut r| ConsumerCode {
            id: int(&r, 0),
            patient_id: PatientId(int(&r, 1)),
            code_hash: text(&mut r, 2),
            channel: text(&mut r, 3),
            expires_at: int(&r, 4),
            attempts: int(&r, 5),
            used_at: opt_int(&r, 6),
        }))
    }

    /// Counts one attempt; `used` marks the code spent.
    pub fn consumer_code_attempt(&mut self, id: i64, used: bool) -> Result<()> {
        self.conn.execute(
            "UPDATE consumer_code SET attempts = attempts + 1, used_at = $1 WHERE id = $2",
            &[
                if used {
                    Value::Int(now_millis())
                } else {
                    Value::Null
                },
                Value::Int(id),
            ],
        )?;
        Ok(())
    }

    // ---- consumer sessions ------------------------------------------------

    pub fn insert_consumer_session(
        &mut self,
        sid: &str,
        token_hash: &str,
        patient: PatientId,
        expires_at: i64,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO consumer_session (sid, token_hash, patient_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                sid.into(),
                token_hash.into(),
                Value::Int(patient.0),
                Value::Int(now_millis()),
                Value::Int(expires_at),
            ],
        )?;
        Ok(())
    }

    /// A consumer session by its cookie's hash or by its public id.
    pub fn find_consumer_session(
        &mut self,
        token_hash: Option<&str>,
        sid: Option<&str>,
    ) -> Result<Option<ConsumerSession>> {
        let (sql, key) = match (token_hash, sid) {
            (Some(h), _) => (
                "SELECT sid, patient_id, expires_at FROM consumer_session WHERE token_hash = $1",
                h,
            ),
            (None, Some(s)) => (
                "SELECT sid, patient_id, expires_at FROM consumer_session WHERE sid = $1",
                s,
            ),
            (None, None) => return Ok(None),
        };
        let rows = self.conn.query(sql, &[key.into()])?;
        Ok(rows.into_iter().next().map(|mut r| ConsumerSession {
            sid: text(&mut r, 0),
            patient_id: PatientId(int(&r, 1)),
            expires_at: int(&r, 2),
        }))
    }

    /// Ends a session now (logout).
    pub fn end_consumer_session(&mut self, sid: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE consumer_session SET expires_at = $1 WHERE sid = $2",
            &[Value::Int(now_millis()), sid.into()],
        )?;
        Ok(())
    }
}
