//! bitFlyer Lightning JSON-RPC frames, read from the simd-json tape into typed borrowed structs.
//!
//! `{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_board_FX_BTC_JPY",
//!   "message":{"mid_price":5860954.0,"bids":[{"price":5854504.0,"size":0.0},..],"asks":[..]}}}`
//! (`lightning_board_snapshot_*` has the same message with the whole book, ~300 levels a side);
//! `lightning_executions_*`: `"message":[{"id":..,"side":"BUY"|"SELL"|"","price":..,"size":..,
//! "exec_date":"2021-12-12T23:05:29.9692063Z",..},..]` (`side` is the taker's; empty during
//! Itayose); answers `{"jsonrpc":"2.0","id":1,"result":true}` / `{..,"error":{..}}`.
//!
//! Numbers: bitFlyer sends prices and sizes as JSON numbers, which simd-json's tape holds as
//! `f64` (or `u64`/`i64` for integer tokens). They are turned back into decimal text with Rust's
//! `Display` for `f64`, which writes the shortest decimal that parses back to the same `f64`
//! and never uses an exponent, then parsed exactly by [`crate::num`]. For any token of at most 15
//! significant digits (every bitFlyer price and size: JPY prices, sizes with at most 8 decimals)
//! that text is the token's own value, so the result is exact; a longer token is rounded once,
//! by the `f64` parse. The text is written into a stack buffer: no allocation; a value too long
//! for it (beyond ~1e40) is reported as malformed. Scanning the raw token instead was rejected:
//! the tape does not keep token offsets, and a second scanner over the frame costs more than
//! this formatting.

use crate::msg::Side;
use crate::num::{FieldError, NumError, Scale};
use crate::venue::json::{str_of, Array};
use crate::venue::{FrameError, LevelUpdate};
use arrayvec::ArrayString;
use simd_json::prelude::*;
use simd_json::tape::Value;
use std::fmt::Write;

/// Where a routed product goes: book index, tick and lot.
pub type Route = (usize, Scale, Scale);

/// A trade print of one book: book, price, size, aggressor side, exchange time (ms).
pub type BookTrade = (usize, i64, i64, Side, u64);

/// Decimal text of a JSON number (see the module docs).
pub type NumText = ArrayString<64>;

/// A bitFlyer frame's header; levels and trades go to the caller's scratch buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A board snapshot or diff of a routed product; `mid_price` as decimal text, if present.
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

/// Writes a JSON number's decimal text into `out`.
#[inline]
pub fn number_text(v: Value<'_, '_>, out: &mut NumText) -> Option<()> {
    out.clear();
    if let Some(u) = v.as_u64() {
        write!(out, "{u}").ok()
    } else if let Some(i) = v.as_i64() {
        write!(out, "{i}").ok()
    } else {
        let f = v.as_f64()?;
        if !f.is_finite() {
            return None;
        }
        write!(out, "{f}").ok()
    }
}

/// Parses a JSON number exactly into steps of `scale`.
#[inline]
fn number(
    v: Option<Value<'_, '_>>,
    scale: Scale,
    field: &'static str,
    buf: &mut NumText,
) -> Result<i64, FrameError> {
    let v = v.ok_or(FrameError::Missing(field))?;
    if v.as_str().is_some() {
        // Tolerate a string (never seen; cheap).
        let s = v.as_str().unwrap_or("");
        return scale
            .parse_unsigned(s.as_bytes(), field)
            .map_err(FrameError::Number);
    }
    number_text(v, buf).ok_or(FrameError::Number(FieldError {
        field,
        kind: NumError::InvalidChar,
    }))?;
    scale
        .parse_unsigned(buf.as_bytes(), field)
        .map_err(FrameError::Number)
}

