//! Per-record cost of the official record: signing the SMART Health Card
//! (deflate + ES256 + QR) and the PDF around it, for a typical child's
//! record of 25 doses.

use criterion::{criterion_group, criterion_main, Criterion};
use immunis_documents::sample::child_record;
use immunis_documents::{health_card, official_record_pdf, IssuerKey};

fn bench(c: &mut Criterion) {
    let key = IssuerKey::generate(&mut rand_core::OsRng);
    let doc = child_record(25);
    let iss = "https://registry.example.org";
    c.bench_function("shc_sign_and_qr_25_doses", |b| {
        b.iter(|| health_card(&doc, &key, iss, 1_717_200_000).map(|c| c.jws.len()))
    });
    let card = match health_card(&doc, &key, iss, 1_717_200_000) {
        Ok(c) => c,
        Err(e) => panic!("sample card: {e}"),
    };
    c.bench_function("pdf_25_doses", |b| {
        b.iter(|| official_record_pdf(&doc, &card).len())
    });
    c.bench_function("pdf_and_card_25_doses", |b| {
        b.iter(|| {
            health_card(&doc, &key, iss, 1_717_200_000)
                .map(|card| official_record_pdf(&doc, &card).len())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
