//! School commands: the roster's grades, exemptions filed by the school
//! nurse, and the school-entry compliance report (CSV export). Like every
//! CLI command they act as the console administrator (`console_admin()`):
//! the operator at the console holds the database. The report is still
//! computed as the school sees its students (an objection to data sharing
//! shows as "record not available to school").

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use clap::Subcommand;
use immunis_model::PatientId;
use immunis_registry::console_admin;
use immunis_registry::school::NewExemption;
use immunis_schools::{parse_school_year, ExemptionKind, Grade};

use crate::commands::{open_registry, open_registry_with};
use crate::StoreArgs;

#[derive(Subcommand)]
pub enum SchoolCommand {
    /// The school's roster: put a student on it with their grade.
    Roster {
        #[command(subcommand)]
        action: RosterCommand,
    },
    /// Exemption certificates (medical, religious; meningococcal waiver).
    Exemption {
        #[command(subcommand)]
        action: ExemptionCommand,
    },
    /// Each rostered student's status against the school-entry requirements.
    Report {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        clinical: crate::clinical::ClinicalArgs,
        /// The school (organization name).
        #[arg(long)]
        org: String,
        /// Only this grade (K, 1-12, CC, PS, K0, K1, college, UG).
        #[arg(long)]
        grade: Option<String>,
        /// Write the report as CSV to this file (`-` for stdout).
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Assessment date (default: today).
        #[arg(long)]
        today: Option<NaiveDate>,
    },
}

#[derive(Subcommand)]
pub enum RosterCommand {
    /// Add a student (registry patient id) or change their grade.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        org: String,
        #[arg(long)]
        patient: i64,
        #[arg(long)]
        grade: String,
        /// e.g. 2025-26 (default: none recorded).
        #[arg(long)]
        school_year: Option<String>,
    },
    /// Add many students from a CSV file with the columns `patient_id,grade`
    /// (a header line is optional); stops at the first bad line.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        org: String,
        #[arg(long)]
        school_year: Option<String>,
        file: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ExemptionCommand {
    /// File an exemption for a student on the school's roster.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        clinical: crate::clinical::ClinicalArgs,
        #[arg(long)]
        org: String,
        #[arg(long)]
        patient: i64,
        /// medical, religious or waiver (meningococcal, college).
        #[arg(long)]
        kind: String,
        /// Vaccines covered, comma-separated (e.g. MMR,Varicella); default all.
        #[arg(long, value_delimiter = ',')]
        vaccines: Vec<String>,
        /// Date signed.
        #[arg(long)]
        signed: NaiveDate,
        /// The school year it is for (default: the year of the signature).
        #[arg(long)]
        school_year: Option<String>,
        /// End of a temporary medical exemption.
        #[arg(long)]
        expires: Option<NaiveDate>,
    },
    /// Withdraw an exemption filed in error (it stays on record).
    Withdraw {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        org: String,
        #[arg(long)]
        id: i64,
    },
}

fn school_year(s: Option<&str>) -> Result<Option<i32>> {
    s.map(parse_school_year).transpose().map_err(Into::into)
}

pub fn school(cmd: SchoolCommand) -> Result<ExitCode> {
    let admin = console_admin();
    match cmd {
        SchoolCommand::Roster {
            action:
                RosterCommand::Add {
                    store,
                    org,
                    patient,
                    grade,
                    school_year: year,
                },
        } => {
            let grade = Grade::parse(&grade)?;
            let year = school_year(year.as_deref())?;
            open_registry(&store)?.set_school_grade(
                &admin,
                &org,
                PatientId(patient),
                &grade,
                year,
            )?;
            println!("patient {patient} is in grade {grade} at {org}");
        }
        SchoolCommand::Roster {
            action:
                RosterCommand::Import {
                    store,
                    org,
                    school_year: year,
                    file,
                },
        } => {
            let year = school_year(year.as_deref())?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let mut entries = Vec::new();
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || (i == 0 && line.starts_with("patient")) {
                    continue;
                }
                let parsed = line.split_once(',').and_then(|(p, g)| {
                    let p = p.trim().parse::<i64>().ok()?;
                    Some((p, Grade::parse(g.trim()).ok()?))
                });
                let Some(entry) = parsed else {
                    bail!(
                        "{}:{}: expected `patient_id,grade`, got {line:?}",
                        file.display(),
                        i + 1
                    );
                };
                entries.push(entry);
            }
            let reg = open_registry(&store)?;
            for (p, g) in &entries {
                reg.set_school_grade(&admin, &org, PatientId(*p), g, year)
                    .with_context(|| format!("patient {p}"))?;
            }
            println!("{} students on the roster of {org}", entries.len());
        }
        SchoolCommand::Exemption {
            action:
                ExemptionCommand::Add {
                    store,
                    clinical,
                    org,
                    patient,
                    kind,
                    vaccines,
                    signed,
                    school_year: year,
                    expires,
                },
        } => {
            let rules = clinical.school_rules()?;
            let Some(kind) = ExemptionKind::parse(&kind) else {
                bail!("--kind is medical, religious or waiver, not {kind:?}");
            };
            let e = NewExemption {
                kind,
                groups: vaccines
                    .into_iter()
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .collect(),
                signed,
                school_year: school_year(year.as_deref())?,
                expires,
            };
            let id = open_registry(&store)?.record_school_exemption(
                &admin,
                &rules,
                &org,
                PatientId(patient),
                &e,
            )?;
            println!("exemption {id} filed for patient {patient} at {org}");
        }
        SchoolCommand::Exemption {
            action: ExemptionCommand::Withdraw { store, org, id },
        } => {
            open_registry(&store)?.withdraw_school_exemption(&admin, &org, id)?;
            println!("exemption {id} withdrawn");
        }
        SchoolCommand::Report {
            store,
            clinical,
            org,
            grade,
            csv,
            today,
        } => {
            let grade = grade.as_deref().map(Grade::parse).transpose()?;
            let today = today.unwrap_or_else(|| chrono::Local::now().date_naive());
            let reg = open_registry_with(&store, clinical.load()?)?;
            let rules = reg.clinical().school_rules();
            let report = reg.school_report(&admin, rules, &org, grade.as_ref(), today)?;
            match csv.as_deref() {
                Some(p) if p == Path::new("-") => report.write_csv(std::io::stdout().lock())?,
                Some(p) => {
                    let f = std::fs::File::create(p)
                        .with_context(|| format!("cannot create {}", p.display()))?;
                    report.write_csv(std::io::BufWriter::new(f))?;
                }
                None => {
                    for r in &report.rows {
                        println!(
                            "{}\t{}\t{}\t{}\t{}",
                            r.patient_id.0,
                            if r.name.is_empty() { "-" } else { &r.name },
                            if r.grade.is_empty() { "-" } else { &r.grade },
                            r.status,
                            r.missing.join("; ")
                        );
                    }
                }
            }
            let s = &report.summary;
            eprintln!(
                "{} {} ({}), {}: {} students: {} compliant, {} in progress, {} not compliant, {} exempt, {} not available, {} not assessed",
                report.organization,
                report.school_year,
                report.requirements,
                report.assessed_on,
                s.students,
                s.compliant,
                s.in_progress,
                s.not_compliant,
                s.exempt,
                s.not_available,
                s.not_assessed
            );
            for w in &report.warnings {
                eprintln!("WARNING: {w}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
