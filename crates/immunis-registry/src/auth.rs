//! Submitter administration and authentication: facilities and their machine
//! credentials (argon2id hashes). Verified credentials are cached by a SHA-256
//! of (username, password) so that per-request basic authentication does not
//! pay argon2 each time; a changed password simply misses the cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use immunis_access::{Action, Actor, Purpose, Role};
use immunis_model::{FacilityId, OrganizationKind};
use rand_core::OsRng;
use sha2::{Digest, Sha256};

use crate::{audit_entry, Registry, RegistryError};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("invalid username or password")]
    BadCredentials,
    /// Right password, and a code the authenticator showed but that was
    /// already used for a login (a replay is refused): wait for the next one.
    #[error("this code was already used: wait for the next code from your authenticator app")]
    ReusedCode,
    #[error("session or token expired")]
    Expired,
    #[error("authentication unavailable: {0}")]
    Unavailable(String),
}

#[derive(Default)]
pub(crate) struct CredentialCache {
    entries: Mutex<HashMap<[u8; 32], (Actor, Instant)>>,
}

const CACHE_TTL: Duration = Duration::from_secs(300);
/// How long a facility lookup is trusted (a disabled facility stops within this).
const FACILITY_TTL: Duration = Duration::from_secs(60);

pub(crate) type FacilityCache = Mutex<HashMap<String, (immunis_model::Facility, Instant)>>;

fn cache_key(username: &str, password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((username.len() as u64).to_be_bytes());
    h.update(username.as_bytes());
    h.update(password.as_bytes());
    h.finalize().into()
}

/// A random 24-character secret from the OS random number generator.
pub fn generate_secret() -> String {
    use rand_core::RngCore;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 24];
    OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| {
            ALPHABET
                .get(usize::from(*b) % ALPHABET.len())
                .copied()
                .unwrap_or(b'x') as char
        })
        .collect()
}

/// Hashes a secret with argon2id and a random salt (PHC string).
pub fn hash_secret(secret: &str) -> Result<String, RegistryError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| RegistryError::Internal(format!("password hashing failed: {e}")))
}

