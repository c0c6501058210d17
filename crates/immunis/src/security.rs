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

use crate::commands::open_registry;
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
