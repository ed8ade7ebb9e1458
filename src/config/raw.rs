//! Stage one of the config: the TOML table checked key by key.

use super::*;
use std::collections::BTreeSet;
use toml::{Table, Value};

/// A TOML section being read: remembers which keys were used so the rest can be reported.
struct Section<'a> {
    name: String,
    table: Option<&'a Table>,
    used: BTreeSet<&'a str>,
}

impl<'a> Section<'a> {
    fn new(root: &'a Table, name: &str) -> Result<Section<'a>, ConfigError> {
        let table = match root.get(name) {
            None => None,
            Some(Value::Table(t)) => Some(t),
            Some(_) => return Err(ConfigError::new(name, "expected a [section]")),
        };
        Ok(Section {
            name: name.to_string(),
            table,
            used: BTreeSet::new(),
        })
    }

    fn key(&self, k: &str) -> String {
        if self.name.is_empty() {
            k.to_string()
        } else {
            format!("{}.{}", self.name, k)
        }
    }

    fn get(&mut self, k: &'a str) -> Option<&'a Value> {
        let t = self.table?;
        let (kk, v) = t.get_key_value(k)?;
        self.used.insert(kk.as_str());
        Some(v)
    }

    fn str_or(&mut self, k: &'a str, default: &str) -> Result<String, ConfigError> {
        match self.get(k) {
            None => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(ConfigError::new(
                self.key(k),
                format!("expected a string, got {}", v.type_str()),
            )),
        }
    }

    fn opt_str(&mut self, k: &'a str) -> Result<Option<String>, ConfigError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(ConfigError::new(
                self.key(k),
                format!("expected a string, got {}", v.type_str()),
            )),
        }
    }

    fn bool_or(&mut self, k: &'a str, default: bool) -> Result<bool, ConfigError> {
        match self.get(k) {
            None => Ok(default),
            Some(Value::Boolean(b)) => Ok(*b),
            Some(v) => Err(ConfigError::new(
                self.key(k),
                format!("expected true or false, got {}", v.type_str()),
            )),
        }
    }

    /// A number as exact decimal text: integers, floats (shortest round-trip form) or strings.
    fn decimal(&mut self, k: &'a str) -> Result<Option<String>, ConfigError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Integer(i)) => Ok(Some(i.to_string())),
            Some(Value::Float(f)) if f.is_finite() => Ok(Some(format!("{f}"))),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(v) => Err(ConfigError::new(
                self.key(k),
                format!("expected a number, got {}", v.type_str()),
            )),
        }
    }

    /// A decimal scaled to `decimals` places (e.g. ppm), within `[min, max]`.
    fn scaled(
        &mut self,
        k: &'a str,
        default: &str,
        decimals: u8,
        min: i64,
        max: i64,
    ) -> Result<i64, ConfigError> {
        let text = self.decimal(k)?.unwrap_or_else(|| default.to_string());
        let v = crate::num::parse_units(text.as_bytes(), decimals).map_err(|e| {
            ConfigError::new(
                self.key(k),
                format!("expected a number with at most {decimals} decimals, got `{text}` ({e})"),
            )
        })?;
        if v < min || v > max {
            let lo = crate::num::Scale::new(decimals, 1).format(min);
            let hi = crate::num::Scale::new(decimals, 1).format(max);
            return Err(ConfigError::new(
                self.key(k),
                format!("expected a number from {lo} to {hi}, got {text}"),
            ));
        }
        Ok(v)
    }

    fn int(&mut self, k: &'a str, default: i64, min: i64, max: i64) -> Result<i64, ConfigError> {
        self.scaled(k, &default.to_string(), 0, min, max)
    }

    /// Whole milliseconds within `range` (the error names the key and the range).
    fn whole_ms(
        &mut self,
        k: &'a str,
        default: u64,
        range: &std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let v = self.int(
            k,
            default as i64,
            *range.start() as i64,
            *range.end() as i64,
        )?;
        Ok(v as u64)
    }

    /// Milliseconds (may be fractional down to 1 µs) → nanoseconds.
    fn ms(
        &mut self,
        k: &'a str,
        default: &str,
        min_ns: u64,
        max_ns: u64,
    ) -> Result<u64, ConfigError> {
        let v = self.scaled(k, default, 6, 0, i64::MAX)? as u64;
        if v < min_ns || v > max_ns {
            return Err(ConfigError::new(
                self.key(k),
                format!(
                    "expected a duration in milliseconds from {} to {}",
                    crate::num::Scale::new(6, 1).format(min_ns as i64),
                    crate::num::Scale::new(6, 1).format(max_ns as i64)
                ),
            ));
        }
        Ok(v)
    }

    /// Reports the first key that nobody asked for.
    fn finish(self) -> Result<(), ConfigError> {
        if let Some(t) = self.table {
            for k in t.keys() {
                if !self.used.contains(k.as_str()) {
                    return Err(ConfigError::new(self.key(k), "unknown key"));
                }
            }
        }
        Ok(())
    }
}

