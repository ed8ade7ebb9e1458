//! `mode = "live"`: the venue's live gateway for `obi-scalp run`.
//!
//! Called by `app::run` after the live gate (`mode = "live"`, `OBI_SCALP_LIVE=yes`, the API
//! credentials) has passed. Bybit (linear and spot, [`crate::venue::bybit::live`]),
//! Coincheck (`btc_jpy`, [`crate::venue::coincheck::live`]) and GMO Coin (leverage `BTC_JPY`,
//! [`crate::venue::gmocoin::live`]) have a live gateway; every other
//! venue refuses with an error naming it. Start-up checks the credentials with a signed query
//! before anything trades: a refusal (`10003`, `10004`, `invalid authentication`, ...) is
//! exit code 4 (`auth`), an unreachable venue exit code 5.

use super::AppError;
use crate::config::{Adopted, AdoptedOrder};
use crate::config::{Config, Mode};
use crate::exec::live::CredentialsWatch;
use crate::exec::OrderGateway;
use crate::instrument::Venue;
use crate::ops::{AuditEvent, AuditKind, AuditSender, Exit, SecretStore};
use crate::venue::bybit::live::{BybitLive, LiveSettings, LiveStartError};
use crate::venue::bybit::recon::{StartReport, VenueOrder};
use crate::venue::coincheck::live::CoincheckLive;
use std::sync::Arc;
use std::time::Duration;

/// The gateway for `cfg` (`None` in paper mode: the paper exchange).
pub fn gateway_for(
    cfg: &Config,
    secrets: &Arc<SecretStore>,
    audit: &AuditSender,
) -> Result<Option<OrderGateway>, AppError> {
    if cfg.mode != Mode::Live {
        return Ok(None);
    }
    let inst = cfg.market.instrument;
    if !matches!(
        inst.key.venue,
        Venue::Bybit | Venue::Coincheck | Venue::GmoCoin
    ) {
        return Err(AppError::exit(
            Exit::Config,
            format!(
                "live order entry is not available for venue {} in this build (bybit, coincheck and gmocoin only): \
                 run mode = \"paper\"",
                inst.key.venue
            ),
        ));
    }
    // Watched from before the pair is read: a SIGHUP reload reaches the running gateway.
    let watch = CredentialsWatch::new(secrets.clone());
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
        credentials: Some(watch),
        recv_window_ms: l.recv_window_ms,
        request_timeout: Duration::from_nanos(l.request_timeout_ns),
        connect_timeout: Duration::from_nanos(cfg.market.connect_timeout_ns),
        order_rate_per_sec: l.order_rate_per_sec,
        keep_warm: crate::venue::bybit::live::KEEP_WARM,
        dry_run: l.dry_run,
        journal_dir: cfg.ops.artifacts_dir.clone(),
        start_ms: crate::clock::wall_ns() / 1_000_000,
        client_id_prefix: l.client_id_prefix.clone(),
        on_start: l.on_start,
        reconcile_interval: Duration::from_millis(l.reconcile_interval_ms),
    };
    if inst.key.venue == Venue::Coincheck {
        let g = CoincheckLive::start(
            settings,
            Duration::from_millis(l.poll_fast_ms),
            Duration::from_millis(l.poll_slow_ms),
        )
        .map_err(|e| audit_start_error(audit, l.on_start, e))
        .map_err(start_error)?;
        if let Some(r) = g.start_report() {
            audit_start(audit, &inst, r);
        }
        tracing::info!(
            dry_run = l.dry_run,
            rest = %l.rest_url,
            "live order entry: coincheck gateway started"
        );
        return Ok(Some(OrderGateway::Coincheck(Box::new(g))));
    }
    if inst.key.venue == Venue::GmoCoin {
        let g = crate::venue::gmocoin::live::GmoLive::start(settings)
            .map_err(|e| audit_start_error(audit, l.on_start, e))
            .map_err(start_error)?;
        if let Some(r) = g.start_report() {
            audit_start(audit, &inst, r);
        }
        tracing::info!(
            dry_run = l.dry_run,
            rest = %l.rest_url,
            "live order entry: gmocoin gateway started"
        );
        return Ok(Some(OrderGateway::GmoCoin(Box::new(g))));
    }
    let g = BybitLive::start(settings)
        .map_err(|e| audit_start_error(audit, l.on_start, e))
        .map_err(start_error)?;
    if let Some(r) = g.start_report() {
        audit_start(audit, &inst, r);
    }
    tracing::info!(
        dry_run = l.dry_run,
        rest = %l.rest_url,
        "live order entry: bybit gateway started"
    );
    Ok(Some(OrderGateway::Bybit(Box::new(g))))
}

