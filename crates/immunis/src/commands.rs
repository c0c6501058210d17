//! The CLI commands: thin wrappers over the registry and server crates.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use immunis_model::OrganizationKind;
use immunis_registry::hl7::{process_message, Inbound, Submitter};
use immunis_registry::{console_admin, Registry};

use crate::StoreArgs;

/// Opens an existing registry (a mistyped `--data-dir` is an error, and no
/// empty database is left behind).
pub(crate) fn open_registry(store: &StoreArgs) -> Result<Arc<Registry>> {
    open_registry_with(store, immunis_registry::clinical::ClinicalData::embedded()?)
}

/// Opens the registry, making a new one when the data directory holds none:
/// for the commands that set a registry up (`serve`, `import`, `facility
/// add`, `org add`, `admin bootstrap`).
pub(crate) fn create_registry(store: &StoreArgs) -> Result<Arc<Registry>> {
    create_registry_with(store, immunis_registry::clinical::ClinicalData::embedded()?)
}

/// [`open_registry`] over the given clinical data (CDSi release, school
/// requirements).
pub(crate) fn open_registry_with(
    store: &StoreArgs,
    clinical: immunis_registry::clinical::ClinicalData,
) -> Result<Arc<Registry>> {
    if store.database_url.is_none() && !immunis_store::sqlite_registry_exists(&store.data_dir) {
        bail!(
            "no registry in {dir} (looked for {db}): check --data-dir, or start one first with `immunis serve --data-dir {dir}` (add --demo for a demo registry)",
            dir = store.data_dir.display(),
            db = store.data_dir.join("immunis.db").display(),
        );
    }
    create_registry_with(store, clinical)
}

/// [`create_registry`] over the given clinical data.
pub(crate) fn create_registry_with(
    store: &StoreArgs,
    clinical: immunis_registry::clinical::ClinicalData,
) -> Result<Arc<Registry>> {
    let s =
        immunis_store::open(&store.data_dir, store.database_url.as_deref()).with_context(|| {
            match &store.database_url {
                Some(_) => "cannot open the PostgreSQL database".to_string(),
                None => format!(
                    "cannot open the registry under {}",
                    store.data_dir.display()
                ),
            }
        })?;
    Ok(Registry::with_clinical_data(
        s,
        Arc::new(immunis_registry::linkage::ProbabilisticMatcher::default()),
        clinical,
    )?)
}

