//! The integration tests of cnmf-cli, linked as one test binary (one link instead of one per
//! file); each file is a module.

mod common;

mod commands;
mod catalogue;
mod errors;
mod ml100k;
