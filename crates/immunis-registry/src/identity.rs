//! Identities: organizations (providers, schools, boards of health,
//! health-department programs, studies, the registry), their **human users**
//! (argon2id password with a breached/common-password check, TOTP second
//! factor, sessions that expire on inactivity, lockout with backoff after
//! repeated failures) and **OAuth2 client-credentials** clients for the JSON
//! APIs (opaque bearer tokens with expiry, scoped to the client's
//! organization). Plus the policy inputs administrators maintain: rosters
//! (a school's students, a program's enrolled clients), jurisdictions (a
//! board of health's towns / ZIP codes) and registered client certificates.
//!
//! Machine submitters keep their credentials (`auth.rs`). Every login,
//! token issue and administrative change is audited; no secret is logged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use immunis_access::{Actor, Purpose, Role};
use immunis_model::{Organization, OrganizationId, OrganizationKind, PatientId};
use immunis_store::{GrantRecord, NewUser, StoreError};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::auth::{generate_secret, hash_secret, verify_secret, AuthError};
use crate::{audit_entry, totp, Registry, RegistryError};

/// Tunable limits of authentication.
#[derive(Debug, Clone)]
pub struct SecurityPolicy {
    /// A session unused this long expires.
    pub session_idle: Duration,
    /// A session expires this long after login whatever its use.
    pub session_max: Duration,
    /// Lifetime of an OAuth2 access token.
    pub token_ttl: Duration,
    /// Failures in a row before the account locks.
    pub lockout_after: i64,
    /// First lockout; doubles with each further failure, up to `lockout_max`.
    pub lockout_base: Duration,
    pub lockout_max: Duration,
    pub min_password_chars: usize,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        SecurityPolicy {
            session_idle: Duration::from_secs(15 * 60),
            session_max: Duration::from_secs(12 * 3600),
            token_ttl: Duration::from_secs(3600),
            lockout_after: 5,
            lockout_base: Duration::from_secs(60),
            lockout_max: Duration::from_secs(3600),
            min_password_chars: 12,
        }
    }
}

/// A live session or token as cached in this process, keyed by the SHA-256
/// of its secret. The database row (`auth_grant`) is the truth; the cache is
/// re-checked against it every [`RECHECK`] so a logout or a disabled user in
/// another process (the CLI, a second server) takes effect here too.
#[derive(Debug, Clone)]
struct Grant {
    actor: Actor,
    /// Milliseconds since the epoch, like the stored row.
    created_ms: i64,
    last_used_ms: i64,
    /// Sessions: idle limit applies; tokens: fixed expiry.
    idle_limit_ms: Option<i64>,
    expires_ms: i64,
    /// The last use written to the database (writes are coarse: see `touch`).
    persisted_use_ms: i64,
    /// When this process last compared the cache with the database.
    checked: Instant,
}

/// How long a cached grant is trusted before the database is asked again.
const RECHECK: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, PartialEq, Eq)]
enum GrantKind {
    Session,
    Token,
}

impl GrantKind {
    fn as_str(self) -> &'static str {
        match self {
            GrantKind::Session => "session",
            GrantKind::Token => "token",
        }
    }
}

#[derive(Default)]
pub(crate) struct Grants {
    sessions: Mutex<HashMap<[u8; 32], Grant>>,
    tokens: Mutex<HashMap<[u8; 32], Grant>>,
    policy: Mutex<SecurityPolicy>,
}

impl Grants {
    fn table(&self, kind: GrantKind) -> &Mutex<HashMap<[u8; 32], Grant>> {
        match kind {
            GrantKind::Session => &self.sessions,
            GrantKind::Token => &self.tokens,
        }
    }
}

