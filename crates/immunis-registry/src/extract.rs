//! De-identified extracts for approved studies: per person a pseudonym that
//! is stable within one extract only (HMAC-SHA256 of the registry id under a
//! key drawn for that extract and then discarded), birth year, sex, the first
//! three ZIP digits, and the doses as (CVX, year-month). No names,
//! identifiers, full dates, addresses or facilities. People with an active
//! objection to data sharing (on any record of their merged cluster, as for
//! reads) are left out; a person's doses come from every record of the
//! cluster. One audit entry per extract.

use hmac::{Hmac, Mac};
use immunis_access::{decide, Action, Actor, Decision, Purpose};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

use crate::checkpoint::cluster_and_consent;
use crate::consolidate::consolidate;
use crate::{audit_entry, Registry, RegistryError};

/// One person in a de-identified extract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractRow {
    pub pseudonym: String,
    pub birth_year: i32,
    pub sex: &'static str,
    pub zip3: Option<String>,
    /// (CVX, "YYYY-MM") per consolidated dose.
    pub doses: Vec<(String, String)>,
}

impl Registry {
    pub fn deidentified_extract(&self, actor: &Actor) -> Result<Vec<ExtractRow>, RegistryError> {
        if let Decision::Deny(why) =
            decide(actor, Action::DeidentifiedExtract, Purpose::Research, None)
        {
            let audit = audit_entry(actor, "deidentified_extract", Purpose::Research, "deny");
            return Err(self.denied_blocking(audit, why));
        }
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        let mut rows = Vec::new();
        self.read(&mut |tx| {
            rows.clear();
            for id in tx.live_patient_ids()? {
                // The whole merged cluster: an objection on any of its
                // records excludes the person; every record's doses count.
                let (cluster, consent) = cluster_and_consent(tx, id)?;
                if consent.objection_active {
                    continue;
                }
                let Some(stored) = tx.load_patient(id)? else {
                    continue;
                };
                let mut events = Vec::new();
                for member in &cluster {
                    events.extend(tx.load_events(*member)?);
                }
                events.sort_by_key(|e| e.id.0);
                let doses = consolidate(self.codes(), &events)
                    .iter()
                    .filter_map(|d| {
                        let e = &d.primary.event;
                        Some((
                            e.cvx.as_ref()?.as_str().to_string(),
                            e.administered_date?.format("%Y-%m").to_string(),
                        ))
                    })
                    .collect();
                let p = &stored.patient;
                let pseudonym = Hmac::<Sha256>::new_from_slice(&key)
                    .map(|mut m| {
                        m.update(&id.0.to_be_bytes());
                        m.finalize()
                            .into_bytes()
                            .iter()
                            .take(12)
                            .map(|b| format!("{b:02x}"))
                            .collect::<String>()
                    })
                    .unwrap_or_default();
                use chrono::Datelike;
                rows.push(ExtractRow {
                    pseudonym,
                    birth_year: p.birth_date.0.year(),
                    sex: match p.sex {
                        immunis_model::Sex::Female => "F",
                        immunis_model::Sex::Male => "M",
                        _ => "U",
                    },
                    zip3: p
                        .addresses
                        .first()
                        .and_then(|a| a.zip.trim().get(..3).map(str::to_string)),
                    doses,
                });
            }
            Ok(())
        })?;
        let mut audit = audit_entry(actor, "deidentified_extract", Purpose::Research, "allow");
        audit.detail = Some(format!("{} people", rows.len()));
        self.append_audit_blocking(audit)?;
        Ok(rows)
    }
}
