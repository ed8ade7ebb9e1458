//! A zero-allocation, single-pass JSON pull scanner: the fast path for the hot frames.
//!
//! The caller pulls the document apart in the order it arrives (`object`, `key`, `string`,
//! `more_members`, ...), borrowing strings from the input without copying, and skips what it does
//! not need with [`Scanner::skip_value`] (nesting and escaped strings included). The scanner
//! validates everything it passes over, strictly: a frame it accepts in full is valid JSON that
//! simd-json reads the same way.
//!
//! It only reads the plain subset the venues actually send. Anything else — a string with an
//! escape or a non-ASCII byte where the caller wants its value, a number with an exponent, more
//! than 18 digits or a leading zero, nesting deeper than [`MAX_DEPTH`] in a skipped value, any
//! malformed input — is [`GiveUp`], and the caller reads the frame with the full simd-json parser
//! instead, which stays the reference (and which counts malformed frames). Giving up is never an
//! error by itself.

use crate::num::{leading_digits, Scale};

/// The fast path gave up on this frame: read it with the full parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GiveUp;

/// Result of a scanner step.
pub type Scan<T> = Result<T, GiveUp>;

/// Deepest nesting [`Scanner::skip_value`] follows inside one skipped value.
pub const MAX_DEPTH: u32 = 32;

