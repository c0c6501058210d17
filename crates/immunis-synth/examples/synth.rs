//! Writes a synthetic population: `synth PEOPLE SEED TODAY(YYYY-MM-DD) HL7_OUT TRUTH_OUT`
//! (`-` as a path discards that stream). Prints the run's totals and rate.

use std::fs::File;
use std::io::Write;
use std::time::Instant;

use chrono::NaiveDate;
use immunis_synth::{write_population, SynthConfig};

fn open(path: &str) -> std::io::Result<Box<dyn Write>> {
    Ok(if path == "-" {
        Box::new(std::io::sink())
    } else {
        Box::new(File::create(path)?)
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let people: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let seed: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(42);
    let today = match args.get(3) {
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")?,
        None => NaiveDate::from_ymd_opt(2025, 6, 30).ok_or("date")?,
    };
    let hl7 = open(args.get(4).map(String::as_str).unwrap_or("-"))?;
    let truth = open(args.get(5).map(String::as_str).unwrap_or("-"))?;
    let start = Instant::now();
    let stats = write_population(&SynthConfig::new(people, seed, today), hl7, truth)?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{stats:?}\n{secs:.2} s, {:.0} people/s, {:.0} messages/s, {:.1} MB/s",
        stats.people as f64 / secs,
        stats.messages as f64 / secs,
        stats.hl7_bytes as f64 / secs / 1e6
    );
    Ok(())
}
