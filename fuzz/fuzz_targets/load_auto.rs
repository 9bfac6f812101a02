//! Fuzz target: the ratings loader, format `Auto`, over arbitrary bytes read as a pipe.

#![no_main]

use cnmf_ratings::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cnmf_cli::fuzzing::load(Format::Auto, data));
