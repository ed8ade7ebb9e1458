//! cryptofeed "format 2" JSON lines: one object per line,
//! `{"t":"recv","conn":"BYBIT.ws.2","ts":1786310818.2235148,"data":"<raw frame as a JSON string>"}`,
//! with `url` on `http` lines and `addr` on `connect`/`send` lines; the `header` line carries
//! `exchange`, `config` and `recorded` (seconds) instead.
//!
//! The line is scanned by a small strict JSON reader instead of serde: `ts` must be read from its
//! decimal text (an `f64` cannot hold microseconds of a 2026 epoch exactly), and `data` is
//! unescaped into a buffer the reader reuses, so no record allocates. Values of keys we do not
//! use are still checked against the JSON grammar.

use super::RecordKind;
use crate::num::parse_units;
use std::borrow::Cow;

/// Where a line stopped parsing and what was expected there.
#[derive(Debug)]
pub(crate) struct Bad {
    pub expected: Cow<'static, str>,
    pub at: usize,
}

fn bad<T>(expected: impl Into<Cow<'static, str>>, at: usize) -> Result<T, Bad> {
    Err(Bad {
        expected: expected.into(),
        at,
    })
}

/// Buffers reused from line to line.
#[derive(Default)]
pub(crate) struct Scratch {
    pub data: Vec<u8>,
    pub conn: String,
    pub url: String,
    key: Vec<u8>,
}

/// One parsed line; strings are in the [`Scratch`].
pub(crate) struct CfLine {
    pub kind: RecordKind,
    pub ts_ns: u64,
    pub has_url: bool,
    /// `data` is the whole line (the header), not `Scratch::data`.
    pub data_is_line: bool,
}

const MAX_DEPTH: u32 = 128;

/// Index of the first `"`, `\\` or control byte of `s` at or after `i`, or `s.len()`.
#[inline]
fn find_special(s: &[u8], mut i: usize) -> usize {
    while i + 8 <= s.len() {
        let word: [u8; 8] = s[i..i + 8].try_into().expect("8 bytes");
        if needs_care(u64::from_le_bytes(word)) {
            break;
        }
        i += 8;
    }
    while let Some(&c) = s.get(i) {
        if c < 0x20 || c == b'"' || c == b'\\' {
            break;
        }
        i += 1;
    }
    i
}

/// Whether any of the 8 bytes of `w` is `"`, `\\` or a control character (< 0x20). Exact as a
/// yes/no (the borrow trick only misreports bytes after a true hit).
#[inline]
fn needs_care(w: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(LO) & !v & HI != 0;
    has_zero(w ^ (LO * b'"' as u64))
        || has_zero(w ^ (LO * b'\\' as u64))
        || w.wrapping_sub(LO * 0x20) & !w & HI != 0
}

#[derive(Clone, Copy)]
enum Key {
    T,
    Conn,
    Ts,
    Recorded,
    Data,
    Url,
    Addr,
    Other,
}

