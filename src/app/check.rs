//! `obi-scalp check-config`: validate a config and print the effective values.

use super::AppError;
use crate::config::{format_money, Config};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Config file (default: the built-in config/default.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

pub fn run(a: CheckArgs) -> Result<(), AppError> {
    let c = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::builtin(),
    };
    print!("{}", describe(&c));
    Ok(())
}

/// The effective configuration as TOML-like text with exact decimals.
pub fn describe(c: &Config) -> String {
    let i = &c.market.instrument;
    let ms = |ns: u64| crate::num::Scale::new(6, 1).format(ns as i64);
    let ppm = |v: i64| crate::num::Scale::new(6, 1).format(v);
    let m = |v| format_money(i, v);
    let s = &c.strategy;
    let r = &c.risk.limits;
    let eq = c.risk.initial_equity;
    let mut out = String::new();
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "# effective configuration ({}), digest {}",
        c.path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in default".into()),
        c.digest
    );
    let _ = writeln!(out, "mode = \"{}\"", c.mode.as_str());
    let _ = writeln!(
        out,
        "duration_s = {}",
        c.duration_ns.map(|d| d / 1_000_000_000).unwrap_or(0)
    );
    let _ = writeln!(out, "\n[market]\nvenue = \"{}\"\nmarket = \"{}\"\nsymbol = \"{}\"\ntick = \"{}\"\nlot = \"{}\"\nquote = \"{}\"", i.key.venue, i.key.market.as_str(), i.key.symbol, i.tick.format(1), i.lot.format(1), i.quote);
    let _ = writeln!(
        out,
        "source = \"{}\"\nws_url = \"{}\"\nrest_url = \"{}\"",
        match c.market.source {
            crate::config::Source::Synthetic => "synthetic",
            crate::config::Source::Live => "live",
        },
        c.market.ws_url,
        c.market.rest_url
    );
    let _ = writeln!(
        out,
        "book_levels = {}\nmax_silence_ms = {}\nreseed_interval_ms = {}",
        c.market.book_levels,
        ms(c.market.max_silence_ns),
        ms(c.market.reseed_interval_ns)
    );
    let _ = writeln!(out, "\n[strategy]\nobi_levels = {}\nlong_threshold = {}\nshort_threshold = {}\nmax_spread = {}\nhold_ms = {}\ninstant_factor = {}", s.obi_levels, ppm(s.long_threshold_ppm), ppm(s.short_threshold_ppm), s.max_spread_ticks, ms(s.hold_ns), ppm(s.instant_factor_ppm));
    let _ = writeln!(out, "entry_offset = {}\nentry_timeout_ms = {}\ntake_profit = {}\nstop_loss = {}\nmax_hold_ms = {}\ncooldown_ms = {}\norder_size = \"{}\"", s.entry_offset_ticks, ms(s.entry_timeout_ns), s.take_profit_ticks, s.stop_loss_ticks, ms(s.max_hold_ns), ms(s.cooldown_ns), i.lot.format(s.order_qty));
    let _ = writeln!(out, "\n[risk]\ninitial_equity = \"{}\"\nmax_drawdown = \"{}\"\ndaily_loss_limit = \"{}\"\nmax_position_size = \"{}\"\nmax_trade_loss = \"{}\"\nmax_leverage = {}\nmax_wallet_drift = \"{}\"", m(eq), m(r.max_drawdown), m(r.daily_loss_limit), i.lot.format(r.max_position_size), m(r.max_trade_loss), ppm(r.max_leverage_cbps), m(r.max_wallet_drift));
    let _ = writeln!(out, "max_order_size = \"{}\"\nmax_orders_per_sec = {}\norder_burst = {}\nmax_consecutive_failures = {}\nflatten_on_abort = {}", i.lot.format(r.max_order_size), r.max_orders_per_sec, r.order_burst, r.max_consecutive_failures, r.flatten_on_abort);
    let _ = writeln!(out, "\n[paper]\norder_latency_ms = {}\ncancel_latency_ms = {}\nmaker_fee_bps = {}\ntaker_fee_bps = {}", ms(c.paper.order_latency_ns), ms(c.paper.cancel_latency_ns), crate::num::Scale::new(2, 1).format(c.paper.maker_fee_cbps), crate::num::Scale::new(2, 1).format(c.paper.taker_fee_cbps));
    let _ = writeln!(
        out,
        "\n[pipeline]\nwait = \"{}\"\nlayout = \"{}\"\ncores = {:?}\nring_capacity = {}",
        c.pipeline.wait.as_str(),
        c.pipeline.layout,
        c.pipeline.cores,
        c.pipeline.ring_capacity
    );
    let o = &c.ops;
    let _ = writeln!(
        out,
        "\n[ops]\nhttp_addr = \"{}\"\nartifacts_dir = \"{}\"\nlog_dir = \"{}\"\nkill_file = \"{}\"\nkill_endpoint = {}\nstatus_interval_ms = {}\nprogress_interval_ms = {}\nfeed_down_tolerance_ms = {}",
        if o.http.enabled { o.http.addr.as_str() } else { "off" },
        o.artifacts_dir.display(),
        o.audit.dir.display(),
        o.kill_file.display(),
        o.kill_token.is_some(),
        o.status_interval_ms,
        o.progress_interval_ms,
        o.feed_down_tolerance_ms
    );
    let _ = writeln!(
        out,
        "\n[record]\nenabled = {}\ndir = \"{}\"",
        c.record.enabled,
        c.record.dir.display()
    );
    out
}
