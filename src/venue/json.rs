//! Zero-allocation JSON access for the parsers: simd-json's tape with reused buffers.
//!
//! simd-json's serde `Deserializer` builds a fresh tape `Vec` for every document, so typed serde
//! deserialization allocates once per frame. Instead each parser owns a [`JsonParser`] whose
//! tape and scratch buffers are reused across frames (after warm-up no frame allocates), and the
//! venue's `wire.rs` reads the tape into its typed, borrowed frame struct.
//!
//! [`scan`] is the faster road for the frames the venues actually send: a single-pass pull
//! scanner over the raw bytes; whatever it does not read exactly as the tape would, it leaves to
//! the tape.

pub mod scan;

use simd_json::prelude::*;
use simd_json::tape::{Tape, Value};
use simd_json::Buffers;

pub use simd_json::tape::{Array, Object};

/// A reusable simd-json parser.
pub struct JsonParser {
    buffers: Buffers,
    tape: Option<Tape<'static>>,
}

impl Default for JsonParser {
    fn default() -> Self {
        JsonParser::new(64 * 1024)
    }
}

impl std::fmt::Debug for JsonParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JsonParser")
    }
}

impl JsonParser {
    /// A parser with buffers pre-sized for documents of `capacity` bytes.
    pub fn new(capacity: usize) -> JsonParser {
        JsonParser {
            buffers: Buffers::new(capacity),
            tape: Some(Tape(Vec::with_capacity(capacity / 4))),
        }
    }

    /// Parses `input` in place (simd-json rewrites it) and hands the root value to `f`.
    #[inline]
    pub fn parse<'i, R>(
        &mut self,
        input: &'i mut [u8],
        f: impl FnOnce(Value<'_, 'i>) -> R,
    ) -> Result<R, simd_json::Error> {
        let mut tape: Tape<'i> = self.tape.take().unwrap_or_else(|| Tape(Vec::new())).reset();
        let res = simd_json::fill_tape(input, &mut self.buffers, &mut tape);
        let out = match res {
            Ok(()) => Ok(f(tape.as_value())),
            Err(e) => Err(e),
        };
        self.tape = Some(tape.reset());
        out
    }
}

/// `v` as a string slice.
#[inline]
pub fn str_of<'i>(v: Option<Value<'_, 'i>>) -> Option<&'i str> {
    v.and_then(|v| v.into_string())
}

/// `v` as an unsigned integer, accepting a JSON number or a decimal string.
#[inline]
pub fn u64_of(v: Option<Value<'_, '_>>) -> Option<u64> {
    let v = v?;
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}
