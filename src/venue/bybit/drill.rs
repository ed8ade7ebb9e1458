//! Bybit's connectivity drill (`obi-scalp drill`, see [`crate::ops::drill`]): no order is
//! placed, nothing is changed at the venue.
//!
//! | check | how |
//! |---|---|
//! | `auth` | signed `GET /v5/order/realtime` of the symbol: `retCode` 0 |
//! | `time_skew` | `GET /v5/market/time` (public): `timeNano` against the middle of our send and receive wall times, within `--max-skew-ms` |
//! | `balance` | signed `GET /v5/account/wallet-balance` of the quote coin |
//! | `position` | signed `GET /v5/position/list` (linear; spot has none) |
//! | `open_orders` | signed `GET /v5/order/realtime`, ours (client-id prefix not known here: all counted) |
//! | `public_stream` | `[market] ws_url`: connect, subscribe `orderbook.<stream_depth>.<symbol>`, a data frame; drop the connection, reconnect, a data frame again |
//! | `private_stream` | `[live] private_ws_url`: connect, `auth`, subscribe `order`; drop, reconnect, `auth` and subscribe again |
//! | `rate_limit` | every REST answer's `X-Bapi-Limit-Status` / `X-Bapi-Limit`: no `10006` / HTTP 429, the least headroom at or above `--min-headroom-pct` |
//!
//! Classes: a connection that fails or an answer that does not come in time is `network`;
//! `retCode` 10002-10005, 10007, 10010, 33004 (credentials, signature, timestamp) or HTTP
//! 401/403 and a refused stream `auth` are `auth`; `10006` or HTTP 429 is `rate_limit`; any
//! other `retCode`, HTTP status or unreadable body, and a clock off by more than the limit,
//! is `exchange`.

use super::private::{ret, BybitRequests, TIME_PATH};
use crate::instrument::Market;
use crate::net::{Keepalive, WsClient};
use crate::ops::drill::{Check, Class, Params};
use crate::venue::drill::{
    connect_and_reconnect, public_get, public_stream_check, rate_base, rate_limit_common, read,
    skew_check, spot_position, wall_ms, ws_client, ws_config, Answer, Limits, Refusal, Rest,
    StreamCheck, Verdict,
};
use serde_json::Value;
use std::time::Duration;

/// The class of a REST outcome that is not `retCode` 0.
fn class_of(status: u16, code: i64) -> Class {
    if status == 429 || code == ret::TOO_MANY_VISITS {
        Class::RateLimit
    } else if status == 401 || status == 403 || ret::is_auth(code) {
        Class::Auth
    } else {
        Class::Exchange
    }
}

/// Bybit's answer: `result` when HTTP 200 and `retCode` 0.
fn judge(a: &Answer) -> Result<Value, Refusal> {
    let body = a.json();
    let code = body.get("retCode").and_then(Value::as_i64).unwrap_or(-1);
    if a.status == 200 && code == ret::OK {
        return Ok(body.get("result").cloned().unwrap_or(Value::Null));
    }
    let msg = body.get("retMsg").and_then(Value::as_str).unwrap_or("");
    Err(Refusal {
        class: class_of(a.status, code),
        detail: format!(
            "HTTP {} retCode {code} ({})",
            a.status,
            if msg.is_empty() { "no retMsg" } else { msg }
        ),
        data: vec![("ret_code", code.into())],
    })
}

/// `X-Bapi-Limit` / `X-Bapi-Limit-Status` of an answer.
fn headroom(a: &Answer) -> Option<(u64, u64)> {
    let num = |n: &str| a.header(n).and_then(|v| v.parse::<u64>().ok());
    Some((num("X-Bapi-Limit")?, num("X-Bapi-Limit-Status")?))
}