/// Says at start-up which clinical data is in force and, loudly, what of it
/// is out of date (so an operator sees it before any nurse does).
fn announce_clinical_data(registry: &Registry) {
    let c = registry.data_currency(chrono::Local::now().date_naive());
    eprintln!(
        "immunis: clinical data — CDC CDSi supporting data {}; school requirements: {}",
        c.cdsi_release, c.school_requirements
    );
    for w in c.warnings() {
        tracing::warn!("clinical data out of date: {w}");
    }
    if !c.out_of_date.is_empty() {
        eprintln!(
            "immunis: load the current data with --supporting-data DIR and/or --school-requirements FILE (README: \"Keeping clinical data current\")"
        );
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `immunis serve`'s options.
#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:2575")]
    mllp: SocketAddr,
    /// Accept plaintext MLLP on a non-loopback address (facility from MSH-4).
    #[arg(long = "mllp-allow-plaintext")]
    allow_plaintext: bool,
    /// Fill an empty registry with a demo facility and synthetic people.
    #[arg(long)]
    demo: bool,
    #[command(flatten)]
    tls: crate::security::TlsArgs,
    #[command(flatten)]
    docs: crate::documents::DocumentArgs,
    #[command(flatten)]
    clinical: crate::clinical::ClinicalArgs,
}

pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    let ServeArgs {
        store,
        http,
        mllp,
        allow_plaintext,
        demo,
        tls,
        docs,
        clinical,
    } = args;
    let clinical = clinical.load()?;
    let mut options = tls.options(http, mllp)?;
    options.allow_plaintext_mllp = allow_plaintext;
    let scheme = if options.http_tls.is_some() {
        "https"
    } else {
        "http"
    };
    let mllp_kind = if options.mllp_tls.is_some() {
        "MLLP/TLS"
    } else {
        "MLLP"
    };
    let mut code_channel = docs.code_channel()?;
    // The demo's parent flow works out of the box: codes go to an outbox.
    let demo_outbox = (demo && code_channel.is_none()).then(|| store.data_dir.join("code-outbox"));
    if let Some(dir) = &demo_outbox {
        code_channel = Some(Arc::new(immunis_channels::OutboxChannel {
            dir: dir.clone(),
        }));
    }
    let registry = create_registry_with(&store, clinical)?;
    announce_clinical_data(&registry);
    let rt = runtime()?;
    rt.block_on(async move {
        let demo_info = if demo {
            Some(crate::commands::demo::prepare(&registry, &store.data_dir, demo_outbox).await?)
        } else {
            None
        };
        docs.prepare_keys(&registry)?;
        let server = immunis_server::start(registry.clone(), options).await?;
        docs.apply(
            &registry,
            &format!("{scheme}://{}", server.http_addr),
            code_channel,
        )?;
        if let Some(info) = &demo_info {
            crate::commands::demo::announce(
                info,
                &format!("{scheme}://{}", server.http_addr),
                server.mllp_addr,
                &store.data_dir,
            );
        }
        eprintln!(
            "immunis: serving ({} backend) — HTTP on {scheme}://{} (SOAP: /soap, WSDL: /soap?wsdl, POST /hl7, POST /oauth/token), MLLP on {} ({mllp_kind})",
            registry.backend(),
            server.http_addr,
            server.mllp_addr
        );
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
        eprintln!("immunis: shutting down");
        server.shutdown();
        // Fold the audit spool into the trail (a kill instead leaves it to
        // the recovery at the next start).
        if let Err(e) = tokio::task::block_in_place(|| registry.flush_audit()) {
            tracing::error!("folding the audit spool at shutdown failed: {e}");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The MSA-1 code of a reply, for the import summary.
fn msa_code(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply);
    text.split(['\r', '\n'])
        .find(|s| s.starts_with("MSA|"))
        .and_then(|s| s.split('|').nth(1))
        .unwrap_or("??")
        .to_string()
}

/// Processes messages with many in flight (so the group commit batches them),
/// handing replies to `on_reply` in input order.
pub async fn process_all(
    registry: &Arc<Registry>,
    messages: Vec<String>,
    transport: &'static str,
    mut on_reply: impl FnMut(Vec<u8>) -> Result<()>,
) -> Result<()> {
    let who = Submitter::Authenticated(console_admin());
    let mut it = messages.into_iter().peekable();
    while it.peek().is_some() {
        let mut handles = Vec::with_capacity(256);
        for m in it.by_ref().take(256) {
            let reg = registry.clone();
            let who = who.clone();
            handles.push(tokio::spawn(async move {
                let inbound = Inbound {
                    transport,
                    remote_addr: None,
                };
                process_message(&reg, &who, m.as_bytes(), &inbound).await
            }));
        }
        for h in handles {
            on_reply(h.await.context("processing task failed")?)?;
        }
    }
    Ok(())
}

/// How much of an import file is read at a time (a message never straddles
/// two pieces: each piece ends where the next `MSH` segment starts).
const IMPORT_PIECE: usize = 32 << 20;

/// The length of the longest prefix of `buf` that ends just before a segment
/// break followed by `MSH|` — whole messages only — or `None` if there is none.
fn whole_messages_len(buf: &[u8]) -> Option<usize> {
    buf.windows(5)
        .rposition(|w| matches!(w[0], b'\r' | b'\n') && &w[1..] == b"MSH|")
        .filter(|&i| i > 0)
}

pub fn import(store: StoreArgs, acks: Option<PathBuf>, files: Vec<PathBuf>) -> Result<ExitCode> {
    use std::io::Read;
    let registry = create_registry(&store)?;
    let mut ack_out = match &acks {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => None,
    };
    let mut total = 0u64;
    for f in &files {
        total += std::fs::metadata(f)
            .with_context(|| format!("cannot read {}", f.display()))?
            .len();
    }
    // Files are streamed a piece at a time: a migration file of many
    // gigabytes never has to fit in memory.
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {msg} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let rt = runtime()?;
    let (mut aa, mut ae, mut ar) = (0u64, 0u64, 0u64);
    let mut empty: Vec<&PathBuf> = Vec::new();
    for f in &files {
        let mut file =
            std::fs::File::open(f).with_context(|| format!("cannot read {}", f.display()))?;
        let mut buf: Vec<u8> = Vec::with_capacity(IMPORT_PIECE + (1 << 20));
        let mut found = 0usize;
        let mut eof = false;
        while !eof {
            let have = buf.len();
            buf.resize(have + IMPORT_PIECE, 0);
            let mut filled = have;
            while filled < buf.len() {
                let n = file
                    .read(&mut buf[filled..])
                    .with_context(|| format!("cannot read {}", f.display()))?;
                if n == 0 {
                    eof = true;
                    break;
                }
                filled += n;
            }
            buf.truncate(filled);
            let cut = if eof {
                buf.len()
            } else {
                // No message start in the whole piece: one huge message, read on.
                match whole_messages_len(&buf) {
                    Some(cut) => cut,
                    None => continue,
                }
            };
            let messages: Vec<String> = {
                let text = String::from_utf8_lossy(&buf[..cut]);
                immunis_hl7::split_messages(&text)
                    .messages
                    .iter()
                    .map(|m| m.to_string())
                    .collect()
            };
            found += messages.len();
            buf.drain(..cut);
            rt.block_on(process_all(&registry, messages, "import", |reply| {
                match msa_code(&reply).as_str() {
                    "AA" => aa += 1,
                    "AE" => ae += 1,
                    _ => ar += 1,
                }
                if let Some(out) = ack_out.as_mut() {
                    out.write_all(&reply)?;
                    out.write_all(b"\n")?;
                }
                Ok(())
            }))?;
            bar.inc(cut as u64);
            bar.set_message(format!("{} messages", aa + ae + ar));
        }
        if found == 0 {
            empty.push(f);
        }
    }
    bar.finish_and_clear();
    if let Some(mut out) = ack_out {
        out.flush()?;
    }
    println!(
        "imported {} messages: {aa} accepted, {ae} accepted with errors, {ar} rejected",
        aa + ae + ar
    );
    // A file without a single message is an error a script must see (a
    // file of good and bad messages has its ACKs and the summary above).
    for f in &empty {
        eprintln!(
            "immunis: error: {} holds no HL7 message (no MSH segment): nothing was loaded from it",
            f.display()
        );
    }
    Ok(if empty.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub fn forecast(supporting_data: Option<PathBuf>) -> Result<ExitCode> {
    let engine = match supporting_data {
        None => immunis_cdsi::Engine::default_data().context("embedded supporting data")?,
        Some(dir) => immunis_cdsi::Engine::new(crate::clinical::supporting_data_dir(&dir)?),
    };
    // Which data answers, and until when its seasonal recommendations hold
    // (an assessment date after one gets "Not Recommended" for that group).
    eprintln!(
        "immunis forecast: CDC CDSi supporting data {}",
        engine.data().release
    );
    for s in engine.data().seasons() {
        if let Some(end) = s.last_day() {
            eprintln!(
                "immunis forecast: {} season data {} to {end}: later assessment dates get no recommendation from it",
                engine.vaccine_group_name(s.vaccine_group),
                s.start,
            );
        }
    }
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let stats = immunis_cdsi::ndjson::run(
        &engine,
        stdin.lock(),
        std::io::BufWriter::new(stdout.lock()),
    )?;
    let _ = stats;
    Ok(ExitCode::SUCCESS)
}

pub fn facility_add(
    store: StoreArgs,
    organization: &str,
    code: &str,
    name: &str,
) -> Result<ExitCode> {
    let reg = create_registry(&store)?;
    let id = reg.register_facility(
        &console_admin(),
        organization,
        OrganizationKind::Provider,
        code,
        name,
    )?;
    println!("facility {code} registered (id {id})");
    Ok(ExitCode::SUCCESS)
}

pub fn credential_add(
    store: StoreArgs,
    facility: &str,
    username: &str,
    password_env: Option<&str>,
) -> Result<ExitCode> {
    let reg = open_registry(&store)?;
    let (password, generated) = match password_env {
        Some(var) => (
            std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?,
            false,
        ),
        None => (immunis_registry::auth::generate_secret(), true),
    };
    reg.add_submitter_credential(&console_admin(), facility, username, &password)?;
    if generated {
        println!("credential {username} for facility {facility} created; password (shown once): {password}");
    } else {
        println!("credential {username} for facility {facility} created");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn facility_list(store: StoreArgs) -> Result<ExitCode> {
    let reg = open_registry(&store)?;
    for (f, o) in reg.list_facilities(&console_admin())? {
        println!("{}\t{}\t{}", f.code, f.name, o.name);
    }
    Ok(ExitCode::SUCCESS)
}

pub mod demo {
    //! `serve --demo`: on an empty registry, a demo clinic with an EHR
    //! credential, a synthetic population, a demo nurse and a demo school
    //! nurse (with a roster); on every start, everything a newcomer needs to
    //! try each role, with the addresses the server really listens on.
    //! Demo logins are kept in `DATA_DIR/demo-logins.tsv` (synthetic data,
    //! demo passwords: never for real use).

    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};

    use anyhow::{Context, Result};
    use chrono::Datelike;
    use immunis_model::{OrganizationKind, PatientId};
    use immunis_registry::{console_admin, Purpose, Registry};

    pub const DEMO_FACILITY: &str = "DEMOCLINIC";
    pub const DEMO_USER: &str = "demo-ehr";
    pub const DEMO_PASSWORD: &str = "demo-password-not-secret";
    /// Synthetic people loaded into a fresh demo registry.
    pub const DEMO_PEOPLE: u64 = 500;
    const CLINIC: &str = "Demo Pediatrics";
    const SCHOOL: &str = "Demo Elementary School";
    const LOGINS: &str = "demo-logins.tsv";

    /// What a newcomer needs, kept in the data directory.
    #[derive(Default)]
    pub struct DemoInfo {
        /// (role, username, password, TOTP secret)
        logins: Vec<[String; 4]>,
        /// (family, given, birth date) of people to search for.
        people: Vec<[String; 3]>,
        outbox: Option<PathBuf>,
    }

    /// Registers the synthetic facilities and ingests a synthetic population.
    async fn populate(reg: &std::sync::Arc<Registry>, people: u64) -> Result<()> {
        let admin = console_admin();
        let today = chrono::Local::now().date_naive();
        let generator =
            immunis_synth::Generator::new(immunis_synth::SynthConfig::new(people, 7, today))?;
        for f in generator.facilities() {
            reg.register_facility(
                &admin,
                &f.name,
                OrganizationKind::Provider,
                &f.code,
                &f.name,
            )?;
        }
        let messages: Vec<String> = generator
            .flat_map(|p| p.messages.into_iter().map(|m| m.hl7))
            .collect();
        let count = messages.len();
        crate::commands::process_all(reg, messages, "demo", |_| Ok(())).await?;
        let messages = count;
        eprintln!("immunis demo: loaded {people} synthetic people ({messages} messages)");
        Ok(())
    }

    /// Demo users, a school with a roster of the population's school-age
    /// children, and a few people to search for.
    async fn people_and_users(reg: &std::sync::Arc<Registry>) -> Result<DemoInfo> {
        let admin = console_admin();
        let today = chrono::Local::now().date_naive();
        let mut info = DemoInfo::default();
        reg.add_organization(&admin, SCHOOL, OrganizationKind::School)?;
        let mut rostered = 0;
        for id in 1..=400 {
            let Ok(rec) = reg
                .patient_record(&admin, Purpose::Administration, PatientId(id))
                .await
            else {
                continue;
            };
            let name = rec.patient.legal_name();
            let born = rec.patient.birth_date.0;
            if info.people.len() < 3 {
                info.people
                    .push([name.family.clone(), name.given.clone(), born.to_string()]);
            }
            // Kindergarten at 5 on the school year's start, then a grade a year.
            let age = today.year()
                - born.year()
                - i32::from((today.month(), today.day()) < (born.month(), born.day()));
            let grade = match age {
                5 => Some(immunis_schools::Grade::K),
                6..=11 => u8::try_from(age - 5)
                    .ok()
                    .map(immunis_schools::Grade::Grade),
                _ => None,
            };
            if let (Some(g), true) = (grade, rostered < 25) {
                reg.set_school_grade(&admin, SCHOOL, rec.id, &g, None)?;
                rostered += 1;
            }
        }
        for (role, user, org, password) in [
            ("nurse", "demo-nurse", CLINIC, "demo-heron-58-canal"),
            (
                "school nurse",
                "demo-school-nurse",
                SCHOOL,
                "demo-maple-73-river",
            ),
        ] {
            let s = reg.add_user(&admin, user, Some(org), None, Some(password))?;
            info.logins.push([
                role.to_string(),
                user.to_string(),
                password.to_string(),
                s.totp_secret,
            ]);
        }
        Ok(info)
    }

    fn save(dir: &Path, info: &DemoInfo) -> Result<()> {
        let mut text = String::from(
            "# immunis serve --demo: synthetic demo logins and people (never for real use)\n",
        );
        for l in &info.logins {
            text.push_str(&format!("login\t{}\n", l.join("\t")));
        }
        for p in &info.people {
            text.push_str(&format!("person\t{}\n", p.join("\t")));
        }
        let path = dir.join(LOGINS);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }

    fn load(dir: &Path) -> DemoInfo {
        let mut info = DemoInfo::default();
        let text = std::fs::read_to_string(dir.join(LOGINS)).unwrap_or_default();
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                ["login", a, b, c, d] => info.logins.push([a, b, c, d].map(|s| s.to_string())),
                ["person", a, b, c] => info.people.push([a, b, c].map(|s| s.to_string())),
                _ => {}
            }
        }
        info
    }

    /// Fills an empty registry (once) and returns what to show a newcomer.
    pub async fn prepare(
        reg: &std::sync::Arc<Registry>,
        data_dir: &Path,
        outbox: Option<PathBuf>,
    ) -> Result<DemoInfo> {
        let admin = console_admin();
        let fresh = !reg
            .list_facilities(&admin)?
            .iter()
            .any(|(f, _)| f.code == DEMO_FACILITY);
        if fresh {
            reg.register_facility(
                &admin,
                CLINIC,
                OrganizationKind::Provider,
                DEMO_FACILITY,
                "Demo Pediatrics Clinic",
            )?;
            reg.add_submitter_credential(&admin, DEMO_FACILITY, DEMO_USER, DEMO_PASSWORD)?;
            populate(reg, DEMO_PEOPLE).await?;
            std::fs::create_dir_all(data_dir)?;
            save(data_dir, &people_and_users(reg).await?)?;
        }
        let mut info = load(data_dir);
        info.outbox = outbox;
        Ok(info)
    }

    /// A likely typo of a name (two middle letters swapped), to show the
    /// search's tolerance.
    fn typo(name: &str) -> String {
        let mut c: Vec<char> = name.chars().collect();
        if c.len() >= 4 {
            c.swap(1, 2);
        }
        c.into_iter().collect()
    }

    /// Prints how to try every role against the addresses in use.
    pub fn announce(info: &DemoInfo, http: &str, mllp: SocketAddr, data_dir: &Path) {
        let mut out = format!(
            "immunis demo: try it\n  provider portal:  {http}/portal\n  parents' page:    {http}/my-record\n"
        );
        for [role, user, password, secret] in &info.logins {
            out.push_str(&format!(
                "  {role:<17} {user} / {password}, TOTP secret {secret} (code: oathtool --totp -b {secret})\n"
            ));
        }
        out.push_str(&format!(
            "  administrator:    immunis admin bootstrap --data-dir {} --username registrar (prints a one-time password and a TOTP secret)\n",
            data_dir.display()
        ));
        out.push_str(&format!(
            "  EHR over HTTP:    curl -u {DEMO_USER}:{DEMO_PASSWORD} --data-binary @examples/first-vxu.hl7 {http}/hl7\n  EHR over MLLP:    {mllp} (plaintext on loopback: MSH-4 {DEMO_FACILITY} names the facility)\n"
        ));
        if let Some([family, given, born]) = info.people.first() {
            out.push_str(&format!(
                "  search for:       {family}, {given} (born {born})"
            ));
            for [f, g, b] in info.people.iter().skip(1) {
                out.push_str(&format!("; {f}, {g} (born {b})"));
            }
            out.push_str(&format!(
                "; or a typo: {} with the birth date\n",
                typo(family)
            ));
        }
        if let Some(dir) = &info.outbox {
            out.push_str(&format!(
                "  one-time codes:   written to {} (development outbox)\n",
                dir.display()
            ));
        }
        eprint!("{out}");
    }
}

fn output(path: &std::path::Path) -> Result<Box<dyn Write>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(std::io::BufWriter::new(std::io::stdout())))
    } else {
        Ok(Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )))
    }
}