struct Cur<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8, expected: &'static str) -> Result<(), Bad> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            bad(expected, self.i)
        }
    }

    /// A JSON string at the cursor, unescaped and appended to `out`.
    fn string_into(&mut self, out: &mut Vec<u8>) -> Result<(), Bad> {
        self.ws();
        if self.peek() != Some(b'"') {
            return bad("a JSON string", self.i);
        }
        self.i += 1;
        // No escape before the closing quote (keys, ids, URLs): one copy.
        let stop = find_special(self.s, self.i);
        if self.s.get(stop) == Some(&b'"') {
            out.extend_from_slice(&self.s[self.i..stop]);
            self.i = stop + 1;
            return Ok(());
        }
        // Unescaping never lengthens text (`\n` -> 1 byte, `\uXXXX` -> at most 3, a surrogate
        // pair's 12 -> 4), so the rest of the line bounds the output: write into a slice sized
        // once instead of growing the vector run by run.
        let base = out.len();
        out.resize(base + (self.s.len() - self.i), 0);
        let r = self.unescape(&mut out[base..]);
        out.truncate(base + r.as_ref().map_or(0, |&n| n));
        r.map(|_| ())
    }

    /// Unescapes the string body at the cursor into `dst` (at least as long as the rest of
    /// the line); the number of bytes written.
    fn unescape(&mut self, dst: &mut [u8]) -> Result<usize, Bad> {
        let s = self.s;
        let mut i = self.i;
        let mut w = 0;
        // `w <= i - self.i` throughout, so `dst` always has room for what is left of `s`.
        let res = loop {
            while i + 8 <= s.len() {
                let word: [u8; 8] = s[i..i + 8].try_into().expect("8 bytes");
                if needs_care(u64::from_le_bytes(word)) {
                    break;
                }
                dst[w..w + 8].copy_from_slice(&word);
                i += 8;
                w += 8;
            }
            let c = match s.get(i) {
                Some(&c) => c,
                None => break bad("a closing `\"`", i),
            };
            if c >= 0x20 && c != b'"' && c != b'\\' {
                dst[w] = c;
                w += 1;
                i += 1;
                continue;
            }
            match c {
                b'"' => {
                    i += 1;
                    break Ok(w);
                }
                b'\\' => {
                    let at = i;
                    let byte = match s.get(i + 1) {
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'/') => b'/',
                        Some(b'b') => 0x08,
                        Some(b'f') => 0x0c,
                        Some(b'n') => b'\n',
                        Some(b'r') => b'\r',
                        Some(b't') => b'\t',
                        Some(b'u') => {
                            self.i = i + 2;
                            let ch = match self.unicode_escape(at) {
                                Ok(ch) => ch,
                                Err(e) => break Err(e),
                            };
                            i = self.i;
                            w += ch.encode_utf8(&mut dst[w..]).len();
                            continue;
                        }
                        Some(_) => {
                            break bad(
                                "a JSON escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
                                at,
                            )
                        }
                        None => break bad("an escape after `\\`", i + 1),
                    };
                    dst[w] = byte;
                    w += 1;
                    i += 2;
                }
                _ => break bad("no raw control character inside a string", i),
            }
        };
        self.i = i;
        res
    }

    /// The character of a `\uXXXX` escape (a surrogate pair takes two), cursor after `\u`.
    fn unicode_escape(&mut self, at: usize) -> Result<char, Bad> {
        let hi = self.hex4()?;
        let cp = if (0xD800..0xDC00).contains(&hi) {
            if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                return bad(
                    "a low surrogate `\\uDC00`-`\\uDFFF` after a high one",
                    self.i,
                );
            }
            self.i += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return bad(
                    "a low surrogate `\\uDC00`-`\\uDFFF` after a high one",
                    self.i - 6,
                );
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else if (0xDC00..0xE000).contains(&hi) {
            return bad("no lone low surrogate", at);
        } else {
            hi
        };
        // Surrogates were excluded above, so this is always a valid scalar value.
        Ok(char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    fn hex4(&mut self) -> Result<u32, Bad> {
        let mut v = 0u32;
        for k in 0..4 {
            let d = match self.s.get(self.i + k) {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return bad("four hex digits after `\\u`", self.i + k),
            };
            v = v * 16 + d as u32;
        }
        self.i += 4;
        Ok(v)
    }

    fn skip_string(&mut self) -> Result<(), Bad> {
        self.ws();
        if self.peek() != Some(b'"') {
            return bad("a JSON string", self.i);
        }
        self.i += 1;
        loop {
            match self.s.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    let at = self.i;
                    match self.s.get(self.i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 2,
                        Some(b'u') => {
                            self.i += 2;
                            self.hex4()?;
                        }
                        _ => return bad("a JSON escape", at),
                    }
                }
                Some(&c) if c < 0x20 => {
                    return bad("no raw control character inside a string", self.i)
                }
                Some(_) => self.i += 1,
                None => return bad("a closing `\"`", self.i),
            }
        }
    }

    /// A JSON number token, checked against the grammar.
    fn number(&mut self) -> Result<&'a [u8], Bad> {
        self.ws();
        let start = self.i;
        let digits = |c: &mut Cur<'a>| {
            let from = c.i;
            while let Some(b'0'..=b'9') = c.peek() {
                c.i += 1;
            }
            c.i - from
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        let n = digits(self);
        if n == 0 || (n > 1 && self.s[int_start] == b'0') {
            return bad("a JSON number", start);
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return bad("digits after the decimal point", self.i);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if digits(self) == 0 {
                return bad("digits in the exponent", self.i);
            }
        }
        Ok(&self.s[start..self.i])
    }

    fn literal(&mut self, lit: &'static [u8]) -> Result<(), Bad> {
        if self.s.get(self.i..self.i + lit.len()) == Some(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            bad("a JSON value", self.i)
        }
    }

    fn skip_value(&mut self, depth: u32) -> Result<(), Bad> {
        if depth > MAX_DEPTH {
            return bad("JSON nested at most 128 deep", self.i);
        }
        self.ws();
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.skip_string()?;
                    self.eat(b':', "`:` after an object key")?;
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return bad("`,` or `}` in an object", self.i),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return bad("`,` or `]` in an array", self.i),
                    }
                }
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number().map(|_| ()),
            _ => bad("a JSON value", self.i),
        }
    }

    /// `null` at the cursor (consumed) or not.
    fn null(&mut self) -> bool {
        self.ws();
        if self.s.get(self.i..self.i + 4) == Some(b"null") {
            self.i += 4;
            true
        } else {
            false
        }
    }
}

