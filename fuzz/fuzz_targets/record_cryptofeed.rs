#![no_main]
//! The recording reader on cryptofeed JSON lines.
use libfuzzer_sys::fuzz_target;
use obi_scalp::record::Format;

fuzz_target!(|data: &[u8]| obi_scalp::fuzzing::record_reader(Format::CryptofeedJson, data));
