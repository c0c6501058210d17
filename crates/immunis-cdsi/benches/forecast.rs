//! Criterion benchmarks: a typical 2-year-old (~20 doses) and a typical adult
//! across all vaccine groups, and the whole CDC case set in one process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use chrono::NaiveDate;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use immunis_cdsi::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn doses(list: &[(&str, &str)]) -> Vec<AdministeredDose> {
    list.iter()
        .map(|(date, cvx)| AdministeredDose::new(d(date), Cvx::parse(cvx).expect("cvx")))
        .collect()
}

/// A typical 2-year-old, born 2023-11-01, on schedule: 20 doses.
fn toddler() -> Vec<AdministeredDose> {
    doses(&[
        ("2023-11-01", "08"),  // HepB birth
        ("2024-01-02", "110"), // DTaP-HepB-IPV
        ("2024-01-02", "49"),  // Hib PRP-OMP
        ("2024-01-02", "216"), // PCV20
        ("2024-01-02", "116"), // Rota RV5
        ("2024-03-01", "110"),
        ("2024-03-01", "49"),
        ("2024-03-01", "216"),
        ("2024-03-01", "116"),
        ("2024-05-02", "110"),
        ("2024-05-02", "216"),
        ("2024-05-02", "116"),
        ("2024-10-15", "88"),  // flu
        ("2024-11-05", "03"),  // MMR
        ("2024-11-05", "21"),  // varicella
        ("2024-11-05", "83"),  // HepA
        ("2025-02-03", "49"),  // Hib booster
        ("2025-02-03", "216"), // PCV booster
        ("2025-02-03", "20"),  // DTaP 4
        ("2025-05-06", "83"),  // HepA 2
    ])
}

/// A typical adult, born 1958-06-15: Td, flu, zoster, pneumococcal, COVID.
fn adult() -> Vec<AdministeredDose> {
    doses(&[
        ("2005-03-01", "09"),
        ("2015-04-10", "115"),
        ("2019-10-01", "187"),
        ("2020-01-05", "187"),
        ("2023-06-20", "216"),
        ("2024-10-01", "88"),
        ("2024-10-01", "309"),
        ("2025-10-01", "88"),
    ])
}

fn shared_dir() -> PathBuf {
    std::env::var("IMMUNIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// Minimal CSV reader (quoted fields, embedded newlines).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field, mut quoted) = (Vec::new(), Vec::new(), String::new(), false);
    let mut it = text.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(c) = it.next() {
        match (quoted, c) {
            (true, '"') if it.peek() == Some(&'"') => {
                field.push('"');
                it.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

struct Case {
    dob: NaiveDate,
    sex: Sex,
    assess: NaiveDate,
    doses: Vec<AdministeredDose>,
    obs: Vec<Observation>,
}

fn cdc_cases() -> Vec<Case> {
    let mut out = Vec::new();
    for f in ["healthy-v4.45.csv", "conditions-v4.6.csv"] {
        let path = shared_dir().join("cdsi/test-cases").join(f);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let rows = parse_csv(&text);
        let h: Vec<String> = rows[0]
            .iter()
            .map(|x| x.trim().to_ascii_lowercase())
            .collect();
        let col = |r: &Vec<String>, k: &str| -> String {
            h.iter()
                .position(|x| x == &k.to_ascii_lowercase())
                .and_then(|i| r.get(i))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        for r in &rows[1..] {
            let (Ok(dob), Ok(assess)) = (
                NaiveDate::parse_from_str(&col(r, "DOB"), "%Y-%m-%d"),
                NaiveDate::parse_from_str(&col(r, "Assessment_Date"), "%Y-%m-%d"),
            ) else {
                continue;
            };
            let mut doses = Vec::new();
            for n in 1..=7 {
                if let (Ok(dt), Ok(cvx)) = (
                    NaiveDate::parse_from_str(
                        &col(r, &format!("Date_Administered_{n}")),
                        "%Y-%m-%d",
                    ),
                    Cvx::parse(&col(r, &format!("CVX_{n}"))),
                ) {
                    doses.push(AdministeredDose::new(dt, cvx));
                }
            }
            let obs = [
                "Observation_Code_1",
                "Observation_Code_2",
                "Observation_Code_3",
            ]
            .iter()
            .filter_map(|k| col(r, k).parse::<u16>().ok())
            .map(|code| Observation { code, date: None })
            .collect();
            out.push(Case {
                dob,
                sex: Sex::parse(&col(r, "gender")).unwrap_or(Sex::Unknown),
                assess,
                doses,
                obs,
            });
        }
    }
    out
}

fn benches(c: &mut Criterion) {
    let engine = Engine::default_data().expect("embedded data");
    let mut scratch = Scratch::new();
    let mut out = Assessment::default();

    let t = toddler();
    let toddler_p = PatientHistory {
        birth_date: d("2023-11-01"),
        sex: Sex::Female,
        doses: &t,
        observations: &[],
    };
    // the assessment date is parsed once: parsing it inside the loop (as
    // the first benchmark versions did) added chrono's format-string parse
    // to every iteration
    let assess = d("2025-11-10");
    let mut g = c.benchmark_group("patient");
    g.throughput(Throughput::Elements(1));
    g.bench_function("toddler_20_doses_all_groups", |b| {
        b.iter(|| {
            engine.assess_with(
                &mut scratch,
                black_box(&toddler_p),
                black_box(assess),
                &mut out,
            );
            black_box(out.vaccine_groups.len())
        })
    });
    let a = adult();
    let adult_p = PatientHistory {
        birth_date: d("1958-06-15"),
        sex: Sex::Male,
        doses: &a,
        observations: &[],
    };
    g.bench_function("adult_8_doses_all_groups", |b| {
        b.iter(|| {
            engine.assess_with(
                &mut scratch,
                black_box(&adult_p),
                black_box(assess),
                &mut out,
            );
            black_box(out.vaccine_groups.len())
        })
    });
    g.finish();

    let cases = cdc_cases();
    if !cases.is_empty() {
        let mut g = c.benchmark_group("cdc");
        g.throughput(Throughput::Elements(cases.len() as u64));
        g.bench_function("all_cdc_cases", |b| {
            b.iter(|| {
                let mut n = 0usize;
                for case in &cases {
                    let p = PatientHistory {
                        birth_date: case.dob,
                        sex: case.sex,
                        doses: &case.doses,
                        observations: &case.obs,
                    };
                    engine.assess_with(&mut scratch, &p, case.assess, &mut out);
                    n += out.vaccine_groups.len();
                }
                black_box(n)
            })
        });
        g.finish();
    }
}

criterion_group!(cdsi, benches);
criterion_main!(cdsi);
