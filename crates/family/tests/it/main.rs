//! The integration tests of cnmf-family, linked as one test binary (one link instead of one per
//! file); each file is a module.

mod common;

mod adversarial;
mod biased;
mod examples;
mod lee_seung;
mod movielens;
mod neighbours;
