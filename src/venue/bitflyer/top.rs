//! bitFlyer's own top of book for `verify-book`: the `mid_price` every board diff carries
//! (`lightning_board_{product}`), checked against our book right after that diff, and the
//! `lightning_ticker_{product}` `best_bid`/`best_ask`, matched by receive time (the ticker has
//! no id in the board's terms: the board has none). Numbers are taken as written, never
//! through a binary float.

use crate::venue::json::scan::{as_str, Scan, Scanner};
use crate::venue::{TopItem, TopKey};

/// Pushes a diff's mid or a ticker's best bid and ask to `out`; nothing for any other frame
/// (nor for one the scanner does not take, or one naming its message before its channel).
pub fn read(frame: &[u8], out: &mut Vec<TopItem>) {
    let _ = scan(frame, out);
}

fn scan(frame: &[u8], out: &mut Vec<TopItem>) -> Scan<()> {
    let mut s = Scanner::new(frame);
    if !s.object()? {
        return Ok(());
    }
    loop {
        if s.key()? == b"params" && s.peek()? == b'{' && s.object()? {
            let mut channel: Option<&[u8]> = None;
            loop {
                match s.key()? {
                    b"channel" => channel = Some(s.string()?),
                    b"message" if channel.is_some() && s.peek()? == b'{' => {
                        message(&mut s, as_str(channel.unwrap_or_default()), out)?
                    }
                    _ => s.skip_value()?,
                }
                if !s.more_members()? {
                    break;
                }
            }
        } else {
            s.skip_value()?;
        }
        if !s.more_members()? {
            return Ok(());
        }
    }
}

fn message(s: &mut Scanner<'_>, channel: &str, out: &mut Vec<TopItem>) -> Scan<()> {
    let diff = channel
        .strip_prefix("lightning_board_")
        .filter(|p| !p.starts_with("snapshot_"));
    let ticker = channel.strip_prefix("lightning_ticker_");
    let (mut mid, mut bid, mut ask) = (None, None, None);
    if s.object()? {
        loop {
            let k = s.key()?;
            let slot = match k {
                b"mid_price" => Some(&mut mid),
                b"best_bid" => Some(&mut bid),
                b"best_ask" => Some(&mut ask),
                _ => None,
            };
            match slot {
                Some(slot) if s.peek()? != b'"' => {
                    *slot = Some(as_str(s.number_token()?).to_owned())
                }
                _ => s.skip_value()?,
            }
            if !s.more_members()? {
                break;
            }
        }
    }
    if let (Some(p), Some(mid)) = (diff, mid) {
        out.push(TopItem::Mid {
            symbol: p.to_owned(),
            mid,
        });
    } else if let (Some(p), Some(_), Some(_)) = (ticker, &bid, &ask) {
        out.push(TopItem::Quote {
            symbol: p.to_owned(),
            bid,
            ask,
            key: TopKey::Time,
            source: "ticker",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_mids_and_tickers_not_snapshots() {
        let mut out = Vec::new();
        read(br#"{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_board_FX_BTC_JPY","message":{"mid_price":5860954.5,"bids":[],"asks":[]}}}"#, &mut out);
        read(br#"{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_board_snapshot_FX_BTC_JPY","message":{"mid_price":5860954.0,"bids":[],"asks":[]}}}"#, &mut out);
        read(br#"{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_ticker_BTC_JPY","message":{"product_code":"BTC_JPY","best_bid":5860000.0,"best_ask":5860100.0,"tick_id":1}}}"#, &mut out);
        assert_eq!(
            out,
            vec![
                TopItem::Mid {
                    symbol: "FX_BTC_JPY".into(),
                    mid: "5860954.5".into()
                },
                TopItem::Quote {
                    symbol: "BTC_JPY".into(),
                    bid: Some("5860000.0".into()),
                    ask: Some("5860100.0".into()),
                    key: TopKey::Time,
                    source: "ticker",
                },
            ]
        );
    }
}