fn hex_key(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// The stored form of a new grant.
fn grant_record(kind: GrantKind, key: &[u8; 32], g: &Grant) -> GrantRecord {
    GrantRecord {
        token_hash: hex_key(key),
        kind: kind.as_str().into(),
        subject: g.actor.subject.clone(),
        role: g.actor.role.as_str().into(),
        organization_id: g.actor.organization,
        facility_code: g.actor.facility_code.clone(),
        created_at: g.created_ms,
        last_used_at: g.last_used_ms,
        idle_limit_ms: g.idle_limit_ms,
        expires_at: g.expires_ms,
        revoked_at: None,
    }
}

fn secret_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new TOTP secret (160 bits, base32), for a new user or a reset.
fn new_totp_secret() -> String {
    let mut raw = [0u8; 20];
    OsRng.fill_bytes(&mut raw);
    totp::base32_encode(&raw)
}

impl NewUserSecrets {
    fn new(username: String, password: Option<String>, totp_secret: String) -> NewUserSecrets {
        NewUserSecrets {
            otpauth_uri: totp::otpauth_uri("Immunis", &username, &totp_secret),
            username,
            password,
            totp_secret,
        }
    }
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const COMMON_PASSWORDS: &str = include_str!("../data/common_passwords.txt");

/// The password rules for human users: a minimum length, not a known
/// common/breached password, not the username.
pub fn check_password(username: &str, password: &str, min_chars: usize) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < min_chars {
        return Err(format!(
            "passwords must have at least {min_chars} characters"
        ));
    }
    let lower = password.to_lowercase();
    let squashed: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    let common = COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| l == lower || l == squashed);
    if common {
        return Err("this password is on the list of common or breached passwords".into());
    }
    if !username.is_empty() && lower.contains(&username.to_lowercase()) {
        return Err("the password must not contain the username".into());
    }
    if password.chars().all(|c| password.starts_with(c)) {
        return Err("the password must not repeat one character".into());
    }
    Ok(())
}

/// The role a human user of an organization of this kind acts in.
pub fn user_role(kind: OrganizationKind) -> Role {
    match kind {
        OrganizationKind::Provider => Role::ProviderUser,
        OrganizationKind::School => Role::School,
        OrganizationKind::BoardOfHealth => Role::BoardOfHealth,
        OrganizationKind::HealthDepartmentProgram => Role::HealthDepartment,
        OrganizationKind::Study => Role::Study,
        OrganizationKind::Registry => Role::RegistryAdmin,
    }
}

/// The role a machine client of an organization of this kind acts in.
pub fn client_role(kind: OrganizationKind) -> Role {
    match kind {
        OrganizationKind::Provider => Role::ProviderSystem,
        other => user_role(other),
    }
}

/// What a new user needs to be told once: the TOTP secret (and the password
/// when generated). Never stored in clear, never logged.
#[derive(Debug, Clone)]
pub struct NewUserSecrets {
    pub username: String,
    pub password: Option<String>,
    pub totp_secret: String,
    pub otpauth_uri: String,
}

/// A started session.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub actor: Actor,
}

/// An issued OAuth2 access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
    /// `org:<id>`: the organization the token is scoped to.
    pub scope: String,
}

/// A user as listed to administrators (no secrets).
#[derive(Debug, Clone)]
pub struct UserSummary {
    pub username: String,
    pub role: String,
    pub organization: Option<String>,
    pub person_patient_id: Option<PatientId>,
    pub disabled: bool,
    pub locked: bool,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Verifies against a fixed dummy hash so an unknown or locked account takes
/// as long as a known one.
fn burn_time(password: &str) {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2m5m4B9Wc7m5s0dY0xQm0a8cC1b3Zt9r0cVfQ9kq1yU";
    let _ = verify_secret(password, DUMMY);
}

impl Registry {
    /// Replaces the authentication limits (session idle time, token
    /// lifetime, lockout).
    pub fn set_security_policy(&self, policy: SecurityPolicy) {
        if let Ok(mut p) = self.grants.policy.lock() {
            *p = policy;
        }
    }

