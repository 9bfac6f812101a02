//! The integration tests of cnmf-engine, linked as one test binary (one link instead of one per
//! file); each file is a module.

mod common;

mod behaviour;
mod burst;
mod dense_reference;
mod guarded;
mod isa;
mod movielens;
mod precision;
mod properties;
mod recovery;
mod robust;
mod tiles;
