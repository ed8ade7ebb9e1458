//! bitFlyer Lightning JSON-RPC frames, read from the simd-json tape into typed borrowed structs.
//!
//! `{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_board_FX_BTC_JPY",
//!   "message":{"mid_price":5860954.0,"bids":[{"price":5854504.0,"size":0.0},..],"asks":[..]}}}`
//! (`lightning_board_snapshot_*` has the same message with the whole book, ~300 levels a side);
//! `lightning_executions_*`: `"message":[{"id":..,"side":"BUY"|"SELL"|"","price":..,"size":..,
//! "exec_date":"2021-12-12T23:05:29.9692063Z",..},..]` (`side` is the taker's; empty during
//! Itayose); answers `{"jsonrpc":"2.0","id":1,"result":true}` / `{..,"error":{..}}`.
//!
//! Numbers: bitFlyer sends prices and sizes as JSON numbers (`5860954.0`, `0.0267539`). They are
//! read exactly, from the number's own text: [`read`] walks the frame with the pull scanner
//! ([`crate::venue::json::scan`]), takes each number token as written and parses it into
//! ticks and lots with [`crate::num`]; no number ever goes through a binary float. A frame the
//! scanner does not take (a string escape, whitespace it refuses) is classified on the simd-json
//! tape ([`classify`]), which never reads a number: answers and other channels are told apart
//! there, and a board or executions frame of a routed product is reported as malformed.
//! Fields are looked up by name, in any order.

use crate::msg::Side;
use crate::num::Scale;
use crate::venue::json::scan::{as_str, GiveUp, Scanner};
use crate::venue::json::str_of;
use crate::venue::{FrameError, LevelUpdate};
use arrayvec::ArrayString;
use simd_json::tape::Value;

/// Where a routed product goes: book index, tick and lot.
pub type Route = (usize, Scale, Scale);

/// A trade print of one book: book, price, size, aggressor side, exchange time (ms).
pub type BookTrade = (usize, i64, i64, Side, u64);

/// Decimal text of a JSON number, as the venue wrote it.
pub type NumText = ArrayString<64>;

/// A bitFlyer frame's header; levels and trades go to the caller's scratch buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A board snapshot or diff of a routed product; `mid_price` as its decimal text, if present.
    Board {
        book: usize,
        snapshot: bool,
        mid: Option<NumText>,
    },
    /// Executions; those of a routed product are in the scratch buffer.
    Executions,
    /// A JSON-RPC answer (`ok == false` for an `error` answer).
    Ack { ok: bool },
    /// Tickers, unrouted products, anything else.
    Other,
}

/// Why [`read`] returned no frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// Not the plain JSON the scanner takes: [`classify`] the frame on the tape.
    NotPlain,
    /// A board or executions frame of a routed product that is malformed.
    Bad(FrameError),
}

impl From<GiveUp> for ReadError {
    fn from(_: GiveUp) -> ReadError {
        ReadError::NotPlain
    }
}

impl From<FrameError> for ReadError {
    fn from(e: FrameError) -> ReadError {
        ReadError::Bad(e)
    }
}

/// A number (or, tolerated, a decimal string) read exactly into steps of `scale`.
#[inline]
fn number(s: &mut Scanner<'_>, scale: Scale, field: &'static str) -> Result<i64, ReadError> {
    let first = s.peek()?;
    if first.is_ascii_digit() {
        if let Some(v) = s.plain_number(scale) {
            return Ok(v);
        }
    }
    let text = if first == b'"' {
        s.string()?
    } else {
        s.number_token()?
    };
    Ok(scale
        .parse_unsigned(text, field)
        .map_err(FrameError::Number)?)
}

/// Sets a field met once; a second occurrence is not plain (the tape takes the first).
#[inline]
fn once<T>(slot: &mut Option<T>, v: T) -> Result<(), ReadError> {
    if slot.is_some() {
        return Err(ReadError::NotPlain);
    }
    *slot = Some(v);
    Ok(())
}

