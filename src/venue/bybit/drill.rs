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
use crate::exec::live::{HttpConn, LiveStats, SendError};
use crate::instrument::Market;
use crate::net::{mono_ns, Backoff, DisconnectCause, Keepalive, WsClient, WsConfig};
use crate::ops::drill::{Check, Class, Params};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn wall_ms() -> u64 {
    crate::clock::wall_ns() / 1_000_000
}

/// One REST answer, read as Bybit's.
struct Answer {
    status: u16,
    code: i64,
    msg: String,
    body: Value,
    limit: Option<u64>,
    left: Option<u64>,
}

/// What the REST checks saw of the rate limit.
#[derive(Default)]
struct Limits {
    /// Least `left / limit` seen, in percent, and the header values it came from.
    least: Option<(u64, u64, u64)>,
    /// Answers that were the venue's rate-limit error.
    limited: u32,
    answers: u32,
}

struct Rest {
    http: HttpConn,
    limits: Limits,
}

impl Rest {
    fn send(&mut self, req: &[u8]) -> Result<Answer, SendError> {
        let a = self.http.send(req)?;
        let num = |n: &str| a.header(n).and_then(|v| v.parse::<u64>().ok());
        let body: Value = serde_json::from_slice(a.body).unwrap_or(Value::Null);
        let ans = Answer {
            status: a.status,
            code: body.get("retCode").and_then(Value::as_i64).unwrap_or(-1),
            msg: body
                .get("retMsg")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            limit: num("X-Bapi-Limit"),
            left: num("X-Bapi-Limit-Status"),
            body,
        };
        self.limits.answers += 1;
        if ans.status == 429 || ans.code == ret::TOO_MANY_VISITS {
            self.limits.limited += 1;
        }
        if let (Some(limit), Some(left)) = (ans.limit, ans.left) {
            if let Some(pct) = left.saturating_mul(100).checked_div(limit) {
                if self.limits.least.is_none_or(|(p, _, _)| pct < p) {
                    self.limits.least = Some((pct, left, limit));
                }
            }
        }
        Ok(ans)
    }
}

/// The class of a REST outcome that is not `retCode` 0.
fn class_of(a: &Answer) -> Class {
    if a.status == 429 || a.code == ret::TOO_MANY_VISITS {
        Class::RateLimit
    } else if a.status == 401 || a.status == 403 || ret::is_auth(a.code) {
        Class::Auth
    } else {
        Class::Exchange
    }
}

/// A signed or public read as a check: `Ok(result)` or the failed check.
fn read(
    rest: &mut Rest,
    name: &'static str,
    req: Result<Vec<u8>, String>,
) -> Result<(Value, Duration), Check> {
    let t0 = Instant::now();
    let req = req.map_err(|e| Check::fail(name, Class::Exchange, t0.elapsed(), e))?;
    let what = rest.http.url.authority();
    match rest.send(&req) {
        Err(e) => Err(Check::fail(
            name,
            Class::Network,
            t0.elapsed(),
            format!("{what}: {e}"),
        )),
        Ok(a) if a.status == 200 && a.code == ret::OK => Ok((
            a.body.get("result").cloned().unwrap_or(Value::Null),
            t0.elapsed(),
        )),
        Ok(a) => Err(Check::fail(
            name,
            class_of(&a),
            t0.elapsed(),
            format!(
                "{what}: HTTP {} retCode {} ({})",
                a.status,
                a.code,
                if a.msg.is_empty() {
                    "no retMsg"
                } else {
                    &a.msg
                }
            ),
        )
        .with("http_status", a.status)
        .with("ret_code", a.code)),
    }
}

