//! Fuzz target: the `fold-in --ratings` reader and the fold-in against a small model.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cnmf_cli::fuzzing::fold_in(data));
