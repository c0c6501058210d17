//! Documents and consumer access from the operator's seat: the options of
//! `immunis serve` (public URL, registry header, key-encryption key, the
//! one-time-code channel) and `immunis key rotate|list|retire`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use immunis_registry::consumer::{CommandChannel, OutboxChannel};
use immunis_registry::{console_admin, DocumentSettings, Registry};

use crate::commands::open_registry;
use crate::StoreArgs;

/// Options of `immunis serve` for the official record, SMART Health Cards
/// and "My immunization record".
#[derive(clap::Args, Clone, Default)]
pub struct DocumentArgs {
    /// The registry's public base URL (the health cards' issuer; keys at
    /// URL/.well-known/jwks.json). Default: the HTTP listener's own URL.
    #[arg(long)]
    pub public_url: Option<String>,
    /// The registry's name, printed as the header of the official record.
    #[arg(long, default_value = "Immunization Information System")]
    pub registry_name: String,
    /// A line under the header of the official record (repeatable).
    #[arg(long)]
    pub registry_line: Vec<String>,
    /// Development channel for one-time codes: write each message as a JSON
    /// file into this directory.
    #[arg(long, conflicts_with = "code_command")]
    pub code_outbox: Option<PathBuf>,
    /// Production channel for one-time codes: run this program per message
    /// (IMMUNIS_CHANNEL=sms|email, IMMUNIS_TO, IMMUNIS_SUBJECT; body on stdin),
    /// e.g. a wrapper around sendmail or the SMS gateway's webhook.
    #[arg(long)]
    pub code_command: Option<PathBuf>,
}

/// The key-encryption key for signing keys at rest, from `IMMUNIS_SIGNING_KEK`
/// (64 hex digits). Without it keys are stored unencrypted, with a warning.
fn key_encryption_key() -> Result<Option<[u8; 32]>> {
    match std::env::var("IMMUNIS_SIGNING_KEK") {
        Ok(v) if !v.trim().is_empty() => Ok(Some(
            immunis_registry::documents::parse_key_encryption_key(&v)
                .context("IMMUNIS_SIGNING_KEK")?,
        )),
        _ => Ok(None),
    }
}

impl DocumentArgs {
    /// Configures the registry before serving; `default_url` is the HTTP listener's URL.
    pub fn apply(&self, registry: &Registry, default_url: &str) -> Result<()> {
        let kek = key_encryption_key()?;
        if kek.is_none() {
            tracing::warn!(
                "IMMUNIS_SIGNING_KEK is not set: health-card signing keys are stored unencrypted"
            );
        }
        registry.set_document_settings(DocumentSettings {
            public_url: Some(
                self.public_url
                    .clone()
                    .unwrap_or_else(|| default_url.to_string())
                    .trim_end_matches('/')
                    .to_string(),
            ),
            registry_name: Some(self.registry_name.clone()),
            registry_lines: self.registry_line.clone(),
            key_encryption_key: kek,
        });
        if let Some(dir) = &self.code_outbox {
            registry.set_code_channel(Arc::new(OutboxChannel { dir: dir.clone() }));
        } else if let Some(program) = &self.code_command {
            registry.set_code_channel(Arc::new(CommandChannel {
                program: program.clone(),
                args: Vec::new(),
            }));
        } else {
            tracing::warn!(
                "no one-time-code channel (--code-outbox or --code-command): My immunization record cannot send codes"
            );
        }
        Ok(())
    }
}

#[derive(clap::Subcommand)]
pub enum KeyCommand {
    /// Make a new health-card signing key and make it the active one (older
    /// keys stay in the JWKS so the cards they signed still verify).
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the signing keys.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Retire a key: it leaves the JWKS and cards it signed stop verifying.
    Retire {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        kid: String,
    },
}

fn keyed_registry(store: &StoreArgs) -> Result<Arc<Registry>> {
    let registry = open_registry(store)?;
    registry.set_document_settings(DocumentSettings {
        key_encryption_key: key_encryption_key()?,
        ..Default::default()
    });
    Ok(registry)
}

pub fn key(action: KeyCommand) -> Result<ExitCode> {
    match action {
        KeyCommand::Rotate { store } => {
            let registry = keyed_registry(&store)?;
            let kid = registry.rotate_signing_key(&console_admin())?;
            println!("new active signing key {kid}");
            if key_encryption_key()?.is_none() {
                eprintln!(
                    "immunis: warning: IMMUNIS_SIGNING_KEK is not set; the private key is stored unencrypted"
                );
            }
        }
        KeyCommand::List { store } => {
            let registry = keyed_registry(&store)?;
            for k in registry.list_signing_keys(&console_admin())? {
                println!(
                    "{}\t{}\t{}",
                    k.kid,
                    if k.retired_at.is_some() {
                        "retired"
                    } else if k.active {
                        "active"
                    } else {
                        "published"
                    },
                    if k.encrypted {
                        "encrypted"
                    } else {
                        "UNENCRYPTED"
                    }
                );
            }
        }
        KeyCommand::Retire { store, kid } => {
            let registry = keyed_registry(&store)?;
            registry.retire_signing_key(&console_admin(), &kid)?;
            println!("signing key {kid} retired");
        }
    }
    Ok(ExitCode::SUCCESS)
}
