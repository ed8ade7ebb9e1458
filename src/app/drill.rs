//! `obi-scalp drill --config FILE`: the connectivity drill before going live. No order is
//! placed. The checks are the venue's ([`crate::venue::Connector::drill`]: Bybit, Coincheck
//! and GMO Coin in this build); each prints one `[drill] check=...` line, and all of them go to
//! `<artifacts_dir>/live_connectivity_drill.json` with the overall result. Exit 0 when every
//! check passed, else the exit code of the first failed check's class (20 `auth`,
//! 21 `network`, 22 `rate_limit`, 23 `exchange`; see [`crate::ops::drill`]).
//!
//! It only connects to this machine (`127.0.0.0/8`, `::1`, `localhost`: the simulator)
//! unless `OBI_SCALP_DRILL_REAL_CONNECT=1` is set; an endpoint elsewhere without it is refused
//! with exit code 2 before anything connects.

use super::AppError;
use crate::config::Config;
use crate::net::Url;
use crate::ops::drill::{self, Check, Params, Report, REAL_CONNECT_ENV};
use crate::ops::{self, Exit};
use clap::Args;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct DrillArgs {
    /// Config file (the one the live run will use: `[market]` and `[live]` endpoints).
    #[arg(long)]
    pub config: PathBuf,
    /// Largest accepted difference between the venue's clock and ours, in ms.
    #[arg(long, default_value_t = 1000)]
    pub max_skew_ms: u64,
    /// Smallest accepted rate-limit headroom (percent of the window's allowance left).
    #[arg(long, default_value_t = 20)]
    pub min_headroom_pct: u32,
    /// How long each stream phase (connect, reconnect) may take, in ms.
    #[arg(long, default_value_t = 10_000)]
    pub stream_timeout_ms: u64,
}

pub fn run(a: DrillArgs) -> Result<(), AppError> {
    let cfg = Config::load(&a.config)?;
    let inst = cfg.market.instrument;
    let Some(conn) = inst.key.venue.connector() else {
        return Err(AppError::usage(format!(
            "drill: venue {} has no connector in this build",
            inst.key.venue
        )));
    };
    let Some(keys) = conn.drill_endpoints() else {
        let with: Vec<&str> = crate::instrument::Venue::connected()
            .filter(|v| v.connector().is_some_and(|c| c.drill_endpoints().is_some()))
            .map(|v| v.as_str())
            .collect();
        return Err(AppError::usage(format!(
            "drill: venue {} has no connectivity drill in this build (the drill is there for: \
             {})",
            inst.key.venue,
            with.join(", ")
        )));
    };
    let url_of = |key: &str| match key {
        "market.ws_url" => cfg.market.ws_url.as_str(),
        "live.rest_url" => cfg.live.rest_url.as_str(),
        _ => cfg.live.private_ws_url.as_str(),
    };
    let real = std::env::var(REAL_CONNECT_ENV).as_deref() == Ok("1");
    for &key in keys {
        let url = url_of(key);
        let u = Url::parse(url).map_err(|e| AppError::usage(format!("{key} = \"{url}\": {e}")))?;
        if !real && !drill::is_loopback_host(&u.host) {
            return Err(AppError::usage(format!(
                "drill: {key} = \"{url}\" is not on this machine; the drill connects to a real \
                 venue only with {REAL_CONNECT_ENV}=1 in the environment (refused, nothing was \
                 contacted)"
            )));
        }
    }
    let sources = ops::SecretSources::from_env();
    let secrets =
        ops::SecretStore::new(sources, &[ops::secrets::API_KEY, ops::secrets::API_SECRET]);
    secrets.reload();
    let creds = secrets.credentials().ok_or_else(|| {
        AppError::exit(
            Exit::MissingSecret,
            "drill: needs API credentials (api_key and api_secret: $CREDENTIALS_DIRECTORY, \
             /run/secrets, OBI_SCALP_API_KEY / OBI_SCALP_API_SECRET)",
        )
    })?;
    let params = Params {
        inst,
        ws_url: &cfg.market.ws_url,
        stream_depth: cfg.market.stream_depth,
        rest_url: &cfg.live.rest_url,
        private_ws_url: &cfg.live.private_ws_url,
        ca_file: cfg.market.ca_file.clone(),
        api_key: creds.api_key.expose(),
        api_secret: creds.api_secret.expose(),
        recv_window_ms: cfg.live.recv_window_ms,
        request_timeout: Duration::from_nanos(cfg.live.request_timeout_ns),
        connect_timeout: Duration::from_nanos(cfg.market.connect_timeout_ns),
        stream_timeout: Duration::from_millis(a.stream_timeout_ms.max(1)),
        max_skew: Duration::from_millis(a.max_skew_ms),
        min_headroom_pct: a.min_headroom_pct.min(100),
    };
    let started_ms = crate::clock::wall_ns() / 1_000_000;
    let t0 = Instant::now();
    let shown: Vec<String> = keys.iter().map(|&k| format!("{k}={}", url_of(k))).collect();
    println!(
        "[drill] venue={} symbol={} {} real_connect={real}",
        inst.key.venue_label(),
        inst.key.symbol,
        shown.join(" ")
    );
    let checks: Vec<Check> = conn.drill(&params).ok_or_else(|| {
        AppError::usage(format!(
            "drill: venue {} lists drill endpoints but has no drill in this build",
            inst.key.venue
        ))
    })?;
    for c in &checks {
        println!("{}", c.line());
    }
    let class = Report::first_failure(&checks);
    let exit = class.map_or(Exit::Ok, drill::Class::exit);
    let report = Report {
        venue: inst.key.venue_label(),
        symbol: inst.key.symbol.to_string(),
        started_ms,
        duration_ms: t0.elapsed().as_millis() as u64,
        real_connect: real,
        endpoints: keys
            .iter()
            .map(|&k| (k.to_string(), serde_json::Value::from(url_of(k))))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        result: if class.is_none() { "ok" } else { "fail" },
        class,
        exit_code: exit.code(),
        checks,
    };
    let path = cfg.ops.artifacts_dir.join(drill::ARTIFACT);
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| {
            AppError::exit(
                Exit::Io,
                format!("drill: cannot create {}: {e}", d.display()),
            )
        })?;
    }
    ops::artifacts::write_json_atomic(&path, &report).map_err(|e| {
        AppError::exit(
            Exit::Io,
            format!("drill: cannot write {}: {e}", path.display()),
        )
    })?;
    let failed = report.checks.iter().filter(|c| !c.is_ok()).count();
    println!(
        "[drill] result={} class={} exit={} checks={} failed={failed} json={}",
        report.result,
        class.map_or("-", drill::Class::name),
        exit.code(),
        report.checks.len(),
        path.display()
    );
    match class {
        None => Ok(()),
        Some(c) => Err(AppError::exit(
            c.exit(),
            format!(
                "drill failed: {} (first failed check: {})",
                c.name(),
                report
                    .checks
                    .iter()
                    .find(|x| !x.is_ok())
                    .map_or("-", |x| x.check)
            ),
        )),
    }
}
