//! Criterion benchmarks (engine): to be written.

fn main() {}
