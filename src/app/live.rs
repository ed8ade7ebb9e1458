//! `mode = "live"`: the venue's live gateway for `obi-scalp run`.
//!
//! Called by `app::run` after the live gate (`mode = "live"`, `OBI_SCALP_LIVE=yes`, the API
//! credentials) has passed. Bybit (linear and spot) has a live gateway
//! ([`crate::venue::bybit::live`]); every other venue refuses with an error naming it.
//! Start-up checks the credentials with a signed query before anything trades: a refusal
//! (`10003`, `10004`, ...) is exit code 4 (`auth`), an unreachable venue exit code 5.

use super::AppError;
use crate::config::{Config, Mode};
use crate::exec::OrderGateway;
use crate::instrument::Venue;
use crate::ops::{Exit, SecretStore};
use crate::venue::bybit::live::{BybitLive, LiveSettings, LiveStartError};
use std::time::Duration;

/// The gateway for `cfg` (`None` in paper mode: the paper exchange).
pub fn gateway_for(cfg: &Config, secrets: &SecretStore) -> Result<Option<OrderGateway>, AppError> {
    if cfg.mode != Mode::Live {
        return Ok(None);
    }
    let inst = cfg.market.instrument;
    if inst.key.venue != Venue::Bybit {
        return Err(AppError::exit(
            Exit::Config,
            format!(
                "live order entry is not available for venue {} in this build (bybit only): \
                 run mode = \"paper\"",
                inst.key.venue
            ),
        ));
    }
    let creds = secrets
        .credentials()
        .ok_or_else(|| AppError::exit(Exit::MissingSecret, "live mode needs API credentials"))?;
    let l = &cfg.live;
    let settings = LiveSettings {
        inst,
        rest_url: l.rest_url.clone(),
        private_ws_url: l.private_ws_url.clone(),
        ca_file: cfg.market.ca_file.clone(),
        api_key: creds.api_key.expose().to_string(),
        api_secret: creds.api_secret.expose().to_string(),
        recv_window_ms: l.recv_window_ms,
        request_timeout: Duration::from_nanos(l.request_timeout_ns),
        connect_timeout: Duration::from_nanos(cfg.market.connect_timeout_ns),
        order_rate_per_sec: l.order_rate_per_sec,
        keep_warm: crate::venue::bybit::live::KEEP_WARM,
        dry_run: l.dry_run,
        journal_dir: cfg.ops.artifacts_dir.clone(),
        start_ms: crate::clock::wall_ns() / 1_000_000,
    };
    let g = BybitLive::start(settings).map_err(|e| match e {
        LiveStartError::Auth(m) => AppError::exit(Exit::Auth, format!("venue auth failed: {m}")),
        LiveStartError::Unreachable(m) => {
            AppError::exit(Exit::VenueUnreachable, format!("venue unreachable: {m}"))
        }
        LiveStartError::Config(m) => AppError::exit(Exit::Config, format!("live: {m}")),
    })?;
    tracing::info!(
        dry_run = l.dry_run,
        rest = %l.rest_url,
        "live order entry: bybit gateway started"
    );
    Ok(Some(OrderGateway::Bybit(Box::new(g))))
}