/// Runs every check, in order.
pub fn run(p: &Params<'_>) -> Vec<Check> {
    let mut out = Vec::with_capacity(8);
    let mut rest = match Rest::new(p, "auth", Some(headroom)) {
        Ok(r) => r,
        Err(c) => {
            out.push(c);
            return out;
        }
    };
    let host = rest.host();
    let req = BybitRequests::new(
        &host,
        p.api_key,
        p.api_secret.as_bytes(),
        p.recv_window_ms,
        p.inst.key.market,
        p.inst.key.symbol.as_str(),
        p.inst.tick,
        p.inst.lot,
    );
    let mut req = match req {
        Ok(r) => r,
        Err(e) => {
            out.push(Check::fail("auth", Class::Auth, Duration::ZERO, e));
            return out;
        }
    };
    let bytes = |r: Result<super::private::Request<'_>, super::private::TooLong>| {
        r.map(|r| r.bytes().to_vec()).map_err(|e| e.to_string())
    };

    // auth: a signed read.
    out.push(
        match read(&mut rest, "auth", bytes(req.query_open(wall_ms())), &judge) {
            Ok((_, _, d)) => Check::ok(
                "auth",
                d,
                "signed GET /v5/order/realtime answered retCode 0",
            ),
            Err(c) => c,
        },
    );

    // time_skew: the venue's clock against ours.
    out.push(time_skew(&mut rest, &host, p));

    // Account reads.
    let quote = p.inst.quote;
    out.push(
        match read(
            &mut rest,
            "balance",
            bytes(req.wallet(wall_ms(), quote.as_str())),
            &judge,
        ) {
            Ok((r, _, d)) => match super::recon::wallet_of(&r, quote.as_str(), &p.inst) {
                Ok(m) => {
                    let s = crate::config::format_money(&p.inst, m);
                    Check::ok("balance", d, format!("{quote} wallet balance {s}")).with("wallet", s)
                }
                Err(e) => Check::fail("balance", Class::Exchange, d, e),
            },
            Err(c) => c,
        },
    );
    out.push(if p.inst.key.market == Market::Spot {
        spot_position()
    } else {
        match read(
            &mut rest,
            "position",
            bytes(req.positions(wall_ms())),
            &judge,
        ) {
            Ok((r, _, d)) => match super::recon::VenuePosition::parse(&r, &p.inst) {
                Ok(pos) => {
                    let lots = p.inst.lot.format(pos.lots);
                    Check::ok("position", d, format!("position {lots}")).with("position", lots)
                }
                Err(e) => Check::fail("position", Class::Exchange, d, e),
            },
            Err(c) => c,
        }
    });
    out.push(
        match read(
            &mut rest,
            "open_orders",
            bytes(req.open_orders(wall_ms(), "")),
            &judge,
        ) {
            Ok((r, _, d)) => {
                let list = r.get("list").and_then(Value::as_array);
                let mut n = 0u64;
                let mut bad = None;
                for o in list.into_iter().flatten() {
                    match super::recon::VenueOrder::parse(o, &p.inst) {
                        Ok(o) if o.is_open() => n += 1,
                        Ok(_) => {}
                        Err(e) => bad = Some(e),
                    }
                }
                match bad {
                    Some(e) => Check::fail("open_orders", Class::Exchange, d, e),
                    None => Check::ok("open_orders", d, format!("{n} open orders on the symbol"))
                        .with("open_orders", n),
                }
            }
            Err(c) => c,
        },
    );

    out.push(public_stream(p));
    out.push(private_stream(p, &req));
    out.push(rate_limit(&rest.limits, &out, p.min_headroom_pct));
    out
}

fn time_skew(rest: &mut Rest, host: &str, p: &Params<'_>) -> Check {
    let req = public_get(host, TIME_PATH);
    let (result, a, d) = match read(rest, "time_skew", Ok(req), &judge) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let venue_ms = result
        .get("timeNano")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<u128>().ok())
        .map(|ns| (ns / 1_000_000) as i128)
        .or_else(|| {
            result
                .get("timeSecond")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<i128>().ok())
                .map(|s| s * 1000)
        });
    let Some(venue_ms) = venue_ms else {
        return Check::fail(
            "time_skew",
            Class::Exchange,
            d,
            format!("{TIME_PATH}: no result.timeNano or timeSecond"),
        );
    };
    skew_check(
        "time_skew",
        d,
        venue_ms,
        1,
        &a,
        p,
        "GET /v5/market/time timeNano",
    )
}

fn bybit_ws(url: &str, p: &Params<'_>, subscribe: Vec<String>) -> crate::net::WsConfig {
    let keepalive = Keepalive::AppText {
        text: super::PING_FRAME.to_string(),
        every: Duration::from_secs(20),
    };
    ws_config(url.to_string(), p, subscribe, keepalive)
}

