//! Fuzz target: the ratings loader, format `Ml100k`, over arbitrary bytes read as a pipe.

#![no_main]

use cnmf_ratings::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cnmf_cli::fuzzing::load(Format::Ml100k, data));
