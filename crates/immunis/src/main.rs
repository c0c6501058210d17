//! `immunis`: the command-line program. Loads configuration from arguments,
//! sets up logging, and runs one command; everything else lives in the crates.
#![forbid(unsafe_code)]

/// The registry's hot path is allocation-heavy (SQL values, JSON documents,
/// HL7 strings); mimalloc measured faster than glibc malloc there (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod backup;
mod bench;
mod clinical;
mod commands;
mod documents;
mod linkage;
mod recall;
mod school;
mod security;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "immunis",
    version,
    about = "Immunis immunization information system"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the registry's data lives: SQLite under a directory (default) or PostgreSQL.
#[derive(Args, Clone)]
pub struct StoreArgs {
    /// Directory of the embedded SQLite database.
    #[arg(
        long,
        default_value = "./immunis-data",
        conflicts_with = "database_url"
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL connection URL (postgres://user:pass@host/db); overrides --data-dir.
    #[arg(long, env = "IMMUNIS_DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry: MLLP and HTTP (SOAP, POST /hl7).
    Serve(Box<commands::ServeArgs>),
    /// Load HL7 files (single messages, many messages, FHS/BHS batches).
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// Write one ACK per message to this file.
        #[arg(long)]
        acks: Option<PathBuf>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// CDSi evaluation and forecast: NDJSON patients on stdin, NDJSON results on stdout.
    Forecast {
        /// A CDC supporting-data directory (default: the embedded 4.64 release).
        #[arg(long, env = "IMMUNIS_SUPPORTING_DATA")]
        supporting_data: Option<PathBuf>,
    },
    /// Write a synthetic population as VXU messages (synthetic people only).
    Synth {
        /// How many people.
        #[arg(long)]
        people: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Number of provider facilities sending messages.
        #[arg(long)]
        facilities: Option<u32>,
        /// "Today" for the generated histories (default: the current date).
        #[arg(long)]
        today: Option<chrono::NaiveDate>,
        /// HL7 output file (`-` for stdout).
        #[arg(long, default_value = "-")]
        out: PathBuf,
        /// Ground-truth CSV (message id → person key) for matching evaluation.
        #[arg(long)]
        truth: Option<PathBuf>,
        /// One VXU per person with the whole history (a legacy-registry
        /// migration load) instead of one per visit: the same people and doses
        /// in a tenth of the messages, for loading a million people.
        #[arg(long)]
        consolidated: bool,
    },
    /// Classify AIRA patient-matching test pairs: `TEST_ID<TAB>outcome` per test, confusion matrix on stderr.
    MatchPairs { file: PathBuf },
    /// Load generator: send an HL7 file to a running registry over N MLLP connections.
    BenchMllp {
        #[arg(long, default_value = "127.0.0.1:2575")]
        mllp: SocketAddr,
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// Send at most this many messages.
        #[arg(long)]
        limit: Option<usize>,
        /// Instead of the VXUs, send a QBP Z34 query for each VXU's patient.
        #[arg(long)]
        as_z34: bool,
        file: PathBuf,
    },
    /// Manage submitting facilities.
    Facility {
        #[command(subcommand)]
        action: FacilityCommand,
    },
    /// Reminder/recall: who is due or overdue, as CSV (whole registry or one organization).
    Recall(recall::RecallArgs),
    /// Encrypted online backups (age format): keygen, create, verify, restore.
    Backup {
        #[command(subcommand)]
        action: backup::BackupCommand,
    },
    /// SMART Health Card signing keys: rotate, list, retire.
    Key {
        #[command(subcommand)]
        action: documents::KeyCommand,
    },
    /// Audit trail tools.
    Audit {
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// Human users: add, list, disable, enable.
    User {
        #[command(subcommand)]
        action: security::UserCommand,
    },
    /// Organizations, their rosters and jurisdictions.
    Org {
        #[command(subcommand)]
        action: security::OrgCommand,
    },
    /// OAuth2 client-credentials clients for the JSON APIs.
    Client {
        #[command(subcommand)]
        action: security::ClientCommand,
    },
    /// First-run administration.
    Admin {
        #[command(subcommand)]
        action: security::AdminCommand,
    },
    /// The objection to data sharing (105 CMR 222): file, withdraw, history.
    Consent {
        #[command(subcommand)]
        action: security::ConsentCommand,
    },
    /// De-duplicate the whole registry: auto-merge Matches, queue Possible Matches.
    Dedup {
        #[command(flatten)]
        store: StoreArgs,
        /// Scoring threads.
        #[arg(long, default_value_t = 2)]
        workers: usize,
    },
    /// The review queue of possible matches.
    Review {
        #[command(subcommand)]
        action: ReviewCommand,
    },
    /// Merge record ABSORB into record KEEP's person (non-destructive; see `unmerge`).
    Merge {
        #[command(flatten)]
        store: StoreArgs,
        keep: i64,
        absorb: i64,
    },
    /// Undo the merge that absorbed record ID; both records read as before.
    Unmerge {
        #[command(flatten)]
        store: StoreArgs,
        id: i64,
    },
    /// School nurse view: roster grades, exemptions, compliance report (CSV).
    School {
        #[command(subcommand)]
        action: school::SchoolCommand,
    },
}

#[derive(Subcommand)]
enum ReviewCommand {
    /// Pending possible matches with the matcher's per-field explanation.
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Resolve a review item as the same person (merge) or different people.
    Resolve {
        #[command(flatten)]
        store: StoreArgs,
        id: i64,
        #[arg(long, conflicts_with = "different")]
        same: bool,
        #[arg(long)]
        different: bool,
    },
}

#[derive(Subcommand)]
enum FacilityCommand {
    /// Register a facility (its MSH-4 code) under an organization.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        organization: String,
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
    },
    /// Give a facility a submitter credential (SOAP / HTTP basic).
    Credential {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        facility: String,
        #[arg(long)]
        username: String,
        /// Read the password from this environment variable instead of generating one.
        #[arg(long)]
        password_env: Option<String>,
    },
    /// List registered facilities.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Register a client certificate (PEM file) identifying a facility on
    /// MLLP over TLS.
    Certificate {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        facility: String,
        #[arg(long)]
        cert: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Re-walk the hash chain and check every anchor; exits 2 at the first
    /// edited, deleted, reordered or truncated record.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// Also check the anchors in this file (written by `audit anchor --file`).
        #[arg(long)]
        anchor_file: Option<PathBuf>,
    },
    /// Anchor the current chain head (seq + hash) in the database and,
    /// optionally, append it to a file kept elsewhere.
    Anchor {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Accounting of disclosures: who saw this person's record, when, why.
    Disclosures {
        #[command(flatten)]
        store: StoreArgs,
        /// Registry patient id.
        #[arg(long)]
        patient: i64,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IMMUNIS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => commands::serve(*args),
        Command::Key { action } => documents::key(action),
        Command::Import { store, acks, files } => commands::import(store, acks, files),
        Command::Forecast { supporting_data } => commands::forecast(supporting_data),
        Command::Synth {
            people,
            seed,
            facilities,
            today,
            out,
            truth,
            consolidated,
        } => commands::synth(people, seed, facilities, today, out, truth, consolidated),
        Command::MatchPairs { file } => commands::match_pairs(file),
        Command::BenchMllp {
            mllp,
            connections,
            limit,
            as_z34,
            file,
        } => bench::bench_mllp(mllp, connections, file, limit, as_z34),
        Command::Facility { action } => match action {
            FacilityCommand::Add {
                store,
                organization,
                code,
                name,
            } => commands::facility_add(store, &organization, &code, &name),
            FacilityCommand::Credential {
                store,
                facility,
                username,
                password_env,
            } => commands::credential_add(store, &facility, &username, password_env.as_deref()),
            FacilityCommand::List { store } => commands::facility_list(store),
            FacilityCommand::Certificate {
                store,
                facility,
                cert,
            } => security::facility_certificate(store, &facility, &cert),
        },
        Command::Consent { action } => security::consent(action),
        Command::User { action } => security::user(action),
        Command::Org { action } => security::org(action),
        Command::Client { action } => security::client(action),
        Command::Admin { action } => security::admin(action),
        Command::Backup { action } => backup::run(action),
        Command::Recall(args) => recall::run(args),
        Command::Audit { action } => match action {
            AuditCommand::Verify { store, anchor_file } => {
                security::audit_verify(store, anchor_file)
            }
            AuditCommand::Anchor { store, file } => security::audit_anchor(store, file),
            AuditCommand::Disclosures { store, patient } => {
                security::audit_disclosures(store, patient)
            }
        },
        Command::Dedup { store, workers } => linkage::dedup(store, workers),
        Command::Review { action } => match action {
            ReviewCommand::List { store, limit } => linkage::review_list(store, limit),
            ReviewCommand::Resolve {
                store,
                id,
                same,
                different,
            } => linkage::review_resolve(store, id, same, different),
        },
        Command::Merge {
            store,
            keep,
            absorb,
        } => linkage::merge(store, keep, absorb),
        Command::Unmerge { store, id } => linkage::unmerge(store, id),
        Command::School { action } => school::school(action),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("immunis: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
