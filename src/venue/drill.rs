//! What the venues' connectivity drills share (`obi-scalp drill`, see [`crate::ops::drill`]):
//! the REST connection that counts answers and rate-limit errors, a read as a check, the
//! clock comparison, the stream check (connect, usable, drop, reconnect, usable again) and
//! the rate-limit check. Each venue's drill (`venue/<name>/drill.rs`) says how its answers
//! and frames are read; the rest is here.

pub use crate::clock::wall_ms;
use crate::exec::live::{HttpConn, LiveStats, SendError};
use crate::net::{mono_ns, Backoff, DisconnectCause, Keepalive, WsClient, WsConfig};
use crate::ops::drill::{Check, Class, Params};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The config keys of every endpoint a drill may connect to.
pub const ALL_ENDPOINTS: [&str; 3] = ["market.ws_url", "live.rest_url", "live.private_ws_url"];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// An HTTP `Date` (RFC 9110 IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`) in ms since the
/// epoch; `None` for anything else.
pub fn http_date_ms(s: &str) -> Option<i128> {
    let (_, rest) = s.trim().split_once(", ")?;
    let mut it = rest.split(' ');
    let day: i64 = it.next()?.parse().ok()?;
    let mon = it.next()?;
    let month = MONTHS.iter().position(|m| *m == mon)? as i64 + 1;
    let year: i64 = it.next()?.parse().ok()?;
    let hms = it.next()?;
    if it.next()? != "GMT" || it.next().is_some() {
        return None;
    }
    let secs = hms_secs(hms)?;
    let days = crate::store::report::days_from_civil(year, month, day);
    Some((i128::from(days) * 86_400 + i128::from(secs)) * 1000)
}

fn hms_secs(hms: &str) -> Option<i64> {
    let mut p = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (h, m, s) = (p.next()??, p.next()??, p.next()??);
    (p.next().is_none() && h < 24 && m < 60 && s < 61).then_some(h * 3600 + m * 60 + s)
}

/// `ms` since the epoch as an HTTP `Date` (whole seconds, the fraction dropped).
pub fn http_date(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let t = secs.rem_euclid(86_400);
    let (y, m, d) = crate::store::report::civil_from_days(days);
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        t / 3600,
        t % 3600 / 60,
        t % 60
    )
}

/// A UTC time `2019-03-19T02:15:06.001Z` (GMO's `responsetime`; the fraction optional) in ms
/// since the epoch.
pub fn iso_utc_ms(s: &str) -> Option<i128> {
    let s = s.trim().strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    if d.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
        return None;
    }
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let secs = hms_secs(hms)?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms: i128 = format!("{:0<3}", &frac[..frac.len().min(3)]).parse().ok()?;
    let days = crate::store::report::days_from_civil(y, mo, da);
    Some((i128::from(days) * 86_400 + i128::from(secs)) * 1000 + ms)
}

/// One REST answer (owned), with our wall clock around its request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
    /// Our wall clock when the request was written and when its answer was read (ms).
    pub sent_ms: u64,
    pub got_ms: u64,
}

impl Answer {
    /// A response header's value (the first of that name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The body as JSON (`null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What the REST checks saw of the rate limit.
#[derive(Debug, Default)]
pub struct Limits {
    /// Least `left / limit` seen, in percent, and the header values it came from.
    pub least: Option<(u64, u64, u64)>,
    /// Answers that were the venue's rate-limit error.
    pub limited: u32,
    pub answers: u32,
}

/// Reads `(limit, left)` from an answer's headers, for a venue that sends them.
pub type HeadroomOf = fn(&Answer) -> Option<(u64, u64)>;

/// The drill's REST connection (`[live] rest_url`).
pub struct Rest {
    pub http: HttpConn,
    pub limits: Limits,
    headroom: Option<HeadroomOf>,
}

impl Rest {
    /// A connection to `p.rest_url`; the failed `first` check when the URL cannot be used.
    pub fn new(
        p: &Params<'_>,
        first: &'static str,
        headroom: Option<HeadroomOf>,
    ) -> Result<Rest, Check> {
        HttpConn::new(
            p.rest_url,
            p.ca_file.as_deref(),
            p.request_timeout,
            Arc::new(LiveStats::default()),
            wall_ms(),
        )
        .map(|http| Rest {
            http,
            limits: Limits::default(),
            headroom,
        })
        .map_err(|e| {
            Check::fail(
                first,
                Class::Network,
                Duration::ZERO,
                format!("live.rest_url: {e}"),
            )
        })
    }