/// Seconds as written (`1786310816.516123`) to integer nanoseconds, exactly. Digits below a
/// nanosecond are dropped (truncated), never rounded through `f64`.
pub(crate) fn seconds_to_ns(token: &[u8]) -> Option<u64> {
    if token.first() == Some(&b'-') {
        return None;
    }
    let mut t = token;
    if !t.iter().any(|&c| c == b'e' || c == b'E') {
        if let Some(dot) = t.iter().position(|&c| c == b'.') {
            t = &t[..t.len().min(dot + 1 + 9)];
        }
    }
    parse_units(t, 9).ok().and_then(|v| u64::try_from(v).ok())
}

fn ts_field(c: &mut Cur<'_>, name: &'static str) -> Result<u64, Bad> {
    let at = {
        c.ws();
        c.i
    };
    let tok = c
        .number()
        .or_else(|_| bad(format!("`{name}`: seconds as a JSON number"), at))?;
    seconds_to_ns(tok).map_or_else(
        || {
            bad(
                format!("`{name}`: non-negative seconds that fit u64 nanoseconds"),
                at,
            )
        },
        Ok,
    )
}

fn kind_of(t: &[u8]) -> Option<RecordKind> {
    Some(match t {
        b"recv" => RecordKind::Recv,
        b"send" => RecordKind::Send,
        b"http" => RecordKind::Http,
        b"connect" => RecordKind::Connect,
        b"disconnect" => RecordKind::Disconnect,
        b"header" => RecordKind::Header,
        _ => return None,
    })
}

fn string_field(
    c: &mut Cur<'_>,
    tmp: &mut Vec<u8>,
    out: &mut String,
    name: &'static str,
) -> Result<(), Bad> {
    let at = c.i;
    tmp.clear();
    c.string_into(tmp).map_err(|b| Bad {
        expected: format!("`{name}`: {}", b.expected).into(),
        at: b.at,
    })?;
    match std::str::from_utf8(tmp) {
        Ok(s) => {
            out.clear();
            out.push_str(s);
            Ok(())
        }
        Err(_) => bad(format!("`{name}`: UTF-8 text"), at),
    }
}

