//! The integration tests of cnmf-attacks, linked as one test binary (one link instead of one per
//! file); each file is a module.

mod common;

mod controls;
mod generators;
mod ml100k;
mod properties;
mod timing;
