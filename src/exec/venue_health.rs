//! How a venue answers our REST requests, per venue: every request's response time and outcome,
//! exported to `/metrics` (the process's default Prometheus registry) and fed to the
//! [`AdaptiveRate`] that the venue's gateway applies to its order bucket.
//!
//! Exported, labelled `venue`:
//! - `obi_scalp_venue_requests_total`: REST requests sent (answered or not);
//! - `obi_scalp_venue_request_errors_total{class}`: `timeout` (no answer in time), `broken` (the
//!   connection failed after sending), `not_sent` (no connection), `http_5xx`, `http_4xx`,
//!   `rate_limited` (HTTP 429 or the venue's rate-limit code in a 200 answer);
//! - `obi_scalp_venue_response_seconds`: a histogram of the time from writing a request to its
//!   whole answer (answered requests only);
//! - `obi_scalp_venue_order_rate_allowed`: the order rate the adaptive limit allows now (orders/s).
//!
//! Written on the gateway's I/O thread (prometheus counters and histograms are atomics), never on
//! a hot stage.

use super::rate::AdaptiveRate;
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge};
use prometheus::{IntGaugeVec, Opts};
use std::sync::OnceLock;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An answer with this HTTP status.
    Answered(u16),
    Timeout,
    Broken,
    NotSent,
}

/// Error classes (the `class` label), in the order of [`ErrorClass::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Timeout,
    Broken,
    NotSent,
    Http5xx,
    Http4xx,
    RateLimited,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 6] = [
        ErrorClass::Timeout,
        ErrorClass::Broken,
        ErrorClass::NotSent,
        ErrorClass::Http5xx,
        ErrorClass::Http4xx,
        ErrorClass::RateLimited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Timeout => "timeout",
            ErrorClass::Broken => "broken",
            ErrorClass::NotSent => "not_sent",
            ErrorClass::Http5xx => "http_5xx",
            ErrorClass::Http4xx => "http_4xx",
            ErrorClass::RateLimited => "rate_limited",
        }
    }

    /// The class of an outcome (`None`: a success). A 4xx other than 429 is the venue refusing
    /// this request (bad parameters, funds): counted, but not a sign the venue is unhealthy.
    pub fn of(o: Outcome) -> Option<ErrorClass> {
        match o {
            Outcome::Answered(429) => Some(ErrorClass::RateLimited),
            Outcome::Answered(s) if s >= 500 => Some(ErrorClass::Http5xx),
            Outcome::Answered(s) if s >= 400 => Some(ErrorClass::Http4xx),
            Outcome::Answered(_) => None,
            Outcome::Timeout => Some(ErrorClass::Timeout),
            Outcome::Broken => Some(ErrorClass::Broken),
            Outcome::NotSent => Some(ErrorClass::NotSent),
        }
    }

    /// Whether this error says the venue (or the way to it) is in trouble.
    pub fn unhealthy(self) -> bool {
        !matches!(self, ErrorClass::Http4xx)
    }
}

struct Families {
    requests: IntCounterVec,
    errors: IntCounterVec,
    response: HistogramVec,
    allowed: IntGaugeVec,
}

/// Response-time buckets (s): 1 ms to 5 s, the alert's 1 s among them.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

fn families() -> &'static Families {
    static F: OnceLock<Families> = OnceLock::new();
    F.get_or_init(|| {
        let reg = prometheus::default_registry();
        let requests = IntCounterVec::new(
            Opts::new(
                "obi_scalp_venue_requests_total",
                "REST requests sent to the venue by the live gateway (answered or not).",
            ),
            &["venue"],
        )
        .expect("valid metric");
        let errors = IntCounterVec::new(
            Opts::new(
                "obi_scalp_venue_request_errors_total",
                "REST requests to the venue that failed, by class (timeout, broken, not_sent, \
                 http_5xx, http_4xx, rate_limited).",
            ),
            &["venue", "class"],
        )
        .expect("valid metric");
        let response = HistogramVec::new(
            HistogramOpts::new(
                "obi_scalp_venue_response_seconds",
                "Time from writing a REST request to the venue to reading its whole answer.",
            )
            .buckets(BUCKETS.to_vec()),
            &["venue"],
        )
        .expect("valid metric");
        let allowed = IntGaugeVec::new(
            Opts::new(
                "obi_scalp_venue_order_rate_allowed",
                "Orders per second the adaptive limit allows now (the venue's limit when healthy).",
            ),
            &["venue"],
        )
        .expect("valid metric");
        // A second registration (several gateways in one test process) keeps the first.
        let _ = reg.register(Box::new(requests.clone()));
        let _ = reg.register(Box::new(errors.clone()));
        let _ = reg.register(Box::new(response.clone()));
        let _ = reg.register(Box::new(allowed.clone()));
        Families {
            requests,
            errors,
            response,
            allowed,
        }
    })
}

