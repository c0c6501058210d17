//! Consumer access, "My immunization record": a person (or parent) asks for
//! a record with given name, family name, birth date and a phone number or
//! e-mail address already on file; when exactly one record matches, a
//! one-time code goes to that contact through the operator's channel; the
//! code opens a short-lived consumer session that reads that one record
//! through the access policy (`Role::Person`, `is_self`).
//!
//! Nothing tells the requester whether a person matched: every request gets
//! the same answer after the same minimum time, and a code that was never
//! sent fails exactly like a wrong one. Codes are 6 digits, stored hashed
//! (salted with the request handle), expire quickly, allow few attempts and
//! work once. Requests are rate-limited per target identity here (per
//! client IP at the transport). Every request, code and session is audited;
//! ordinary logs never carry the details.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use immunis_access::{Actor, Purpose, Role};
use immunis_model::{Patient, PatientId};
use immunis_store::{name_key, now_millis};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::AuthError;
use crate::{audit_entry, Registry, RegistryError};

/// Limits of consumer access.
#[derive(Debug, Clone)]
pub struct ConsumerPolicy {
    pub code_ttl: Duration,
    pub max_attempts: i64,
    pub session_ttl: Duration,
    /// Requests for the same details (name, birth date, contact) per window.
    pub per_identity: u32,
    pub identity_window: Duration,
    /// Every request answers no sooner than this (matched or not).
    pub response_floor: Duration,
}

impl Default for ConsumerPolicy {
    fn default() -> Self {
        ConsumerPolicy {
            code_ttl: Duration::from_secs(10 * 60),
            max_attempts: 5,
            session_ttl: Duration::from_secs(15 * 60),
            per_identity: 3,
            identity_window: Duration::from_secs(15 * 60),
            response_floor: Duration::from_millis(700),
        }
    }
}

/// Where a code goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    Sms,
    Email,
}

impl ContactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Sms => "sms",
            ContactKind::Email => "email",
        }
    }
}

/// One message for a delivery channel.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub kind: ContactKind,
    /// Phone digits or the e-mail address, as the requester typed it (and as on file).
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// A way to deliver one-time codes, configured by the operator.
/// `deliver` runs on a blocking thread, apart from the requester's answer;
/// its error goes to the server log, so it must not carry the recipient,
/// the code or anything a server echoed back.
pub trait CodeChannel: Send + Sync {
    fn name(&self) -> &'static str;
    /// This channel can send to this kind of contact (default: both).
    fn supports(&self, _kind: ContactKind) -> bool {
        true
    }
    fn deliver(&self, d: &Delivery) -> Result<(), String>;
}

/// What a person types to ask for their record.
#[derive(Debug, Clone)]
pub struct RecordRequest {
    pub given: String,
    pub family: String,
    pub birth_date: NaiveDate,
    /// A phone number or an e-mail address already on file.
    pub contact: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Always the same, matched or not: the handle to enter the code with.
    Accepted { handle: String },
    /// Too many requests for these details.
    RateLimited,
}

/// A started consumer session (the cookie secret).
#[derive(Debug, Clone)]
pub struct ConsumerLogin {
    pub token: String,
    pub patient_id: PatientId,
    pub expires_in: Duration,
}

#[derive(Default)]
pub(crate) struct ConsumerState {
    channel: Mutex<Option<Arc<dyn CodeChannel>>>,
    policy: Mutex<ConsumerPolicy>,
    identity_hits: Mutex<HashMap<[u8; 32], (Instant, u32)>>,
}

fn sha_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The contact as typed, normalized: e-mail lower-cased; phone as its last
/// 10 digits (a leading US country code dropped).
fn normalize_contact(raw: &str) -> Option<(ContactKind, String)> {
    let t = raw.trim();
    if t.contains('@') {
        let e = t.to_lowercase();
        let (local, domain) = e.split_once('@')?;
        if local.is_empty() || !domain.contains('.') || e.chars().any(char::is_whitespace) {
            return None;
        }
        return Some((ContactKind::Email, e));
    }
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 || digits.len() > 15 {
        return None;
    }
    let tail = digits.get(digits.len().saturating_sub(10)..)?.to_string();
    Some((ContactKind::Sms, tail))
}

