//! Encrypted backups: `immunis backup keygen | create | verify | restore`.
//!
//! A backup is a consistent online snapshot of the embedded database
//! (`VACUUM INTO`, taken while the registry keeps serving) encrypted with
//! [age](https://age-encryption.org) to one or more X25519 recipients. The
//! registry needs only the public recipient to make backups; the identity
//! (private key) that restores them is kept offline. Any age implementation
//! (`age`, `rage`, `pyrage`) can decrypt a backup, so recovery does not
//! depend on this program. The plaintext snapshot exists only inside the data
//! directory (beside the live database, which is plaintext too) and is removed
//! as soon as it is encrypted. Taking a backup is an administrator's action,
//! decided by the access policy and audited (with the file's SHA-256).

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use immunis_registry::{console_admin, AuditVerification, Registry};
use sha2::{Digest, Sha256};

use crate::StoreArgs;

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Make a new backup key pair: writes the identity (keep it offline) and
    /// prints the public recipient that `backup create` encrypts to.
    Keygen {
        /// Where to write the identity (AGE-SECRET-KEY-…); must not exist.
        #[arg(long)]
        identity_file: PathBuf,
    },
    /// Take an online, encrypted backup of the registry.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// An age recipient (age1…); repeat for several key holders.
        #[arg(long = "recipient", required_unless_present = "recipients_file")]
        recipients: Vec<String>,
        /// A file of age recipients, one per line (# comments allowed).
        #[arg(long)]
        recipients_file: Option<PathBuf>,
        /// The encrypted backup file to write; must not exist.
        #[arg(long)]
        out: PathBuf,
    },
    /// Decrypt a backup into a scratch directory and check it: database
    /// integrity, the audit chain, and the totals it holds.
    Verify {
        #[arg(long)]
        identity_file: PathBuf,
        #[arg(long)]
        from: PathBuf,
    },
    /// Restore a backup into a new data directory (never over a live one).
    Restore {
        #[arg(long)]
        identity_file: PathBuf,
        #[arg(long)]
        from: PathBuf,
        /// The data directory to create; must not already hold a database.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

pub fn run(action: BackupCommand) -> Result<ExitCode> {
    match action {
        BackupCommand::Keygen { identity_file } => keygen(&identity_file),
        BackupCommand::Create {
            store,
            recipients,
            recipients_file,
            out,
        } => create(&store, &recipients, recipients_file.as_deref(), &out),
        BackupCommand::Verify {
            identity_file,
            from,
        } => verify(&identity_file, &from),
        BackupCommand::Restore {
            identity_file,
            from,
            data_dir,
        } => restore(&identity_file, &from, &data_dir),
    }
}

fn keygen(identity_file: &Path) -> Result<ExitCode> {
    use age::secrecy::ExposeSecret;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public();
    let text = format!(
        "# immunis backup identity: restores backups encrypted to\n# {recipient}\n{}\n",
        identity.to_string().expose_secret()
    );
    write_new_private(identity_file, text.as_bytes())?;
    println!("{recipient}");
    eprintln!(
        "identity written to {}; keep it offline — it is the only way to read the backups",
        identity_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes a new file readable by its owner only.
fn write_new_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist)", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

fn parse_recipients(inline: &[String], file: Option<&Path>) -> Result<Vec<age::x25519::Recipient>> {
    let mut lines: Vec<(String, String)> = inline
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("--recipient #{}", i + 1), r.trim().to_string()))
        .collect();
    if let Some(path) = file {
        let text =
            fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                lines.push((format!("{} line {}", path.display(), n + 1), line.into()));
            }
        }
    }
    let mut out = Vec::new();
    for (where_, value) in lines {
        let r = age::x25519::Recipient::from_str(&value)
            .map_err(|e| anyhow::anyhow!("{where_}: not an age X25519 recipient (age1…): {e}"))?;
        out.push(r);
    }
    if out.is_empty() {
        bail!("no recipients: a backup must be encrypted to at least one key");
    }
    Ok(out)
}

