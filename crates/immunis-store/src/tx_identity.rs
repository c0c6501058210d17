//! Security-related operations of one transaction (schema v3): the consent
//! history (objection to data sharing), audit anchors and the accounting of
//! disclosures, human users, OAuth2 clients, rosters, jurisdictions and
//! registered client certificates. Same SQL on both backends.

use chrono::NaiveDate;
use immunis_model::{Organization, OrganizationId, PatientId};

use crate::tx::{organization_row, AuditEntry, AuditRecord};
use crate::{now_millis, Result, StoreError, Tx, Value};

/// What one consent event does to the objection to data sharing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentKind {
    ObjectionFiled,
    ObjectionWithdrawn,
}

impl ConsentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::ObjectionFiled => "objection_filed",
            ConsentKind::ObjectionWithdrawn => "objection_withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<ConsentKind> {
        match s {
            "objection_filed" => Some(ConsentKind::ObjectionFiled),
            "objection_withdrawn" => Some(ConsentKind::ObjectionWithdrawn),
            _ => None,
        }
    }
}

/// A consent event to record.
#[derive(Debug, Clone)]
pub struct NewConsentEvent<'a> {
    pub patient_id: PatientId,
    pub kind: ConsentKind,
    /// The date on the form (or PD1-13).
    pub effective_date: Option<NaiveDate>,
    /// When the registry received the form.
    pub form_received: Option<NaiveDate>,
    pub recorded_by: &'a str,
    pub organization: Option<&'a str>,
    /// "hl7" or "form".
    pub source: &'a str,
    pub journal_id: Option<i64>,
}

/// A recorded consent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentEvent {
    pub id: i64,
    pub patient_id: PatientId,
    pub kind: ConsentKind,
    pub effective_date: Option<NaiveDate>,
    pub form_received: Option<NaiveDate>,
    pub recorded_by: String,
    pub organization: Option<String>,
    pub source: String,
    pub journal_id: Option<i64>,
    pub recorded_at: i64,
}

/// A human user account.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub organization_id: Option<OrganizationId>,
    pub role: String,
    /// For a person's own account: the registry patient it may read.
    pub person_patient_id: Option<PatientId>,
    pub password_hash: String,
    pub totp_secret: String,
    pub totp_last_step: i64,
    pub failed_logins: i64,
    /// Milliseconds since the epoch; 0 when not locked.
    pub locked_until: i64,
    pub disabled: bool,
    pub created_at: i64,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub organization_id: Option<OrganizationId>,
    pub role: &'a str,
    pub person_patient_id: Option<PatientId>,
    pub password_hash: &'a str,
    pub totp_secret: &'a str,
}

/// An OAuth2 client-credentials client.
#[derive(Debug, Clone)]
pub struct OAuthClientRecord {
    pub id: i64,
    pub client_id: String,
    pub organization_id: OrganizationId,
    pub role: String,
    pub secret_hash: String,
    pub disabled: bool,
}

fn take_text(row: &mut [Value], i: usize) -> String {
    row.get_mut(i)
        .map(|v| std::mem::replace(v, Value::Null))
        .and_then(Value::into_string)
        .unwrap_or_default()
}

fn take_opt_text(row: &mut [Value], i: usize) -> Option<String> {
    row.get_mut(i)
        .map(|v| std::mem::replace(v, Value::Null))
        .and_then(Value::into_string)
}

fn get_int(row: &[Value], i: usize) -> i64 {
    row.get(i).and_then(Value::as_i64).unwrap_or(0)
}

fn get_opt_int(row: &[Value], i: usize) -> Option<i64> {
    row.get(i).and_then(Value::as_i64)
}

fn parse_date(s: Option<String>) -> Option<NaiveDate> {
    s.and_then(|s| crate::tx::parse_iso_date(&s))
}

const AUDIT_COLUMNS: &str = "seq, at, actor, organization, role, purpose, client_addr, action, patient_ids, outcome, detail, prev_hash, hash";

fn audit_row(mut r: Vec<Value>) -> AuditRecord {
    let ids = take_text(&mut r, 8);
    AuditRecord {
        seq: get_int(&r, 0),
        at: get_int(&r, 1),
        entry: AuditEntry {
            actor: take_text(&mut r, 2),
            organization: take_opt_text(&mut r, 3),
            role: take_text(&mut r, 4),
            purpose: take_text(&mut r, 5),
            client_addr: take_opt_text(&mut r, 6),
            action: take_text(&mut r, 7),
            patient_ids: ids
                .split(',')
                .filter_map(|s| s.parse().ok())
                .map(PatientId)
                .collect(),
            outcome: take_text(&mut r, 9),
            detail: take_opt_text(&mut r, 10),
        },
        prev_hash: take_text(&mut r, 11),
        hash: take_text(&mut r, 12),
    }
}