fn phone_tail(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    digits
        .get(digits.len().saturating_sub(10)..)
        .unwrap_or("")
        .to_string()
}

/// The contact is on file for the person (their own or a guardian's).
fn contact_on_file(p: &Patient, kind: ContactKind, value: &str) -> bool {
    let phones = p
        .phones
        .iter()
        .chain(p.guardians.iter().filter_map(|g| g.phone.as_ref()));
    for ph in phones {
        match kind {
            ContactKind::Email => {
                if ph
                    .email
                    .as_deref()
                    .is_some_and(|e| e.trim().to_lowercase() == value)
                {
                    return true;
                }
            }
            ContactKind::Sms => {
                let t = phone_tail(&ph.number);
                if t.len() >= 7 && t == value {
                    return true;
                }
            }
        }
    }
    false
}

fn consumer_actor(sid: &str, client_addr: Option<String>) -> Actor {
    Actor {
        subject: format!("consumer:{sid}"),
        role: Role::Person,
        organization: None,
        facility_code: None,
        client_addr,
    }
}

impl Registry {
    /// Sets the channel codes go through (none: requests are accepted and
    /// audited but no code can be sent).
    pub fn set_code_channel(&self, channel: Arc<dyn CodeChannel>) {
        if let Ok(mut c) = self.consumer.channel.lock() {
            *c = Some(channel);
        }
    }

    pub fn set_consumer_policy(&self, policy: ConsumerPolicy) {
        if let Ok(mut p) = self.consumer.policy.lock() {
            *p = policy;
        }
    }