pub fn synth(
    people: u64,
    seed: u64,
    facilities: Option<u32>,
    today: Option<chrono::NaiveDate>,
    out: PathBuf,
    truth: Option<PathBuf>,
    consolidated: bool,
) -> Result<ExitCode> {
    let today = today.unwrap_or_else(|| chrono::Local::now().date_naive());
    let mut cfg = immunis_synth::SynthConfig::new(people, seed, today);
    if let Some(f) = facilities {
        cfg.facilities = f;
    }
    let hl7_out = output(&out)?;
    let truth_out: Box<dyn Write> = match &truth {
        Some(p) => output(p)?,
        None => Box::new(std::io::sink()),
    };
    let layout = if consolidated {
        immunis_synth::Layout::Consolidated
    } else {
        immunis_synth::Layout::Visits
    };
    let stats = immunis_synth::write_population_with(&cfg, layout, hl7_out, truth_out)
        .context("generating the population")?;
    eprintln!(
        "synthetic population: {} people, {} messages, {} administered doses",
        stats.people, stats.messages, stats.administered_doses
    );
    Ok(ExitCode::SUCCESS)
}

pub fn match_pairs(file: PathBuf) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    immunis_matching::aira::run_match_pairs(&text, stdout.lock(), stderr.lock())
        .with_context(|| format!("{}", file.display()))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::whole_messages_len;

    #[test]
    fn pieces_end_before_a_message_start() {
        assert_eq!(whole_messages_len(b"MSH|a\rPID|\rMSH|b\rPID"), Some(10));
        assert_eq!(whole_messages_len(b"MSH|a\nMSH|b\r\nMSH|c"), Some(12));
        assert_eq!(whole_messages_len(b"MSH|a\rPID|b"), None);
        assert_eq!(whole_messages_len(b"\nMSH|"), None);
        assert_eq!(whole_messages_len(b""), None);
    }
}
