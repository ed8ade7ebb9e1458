#![no_main]
//! The config loader on arbitrary text.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| obi_scalp::fuzzing::config_toml(data));
