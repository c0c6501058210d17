//! Documents a person holds: the official immunization record (PDF) and the
//! SMART Health Card of the same record. The record is read through the same
//! access decision and visibility rules as [`Registry::patient_record`]
//! (under an objection a provider sees, and so prints and signs, only its
//! own organization's doses), evaluated by the CDSi engine (only valid doses
//! are listed; the forecast says what is due), and the disclosure is
//! audited. The registry manages the ES256 signing keys: the newest
//! activated, unretired key signs; every unretired key is published in the
//! JWKS so cards signed before a rotation still verify.

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::NaiveDate;
use immunis_access::{Actor, Purpose};
use immunis_cdsi::DoseStatus;
use immunis_documents::{DoseInfo, DueInfo, HealthCard, IssuerKey, PersonInfo, RecordDocument};
use immunis_model::{PatientId, Sex};
use immunis_store::SigningKeyRecord;
use rand_core::{OsRng, RngCore};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

use crate::checkpoint::load_visible;
use crate::query::PatientRecord;
use crate::{audit_entry, Registry, RegistryError};

/// What the documents say about the registry, and how its keys are kept.
#[derive(Debug, Clone, Default)]
pub struct DocumentSettings {
    /// The registry's public base URL: the cards' `iss`; the JWKS is served
    /// at `{public_url}/.well-known/jwks.json`.
    pub public_url: Option<String>,
    /// The header of the official record.
    pub registry_name: Option<String>,
    /// Lines under the header (address, phone, web site).
    pub registry_lines: Vec<String>,
    /// Key-encryption key for the signing keys at rest (AES-256-GCM). Without
    /// one, private keys are stored unencrypted (see ARCHITECTURE.md).
    pub key_encryption_key: Option<[u8; 32]>,
}

#[derive(Default)]
pub(crate) struct Documents {
    settings: Mutex<DocumentSettings>,
}

/// Which document is issued (audited as such).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Pdf,
    SmartHealthCard,
}

impl DocumentKind {
    fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Pdf => "official record pdf",
            DocumentKind::SmartHealthCard => "smart health card",
        }
    }
}

/// A signing key as listed to administrators (no private material).
#[derive(Debug, Clone)]
pub struct SigningKeySummary {
    pub kid: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub active: bool,
    pub encrypted: bool,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// Parses a key-encryption key given as 64 hex digits.
pub fn parse_key_encryption_key(text: &str) -> Result<[u8; 32], RegistryError> {
    unhex(text.trim())
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| {
            RegistryError::Invalid("the key-encryption key must be 64 hex digits (32 bytes)".into())
        })
}

fn seal(kek: &[u8; 32], kid: &str, secret: &[u8]) -> Result<String, RegistryError> {
    let key = UnboundKey::new(&AES_256_GCM, kek)
        .map(LessSafeKey::new)
        .map_err(|_| RegistryError::Internal("key-encryption key rejected".into()))?;
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let mut buf = secret.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(kid.as_bytes()),
        &mut buf,
    )
    .map_err(|_| RegistryError::Internal("signing key encryption failed".into()))?;
    Ok(format!("aead1:{}:{}", hex(&nonce), hex(&buf)))
}

fn open(stored: &str, kid: &str, kek: Option<&[u8; 32]>) -> Result<IssuerKey, RegistryError> {
    let bad = || RegistryError::Internal(format!("signing key {kid} is unreadable"));
    let secret = if let Some(h) = stored.strip_prefix("plain:") {
        unhex(h).ok_or_else(bad)?
    } else if let Some(rest) = stored.strip_prefix("aead1:") {
        let kek = kek.ok_or_else(|| {
            RegistryError::Invalid(format!(
                "signing key {kid} is encrypted: configure the key-encryption key (IMMUNIS_SIGNING_KEK)"
            ))
        })?;
        let (n, c) = rest.split_once(':').ok_or_else(bad)?;
        let nonce = unhex(n)
            .and_then(|v| <[u8; 12]>::try_from(v).ok())
            .ok_or_else(bad)?;
        let mut buf = unhex(c).ok_or_else(bad)?;
        let key = UnboundKey::new(&AES_256_GCM, kek)
            .map(LessSafeKey::new)
            .map_err(|_| bad())?;
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut buf,
            )
            .map_err(|_| {
                RegistryError::Invalid(format!(
                    "signing key {kid} does not decrypt with the configured key-encryption key"
                ))
            })?;
        plain.to_vec()
    } else {
        return Err(bad());
    };
    let key = IssuerKey::from_secret_bytes(&secret)
        .map_err(|e| RegistryError::Internal(e.to_string()))?;
    if key.kid() != kid {
        return Err(RegistryError::Internal(format!(
            "signing key {kid} does not match its kid"
        )));
    }
    Ok(key)
}

