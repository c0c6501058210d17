//! Documents and consumer access from the operator's seat: the options of
//! `immunis serve` (public URL, registry header, key-encryption key, the
//! one-time-code channel) and `immunis key rotate|list|retire`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use immunis_channels::{
    CodeChannel, CommandChannel, OutboxChannel, RoutingChannel, SmtpChannel, SmtpConfig,
    WebhookSmsChannel,
};
use immunis_registry::{console_admin, DocumentSettings, Registry};

use crate::commands::open_registry;
use crate::StoreArgs;

/// Options of `immunis serve` for the official record, SMART Health Cards
/// and "My immunization record" (where one-time codes go: `--code-smtp` for
/// e-mail and `--code-sms-webhook` for SMS, together or alone; or
/// `--code-command`; or `--code-outbox` in development).
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
    #[arg(long, value_name = "DIR", conflicts_with_all = ["code_command", "code_smtp", "code_sms_webhook"])]
    pub code_outbox: Option<PathBuf>,
    /// Hand each one-time code to this program (IMMUNIS_CHANNEL=sms|email,
    /// IMMUNIS_TO, IMMUNIS_SUBJECT; body on stdin; exit 0 = sent), e.g. a
    /// wrapper around sendmail or the SMS gateway's own client.
    #[arg(long, value_name = "PROGRAM", conflicts_with_all = ["code_smtp", "code_sms_webhook"])]
    pub code_command: Option<PathBuf>,
    /// E-mail one-time codes through this SMTP server: smtps://HOST[:465]
    /// (implicit TLS), smtp://HOST:587?tls=required (STARTTLS), or
    /// smtp://HOST[:25] (unencrypted: loopback only unless
    /// --code-smtp-allow-plaintext). A path names the EHLO host
    /// (smtps://HOST/client.example.org). Log-in from IMMUNIS_SMTP_USERNAME and
    /// IMMUNIS_SMTP_PASSWORD; servers are verified against the system's CA
    /// certificates (SSL_CERT_FILE overrides).
    #[arg(long, value_name = "URL", requires = "code_from")]
    pub code_smtp: Option<String>,
    /// The From address of e-mailed codes (required with --code-smtp), e.g.
    /// "Immunization Registry <no-reply@registry.example.org>".
    #[arg(long, value_name = "ADDRESS", requires = "code_smtp")]
    pub code_from: Option<String>,
    /// Allow --code-smtp without TLS (or with opportunistic STARTTLS) to a
    /// host that is not loopback: codes cross the network readable.
    #[arg(long, requires = "code_smtp")]
    pub code_smtp_allow_plaintext: bool,
    /// Text one-time codes through the SMS gateway's webhook: POST
    /// {"to": DIGITS, "body": TEXT} as JSON to this URL (https, or http to
    /// loopback), with "Authorization: Bearer" IMMUNIS_SMS_WEBHOOK_TOKEN; a
    /// 2xx answer means sent. Combine with --code-smtp for e-mail.
    #[arg(long, value_name = "URL")]
    pub code_sms_webhook: Option<String>,
    /// Give up sending one code by SMTP or the webhook after this many
    /// seconds (default 10).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=300))]
    pub code_send_timeout: Option<u64>,
}