pub(crate) fn verify_secret(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

impl Registry {
    pub(crate) fn require_admin(&self, actor: &Actor) -> Result<(), RegistryError> {
        match immunis_access::decide(actor, Action::Administer, Purpose::Administration, None) {
            immunis_access::Decision::Deny(why) => Err(RegistryError::Denied(why)),
            _ => Ok(()),
        }
    }

    /// Registers a facility (MSH-4 code) under an organization, creating the
    /// organization if new. Idempotent for an existing code with the same org.
    pub fn register_facility(
        &self,
        actor: &Actor,
        organization: &str,
        kind: OrganizationKind,
        code: &str,
        name: &str,
    ) -> Result<FacilityId, RegistryError> {
        self.require_admin(actor)?;
        let (organization, code, name) = (
            organization.to_string(),
            code.trim().to_string(),
            name.to_string(),
        );
        if code.is_empty() {
            return Err(RegistryError::Invalid("facility code is empty".into()));
        }
        let mut audit = audit_entry(actor, "register_facility", Purpose::Administration, "allow");
        audit.detail = Some(format!("facility {code}"));
        self.writer.run_blocking(move |tx| {
            if let Some(f) = tx.find_facility(&code)? {
                return Ok(f.id);
            }
            let org = match tx.find_organization_by_name(&organization)? {
                Some(o) => o.id,
                None => tx.insert_organization(&organization, kind)?,
            };
            let id = tx.insert_facility(org, &code, &name)?;
            tx.append_audit(&audit)?;
            Ok(id)
        })
    }

    /// Gives a facility a machine credential (SOAP/HTTP username + password).
    pub fn add_submitter_credential(
        &self,
        actor: &Actor,
        facility_code: &str,
        username: &str,
        password: &str,
    ) -> Result<(), RegistryError> {
        self.require_admin(actor)?;
        crate::identity::check_password(username, password, 12)
            .map_err(|e| RegistryError::Invalid(format!("submitter password: {e}")))?;
        let hash = hash_secret(password)?;
        let (code, user) = (facility_code.to_string(), username.to_string());
        let mut audit = audit_entry(
            actor,
            "add_submitter_credential",
            Purpose::Administration,
            "allow",
        );
        audit.detail = Some(format!("facility {code} user {user}"));
        self.writer.run_blocking(move |tx| {
            let f = tx
                .find_facility(&code)?
                .ok_or(immunis_store::StoreError::NotFound("facility"))?;
            tx.insert_credential(f.id, &user, &hash)?;
            tx.append_audit(&audit)?;
            Ok(())
        })
    }

    /// Checks a submitter's username and password; every attempt is audited.
    pub async fn authenticate_submitter(
        &self,
        username: &str,
        password: &str,
        client_addr: Option<String>,
    ) -> Result<Actor, AuthError> {
        let key = cache_key(username, password);
        if let Ok(cache) = self.auth_cache.entries.lock() {
            if let Some((actor, at)) = cache.get(&key) {
                if at.elapsed() < CACHE_TTL {
                    let mut a = actor.clone();
                    a.client_addr = client_addr;
                    return Ok(a);
                }
            }
        }
        let mut cred = None;
        let user = username.to_string();
        self.read(&mut |tx| {
            cred = tx.find_credential(&user)?;
            Ok(())
        })
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        // Verify against a dummy hash when the user is unknown, so timing does
        // not reveal which usernames exist.
        const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2m5m4B9Wc7m5s0dY0xQm0a8cC1b3Zt9r0cVfQ9kq1yU";
        // argon2 is deliberately slow: keep it off the async worker.
        let check = || match &cred {
            Some(c) if !c.disabled => verify_secret(password, &c.secret_hash),
            _ => {
                let _ = verify_secret(password, DUMMY);
                false
            }
        };
        let ok = if tokio::runtime::Handle::try_current().is_ok() {
            tokio::task::block_in_place(check)
        } else {
            check()
        };
        let actor = Actor {
            subject: username.to_string(),
            role: Role::ProviderSystem,
            organization: cred.as_ref().map(|c| c.facility.organization_id),
            facility_code: cred.as_ref().map(|c| c.facility.code.clone()),
            client_addr,
        };
        let mut audit = audit_entry(
            &actor,
            "login",
            Purpose::Treatment,
            if ok { "success" } else { "failure" },
        );
        audit.detail = Some("submitter credential".into());
        let _ = self
            .writer
            .run(move |tx| tx.append_audit(&audit).map(|_| ()))
            .await;
        if !ok {
            return Err(AuthError::BadCredentials);
        }
        if let Ok(mut cache) = self.auth_cache.entries.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(key, (actor.clone(), Instant::now()));
        }
        Ok(actor)
    }

    /// The actor for a registered facility on a trusted transport (MLLP with a
    /// verified client certificate, or plaintext explicitly allowed by the
    /// operator): the facility is identified by its code.
    pub fn facility_actor(
        &self,
        facility_code: &str,
        client_addr: Option<String>,
    ) -> Result<Actor, AuthError> {
        // Facilities change rarely and every trusted-network message needs
        // one: a short-lived in-memory cache saves a read per message.
        let cached = self.facility_cache.lock().ok().and_then(|c| {
            c.get(facility_code)
                .filter(|(_, at)| at.elapsed() < FACILITY_TTL)
                .map(|(f, _)| f.clone())
        });
        let fac = match cached {
            Some(f) => Some(f),
            None => {
                let mut fac = None;
                let code = facility_code.to_string();
                self.read(&mut |tx| {
                    fac = tx.find_facility(&code)?;
                    Ok(())
                })
                .map_err(|e| AuthError::Unavailable(e.to_string()))?;
                if let (Some(f), Ok(mut c)) = (&fac, self.facility_cache.lock()) {
                    if c.len() > 100_000 {
                        c.clear();
                    }
                    c.insert(facility_code.to_string(), (f.clone(), Instant::now()));
                }
                fac
            }
        };
        let f = fac.ok_or(AuthError::BadCredentials)?;
        Ok(Actor {
            subject: format!("facility:{}", f.code),
            role: Role::ProviderSystem,
            organization: Some(f.organization_id),
            facility_code: Some(f.code),
            client_addr,
        })
    }
}

impl Registry {
    /// Registered facilities with their organizations (administrators only).
    pub fn list_facilities(
        &self,
        actor: &Actor,
    ) -> Result<Vec<(immunis_model::Facility, immunis_model::Organization)>, RegistryError> {
        self.require_admin(actor)?;
        let mut out = Vec::new();
        self.read(&mut |tx| {
            out = tx.list_facilities()?;
            Ok(())
        })?;
        Ok(out)
    }
}