    fn policy(&self) -> SecurityPolicy {
        self.grants
            .policy
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    pub(crate) fn organization_by_name(&self, name: &str) -> Result<Organization, RegistryError> {
        let mut org = None;
        let n = name.to_string();
        self.read(&mut |tx| {
            org = tx.find_organization_by_name(&n)?;
            Ok(())
        })?;
        org.ok_or_else(|| RegistryError::NotFound(format!("organization {name:?}")))
    }

    /// Creates an organization (administrators). Idempotent by name and kind.
    pub fn add_organization(
        &self,
        actor: &Actor,
        name: &str,
        kind: OrganizationKind,
    ) -> Result<OrganizationId, RegistryError> {
        self.require_admin(actor)?;
        let name = name.trim().to_string();
        if name.is_empty() {
            return Err(RegistryError::Invalid("organization name is empty".into()));
        }
        let mut audit = audit_entry(actor, "add_organization", Purpose::Administration, "allow");
        audit.detail = Some(format!("{} ({})", name, kind.as_str()));
        self.writer.run_blocking(move |tx| {
            if let Some(o) = tx.find_organization_by_name(&name)? {
                if o.kind != kind {
                    return Err(StoreError::Conflict(format!(
                        "organization {name} exists as a {}",
                        o.kind.as_str()
                    )));
                }
                return Ok(o.id);
            }
            let id = tx.insert_organization(&name, kind)?;
            tx.append_audit(&audit)?;
            Ok(id)
        })
    }

    pub fn list_organizations(&self, actor: &Actor) -> Result<Vec<Organization>, RegistryError> {
        self.require_admin(actor)?;
        let mut out = Vec::new();
        self.read(&mut |tx| {
            out = tx.list_organizations()?;
            Ok(())
        })?;
        Ok(out)
    }

    /// Creates a human user. `organization` names the user's organization
    /// (the role follows its kind); `person` instead makes a person's own
    /// account for that registry patient. The password is checked against
    /// the rules, or generated when `None`. Returns the one-time secrets.
    pub fn add_user(
        &self,
        actor: &Actor,
        username: &str,
        organization: Option<&str>,
        person: Option<PatientId>,
        password: Option<&str>,
    ) -> Result<NewUserSecrets, RegistryError> {
        self.require_admin(actor)?;
        let username = username.trim().to_string();
        if username.is_empty()
            || username.len() > 64
            || !username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        {
            return Err(RegistryError::Invalid(
                "usernames are 1-64 characters of letters, digits, - _ . @".into(),
            ));
        }
        let (org_id, role) = match (organization, person) {
            (Some(o), None) => {
                let org = self.organization_by_name(o)?;
                (Some(org.id), user_role(org.kind))
            }
            (None, Some(_)) => (None, Role::Person),
            _ => {
                return Err(RegistryError::Invalid(
                    "a user belongs to exactly one organization, or is a person".into(),
                ))
            }
        };
        let policy = self.policy();
        let (password, generated) = match password {
            Some(p) => (p.to_string(), false),
            None => (generate_secret(), true),
        };
        check_password(&username, &password, policy.min_password_chars)
            .map_err(RegistryError::Invalid)?;
        let hash = hash_secret(&password)?;
        let secret = new_totp_secret();
        let mut audit = audit_entry(actor, "add_user", Purpose::Administration, "allow");
        audit.detail = Some(format!("user {username} role {}", role.as_str()));
        if let Some(p) = person {
            audit.patient_ids = vec![p];
        }
        let (u, s) = (username.clone(), secret.clone());
        self.writer.run_blocking(move |tx| {
            if let Some(p) = person {
                if tx.load_patient(p)?.is_none() {
                    return Err(StoreError::NotFound("patient"));
                }
            }
            tx.insert_user(&NewUser {
                username: &u,
                organization_id: org_id,
                role: role.as_str(),
                person_patient_id: person,
                password_hash: &hash,
                totp_secret: &s,
            })?;
            tx.append_audit(&audit)?;
            Ok(())
        })?;
        Ok(NewUserSecrets::new(
            username,
            generated.then_some(password),
            secret,
        ))
    }

    /// An administrator resets a user's password and TOTP (a lost phone, a
    /// forgotten password): a new one-time password and a new TOTP secret,
    /// shown once; the user's sessions end. Audited.
    pub fn reset_user_credentials(
        &self,
        actor: &Actor,
        username: &str,
    ) -> Result<NewUserSecrets, RegistryError> {
        self.require_admin(actor)?;
        let username = username.trim().to_string();
        let password = generate_secret();
        let hash = hash_secret(&password)?;
        let secret = new_totp_secret();
        let mut audit = audit_entry(
            actor,
            "reset_user_credentials",
            Purpose::Administration,
            "allow",
        );
        audit.detail = Some(format!("user {username}"));
        let (u, s) = (username.clone(), secret.clone());
        let found = self.writer.run_blocking(move |tx| {
            let found = tx.reset_user_credentials(&u, &hash, &s)?;
            if found {
                tx.revoke_grants_of(&u, immunis_store::now_millis())?;
                tx.append_audit(&audit)?;
            }
            Ok(found)
        })?;
        if !found {
            return Err(RegistryError::NotFound(format!("user {username:?}")));
        }
        if let Ok(mut s) = self.grants.sessions.lock() {
            s.retain(|_, g| g.actor.subject != username);
        }
        Ok(NewUserSecrets::new(username, Some(password), secret))
    }

    pub fn list_users(&self, actor: &Actor) -> Result<Vec<UserSummary>, RegistryError> {
        self.require_admin(actor)?;
        let mut out = Vec::new();
        let now = immunis_store::now_millis();
        self.read(&mut |tx| {
            let orgs = tx.list_organizations()?;
            out = tx
                .list_users()?
                .into_iter()
                .map(|u| UserSummary {
                    organization: u
                        .organization_id
                        .and_then(|id| orgs.iter().find(|o| o.id == id).map(|o| o.name.clone())),
                    username: u.username,
                    role: u.role,
                    person_patient_id: u.person_patient_id,
                    disabled: u.disabled,
                    locked: u.locked_until > now,
                })
                .collect();
            Ok(())
        })?;
        Ok(out)
    }

    /// Disables (or re-enables) a user; their live sessions end at once.
    pub fn set_user_disabled(
        &self,
        actor: &Actor,
        username: &str,
        disabled: bool,
    ) -> Result<(), RegistryError> {
        self.require_admin(actor)?;
        let u = username.to_string();
        let mut audit = audit_entry(
            actor,
            if disabled {
                "disable_user"
            } else {
                "enable_user"
            },
            Purpose::Administration,
            "allow",
        );
        audit.detail = Some(format!("user {u}"));
        let found = self.writer.run_blocking(move |tx| {
            let found = tx.set_user_disabled(&u, disabled)?;
            if found {
                if disabled {
                    // Every server process sees this within `RECHECK`.
                    tx.revoke_grants_of(&u, immunis_store::now_millis())?;
                }
                tx.append_audit(&audit)?;
            }
            Ok(found)
        })?;
        if !found {
            return Err(RegistryError::NotFound(format!("user {username:?}")));
        }
        if disabled {
            if let Ok(mut s) = self.grants.sessions.lock() {
                s.retain(|_, g| g.actor.subject != username);
            }
        }
        Ok(())
    }

    /// A signed-in user changes their own password: the current one must be
    /// given, the new one passes the same checks as at creation. Audited;
    /// the user's other sessions end (this one goes on).
    pub async fn change_own_password(
        &self,
        actor: &Actor,
        current_session: &str,
        current: &str,
        new: &str,
    ) -> Result<(), RegistryError> {
        let username = actor.subject.clone();
        let mut user = None;
        let name = username.clone();
        self.read(&mut |tx| {
            user = tx.find_user(&name)?;
            Ok(())
        })?;
        let Some(u) = user.filter(|u| !u.disabled) else {
            return Err(RegistryError::Denied(
                "only a registry user's own account can change its password here",
            ));
        };
        let mut audit = audit_entry(actor, "change_password", Purpose::Administration, "allow");
        audit.detail = Some(format!("user {username}"));
        if !verify_secret(current, &u.password_hash) {
            audit.outcome = "failure".into();
            self.append_audit(audit).await?;
            return Err(RegistryError::Invalid(
                "The current password is not right".into(),
            ));
        }
        if new == current {
            return Err(RegistryError::Invalid(
                "The new password must differ from the current one".into(),
            ));
        }
        check_password(&username, new, self.policy().min_password_chars)
            .map_err(RegistryError::Invalid)?;
        let hash = hash_secret(new)?;
        let keep = secret_key(current_session);
        let keep_hex = hex_key(&keep);
        let id = u.id;
        let who = username.clone();
        self.writer
            .run(move |tx| {
                tx.set_user_password(id, &hash)?;
                tx.revoke_other_grants_of(&who, &keep_hex, immunis_store::now_millis())?;
                tx.append_audit(&audit).map(|_| ())
            })
            .await?;
        if let Ok(mut s) = self.grants.sessions.lock() {
            s.retain(|k, g| g.actor.subject != username || *k == keep);
        }
        Ok(())
    }

    /// First run: creates the registry organization and its administrator,
    /// only if no administrator exists yet. Returns the one-time password and
    /// TOTP secret.
    pub fn bootstrap_admin(&self, username: &str) -> Result<NewUserSecrets, RegistryError> {
        let mut admins = 0;
        self.read(&mut |tx| {
            admins = tx.count_users_with_role(Role::RegistryAdmin.as_str())?;
            Ok(())
        })?;
        if admins > 0 {
            return Err(RegistryError::Invalid(
                "a registry administrator already exists; bootstrap runs once".into(),
            ));
        }
        let console = crate::console_admin();
        let org = "Immunization Registry";
        self.add_organization(&console, org, OrganizationKind::Registry)?;
        self.add_user(&console, username, Some(org), None, None)
    }

    /// Human login: password and TOTP code. Locked accounts, disabled
    /// accounts, unknown users, wrong passwords and wrong or replayed codes
    /// all fail alike (and take alike); every attempt is audited.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        totp_code: &str,
        client_addr: Option<String>,
    ) -> Result<Session, AuthError> {
        let policy = self.policy();
        let mut user = None;
        let name = username.to_string();
        self.read(&mut |tx| {
            user = tx.find_user(&name)?;
            Ok(())
        })
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let now_ms = immunis_store::now_millis();
        let (outcome, state) = match &user {
            None => {
                burn_time(password);
                ("failure", None)
            }
            Some(u) if u.disabled => {
                burn_time(password);
                ("disabled", None)
            }
            Some(u) if u.locked_until > now_ms => {
                burn_time(password);
                ("locked", None)
            }
            Some(u) => {
                let password_ok = verify_secret(password, &u.password_hash);
                let step = totp::base32_decode(&u.totp_secret).and_then(|s| {
                    totp::verify(
                        &s,
                        totp_code,
                        unix_now(),
                        u64::try_from(u.totp_last_step).unwrap_or(0),
                    )
                });
                let reused = password_ok
                    && step.is_none()
                    && totp::base32_decode(&u.totp_secret).is_some_and(|s| {
                        totp::reused(
                            &s,
                            totp_code,
                            unix_now(),
                            u64::try_from(u.totp_last_step).unwrap_or(0),
                        )
                    });
                match (password_ok, step) {
                    (true, Some(step)) => (
                        "success",
                        Some((u.id, 0, 0, i64::try_from(step).unwrap_or(i64::MAX))),
                    ),
                    _ => {
                        let failed = u.failed_logins + 1;
                        let locked_until = if failed >= policy.lockout_after {
                            let doublings =
                                u32::try_from(failed - policy.lockout_after).unwrap_or(16);
                            let wait = policy
                                .lockout_base
                                .saturating_mul(2u32.saturating_pow(doublings.min(16)))
                                .min(policy.lockout_max);
                            now_ms + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2)
                        } else {
                            0
                        };
                        (
                            if reused { "reused_code" } else { "failure" },
                            Some((u.id, failed, locked_until, u.totp_last_step)),
                        )
                    }
                }
            }
        };
        // A stored role that does not parse is corruption: the login fails
        // (closed), it never falls back to some other role.
        let parsed = user.as_ref().and_then(|u| Role::parse(&u.role));
        let (outcome, state) = match (outcome, parsed) {
            ("success", None) => ("corrupt_role", None),
            other => (other.0, state),
        };
        let role = parsed.unwrap_or(Role::Person);
        let actor = Actor {
            subject: username.to_string(),
            role,
            organization: user.as_ref().and_then(|u| u.organization_id),
            facility_code: None,
            client_addr,
        };
        let mut audit = audit_entry(&actor, "login", role.default_purpose(), outcome);
        audit.detail = Some("user password + totp".into());
        let token = random_token();
        let key = secret_key(&token);
        // The session starts now, after the (deliberately slow) checks.
        let started = immunis_store::now_millis();
        let grant = Grant {
            actor: actor.clone(),
            created_ms: started,
            last_used_ms: started,
            idle_limit_ms: Some(millis(policy.session_idle)),
            expires_ms: started.saturating_add(millis(policy.session_max)),
            persisted_use_ms: started,
            checked: Instant::now(),
        };
        let record = (outcome == "success").then(|| grant_record(GrantKind::Session, &key, &grant));
        let committed = self
            .writer
            .run(move |tx| {
                if let Some((id, failed, locked, step)) = state {
                    tx.update_user_login_state(id, failed, locked, step)?;
                }
                if let Some(r) = &record {
                    tx.insert_grant(r)?;
                }
                tx.append_audit(&audit).map(|_| ())
            })
            .await;
        if outcome == "reused_code" {
            return Err(AuthError::ReusedCode);
        }
        if outcome != "success" {
            return Err(AuthError::BadCredentials);
        }
        // A session exists only once it is durable (and its login audited).
        committed.map_err(|e| AuthError::Unavailable(e.to_string()))?;
        if let Ok(mut s) = self.grants.sessions.lock() {
            let now = immunis_store::now_millis();
            s.retain(|_, g| !expired(g, now));
            s.insert(key, grant);
        }
        Ok(Session { token, actor })
    }