/// Reads one frame. `route(product)` gives a routed product's book and scales.
/// `routed_book` is set as soon as the frame is known to be a board frame of a routed book.
#[inline]
pub fn read(
    root: Value<'_, '_>,
    mut route: impl FnMut(&str) -> Option<Route>,
    levels: &mut Vec<LevelUpdate>,
    trades: &mut Vec<BookTrade>,
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
    let message = params
        .get("message")
        .ok_or(FrameError::Missing("params.message"))?;
    let mut buf = NumText::new();
    let (product, snapshot) = if let Some(p) = channel.strip_prefix("lightning_board_snapshot_") {
        (p, true)
    } else if let Some(p) = channel.strip_prefix("lightning_board_") {
        (p, false)
    } else if let Some(p) = channel.strip_prefix("lightning_executions_") {
        let Some((book, tick, lot)) = route(p) else {
            return Ok(Frame::Other);
        };
        let list = message
            .as_array()
            .ok_or(FrameError::Missing("params.message"))?;
        trades.clear();
        for t in list.iter() {
            let t = t.as_object().ok_or(FrameError::Missing("execution"))?;
            let aggressor = match str_of(t.get("side")) {
                Some("BUY") => Side::Bid,
                Some("SELL") => Side::Ask,
                // Itayose (auction) executions have no taker: not a print of the book.
                Some("") => continue,
                _ => return Err(FrameError::Missing("side")),
            };
            let px = number(t.get("price"), tick, "price", &mut buf)?;
            let qty = number(t.get("size"), lot, "size", &mut buf)?;
            let ts_ms = str_of(t.get("exec_date")).and_then(iso_ms).unwrap_or(0);
            trades.push((book, px, qty, aggressor, ts_ms));
        }
        return Ok(Frame::Executions);
    } else {
        return Ok(Frame::Other);
    };
    let Some((book, tick, lot)) = route(product) else {
        return Ok(Frame::Other);
    };
    *routed_book = Some(book);
    let message = message
        .as_object()
        .ok_or(FrameError::Missing("params.message"))?;
    levels.clear();
    let bids = message
        .get("bids")
        .and_then(|v| v.as_array())
        .ok_or(FrameError::Missing("bids"))?;
    read_levels(&bids, Side::Bid, tick, lot, levels, &mut buf)?;
    let asks = message
        .get("asks")
        .and_then(|v| v.as_array())
        .ok_or(FrameError::Missing("asks"))?;
    read_levels(&asks, Side::Ask, tick, lot, levels, &mut buf)?;
    let mid = match message.get("mid_price") {
        Some(v) => {
            number_text(v, &mut buf).ok_or(FrameError::Missing("mid_price"))?;
            Some(buf)
        }
        None => None,
    };
    Ok(Frame::Board {
        book,
        snapshot,
        mid,
    })
}

/// Reads `[{"price":..,"size":..},..]`; a `price` of 0 (a market order during Itayose) is not a
/// level and is skipped.
#[inline]
fn read_levels(
    arr: &Array<'_, '_>,
    side: Side,
    tick: Scale,
    lot: Scale,
    out: &mut Vec<LevelUpdate>,
    buf: &mut NumText,
) -> Result<(), FrameError> {
    for lv in arr.iter() {
        let lv = lv.as_object().ok_or(FrameError::Missing("level"))?;
        let px = number(lv.get("price"), tick, "price", buf)?;
        let qty = number(lv.get("size"), lot, "size", buf)?;
        if px != 0 {
            out.push((side, px, qty));
        }
    }
    Ok(())
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

    #[test]
    fn shortest_round_trip_text_equals_the_token() {
        let mut p = crate::venue::json::JsonParser::default();
        let mut doc = br#"[5860954.0,0.0267539,0.00000001,1e-05,0.1031,12,7012326.0]"#.to_vec();
        let got = p
            .parse(&mut doc, |root| {
                let mut out = Vec::new();
                let mut buf = NumText::new();
                for v in root.as_array().unwrap().iter() {
                    number_text(v, &mut buf).unwrap();
                    out.push(buf.to_string());
                }
                out
            })
            .unwrap();
        assert_eq!(
            got,
            [
                "5860954",
                "0.0267539",
                "0.00000001",
                "0.00001",
                "0.1031",
                "12",
                "7012326"
            ]
        );
    }
}
