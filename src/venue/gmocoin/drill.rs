//! GMO Coin's connectivity drill (`obi-scalp drill`, see [`crate::ops::drill`]): no order
//! is placed; the one thing it changes at the venue is a private-stream token, which it
//! takes, extends and deletes again (the venue keeps at most five per key).
//!
//! | check | how |
//! |---|---|
//! | `auth` | signed `GET /private/v1/activeOrders` of the symbol: `status` 0 |
//! | `time_skew` | `GET /public/v1/status` (public, on the REST host): `responsetime` (milliseconds) against the middle of our send and receive times, within `--max-skew-ms`; the exchange's status (`OPEN`, `PREOPEN`, `MAINTENANCE`) is reported with it |
//! | `balance` | signed `GET /private/v1/account/margin`: `actualProfitLoss` (the account's value) and `availableAmount` |
//! | `position` | signed `GET /private/v1/positionSummary?symbol=`: `sumPositionQuantity`, BUY less SELL (spot `BTC`: none, the coins are balances) |
//! | `open_orders` | signed `GET /private/v1/activeOrders`: the symbol's open orders (all of them: GMO has no client order id) |
//! | `public_stream` | `[market] ws_url`: connect, subscribe `orderbooks`, an `orderbooks` frame of the symbol; wait 1.1 s (one subscribe a second per IP), drop, reconnect, a frame again |
//! | `private_stream` | `POST /private/v1/ws-auth` for a token; `[live] private_ws_url`/token: connect (the upgrade is the venue's yes to the token), subscribe `executionEvents`; drop, `PUT ws-auth` (extend, as the gateway does after a drop), reconnect on the same token; `DELETE ws-auth` at the end |
//! | `rate_limit` | GMO sends no rate-limit headers: no `ERR-5003` / HTTP 429 among the answers, and what the venue documents (Tier 1: 20 GET and 20 POST requests a second per account); no headroom figure |
//!
//! Classes: no connection or no answer in time is `network`; `ERR-5007`..`ERR-5012`,
//! `ERR-5014` (timestamp, key, signature) or HTTP 401 is `auth`; `ERR-5003` or HTTP 429 is
//! `rate_limit`; any other error, an unreadable answer, or a clock beyond the limit is
//! `exchange`.

use super::private::{
    AnswerError, Answers, GmoRequests, Request, TooLong, ACTIVE_ORDERS_PATH, PUBLIC_STATUS_PATH,
};
use crate::instrument::Market;
use crate::net::{Keepalive, WsClient};
use crate::ops::drill::{Check, Class, Params};
use crate::venue::drill::{
    connect_and_reconnect, iso_utc_ms, public_get, public_stream_check, rate_limit_headerless,
    read, skew_check, spot_position, wall_ms, ws_client, ws_config, Answer, Refusal, Rest,
    StreamCheck, Verdict,
};
use serde_json::Value;
use std::time::Duration;

/// What the venue documents about its request limits, as the check's detail says it.
pub const KNOWN_LIMITS: &str = "GMO Coin documents 20 GET and 20 POST requests a second per \
     account at Tier 1 (30 at Tier 2) and one public WebSocket subscribe a second \
     (api.coin.z.com/docs, 制限, checked 2026-12-04); ERR-5003 is its rate-limit answer";

/// Between the subscribes of two connections (the venue takes one a second per IP).
const SUBSCRIBE_GAP: Duration = Duration::from_millis(1100);

fn refusal(e: AnswerError) -> Refusal {
    match e {
        AnswerError::Venue(v) => Refusal::venue(
            v.is_rate_limited(),
            v.is_auth(),
            v.to_string(),
            vec![("message_code", v.code.clone().into())],
        ),
        AnswerError::Malformed(m) => Refusal::malformed(&m),
    }
}

/// The class of an error frame on a stream (`{"error":"ERR-5003 ..."}`).
fn frame_error(v: &Value) -> Verdict {
    let e = v.get("error").and_then(Value::as_str)?;
    let class = if e.contains("ERR-5003") {
        Class::RateLimit
    } else {
        Class::Exchange
    };
    Some(Err((class, format!("the venue answered {e:?}"))))
}

