//! Coincheck's connectivity drill (`obi-scalp drill`, see [`crate::ops::drill`]): no order
//! is placed, nothing is changed at the venue.
//!
//! | check | how |
//! |---|---|
//! | `auth` | signed `GET /api/exchange/orders/opens`: `success` true |
//! | `time_skew` | the HTTP `Date` header of a signed `GET /api/exchange/orders/opens` (Coincheck documents no time endpoint; `Date` has whole seconds, so the skew is known to ±1 s and fails only when every skew the header allows is beyond `--max-skew-ms`) |
//! | `balance` | signed `GET /api/accounts/balance`: the pair's two currencies, available and reserved |
//! | `position` | spot: none (the coins are balances) |
//! | `open_orders` | signed `GET /api/exchange/orders/opens`: the pair's limit orders (all of them: Coincheck has no client order id) |
//! | `public_stream` | `[market] ws_url`: connect, subscribe `{pair}-orderbook` and `{pair}-trades`, an order-book frame of the pair; drop, reconnect, a frame again |
//! | `private_stream` | our gateway has no Coincheck private stream: fills are polled from `GET /api/exchange/orders/transactions_pagination`, so that poll is checked (one signed page) and the detail says so |
//! | `rate_limit` | Coincheck sends no rate-limit headers and the copy of its API documentation checked gives no request limit: no HTTP 429 among the answers; no headroom figure |
//!
//! Classes: no connection or no answer in time is `network`; HTTP 401, `invalid
//! authentication`, `disabled API Key` or a stale nonce is `auth`; HTTP 429 is `rate_limit`;
//! any other error, an unreadable answer, or a clock beyond the limit is `exchange`.

use super::private::{
    AnswerError, Answers, CoincheckRequests, Request, TooLong, BALANCE_PATH, OPENS_PATH,
    TRANSACTIONS_PAGINATION_PATH,
};
use crate::net::Keepalive;
use crate::ops::drill::{Check, Class, Params};
use crate::venue::drill::{
    http_date_ms, public_stream_check, rate_limit_headerless, read, skew_check, spot_position,
    wall_ms, ws_client, ws_config, Answer, Refusal, Rest, Verdict,
};
use serde_json::Value;
use std::time::{Duration, Instant};

/// What the venue documents about its request limits, as the check's detail says it.
pub const KNOWN_LIMITS: &str = "the copy of Coincheck's API documentation checked \
     (coincheck.com/documents/exchange/api, 2026-12-04) gives no request limit; HTTP 429 is \
     its rate-limit answer";

