//! bitbank's own top of book for `verify-book`: the `ticker_{pair}` room's `buy` (best bid)
//! and `sell` (best ask), `42["message",{"room_name":"ticker_btc_jpy","message":{"pid":..,
//! "data":{"sell":"896490","buy":"896489",..,"timestamp":1570080042822}}}]`
//! (bitbank-api-docs `public-stream.md`), matched by receive time: the ticker's `pid` is not
//! in the depth stream's sequence space. Numbers are taken as written, never through a float.

use super::wire::{packet, Packet};
use crate::venue::json::scan::{as_str, Scan, Scanner};
use crate::venue::{TopItem, TopKey};

/// Pushes a ticker's best bid and ask to `out`; nothing for any other frame (nor for one the
/// scanner does not take, or a ticker without both sides).
pub fn read(frame: &[u8], out: &mut Vec<TopItem>) {
    if let Ok(Packet::Event(at)) = packet(frame) {
        let _ = scan(&frame[at..], out);
    }
}

fn scan(event: &[u8], out: &mut Vec<TopItem>) -> Scan<()> {
    let mut s = Scanner::new(event);
    if !s.array()? || s.string()? != b"message" || !s.more_elements()? || !s.object()? {
        return Ok(());
    }
    let mut pair: Option<&[u8]> = None;
    let (mut bid, mut ask) = (None, None);
    loop {
        match s.key()? {
            b"room_name" => pair = s.string()?.strip_prefix(b"ticker_"),
            b"message" if pair.is_some() && s.peek()? == b'{' => {
                if s.object()? {
                    loop {
                        if s.key()? == b"data" && s.peek()? == b'{' {
                            data(&mut s, &mut bid, &mut ask)?;
                        } else {
                            s.skip_value()?;
                        }
                        if !s.more_members()? {
                            break;
                        }
                    }
                }
            }
            _ => s.skip_value()?,
        }
        if !s.more_members()? {
            break;
        }
    }
    if let (Some(pair), Some(_), Some(_)) = (pair, &bid, &ask) {
        out.push(TopItem::Quote {
            symbol: as_str(pair).to_owned(),
            bid,
            ask,
            key: TopKey::Time,
            source: "ticker",
        });
    }
    Ok(())
}

/// The ticker's `data` object: `buy` and `sell` as written.
fn data(s: &mut Scanner<'_>, bid: &mut Option<String>, ask: &mut Option<String>) -> Scan<()> {
    if !s.object()? {
        return Ok(());
    }
    loop {
        let slot = match s.key()? {
            b"buy" => Some(&mut *bid),
            b"sell" => Some(&mut *ask),
            _ => None,
        };
        match slot {
            Some(slot) if s.peek()? == b'"' => *slot = Some(as_str(s.string()?).to_owned()),
            _ => s.skip_value()?,
        }
        if !s.more_members()? {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticker_rooms_give_quotes_and_nothing_else_does() {
        let mut out = Vec::new();
        // The documented sample (bitbank-api-docs public-stream.md, Ticker).
        read(br#"42["message",{"room_name":"ticker_btc_jpy","message":{"pid":851203833,"data":{"sell":"896490","buy":"896489","open":"896489","high":"905002","low":"881500","last":"896489","vol":"650.2026","timestamp":1570080042822}}}]"#, &mut out);
        read(br#"42["message",{"room_name":"depth_diff_xrp_jpy","message":{"data":{"a":[],"b":[["26.758","20000.0000"]],"t":1570080269609,"s":"1234567890"}}}]"#, &mut out);
        read(br#"42["join-room","ticker_btc_jpy"]"#, &mut out);
        read(
            br#"0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#,
            &mut out,
        );
        read(
            br#"42["message",{"room_name":"ticker_btc_jpy","message":{"data":{"sell":"1"}}}]"#,
            &mut out,
        );
        read(
            br#"42["message",{"room_name":"ticker_btc_jpy","mess"#,
            &mut out,
        );
        assert_eq!(
            out,
            vec![TopItem::Quote {
                symbol: "btc_jpy".into(),
                bid: Some("896489".into()),
                ask: Some("896490".into()),
                key: TopKey::Time,
                source: "ticker",
            }]
        );
    }
}