/// Audits a start-up reconciliation that refused to start or found a mismatch.
fn audit_start_error(
    audit: &AuditSender,
    policy: crate::config::OnStart,
    e: LiveStartError,
) -> LiveStartError {
    if let LiveStartError::Refused(m) | LiveStartError::Mismatch(m) = &e {
        let outcome = if matches!(e, LiveStartError::Refused(_)) {
            "refused"
        } else {
            "mismatch"
        };
        tracing::error!("start-up reconciliation: {m}");
        let mut ev = AuditEvent::new(AuditKind::Reconcile)
            .with("phase", "start")
            .with("policy", policy.as_str())
            .with("outcome", outcome)
            .with("reason", m.as_str());
        if outcome == "mismatch" {
            ev = ev.with("reason_code", "reconcile_mismatch");
        }
        audit.send(ev);
    }
    e
}

/// The exit code and message of a gateway that did not start.
fn start_error(e: LiveStartError) -> AppError {
    match e {
        LiveStartError::Auth(m) => AppError::exit(Exit::Auth, format!("venue auth failed: {m}")),
        LiveStartError::Unreachable(m) => {
            AppError::exit(Exit::VenueUnreachable, format!("venue unreachable: {m}"))
        }
        LiveStartError::Config(m) => AppError::exit(Exit::Config, format!("live: {m}")),
        LiveStartError::Refused(m) => AppError::exit(
            Exit::ReconcileRefused,
            format!("start-up reconciliation refused: {m}"),
        ),
        LiveStartError::Mismatch(m) => AppError::exit(
            Exit::RiskAbort,
            format!("risk abort: start-up reconciliation: {m}"),
        ),
    }
}

/// What the trader starts from after start-up reconciliation.
pub fn adopted_of(r: &StartReport) -> Adopted {
    Adopted {
        position: r.position.lots,
        basis: r.position.basis,
        orders: r
            .adopted
            .iter()
            .map(|(id, o)| AdoptedOrder {
                id: *id,
                side: o.side,
                px: o.px,
                qty: o.qty,
                filled: o.cum,
            })
            .collect(),
    }
}

/// Logs and audits what start-up reconciliation found and did: one line per order found
/// (ours: cancelled or adopted; foreign: left alone) and one for the account.
fn audit_start(audit: &AuditSender, inst: &crate::instrument::Instrument, r: &StartReport) {
    let order = |o: &VenueOrder, whose: &str, action: &str| {
        AuditEvent::new(AuditKind::Reconcile)
            .with("phase", "start")
            .with("policy", r.policy)
            .with("whose", whose)
            .with("action", action)
            .with("order_link_id", o.link_id.as_str())
            .with("venue_order_id", o.order_id.as_str())
            .with("side", o.side.as_str())
            .with("px", inst.tick.format(o.px))
            .with("qty", inst.lot.format(o.qty))
            .with("cum_qty", inst.lot.format(o.cum))
    };
    for o in &r.foreign {
        tracing::warn!(
            link = %o.link_id, order = %o.order_id, side = o.side.as_str(),
            px = %inst.tick.format(o.px), qty = %inst.lot.format(o.qty),
            "start-up: a foreign order rests on the symbol; left alone"
        );
        audit.send(order(o, "foreign", "left_alone"));
    }
    for o in &r.ours {
        // By the venue's order id, which every venue gives: Coincheck's and GMO Coin's orders
        // have no client id (an empty `link_id` matched every one of them), and their
        // `cancelled` lists venue ids; Bybit's lists client ids.
        let cancelled = r
            .cancelled
            .iter()
            .any(|c| *c == o.order_id || (!o.link_id.is_empty() && *c == o.link_id));
        let action = if cancelled {
            "cancelled"
        } else if r.adopted.iter().any(|(_, a)| a.order_id == o.order_id) {
            "adopted"
        } else {
            "none"
        };
        tracing::warn!(link = %o.link_id, action, "start-up: our leftover order");
        audit.send(order(o, "ours", action));
    }
    let p = &r.position;
    tracing::info!(
        position = %inst.lot.format(p.lots),
        entry = %p.avg_price,
        ours = r.ours.len(),
        foreign = r.foreign.len(),
        policy = r.policy,
        "start-up reconciliation done"
    );
    audit.send(
        AuditEvent::new(AuditKind::Reconcile)
            .with("phase", "start")
            .with("policy", r.policy)
            .with("outcome", "ok")
            .with("position", inst.lot.format(p.lots))
            .with(
                "position_action",
                if p.lots == 0 { "none" } else { "adopted" },
            )
            .with("entry_price", p.avg_price.as_str())
            .with("wallet", crate::config::format_money(inst, r.wallet))
            .with("ours", r.ours.len())
            .with("foreign", r.foreign.len()),
    );
}
