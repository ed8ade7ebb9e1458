#![no_main]
//! The ops HTTP server's request path (read, route, answer) on arbitrary request bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| obi_scalp::fuzzing::http_request(data));