const USER_COLUMNS: &str = "id, username, organization_id, role, person_patient_id, password_hash, totp_secret, totp_last_step, failed_logins, locked_until, disabled, created_at";

fn user_row(mut r: Vec<Value>) -> UserRecord {
    UserRecord {
        id: get_int(&r, 0),
        username: take_text(&mut r, 1),
        organization_id: get_opt_int(&r, 2).map(OrganizationId),
        role: take_text(&mut r, 3),
        person_patient_id: get_opt_int(&r, 4).map(PatientId),
        password_hash: take_text(&mut r, 5),
        totp_secret: take_text(&mut r, 6),
        totp_last_step: get_int(&r, 7),
        failed_logins: get_int(&r, 8),
        locked_until: get_int(&r, 9),
        disabled: get_int(&r, 10) != 0,
        created_at: get_int(&r, 11),
    }
}

impl<'a> Tx<'a> {
    fn returning_id(&mut self, sql: &str, params: &[Value]) -> Result<i64> {
        let rows = self.conn.query(sql, params)?;
        rows.first()
            .and_then(|r| r.first())
            .and_then(Value::as_i64)
            .ok_or_else(|| StoreError::Corrupt("insert returned no id".into()))
    }

    // ---- consent (objection to data sharing) ------------------------------

    pub fn insert_consent_event(&mut self, e: &NewConsentEvent<'_>) -> Result<i64> {
        self.returning_id(
            "INSERT INTO consent_event (patient_id, kind, effective_date, form_received, recorded_by, organization, source, journal_id, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            &[
                Value::Int(e.patient_id.0),
                e.kind.as_str().into(),
                crate::tx::date_text(e.effective_date),
                crate::tx::date_text(e.form_received),
                e.recorded_by.into(),
                e.organization.into(),
                e.source.into(),
                e.journal_id.into(),
                Value::Int(now_millis()),
            ],
        )
    }

    /// A person's consent history, oldest first.
    pub fn consent_events(&mut self, patient: PatientId) -> Result<Vec<ConsentEvent>> {
        let rows = self.conn.query(
            "SELECT id, patient_id, kind, effective_date, form_received, recorded_by, organization, source, journal_id, recorded_at \
             FROM consent_event WHERE patient_id = $1 ORDER BY id",
            &[Value::Int(patient.0)],
        )?;
        rows.into_iter()
            .map(|mut r| {
                let kind = take_text(&mut r, 2);
                Ok(ConsentEvent {
                    id: get_int(&r, 0),
                    patient_id: PatientId(get_int(&r, 1)),
                    kind: ConsentKind::parse(&kind).ok_or_else(|| {
                        StoreError::Corrupt(format!("unknown consent event kind {kind:?}"))
                    })?,
                    effective_date: parse_date(take_opt_text(&mut r, 3)),
                    form_received: parse_date(take_opt_text(&mut r, 4)),
                    recorded_by: take_text(&mut r, 5),
                    organization: take_opt_text(&mut r, 6),
                    source: take_text(&mut r, 7),
                    journal_id: get_opt_int(&r, 8),
                    recorded_at: get_int(&r, 9),
                })
            })
            .collect()
    }

    /// The current state, derived from the history: the latest event decides.
    pub fn objection_active(&mut self, patient: PatientId) -> Result<bool> {
        let rows = self.conn.query(
            "SELECT kind FROM consent_event WHERE patient_id = $1 ORDER BY id DESC LIMIT 1",
            &[Value::Int(patient.0)],
        )?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|mut r| take_opt_text(&mut r, 0))
            .is_some_and(|k| k == ConsentKind::ObjectionFiled.as_str()))
    }

    // ---- audit anchors and disclosures ------------------------------------

    /// The newest audit record's (seq, hash), if any.
    pub fn audit_head(&mut self) -> Result<Option<(i64, String)>> {
        let rows = self.conn.query(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .next()
            .map(|mut r| (get_int(&r, 0), take_text(&mut r, 1))))
    }

    pub fn insert_audit_anchor(&mut self, seq: i64, hash: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO audit_anchor (seq, hash, anchored_at) VALUES ($1, $2, $3)",
            &[Value::Int(seq), hash.into(), Value::Int(now_millis())],
        )?;
        Ok(())
    }

    /// Every anchor: (seq, hash, anchored_at), oldest first.
    pub fn audit_anchors(&mut self) -> Result<Vec<(i64, String, i64)>> {
        let rows = self.conn.query(
            "SELECT seq, hash, anchored_at FROM audit_anchor ORDER BY seq",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .map(|mut r| (get_int(&r, 0), take_text(&mut r, 1), get_int(&r, 2)))
            .collect())
    }

    /// Audit records naming a person (the accounting of disclosures), in order.
    pub fn audit_records_for_patient(&mut self, patient: PatientId) -> Result<Vec<AuditRecord>> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log \
             WHERE ',' || patient_ids || ',' LIKE '%,' || $1 || ',%' ORDER BY seq"
        );
        let rows = self
            .conn
            .query(&sql, &[Value::Text(patient.0.to_string())])?;
        Ok(rows.into_iter().map(audit_row).collect())
    }

    // ---- organizations ----------------------------------------------------

    pub fn list_organizations(&mut self) -> Result<Vec<Organization>> {
        let rows = self
            .conn
            .query("SELECT id, name, kind FROM organization ORDER BY id", &[])?;
        rows.into_iter()
            .map(|mut r| organization_row(&mut r))
            .collect()
    }

    pub fn find_organization(&mut self, id: OrganizationId) -> Result<Option<Organization>> {
        let rows = self.conn.query(
            "SELECT id, name, kind FROM organization WHERE id = $1",
            &[Value::Int(id.0)],
        )?;
        rows.into_iter()
            .next()
            .map(|mut r| organization_row(&mut r))
            .transpose()
    }

    // ---- users ------------------------------------------------------------

    pub fn insert_user(&mut self, u: &NewUser<'_>) -> Result<i64> {
        if self.find_user(u.username)?.is_some() {
            return Err(StoreError::Conflict(format!(
                "user {} already exists",
                u.username
            )));
        }
        self.returning_id(
            "INSERT INTO app_user (username, organization_id, role, person_patient_id, password_hash, totp_secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                u.username.into(),
                u.organization_id.map(|o| o.0).into(),
                u.role.into(),
                u.person_patient_id.map(|p| p.0).into(),
                u.password_hash.into(),
                u.totp_secret.into(),
                Value::Int(now_millis()),
            ],
        )
    }

    pub fn find_user(&mut self, username: &str) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM app_user WHERE username = $1");
        let rows = self.conn.query(&sql, &[username.into()])?;
        Ok(rows.into_iter().next().map(user_row))
    }

    pub fn list_users(&mut self) -> Result<Vec<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM app_user ORDER BY id");
        let rows = self.conn.query(&sql, &[])?;
        Ok(rows.into_iter().map(user_row).collect())
    }

    pub fn count_users_with_role(&mut self, role: &str) -> Result<i64> {
        let rows = self.conn.query(
            "SELECT COUNT(*) FROM app_user WHERE role = $1",
            &[role.into()],
        )?;
        Ok(rows.first().map(|r| get_int(r, 0)).unwrap_or(0))
    }

    /// Returns whether the user existed.
    pub fn set_user_disabled(&mut self, username: &str, disabled: bool) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE app_user SET disabled = $1 WHERE username = $2",
            &[Value::Int(i64::from(disabled)), username.into()],
        )?;
        Ok(n > 0)
    }

    /// Records the outcome of a login attempt: the failure counter, the
    /// lockout deadline and (on success) the TOTP step used, so it cannot be
    /// replayed.
    pub fn update_user_login_state(
        &mut self,
        id: i64,
        failed_logins: i64,
        locked_until: i64,
        totp_last_step: i64,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE app_user SET failed_logins = $1, locked_until = $2, totp_last_step = $3 WHERE id = $4",
            &[
                Value::Int(failed_logins),
                Value::Int(locked_until),
                Value::Int(totp_last_step),
                Value::Int(id),
            ],
        )?;
        Ok(())
    }

    /// An administrator's reset: a new password hash and TOTP secret (the
    /// login state and the used-code step start over). False: no such user.
    pub fn reset_user_credentials(
        &mut self,
        username: &str,
        password_hash: &str,
        totp_secret: &str,
    ) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE app_user SET password_hash = $1, totp_secret = $2, totp_last_step = 0, \
             failed_logins = 0, locked_until = 0 WHERE username = $3",
            &[password_hash.into(), totp_secret.into(), username.into()],
        )?;
        Ok(n > 0)
    }

    /// A user's new password hash (the login state is reset with it).
    pub fn set_user_password(&mut self, id: i64, password_hash: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE app_user SET password_hash = $1, failed_logins = 0, locked_until = 0 WHERE id = $2",
            &[password_hash.into(), Value::Int(id)],
        )?;
        Ok(())
    }

    // ---- OAuth2 clients ---------------------------------------------------

    pub fn insert_oauth_client(
        &mut self,
        client_id: &str,
        organization: OrganizationId,
        role: &str,
        secret_hash: &str,
    ) -> Result<i64> {
        if self.find_oauth_client(client_id)?.is_some() {
            return Err(StoreError::Conflict(format!(
                "client {client_id} already exists"
            )));
        }
        self.returning_id(
            "INSERT INTO oauth_client (client_id, organization_id, role, secret_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                client_id.into(),
                Value::Int(organization.0),
                role.into(),
                secret_hash.into(),
                Value::Int(now_millis()),
            ],
        )
    }

    pub fn find_oauth_client(&mut self, client_id: &str) -> Result<Option<OAuthClientRecord>> {
        let rows = self.conn.query(
            "SELECT id, client_id, organization_id, role, secret_hash, disabled FROM oauth_client WHERE client_id = $1",
            &[client_id.into()],
        )?;
        Ok(rows.into_iter().next().map(|mut r| OAuthClientRecord {
            id: get_int(&r, 0),
            client_id: take_text(&mut r, 1),
            organization_id: OrganizationId(get_int(&r, 2)),
            role: take_text(&mut r, 3),
            secret_hash: take_text(&mut r, 4),
            disabled: get_int(&r, 5) != 0,
        }))
    }

    // ---- rosters and jurisdictions (policy inputs) ------------------------

    pub fn add_roster(&mut self, org: OrganizationId, patient: PatientId) -> Result<()> {
        if !self.on_roster(org, patient)? {
            self.conn.execute(
                "INSERT INTO roster (organization_id, patient_id, added_at) VALUES ($1, $2, $3)",
                &[
                    Value::Int(org.0),
                    Value::Int(patient.0),
                    Value::Int(now_millis()),
                ],
            )?;
        }
        Ok(())
    }

    pub fn on_roster(&mut self, org: OrganizationId, patient: PatientId) -> Result<bool> {
        let rows = self.conn.query(
            "SELECT 1 FROM roster WHERE organization_id = $1 AND patient_id = $2",
            &[Value::Int(org.0), Value::Int(patient.0)],
        )?;
        Ok(!rows.is_empty())
    }

    /// `kind` is "zip" or "town"; values are stored upper-case.
    pub fn add_jurisdiction(&mut self, org: OrganizationId, kind: &str, value: &str) -> Result<()> {
        let value = value.trim().to_uppercase();
        let rows = self.conn.query(
            "SELECT 1 FROM jurisdiction WHERE organization_id = $1 AND kind = $2 AND value = $3",
            &[Value::Int(org.0), kind.into(), value.as_str().into()],
        )?;
        if rows.is_empty() {
            self.conn.execute(
                "INSERT INTO jurisdiction (organization_id, kind, value) VALUES ($1, $2, $3)",
                &[Value::Int(org.0), kind.into(), value.into()],
            )?;
        }
        Ok(())
    }

    /// (kind, value) pairs of an organization's jurisdiction.
    pub fn jurisdiction(&mut self, org: OrganizationId) -> Result<Vec<(String, String)>> {
        let rows = self.conn.query(
            "SELECT kind, value FROM jurisdiction WHERE organization_id = $1 ORDER BY kind, value",
            &[Value::Int(org.0)],
        )?;
        Ok(rows
            .into_iter()
            .map(|mut r| (take_text(&mut r, 0), take_text(&mut r, 1)))
            .collect())
    }

    // ---- client certificates ----------------------------------------------

    pub fn register_certificate(&mut self, fingerprint: &str, facility_code: &str) -> Result<()> {
        if self.certificate_facility(fingerprint)?.is_some() {
            return Err(StoreError::Conflict(
                "certificate already registered".into(),
            ));
        }
        self.conn.execute(
            "INSERT INTO client_certificate (fingerprint, facility_code, created_at) VALUES ($1, $2, $3)",
            &[fingerprint.into(), facility_code.into(), Value::Int(now_millis())],
        )?;
        Ok(())
    }

    /// The facility a certificate (SHA-256 fingerprint, hex) was registered for.
    pub fn certificate_facility(&mut self, fingerprint: &str) -> Result<Option<String>> {
        let rows = self.conn.query(
            "SELECT facility_code FROM client_certificate WHERE fingerprint = $1",
            &[fingerprint.into()],
        )?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|mut r| take_opt_text(&mut r, 0)))
    }
}

impl<'a> Tx<'a> {
    /// Ids of every person not merged into another, in order.
    pub fn live_patient_ids(&mut self) -> Result<Vec<PatientId>> {
        let rows = self.conn.query(
            "SELECT patient_id FROM patient WHERE merged_into IS NULL ORDER BY patient_id",
            &[],
        )?;
        Ok(rows.iter().map(|r| PatientId(get_int(r, 0))).collect())
    }
}
