//! The integration tests of xtask, linked as one test binary (one link instead of one per
//! file); each file is a module.

mod bench_scale;
mod reproduce;
mod robustness;
mod tidy;
