//! Fuzz target: the CSV splitter of the tool's own inputs (and its quoting, round trip).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cnmf_cli::fuzzing::csv_split(data));