/// Removes the plaintext snapshot whatever happens.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// A writer that hashes what passes through it.
struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn create(
    store: &StoreArgs,
    recipients: &[String],
    recipients_file: Option<&Path>,
    out: &Path,
) -> Result<ExitCode> {
    let recipients = parse_recipients(recipients, recipients_file)?;
    if out.exists() {
        bail!(
            "{} already exists; a backup never overwrites",
            out.display()
        );
    }
    if store.database_url.is_some() {
        bail!(
            "backups of a PostgreSQL registry are the database operator's: use pg_basebackup \
             with WAL archiving (or pg_dump piped through `age -r RECIPIENT`)"
        );
    }
    let registry = crate::commands::open_registry(store)?;
    let actor = console_admin();
    let scratch = Scratch(store.data_dir.join(format!(
        "backup-snapshot-{}-{}.db",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    )));
    let snapshot = registry
        .snapshot_for_backup(&actor, &scratch.0)
        .context("cannot take the snapshot")?;

    let partial = out.with_extension("partial");
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut sink = HashingWriter {
        inner: BufWriter::new(file),
        hash: Sha256::new(),
        bytes: 0,
    };
    let encrypted = (|| -> Result<()> {
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| anyhow::anyhow!("cannot set up encryption: {e}"))?;
        let mut writer = encryptor.wrap_output(&mut sink)?;
        let mut input = BufReader::new(File::open(&scratch.0)?);
        io::copy(&mut input, &mut writer)?;
        writer.finish()?;
        Ok(())
    })();
    if let Err(e) = encrypted {
        let _ = fs::remove_file(&partial);
        return Err(e.context("cannot write the encrypted backup"));
    }
    let digest = hex(&sink.hash.finalize());
    let written = sink.bytes;
    let file = sink
        .inner
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot flush {}: {}", partial.display(), e.error()))?;
    file.sync_all()?;
    drop(file);
    fs::rename(&partial, out)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), out.display()))?;
    sync_parent(out);
    drop(scratch);
    registry.record_backup_written(
        &actor,
        &format!(
            "{}: {written} bytes, sha256 {digest}, {} recipient(s)",
            out.display(),
            recipients.len()
        ),
    )?;
    println!(
        "backup written: {} ({written} bytes encrypted from a {} byte {} snapshot)\nsha256 {digest}",
        out.display(),
        snapshot.bytes,
        snapshot.backend,
    );
    Ok(ExitCode::SUCCESS)
}

fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn identities(identity_file: &Path) -> Result<Vec<Box<dyn age::Identity>>> {
    let file = age::IdentityFile::from_file(identity_file.display().to_string())
        .with_context(|| format!("cannot read the identity file {}", identity_file.display()))?;
    let ids = file
        .into_identities()
        .map_err(|e| anyhow::anyhow!("{}: {e}", identity_file.display()))?;
    if ids.is_empty() {
        bail!("{} holds no age identity", identity_file.display());
    }
    Ok(ids)
}

/// Decrypts `from` into `dest/immunis.db` (fsynced, integrity-checked).
fn decrypt_into(identity_file: &Path, from: &Path, dest: &Path) -> Result<PathBuf> {
    let ids = identities(identity_file)?;
    let db = dest.join("immunis.db");
    if db.exists() {
        bail!(
            "{} already holds a database; restore into a new directory",
            dest.display()
        );
    }
    fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let input =
        File::open(from).with_context(|| format!("cannot open the backup {}", from.display()))?;
    let decryptor = age::Decryptor::new(BufReader::new(input))
        .map_err(|e| anyhow::anyhow!("{} is not an age-encrypted backup: {e}", from.display()))?;
    let mut reader = decryptor
        .decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| anyhow::anyhow!("cannot decrypt {}: {e}", from.display()))?;
    let partial = dest.join("immunis.db.partial");
    let copied = (|| -> Result<()> {
        let mut out = BufWriter::new(
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&partial)?,
        );
        // The age stream authenticates every 64 KiB chunk; a tampered or
        // truncated file fails here, before anything is renamed into place.
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
        }
        let f = out
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot flush: {}", e.error()))?;
        f.sync_all()?;
        Ok(())
    })();
    if let Err(e) = copied {
        let _ = fs::remove_file(&partial);
        return Err(e.context(format!("{} is damaged or not ours", from.display())));
    }
    if let Err(e) = immunis_store::sqlite::SqliteStore::check_file_integrity(&partial) {
        let _ = fs::remove_file(&partial);
        bail!("the decrypted database fails its integrity check: {e}");
    }
    fs::rename(&partial, &db)?;
    sync_parent(&db);
    Ok(db)
}

/// Opens a restored data directory and reports what it holds.
fn check_restored(data_dir: &Path) -> Result<bool> {
    let registry: std::sync::Arc<Registry> = crate::commands::open_registry(&StoreArgs {
        data_dir: data_dir.to_path_buf(),
        database_url: None,
    })?;
    let actor = console_admin();
    let (patients, events) = registry.counts(&actor)?;
    println!("database integrity: ok; {patients} patients, {events} vaccination events");
    match registry.verify_audit(&actor, &[])? {
        AuditVerification::Intact { records, head, .. } => {
            println!("audit trail intact: {records} records, head {head}");
            Ok(true)
        }
        AuditVerification::Broken { seq, reason } => {
            println!("audit trail BROKEN at record {seq}: {reason}");
            Ok(false)
        }
    }
}

fn verify(identity_file: &Path, from: &Path) -> Result<ExitCode> {
    let scratch = std::env::temp_dir().join(format!(
        "immunis-backup-verify-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    ));
    let result = decrypt_into(identity_file, from, &scratch).and_then(|_| check_restored(&scratch));
    let _ = fs::remove_dir_all(&scratch);
    Ok(if result? {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn restore(identity_file: &Path, from: &Path, data_dir: &Path) -> Result<ExitCode> {
    decrypt_into(identity_file, from, data_dir)?;
    println!("restored into {}", data_dir.display());
    Ok(if check_restored(data_dir)? {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
