//! `immunis recall`: the reminder/recall list as CSV, for the whole registry
//! or on behalf of one organization (a provider's patients, a board of
//! health's residents, a program's clients).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use clap::Args;
use immunis_registry::identity::client_role;
use immunis_registry::recall::{RecallCriteria, RecallRow};
use immunis_registry::{console_admin, Actor};

use crate::commands::open_registry;
use crate::StoreArgs;

#[derive(Args)]
pub struct RecallArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The date the forecast is made for (default: today).
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Youngest age included, in completed months.
    #[arg(long)]
    min_age_months: Option<u32>,
    /// Oldest age included, in completed months.
    #[arg(long)]
    max_age_months: Option<u32>,
    /// A vaccine group (e.g. "MMR", "DTaP/Tdap/Td"); repeat for several; default all.
    #[arg(long = "group")]
    groups: Vec<String>,
    /// Also list doses coming due within this many days (reminders); without
    /// it only overdue doses are listed (recall).
    #[arg(long)]
    due_within_days: Option<u32>,
    /// Run on behalf of this organization (its role and population) instead
    /// of the registry as a whole.
    #[arg(long)]
    organization: Option<String>,
    /// Worker threads reading and forecasting.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// CSV output (`-` for stdout).
    #[arg(long, default_value = "-")]
    out: PathBuf,
}

const HEADER: [&str; 19] = [
    "patient_id",
    "family",
    "given",
    "birth_date",
    "age_months",
    "guardian",
    "street",
    "city",
    "state",
    "zip",
    "phone",
    "channel",
    "vaccine_group",
    "dose_number",
    "earliest",
    "recommended",
    "past_due",
    "status",
    "as_of",
];

fn record(r: &RecallRow, as_of: NaiveDate) -> [String; 19] {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        r.patient_id.0.to_string(),
        r.family.clone(),
        r.given.clone(),
        r.birth_date.to_string(),
        r.age_months.to_string(),
        o(&r.guardian),
        o(&r.street),
        o(&r.city),
        o(&r.state),
        o(&r.zip),
        o(&r.phone),
        r.channel.as_str().into(),
        r.vaccine_group.clone(),
        r.dose_number.to_string(),
        r.earliest.to_string(),
        r.recommended.to_string(),
        r.past_due.map(|d| d.to_string()).unwrap_or_default(),
        r.status.as_str().into(),
        as_of.to_string(),
    ]
}

pub fn run(args: RecallArgs) -> Result<ExitCode> {
    if let (Some(lo), Some(hi)) = (args.min_age_months, args.max_age_months) {
        if lo > hi {
            bail!("--min-age-months {lo} is above --max-age-months {hi}");
        }
    }
    let registry = open_registry(&args.store)?;
    let admin = console_admin();
    let actor = match &args.organization {
        None => admin,
        Some(name) => {
            let org = registry
                .list_organizations(&admin)?
                .into_iter()
                .find(|o| o.name == *name)
                .with_context(|| format!("no organization named {name:?}"))?;
            Actor {
                subject: format!("console:recall:{}", org.id.0),
                role: client_role(org.kind),
                organization: Some(org.id),
                facility_code: None,
                client_addr: None,
            }
        }
    };
    let as_of = args
        .as_of
        .unwrap_or_else(|| chrono::Local::now().date_naive());
    let criteria = RecallCriteria {
        as_of,
        min_age_months: args.min_age_months,
        max_age_months: args.max_age_months,
        vaccine_groups: args.groups.clone(),
        due_within_days: args.due_within_days,
    };
    let sink: Box<dyn Write> = if args.out.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(
            std::fs::File::create(&args.out)
                .with_context(|| format!("cannot create {}", args.out.display()))?,
        )
    };
    let mut csv = csv::Writer::from_writer(sink);
    csv.write_record(HEADER)?;
    let started = Instant::now();
    let summary = registry.reminder_recall(&actor, &criteria, args.workers, &mut |r| {
        csv.write_record(record(r, as_of))
            .map_err(std::io::Error::other)
    })?;
    csv.flush()?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "reminder/recall as of {as_of}: {} records considered in {secs:.1}s ({:.0}/s); {} people listed, {} rows; \
         left out: {} not visible, {} outside the age range, {} opted out (PD1-11 01), {} inactive or deceased",
        summary.considered,
        summary.considered as f64 / secs.max(1e-9),
        summary.people_listed,
        summary.rows,
        summary.not_visible,
        summary.outside_age_range,
        summary.opted_out,
        summary.inactive,
    );
    Ok(ExitCode::SUCCESS)
}
