//! Fuzz target: the `predict --pairs` reader.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cnmf_cli::fuzzing::pairs(data));
