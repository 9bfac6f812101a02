//! Criterion benchmarks (loading): to be written.

fn main() {}
