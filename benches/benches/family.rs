//! Criterion benchmarks (family): to be written.

fn main() {}
