//! The connectivity drill (`obi-scalp drill`): what each check found, how a failure is
//! classed, and the report written to `live_connectivity_drill.json`.
//!
//! The checks themselves are the venue's ([`crate::venue::Connector::drill`]); this module is
//! venue-neutral. A failure is one of four classes, each with its own exit code:
//!
//! | class | exit | meaning |
//! |---|---|---|
//! | `auth` | 20 | the venue refused the credentials or the signature (or the request's timestamp) |
//! | `network` | 21 | no connection, a refused port, a TLS failure, no answer in time, a dropped stream |
//! | `rate_limit` | 22 | the venue answered with its rate-limit error, or the headroom its headers report is below the floor |
//! | `exchange` | 23 | the venue answered, but with an error of its own, a body we cannot read, or a clock too far from ours |
//!
//! The drill's exit code is the class of the first failed check (checks run in a fixed
//! order: `auth`, `time_skew`, `balance`, `position`, `open_orders`, `public_stream`,
//! `private_stream`, `rate_limit`).

use super::Exit;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// The artifact's file name (under `[ops] artifacts_dir`).
pub const ARTIFACT: &str = "live_connectivity_drill.json";

/// The environment variable that must be `1` before the drill connects anywhere but this
/// machine.
pub const REAL_CONNECT_ENV: &str = "OBI_SCALP_DRILL_REAL_CONNECT";

/// Why a check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Auth,
    Network,
    RateLimit,
    Exchange,
}

impl Class {
    pub const ALL: [Class; 4] = [
        Class::Auth,
        Class::Network,
        Class::RateLimit,
        Class::Exchange,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Class::Auth => "auth",
            Class::Network => "network",
            Class::RateLimit => "rate_limit",
            Class::Exchange => "exchange",
        }
    }

    /// The process exit of a drill that failed with this class first.
    pub const fn exit(self) -> Exit {
        match self {
            Class::Auth => Exit::DrillAuth,
            Class::Network => Exit::DrillNetwork,
            Class::RateLimit => Exit::DrillRateLimit,
            Class::Exchange => Exit::DrillExchange,
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// `auth`, `time_skew`, `balance`, ...
    pub check: &'static str,
    /// `ok` or `fail`.
    pub result: &'static str,
    /// The failure's class (`null` when ok).
    pub class: Option<Class>,
    /// Wall time the check took (for a stream: until the first connection was usable).
    pub latency_ms: u64,
    /// What was seen, in words (never a secret).
    pub detail: String,
    /// Figures of the check (`skew_ms`, `open_orders`, `reconnect_ms`, `headroom_pct`, ...).
    pub data: serde_json::Value,
}

impl Check {
    pub fn ok(check: &'static str, latency: Duration, detail: impl Into<String>) -> Check {
        Check {
            check,
            result: "ok",
            class: None,
            latency_ms: ms(latency),
            detail: detail.into(),
            data: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn fail(
        check: &'static str,
        class: Class,
        latency: Duration,
        detail: impl Into<String>,
    ) -> Check {
        Check {
            check,
            result: "fail",
            class: Some(class),
            latency_ms: ms(latency),
            detail: detail.into(),
            data: serde_json::Value::Object(Default::default()),
        }
    }

    /// Adds a figure to `data`.
    pub fn with(mut self, key: &str, v: impl Into<serde_json::Value>) -> Check {
        if let serde_json::Value::Object(m) = &mut self.data {
            m.insert(key.to_string(), v.into());
        }
        self
    }

    pub fn is_ok(&self) -> bool {
        self.class.is_none()
    }

    /// The line printed for it: `[drill] check=auth result=ok latency_ms=3 class=- detail="..."`.
    pub fn line(&self) -> String {
        format!(
            "[drill] check={} result={} latency_ms={} class={} detail={:?}",
            self.check,
            self.result,
            self.latency_ms,
            self.class.map_or("-", Class::name),
            self.detail
        )
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What the venue's drill needs: endpoints, credentials, limits. Built by `app::drill`.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    pub inst: crate::instrument::Instrument,
    /// Public WebSocket (`[market] ws_url`).
    pub ws_url: &'a str,
    /// The book depth the run subscribes (`[market] stream_depth`).
    pub stream_depth: u32,
    /// REST base (`[live] rest_url`).
    pub rest_url: &'a str,
    /// Private WebSocket (`[live] private_ws_url`).
    pub private_ws_url: &'a str,
    pub ca_file: Option<PathBuf>,
    pub api_key: &'a str,
    pub api_secret: &'a str,
    pub recv_window_ms: u32,
    /// One REST request's time limit.
    pub request_timeout: Duration,
    /// Connecting a stream (TCP, TLS, WebSocket handshake).
    pub connect_timeout: Duration,
    /// How long a stream check waits for its first frame / subscription.
    pub stream_timeout: Duration,
    /// Largest accepted difference between the venue's clock and ours.
    pub max_skew: Duration,
    /// Smallest accepted rate-limit headroom, percent of the window's allowance left.
    pub min_headroom_pct: u32,
}

/// The drill's artifact.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub venue: String,
    pub symbol: String,
    /// Wall time at the start (ms since the epoch).
    pub started_ms: u64,
    pub duration_ms: u64,
    /// Whether `OBI_SCALP_DRILL_REAL_CONNECT=1` allowed endpoints off this machine.
    pub real_connect: bool,
    /// The endpoints checked (URLs, no credentials).
    pub endpoints: serde_json::Value,
    /// `ok` or `fail`.
    pub result: &'static str,
    /// The class of the first failed check (`null` when ok).
    pub class: Option<Class>,
    pub exit_code: u8,
    pub checks: Vec<Check>,
}

impl Report {
    /// The overall result of `checks`: ok, or the class of the first failure.
    pub fn first_failure(checks: &[Check]) -> Option<Class> {
        checks.iter().find_map(|c| c.class)
    }
}

/// Whether `host` is this machine (`127.0.0.0/8`, `::1`, `localhost`).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match h.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised() {
        for h in [
            "127.0.0.1",
            "127.3.2.1",
            "localhost",
            "LOCALHOST",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "api.bybit.com",
            "10.0.0.1",
            "192.168.1.2",
            "localhost.example.com",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn classes_have_distinct_exit_codes_outside_the_others() {
        let mut seen = std::collections::HashSet::new();
        for c in Class::ALL {
            assert!(seen.insert(c.exit().code()), "{c:?}");
            assert_eq!(c.exit().name(), format!("drill_{}", c.name()));
        }
    }

    #[test]
    fn first_failure_decides() {
        let d = Duration::from_millis(1);
        let checks = vec![
            Check::ok("auth", d, ""),
            Check::fail("time_skew", Class::Exchange, d, "x"),
            Check::fail("balance", Class::Network, d, "y"),
        ];
        assert_eq!(Report::first_failure(&checks), Some(Class::Exchange));
        assert_eq!(Report::first_failure(&checks[..1]), None);
        assert_eq!(
            checks[1].line(),
            "[drill] check=time_skew result=fail latency_ms=1 class=exchange detail=\"x\""
        );
    }
}
