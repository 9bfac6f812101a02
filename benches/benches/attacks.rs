//! Criterion benchmarks (attacks): to be written.

fn main() {}
