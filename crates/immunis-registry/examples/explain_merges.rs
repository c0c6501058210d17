//! Prints the matcher's explanation for every automatic merge in a registry
//! (SQLite directory), to audit what `dedup` linked.
//!
//!     cargo run --release -p immunis-registry --example explain_merges -- DIR

use immunis_matching::normalize;
use immunis_model::PatientId;
use immunis_registry::linkage::{explanation_text, to_match_record};
use immunis_registry::Linker;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: explain_merges DIR")?;
    let store = immunis_store::open(std::path::Path::new(&dir), None)?;
    let linker = Linker::default();
    store.read(&mut |tx| {
        let mut id = 1;
        while let Some(m) = tx.merge_record(id)? {
            id += 1;
            let (Some((a, _, na)), Some((b, _, nb))) =
                (linker.load(tx, m.survivor)?, linker.load(tx, m.absorbed)?)
            else {
                continue;
            };
            let r = linker.judge(&na, &nb);
            println!(
                "merge {} ({}): {} {} / {} {}  {:?} {:.1}\n{}",
                m.id,
                m.method,
                a.legal_name().display(),
                a.birth_date.0,
                b.legal_name().display(),
                b.birth_date.0,
                r.outcome,
                r.score,
                explanation_text(&r)
            );
            let _ = (
                to_match_record(&a, std::iter::empty()),
                normalize,
                PatientId(0),
            );
        }
        Ok(())
    })?;
    Ok(())
}