    /// The actor of a live session; refreshes its inactivity timer.
    pub fn session_actor(
        &self,
        token: &str,
        client_addr: Option<String>,
    ) -> Result<Actor, AuthError> {
        self.live_grant(GrantKind::Session, token, client_addr)
    }

    /// Ends a session here at once, and in the database (so in every other
    /// process within `RECHECK`) with the next group commit.
    pub fn logout(&self, token: &str) {
        let key = secret_key(token);
        let removed = self
            .grants
            .sessions
            .lock()
            .ok()
            .and_then(|mut s| s.remove(&key));
        let hash = hex_key(&key);
        let actor = removed.map(|g| g.actor);
        drop(self.writer.submit(move |tx| {
            let was_live = tx.revoke_grant(&hash, immunis_store::now_millis())?;
            if let (true, Some(a)) = (was_live, &actor) {
                tx.append_audit(&audit_entry(
                    a,
                    "logout",
                    a.role.default_purpose(),
                    "success",
                ))?;
            }
            Ok(())
        }));
    }

    /// Registers an OAuth2 client-credentials client for an organization;
    /// returns its secret (shown once).
    pub fn add_oauth_client(
        &self,
        actor: &Actor,
        client_id: &str,
        organization: &str,
    ) -> Result<String, RegistryError> {
        self.require_admin(actor)?;
        let org = self.organization_by_name(organization)?;
        let secret = format!("{}{}", generate_secret(), generate_secret());
        let hash = hash_secret(&secret)?;
        let role = client_role(org.kind);
        let cid = client_id.trim().to_string();
        if cid.is_empty() {
            return Err(RegistryError::Invalid("client id is empty".into()));
        }
        let mut audit = audit_entry(actor, "add_oauth_client", Purpose::Administration, "allow");
        audit.detail = Some(format!("client {cid} org {}", org.id.0));
        self.writer.run_blocking(move |tx| {
            tx.insert_oauth_client(&cid, org.id, role.as_str(), &hash)?;
            tx.append_audit(&audit)?;
            Ok(())
        })?;
        Ok(secret)
    }

