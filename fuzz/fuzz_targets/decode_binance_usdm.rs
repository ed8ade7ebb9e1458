#![no_main]
//! The Binance USD-M futures market-data decoder on arbitrary frames, REST bodies, timers and disconnects.
use libfuzzer_sys::fuzz_target;
use obi_scalp::venue::Venue;

fuzz_target!(|data: &[u8]| obi_scalp::fuzzing::venue_decoder(Venue::BinanceUsdm, data));
