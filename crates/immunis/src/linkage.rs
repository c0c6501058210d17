//! Record-linkage commands: `dedup`, `review list|resolve`, `merge`,
//! `unmerge`. Thin wrappers over the registry's admin services; the operator
//! at the console acts as the registry administrator (every action audited).

use std::process::ExitCode;

use anyhow::{bail, Result};
use immunis_model::PatientId;
use immunis_registry::{console_admin, Resolution};

use crate::commands::open_registry;
use crate::StoreArgs;

pub fn dedup(store: StoreArgs, workers: usize) -> Result<ExitCode> {
    let registry = open_registry(&store)?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} records {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let s = registry.dedup(&console_admin(), workers, &progress)?;
    bar.finish_and_clear();
    println!(
        "records {} (keys computed for {}), pairs compared {}, merged {}, queued for review {}, kept apart by a person's decision {} in {:.1} s",
        s.records,
        s.indexed,
        s.pairs_compared,
        s.merged,
        s.queued,
        s.kept_apart,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn review_list(store: StoreArgs, limit: usize) -> Result<ExitCode> {
    let registry = open_registry(&store)?;
    let items = registry.review_list(&console_admin(), limit)?;
    if items.is_empty() {
        println!("no pending possible matches");
    }
    for i in items {
        println!(
            "review {} (score {:.1} bits, found by {})",
            i.id, i.score, i.origin
        );
        for r in [&i.a, &i.b] {
            println!(
                "  patient {}{}: {} born {} sex {} ids [{}]",
                r.id.0,
                if r.root != r.id {
                    format!(" (merged into {})", r.root.0)
                } else {
                    String::new()
                },
                r.name,
                r.birth_date,
                r.sex,
                r.identifiers.join(", ")
            );
        }
        for line in &i.explanation {
            println!("    {}", line.replace('\t', "  "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn review_resolve(store: StoreArgs, id: i64, same: bool, different: bool) -> Result<ExitCode> {
    let resolution = match (same, different) {
        (true, false) => Resolution::Same,
        (false, true) => Resolution::Different,
        _ => bail!("give exactly one of --same or --different"),
    };
    let registry = open_registry(&store)?;
    match registry.review_resolve(&console_admin(), id, resolution)? {
        Some(m) => println!(
            "review {id}: same person; patient {} merged into {} (merge {})",
            m.absorbed.0, m.survivor.0, m.merge_id
        ),
        None => println!("review {id}: resolved ({resolution:?})"),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn merge(store: StoreArgs, keep: i64, absorb: i64) -> Result<ExitCode> {
    let registry = open_registry(&store)?;
    let m = registry.merge(&console_admin(), PatientId(keep), PatientId(absorb))?;
    println!(
        "patient {} merged into {} (merge {})",
        m.absorbed.0, m.survivor.0, m.merge_id
    );
    Ok(ExitCode::SUCCESS)
}

pub fn unmerge(store: StoreArgs, id: i64) -> Result<ExitCode> {
    let registry = open_registry(&store)?;
    let m = registry.unmerge(&console_admin(), PatientId(id))?;
    println!(
        "patient {} separated from {} (merge {} undone; recorded as different people)",
        m.absorbed.0, m.survivor.0, m.merge_id
    );
    Ok(ExitCode::SUCCESS)
}