    /// `POST /oauth/token` with `grant_type=client_credentials`: an opaque
    /// bearer token scoped to the client's organization. Audited.
    pub async fn issue_token(
        &self,
        client_id: &str,
        client_secret: &str,
        client_addr: Option<String>,
    ) -> Result<IssuedToken, AuthError> {
        let policy = self.policy();
        let mut client = None;
        let cid = client_id.to_string();
        self.read(&mut |tx| {
            client = tx.find_oauth_client(&cid)?;
            Ok(())
        })
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let ok = match &client {
            Some(c) if !c.disabled => verify_secret(client_secret, &c.secret_hash),
            _ => {
                burn_time(client_secret);
                false
            }
        };
        // A stored role that does not parse fails the request (closed).
        let parsed = client.as_ref().and_then(|c| Role::parse(&c.role));
        let ok = ok && parsed.is_some();
        let role = parsed.unwrap_or(Role::ProviderSystem);
        let actor = Actor {
            subject: format!("client:{client_id}"),
            role,
            organization: client.as_ref().map(|c| c.organization_id),
            facility_code: None,
            client_addr,
        };
        let mut audit = audit_entry(
            &actor,
            "issue_token",
            role.default_purpose(),
            if ok { "success" } else { "failure" },
        );
        audit.detail = Some("oauth2 client_credentials".into());
        let token = random_token();
        let key = secret_key(&token);
        let now_ms = immunis_store::now_millis();
        let grant = Grant {
            actor,
            created_ms: now_ms,
            last_used_ms: now_ms,
            idle_limit_ms: None,
            expires_ms: now_ms.saturating_add(millis(policy.token_ttl)),
            persisted_use_ms: now_ms,
            checked: Instant::now(),
        };
        let record = ok.then(|| grant_record(GrantKind::Token, &key, &grant));
        let committed = self
            .writer
            .run(move |tx| {
                if let Some(r) = &record {
                    tx.insert_grant(r)?;
                }
                tx.append_audit(&audit).map(|_| ())
            })
            .await;
        let Some(c) = client.filter(|_| ok) else {
            return Err(AuthError::BadCredentials);
        };
        committed.map_err(|e| AuthError::Unavailable(e.to_string()))?;
        if let Ok(mut t) = self.grants.tokens.lock() {
            t.retain(|_, g| !expired(g, now_ms));
            t.insert(key, grant);
        }
        Ok(IssuedToken {
            access_token: token,
            expires_in: policy.token_ttl.as_secs(),
            scope: format!("org:{}", c.organization_id.0),
        })
    }

