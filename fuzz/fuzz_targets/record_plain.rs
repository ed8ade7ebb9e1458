#![no_main]
//! The recording reader on plain `ns frame` lines.
use libfuzzer_sys::fuzz_target;
use obi_scalp::record::Format;

fuzz_target!(|data: &[u8]| obi_scalp::fuzzing::record_reader(Format::PlainNs, data));