/// Parses one non-blank line. The line must be valid UTF-8 (checked by the caller).
pub(crate) fn parse_line(line: &[u8], sc: &mut Scratch) -> Result<CfLine, Bad> {
    let mut c = Cur { s: line, i: 0 };
    c.eat(b'{', "a JSON object `{`")?;
    let mut kind = None;
    let mut ts = None;
    let mut recorded = None;
    let mut has_conn = false;
    let mut has_data = false;
    let mut has_url = false;
    let mut has_addr = false;
    sc.data.clear();
    sc.conn.clear();
    sc.url.clear();
    c.ws();
    if c.peek() == Some(b'}') {
        c.i += 1;
    } else {
        loop {
            sc.key.clear();
            c.string_into(&mut sc.key).map_err(|b| Bad {
                expected: format!("an object key: {}", b.expected).into(),
                at: b.at,
            })?;
            c.eat(b':', "`:` after an object key")?;
            c.ws();
            let val_at = c.i;
            let key = match sc.key.as_slice() {
                b"t" => Key::T,
                b"conn" => Key::Conn,
                b"ts" => Key::Ts,
                b"recorded" => Key::Recorded,
                b"data" => Key::Data,
                b"url" => Key::Url,
                b"addr" => Key::Addr,
                _ => Key::Other,
            };
            match key {
                Key::T => {
                    sc.key.clear();
                    c.string_into(&mut sc.key).map_err(|_| Bad {
                        expected: "`t`: a string".into(),
                        at: val_at,
                    })?;
                    match kind_of(&sc.key) {
                        Some(k) => kind = Some(k),
                        None => {
                            return bad(
                                "`t`: one of header, http, connect, send, recv, disconnect",
                                val_at,
                            )
                        }
                    }
                }
                Key::Conn => {
                    string_field(&mut c, &mut sc.key, &mut sc.conn, "conn")?;
                    has_conn = true;
                }
                Key::Ts => ts = Some(ts_field(&mut c, "ts")?),
                Key::Recorded => recorded = Some(ts_field(&mut c, "recorded")?),
                Key::Data => {
                    if !c.null() {
                        sc.data.clear();
                        c.string_into(&mut sc.data).map_err(|b| Bad {
                            expected: format!("`data`: {}", b.expected).into(),
                            at: b.at,
                        })?;
                        has_data = true;
                    }
                }
                Key::Url => {
                    if !c.null() {
                        string_field(&mut c, &mut sc.key, &mut sc.url, "url")?;
                        has_url = true;
                    }
                }
                Key::Addr => {
                    if !c.null() {
                        // `url` wins when a line has both.
                        if has_url {
                            c.skip_string().map_err(|b| Bad {
                                expected: format!("`addr`: {}", b.expected).into(),
                                at: b.at,
                            })?;
                        } else {
                            string_field(&mut c, &mut sc.key, &mut sc.url, "addr")?;
                            has_addr = true;
                        }
                    }
                }
                Key::Other => c.skip_value(1)?,
            }
            c.ws();
            match c.peek() {
                Some(b',') => c.i += 1,
                Some(b'}') => {
                    c.i += 1;
                    break;
                }
                _ => return bad("`,` or `}` after a value", c.i),
            }
        }
    }
    c.ws();
    if c.i != line.len() {
        return bad("the end of the line after the JSON object", c.i);
    }
    let kind = match kind {
        Some(k) => k,
        None => return bad("a `t` field", 0),
    };
    if kind == RecordKind::Header {
        return Ok(CfLine {
            kind,
            ts_ns: recorded.or(ts).unwrap_or(0),
            has_url: false,
            data_is_line: true,
        });
    }
    if !has_conn {
        return bad("a `conn` field", 0);
    }
    let ts_ns = match ts {
        Some(t) => t,
        None => return bad("a `ts` field", 0),
    };
    if !has_data && matches!(kind, RecordKind::Recv | RecordKind::Send | RecordKind::Http) {
        return bad("a `data` field", 0);
    }
    Ok(CfLine {
        kind,
        ts_ns,
        has_url: has_url || has_addr,
        data_is_line: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "\\PC{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z\"\\\\]{0,3}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn parse(s: &str) -> Result<(CfLine, Scratch), Bad> {
        let mut sc = Scratch::default();
        parse_line(s.as_bytes(), &mut sc).map(|l| (l, sc))
    }

    #[test]
    fn ts_is_exact_nanoseconds() {
        assert_eq!(
            seconds_to_ns(b"1786310816.516123"),
            Some(1_786_310_816_516_123_000)
        );
        assert_eq!(
            seconds_to_ns(b"1639350329.8852742"),
            Some(1_639_350_329_885_274_200)
        );
        assert_eq!(
            seconds_to_ns(b"1633998511"),
            Some(1_633_998_511_000_000_000)
        );
        assert_eq!(seconds_to_ns(b"0.000000001"), Some(1));
        // below a nanosecond: truncated, not rounded
        assert_eq!(seconds_to_ns(b"1.0000000019"), Some(1_000_000_001));
        assert_eq!(seconds_to_ns(b"1.6e9"), Some(1_600_000_000_000_000_000));
        assert_eq!(seconds_to_ns(b"-1.5"), None);
        assert_eq!(seconds_to_ns(b"99999999999999"), None);
        // the f64 route gets this one wrong: 1786310816.516123 * 1e9 = ...516122880
        assert_ne!(
            (1786310816.516123f64 * 1e9) as u64,
            seconds_to_ns(b"1786310816.516123").unwrap()
        );
    }

    #[test]
    fn recv_line_with_escapes() {
        let (l, sc) = parse(
            r#"{"t":"recv","conn":"X.ws.1","ts":1.5,"data":"{\"a\":\"\u00e9\\n\/\ud83d\ude00\"}\t"}"#,
        )
        .unwrap();
        assert_eq!(l.kind, RecordKind::Recv);
        assert_eq!(l.ts_ns, 1_500_000_000);
        assert_eq!(sc.conn, "X.ws.1");
        assert!(!l.has_url);
        assert_eq!(
            std::str::from_utf8(&sc.data).unwrap(),
            "{\"a\":\"é\\n/😀\"}\t"
        );
    }

    #[test]
    fn http_connect_send_and_header() {
        let (l, sc) =
            parse(r#"{"t":"http","conn":"B.http","ts":2,"url":"https://x/y?a=1","data":"{}"}"#)
                .unwrap();
        assert_eq!(
            (l.kind, l.has_url, sc.url.as_str()),
            (RecordKind::Http, true, "https://x/y?a=1")
        );
        let (l, sc) = parse(r#"{"t":"connect","conn":"B.ws.1","ts":3,"addr":"wss://a"}"#).unwrap();
        assert_eq!(
            (l.kind, l.has_url, sc.url.as_str()),
            (RecordKind::Connect, true, "wss://a")
        );
        assert!(sc.data.is_empty());
        let (l, _) = parse(
            r#" {"t":"header","format":2,"exchange":"BYBIT","config":{"a":["B-C",null,true,-1.5e3]},"candle_interval":null,"recorded":1633998511.132921} "#,
        )
        .unwrap();
        assert_eq!(l.kind, RecordKind::Header);
        assert_eq!(l.ts_ns, 1_633_998_511_132_921_000);
        assert!(l.data_is_line);
    }

    fn expect_bad(s: &str, needle: &str) {
        match parse(s) {
            Ok(_) => panic!("accepted {s}"),
            Err(b) => assert!(
                b.expected.contains(needle),
                "{s}: expected message containing {needle:?}, got {:?}",
                b.expected
            ),
        }
    }

    #[test]
    fn malformed_lines_say_what_was_expected() {
        expect_bad(r#"[1]"#, "JSON object");
        expect_bad(r#"{"t":"recv","conn":"c","ts":1,"data":"x""#, "`,` or `}`");
        expect_bad(
            r#"{"t":"recv","conn":"c","ts":1,"data":"x"} junk"#,
            "end of the line",
        );
        expect_bad(
            r#"{"t":"nope","conn":"c","ts":1,"data":"x"}"#,
            "one of header",
        );
        expect_bad(r#"{"t":"recv","ts":1,"data":"x"}"#, "`conn`");
        expect_bad(r#"{"t":"recv","conn":"c","data":"x"}"#, "`ts`");
        expect_bad(r#"{"t":"recv","conn":"c","ts":1}"#, "`data`");
        expect_bad(r#"{"conn":"c","ts":1,"data":"x"}"#, "`t`");
        expect_bad(
            r#"{"t":"recv","conn":"c","ts":"1.5","data":"x"}"#,
            "`ts`: seconds",
        );
        expect_bad(
            r#"{"t":"recv","conn":"c","ts":-1,"data":"x"}"#,
            "non-negative",
        );
        expect_bad(r#"{"t":"recv","conn":"c","ts":01,"data":"x"}"#, "`ts`");
        expect_bad(r#"{"t":"recv","conn":"c","ts":1,"data":"\x"}"#, "escape");
        expect_bad(
            r#"{"t":"recv","conn":"c","ts":1,"data":"\ud800"}"#,
            "surrogate",
        );
        expect_bad(
            r#"{"t":"recv","conn":"c","ts":1,"data":"\udc00"}"#,
            "surrogate",
        );
        expect_bad(r#"{"t":"recv","conn":"c","ts":1,"data":"\u12"}"#, "hex");
        expect_bad(
            "{\"t\":\"recv\",\"conn\":\"c\",\"ts\":1,\"data\":\"a\u{1}\"}",
            "control",
        );
        expect_bad(
            r#"{"t":"recv","conn":"c","ts":1,"data":"x","z":[1,]}"#,
            "JSON value",
        );
        expect_bad(
            r#"{"t":"recv","conn":"c","ts":1,"data":"x","z":tru}"#,
            "JSON value",
        );
        expect_bad(r#"{"t":"recv","conn":5,"ts":1,"data":"x"}"#, "`conn`");
        let deep = format!(r#"{{"z":{}1{}}}"#, "[".repeat(200), "]".repeat(200));
        expect_bad(&deep, "nested");
    }

    proptest! {
        /// Any string serde_json writes comes back byte for byte, in data, conn and url.
        #[test]
        fn unescape_matches_serde_json(
            s in "[a-z\"\\\\/é😀]{0,40}|\\PC*",
            c in any::<String>(),
            ctrl in prop::collection::vec((0u8..0x20, any::<prop::sample::Index>()), 0..4),
        ) {
            let mut s = s;
            for (b, at) in ctrl {
                let mut k = at.index(s.len() + 1);
                while !s.is_char_boundary(k) { k -= 1; }
                s.insert(k, b as char);
            }
            let line = format!(
                r#"{{"t":"http","conn":{},"ts":12.25,"url":{},"data":{}}}"#,
                serde_json::to_string(&c).unwrap(),
                serde_json::to_string(&s).unwrap(),
                serde_json::to_string(&s).unwrap(),
            );
            let (l, sc) = parse(&line).unwrap();
            prop_assert_eq!(l.ts_ns, 12_250_000_000);
            prop_assert_eq!(sc.data.as_slice(), s.as_bytes());
            prop_assert_eq!(sc.url.as_str(), s.as_str());
            prop_assert_eq!(sc.conn.as_str(), c.as_str());
        }

        /// \uXXXX escapes of arbitrary chars (incl. surrogate pairs) decode like serde_json.
        #[test]
        fn unicode_escapes_match_serde_json(chars in prop::collection::vec(any::<char>(), 0..8)) {
            let mut esc = String::new();
            for ch in &chars {
                let mut units = [0u16; 2];
                for u in ch.encode_utf16(&mut units) {
                    esc.push_str(&format!("\\u{:04x}", u));
                }
            }
            let quoted = format!("\"{esc}\"");
            let want: String = serde_json::from_str(&quoted).unwrap();
            let line = format!(r#"{{"t":"recv","conn":"c","ts":0,"data":{quoted}}}"#);
            let (_, sc) = parse(&line).unwrap();
            prop_assert_eq!(sc.data.as_slice(), want.as_bytes());
        }

        /// Values of unused keys are checked like serde_json checks them: every serialized
        /// value is skipped to its end, and a one-byte edit is accepted exactly when serde_json
        /// accepts it.
        #[test]
        fn skipped_values_follow_the_grammar(
            v in json_value(),
            edit in prop::option::of((any::<prop::sample::Index>(), prop::sample::select(b"{}[],:\"\\0-.e1tnu ".to_vec()), any::<bool>())),
        ) {
            let text = serde_json::to_string(&v).unwrap();
            let mut bytes = text.clone().into_bytes();
            if let Some((at, b, insert)) = edit {
                let k = at.index(bytes.len() + 1);
                if insert || k == bytes.len() { bytes.insert(k, b) } else { bytes[k] = b }
            }
            let Ok(doc) = String::from_utf8(bytes) else { return Ok(()) };
            let mut c = Cur { s: doc.as_bytes(), i: 0 };
            let ours = c.skip_value(1).is_ok() && { c.ws(); c.i == doc.len() };
            let theirs = match serde_json::from_str::<serde_json::Value>(&doc) {
                Ok(_) => true,
                // An inserted `e` can push an integer beyond f64: grammatical, so we skip it.
                Err(e) if e.to_string().contains("out of range") => return Ok(()),
                Err(_) => false,
            };
            prop_assert_eq!(ours, theirs, "doc {} (from {})", doc, text);
        }
    }
}