/// Most digits in a number the scanner reads or skips (the plain integers simd-json reads exactly).
pub const MAX_DIGITS: usize = 18;

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in every byte of `w` that ends a plain string run: `"`, `\`, a control byte
/// (< 0x20) or a non-ASCII byte (>= 0x80). Only the lowest flagged byte is exact (borrows can
/// flag bytes above it), which is all the callers use.
#[inline(always)]
fn stop_bytes(w: u64) -> u64 {
    let q = w ^ (LO * b'"' as u64);
    let b = w ^ (LO * b'\\' as u64);
    let zq = q.wrapping_sub(LO) & !q;
    let zb = b.wrapping_sub(LO) & !b;
    let ctl = w.wrapping_sub(LO * 0x20);
    (zq | zb | ctl | w) & HI
}

/// A pull scanner over one JSON document.
#[derive(Debug, Clone)]
pub struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    pub fn new(buf: &'a [u8]) -> Scanner<'a> {
        Scanner { buf, pos: 0 }
    }

    /// Byte offset of the next unread byte.
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    pub fn peek(&mut self) -> Scan<u8> {
        loop {
            let b = *self.buf.get(self.pos).ok_or(GiveUp)?;
            if b > b' ' {
                return Ok(b);
            }
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Err(GiveUp);
            }
            self.pos += 1;
        }
    }

    /// Consumes `c` (after whitespace).
    #[inline]
    pub fn expect(&mut self, c: u8) -> Scan<()> {
        if self.peek()? == c {
            self.pos += 1;
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// Consumes `lit` when the input continues with exactly those bytes (no whitespace
    /// skipped); `false`, with nothing consumed, otherwise. For readers that match a venue's
    /// fixed layout a stretch at a time.
    #[inline(always)]
    pub fn eat(&mut self, lit: &[u8]) -> bool {
        if self.buf[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    /// Whether the whole input has been read.
    #[inline(always)]
    pub fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// Opens an object; `false` when it is empty (and already closed).
    #[inline]
    pub fn object(&mut self) -> Scan<bool> {
        self.open(b'{', b'}')
    }

    /// Opens an array; `false` when it is empty (and already closed).
    #[inline]
    pub fn array(&mut self) -> Scan<bool> {
        self.open(b'[', b']')
    }

    #[inline]
    fn open(&mut self, open: u8, close: u8) -> Scan<bool> {
        self.expect(open)?;
        if self.peek()? == close {
            self.pos += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// A member's key and its colon.
    #[inline(always)]
    pub fn key(&mut self) -> Scan<&'a [u8]> {
        let k = self.string()?;
        self.expect(b':')?;
        Ok(k)
    }

    /// After a member: `true` on `,` (another member follows), `false` on `}`.
    #[inline]
    pub fn more_members(&mut self) -> Scan<bool> {
        self.more(b'}')
    }

    /// After an element: `true` on `,` (another element follows), `false` on `]`.
    #[inline]
    pub fn more_elements(&mut self) -> Scan<bool> {
        self.more(b']')
    }

    #[inline]
    fn more(&mut self, close: u8) -> Scan<bool> {
        let b = self.peek()?;
        self.pos += 1;
        if b == b',' {
            Ok(true)
        } else if b == close {
            Ok(false)
        } else {
            Err(GiveUp)
        }
    }

    /// The end of the document: only whitespace may follow.
    #[inline]
    pub fn finish(&mut self) -> Scan<()> {
        match self.peek() {
            Err(GiveUp) if self.pos == self.buf.len() => Ok(()),
            _ => Err(GiveUp),
        }
    }

    /// A string without escapes, control or non-ASCII bytes, as the raw bytes between the quotes
    /// (always valid UTF-8: see [`as_str`]).
    #[inline(always)]
    pub fn string(&mut self) -> Scan<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.pos;
        self.run();
        if self.buf.get(self.pos) == Some(&b'"') {
            let s = &self.buf[start..self.pos];
            self.pos += 1;
            Ok(s)
        } else {
            Err(GiveUp)
        }
    }

    /// A `["price","size"]` pair of quoted unsigned decimals, read as counts of `a` and `b`
    /// steps; the compact form (no whitespace, plain numbers) in one pass, anything else token
    /// by token. Exactly two elements: any other count gives up.
    #[inline(always)]
    pub fn decimal_pair(&mut self, a: Scale, b: Scale) -> Scan<(i64, i64)> {
        if let Some(pair) = self.try_decimal_pair(a, b) {
            return Ok(pair);
        }
        let (x, y) = self.string_pair()?;
        let x = a.parse_unsigned(x, "").map_err(|_| GiveUp)?;
        let y = b.parse_unsigned(y, "").map_err(|_| GiveUp)?;
        Ok((x, y))
    }

    /// The compact form of [`Scanner::decimal_pair`] only: `["x","y"]` with no whitespace and
    /// both numbers plain ([`Scale::parse_prefix`]). `None`, with nothing consumed, otherwise.
    #[inline(always)]
    pub fn try_decimal_pair(&mut self, a: Scale, b: Scale) -> Option<(i64, i64)> {
        let r = self.buf[self.pos..].strip_prefix(b"[\"")?;
        let (x, e1) = a.parse_prefix(r)?;
        let r = r[e1..].strip_prefix(b"\",\"")?;
        let (y, e2) = b.parse_prefix(r)?;
        if !r[e2..].starts_with(b"\"]") {
            return None;
        }
        self.pos += e1 + e2 + 7;
        Some((x, y))
    }

    /// `["x","y"]`, whitespace allowed: exactly two strings.
    #[inline]
    pub fn string_pair(&mut self) -> Scan<(&'a [u8], &'a [u8])> {
        self.expect(b'[')?;
        let x = self.string()?;
        self.expect(b',')?;
        let y = self.string()?;
        self.expect(b']')?;
        Ok((x, y))
    }

    /// Advances over plain string bytes, stopping at the first `"`, `\`, control or non-ASCII
    /// byte (or the end).
    #[inline(always)]
    fn run(&mut self) {
        while let Some(chunk) = self.buf.get(self.pos..self.pos + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            let m = stop_bytes(u64::from_le_bytes(w));
            if m != 0 {
                self.pos += (m.trailing_zeros() / 8) as usize;
                return;
            }
            self.pos += 8;
        }
        while let Some(&b) = self.buf.get(self.pos) {
            if b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b) {
                return;
            }
            self.pos += 1;
        }
    }

    /// A number token as written, in the full JSON grammar
    /// (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, any length): for venues that send
    /// prices as JSON numbers, to be parsed exactly from their text ([`Scale::parse`] reads
    /// exponents too). Anything else gives up.
    #[inline]
    pub fn number_token(&mut self) -> Scan<&'a [u8]> {
        self.peek()?;
        let start = self.pos;
        if self.buf.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let int = self.digits();
        if int == 0 || (int > 1 && self.buf[self.pos - int] == b'0') {
            return Err(GiveUp);
        }
        if self.buf.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(GiveUp);
            }
        }
        if matches!(self.buf.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.buf.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(GiveUp);
            }
        }
        Ok(&self.buf[start..self.pos])
    }

    /// A JSON number token in the plain form (`digits[.digits]`, no sign, exponent or leading
    /// zero) read into steps of `scale` in one pass, straight from the input: `Some` exactly
    /// when [`Scanner::number_token`] would return that token and [`Scale::parse_unsigned`] of
    /// it would be `Ok` with the same count (for venues that send prices as JSON numbers).
    /// `None`, with nothing consumed, for anything else: the caller then takes the token with
    /// `number_token` and parses it, which decides (and names the error).
    #[inline(always)]
    pub fn plain_number(&mut self, scale: Scale) -> Option<i64> {
        let rest = &self.buf[self.pos..];
        let (v, end) = scale.parse_prefix(rest)?;
        // JSON's grammar where the plain reader is laxer: no leading zero, no empty fraction,
        // and the token ends where the plain number does (no exponent or second point).
        if (rest[0] == b'0' && end > 1 && rest[1].is_ascii_digit())
            || rest[end - 1] == b'.'
            || matches!(rest.get(end), Some(b'.' | b'e' | b'E' | b'0'..=b'9'))
        {
            return None;
        }
        self.pos += end;
        Some(v)
    }

    /// A non-negative integer number token of at most [`MAX_DIGITS`] digits (no sign, fraction,
    /// exponent or leading zero).
    #[inline]
    pub fn uint(&mut self) -> Scan<u64> {
        let first = self.peek()?;
        if !first.is_ascii_digit() {
            return Err(GiveUp);
        }
        let rest = &self.buf[self.pos..];
        let (v, n) = leading_digits(rest).ok_or(GiveUp)?;
        if (first == b'0' && n > 1) || matches!(rest.get(n), Some(b'.' | b'e' | b'E')) {
            return Err(GiveUp);
        }
        self.pos += n;
        Ok(v)
    }

    /// The value as `venue::json::u64_of` reads it: a non-negative integer number, or a string
    /// parsed as `u64` (`None` when it does not parse). Other values give up.
    #[inline]
    pub fn u64_of(&mut self) -> Scan<Option<u64>> {
        if self.peek()? == b'"' {
            let s = self.string()?;
            Ok(as_str(s).parse().ok())
        } else {
            self.uint().map(Some)
        }
    }

    /// The value as simd-json's `as_bool` reads it: `Some` for `true`/`false`, `None` for any
    /// other (valid) value.
    #[inline]
    pub fn bool_of(&mut self) -> Scan<Option<bool>> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|_| Some(true)),
            b'f' => self.literal(b"false").map(|_| Some(false)),
            _ => self.skip_value().map(|_| None),
        }
    }

    #[inline]
    fn literal(&mut self, lit: &[u8]) -> Scan<()> {
        if self.buf.get(self.pos..self.pos + lit.len()) == Some(lit) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// A string that may hold the simple escapes (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`,
    /// `\t`); `\u` escapes, control and non-ASCII bytes give up.
    fn skip_string(&mut self) -> Scan<()> {
        self.expect(b'"')?;
        loop {
            self.run();
            match self.buf.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => match self.buf.get(self.pos + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 2,
                    _ => return Err(GiveUp),
                },
                _ => return Err(GiveUp),
            }
        }
    }

    /// A number token: `-?(0|[1-9][0-9]*)(\.[0-9]+)?` with at most [`MAX_DIGITS`] digits in
    /// all; exponents give up.
    fn skip_number(&mut self) -> Scan<()> {
        if self.buf.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let int = self.digits();
        if int == 0 || (int > 1 && self.buf[self.pos - int] == b'0') {
            return Err(GiveUp);
        }
        let mut n = int;
        if self.buf.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            let frac = self.digits();
            if frac == 0 {
                return Err(GiveUp);
            }
            n += frac;
        }
        if n > MAX_DIGITS || matches!(self.buf.get(self.pos), Some(b'e' | b'E')) {
            return Err(GiveUp);
        }
        Ok(())
    }

    #[inline]
    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.buf.get(self.pos).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Skips one value of any kind, validating it (objects and arrays to [`MAX_DEPTH`] levels).
    pub fn skip_value(&mut self) -> Scan<()> {
        // One bit per open container, innermost lowest: 1 = object, 0 = array.
        let mut stack: u64 = 0;
        let mut depth: u32 = 0;
        loop {
            // A value.
            match self.peek()? {
                b'{' => {
                    if self.object()? {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return Err(GiveUp);
                        }
                        stack = (stack << 1) | 1;
                        self.key()?;
                        continue;
                    }
                }
                b'[' => {
                    if self.array()? {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return Err(GiveUp);
                        }
                        stack <<= 1;
                        continue;
                    }
                }
                b'"' => self.skip_string()?,
                b'-' | b'0'..=b'9' => self.skip_number()?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => return Err(GiveUp),
            }
            // After a value: close what ends here, then go on with the next member or element.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let in_object = stack & 1 == 1;
                if self.more(if in_object { b'}' } else { b']' })? {
                    if in_object {
                        self.key()?;
                    }
                    break;
                }
                stack >>= 1;
                depth -= 1;
            }
        }
    }
}