    fn consumer_policy(&self) -> ConsumerPolicy {
        self.consumer
            .policy
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    fn identity_allowed(&self, key: [u8; 32], policy: &ConsumerPolicy) -> bool {
        let now = Instant::now();
        let Ok(mut hits) = self.consumer.identity_hits.lock() else {
            return false;
        };
        if hits.len() > 100_000 {
            hits.retain(|_, (t, _)| now.duration_since(*t) < policy.identity_window);
        }
        let e = hits.entry(key).or_insert((now, 0));
        if now.duration_since(e.0) >= policy.identity_window {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
        e.1 <= policy.per_identity
    }

    /// The unique record matching the request exactly (normalized names,
    /// birth date, and the contact on file), or `None` when none or several do.
    fn match_request(
        &self,
        req: &RecordRequest,
        kind: ContactKind,
        contact: &str,
    ) -> Result<Option<PatientId>, RegistryError> {
        let fk = name_key(&req.family);
        let gk = name_key(&req.given);
        if fk.is_empty() || gk.is_empty() {
            return Ok(None);
        }
        let mut found: Vec<PatientId> = Vec::new();
        self.read(&mut |tx| {
            found.clear();
            for pid in tx.find_by_family_and_birth(&fk, req.birth_date)? {
                let Some(s) = tx.load_patient(pid)? else {
                    continue;
                };
                if name_key(&s.patient.legal_name().given) != gk
                    || s.patient.birth_date.0 != req.birth_date
                {
                    continue;
                }
                if !contact_on_file(&s.patient, kind, contact) {
                    continue;
                }
                let root = tx.root_of(pid)?;
                if !found.contains(&root) {
                    found.push(root);
                }
            }
            Ok(())
        })?;
        Ok(if found.len() == 1 { found.pop() } else { None })
    }

    /// A request for a record. Whatever the outcome, the answer (and its
    /// timing, at least `response_floor`) is the same unless the details
    /// were asked for too often. Audited with the match (the audit trail
    /// may hold patient data).
    pub async fn consumer_request(
        &self,
        req: &RecordRequest,
        client_addr: Option<String>,
    ) -> Result<RequestOutcome, RegistryError> {
        let started = tokio::time::Instant::now();
        let policy = self.consumer_policy();
        let normalized = normalize_contact(&req.contact);
        let identity: [u8; 32] = Sha256::digest(
            format!(
                "{}|{}|{}|{}",
                name_key(&req.given),
                name_key(&req.family),
                req.birth_date,
                normalized.as_ref().map(|(_, c)| c.as_str()).unwrap_or("")
            )
            .as_bytes(),
        )
        .into();
        let actor = Actor {
            subject: "consumer-request".into(),
            role: Role::Person,
            organization: None,
            facility_code: None,
            client_addr,
        };
        if !self.identity_allowed(identity, &policy) {
            let mut audit = audit_entry(
                &actor,
                "consumer_request",
                Purpose::SelfAccess,
                "rate_limited",
            );
            audit.detail = Some("too many requests for the same details".into());
            self.append_audit(audit).await?;
            tokio::time::sleep_until(started + policy.response_floor).await;
            return Ok(RequestOutcome::RateLimited);
        }
        let handle = random_hex(24);
        let matched = match &normalized {
            Some((kind, contact)) => self.match_request(req, *kind, contact)?,
            None => None,
        };
        let channel = self
            .consumer
            .channel
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .filter(|c| {
                normalized
                    .as_ref()
                    .is_none_or(|(kind, _)| c.supports(*kind))
            });
        let mut audit = audit_entry(&actor, "consumer_request", Purpose::SelfAccess, "allow");
        match (matched, &normalized, channel) {
            (Some(pid), Some((kind, _)), Some(channel)) => {
                let code = format!("{:06}", OsRng.next_u32() % 1_000_000);
                let code_hash = sha_hex(&[handle.as_bytes(), code.as_bytes()]);
                let request_hash = sha_hex(&[handle.as_bytes()]);
                let expires =
                    now_millis() + i64::try_from(policy.code_ttl.as_millis()).unwrap_or(600_000);
                audit.patient_ids = vec![pid];
                audit.detail = Some(format!("matched; code sent by {}", kind.as_str()));
                let k = kind.as_str();
                self.writer
                    .run(move |tx| {
                        tx.insert_consumer_code(&request_hash, pid, &code_hash, k, expires)?;
                        tx.append_audit(&audit).map(|_| ())
                    })
                    .await?;
                let delivery = Delivery {
                    kind: *kind,
                    to: req.contact.trim().to_string(),
                    subject: "Your immunization record code".into(),
                    body: format!(
                        "Your one-time code for your immunization record is {code}. It expires in {} minutes. If you did not ask for it, ignore this message.",
                        policy.code_ttl.as_secs() / 60
                    ),
                };
                // Delivery runs apart from the answer, so its time shows nothing.
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = channel.deliver(&delivery) {
                        tracing::error!("one-time code delivery failed ({}): {e}", channel.name());
                    }
                });
            }
            (Some(pid), kind, None) => {
                let kind = kind.as_ref().map(|(k, _)| k.as_str()).unwrap_or("this");
                // No patient data: only which kind of channel is missing.
                tracing::warn!("one-time code not sent: no channel is configured for {kind} codes");
                audit.patient_ids = vec![pid];
                audit.detail = Some(format!(
                    "matched; no delivery channel configured for {kind}"
                ));
                self.append_audit(audit).await?;
            }
            _ => {
                audit.detail = Some("no unique match; nothing sent".into());
                self.append_audit(audit).await?;
            }
        }
        tokio::time::sleep_until(started + policy.response_floor).await;
        Ok(RequestOutcome::Accepted { handle })
    }