/// A non-empty environment variable.
fn env_secret(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
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
    /// The one-time-code channel the options name (checked at startup: a bad
    /// URL, plaintext to a remote host or a missing trust store stops here).
    pub fn code_channel(&self) -> Result<Option<Arc<dyn CodeChannel>>> {
        if let Some(dir) = &self.code_outbox {
            return Ok(Some(Arc::new(OutboxChannel { dir: dir.clone() })));
        }
        if let Some(program) = &self.code_command {
            return Ok(Some(Arc::new(CommandChannel {
                program: program.clone(),
                args: Vec::new(),
            })));
        }
        let timeout = Duration::from_secs(self.code_send_timeout.unwrap_or(10));
        let mut router = RoutingChannel::default();
        if let Some(url) = &self.code_smtp {
            let from = self
                .code_from
                .clone()
                .context("--code-smtp needs --code-from ADDRESS")?;
            let credentials = match (
                env_secret("IMMUNIS_SMTP_USERNAME"),
                env_secret("IMMUNIS_SMTP_PASSWORD"),
            ) {
                (Some(u), Some(p)) => Some((u, p)),
                (None, None) => None,
                _ => bail!("set both IMMUNIS_SMTP_USERNAME and IMMUNIS_SMTP_PASSWORD, or neither"),
            };
            let smtp = SmtpChannel::new(&SmtpConfig {
                url: url.clone(),
                from,
                credentials,
                allow_plaintext: self.code_smtp_allow_plaintext,
                timeout,
            })
            .context("--code-smtp")?;
            router.email = Some(Arc::new(smtp));
        }
        if let Some(url) = &self.code_sms_webhook {
            let token = env_secret("IMMUNIS_SMS_WEBHOOK_TOKEN");
            let webhook = WebhookSmsChannel::new(url, token.as_deref(), timeout)
                .context("--code-sms-webhook")?;
            if token.is_none() {
                tracing::warn!(
                    "IMMUNIS_SMS_WEBHOOK_TOKEN is not set: the SMS webhook is called without an Authorization header"
                );
            }
            router.sms = Some(Arc::new(webhook));
        }
        match (router.email.is_some(), router.sms.is_some()) {
            (false, false) => Ok(None),
            (email, sms) => {
                if !email || !sms {
                    tracing::warn!(
                        "one-time codes go by {} only: requests with {} get no code",
                        if email { "e-mail" } else { "SMS" },
                        if email {
                            "a phone number"
                        } else {
                            "an e-mail address"
                        }
                    );
                }
                Ok(Some(Arc::new(router)))
            }
        }
    }

    /// Configures the registry before serving; `default_url` is the HTTP
    /// listener's URL, `channel` what [`DocumentArgs::code_channel`] made.
    /// Before the listeners open: the key-encryption key, and the first
    /// health-card signing key if the registry has none, so
    /// `/.well-known/jwks.json` is never empty.
    pub fn prepare_keys(&self, registry: &Registry) -> Result<()> {
        registry.set_document_settings(DocumentSettings {
            key_encryption_key: key_encryption_key()?,
            ..Default::default()
        });
        if let Some(kid) = registry.ensure_signing_key()? {
            tracing::info!("made the registry's first health-card signing key ({kid})");
        }
        Ok(())
    }

    pub fn apply(
        &self,
        registry: &Registry,
        default_url: &str,
        channel: Option<Arc<dyn CodeChannel>>,
    ) -> Result<()> {
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
        match channel {
            Some(c) => registry.set_code_channel(c),
            None => tracing::warn!(
                "no one-time-code channel (--code-smtp, --code-sms-webhook, --code-command or --code-outbox): My immunization record cannot send codes"
            ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use immunis_registry::consumer::ContactKind;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        docs: DocumentArgs,
    }

    fn parse(args: &[&str]) -> Result<DocumentArgs, clap::Error> {
        Serve::try_parse_from(std::iter::once("serve").chain(args.iter().copied())).map(|s| s.docs)
    }

    fn startup_error(args: &[&str]) -> String {
        match parse(args).expect("parses").code_channel() {
            Ok(_) => panic!("{args:?} should be refused"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn smtp_needs_a_from_address_and_the_other_way_round() {
        let e = parse(&["--code-smtp", "smtp://127.0.0.1:2525"])
            .err()
            .expect("missing --code-from");
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert!(e.to_string().contains("--code-from"), "{e}");
        let e = parse(&["--code-from", "a@example.org"])
            .err()
            .expect("no smtp");
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert!(parse(&["--code-smtp-allow-plaintext"]).is_err());
    }

    #[test]
    fn channels_conflict_sensibly() {
        let smtp = [
            "--code-smtp",
            "smtp://127.0.0.1:2525",
            "--code-from",
            "a@example.org",
        ];
        for other in [
            &["--code-outbox", "/tmp/x"][..],
            &["--code-command", "/bin/true"][..],
        ] {
            let args: Vec<&str> = smtp.iter().chain(other.iter()).copied().collect();
            let e = parse(&args).err().expect("conflict");
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::ArgumentConflict,
                "{args:?}"
            );
        }
        let e = parse(&[
            "--code-outbox",
            "/tmp/x",
            "--code-sms-webhook",
            "http://127.0.0.1:1/",
        ])
        .err()
        .expect("conflict");
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(parse(&["--code-outbox", "/tmp/x", "--code-command", "/bin/true"]).is_err());
        // SMTP for e-mail and the webhook for SMS together: one router.
        let both: Vec<&str> = smtp
            .iter()
            .copied()
            .chain(["--code-sms-webhook", "http://127.0.0.1:1/sms"])
            .collect();
        let channel = parse(&both)
            .expect("parses")
            .code_channel()
            .expect("valid")
            .expect("a channel");
        assert!(channel.supports(ContactKind::Email) && channel.supports(ContactKind::Sms));
        let only_mail = parse(&smtp).expect("parses").code_channel().expect("valid");
        let only_mail = only_mail.expect("a channel");
        assert!(!only_mail.supports(ContactKind::Sms));
        assert!(parse(&[])
            .expect("parses")
            .code_channel()
            .expect("ok")
            .is_none());
    }

    #[test]
    fn bad_channels_stop_the_server_at_startup() {
        let e = startup_error(&[
            "--code-smtp",
            "smtp://mail.example.org:25",
            "--code-from",
            "a@example.org",
        ]);
        assert!(
            e.contains("--code-smtp") && e.contains("unencrypted") && e.contains("loopback"),
            "{e}"
        );
        // Allowed explicitly.
        let ok = parse(&[
            "--code-smtp",
            "smtp://mail.example.org:25",
            "--code-from",
            "a@example.org",
            "--code-smtp-allow-plaintext",
        ])
        .expect("parses")
        .code_channel();
        assert!(ok.is_ok());
        let e = startup_error(&[
            "--code-smtp",
            "mail.example.org",
            "--code-from",
            "a@example.org",
        ]);
        assert!(
            e.contains("--code-smtp") && e.contains("not a valid URL"),
            "{e}"
        );
        let e = startup_error(&[
            "--code-smtp",
            "smtp://127.0.0.1:2525",
            "--code-from",
            "nobody",
        ]);
        assert!(e.contains("not a valid e-mail address"), "{e}");
        let e = startup_error(&["--code-sms-webhook", "http://sms.example.org/send"]);
        assert!(
            e.contains("--code-sms-webhook") && e.contains("unencrypted"),
            "{e}"
        );
        let e = startup_error(&["--code-sms-webhook", "not a url"]);
        assert!(e.contains("not a valid URL"), "{e}");
        assert!(parse(&["--code-send-timeout", "0"]).is_err());
    }
}