/// The bytes of a string the scanner returned, as `&str` (they are ASCII, so this never fails;
/// a failure would give an empty string).
#[inline]
pub fn as_str(s: &[u8]) -> &str {
    std::str::from_utf8(s).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Skips one whole document with the scanner.
    fn skip_doc(s: &[u8]) -> Scan<()> {
        let mut sc = Scanner::new(s);
        sc.skip_value()?;
        sc.finish()
    }

    #[test]
    fn stop_bytes_finds_the_first_special_byte() {
        for (s, want) in [
            (*b"abcdefgh", 8),
            (*b"abc\"efgh", 3),
            (*b"\\bcdefgh", 0),
            (*b"abcdefg\x1f", 7),
            (*b"abcdef\x80h", 6),
            (*b"a\x7fcd\"\"\"\"", 4),
            (*b"\x00\x00\x00\x00\x00\x00\x00\x00", 0),
            (*b"        ", 8),
            (*b"~~~~~~~\xff", 7),
        ] {
            let m = stop_bytes(u64::from_le_bytes(s));
            assert_eq!(m.trailing_zeros() / 8, want, "{s:?}");
        }
    }

    #[test]
    fn reads_objects_arrays_strings_and_numbers() {
        let doc = br#" { "a" : [ "x" , "yy" ] , "n":12,"s":"34","t":true ,"o":{"k":null}} "#;
        let mut s = Scanner::new(doc);
        assert!(s.object().unwrap());
        assert_eq!(s.key().unwrap(), b"a");
        assert!(s.array().unwrap());
        assert_eq!(s.string().unwrap(), b"x");
        assert!(s.more_elements().unwrap());
        assert_eq!(s.string().unwrap(), b"yy");
        assert!(!s.more_elements().unwrap());
        assert!(s.more_members().unwrap());
        assert_eq!(s.key().unwrap(), b"n");
        assert_eq!(s.u64_of().unwrap(), Some(12));
        assert!(s.more_members().unwrap());
        assert_eq!(s.key().unwrap(), b"s");
        assert_eq!(s.u64_of().unwrap(), Some(34));
        assert!(s.more_members().unwrap());
        assert_eq!(s.key().unwrap(), b"t");
        assert_eq!(s.bool_of().unwrap(), Some(true));
        assert!(s.more_members().unwrap());
        assert_eq!(s.key().unwrap(), b"o");
        s.skip_value().unwrap();
        assert!(!s.more_members().unwrap());
        s.finish().unwrap();
    }

    #[test]
    fn empty_containers() {
        let mut s = Scanner::new(b"{ }");
        assert!(!s.object().unwrap());
        s.finish().unwrap();
        let mut s = Scanner::new(b"[]");
        assert!(!s.array().unwrap());
        s.finish().unwrap();
        assert_eq!(skip_doc(br#"{"a":[],"b":{},"c":[[],{}]}"#), Ok(()));
    }

    #[test]
    fn skips_nesting_and_escaped_strings() {
        let doc = br#"{"a":[1,{"b":"x\"}]\\","c":[[-0.5,true,false,null]]},"q\n"],"z":0}"#;
        assert_eq!(skip_doc(doc), Ok(()));
        // The skipped value ends exactly where it should.
        let mut s = Scanner::new(doc);
        assert!(s.object().unwrap());
        assert_eq!(s.key().unwrap(), b"a");
        s.skip_value().unwrap();
        assert!(s.more_members().unwrap());
        assert_eq!(s.key().unwrap(), b"z");
        assert_eq!(s.uint().unwrap(), 0);
        assert!(!s.more_members().unwrap());
        s.finish().unwrap();
    }

    #[test]
    fn gives_up_on_what_it_does_not_read() {
        for doc in [
            &br#""\u0041""#[..],    // \u escape
            b"\"caf\xc3\xa9\"",     // non-ASCII
            b"\"a\x01\"",           // control byte
            b"1e5",                 // exponent
            b"01",                  // leading zero
            b"-",                   // sign alone
            b"1.",                  // empty fraction
            b".5",                  // no integer part
            b"1234567890123456789", // 19 digits
            b"tru",                 // truncated literal
            b"truex",               // literal then garbage
            b"nul",                 // truncated
            b"[1,]",                // trailing comma
            b"{\"a\":1,}",          // trailing comma
            b"{\"a\" 1}",           // missing colon
            b"{1:2}",               // non-string key
            b"[1 2]",               // missing comma
            b"[1}",                 // wrong close
            b"{\"a\":1]",           // wrong close
            b"[[1]",                // unclosed
            b"\"abc",               // unterminated string
            b"",                    // empty
            b"   ",                 // only whitespace
            b"{} {}",               // trailing data
            b"[1]\x00",             // trailing control byte
            b"\x0b[]",              // vertical tab is not JSON whitespace
        ] {
            assert_eq!(
                skip_doc(doc),
                Err(GiveUp),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
        let deep = format!("{}1{}", "[".repeat(33), "]".repeat(33));
        assert_eq!(skip_doc(deep.as_bytes()), Err(GiveUp));
        let ok = format!("{}1{}", "[".repeat(32), "]".repeat(32));
        assert_eq!(skip_doc(ok.as_bytes()), Ok(()));
        // Escapes where the caller wants the value give up.
        assert_eq!(Scanner::new(br#""a\"b""#).string(), Err(GiveUp));
        // Numbers the typed readers do not take.
        for n in [&b"-1"[..], b"1.5", b"007", b"1e3", b"\"x\"", b"null"] {
            assert_eq!(Scanner::new(n).uint(), Err(GiveUp), "{n:?}");
        }
        assert_eq!(Scanner::new(b"\"12x\"").u64_of(), Ok(None));
        assert_eq!(Scanner::new(b"\"+12\"").u64_of(), Ok(Some(12)));
        assert_eq!(Scanner::new(b"\"1\"").bool_of(), Ok(None));
    }

    #[test]
    fn accepts_what_simd_json_accepts_at_the_edges() {
        for doc in [
            &b"{\"a\":\"\x7f~ \"}"[..], // DEL and the other printable bytes are plain
            b"[-0,0.0,-0.5,123456789012345678]",
            b"\t\r\n [ ] \t\r\n",
            br#"{"a":"\/\b\f\n\r\t\"\\"}"#,
        ] {
            assert_eq!(skip_doc(doc), Ok(()), "{}", String::from_utf8_lossy(doc));
            let mut copy = doc.to_vec();
            assert!(simd_json::to_borrowed_value(&mut copy).is_ok());
        }
    }

    #[test]
    fn long_strings_cross_word_boundaries() {
        for n in 0..40 {
            for special in [None, Some(b'\\'), Some(0x80u8), Some(0x1f)] {
                let mut s = vec![b'"'];
                s.extend(std::iter::repeat_n(b'x', n));
                if let Some(c) = special {
                    s.push(c);
                }
                s.push(b'"');
                let r = Scanner::new(&s).string();
                if special.is_none() {
                    assert_eq!(r.map(|v| v.len()), Ok(n));
                } else {
                    assert_eq!(r, Err(GiveUp), "{n} {special:?}");
                }
            }
        }
    }

    #[test]
    fn plain_numbers_read_in_one_pass() {
        let lot = Scale::new(8, 1);
        for (doc, want) in [
            (&b"0.02675298,"[..], Some((2_675_298, 10))),
            (b"5860954.0}", None), // 0.0 past the lot's 8 places is fine, a 9th nonzero is not
            (b"0.0}", Some((0, 3))),
            (b"12}", Some((1_200_000_000, 2))),
            (b"01}", None),
            (b"1.}", None),
            (b"1e-8}", None),
            (b"1.5e0}", None),
            (b"1.5.}", None),
            (b"-1}", None),
        ] {
            let mut s = Scanner::new(doc);
            let got = s.plain_number(lot).map(|v| (v, s.pos()));
            if doc == b"5860954.0}" {
                assert_eq!(got, Some((586_095_400_000_000, 9)));
                continue;
            }
            assert_eq!(got, want, "{}", String::from_utf8_lossy(doc));
            if got.is_none() {
                assert_eq!(s.pos(), 0, "nothing consumed");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The one-pass read of a plain number gives what `number_token` + `parse_unsigned`
        /// give, whenever it gives anything, and ends where the token ends.
        #[test]
        fn plain_number_agrees_with_token_then_parse(
            chars in prop::collection::vec(prop::sample::select(b"0001234567899..eE-+,}\"".to_vec()), 1..24),
            dec in 0u8..=10,
            step in 1i64..=5,
        ) {
            let sc = Scale::new(dec, step);
            let mut a = Scanner::new(&chars);
            if let Some(v) = a.plain_number(sc) {
                let mut b = Scanner::new(&chars);
                let tok = b.number_token();
                prop_assert_eq!(tok.map(|t| t.len()), Ok(a.pos()), "{}", String::from_utf8_lossy(&chars));
                prop_assert_eq!(sc.parse_unsigned(tok.unwrap_or(b""), "x"), Ok(v));
            }
        }

        /// Whatever the scanner accepts in full, serde_json accepts too (it is valid JSON), and
        /// what both accept has the same `u64` reading.
        #[test]
        fn accepted_documents_are_valid_json(
            base in 0usize..4,
            edits in prop::collection::vec((any::<usize>(), prop::sample::select(
                b"{}[]\",:\\ -.0129aeftnrlsu\n\t\x01\x7f\x80".to_vec())), 0..4),
        ) {
            let docs: [&[u8]; 4] = [
                br#"{"a":[1,2.5,-3],"b":{"c":"d\"e","f":[true,false,null]},"g":"h"}"#,
                br#"[[["x"]],{"k":[{}]},0,-0.25,"y\\z"]"#,
                br#"{"topic":"orderbook.200.BTCUSDT","data":{"b":[["1.0","2"]],"u":5}}"#,
                br#"  {"u":"17", "s": 18 }  "#,
            ];
            let mut d = docs[base].to_vec();
            for (p, c) in edits {
                let n = d.len();
                d[p % n] = c;
            }
            if skip_doc(&d).is_ok() {
                prop_assert!(serde_json::from_slice::<serde_json::Value>(&d).is_ok(),
                    "{}", String::from_utf8_lossy(&d));
                let mut copy = d.clone();
                prop_assert!(simd_json::to_borrowed_value(&mut copy).is_ok(),
                    "{}", String::from_utf8_lossy(&d));
            }
        }
    }
}
