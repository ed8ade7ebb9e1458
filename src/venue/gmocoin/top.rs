//! GMO Coin's own top of book for `verify-book`: the public `ticker` channel's `bid` and `ask`
//! (`{"channel":"ticker","ask":"750760","bid":"750600",..,"symbol":"BTC","timestamp":..}`),
//! matched by receive time (the ticker carries no id in the book's terms: `orderbooks` has
//! none). Numbers are taken as written, never through a binary float.

use crate::venue::json::scan::{as_str, Scan, Scanner};
use crate::venue::{TopItem, TopKey};

/// Pushes a ticker's best bid and ask to `out`; nothing for any other frame (nor for one the
/// scanner does not take, or a ticker without both sides).
pub fn read(frame: &[u8], out: &mut Vec<TopItem>) {
    let _ = scan(frame, out);
}

fn scan(frame: &[u8], out: &mut Vec<TopItem>) -> Scan<()> {
    let mut s = Scanner::new(frame);
    if !s.object()? {
        return Ok(());
    }
    let (mut ticker, mut symbol, mut bid, mut ask) = (false, None, None, None);
    loop {
        match s.key()? {
            b"channel" => ticker = s.string()? == b"ticker",
            b"symbol" => symbol = Some(as_str(s.string()?).to_owned()),
            b"bid" if s.peek()? == b'"' => bid = Some(as_str(s.string()?).to_owned()),
            b"ask" if s.peek()? == b'"' => ask = Some(as_str(s.string()?).to_owned()),
            _ => s.skip_value()?,
        }
        if !s.more_members()? {
            break;
        }
    }
    if let (true, Some(symbol), Some(_), Some(_)) = (ticker, symbol, &bid, &ask) {
        out.push(TopItem::Quote {
            symbol,
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
    fn tickers_give_quotes_and_nothing_else_does() {
        let mut out = Vec::new();
        // The documented ticker (api.coin.z.com/docs, public WebSocket `ticker`).
        read(br#"{"channel":"ticker","ask":"750760","bid":"750600","high":"762302","last":"756662","low":"704874","symbol":"BTC","timestamp":"2018-03-30T12:34:56.789Z","volume":"194785.8484"}"#, &mut out);
        read(br#"{"channel":"orderbooks","asks":[{"price":"455659","size":"0.1"}],"bids":[{"price":"455650","size":"0.2"}],"symbol":"BTC","timestamp":"2018-03-30T12:34:56.789Z"}"#, &mut out);
        read(br#"{"channel":"trades","price":"750760","side":"BUY","size":"0.1","timestamp":"2018-03-30T12:34:56.789Z","symbol":"BTC"}"#, &mut out);
        read(
            br#"{"channel":"ticker","ask":"750760","symbol":"BTC"}"#,
            &mut out,
        );
        read(br#"{"channel":"ticker","ask":"7"#, &mut out);
        assert_eq!(
            out,
            vec![TopItem::Quote {
                symbol: "BTC".into(),
                bid: Some("750600".into()),
                ask: Some("750760".into()),
                key: TopKey::Time,
                source: "ticker",
            }]
        );
    }
}