/// The byte range of the next value (skipped).
#[inline]
fn span(s: &mut Scanner<'_>) -> Result<(usize, usize), ReadError> {
    s.peek()?;
    let start = s.pos();
    s.skip_value()?;
    Ok((start, s.pos()))
}

/// Reads one frame exactly. `route(product)` gives a routed product's book and scales.
/// `routed_book` is set as soon as the frame is known to be a board frame of a routed book.
pub fn read(
    input: &[u8],
    mut route: impl FnMut(&str) -> Option<Route>,
    levels: &mut Vec<LevelUpdate>,
    trades: &mut Vec<BookTrade>,
    routed_book: &mut Option<usize>,
) -> Result<Frame, ReadError> {
    let mut s = Scanner::new(input);
    if s.peek()? != b'{' || !s.object()? {
        return Err(ReadError::NotPlain);
    }
    let (mut method, mut channel, mut message) = (None, None, None);
    let mut frame = None;
    loop {
        match s.key()? {
            b"method" => once(&mut method, s.string()?)?,
            b"params" if s.peek()? == b'{' => {
                if s.object()? {
                    loop {
                        match s.key()? {
                            b"channel" => once(&mut channel, s.string()?)?,
                            // Read where it stands once the channel is known (the usual order);
                            // kept as a span otherwise.
                            b"message" => match channel {
                                Some(ch) if frame.is_none() => {
                                    frame = Some(read_message(
                                        &mut s,
                                        as_str(ch),
                                        &mut route,
                                        levels,
                                        trades,
                                        routed_book,
                                    )?)
                                }
                                _ => once(&mut message, span(&mut s)?)?,
                            },
                            _ => s.skip_value()?,
                        }
                        if !s.more_members()? {
                            break;
                        }
                    }
                }
            }
            // Answers: the tape tells them apart.
            b"result" | b"error" | b"params" => return Err(ReadError::NotPlain),
            _ => s.skip_value()?,
        }
        if !s.more_members()? {
            break;
        }
    }
    s.finish()?;
    if method != Some(&b"channelMessage"[..]) {
        return Err(ReadError::NotPlain);
    }
    let channel = as_str(channel.ok_or(FrameError::Missing("params.channel"))?);
    if let Some(f) = frame {
        return Ok(f);
    }
    let (m0, m1) = message.ok_or(FrameError::Missing("params.message"))?;
    let mut m = Scanner::new(&input[m0..m1]);
    let f = read_message(&mut m, channel, &mut route, levels, trades, routed_book)?;
    m.finish()?;
    Ok(f)
}

/// The `message` of a channel message on `channel`.
fn read_message(
    m: &mut Scanner<'_>,
    channel: &str,
    route: &mut impl FnMut(&str) -> Option<Route>,
    levels: &mut Vec<LevelUpdate>,
    trades: &mut Vec<BookTrade>,
    routed_book: &mut Option<usize>,
) -> Result<Frame, ReadError> {
    let (product, snapshot) = if let Some(p) = channel.strip_prefix("lightning_board_snapshot_") {
        (p, true)
    } else if let Some(p) = channel.strip_prefix("lightning_board_") {
        (p, false)
    } else if let Some(p) = channel.strip_prefix("lightning_executions_") {
        let Some((book, tick, lot)) = route(p) else {
            m.skip_value()?;
            return Ok(Frame::Other);
        };
        trades.clear();
        if m.peek()? != b'[' {
            return Err(FrameError::Missing("params.message").into());
        }
        if m.array()? {
            loop {
                read_execution(m, book, tick, lot, trades)?;
                if !m.more_elements()? {
                    break;
                }
            }
        }
        return Ok(Frame::Executions);
    } else {
        m.skip_value()?;
        return Ok(Frame::Other);
    };
    let Some((book, tick, lot)) = route(product) else {
        m.skip_value()?;
        return Ok(Frame::Other);
    };
    *routed_book = Some(book);
    if m.peek()? != b'{' {
        return Err(FrameError::Missing("params.message").into());
    }
    let (mut bids, mut asks, mut mid) = (None, None, None);
    levels.clear();
    if m.object()? {
        loop {
            match m.key()? {
                b"bids" => {
                    let at = levels.len();
                    read_levels(m, Side::Bid, tick, lot, levels)?;
                    once(&mut bids, (at, levels.len()))?;
                }
                b"asks" => {
                    let at = levels.len();
                    read_levels(m, Side::Ask, tick, lot, levels)?;
                    once(&mut asks, (at, levels.len()))?;
                }
                b"mid_price" => {
                    let t = if m.peek()? == b'"' {
                        m.string()?
                    } else {
                        m.number_token()?
                    };
                    let t =
                        NumText::from(as_str(t)).map_err(|_| FrameError::Missing("mid_price"))?;
                    once(&mut mid, t)?;
                }
                _ => m.skip_value()?,
            }
            if !m.more_members()? {
                break;
            }
        }
    }
    let (Some(b), Some(a)) = (bids, asks) else {
        return Err(FrameError::Missing(if bids.is_none() { "bids" } else { "asks" }).into());
    };
    if a.0 < b.0 {
        // Asks met first: bids first in the buffer all the same.
        levels.rotate_left(a.1 - a.0);
    }
    Ok(Frame::Board {
        book,
        snapshot,
        mid,
    })
}