    /// The actor of a live bearer token.
    pub fn token_actor(
        &self,
        token: &str,
        client_addr: Option<String>,
    ) -> Result<Actor, AuthError> {
        self.live_grant(GrantKind::Token, token, client_addr)
    }

    /// Puts a person on an organization's roster (a school's students, a
    /// health-department program's enrolled clients).
    pub fn add_to_roster(
        &self,
        actor: &Actor,
        organization: &str,
        patient: PatientId,
    ) -> Result<(), RegistryError> {
        self.require_admin(actor)?;
        let org = self.organization_by_name(organization)?;
        let mut audit = audit_entry(actor, "add_to_roster", Purpose::Administration, "allow");
        audit.patient_ids = vec![patient];
        audit.detail = Some(format!("org {}", org.id.0));
        self.writer.run_blocking(move |tx| {
            if tx.load_patient(patient)?.is_none() {
                return Err(StoreError::NotFound("patient"));
            }
            tx.add_roster(org.id, patient)?;
            tx.append_audit(&audit)?;
            Ok(())
        })
    }

    /// Adds a town or ZIP code to a board of health's jurisdiction.
    pub fn add_jurisdiction(
        &self,
        actor: &Actor,
        organization: &str,
        kind: &str,
        value: &str,
    ) -> Result<(), RegistryError> {
        self.require_admin(actor)?;
        if kind != "zip" && kind != "town" {
            return Err(RegistryError::Invalid(
                "jurisdiction kind is zip or town".into(),
            ));
        }
        let org = self.organization_by_name(organization)?;
        let (k, v) = (kind.to_string(), value.to_string());
        let mut audit = audit_entry(actor, "add_jurisdiction", Purpose::Administration, "allow");
        audit.detail = Some(format!("org {} {k} {v}", org.id.0));
        self.writer.run_blocking(move |tx| {
            tx.add_jurisdiction(org.id, &k, &v)?;
            tx.append_audit(&audit)?;
            Ok(())
        })
    }

