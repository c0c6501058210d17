//! Profiling driver: assesses the benchmark's typical 2-year-old N times
//! (default 100,000) with reused buffers, for `perf stat` / `perf record`.
//!
//! `cargo run --release -p immunis-cdsi --example profile_toddler -- 100000 [doses kept]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use immunis_cdsi::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let list = [
        ("2023-11-01", "08"),
        ("2024-01-02", "110"),
        ("2024-01-02", "49"),
        ("2024-01-02", "216"),
        ("2024-01-02", "116"),
        ("2024-03-01", "110"),
        ("2024-03-01", "49"),
        ("2024-03-01", "216"),
        ("2024-03-01", "116"),
        ("2024-05-02", "110"),
        ("2024-05-02", "216"),
        ("2024-05-02", "116"),
        ("2024-10-15", "88"),
        ("2024-11-05", "03"),
        ("2024-11-05", "21"),
        ("2024-11-05", "83"),
        ("2025-02-03", "49"),
        ("2025-02-03", "216"),
        ("2025-02-03", "20"),
        ("2025-05-06", "83"),
    ];
    let keep = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(list.len());
    let doses: Vec<AdministeredDose> = list[..keep.min(list.len())]
        .iter()
        .map(|(date, cvx)| AdministeredDose::new(d(date), Cvx::parse(cvx).unwrap()))
        .collect();
    let engine = Engine::default_data().unwrap();
    let p = PatientHistory {
        birth_date: d("2023-11-01"),
        sex: Sex::Female,
        doses: &doses,
        observations: &[],
    };
    let mut scratch = Scratch::new();
    let mut out = Assessment::default();
    let t = std::time::Instant::now();
    let mut groups = 0usize;
    for _ in 0..n {
        engine.assess_with(&mut scratch, &p, d("2025-11-10"), &mut out);
        groups += out.vaccine_groups.len();
    }
    let e = t.elapsed();
    println!(
        "{n} assessments, {groups} group results, {:.2} µs/patient",
        e.as_secs_f64() * 1e6 / f64::from(n)
    );
}