/// The checked but unresolved configuration: the TOML text parsed and kept for resolving.
#[derive(Debug, Clone)]
pub struct RawConfig {
    table: Table,
}

const SECTIONS: &[&str] = &[
    "mode",
    "duration_s",
    "market",
    "synthetic",
    "strategy",
    "risk",
    "paper",
    "live",
    "pipeline",
    "ops",
    "record",
    "store",
    "instrument",
];

impl RawConfig {
    /// Parses TOML; syntax errors name the line.
    pub fn parse(text: &str) -> Result<RawConfig, ConfigError> {
        let table: Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
                .unwrap_or(0);
            ConfigError::new(
                format!("line {line}"),
                format!("invalid TOML: {}", e.message()),
            )
        })?;
        for k in table.keys() {
            if !SECTIONS.contains(&k.as_str()) {
                return Err(ConfigError::new(k.clone(), "unknown key or section"));
            }
        }
        Ok(RawConfig { table })
    }

    pub(super) fn resolve(&self) -> Result<Config, ConfigError> {
        let root = &self.table;
        let mut top = Section {
            name: String::new(),
            table: Some(root),
            used: BTreeSet::new(),
        };
        let mode = match top.str_or("mode", "paper")?.as_str() {
            "paper" => Mode::Paper,
            "live" => Mode::Live,
            other => {
                return Err(ConfigError::new(
                    "mode",
                    format!("expected \"paper\" or \"live\", got \"{other}\""),
                ))
            }
        };
        let duration_s = top.int("duration_s", 60, 0, 10 * 365 * 86_400)?;
        let duration_ns = (duration_s > 0).then_some(duration_s as u64 * 1_000_000_000);

        // Instruments first: the market section refers to them.
        let mut instruments = InstrumentTable::default();
        match root.get("instrument") {
            None => {}
            Some(Value::Array(list)) => {
                for (i, v) in list.iter().enumerate() {
                    let name = format!("instrument[{i}]");
                    let Value::Table(t) = v else {
                        return Err(ConfigError::new(name, "expected a [[instrument]] table"));
                    };
                    let mut wrap = Table::new();
                    wrap.insert(name.clone(), Value::Table(t.clone()));
                    let mut s = Section::new(&wrap, &name)?;
                    let venue: Venue = s
                        .str_or("venue", "")?
                        .parse()
                        .map_err(|e| ConfigError::new(s.key("venue"), e))?;
                    let market: Market = s
                        .str_or("market", default_market(venue).as_str())?
                        .parse()
                        .map_err(|e| ConfigError::new(s.key("market"), e))?;
                    let symbol = s.str_or("symbol", "")?;
                    if symbol.is_empty() || symbol.len() > 24 {
                        return Err(ConfigError::new(
                            s.key("symbol"),
                            "expected a symbol of 1 to 24 characters",
                        ));
                    }
                    let tick = s.decimal("tick")?.ok_or_else(|| {
                        ConfigError::new(s.key("tick"), "missing (the price step, e.g. \"0.1\")")
                    })?;
                    let lot = s.decimal("lot")?.ok_or_else(|| {
                        ConfigError::new(s.key("lot"), "missing (the size step, e.g. \"0.001\")")
                    })?;
                    let quote = s.str_or("quote", "")?;
                    let inst = Instrument::new(venue, market, &symbol, &tick, &lot, &quote)
                        .map_err(|e| {
                            ConfigError::new(
                                s.key("tick"),
                                format!("tick `{tick}` / lot `{lot}`: {e}"),
                            )
                        })?;
                    s.finish()?;
                    instruments.upsert(inst);
                }
            }
            Some(_) => {
                return Err(ConfigError::new(
                    "instrument",
                    "expected [[instrument]] tables",
                ))
            }
        }

        // [market]
        let mut m = Section::new(root, "market")?;
        let venue: Venue = m
            .str_or("venue", "coincheck")?
            .parse()
            .map_err(|e| ConfigError::new("market.venue", e))?;
        let market: Market = m
            .str_or("market", default_market(venue).as_str())?
            .parse()
            .map_err(|e| ConfigError::new("market.market", e))?;
        let symbol = m.str_or("symbol", "btc_jpy")?;
        let instrument = *instruments.get(venue, market, &symbol).ok_or_else(|| {
            ConfigError::new(
                "market.symbol",
                format!(
                    "no instrument {}_{} `{symbol}`: add an [[instrument]] with its tick and lot",
                    venue.as_str(),
                    market.as_str()
                ),
            )
        })?;
        let source = match m.str_or("source", "synthetic")?.as_str() {
            "synthetic" => Source::Synthetic,
            "live" => Source::Live,
            other => {
                return Err(ConfigError::new(
                    "market.source",
                    format!("expected \"synthetic\" or \"live\", got \"{other}\""),
                ))
            }
        };
        let ws_url = m.str_or("ws_url", "")?;
        let rest_url = m.str_or("rest_url", "")?;
        let ca_file = m.opt_str("ca_file")?.map(PathBuf::from);
        let stream_depth = m.int("stream_depth", 200, 1, 1000)? as u32;
        let book_levels = m.int("book_levels", 5000, 10, 100_000)? as usize;
        let max_silence_ns = m.ms("max_silence_ms", "5000", 1_000_000, 3_600_000_000_000)?;
        let reseed_interval_ns =
            m.ms("reseed_interval_ms", "60000", 1_000_000, 86_400_000_000_000)?;
        let max_frame_age_ns = m.ms("max_frame_age_ms", "2000", 1_000_000, 3_600_000_000_000)?;
        let reconnect_initial_ns =
            m.ms("reconnect_initial_ms", "250", 1_000_000, 600_000_000_000)?;
        let reconnect_max_ns = m.ms("reconnect_max_ms", "30000", 1_000_000, 3_600_000_000_000)?;
        if reconnect_max_ns < reconnect_initial_ns {
            return Err(ConfigError::new(
                "market.reconnect_max_ms",
                "must be at least market.reconnect_initial_ms",
            ));
        }
        let ping_interval_ns = m.ms("ping_interval_ms", "20000", 1_000_000, 600_000_000_000)?;
        let connect_timeout_ns = m.ms("connect_timeout_ms", "10000", 1_000_000, 600_000_000_000)?;
        m.finish()?;
        if source == Source::Live && ws_url.is_empty() {
            return Err(ConfigError::new(
                "market.ws_url",
                "required when market.source = \"live\"",
            ));
        }
        if source == Source::Synthetic && !venue.connector().is_some_and(|c| c.builtin_synthetic())
        {
            return Err(ConfigError::new(
                "market.source",
                "the built-in synthetic market speaks Coincheck; use source = \"live\" with the simulator for other venues",
            ));
        }

        // [synthetic]
        let mut sy = Section::new(root, "synthetic")?;
        let seed = sy.int("seed", 42, 0, i64::MAX)? as u64;
        let mean_interval_ns = sy.ms("mean_interval_ms", "50", 1_000, 60_000_000_000)?;
        let start_text = sy
            .decimal("start_price")?
            .unwrap_or_else(|| "10000000".to_string());
        let start_px = instrument.tick.parse(start_text.as_bytes()).map_err(|e| {
            ConfigError::new(
                "synthetic.start_price",
                format!("`{start_text}`: {e} (tick {})", instrument.tick.format(1)),
            )
        })?;
        if start_px <= 1000 {
            return Err(ConfigError::new(
                "synthetic.start_price",
                "must be more than 1000 ticks",
            ));
        }
        sy.finish()?;

        // [strategy]
        let mut s = Section::new(root, "strategy")?;
        let obi_levels = s.int("obi_levels", 8, 1, 1000)? as usize;
        let long_threshold_ppm = s.scaled("long_threshold", "0.25", 6, 1, 1_000_000)?;
        let short_threshold_ppm = s.scaled("short_threshold", "0.27", 6, 1, 1_000_000)?;
        let max_spread_ticks = s.int("max_spread", 5, 1, 1_000_000)?;
        let hold_ns = s.ms("hold_ms", "500", 1_000, 3_600_000_000_000)?;
        let instant_factor_ppm = s.scaled("instant_factor", "1.5", 6, 1_000_000, 100_000_000)?;
        let max_entry_offset = s.int("max_entry_offset", 10, 0, 1_000_000)?;
        let entry_offset_ticks = s.int("entry_offset", 0, -1_000_000, 1_000_000)?;
        if entry_offset_ticks.abs() > max_entry_offset {
            return Err(ConfigError::new(
                "strategy.entry_offset",
                format!(
                    "{entry_offset_ticks} ticks is beyond strategy.max_entry_offset = {max_entry_offset}"
                ),
            ));
        }
        // A paper entry at the touch + offset takes every level up to that price: the paper
        // exchange sweeps the full depth of its mirror of the book (`exec::mirror`), so the
        // offset is bounded by `max_entry_offset` only, in every mode.
        let entry_timeout_ns = s.ms("entry_timeout_ms", "3000", 1_000_000, 3_600_000_000_000)?;
        let take_profit_ticks = s.int("take_profit", 3, 1, 1_000_000)?;
        let stop_loss_ticks = s.int("stop_loss", 5, 1, 1_000_000)?;
        let max_hold_ns = s.ms("max_hold_ms", "30000", 1_000_000, 86_400_000_000_000)?;
        let cooldown_ns = s.ms("cooldown_ms", "1000", 0, 86_400_000_000_000)?;
        let size_text = s.decimal("order_size")?.unwrap_or_else(|| "0.01".into());
        let order_qty = instrument
            .lot
            .parse_unsigned(size_text.as_bytes(), "strategy.order_size")
            .map_err(|e| {
                ConfigError::new(
                    "strategy.order_size",
                    format!(
                        "`{size_text}`: {} (lot {})",
                        e.kind,
                        instrument.lot.format(1)
                    ),
                )
            })?;
        if order_qty == 0 {
            return Err(ConfigError::new("strategy.order_size", "must be positive"));
        }
        s.finish()?;
        let strategy = StrategyConfig {
            obi_levels,
            long_threshold_ppm,
            short_threshold_ppm,
            max_spread_ticks,
            hold_ns,
            instant_factor_ppm,
            entry_offset_ticks,
            entry_timeout_ns,
            take_profit_ticks,
            stop_loss_ticks,
            max_hold_ns,
            cooldown_ns,
            order_qty,
        };

        // [risk]
        let mut r = Section::new(root, "risk")?;
        let money = |r: &mut Section<'_>, k: &'static str, d: &str| -> Result<Money, ConfigError> {
            let text = r.decimal(k)?.unwrap_or_else(|| d.to_string());
            let v = money_of(&instrument, &r.key(k), &text)?;
            if v < 0 {
                return Err(ConfigError::new(r.key(k), "must not be negative"));
            }
            Ok(v)
        };
        let initial_equity = money(&mut r, "initial_equity", "1000000")?;
        if initial_equity == 0 {
            return Err(ConfigError::new("risk.initial_equity", "must be positive"));
        }
        let max_drawdown = money(&mut r, "max_drawdown", "50000")?;
        let daily_loss_limit = money(&mut r, "daily_loss_limit", "30000")?;
        let max_trade_loss = money(&mut r, "max_trade_loss", "10000")?;
        let max_wallet_drift = money(&mut r, "max_wallet_drift", "1000")?;
        let lots = |r: &mut Section<'_>, k: &'static str, d: &str| -> Result<i64, ConfigError> {
            let text = r.decimal(k)?.unwrap_or_else(|| d.to_string());
            instrument
                .lot
                .parse_unsigned(text.as_bytes(), "size")
                .map_err(|e| ConfigError::new(r.key(k), format!("`{text}`: {}", e.kind)))
        };
        let max_position_lots = lots(&mut r, "max_position_size", "0.05")?;
        let max_order_lots = lots(&mut r, "max_order_size", "0.05")?;
        let max_leverage_cbps = r.scaled("max_leverage", "3", 6, 0, 1_000_000_000)?;
        let max_orders_per_sec = r.int("max_orders_per_sec", 5, 1, 100_000)? as u32;
        let order_burst = r.int("order_burst", 10, 1, 100_000)? as u32;
        let max_consecutive_failures = r.int("max_consecutive_failures", 5, 1, 1000)? as u32;
        let flatten_on_abort = r.bool_or("flatten_on_abort", true)?;
        let flatten_when_unsynced = match r.str_or("flatten_when_unsynced", "wait")?.as_str() {
            "wait" => crate::strategy::FlattenPolicy::Wait,
            "market" => crate::strategy::FlattenPolicy::Market,
            other => {
                return Err(ConfigError::new(
                    "risk.flatten_when_unsynced",
                    format!("expected \"wait\" or \"market\", got \"{other}\""),
                ))
            }
        };
        let trading_day_offset_ns = r.scaled(
            "trading_day_offset_ms",
            "0",
            6,
            -86_400_000_000_000,
            86_400_000_000_000,
        )?;
        r.finish()?;
        if order_qty > max_order_lots {
            return Err(ConfigError::new(
                "strategy.order_size",
                "exceeds risk.max_order_size",
            ));
        }
        let risk = RiskConfig {
            carry: None,
            initial_equity,
            limits: RiskLimits {
                max_drawdown,
                daily_loss_limit,
                max_position_size: max_position_lots,
                max_trade_loss,
                max_leverage_cbps,
                max_wallet_drift,
                max_order_size: max_order_lots,
                max_orders_per_sec,
                order_burst,
                max_consecutive_failures,
                flatten_on_abort,
                trading_day_offset_ns,
            },
            flatten_when_unsynced,
        };

        // [paper]
        let mut p = Section::new(root, "paper")?;
        let paper = PaperConfig {
            order_latency_ns: p.ms("order_latency_ms", "5", 0, 60_000_000_000)?,
            cancel_latency_ns: p.ms("cancel_latency_ms", "5", 0, 60_000_000_000)?,
            report_latency_ns: p.ms("report_latency_ms", "5", 0, 60_000_000_000)?,
            maker_fee_cbps: p.scaled("maker_fee_bps", "0", 2, -10_000, 100_000)?,
            taker_fee_cbps: p.scaled("taker_fee_bps", "0", 2, -10_000, 100_000)?,
        };
        p.finish()?;

        // [live]
        let mut lv = Section::new(root, "live")?;
        let live = super::LiveConfig {
            rest_url: lv.str_or("rest_url", "https://api.bybit.com")?,
            private_ws_url: lv.str_or("private_ws_url", "wss://stream.bybit.com/v5/private")?,
            dry_run: lv.bool_or("dry_run", false)?,
            recv_window_ms: lv.int("recv_window_ms", 5000, 1, 60_000)? as u32,
            request_timeout_ns: lv.ms("request_timeout_ms", "2000", 1_000_000, 60_000_000_000)?,
            order_rate_per_sec: lv.int("order_rate_per_sec", 10, 1, 1000)? as u32,
            on_start: match lv.str_or("on_start", "refuse")?.as_str() {
                "cancel_ours" => super::OnStart::CancelOurs,
                "adopt" => super::OnStart::Adopt,
                "refuse" => super::OnStart::Refuse,
                other => {
                    return Err(ConfigError::new(
                        "live.on_start",
                        format!(
                            "expected \"cancel_ours\", \"adopt\" or \"refuse\", got \"{other}\""
                        ),
                    ))
                }
            },
            client_id_prefix: {
                let p = lv.str_or("client_id_prefix", "obi")?;
                if p.is_empty()
                    || p.len() > crate::exec::orders::MAX_PREFIX
                    || !p.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err(ConfigError::new(
                        "live.client_id_prefix",
                        format!(
                            "expected 1 to {} letters or digits, got \"{p}\"",
                            crate::exec::orders::MAX_PREFIX
                        ),
                    ));
                }
                p
            },
            reconcile_interval_ms: lv.whole_ms(
                "reconcile_interval_ms",
                5000,
                &(100..=3_600_000),
            )?,
            poll_fast_ms: lv.whole_ms("poll_fast_ms", 100, &(1..=60_000))?,
            poll_slow_ms: lv.whole_ms("poll_slow_ms", 2000, &(1..=600_000))?,
            adopted: None,
        };
        if live.poll_fast_ms > live.poll_slow_ms {
            return Err(ConfigError::new(
                "live.poll_fast_ms",
                format!(
                    "must be at most live.poll_slow_ms ({} ms), got {} ms",
                    live.poll_slow_ms, live.poll_fast_ms
                ),
            ));
        }
        lv.finish()?;

        // [pipeline]
        let mut pl = Section::new(root, "pipeline")?;
        let wait = match pl.str_or("wait", "auto")?.as_str() {
            "auto" => WaitStrategy::Auto,
            "spin" => WaitStrategy::Spin,
            "spin_yield" => WaitStrategy::SpinYield,
            "park" => WaitStrategy::Park,
            other => {
                return Err(ConfigError::new(
                    "pipeline.wait",
                    format!(
                        "expected \"auto\", \"spin\", \"spin_yield\" or \"park\", got \"{other}\""
                    ),
                ))
            }
        };
        let cores = match pl.get("cores") {
            None => Vec::new(),
            Some(Value::Array(a)) => {
                let mut v = Vec::new();
                for x in a {
                    match x {
                        Value::Integer(i) if *i >= 0 && *i < 4096 => v.push(*i as usize),
                        _ => {
                            return Err(ConfigError::new(
                                "pipeline.cores",
                                "expected a list of core numbers like [2, 3, 4, 5]",
                            ))
                        }
                    }
                }
                if v.len() > 4 {
                    return Err(ConfigError::new(
                        "pipeline.cores",
                        "expected one core per hot thread (at most 4) or none",
                    ));
                }
                v
            }
            Some(_) => {
                return Err(ConfigError::new(
                    "pipeline.cores",
                    "expected a list of core numbers",
                ))
            }
        };
        let layout = crate::pipeline::layout::LayoutSpec::parse(&pl.str_or("layout", "auto")?)
            .map_err(|e| ConfigError::new("pipeline.layout", e))?;
        let ring_capacity = pl.int("ring_capacity", 65536, 16, 1 << 24)? as usize;
        pl.finish()?;

        // [ops]
        let mut o = Section::new(root, "ops")?;
        let http = o.str_or("http_addr", "127.0.0.1:9754")?;
        let http_addr: Option<std::net::SocketAddr> = if http.is_empty() || http == "off" {
            None
        } else {
            Some(http.parse().map_err(|_| {
                ConfigError::new(
                    "ops.http_addr",
                    format!("expected an address like 127.0.0.1:9754 or \"off\", got \"{http}\""),
                )
            })?)
        };
        let mut ops = OpsConfig::default();
        match http_addr {
            Some(a) => ops.http.addr = a.to_string(),
            None => ops.http.enabled = false,
        }
        ops.artifacts_dir = PathBuf::from(o.str_or("artifacts_dir", "var/artifacts")?);
        ops.audit.dir = PathBuf::from(o.str_or("log_dir", "var/logs")?);
        ops.kill_file = PathBuf::from(o.str_or("kill_file", "var/KILL")?);
        ops.kill_token = match o.opt_str("kill_token")? {
            Some(t) if t.trim().len() < crate::ops::secrets::MIN_KILL_TOKEN_BYTES => {
                return Err(ConfigError::new(
                    "ops.kill_token",
                    format!(
                        "is {} bytes: expected at least {} (for example `openssl rand -hex 32`)",
                        t.trim().len(),
                        crate::ops::secrets::MIN_KILL_TOKEN_BYTES
                    ),
                ))
            }
            t => t,
        };
        ops.status_interval_ms =
            o.whole_ms("status_interval_ms", 5_000, &crate::ops::STATUS_INTERVAL_MS)?;
        ops.progress_interval_ms = o.whole_ms(
            "progress_interval_ms",
            1_000,
            &crate::ops::PROGRESS_INTERVAL_MS,
        )?;
        ops.feed_down_tolerance_ms = o.whole_ms(
            "feed_down_tolerance_ms",
            30_000,
            &crate::ops::FEED_DOWN_TOLERANCE_MS,
        )?;
        ops.audit.max_bytes = o.int("audit_max_bytes", 64 << 20, 1024, i64::MAX)? as u64;
        ops.audit.retention = o.int("audit_retention", 10, 1, 10_000)? as u32;
        ops.json_logs = o.bool_or("json_logs", false)?;
        ops.stop_linger_ms = o.whole_ms("stop_linger_ms", 0, &crate::ops::STOP_LINGER_MS)?;
        o.finish()?;

        // [record]
        let mut rc = Section::new(root, "record")?;
        let record = RecordConfig {
            enabled: rc.bool_or("enabled", false)?,
            dir: PathBuf::from(rc.str_or("dir", "var/recordings")?),
            rotate_bytes: rc.int("rotate_bytes", 256 << 20, 4096, i64::MAX)? as u64,
            rotate_ns: rc.ms("rotate_ms", "3600000", 1_000_000, 86_400_000_000_000)?,
            flush_ns: rc.ms("flush_ms", "1000", 1_000_000, 600_000_000_000)?,
        };
        rc.finish()?;

        // [store]
        let mut st = Section::new(root, "store")?;
        let journal = st.str_or("journal", "var/journal.sqlite")?;
        let store = StoreConfig {
            journal: (journal != "off" && !journal.is_empty()).then(|| PathBuf::from(journal)),
            flush_ns: st.ms("flush_ms", "200", 1_000_000, 60_000_000_000)?,
            equity_interval_ns: st.ms(
                "equity_interval_ms",
                "1000",
                1_000_000,
                3_600_000_000_000,
            )?,
            postgres_url: st.opt_str("postgres_url")?,
            backup_retention_days: st.int("backup_retention_days", 30, 1, 36_500)? as u32,
        };
        st.finish()?;
        top.get("instrument");
        top.get("market");
        top.get("synthetic");
        top.get("strategy");
        top.get("risk");
        top.get("paper");
        top.get("live");
        top.get("pipeline");
        top.get("ops");
        top.get("record");
        top.get("store");
        top.finish()?;

        Ok(Config {
            mode,
            market: MarketConfig {
                instrument,
                source,
                ws_url,
                rest_url,
                ca_file,
                stream_depth,
                book_levels,
                max_silence_ns,
                reseed_interval_ns,
                max_frame_age_ns,
                reconnect_initial_ns,
                reconnect_max_ns,
                ping_interval_ns,
                connect_timeout_ns,
            },
            synthetic: SyntheticConfig {
                seed,
                mean_interval_ns,
                start_px,
            },
            strategy,
            risk,
            paper,
            live,
            pipeline: PipelineConfig {
                wait,
                layout,
                cores,
                ring_capacity,
            },
            ops,
            record,
            store,
            duration_ns,
            instruments,
            digest: String::new(),
            path: None,
        })
    }
}