/// Runs every check, in order.
pub fn run(p: &Params<'_>) -> Vec<Check> {
    let mut out = Vec::with_capacity(8);
    let stats = Arc::new(LiveStats::default());
    let http = match HttpConn::new(
        p.rest_url,
        p.ca_file.as_deref(),
        p.request_timeout,
        stats,
        wall_ms(),
    ) {
        Ok(h) => h,
        Err(e) => {
            out.push(Check::fail(
                "auth",
                Class::Network,
                Duration::ZERO,
                format!("live.rest_url: {e}"),
            ));
            return out;
        }
    };
    let req = BybitRequests::new(
        &http.url.host_header(),
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
    let host = http.url.host_header();
    let mut rest = Rest {
        http,
        limits: Limits::default(),
    };
    let bytes = |r: Result<super::private::Request<'_>, super::private::TooLong>| {
        r.map(|r| r.bytes().to_vec()).map_err(|e| e.to_string())
    };

    // auth: a signed read.
    out.push(
        match read(&mut rest, "auth", bytes(req.query_open(wall_ms()))) {
            Ok((_, d)) => Check::ok(
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
        ) {
            Ok((r, d)) => match super::recon::wallet_of(&r, quote.as_str(), &p.inst) {
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
        Check::ok(
            "position",
            Duration::ZERO,
            "spot: no positions (the coins are balances)",
        )
    } else {
        match read(&mut rest, "position", bytes(req.positions(wall_ms()))) {
            Ok((r, d)) => match super::recon::VenuePosition::parse(&r, &p.inst) {
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
        ) {
            Ok((r, d)) => {
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
    let req = format!("GET {TIME_PATH} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n");
    let t0 = Instant::now();
    let sent = wall_ms();
    let r = read(rest, "time_skew", Ok(req.into_bytes()));
    let got = wall_ms();
    let (result, d) = match r {
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
            t0.elapsed(),
            format!("{TIME_PATH}: no result.timeNano or timeSecond"),
        );
    };
    let mid = i128::from(sent) + (i128::from(got) - i128::from(sent)) / 2;
    let skew = venue_ms - mid;
    let limit = p.max_skew.as_millis() as i128;
    let c = if skew.abs() > limit {
        Check::fail(
            "time_skew",
            Class::Exchange,
            d,
            format!("the venue's clock is {skew} ms from ours (limit {limit} ms)"),
        )
    } else {
        Check::ok(
            "time_skew",
            d,
            format!("the venue's clock is {skew} ms from ours (limit {limit} ms)"),
        )
    };
    c.with("skew_ms", skew as i64)
        .with("max_skew_ms", limit as i64)
        .with("round_trip_ms", got.saturating_sub(sent))
}

fn ws_config(url: &str, p: &Params<'_>, subscribe: Vec<String>) -> WsConfig {
    let mut wc = WsConfig::new(url.to_string());
    wc.extra_ca_pem = p.ca_file.clone();
    wc.subscribe = subscribe;
    wc.keepalive = Keepalive::AppText {
        text: super::PING_FRAME.to_string(),
        every: Duration::from_secs(20),
    };
    wc.backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
        ..Backoff::default()
    };
    wc.connect_timeout = p.connect_timeout;
    wc.give_up_after_failures = Some(3);
    wc.max_message_size = 4 << 20;
    wc
}

/// What a stream frame says: `None` nothing yet, `Ok` usable, `Err` refused (class, why).
type Verdict = Option<Result<(), (Class, String)>>;

/// How one phase of a stream check ended.
enum Phase {
    /// Usable after this long.
    Ready(Duration),
    /// Failed after this long.
    Failed(Class, String, Duration),
}

/// Polls `ws` until `done` says the connection is usable (after an open), a frame says it
/// is refused, or `timeout`. `on_open` runs on every new connection (to send auth frames).
fn wait_ready(
    ws: &mut WsClient,
    timeout: Duration,
    what: &str,
    mut on_open: impl FnMut(&mut WsClient),
    mut on_frame: impl FnMut(&Value) -> Verdict,
) -> Phase {
    let t0 = Instant::now();
    let deadline = t0 + timeout;
    let mut opened = false;
    loop {
        let mut verdict = None;
        let r = ws.poll(mono_ns(), Some(Duration::from_millis(5)), |_, f| {
            if verdict.is_none() {
                if let Ok(v) = serde_json::from_slice::<Value>(f) {
                    verdict = on_frame(&v);
                }
            }
        });
        match r {
            Ok(o) => {
                if o.opened {
                    opened = true;
                    on_open(ws);
                }
            }
            Err(e) => return Phase::Failed(Class::Network, format!("{what}: {e}"), t0.elapsed()),
        }
        match verdict {
            Some(Ok(())) => return Phase::Ready(t0.elapsed()),
            Some(Err((c, m))) => return Phase::Failed(c, format!("{what}: {m}"), t0.elapsed()),
            None => {}
        }
        if Instant::now() >= deadline {
            let why = if opened {
                (
                    Class::Exchange,
                    format!("{what}: connected, but nothing usable within {timeout:?}"),
                )
            } else {
                let last = ws
                    .last_error()
                    .map(|(_, e)| e.to_string())
                    .unwrap_or_else(|| "no connection".into());
                (
                    Class::Network,
                    format!("{what}: not connected within {timeout:?}: {last}"),
                )
            };
            return Phase::Failed(why.0, why.1, t0.elapsed());
        }
    }
}

/// Connect, usable, drop, reconnect, usable again: the check.
fn connect_and_reconnect(
    name: &'static str,
    ws: &mut WsClient,
    timeout: Duration,
    on_open: &mut dyn FnMut(&mut WsClient),
    on_frame: &mut dyn FnMut(&Value) -> Verdict,
) -> Check {
    let first = match wait_ready(ws, timeout, "connect", &mut *on_open, &mut *on_frame) {
        Phase::Ready(d) => d,
        Phase::Failed(c, m, d) => return Check::fail(name, c, d, m),
    };
    ws.reconnect(DisconnectCause::Local);
    match wait_ready(ws, timeout, "reconnect", &mut *on_open, &mut *on_frame) {
        Phase::Ready(again) => {
            let n = ws.counters().connects;
            ws.close();
            Check::ok(
                name,
                first,
                format!(
                    "usable after {} ms; dropped and usable again after {} ms ({n} connects)",
                    first.as_millis(),
                    again.as_millis()
                ),
            )
            .with("reconnect_ms", again.as_millis() as u64)
            .with("connects", n)
        }
        Phase::Failed(c, m, _) => {
            ws.close();
            Check::fail(name, c, first, m).with("first_ms", first.as_millis() as u64)
        }
    }
}

fn public_stream(p: &Params<'_>) -> Check {
    let sym = p.inst.key.symbol.as_str();
    let topic = format!("orderbook.{}.{sym}", p.stream_depth);
    let sub = format!(r#"{{"op":"subscribe","args":["{topic}"]}}"#);
    let mut ws = match WsClient::new(ws_config(p.ws_url, p, vec![sub])) {
        Ok(w) => w,
        Err(e) => {
            return Check::fail(
                "public_stream",
                Class::Network,
                Duration::ZERO,
                format!("market.ws_url: {e}"),
            )
        }
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
    connect_and_reconnect(
        "public_stream",
        &mut ws,
        p.stream_timeout,
        &mut |_| {},
        &mut on_frame,
    )
}

fn private_stream(p: &Params<'_>, req: &BybitRequests) -> Check {
    let mut ws = match WsClient::new(ws_config(p.private_ws_url, p, Vec::new())) {
        Ok(w) => w,
        Err(e) => {
            return Check::fail(
                "private_stream",
                Class::Network,
                Duration::ZERO,
                format!("live.private_ws_url: {e}"),
            )
        }
    };
    let mut on_open = |ws: &mut WsClient| {
        let _ = ws.send_text(&req.ws_auth(wall_ms() + 10_000));
        let _ = ws.send_text(r#"{"op":"subscribe","args":["order"]}"#);
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
        "private_stream",
        &mut ws,
        p.stream_timeout,
        &mut on_open,
        &mut on_frame,
    )
}

fn rate_limit(l: &Limits, before: &[Check], min_pct: u32) -> Check {
    let base = |c: Check| {
        c.with("answers", l.answers)
            .with("rate_limited", l.limited)
            .with("min_headroom_pct", min_pct)
    };
    if l.limited > 0 {
        return base(Check::fail(
            "rate_limit",
            Class::RateLimit,
            Duration::ZERO,
            format!(
                "{} of {} answers were the venue's rate-limit error (10006 / HTTP 429)",
                l.limited, l.answers
            ),
        ));
    }
    match l.least {
        Some((pct, left, limit)) if pct < u64::from(min_pct) => base(
            Check::fail(
                "rate_limit",
                Class::RateLimit,
                Duration::ZERO,
                format!("headroom {pct}% ({left} of {limit} left), below the floor of {min_pct}%"),
            )
            .with("headroom_pct", pct),
        ),
        Some((pct, left, limit)) => base(
            Check::ok(
                "rate_limit",
                Duration::ZERO,
                format!("least headroom {pct}% ({left} of {limit} left in the window)"),
            )
            .with("headroom_pct", pct),
        ),
        None => {
            // No answer carried the headers: say why, with the class of what went wrong.
            let class = before
                .iter()
                .filter(|c| c.check != "public_stream" && c.check != "private_stream")
                .find_map(|c| c.class)
                .unwrap_or(Class::Exchange);
            base(Check::fail(
                "rate_limit",
                class,
                Duration::ZERO,
                format!(
                    "no answer carried X-Bapi-Limit-Status / X-Bapi-Limit ({} answers)",
                    l.answers
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, code: i64) -> Answer {
        Answer {
            status,
            code,
            msg: String::new(),
            body: json!({}),
            limit: None,
            left: None,
        }
    }

    #[test]
    fn answers_are_classed() {
        assert_eq!(class_of(&answer(200, ret::API_KEY_INVALID)), Class::Auth);
        assert_eq!(class_of(&answer(200, ret::ERROR_SIGN)), Class::Auth);
        assert_eq!(class_of(&answer(200, ret::TIME_WINDOW)), Class::Auth);
        assert_eq!(class_of(&answer(401, -1)), Class::Auth);
        assert_eq!(
            class_of(&answer(200, ret::TOO_MANY_VISITS)),
            Class::RateLimit
        );
        assert_eq!(class_of(&answer(429, -1)), Class::RateLimit);
        assert_eq!(class_of(&answer(200, ret::INTERNAL)), Class::Exchange);
        assert_eq!(class_of(&answer(502, -1)), Class::Exchange);
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