/// Runs every check, in order.
pub fn run(p: &Params<'_>) -> Vec<Check> {
    let mut out = Vec::with_capacity(8);
    let mut rest = match Rest::new(p, "auth", None) {
        Ok(r) => r,
        Err(c) => {
            out.push(c);
            return out;
        }
    };
    let host = rest.host();
    let sym = p.inst.key.symbol.as_str();
    let ans = Answers {
        tick: p.inst.tick,
        lot: p.inst.lot,
    };
    let mut req = match GmoRequests::new(
        p.rest_url,
        p.api_key,
        p.api_secret.as_bytes(),
        sym,
        p.inst.tick,
        p.inst.lot,
    ) {
        Ok(r) => r,
        Err(e) => {
            out.push(Check::fail("auth", Class::Auth, Duration::ZERO, e));
            return out;
        }
    };
    let judge = |a: &Answer| ans.check(a.status, &a.body).map_err(refusal);
    let bytes = |r: Result<Request<'_>, TooLong>| {
        r.map(|r| r.bytes().to_vec())
            .map_err(|_| "request too long".to_string())
    };

    out.push(
        match read(
            &mut rest,
            "auth",
            bytes(req.active_orders(wall_ms())),
            &judge,
        ) {
            Ok((_, _, d)) => Check::ok(
                "auth",
                d,
                format!("signed GET /private{ACTIVE_ORDERS_PATH} answered status 0"),
            ),
            Err(c) => c,
        },
    );
    out.push(time_skew(&mut rest, &host, p, &judge));
    out.push(
        match read(&mut rest, "balance", bytes(req.margin(wall_ms())), &judge) {
            Ok((v, _, d)) => {
                let data = v.get("data").cloned().unwrap_or(Value::Null);
                let m = |f| ans.money(&data, f);
                match (m("actualProfitLoss"), m("availableAmount")) {
                    (Ok(value), Ok(avail)) => {
                        let s = |x| {
                            crate::venue::coincheck::private::money_to_decimal(x, ans.tick, ans.lot)
                        };
                        let (value, avail) = (s(value), s(avail));
                        Check::ok(
                            "balance",
                            d,
                            format!("JPY account value {value}, available {avail}"),
                        )
                        .with("wallet", value)
                        .with("available", avail)
                    }
                    (Err(e), _) | (_, Err(e)) => {
                        Check::fail("balance", Class::Exchange, d, e.to_string())
                    }
                }
            }
            Err(c) => c,
        },
    );
    out.push(if p.inst.key.market == Market::Spot {
        spot_position()
    } else {
        match read(
            &mut rest,
            "position",
            bytes(req.position_summary(wall_ms())),
            &judge,
        ) {
            Ok((v, _, d)) => match net_position(&ans, &v, sym) {
                Ok(lots) => {
                    let s = p.inst.lot.format(lots);
                    Check::ok("position", d, format!("{sym} position {s} (BUY less SELL)"))
                        .with("position", s)
                }
                Err(e) => Check::fail("position", Class::Exchange, d, e.to_string()),
            },
            Err(c) => c,
        }
    });
    out.push(
        match read(
            &mut rest,
            "open_orders",
            bytes(req.active_orders(wall_ms())),
            &judge,
        ) {
            Ok((_, a, d)) => match ans.orders(a.status, &a.body) {
                Ok(o) => {
                    let n = o.iter().filter(|o| o.is_open()).count() as u64;
                    Check::ok(
                        "open_orders",
                        d,
                        format!(
                            "{n} open orders on {sym} (GMO has no client order id: all of the \
                             symbol's are counted)"
                        ),
                    )
                    .with("open_orders", n)
                }
                Err(e) => Check::fail("open_orders", Class::Exchange, d, e.to_string()),
            },
            Err(c) => c,
        },
    );
    out.push(public_stream(p));
    out.push(private_stream(p, &mut rest, &mut req, &ans));
    out.push(rate_limit_headerless(
        &rest.limits,
        &out,
        p.min_headroom_pct,
        "ERR-5003 / HTTP 429",
        KNOWN_LIMITS,
    ));
    out
}

/// `data.list` of `positionSummary`: `sumPositionQuantity` of BUY less that of SELL.
fn net_position(ans: &Answers, v: &Value, sym: &str) -> Result<i64, AnswerError> {
    let list = match v.get("data").and_then(|d| d.get("list")) {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Array(l)) => l,
        Some(_) => return Err(AnswerError::Malformed("`data.list` is not a list".into())),
    };
    let mut net = 0i64;
    for e in list {
        if e.get("symbol").and_then(Value::as_str) != Some(sym) {
            continue;
        }
        let q = ans.lots(e, "sumPositionQuantity")?;
        match Answers::side(e)? {
            crate::msg::OrderSide::Buy => net += q,
            crate::msg::OrderSide::Sell => net -= q,
        }
    }
    Ok(net)
}

