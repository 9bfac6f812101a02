//! Fuzz target: the model file reader, on the raw bytes and on the bytes sealed with a valid header.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cnmf_cli::fuzzing::model_file(data));