    /// Registers a client certificate (SHA-256 fingerprint of its DER, hex)
    /// as identifying a facility on MLLP over TLS.
    pub fn register_client_certificate(
        &self,
        actor: &Actor,
        facility_code: &str,
        fingerprint: &str,
    ) -> Result<(), RegistryError> {
        self.require_admin(actor)?;
        let fp = fingerprint.trim().to_ascii_lowercase().replace(':', "");
        if fp.len() != 64 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RegistryError::Invalid(
                "a certificate fingerprint is 64 hex digits (SHA-256)".into(),
            ));
        }
        let code = facility_code.to_string();
        let mut audit = audit_entry(
            actor,
            "register_client_certificate",
            Purpose::Administration,
            "allow",
        );
        audit.detail = Some(format!("facility {code} cert {fp}"));
        self.writer.run_blocking(move |tx| {
            if tx.find_facility(&code)?.is_none() {
                return Err(StoreError::NotFound("facility"));
            }
            tx.register_certificate(&fp, &code)?;
            tx.append_audit(&audit)?;
            Ok(())
        })
    }

    /// The facility actor for a verified client certificate (by fingerprint);
    /// the attempt is audited.
    pub async fn certificate_actor(
        &self,
        fingerprint: &str,
        client_addr: Option<String>,
    ) -> Result<Actor, AuthError> {
        let mut code = None;
        let fp = fingerprint.to_string();
        self.read(&mut |tx| {
            code = tx.certificate_facility(&fp)?;
            Ok(())
        })
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let result = match code {
            Some(c) => self.facility_actor(&c, client_addr.clone()),
            None => Err(AuthError::BadCredentials),
        };
        let actor = match &result {
            Ok(a) => a.clone(),
            Err(_) => Actor {
                subject: format!("certificate:{}", fingerprint.get(..16).unwrap_or("")),
                role: Role::ProviderSystem,
                organization: None,
                facility_code: None,
                client_addr,
            },
        };
        let mut audit = audit_entry(
            &actor,
            "login",
            Purpose::Treatment,
            if result.is_ok() { "success" } else { "failure" },
        );
        audit.detail = Some("client certificate".into());
        let _ = self
            .writer
            .run(move |tx| tx.append_audit(&audit).map(|_| ()))
            .await;
        result
    }
}

