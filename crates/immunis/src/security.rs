//! Security commands: audit verification, anchoring and the accounting of
//! disclosures; the objection to data sharing; users, organizations and
//! OAuth2 clients; the first-run bootstrap of the registry administrator.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Subcommand;
use immunis_model::PatientId;
use immunis_registry::{console_admin, Anchor, AuditVerification};
use immunis_store::ConsentKind;

use crate::commands::{create_registry, open_registry};
use crate::StoreArgs;

pub fn audit_verify(store: StoreArgs, anchor_file: Option<PathBuf>) -> Result<ExitCode> {
    let reg = open_registry(&store)?;
    let external = match &anchor_file {
        Some(p) => Anchor::parse_file(
            &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        )?,
        None => Vec::new(),
    };
    match reg.verify_audit(&console_admin(), &external)? {
        AuditVerification::Intact {
            records,
            head,
            anchors,
        } => {
            println!(
                "audit trail intact: {records} records, head {head}, {anchors} anchors checked"
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditVerification::Broken { seq, reason } => {
            println!("audit trail BROKEN at record {seq}: {reason}");
            Ok(ExitCode::from(2))
        }
    }
}

pub fn audit_anchor(store: StoreArgs, file: Option<PathBuf>) -> Result<ExitCode> {
    let reg = open_registry(&store)?;
    match reg.anchor_audit(&console_admin())? {
        None => println!("audit trail is empty: nothing to anchor"),
        Some(a) => {
            if let Some(p) = &file {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("cannot open {}", p.display()))?;
                writeln!(f, "{}", a.to_line())?;
                f.sync_all()?;
            }
            println!("anchored audit record {} ({})", a.seq, a.hash);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn millis_to_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

pub fn audit_disclosures(store: StoreArgs, patient: i64) -> Result<ExitCode> {
    let reg = open_registry(&store)?;
    let list = reg.disclosures(&console_admin(), PatientId(patient))?;
    println!("when\tactor\trole\torganization\tpurpose\taction\tclient");
    for d in &list {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            millis_to_text(d.at_millis),
            d.actor,
            d.role,
            d.organization.as_deref().unwrap_or("-"),
            d.purpose,
            d.action,
            d.client_addr.as_deref().unwrap_or("-")
        );
    }
    eprintln!("{} disclosures of patient {patient}", list.len());
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum ConsentCommand {
    /// Record a signed objection form.
    File {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        patient: i64,
        /// The date on the form.
        #[arg(long)]
        signed: Option<NaiveDate>,
        /// When the registry received the form (default: today).
        #[arg(long)]
        received: Option<NaiveDate>,
    },
    /// Record the withdrawal of an objection.
    Withdraw {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        patient: i64,
        #[arg(long)]
        signed: Option<NaiveDate>,
        #[arg(long)]
        received: Option<NaiveDate>,
    },
    /// The full consent history of a person.
    History {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        patient: i64,
    },
}

pub fn consent(cmd: ConsentCommand) -> Result<ExitCode> {
    let today = chrono::Local::now().date_naive();
    let (store, patient, kind, signed, received) = match cmd {
        ConsentCommand::File {
            store,
            patient,
            signed,
            received,
        } => (
            store,
            patient,
            ConsentKind::ObjectionFiled,
            signed,
            received,
        ),
        ConsentCommand::Withdraw {
            store,
            patient,
            signed,
            received,
        } => (
            store,
            patient,
            ConsentKind::ObjectionWithdrawn,
            signed,
            received,
        ),
        ConsentCommand::History { store, patient } => {
            let reg = open_registry(&store)?;
            let history = reg.consent_history(&console_admin(), PatientId(patient))?;
            println!("recorded\tevent\tsigned\treceived\trecorded_by\tsource");
            for e in &history {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    millis_to_text(e.recorded_at),
                    e.kind.as_str(),
                    e.effective_date
                        .map(|d| d.to_string())
                        .unwrap_or("-".into()),
                    e.form_received.map(|d| d.to_string()).unwrap_or("-".into()),
                    e.recorded_by,
                    e.source
                );
            }
            let active = history
                .last()
                .is_some_and(|e| e.kind == ConsentKind::ObjectionFiled);
            println!(
                "objection to data sharing: {}",
                if active { "ACTIVE" } else { "none" }
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    let reg = open_registry(&store)?;
    reg.record_consent(
        &console_admin(),
        PatientId(patient),
        kind,
        signed,
        Some(received.unwrap_or(today)),
    )?;
    println!("{} recorded for patient {patient}", kind.as_str());
    Ok(ExitCode::SUCCESS)
}

fn parse_kind(s: &str) -> Result<immunis_model::OrganizationKind> {
    immunis_model::OrganizationKind::parse(s).with_context(|| {
        format!("unknown organization kind {s:?} (provider, school, board_of_health, health_department_program, study, registry)")
    })
}

fn print_secrets(s: &immunis_registry::NewUserSecrets) {
    println!("user {} created", s.username);
    if let Some(p) = &s.password {
        println!("one-time password (shown once): {p}");
    }
    println!("TOTP secret (shown once): {}", s.totp_secret);
    println!("authenticator URI: {}", s.otpauth_uri);
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user of an organization (role from its kind), or a person's own account.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        username: String,
        #[arg(long, conflicts_with = "person")]
        organization: Option<String>,
        /// Make a person's own account for this registry patient id.
        #[arg(long)]
        person: Option<i64>,
        /// Read the password from this environment variable instead of generating one.
        #[arg(long)]
        password_env: Option<String>,
    },
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    Disable {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        username: String,
    },
    Enable {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        username: String,
    },
    /// A new one-time password and TOTP secret for a user (lost phone,
    /// forgotten password); the user's sessions end.
    Reset {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        username: String,
    },
}

pub fn user(cmd: UserCommand) -> Result<ExitCode> {
    let admin = console_admin();
    match cmd {
        UserCommand::Add {
            store,
            username,
            organization,
            person,
            password_env,
        } => {
            let reg = open_registry(&store)?;
            let password = match password_env {
                Some(var) => Some(
                    std::env::var(&var)
                        .with_context(|| format!("environment variable {var} is not set"))?,
                ),
                None => None,
            };
            let s = reg.add_user(
                &admin,
                &username,
                organization.as_deref(),
                person.map(PatientId),
                password.as_deref(),
            )?;
            print_secrets(&s);
        }
        UserCommand::List { store } => {
            let reg = open_registry(&store)?;
            println!("username\trole\torganization\tperson\tstatus");
            for u in reg.list_users(&admin)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    u.username,
                    u.role,
                    u.organization.as_deref().unwrap_or("-"),
                    u.person_patient_id
                        .map(|p| p.0.to_string())
                        .unwrap_or("-".into()),
                    if u.disabled {
                        "disabled"
                    } else if u.locked {
                        "locked"
                    } else {
                        "active"
                    }
                );
            }
        }
        UserCommand::Disable { store, username } => {
            open_registry(&store)?.set_user_disabled(&admin, &username, true)?;
            println!("user {username} disabled");
        }
        UserCommand::Enable { store, username } => {
            open_registry(&store)?.set_user_disabled(&admin, &username, false)?;
            println!("user {username} enabled");
        }
        UserCommand::Reset { store, username } => {
            let s = open_registry(&store)?.reset_user_credentials(&admin, &username)?;
            print_secrets(&s);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum OrgCommand {
    Add {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        name: String,
        /// provider, school, board_of_health, health_department_program, study, registry
        #[arg(long)]
        kind: String,
    },
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Put a person on an organization's roster (students, enrolled clients).
    RosterAdd {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        organization: String,
        #[arg(long)]
        patient: i64,
    },
    /// Add a town or ZIP code to a board of health's jurisdiction.
    JurisdictionAdd {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        organization: String,
        #[arg(long, conflicts_with = "town")]
        zip: Option<String>,
        #[arg(long)]
        town: Option<String>,
    },
}

pub fn org(cmd: OrgCommand) -> Result<ExitCode> {
    let admin = console_admin();
    match cmd {
        OrgCommand::Add { store, name, kind } => {
            let id =
                create_registry(&store)?.add_organization(&admin, &name, parse_kind(&kind)?)?;
            println!("organization {name} ({kind}) id {}", id.0);
        }
        OrgCommand::List { store } => {
            println!("id\tkind\tname");
            for o in open_registry(&store)?.list_organizations(&admin)? {
                println!("{}\t{}\t{}", o.id.0, o.kind.as_str(), o.name);
            }
        }
        OrgCommand::RosterAdd {
            store,
            organization,
            patient,
        } => {
            open_registry(&store)?.add_to_roster(&admin, &organization, PatientId(patient))?;
            println!("patient {patient} added to the roster of {organization}");
        }
        OrgCommand::JurisdictionAdd {
            store,
            organization,
            zip,
            town,
        } => {
            let (kind, value) = match (zip, town) {
                (Some(z), None) => ("zip", z),
                (None, Some(t)) => ("town", t),
                _ => anyhow::bail!("give --zip or --town"),
            };
            open_registry(&store)?.add_jurisdiction(&admin, &organization, kind, &value)?;
            println!("{kind} {value} added to the jurisdiction of {organization}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register an OAuth2 client-credentials client; prints its secret once.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        organization: String,
    },
}

pub fn client(cmd: ClientCommand) -> Result<ExitCode> {
    match cmd {
        ClientCommand::Add {
            store,
            client_id,
            organization,
        } => {
            let secret = open_registry(&store)?.add_oauth_client(
                &console_admin(),
                &client_id,
                &organization,
            )?;
            println!("client {client_id} created; client secret (shown once): {secret}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create the registry administrator on first run; prints a one-time
    /// password and the TOTP secret.
    Bootstrap {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, default_value = "admin")]
        username: String,
    },
}

pub fn admin(cmd: AdminCommand) -> Result<ExitCode> {
    match cmd {
        AdminCommand::Bootstrap { store, username } => {
            let s = create_registry(&store)?.bootstrap_admin(&username)?;
            print_secrets(&s);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// SHA-256 of the first certificate's DER in a PEM file, hex.
pub fn certificate_fingerprint(pem: &[u8]) -> Result<String> {
    let text = String::from_utf8_lossy(pem);
    let begin = "-----BEGIN CERTIFICATE-----";
    let end = "-----END CERTIFICATE-----";
    let start = text.find(begin).context("no PEM certificate found")? + begin.len();
    let stop = text[start..]
        .find(end)
        .context("unterminated PEM certificate")?
        + start;
    let b64: String = text[start..stop].split_whitespace().collect();
    let der = immunis_server::tls::base64_decode(&b64).context("certificate is not base64")?;
    Ok(immunis_server::tls::fingerprint(&der))
}

pub fn facility_certificate(
    store: StoreArgs,
    facility: &str,
    cert: &std::path::Path,
) -> Result<ExitCode> {
    let pem = std::fs::read(cert).with_context(|| format!("cannot read {}", cert.display()))?;
    let fp = certificate_fingerprint(&pem)?;
    open_registry(&store)?.register_client_certificate(&console_admin(), facility, &fp)?;
    println!("certificate {fp} now identifies facility {facility} on MLLP over TLS");
    Ok(ExitCode::SUCCESS)
}

/// TLS and audit-anchoring options of `immunis serve`.
#[derive(clap::Args, Clone, Default)]
pub struct TlsArgs {
    /// PEM certificate chain for HTTPS.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM certificate chain for MLLP over TLS.
    #[arg(long, requires_all = ["mllp_tls_key", "mllp_client_ca"])]
    pub mllp_tls_cert: Option<PathBuf>,
    #[arg(long, requires = "mllp_tls_cert")]
    pub mllp_tls_key: Option<PathBuf>,
    /// CA (PEM) that issues the facilities' client certificates; a client
    /// certificate is required on MLLP over TLS.
    #[arg(long, requires = "mllp_tls_cert")]
    pub mllp_client_ca: Option<PathBuf>,
    /// Anchor the audit chain head every N minutes.
    #[arg(long)]
    pub audit_anchor_minutes: Option<u64>,
    /// Also append each anchor to this file (keep a copy elsewhere).
    #[arg(long, requires = "audit_anchor_minutes")]
    pub audit_anchor_file: Option<PathBuf>,
}

impl TlsArgs {
    pub fn options(
        &self,
        http: std::net::SocketAddr,
        mllp: std::net::SocketAddr,
    ) -> Result<immunis_server::ServerOptions> {
        let mut o = immunis_server::ServerOptions::plain(http, mllp);
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            o.http_tls = Some(immunis_server::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            });
        }
        if let (Some(cert), Some(key), Some(ca)) = (
            &self.mllp_tls_cert,
            &self.mllp_tls_key,
            &self.mllp_client_ca,
        ) {
            o.mllp_tls = Some(immunis_server::MllpTls {
                files: immunis_server::tls::TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                },
                client_ca: ca.clone(),
            });
        }
        if let Some(m) = self.audit_anchor_minutes {
            anyhow::ensure!(m > 0, "--audit-anchor-minutes must be at least 1");
            o.audit_anchor = Some(immunis_server::AuditAnchoring {
                every: std::time::Duration::from_secs(m * 60),
                file: self.audit_anchor_file.clone(),
            });
        }
        Ok(o)
    }
}