/// Reads `[{"price":..,"size":..},..]`; a `price` of 0 (a market order during Itayose) is not a
/// level and is skipped.
fn read_levels(
    s: &mut Scanner<'_>,
    side: Side,
    tick: Scale,
    lot: Scale,
    out: &mut Vec<LevelUpdate>,
) -> Result<(), ReadError> {
    if s.peek()? != b'[' {
        return Err(FrameError::Missing(if side == Side::Bid { "bids" } else { "asks" }).into());
    }
    if !s.array()? {
        return Ok(());
    }
    loop {
        if s.peek()? != b'{' {
            return Err(FrameError::Missing("level").into());
        }
        let (mut px, mut qty) = (None, None);
        if s.object()? {
            loop {
                match s.key()? {
                    b"price" => once(&mut px, number(s, tick, "price")?)?,
                    b"size" => once(&mut qty, number(s, lot, "size")?)?,
                    _ => s.skip_value()?,
                }
                if !s.more_members()? {
                    break;
                }
            }
        }
        let px = px.ok_or(FrameError::Missing("price"))?;
        let qty = qty.ok_or(FrameError::Missing("size"))?;
        if px != 0 {
            out.push((side, px, qty));
        }
        if !s.more_elements()? {
            return Ok(());
        }
    }
}

/// One execution object: `side`, `price`, `size`, `exec_date`.
fn read_execution(
    s: &mut Scanner<'_>,
    book: usize,
    tick: Scale,
    lot: Scale,
    out: &mut Vec<BookTrade>,
) -> Result<(), ReadError> {
    if s.peek()? != b'{' {
        return Err(FrameError::Missing("execution").into());
    }
    let (mut side, mut px, mut qty, mut date) = (None, None, None, None);
    if s.object()? {
        loop {
            match s.key()? {
                b"side" => once(&mut side, s.string()?)?,
                b"price" => once(&mut px, number(s, tick, "price")?)?,
                b"size" => once(&mut qty, number(s, lot, "size")?)?,
                b"exec_date" if s.peek()? == b'"' => once(&mut date, s.string()?)?,
                _ => s.skip_value()?,
            }
            if !s.more_members()? {
                break;
            }
        }
    }
    let aggressor = match side {
        Some(b"BUY") => Side::Bid,
        Some(b"SELL") => Side::Ask,
        // Itayose (auction) executions have no taker: not a print of the book.
        Some(b"") => return Ok(()),
        _ => return Err(FrameError::Missing("side").into()),
    };
    let px = px.ok_or(FrameError::Missing("price"))?;
    let qty = qty.ok_or(FrameError::Missing("size"))?;
    let ts_ms = date.map(as_str).and_then(iso_ms).unwrap_or(0);
    out.push((book, px, qty, aggressor, ts_ms));
    Ok(())
}