fn public_stream(p: &Params<'_>) -> Check {
    let sym = p.inst.key.symbol.as_str();
    let topic = format!("orderbook.{}.{sym}", p.stream_depth);
    let sub = format!(r#"{{"op":"subscribe","args":["{topic}"]}}"#);
    let mut ws = match ws_client(
        "public_stream",
        "market.ws_url",
        bybit_ws(p.ws_url, p, vec![sub]),
    ) {
        Ok(w) => w,
        Err(c) => return c,
    };
    let mut on_frame = |v: &Value| -> Verdict {
        if v.get("op").and_then(Value::as_str) == Some("subscribe")
            && v.get("success").and_then(Value::as_bool) == Some(false)
        {
            let m = v.get("ret_msg").and_then(Value::as_str).unwrap_or("");
            return Some(Err((
                Class::Exchange,
                format!("subscribe {topic} refused: {m}"),
            )));
        }
        (v.get("topic").and_then(Value::as_str) == Some(topic.as_str())).then_some(Ok(()))
    };
    public_stream_check(&mut ws, p, Duration::ZERO, &mut on_frame)
}

fn private_stream(p: &Params<'_>, req: &BybitRequests) -> Check {
    let mut ws = match ws_client(
        "private_stream",
        "live.private_ws_url",
        bybit_ws(p.private_ws_url, p, Vec::new()),
    ) {
        Ok(w) => w,
        Err(c) => return c,
    };
    let mut on_open = |ws: &mut WsClient| -> Verdict {
        let _ = ws.send_text(&req.ws_auth(wall_ms() + 10_000));
        let _ = ws.send_text(r#"{"op":"subscribe","args":["order"]}"#);
        None
    };
    let mut on_frame = |v: &Value| -> Verdict {
        let ok = v.get("success").and_then(Value::as_bool);
        let m = v.get("ret_msg").and_then(Value::as_str).unwrap_or("");
        match (v.get("op").and_then(Value::as_str), ok) {
            (Some("auth"), Some(false)) => Some(Err((
                Class::Auth,
                format!("the private stream refused our credentials: {m}"),
            ))),
            (Some("subscribe"), Some(true)) => Some(Ok(())),
            (Some("subscribe"), Some(false)) => Some(Err((
                Class::Exchange,
                format!("subscribe order refused: {m}"),
            ))),
            _ => None,
        }
    };
    connect_and_reconnect(
        &mut ws,
        StreamCheck {
            name: "private_stream",
            timeout: p.stream_timeout,
            gap: Duration::ZERO,
            on_open: &mut on_open,
            on_frame: &mut on_frame,
            between: &mut || Ok(()),
        },
    )
}

fn rate_limit(l: &Limits, before: &[Check], min_pct: u32) -> Check {
    if let Some(c) = rate_limit_common(l, before, min_pct, "10006 / HTTP 429") {
        return c;
    }
    match l.least {
        Some((pct, left, limit)) if pct < u64::from(min_pct) => rate_base(
            Check::fail(
                "rate_limit",
                Class::RateLimit,
                Duration::ZERO,
                format!("headroom {pct}% ({left} of {limit} left), below the floor of {min_pct}%"),
            )
            .with("headroom_pct", pct),
            l,
            min_pct,
        ),
        Some((pct, left, limit)) => rate_base(
            Check::ok(
                "rate_limit",
                Duration::ZERO,
                format!("least headroom {pct}% ({left} of {limit} left in the window)"),
            )
            .with("headroom_pct", pct),
            l,
            min_pct,
        ),
        None => rate_base(
            Check::fail(
                "rate_limit",
                crate::venue::drill::first_rest_failure(before),
                Duration::ZERO,
                format!(
                    "no answer carried X-Bapi-Limit-Status / X-Bapi-Limit ({} answers)",
                    l.answers
                ),
            ),
            l,
            min_pct,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classed() {
        assert_eq!(class_of(200, ret::API_KEY_INVALID), Class::Auth);
        assert_eq!(class_of(200, ret::ERROR_SIGN), Class::Auth);
        assert_eq!(class_of(200, ret::TIME_WINDOW), Class::Auth);
        assert_eq!(class_of(401, -1), Class::Auth);
        assert_eq!(class_of(200, ret::TOO_MANY_VISITS), Class::RateLimit);
        assert_eq!(class_of(429, -1), Class::RateLimit);
        assert_eq!(class_of(200, ret::INTERNAL), Class::Exchange);
        assert_eq!(class_of(502, -1), Class::Exchange);
    }

    #[test]
    fn headroom_below_the_floor_fails() {
        let l = Limits {
            least: Some((10, 1, 10)),
            limited: 0,
            answers: 4,
        };
        let c = rate_limit(&l, &[], 20);
        assert_eq!(c.class, Some(Class::RateLimit), "{c:?}");
        let c = rate_limit(&l, &[], 10);
        assert!(c.is_ok(), "{c:?}");
        let none = Limits::default();
        let net = [Check::fail("auth", Class::Network, Duration::ZERO, "x")];
        assert_eq!(rate_limit(&none, &net, 20).class, Some(Class::Network));
        assert_eq!(rate_limit(&none, &[], 20).class, Some(Class::Exchange));
    }
}
