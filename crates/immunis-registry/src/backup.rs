//! Whole-registry snapshots for backups: an administrator's action, decided
//! by the one policy and audited twice (the snapshot, then where its
//! encrypted copy went). Encryption happens at the edge (the CLI), so no
//! plaintext backup leaves the data directory.

use std::path::Path;

use immunis_access::{Action, Actor, Purpose};

use crate::{audit_entry, Registry, RegistryError};

/// What a snapshot contains, for the operator and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub backend: &'static str,
    pub bytes: u64,
}

impl Registry {
    /// Writes a consistent copy of the whole database to `dest` (a new file,
    /// which the caller encrypts and removes). The audit entry is committed
    /// first, so the snapshot carries the record of its own making.
    pub fn snapshot_for_backup(
        &self,
        actor: &Actor,
        dest: &Path,
    ) -> Result<SnapshotInfo, RegistryError> {
        if immunis_access::decide(actor, Action::Administer, Purpose::Administration, None)
            .is_denied()
        {
            return Err(RegistryError::Denied(
                "only registry administrators take backups",
            ));
        }
        let mut audit = audit_entry(actor, "backup_snapshot", Purpose::Administration, "allow");
        audit.detail = Some(format!("whole {} database", self.store.backend()));
        self.append_audit_blocking(audit)?;
        // The snapshot holds the trail up to and including this entry.
        self.flush_audit()?;
        self.store.snapshot_into(dest)?;
        let bytes = std::fs::metadata(dest)
            .map(|m| m.len())
            .map_err(|e| RegistryError::Store(format!("{}: {e}", dest.display())))?;
        Ok(SnapshotInfo {
            backend: self.store.backend(),
            bytes,
        })
    }

    /// Records where an encrypted backup was written (its size and SHA-256),
    /// so the accounting of disclosures can follow every copy of the data.
    pub fn record_backup_written(
        &self,
        actor: &Actor,
        description: &str,
    ) -> Result<(), RegistryError> {
        if immunis_access::decide(actor, Action::Administer, Purpose::Administration, None)
            .is_denied()
        {
            return Err(RegistryError::Denied(
                "only registry administrators take backups",
            ));
        }
        let mut audit = audit_entry(actor, "backup_written", Purpose::Administration, "allow");
        audit.detail = Some(description.to_string());
        self.append_audit_blocking(audit)
    }
}
