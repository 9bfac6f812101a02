//! Experiment runner.

fn main() {}
