//! The integration tests of cnmf-cli, linked as one test binary (one link instead of one per
//! file); each file is a module.

mod common;

mod catalogue;
mod commands;
#[cfg(feature = "fetch")]
mod data;
mod errors;
mod fuzz;
mod ml100k;
mod reliability;
#[cfg(feature = "serve")]
mod serve;
mod timeline;
mod tune;
