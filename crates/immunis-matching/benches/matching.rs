//! Criterion benchmarks: normalizing a record, computing its blocking keys,
//! and scoring a pair (normalized records, with and without explanation).

use chrono::NaiveDate;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use immunis_matching::{
    blocking_keys_normalized, normalize, Address, Identifier, IdentifierKind, MatchRecord, Matcher,
    MultipleBirth, PersonName, Sex,
};

fn record(first: &str, middle: &str, phone: &str, street: &str) -> MatchRecord {
    MatchRecord {
        name: PersonName {
            first: first.into(),
            middle: middle.into(),
            last: "Otterstrom-Washington".into(),
            suffix: String::new(),
        },
        aliases: vec![PersonName {
            last: "Otterstrom".into(),
            ..PersonName::default()
        }],
        birth_date: NaiveDate::from_ymd_opt(2011, 7, 3),
        sex: Some(Sex::Male),
        mother_maiden_name: "Washington".into(),
        guardians: vec![PersonName::new("Benquasha", "Washington")],
        addresses: vec![Address {
            street1: street.into(),
            street2: String::new(),
            city: "Saint Clair Shores".into(),
            state: "MI".into(),
            zip: "48080".into(),
        }],
        phones: vec![phone.into()],
        identifiers: vec![
            Identifier {
                kind: IdentifierKind::Ssn,
                authority: String::new(),
                value: "294187350".into(),
            },
            Identifier {
                kind: IdentifierKind::Medicaid,
                authority: String::new(),
                value: "840714119".into(),
            },
            Identifier {
                kind: IdentifierKind::Mrn,
                authority: "6".into(),
                value: "I69".into(),
            },
        ],
        multiple_birth: MultipleBirth {
            indicator: Some(false),
            plurality: Some(1),
            order: Some(1),
        },
        shots: Vec::new(),
    }
}

fn benches(c: &mut Criterion) {
    let a = record("Fraser", "Seville", "(586)541-3928", "359 Morrill Place");
    let b = record("Frasier", "S", "586-541-3928", "359 Morrill Pl");
    let (na, nb) = (normalize(&a), normalize(&b));
    let matcher = Matcher::default();

    c.bench_function("normalize_record", |bch| {
        bch.iter(|| normalize(black_box(&a)))
    });
    c.bench_function("blocking_keys_normalized", |bch| {
        bch.iter(|| blocking_keys_normalized(black_box(&na)))
    });
    c.bench_function("score_pair_normalized", |bch| {
        bch.iter(|| matcher.score_only(black_box(&na), black_box(&nb)))
    });
    c.bench_function("compare_pair_with_explanation", |bch| {
        bch.iter(|| matcher.compare(black_box(&na), black_box(&nb)))
    });
}

criterion_group!(matching, benches);
criterion_main!(matching);