/// Classifies a frame [`read`] did not take, on the simd-json tape (never reading a number):
/// answers and other channels; a board or executions frame of a routed product is malformed
/// (its numbers cannot be read exactly from the tape). `routed_book` as for [`read`].
pub fn classify(
    root: Value<'_, '_>,
    mut route: impl FnMut(&str) -> Option<Route>,
    routed_book: &mut Option<usize>,
) -> Result<Frame, FrameError> {
    if let Some(batch) = root.as_array() {
        // A batch of answers (subscribing with a JSON-RPC batch).
        let all = batch.iter().all(|v| {
            v.as_object()
                .is_some_and(|o| o.get("result").is_some() || o.get("error").is_some())
        });
        return Ok(if all && !batch.is_empty() {
            Frame::Ack { ok: true }
        } else {
            Frame::Other
        });
    }
    let obj = root
        .as_object()
        .ok_or(FrameError::Missing("<root object>"))?;
    if obj.get("method").is_none() {
        if obj.get("result").is_some() {
            return Ok(Frame::Ack { ok: true });
        }
        if obj.get("error").is_some() {
            return Ok(Frame::Ack { ok: false });
        }
        return Ok(Frame::Other);
    }
    if str_of(obj.get("method")) != Some("channelMessage") {
        return Ok(Frame::Other);
    }
    let params = obj
        .get("params")
        .and_then(|p| p.as_object())
        .ok_or(FrameError::Missing("params"))?;
    let channel = str_of(params.get("channel")).ok_or(FrameError::Missing("params.channel"))?;
    params
        .get("message")
        .ok_or(FrameError::Missing("params.message"))?;
    let (product, board) = if let Some(p) = channel.strip_prefix("lightning_board_snapshot_") {
        (p, true)
    } else if let Some(p) = channel.strip_prefix("lightning_board_") {
        (p, true)
    } else if let Some(p) = channel.strip_prefix("lightning_executions_") {
        (p, false)
    } else {
        return Ok(Frame::Other);
    };
    let Some((book, _, _)) = route(product) else {
        return Ok(Frame::Other);
    };
    if board {
        *routed_book = Some(book);
    }
    Err(FrameError::Unsupported(
        "a board or executions message the exact reader does not take (a string escape, an unusual number or duplicate field)",
    ))
}

