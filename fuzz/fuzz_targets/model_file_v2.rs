//! Fuzz target: the reader of model file format version 2 (safetensors), on the raw bytes and
//! on the bytes re-sealed with valid checksums.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cnmf_cli::fuzzing::model_file_v2(data));
