//! Criterion benchmarks: normalization, blocking keys, pair scoring.
fn main() {}