/// `2021-12-12T23:05:29.9692063Z` → milliseconds since the Unix epoch (UTC only).
pub fn iso_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as i64;
        }
        Some(v)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut ms = 0i64;
    let mut rest = &b[19..];
    if rest.first() == Some(&b'.') {
        let mut digits = 0;
        rest = &rest[1..];
        while let Some(&c) = rest.first() {
            if !c.is_ascii_digit() {
                break;
            }
            if digits < 3 {
                ms = ms * 10 + (c - b'0') as i64;
                digits += 1;
            }
            rest = &rest[1..];
        }
        while digits < 3 {
            ms *= 10;
            digits += 1;
        }
    }
    if rest != b"Z" {
        return None;
    }
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let t = ((days * 24 + h) * 60 + mi) * 60 + sec;
    u64::try_from(t * 1000 + ms).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            iso_ms("2021-12-12T23:05:29.9692063Z"),
            Some(1_639_350_329_969)
        );
        assert_eq!(iso_ms("2000-02-29T12:00:00.5Z"), Some(951_825_600_500));
        assert_eq!(iso_ms("2021-12-12 23:05:29Z"), None);
        assert_eq!(iso_ms("2021-13-12T23:05:29Z"), None);
        assert_eq!(iso_ms("2021-12-12T23:05:29+09:00"), None);
    }

    fn route(p: &str) -> Option<Route> {
        (p == "FX_BTC_JPY").then_some((0, Scale::new(0, 1), Scale::new(8, 1)))
    }

    fn board(message: &str) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","method":"channelMessage","params":{{"channel":"lightning_board_FX_BTC_JPY","message":{message}}}}}"#
        )
    }

    fn read_str(frame: &str) -> (Result<Frame, ReadError>, Vec<LevelUpdate>) {
        let (mut levels, mut trades, mut routed) = (Vec::new(), Vec::new(), None);
        let r = read(
            frame.as_bytes(),
            route,
            &mut levels,
            &mut trades,
            &mut routed,
        );
        (r, levels)
    }

    #[test]
    fn numbers_are_read_from_their_text_exactly() {
        // 0.1 + 0.2 style values, 8-decimal sizes, long mantissas, exponents, keys in any order,
        // asks before bids (levels still bids first), a price of 0 skipped.
        let (r, lv) = read_str(&board(
            r#"{"asks":[{"size":1e-8,"price":5860955.0}],"mid_price":5860954.5,"bids":[{"price":5860954,"size":0.30000000000000004e0},{"price":0,"size":1},{"price":5860953.0,"size":12345678.12345678}]}"#,
        ));
        // 0.30000000000000004 is off the 1e-8 lot grid: exact parsing refuses it (a round
        // trip through a binary float would have made it 0.3).
        match r {
            Err(ReadError::Bad(FrameError::Number(n))) => assert_eq!(n.field, "size"),
            other => panic!("{other:?}"),
        }
        assert!(lv.len() <= 1);
        let (r, lv) = read_str(&board(
            r#"{"asks":[{"size":1e-8,"price":5860955.0}],"mid_price":5860954.5,"bids":[{"price":5860954,"size":0.3},{"price":0,"size":1},{"price":5860953.0,"size":12345678.12345678}]}"#,
        ));
        let Ok(Frame::Board {
            mid,
            snapshot,
            book,
        }) = r
        else {
            panic!("{r:?}");
        };
        assert_eq!((book, snapshot), (0, false));
        assert_eq!(mid.as_deref(), Some("5860954.5"));
        assert_eq!(
            lv,
            vec![
                (Side::Bid, 5860954, 30_000_000),
                (Side::Bid, 5860953, 1_234_567_812_345_678),
                (Side::Ask, 5860955, 1),
            ]
        );
    }

    #[test]
    fn no_binary_float_in_this_file() {
        let src = include_str!("wire.rs");
        for word in [concat!("f", "64"), concat!("f", "32")] {
            assert!(!src.contains(word), "{word} in bitflyer/wire.rs");
        }
    }

    #[test]
    fn answers_escapes_and_other_channels_go_to_the_tape_which_reads_no_number() {
        for (frame, want) in [
            (
                r#"{"jsonrpc":"2.0","id":1,"result":true}"#,
                Ok(Frame::Ack { ok: true }),
            ),
            (
                r#"[{"jsonrpc":"2.0","id":1,"result":true}]"#,
                Ok(Frame::Ack { ok: true }),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"エ"}}"#,
                Ok(Frame::Ack { ok: false }),
            ),
            (
                r#"{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_ticker_FX_BTC_JPY","message":{"best_bid":1.0}}}"#,
                Ok(Frame::Other),
            ),
        ] {
            let (r, _) = read_str(frame);
            let got = match r {
                Ok(f) => Ok(f),
                Err(ReadError::NotPlain) => {
                    let mut p = crate::venue::json::JsonParser::default();
                    let mut buf = frame.as_bytes().to_vec();
                    let mut routed = None;
                    p.parse(&mut buf, |root| classify(root, route, &mut routed))
                        .unwrap()
                }
                Err(ReadError::Bad(e)) => Err(e),
            };
            assert_eq!(got, want, "{frame}");
        }
        // A routed board the scanner does not take is malformed, never read through a float.
        let frame = board(r#"{"mid_price":1.0,"bids":[],"asks":[],"note":"é"}"#);
        assert_eq!(read_str(&frame).0, Err(ReadError::NotPlain));
        let mut p = crate::venue::json::JsonParser::default();
        let mut buf = frame.into_bytes();
        let mut routed = None;
        let got = p
            .parse(&mut buf, |root| classify(root, route, &mut routed))
            .unwrap();
        assert!(matches!(got, Err(FrameError::Unsupported(_))), "{got:?}");
        assert_eq!(routed, Some(0));
    }
}
