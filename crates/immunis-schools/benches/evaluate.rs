//! Criterion benchmarks of the school rules alone (CDSi's results given):
//! a kindergartener with a complete history, a 7th grader with a missing
//! vaccine, and loading the embedded rules file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use immunis_schools::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn student(rules: &Rules, birth: NaiveDate, grade: Grade, doses: &[(&str, u16)]) -> Student {
    let mut s = Student::new(birth, grade);
    for (age, cvx) in doses {
        let cdsi = rules
            .groups
            .iter()
            .filter(|g| g.cvx.contains(cvx))
            .filter_map(|g| g.cdsi_group.clone())
            .map(|g| (g, Validity::Valid))
            .collect();
        s.doses.push(Dose {
            date: Age::parse(age).expect("age").after(birth),
            cvx: *cvx,
            cdsi,
        });
    }
    s
}

const K_SERIES: &[(&str, u16)] = &[
    ("0d", 8),
    ("2m", 110),
    ("4m", 110),
    ("6m", 110),
    ("2m", 49),
    ("4m", 49),
    ("12m", 49),
    ("15m", 20),
    ("1y", 3),
    ("1y", 21),
    ("4y1m", 130),
    ("4y1m", 94),
];

fn bench(c: &mut Criterion) {
    let rules = Rules::massachusetts().expect("rules");
    let on = d(2025, 9, 2);
    let k = student(&rules, d(2020, 3, 10), Grade::K, K_SERIES);
    let mut g7 = student(&rules, d(2013, 5, 1), Grade::Grade(7), K_SERIES);
    g7.doses
        .extend(student(&rules, d(2013, 5, 1), Grade::Grade(7), &[("11y1m", 115)]).doses);
    assert_eq!(
        evaluate(&rules, &k, on).expect("k").overall,
        Overall::Compliant
    );
    assert_eq!(
        evaluate(&rules, &g7, on).expect("g7").overall,
        Overall::NotCompliant
    );
    c.bench_function("evaluate kindergartener (compliant, 12 doses)", |b| {
        b.iter(|| evaluate(black_box(&rules), black_box(&k), on))
    });
    c.bench_function("evaluate 7th grader (MenACWY missing, 13 doses)", |b| {
        b.iter(|| evaluate(black_box(&rules), black_box(&g7), on))
    });
    c.bench_function("parse the embedded Massachusetts rules", |b| {
        b.iter(|| Rules::parse(black_box(MASSACHUSETTS_2025)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