/// One venue's request figures and adaptive order rate (owned by its REST connection).
#[derive(Debug)]
pub struct VenueHealth {
    requests: IntCounter,
    errors: [IntCounter; 6],
    response: Histogram,
    allowed: IntGauge,
    adaptive: AdaptiveRate,
}

impl VenueHealth {
    /// The figures of `venue`, whose documented order limit is `order_rate_per_sec`.
    pub fn new(venue: &str, order_rate_per_sec: u32) -> VenueHealth {
        let f = families();
        let errors = ErrorClass::ALL.map(|c| f.errors.with_label_values(&[venue, c.as_str()]));
        let adaptive = AdaptiveRate::new(order_rate_per_sec);
        let allowed = f.allowed.with_label_values(&[venue]);
        allowed.set(i64::from(adaptive.rate()));
        VenueHealth {
            requests: f.requests.with_label_values(&[venue]),
            errors,
            response: f.response.with_label_values(&[venue]),
            allowed,
            adaptive,
        }
    }

    /// Records one request that ended with `o` after `elapsed_ns`, at `now_ns` (monotonic).
    pub fn record(&mut self, now_ns: u64, elapsed_ns: u64, o: Outcome) {
        if o != Outcome::NotSent {
            self.requests.inc();
        }
        if let Outcome::Answered(_) = o {
            self.response.observe(elapsed_ns as f64 / 1e9);
        }
        let class = ErrorClass::of(o);
        if let Some(c) = class {
            self.errors[c as usize].inc();
        }
        let ok = class.is_none_or(|c| !c.unhealthy());
        self.allowed
            .set(i64::from(self.adaptive.observe(now_ns, elapsed_ns, ok)));
    }

    /// The last answer, a success at the HTTP level, carried the venue's rate-limit code (Bybit's
    /// `10006` comes with status 200): counted as `rate_limited` and as a failure for the rate.
    pub fn rate_limited_answer(&mut self, now_ns: u64) {
        self.errors[ErrorClass::RateLimited as usize].inc();
        let (ewma, _) = self.adaptive.smoothed();
        self.allowed
            .set(i64::from(self.adaptive.observe(now_ns, ewma, false)));
    }

    /// Orders per second allowed now.
    pub fn allowed_order_rate(&self) -> u32 {
        self.adaptive.rate()
    }

    pub fn adaptive(&self) -> &AdaptiveRate {
        &self.adaptive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} not in\n{text}"))
    }

    fn render() -> String {
        use prometheus::Encoder;
        let mut buf = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&prometheus::gather(), &mut buf)
            .unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn requests_errors_and_response_times_are_exported_per_venue() {
        let mut h = VenueHealth::new("testvenue_a", 10);
        let ms = 1_000_000;
        h.record(10 * ms, 2 * ms, Outcome::Answered(200));
        h.record(20 * ms, 3 * ms, Outcome::Answered(400));
        h.record(30 * ms, 1500 * ms, Outcome::Answered(503));
        h.record(40 * ms, 5000 * ms, Outcome::Timeout);
        h.record(50 * ms, 0, Outcome::NotSent);
        h.record(60 * ms, 4 * ms, Outcome::Answered(429));
        h.rate_limited_answer(70 * ms);
        let t = render();
        let v = |s: &str| value(&t, s);
        // NotSent never reached the venue: not a request.
        assert_eq!(
            v(r#"obi_scalp_venue_requests_total{venue="testvenue_a"}"#),
            5.0
        );
        let err = |c: &str| {
            v(&format!(
                r#"obi_scalp_venue_request_errors_total{{class="{c}",venue="testvenue_a"}}"#
            ))
        };
        assert_eq!(err("http_4xx"), 1.0);
        assert_eq!(err("http_5xx"), 1.0);
        assert_eq!(err("timeout"), 1.0);
        assert_eq!(err("not_sent"), 1.0);
        assert_eq!(err("rate_limited"), 2.0);
        assert_eq!(err("broken"), 0.0);
        // Answered requests only: 200, 400, 503, 429.
        assert_eq!(
            v(r#"obi_scalp_venue_response_seconds_count{venue="testvenue_a"}"#),
            4.0
        );
        assert_eq!(
            v(r#"obi_scalp_venue_response_seconds_bucket{venue="testvenue_a",le="1"}"#),
            3.0
        );
        // Unhealthy answers cut the allowed rate (10 → 5 on the first; later cuts wait 250 ms).
        assert_eq!(
            v(r#"obi_scalp_venue_order_rate_allowed{venue="testvenue_a"}"#),
            f64::from(h.allowed_order_rate())
        );
        assert_eq!(h.allowed_order_rate(), 5);
    }

    #[test]
    fn a_refused_order_is_not_a_sick_venue() {
        let mut h = VenueHealth::new("testvenue_b", 10);
        for i in 1..=50u64 {
            h.record(i * 100_000_000, 5_000_000, Outcome::Answered(400));
        }
        assert_eq!(
            h.allowed_order_rate(),
            10,
            "4xx (bad request, funds) keep the rate"
        );
    }
}