    /// Checks a one-time code; on success starts a consumer session for the
    /// matched record. Every failure looks alike. Audited.
    pub async fn consumer_verify(
        &self,
        handle: &str,
        code: &str,
        client_addr: Option<String>,
    ) -> Result<ConsumerLogin, AuthError> {
        let policy = self.consumer_policy();
        let request_hash = sha_hex(&[handle.trim().as_bytes()]);
        let mut found = None;
        self.read(&mut |tx| {
            found = tx.find_consumer_code(&request_hash)?;
            Ok(())
        })
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let code = code.trim();
        let actor = Actor {
            subject: "consumer-request".into(),
            role: Role::Person,
            organization: None,
            facility_code: None,
            client_addr: client_addr.clone(),
        };
        let Some(c) = found else {
            let mut audit = audit_entry(&actor, "consumer_code", Purpose::SelfAccess, "failure");
            audit.detail = Some("unknown request".into());
            self.append_audit(audit)
                .await
                .map_err(|e| AuthError::Unavailable(e.to_string()))?;
            return Err(AuthError::BadCredentials);
        };
        let now = now_millis();
        let usable = c.used_at.is_none() && c.expires_at > now && c.attempts < policy.max_attempts;
        let expected = c.code_hash.as_bytes();
        let given = sha_hex(&[handle.trim().as_bytes(), code.as_bytes()]);
        let ok = usable && bool::from(given.as_bytes().ct_eq(expected));
        let mut audit = audit_entry(
            &actor,
            "consumer_code",
            Purpose::SelfAccess,
            if ok { "success" } else { "failure" },
        );
        audit.patient_ids = vec![c.patient_id];
        audit.detail = Some(
            if ok {
                "code accepted; consumer session started"
            } else if !usable {
                "code used, expired or out of attempts"
            } else {
                "wrong code"
            }
            .into(),
        );
        let token = random_hex(32);
        let sid = random_hex(8);
        let token_hash = sha_hex(&[token.as_bytes()]);
        let expires = now + i64::try_from(policy.session_ttl.as_millis()).unwrap_or(900_000);
        let (id, pid, s) = (c.id, c.patient_id, sid.clone());
        if ok {
            audit.detail = Some(format!("code accepted; consumer session {sid} started"));
        }
        self.writer
            .run(move |tx| {
                tx.consumer_code_attempt(id, ok)?;
                if ok {
                    tx.insert_consumer_session(&s, &token_hash, pid, expires)?;
                }
                tx.append_audit(&audit).map(|_| ())
            })
            .await
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        if !ok {
            return Err(AuthError::BadCredentials);
        }
        Ok(ConsumerLogin {
            token,
            patient_id: c.patient_id,
            expires_in: policy.session_ttl,
        })
    }

    /// The person actor of a live consumer session, with the record it may read.
    pub fn consumer_session(
        &self,
        token: &str,
        client_addr: Option<String>,
    ) -> Result<(Actor, PatientId), AuthError> {
        let token_hash = sha_hex(&[token.as_bytes()]);
        let mut found = None;
        self.read(&mut |tx| {
            found = tx.find_consumer_session(Some(&token_hash), None)?;
            Ok(())
        })
        .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        match found {
            Some(s) if s.expires_at > now_millis() => {
                Ok((consumer_actor(&s.sid, client_addr), s.patient_id))
            }
            Some(_) => Err(AuthError::Expired),
            None => Err(AuthError::BadCredentials),
        }
    }

    /// Ends a consumer session.
    pub async fn consumer_logout(&self, token: &str) -> Result<(), RegistryError> {
        let token_hash = sha_hex(&[token.as_bytes()]);
        let mut found = None;
        self.read(&mut |tx| {
            found = tx.find_consumer_session(Some(&token_hash), None)?;
            Ok(())
        })?;
        if let Some(s) = found {
            let actor = consumer_actor(&s.sid, None);
            let mut audit = audit_entry(&actor, "consumer_logout", Purpose::SelfAccess, "success");
            audit.patient_ids = vec![s.patient_id];
            self.writer
                .run(move |tx| {
                    tx.end_consumer_session(&s.sid)?;
                    tx.append_audit(&audit).map(|_| ())
                })
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_normalize() {
        assert_eq!(
            normalize_contact(" Parent@Example.ORG "),
            Some((ContactKind::Email, "parent@example.org".into()))
        );
        assert_eq!(
            normalize_contact("+1 (617) 555-0142"),
            Some((ContactKind::Sms, "6175550142".into()))
        );
        assert_eq!(normalize_contact("12"), None);
        assert_eq!(normalize_contact("a@b"), None);
    }
}