fn refusal(e: AnswerError) -> Refusal {
    match e {
        AnswerError::Venue(v) => Refusal::venue(
            v.is_rate_limited(),
            v.is_auth(),
            format!("HTTP {}: {}", v.status, v.error),
            vec![("error", v.error.into())],
        ),
        AnswerError::Malformed(m) => Refusal::malformed(&m),
    }
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
    let pair = p.inst.key.symbol.as_str();
    let (tick, lot) = (p.inst.tick, p.inst.lot);
    let built = CoincheckRequests::new(
        p.rest_url,
        p.api_key,
        p.api_secret.as_bytes(),
        pair,
        tick,
        lot,
    )
    .and_then(|r| Answers::new(pair, tick, lot).map(|a| (r, a)));
    let (mut req, ans) = match built {
        Ok(x) => x,
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
            bytes(req.get(wall_ms(), OPENS_PATH)),
            &judge,
        ) {
            Ok((_, _, d)) => Check::ok(
                "auth",
                d,
                format!("signed GET {OPENS_PATH} answered success"),
            ),
            Err(c) => c,
        },
    );
    out.push(time_skew(
        &mut rest,
        bytes(req.get(wall_ms(), OPENS_PATH)),
        p,
    ));

    out.push(
        match read(
            &mut rest,
            "balance",
            bytes(req.get(wall_ms(), BALANCE_PATH)),
            &judge,
        ) {
            Ok((_, a, d)) => match ans.balance(a.status, &a.body) {
                Ok(b) => {
                    let m = |x| super::private::money_to_decimal(x, tick, lot);
                    let (base, quote) = pair.split_once('_').unwrap_or((pair, ""));
                    let (q, qr) = (m(b.quote), m(b.quote_reserved));
                    let (bl, br) = (lot.format(b.base_lots), lot.format(b.base_reserved_lots));
                    Check::ok(
                        "balance",
                        d,
                        format!(
                            "{quote} {q} available, {qr} reserved; {base} {bl} available, {br} \
                             reserved"
                        ),
                    )
                    .with("wallet", q)
                    .with("reserved", qr)
                    .with("base", bl)
                    .with("base_reserved", br)
                }
                Err(e) => Check::fail("balance", Class::Exchange, d, e.to_string()),
            },
            Err(c) => c,
        },
    );
    out.push(spot_position());
    out.push(
        match read(
            &mut rest,
            "open_orders",
            bytes(req.get(wall_ms(), OPENS_PATH)),
            &judge,
        ) {
            Ok((_, a, d)) => match ans.opens(a.status, &a.body) {
                Ok(o) => Check::ok(
                    "open_orders",
                    d,
                    format!(
                        "{} open limit orders on {pair} (Coincheck has no client order id: \
                         all of the pair's are counted)",
                        o.len()
                    ),
                )
                .with("open_orders", o.len() as u64),
                Err(e) => Check::fail("open_orders", Class::Exchange, d, e.to_string()),
            },
            Err(c) => c,
        },
    );
    out.push(public_stream(p));
    out.push(
        match read(
            &mut rest,
            "private_stream",
            bytes(req.transactions_page(wall_ms(), 1, None)),
            &judge,
        ) {
            Ok((_, a, d)) => match ans.transactions(a.status, &a.body) {
                Ok(t) => Check::ok(
                    "private_stream",
                    d,
                    format!(
                        "no private stream in our Coincheck gateway: fills are polled; the poll \
                         (signed GET {TRANSACTIONS_PAGINATION_PATH}?limit=1) answered, {} fill(s) \
                         on the page",
                        t.len()
                    ),
                )
                .with("stream", false)
                .with("poll", TRANSACTIONS_PAGINATION_PATH),
                Err(e) => Check::fail("private_stream", Class::Exchange, d, e.to_string()),
            },
            Err(c) => c.with("stream", false),
        },
    );
    out.push(rate_limit_headerless(
        &rest.limits,
        &out,
        p.min_headroom_pct,
        "HTTP 429",
        KNOWN_LIMITS,
    ));
    out
}

/// The `Date` header of a signed read, whatever the venue answered to it (an error answer
/// carries the header too).
fn time_skew(rest: &mut Rest, req: Result<Vec<u8>, String>, p: &Params<'_>) -> Check {
    let t0 = Instant::now();
    let req = match req {
        Ok(r) => r,
        Err(e) => return Check::fail("time_skew", Class::Exchange, t0.elapsed(), e),
    };
    let what = rest.http.url.authority();
    let a = match rest.send(&req) {
        Ok(a) => a,
        Err(e) => {
            return Check::fail(
                "time_skew",
                Class::Network,
                t0.elapsed(),
                format!("{what}: {e}"),
            )
        }
    };
    if a.status == 429 {
        rest.limits.limited += 1;
    }
    let d = t0.elapsed();
    match a.header("Date").and_then(http_date_ms) {
        Some(ms) => skew_check("time_skew", d, ms, 1000, &a, p, "the HTTP Date header"),
        None => Check::fail(
            "time_skew",
            Class::Exchange,
            d,
            format!(
                "{what}: the answer (HTTP {}) has no HTTP Date header in the RFC 9110 form: {:?}",
                a.status,
                a.header("Date")
            ),
        ),
    }
}

fn public_stream(p: &Params<'_>) -> Check {
    let pair = p.inst.key.symbol.to_ascii_lowercase();
    let subscribe = super::connector::subscribe_frames(&pair).to_vec();
    let wc = ws_config(
        p.ws_url.to_string(),
        p,
        subscribe,
        Keepalive::ProtocolPing {
            every: Duration::from_secs(15),
        },
    );
    let mut ws = match ws_client("public_stream", "market.ws_url", wc) {
        Ok(w) => w,
        Err(c) => return c,
    };
    // An order-book frame: `["btc_jpy",{"bids":[...],"asks":[...],...}]` (Coincheck sends no
    // subscribe acknowledgement and no error for a channel it does not know).
    let mut on_frame = |v: &Value| -> Verdict {
        let a = v.as_array()?;
        let book = a
            .get(1)
            .filter(|b| b.get("bids").is_some() || b.get("asks").is_some());
        (a.first().and_then(Value::as_str) == Some(pair.as_str()) && book.is_some())
            .then_some(Ok(()))
    };
    public_stream_check(&mut ws, p, Duration::ZERO, &mut on_frame)
}