fn time_skew(
    rest: &mut Rest,
    host: &str,
    p: &Params<'_>,
    judge: &dyn Fn(&Answer) -> Result<Value, Refusal>,
) -> Check {
    let (v, a, d) = match read(
        rest,
        "time_skew",
        Ok(public_get(host, PUBLIC_STATUS_PATH)),
        judge,
    ) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let status = v
        .get("data")
        .and_then(|d| d.get("status"))
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let Some(ms) = v
        .get("responsetime")
        .and_then(Value::as_str)
        .and_then(iso_utc_ms)
    else {
        return Check::fail(
            "time_skew",
            Class::Exchange,
            d,
            format!("{PUBLIC_STATUS_PATH}: no `responsetime` in the ISO 8601 UTC form"),
        );
    };
    let c = skew_check(
        "time_skew",
        d,
        ms,
        1,
        &a,
        p,
        "GET /public/v1/status responsetime",
    );
    let detail = format!("{}; the exchange's status is {status}", c.detail);
    Check { detail, ..c }.with("venue_status", status)
}

fn gmo_ws(url: String, p: &Params<'_>, subscribe: Vec<String>) -> crate::net::WsConfig {
    // The venue pings once a minute; the client only answers (automatic).
    ws_config(url, p, subscribe, Keepalive::None)
}

fn public_stream(p: &Params<'_>) -> Check {
    let sym = p.inst.key.symbol.as_str();
    let sub = super::subscribe_frame("orderbooks", sym);
    let mut ws = match ws_client(
        "public_stream",
        "market.ws_url",
        gmo_ws(p.ws_url.to_string(), p, vec![sub]),
    ) {
        Ok(w) => w,
        Err(c) => return c,
    };
    let mut on_frame = |v: &Value| -> Verdict {
        frame_error(v).or_else(|| {
            (v.get("channel").and_then(Value::as_str) == Some("orderbooks")
                && v.get("symbol").and_then(Value::as_str) == Some(sym))
            .then_some(Ok(()))
        })
    };
    public_stream_check(&mut ws, p, SUBSCRIBE_GAP, &mut on_frame)
}

fn private_stream(p: &Params<'_>, rest: &mut Rest, req: &mut GmoRequests, ans: &Answers) -> Check {
    let judge = |a: &Answer| ans.check(a.status, &a.body).map_err(refusal);
    let token_req = req
        .ws_auth(wall_ms())
        .map(|r| r.bytes().to_vec())
        .map_err(|_| "request too long".to_string());
    let token = match read(rest, "private_stream", token_req, &judge) {
        Ok((_, a, _)) => match ans.token(a.status, &a.body) {
            Ok(t) => t,
            Err(e) => {
                return Check::fail(
                    "private_stream",
                    Class::Exchange,
                    Duration::ZERO,
                    e.to_string(),
                )
            }
        },
        Err(c) => return c,
    };
    let url = format!("{}/{token}", p.private_ws_url.trim_end_matches('/'));
    let check = match ws_client(
        "private_stream",
        "live.private_ws_url",
        gmo_ws(url, p, Vec::new()),
    ) {
        Ok(mut ws) => {
            let mut on_open = |ws: &mut WsClient| -> Verdict {
                let _ = ws.send_text(r#"{"command":"subscribe","channel":"executionEvents"}"#);
                // The upgrade on our token went through: the stream is the account's.
                Some(Ok(()))
            };
            let mut between = || -> Result<(), (Class, String)> {
                let r = req
                    .ws_extend(wall_ms(), &token)
                    .map(|r| r.bytes().to_vec())
                    .map_err(|_| "request too long".to_string());
                match read(rest, "private_stream", r, &judge) {
                    Ok(_) => Ok(()),
                    Err(c) => Err((
                        c.class.unwrap_or(Class::Exchange),
                        format!(
                            "PUT ws-auth (extend the token after the drop): {}",
                            c.detail
                        ),
                    )),
                }
            };
            connect_and_reconnect(
                &mut ws,
                StreamCheck {
                    name: "private_stream",
                    timeout: p.stream_timeout,
                    gap: SUBSCRIBE_GAP,
                    on_open: &mut on_open,
                    on_frame: &mut frame_error,
                    between: &mut between,
                },
            )
        }
        Err(c) => c,
    };
    // Give the token back (best effort; it would expire in 60 minutes anyway).
    let deleted = req
        .ws_delete(wall_ms(), &token)
        .ok()
        .map(|r| r.bytes().to_vec())
        .and_then(|r| rest.send(&r).ok())
        .is_some_and(|a| ans.ok(a.status, &a.body).is_ok());
    check.with("token_deleted", deleted)
}
