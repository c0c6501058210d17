//! Generation throughput (people per second), HL7 text included.

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use immunis_synth::{write_population, Generator, SynthConfig};

fn config(people: u64) -> SynthConfig {
    let today = NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or_default();
    SynthConfig::new(people, 42, today)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("synth");
    g.sample_size(10);
    let n = 2_000;
    g.throughput(Throughput::Elements(n));
    g.bench_function("generate_2000_people", |b| {
        b.iter(|| {
            let gen = Generator::new(config(n)).expect("valid config");
            gen.map(|p| p.messages.len()).sum::<usize>()
        })
    });
    g.bench_function("write_population_2000_people", |b| {
        b.iter(|| write_population(&config(n), std::io::sink(), std::io::sink()).expect("writes"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