/// The key that signs: the most recently activated one not retired.
fn active(keys: &[SigningKeyRecord]) -> Option<&SigningKeyRecord> {
    keys.iter()
        .filter(|k| k.retired_at.is_none() && k.activated_at.is_some())
        .max_by_key(|k| (k.activated_at, k.created_at))
}

fn sex_label(s: Sex) -> Option<String> {
    match s {
        Sex::Female => Some("Female".into()),
        Sex::Male => Some("Male".into()),
        Sex::Other => Some("Other".into()),
        Sex::Unknown => None,
    }
}

impl Registry {
    /// Replaces the documents' settings (the server sets them at start).
    pub fn set_document_settings(&self, settings: DocumentSettings) {
        if let Ok(mut s) = self.documents.settings.lock() {
            *s = settings;
        }
    }

    fn document_settings(&self) -> DocumentSettings {
        self.documents
            .settings
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    fn signing_key_records(&self) -> Result<Vec<SigningKeyRecord>, RegistryError> {
        let mut keys = Vec::new();
        self.read(&mut |tx| {
            keys = tx.signing_keys()?;
            Ok(())
        })?;
        Ok(keys)
    }

    /// Makes a new signing key and activates it; older keys stay published
    /// until retired, so the cards they signed keep verifying. Returns the
    /// new kid. Administrators only; audited.
    pub fn rotate_signing_key(&self, actor: &Actor) -> Result<String, RegistryError> {
        self.require_admin(actor)?;
        self.new_signing_key(actor)
    }

    fn new_signing_key(&self, actor: &Actor) -> Result<String, RegistryError> {
        let key = IssuerKey::generate(&mut OsRng);
        let kid = key.kid().to_string();
        let settings = self.document_settings();
        let stored = match settings.key_encryption_key.as_ref() {
            Some(kek) => seal(kek, &kid, &key.secret_bytes())?,
            None => {
                tracing::warn!(
                    "signing key {kid} stored WITHOUT encryption: configure IMMUNIS_SIGNING_KEK"
                );
                format!("plain:{}", hex(&key.secret_bytes()))
            }
        };
        let jwk = key.public().to_json().to_string();
        let mut audit = audit_entry(
            actor,
            "rotate_signing_key",
            Purpose::Administration,
            "allow",
        );
        audit.detail = Some(format!(
            "kid {kid}{}",
            if settings.key_encryption_key.is_some() {
                ""
            } else {
                " (stored unencrypted)"
            }
        ));
        let k = kid.clone();
        self.writer.run_blocking(move |tx| {
            tx.insert_signing_key(&k, &jwk, &stored, true)?;
            tx.append_audit(&audit).map(|_| ())
        })?;
        Ok(kid)
    }

    /// Retires a key: it leaves the JWKS (cards it signed stop verifying).
    pub fn retire_signing_key(&self, actor: &Actor, kid: &str) -> Result<(), RegistryError> {
        self.require_admin(actor)?;
        let keys = self.signing_key_records()?;
        if active(&keys).is_some_and(|k| k.kid == kid) {
            return Err(RegistryError::Invalid(
                "the active key cannot be retired; rotate first".into(),
            ));
        }
        let mut audit = audit_entry(
            actor,
            "retire_signing_key",
            Purpose::Administration,
            "allow",
        );
        audit.detail = Some(format!("kid {kid}"));
        let k = kid.to_string();
        self.writer.run_blocking(move |tx| {
            tx.retire_signing_key(&k)?;
            tx.append_audit(&audit).map(|_| ())
        })
    }

    pub fn list_signing_keys(
        &self,
        actor: &Actor,
    ) -> Result<Vec<SigningKeySummary>, RegistryError> {
        self.require_admin(actor)?;
        let keys = self.signing_key_records()?;
        let active_kid = active(&keys).map(|k| k.kid.clone());
        Ok(keys
            .into_iter()
            .map(|k| SigningKeySummary {
                active: Some(&k.kid) == active_kid.as_ref(),
                encrypted: k.private_key.starts_with("aead1:"),
                kid: k.kid,
                created_at: k.created_at,
                activated_at: k.activated_at,
                retired_at: k.retired_at,
            })
            .collect())
    }

    /// The JSON Web Key Set of every unretired signing key (public; served
    /// at `/.well-known/jwks.json`).
    pub fn jwks(&self) -> Result<serde_json::Value, RegistryError> {
        let keys = self.signing_key_records()?;
        let list: Vec<serde_json::Value> = keys
            .iter()
            .filter(|k| k.retired_at.is_none())
            .filter_map(|k| serde_json::from_str(&k.public_jwk).ok())
            .collect();
        Ok(serde_json::json!({ "keys": list }))
    }

    /// Makes the registry's first signing key when it has none (at start-up,
    /// so the JWKS verifiers fetch and cache is stable from the first
    /// request). Returns the kid made, if any. The key is sealed with the
    /// key-encryption key of the current settings.
    pub fn ensure_signing_key(&self) -> Result<Option<String>, RegistryError> {
        let keys = self.signing_key_records()?;
        if active(&keys).is_some() {
            return Ok(None);
        }
        self.new_signing_key(&crate::console_admin()).map(Some)
    }

    /// The active signing key (made on first use when there is none).
    fn signing_key(&self) -> Result<IssuerKey, RegistryError> {
        let settings = self.document_settings();
        let keys = self.signing_key_records()?;
        match active(&keys) {
            Some(k) => open(&k.private_key, &k.kid, settings.key_encryption_key.as_ref()),
            None => {
                let kid = self.new_signing_key(&crate::console_admin())?;
                let keys = self.signing_key_records()?;
                let k = keys
                    .iter()
                    .find(|k| k.kid == kid)
                    .ok_or_else(|| RegistryError::Internal("new signing key vanished".into()))?;
                open(&k.private_key, &k.kid, settings.key_encryption_key.as_ref())
            }
        }
    }

    /// The record as a document: valid doses grouped by vaccine group, what
    /// is due, the issue date.
    fn record_document(
        &self,
        rec: &PatientRecord,
        facilities: &[(String, String)],
        today: NaiveDate,
    ) -> RecordDocument {
        let engine = self.engine();
        let assessed = self.assess(rec, today);
        let ev = &assessed.evaluated;
        let n = rec.doses.len();
        let mut valid: Vec<BTreeSet<String>> = vec![BTreeSet::new(); n];
        let mut evaluated = vec![false; n];
        for g in &ev.assessment.vaccine_groups {
            let name = engine.vaccine_group_name(g.group).to_string();
            for e in &g.evaluations {
                let Some(&i) = ev.dose_map.get(e.dose_index) else {
                    continue;
                };
                if let Some(flag) = evaluated.get_mut(i) {
                    *flag = true;
                }
                if e.status == DoseStatus::Valid {
                    if let Some(set) = valid.get_mut(i) {
                        set.insert(name.clone());
                    }
                }
            }
        }
        let codes = self.codes();
        let mut doses = Vec::new();
        for (i, d) in rec.doses.iter().enumerate() {
            let e = &d.primary.event;
            let (Some(date), Some(cvx)) = (e.administered_date, e.cvx.as_ref()) else {
                continue;
            };
            let info = codes.cvx(cvx);
            let groups: Vec<String> = if evaluated[i] {
                if valid[i].is_empty() {
                    // Evaluated and counted nowhere: not a valid dose.
                    continue;
                }
                valid[i].iter().cloned().collect()
            } else {
                // The schedule does not assess this vaccine: listed under its CDC group.
                info.map(|c| c.vaccine_groups.clone()).unwrap_or_default()
            };
            let provider = e
                .administering_facility
                .as_ref()
                .and_then(|c| c.text.clone())
                .filter(|t| !t.trim().is_empty())
                .or_else(|| {
                    facilities
                        .iter()
                        .find(|(code, _)| *code == d.primary.facility_code)
                        .map(|(_, name)| name.clone())
                })
                .or_else(|| Some(d.primary.facility_code.clone()));
            doses.push(DoseInfo {
                date,
                vaccine: info
                    .map(|c| c.short_description.clone())
                    .or_else(|| e.trade_name.clone())
                    .unwrap_or_else(|| format!("CVX {}", cvx.as_str())),
                cvx: cvx.as_str().to_string(),
                groups,
                provider,
                lot_number: e.lot_number.clone(),
            });
        }
        let currency = &assessed.currency;
        let due = assessed
            .groups()
            .filter_map(|ga| {
                // Expired seasonal data gives no forecast (the note says why).
                let f = ga.forecast()?;
                let g = ga.result;
                Some(DueInfo {
                    group: ga.name.to_string(),
                    status: g.status.as_str().to_string(),
                    dose_number: Some(f.dose_number),
                    earliest: Some(f.earliest),
                    recommended: Some(f.recommended),
                    past_due: f.past_due,
                })
            })
            .collect();
        let settings = self.document_settings();
        let name = rec.patient.legal_name();
        let mut notes = Vec::new();
        if rec.restricted {
            notes.push(
                "Limited record: the person objected to sharing their immunization data, so only \
                 the doses your organization reported are shown and signed."
                    .to_string(),
            );
        }
        notes.extend(currency.forecast_warnings());
        RecordDocument {
            registry_name: settings
                .registry_name
                .unwrap_or_else(|| "Immunization Information System".into()),
            registry_lines: settings.registry_lines,
            person: PersonInfo {
                given: name.given.clone(),
                middle: name.middle.clone(),
                family: name.family.clone(),
                birth_date: rec.patient.birth_date.0,
                sex: sex_label(rec.patient.sex),
                registry_id: Some(rec.id.0.to_string()),
            },
            doses,
            due,
            issued_on: today,
            notes,
        }
    }

    /// Reads the record as the actor may see it, builds the document and
    /// signs the card; audits the disclosure (allowed or denied).
    async fn issue(
        &self,
        actor: &Actor,
        purpose: Purpose,
        id: PatientId,
        today: NaiveDate,
        now_unix: i64,
        kind: DocumentKind,
    ) -> Result<(RecordDocument, HealthCard), RegistryError> {
        let mut rec = None;
        let mut facilities = Vec::new();
        self.read(&mut |tx| {
            rec = load_visible(tx, self, actor, purpose, id)?;
            facilities.clear();
            if let Some(r) = &rec {
                let codes: BTreeSet<&str> = r
                    .doses
                    .iter()
                    .map(|d| d.primary.facility_code.as_str())
                    .collect();
                for c in codes {
                    if let Some(f) = tx.find_facility(c)? {
                        facilities.push((c.to_string(), f.name));
                    }
                }
            }
            Ok(())
        })?;
        let mut audit = audit_entry(
            actor,
            "issue_record_document",
            purpose,
            if rec.is_some() { "allow" } else { "deny" },
        );
        audit.patient_ids = vec![id];
        audit.detail = Some(kind.as_str().to_string());
        let Some(rec) = rec else {
            self.append_audit(audit).await?;
            return Err(RegistryError::NotFound("patient".into()));
        };
        audit.patient_ids = vec![rec.id];
        let doc = self.record_document(&rec, &facilities, today);
        let issuer = self.document_settings().public_url.ok_or_else(|| {
            RegistryError::Invalid("the registry's public URL is not configured".into())
        })?;
        let key = self.signing_key()?;
        let card =
            immunis_documents::health_card(&doc, &key, issuer.trim_end_matches('/'), now_unix)
                .map_err(|e| RegistryError::Invalid(e.to_string()))?;
        if !card.detail.lot_number || !card.detail.performer {
            if let Some(d) = audit.detail.as_mut() {
                d.push_str("; optional fields left out to fit one QR code");
            }
        }
        // The disclosure is on record before the document leaves.
        self.append_audit(audit).await?;
        Ok((doc, card))
    }

    /// The official immunization record as PDF (one page where it fits),
    /// with the SMART Health Card as its verification QR code. Audited.
    pub async fn official_record_pdf(
        &self,
        actor: &Actor,
        purpose: Purpose,
        id: PatientId,
        today: NaiveDate,
        now_unix: i64,
    ) -> Result<Vec<u8>, RegistryError> {
        let (doc, card) = self
            .issue(actor, purpose, id, today, now_unix, DocumentKind::Pdf)
            .await?;
        Ok(immunis_documents::official_record_pdf(&doc, &card))
    }

    /// The `.smart-health-card` file of the record
    /// (`{"verifiableCredential":[jws]}`, media type
    /// `application/smart-health-card`). Audited.
    pub async fn health_card_file(
        &self,
        actor: &Actor,
        purpose: Purpose,
        id: PatientId,
        today: NaiveDate,
        now_unix: i64,
    ) -> Result<String, RegistryError> {
        let (_, card) = self
            .issue(
                actor,
                purpose,
                id,
                today,
                now_unix,
                DocumentKind::SmartHealthCard,
            )
            .await?;
        Ok(immunis_documents::health_card_file(&card.jws))
    }
}