    /// `Host:` of the REST base.
    pub fn host(&self) -> String {
        self.http.url.host_header()
    }

    pub fn send(&mut self, req: &[u8]) -> Result<Answer, SendError> {
        let sent_ms = wall_ms();
        let a = self.http.send(req)?;
        let a = Answer {
            status: a.status,
            head: a.head.to_string(),
            body: a.body.to_vec(),
            sent_ms,
            got_ms: wall_ms(),
        };
        self.limits.answers += 1;
        if let Some((limit, left)) = self.headroom.and_then(|h| h(&a)) {
            if let Some(pct) = left.saturating_mul(100).checked_div(limit) {
                if self.limits.least.is_none_or(|(p, _, _)| pct < p) {
                    self.limits.least = Some((pct, left, limit));
                }
            }
        }
        Ok(a)
    }
}

/// An unsigned `GET` of `path` (a public endpoint on the REST host).
pub fn public_get(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n").into_bytes()
}

/// Why the venue's answer is not usable: the class, in words, and figures for `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub class: Class,
    pub detail: String,
    pub data: Vec<(&'static str, Value)>,
}

impl Refusal {
    /// The venue said no: `rate_limited` and `auth` say which of its errors it was.
    pub fn venue(
        rate_limited: bool,
        auth: bool,
        detail: String,
        data: Vec<(&'static str, Value)>,
    ) -> Refusal {
        let class = if rate_limited {
            Class::RateLimit
        } else if auth {
            Class::Auth
        } else {
            Class::Exchange
        };
        Refusal {
            class,
            detail,
            data,
        }
    }

    /// The answer is not what the venue documents.
    pub fn malformed(m: &str) -> Refusal {
        Refusal {
            class: Class::Exchange,
            detail: format!("answer malformed: {m}"),
            data: Vec::new(),
        }
    }
}

/// The `position` check of a spot instrument: nothing to ask.
pub fn spot_position() -> Check {
    Check::ok(
        "position",
        Duration::ZERO,
        "spot: no positions (the coins are balances)",
    )
}

/// A signed or public read as a check: the usable JSON the venue's `judge` took from the
/// answer, the answer itself and the time it took; or the failed check (a rate-limit
/// refusal is counted in [`Limits::limited`]).
pub fn read(
    rest: &mut Rest,
    name: &'static str,
    req: Result<Vec<u8>, String>,
    judge: &dyn Fn(&Answer) -> Result<Value, Refusal>,
) -> Result<(Value, Answer, Duration), Check> {
    let t0 = Instant::now();
    let req = req.map_err(|e| Check::fail(name, Class::Exchange, t0.elapsed(), e))?;
    let what = rest.http.url.authority();
    let a = rest
        .send(&req)
        .map_err(|e| Check::fail(name, Class::Network, t0.elapsed(), format!("{what}: {e}")))?;
    match judge(&a) {
        Ok(v) => Ok((v, a, t0.elapsed())),
        Err(r) => {
            if r.class == Class::RateLimit {
                rest.limits.limited += 1;
            }
            let mut c = Check::fail(name, r.class, t0.elapsed(), format!("{what}: {}", r.detail));
            for (k, v) in r.data {
                c = c.with(k, v);
            }
            Err(c.with("http_status", a.status))
        }
    }
}

/// The clock check. `venue_ms` is the time the venue wrote in its answer (ms since the
/// epoch), `resolution_ms` its granularity (1 for a millisecond stamp, 1000 for an HTTP
/// `Date` header: the venue's clock then lay in `[venue_ms, venue_ms + 1000)`), `a` the
/// answer (our wall clock around it), `source` where the time was read, in words.
///
/// The skew is estimated against the middle of our send and receive times; the check fails
/// only when every skew the answer allows (its resolution and the round trip) is beyond
/// `p.max_skew`.
pub fn skew_check(
    name: &'static str,
    d: Duration,
    venue_ms: i128,
    resolution_ms: i128,
    a: &Answer,
    p: &Params<'_>,
    source: &str,
) -> Check {
    let (sent, got) = (i128::from(a.sent_ms), i128::from(a.got_ms));
    let mid = sent + (got - sent) / 2;
    let res = resolution_ms.max(1);
    let skew = venue_ms + (res - 1) / 2 - mid;
    let (lo, hi) = (venue_ms - got, venue_ms + res - 1 - sent);
    let nearest = if lo > 0 {
        lo
    } else if hi < 0 {
        hi
    } else {
        0
    };
    let limit = p.max_skew.as_millis() as i128;
    let words = if res > 1 {
        format!(
            "the venue's clock is {skew} ms from ours (between {lo} and {hi} ms: {source} has \
             {res} ms steps; limit {limit} ms)"
        )
    } else {
        format!("the venue's clock is {skew} ms from ours ({source}; limit {limit} ms)")
    };
    let c = if nearest.abs() > limit {
        Check::fail(name, Class::Exchange, d, words)
    } else {
        Check::ok(name, d, words)
    };
    c.with("skew_ms", skew as i64)
        .with("skew_min_ms", lo as i64)
        .with("skew_max_ms", hi as i64)
        .with("resolution_ms", res as i64)
        .with("max_skew_ms", limit as i64)
        .with("round_trip_ms", a.got_ms.saturating_sub(a.sent_ms))
        .with("source", source)
}

/// A stream's connection for the drill: quick reconnects, three failed connects at most.
pub fn ws_config(
    url: String,
    p: &Params<'_>,
    subscribe: Vec<String>,
    keepalive: Keepalive,
) -> WsConfig {
    let mut wc = WsConfig::new(url);
    wc.extra_ca_pem = p.ca_file.clone();
    wc.subscribe = subscribe;
    wc.keepalive = keepalive;
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

/// What a stream event says: `None` nothing yet, `Ok` usable, `Err` refused (class, why).
pub type Verdict = Option<Result<(), (Class, String)>>;

/// How one phase of a stream check ended.
enum Phase {
    /// Usable after this long.
    Ready(Duration),
    /// Failed after this long.
    Failed(Class, String, Duration),
}

/// Polls `ws` until a new connection (`on_open`, which also sends auth or subscribe frames)
/// or a frame (`on_frame`) says the connection is usable or refused, or `timeout`.
fn wait_ready(
    ws: &mut WsClient,
    timeout: Duration,
    what: &str,
    on_open: &mut dyn FnMut(&mut WsClient) -> Verdict,
    on_frame: &mut dyn FnMut(&Value) -> Verdict,
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
                    if let Some(v) = on_open(ws) {
                        verdict = verdict.or(Some(v));
                    }
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

/// One stream check: what makes the connection usable, and how long to wait.
pub struct StreamCheck<'a> {
    pub name: &'static str,
    pub timeout: Duration,
    /// Least time between the first connection turning usable and the reconnect (GMO takes
    /// one subscribe a second).
    pub gap: Duration,
    pub on_open: &'a mut dyn FnMut(&mut WsClient) -> Verdict,
    pub on_frame: &'a mut dyn FnMut(&Value) -> Verdict,
    /// Runs between the drop and the reconnect (GMO: extend the token, as the gateway does).
    pub between: &'a mut dyn FnMut() -> Result<(), (Class, String)>,
}

/// Connect, usable, drop, reconnect, usable again: the check.
pub fn connect_and_reconnect(ws: &mut WsClient, s: StreamCheck<'_>) -> Check {
    let name = s.name;
    let first = match wait_ready(ws, s.timeout, "connect", s.on_open, s.on_frame) {
        Phase::Ready(d) => d,
        Phase::Failed(c, m, d) => {
            ws.close();
            return Check::fail(name, c, d, m);
        }
    };
    if s.gap > Duration::ZERO {
        std::thread::sleep(s.gap);
    }
    ws.reconnect(DisconnectCause::Local);
    if let Err((c, m)) = (s.between)() {
        ws.close();
        return Check::fail(name, c, first, m).with("first_ms", first.as_millis() as u64);
    }
    match wait_ready(ws, s.timeout, "reconnect", s.on_open, s.on_frame) {
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

/// The public stream's check: usable when `on_frame` says so (the subscribe frames go with
/// the connection's config), `gap` between the first usable frame and the reconnect.
pub fn public_stream_check(
    ws: &mut WsClient,
    p: &Params<'_>,
    gap: Duration,
    on_frame: &mut dyn FnMut(&Value) -> Verdict,
) -> Check {
    connect_and_reconnect(
        ws,
        StreamCheck {
            name: "public_stream",
            timeout: p.stream_timeout,
            gap,
            on_open: &mut |_| None,
            on_frame,
            between: &mut || Ok(()),
        },
    )
}

/// A stream's client, or the failed check when `url` cannot be used (`key` names it).
pub fn ws_client(name: &'static str, key: &str, wc: WsConfig) -> Result<WsClient, Check> {
    WsClient::new(wc)
        .map_err(|e| Check::fail(name, Class::Network, Duration::ZERO, format!("{key}: {e}")))
}

/// The rate-limit check's two outcomes every venue shares: some answer was the venue's
/// rate-limit error (`what` names it), or no answer came at all (the class of the REST
/// check that failed first). `None`: neither; the venue's own figures decide.
pub fn rate_limit_common(l: &Limits, before: &[Check], min_pct: u32, what: &str) -> Option<Check> {
    if l.limited > 0 {
        return Some(rate_base(
            Check::fail(
                "rate_limit",
                Class::RateLimit,
                Duration::ZERO,
                format!(
                    "{} of {} answers were the venue's rate-limit error ({what})",
                    l.limited, l.answers
                ),
            ),
            l,
            min_pct,
        ));
    }
    if l.answers == 0 {
        return Some(rate_base(
            Check::fail(
                "rate_limit",
                first_rest_failure(before),
                Duration::ZERO,
                "no REST answer came back: nothing to read the rate limit from",
            ),
            l,
            min_pct,
        ));
    }
    None
}

/// The figures every rate-limit check carries.
pub fn rate_base(c: Check, l: &Limits, min_pct: u32) -> Check {
    c.with("answers", l.answers)
        .with("rate_limited", l.limited)
        .with("min_headroom_pct", min_pct)
}

/// The class of the first failed REST check (the streams left out), `exchange` when none.
pub fn first_rest_failure(before: &[Check]) -> Class {
    before
        .iter()
        .filter(|c| c.check != "public_stream" && c.check != "private_stream")
        .find_map(|c| c.class)
        .unwrap_or(Class::Exchange)
}

/// The rate-limit check of a venue that sends no rate-limit headers: ok unless an answer was
/// its rate-limit error (`what`) or none came; `known` says what the venue documents (no
/// headroom figure is made up: `headroom_pct` is `null`).
pub fn rate_limit_headerless(
    l: &Limits,
    before: &[Check],
    min_pct: u32,
    what: &str,
    known: &str,
) -> Check {
    if let Some(c) = rate_limit_common(l, before, min_pct, what) {
        return c.with("documented", known);
    }
    rate_base(
        Check::ok(
            "rate_limit",
            Duration::ZERO,
            format!(
                "no rate-limit error in {} answers; the venue sends no rate-limit headers, so \
                 no headroom is measured; {known}",
                l.answers
            ),
        ),
        l,
        min_pct,
    )
    .with("headroom_pct", Value::Null)
    .with("documented", known)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params<'static> {
        Params {
            inst: *crate::instrument::InstrumentTable::default()
                .iter()
                .next()
                .unwrap(),
            ws_url: "",
            stream_depth: 1,
            rest_url: "",
            private_ws_url: "",
            ca_file: None,
            api_key: "",
            api_secret: "",
            recv_window_ms: 5000,
            request_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            stream_timeout: Duration::from_secs(1),
            max_skew: Duration::from_millis(1000),
            min_headroom_pct: 20,
        }
    }

    fn answer(sent_ms: u64, got_ms: u64) -> Answer {
        Answer {
            status: 200,
            head: "HTTP/1.1 200 OK\r\nDate: x".into(),
            body: Vec::new(),
            sent_ms,
            got_ms,
        }
    }

    #[test]
    fn a_whole_second_clock_fails_only_beyond_every_skew_it_allows() {
        let p = params();
        let a = answer(10_000, 10_020);
        // Date says 10 s: the venue's clock lay in [10 000, 11 000) while ours went from
        // 10 000 to 10 020, so the skew is between -20 and 999 ms: within 1000 ms.
        let c = skew_check("time_skew", Duration::ZERO, 10_000, 1000, &a, &p, "Date");
        assert!(c.is_ok(), "{c:?}");
        assert_eq!(c.data["skew_min_ms"], -20);
        assert_eq!(c.data["skew_max_ms"], 999);
        // Date says 12 s: at least 1980 ms ahead.
        let c = skew_check("time_skew", Duration::ZERO, 12_000, 1000, &a, &p, "Date");
        assert_eq!(c.class, Some(Class::Exchange), "{c:?}");
        // Date says 8 s: at most -1001 ms: behind by more than the limit.
        let c = skew_check("time_skew", Duration::ZERO, 8_000, 1000, &a, &p, "Date");
        assert_eq!(c.class, Some(Class::Exchange), "{c:?}");
        // A millisecond stamp: estimated against the middle of the round trip ...
        let c = skew_check(
            "time_skew",
            Duration::ZERO,
            11_011,
            1,
            &a,
            &p,
            "responsetime",
        );
        assert_eq!(c.data["skew_ms"], 1001);
        // ... but with a 20 ms round trip it may be 991 ms: not shown to be over the limit.
        assert!(c.is_ok(), "{c:?}");
        let c = skew_check(
            "time_skew",
            Duration::ZERO,
            11_100,
            1,
            &a,
            &p,
            "responsetime",
        );
        assert_eq!(c.data["skew_min_ms"], 1080);
        assert_eq!(c.class, Some(Class::Exchange), "{c:?}");
    }

    #[test]
    fn headerless_rate_limit_reports_no_invented_headroom() {
        let l = Limits {
            least: None,
            limited: 0,
            answers: 5,
        };
        let c = rate_limit_headerless(&l, &[], 20, "HTTP 429", "documented: 20 GET/s");
        assert!(c.is_ok(), "{c:?}");
        assert!(c.data["headroom_pct"].is_null());
        assert!(c.detail.contains("documented: 20 GET/s"), "{c:?}");
        let limited = Limits { limited: 2, ..l };
        let c = rate_limit_headerless(&limited, &[], 20, "HTTP 429", "x");
        assert_eq!(c.class, Some(Class::RateLimit), "{c:?}");
        let none = Limits::default();
        let net = [Check::fail("auth", Class::Network, Duration::ZERO, "x")];
        let c = rate_limit_headerless(&none, &net, 20, "HTTP 429", "x");
        assert_eq!(c.class, Some(Class::Network), "{c:?}");
    }

    #[test]
    fn http_dates_and_iso_times_are_read_exactly() {
        // RFC 9110's example.
        assert_eq!(
            http_date_ms("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(http_date(784_111_777_999), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        for ms in [1_000u64, 951_782_400_000, 1_796_000_000_000] {
            let d = http_date(ms);
            assert_eq!(http_date_ms(&d), Some(i128::from(ms / 1000 * 1000)), "{d}");
        }
        assert_eq!(http_date_ms("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(http_date_ms("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        // GMO's documented example.
        assert_eq!(
            iso_utc_ms("2019-03-19T02:15:06.001Z"),
            Some(1_552_961_706_001)
        );
        assert_eq!(iso_utc_ms("2019-03-19T02:15:06Z"), Some(1_552_961_706_000));
        assert_eq!(
            iso_utc_ms("2019-03-19T02:15:06.5Z"),
            Some(1_552_961_706_500)
        );
        assert_eq!(iso_utc_ms("2019-03-19 02:15:06Z"), None);
        assert_eq!(iso_utc_ms("2019-03-19T02:15:06.001"), None);
    }
}