impl Registry {
    /// The actor of a live session or bearer token. The process cache answers
    /// while it is fresh; otherwise (a restart, another process's grant, or
    /// every `RECHECK`) the stored grant decides, so revocations anywhere
    /// apply here. Sessions restart their inactivity timer on use (written
    /// back coarsely, see `touch`); tokens do not.
    fn live_grant(
        &self,
        kind: GrantKind,
        token: &str,
        client_addr: Option<String>,
    ) -> Result<Actor, AuthError> {
        let key = secret_key(token);
        let now_ms = immunis_store::now_millis();
        let table = self.grants.table(kind);
        let cached = {
            let grants = table
                .lock()
                .map_err(|_| AuthError::Unavailable("grant table poisoned".into()))?;
            grants.get(&key).cloned()
        };
        let mut grant = match cached {
            Some(g) if g.checked.elapsed() < RECHECK => g,
            cached => {
                let hash = hex_key(&key);
                let mut row = None;
                self.read(&mut |tx| {
                    row = tx.find_grant(&hash)?;
                    Ok(())
                })
                .map_err(|e| AuthError::Unavailable(e.to_string()))?;
                let fresh = row
                    .filter(|r| r.kind == kind.as_str() && r.revoked_at.is_none())
                    .and_then(|r| {
                        let g = grant_from_record(&r)?;
                        // This process may have seen a later use than the row.
                        let last = cached.map_or(g.last_used_ms, |c| c.last_used_ms);
                        Some(Grant {
                            last_used_ms: last.max(g.last_used_ms),
                            ..g
                        })
                    });
                match fresh {
                    Some(g) => g,
                    None => {
                        if let Ok(mut grants) = table.lock() {
                            grants.remove(&key);
                        }
                        return Err(AuthError::BadCredentials);
                    }
                }
            }
        };
        if expired(&grant, now_ms) {
            if let Ok(mut grants) = table.lock() {
                grants.remove(&key);
            }
            return Err(AuthError::Expired);
        }
        if kind == GrantKind::Session {
            grant.last_used_ms = now_ms;
            self.touch(&key, &mut grant);
        }
        let mut actor = grant.actor.clone();
        actor.client_addr = client_addr;
        if let Ok(mut grants) = table.lock() {
            grants.insert(key, grant);
        }
        Ok(actor)
    }

    /// Writes a session's last use back when it has moved by a tenth of the
    /// idle limit (at most every few minutes, not on every request). The
    /// write is not awaited: losing it in a crash only makes the session
    /// expire a little earlier elsewhere.
    fn touch(&self, key: &[u8; 32], g: &mut Grant) {
        let step = g
            .idle_limit_ms
            .map_or(60_000, |idle| (idle / 10).max(1_000));
        if g.last_used_ms - g.persisted_use_ms < step {
            return;
        }
        g.persisted_use_ms = g.last_used_ms;
        let (hash, at) = (hex_key(key), g.last_used_ms);
        drop(self.writer.submit(move |tx| tx.touch_grant(&hash, at)));
    }
}

fn grant_from_record(r: &GrantRecord) -> Option<Grant> {
    Some(Grant {
        actor: Actor {
            subject: r.subject.clone(),
            role: Role::parse(&r.role)?,
            organization: r.organization_id,
            facility_code: r.facility_code.clone(),
            client_addr: None,
        },
        created_ms: r.created_at,
        last_used_ms: r.last_used_at,
        idle_limit_ms: r.idle_limit_ms,
        expires_ms: r.expires_at,
        persisted_use_ms: r.last_used_at,
        checked: Instant::now(),
    })
}

fn expired(g: &Grant, now_ms: i64) -> bool {
    now_ms >= g.expires_ms
        || g.idle_limit_ms
            .is_some_and(|idle| now_ms.saturating_sub(g.last_used_ms) >= idle)
        || now_ms < g.created_ms.saturating_sub(60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules() {
        assert!(check_password("alice", "short", 12).is_err());
        assert!(check_password("alice", "password1234", 12).is_err());
        assert!(check_password("alice", "Correct Horse Battery Staple", 12).is_err());
        assert!(check_password("alice", "alice-is-my-password", 12).is_err());
        assert!(check_password("alice", "aaaaaaaaaaaaaaa", 12).is_err());
        assert!(check_password("alice", "plum-ferry-42-orbit", 12).is_ok());
    }
}
