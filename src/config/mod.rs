//! Configuration: TOML read in two stages.
//!
//! Stage one (`raw`) walks the TOML table key by key: every value is checked for type and
//! range, unknown keys are errors (a typo must not silently fall back to a default), and each
//! error names the key (`strategy.long_threshold: expected a number >= 0, got -0.1`). Stage two
//! ([`Config::resolve`]) turns the checked values into what the program runs with: exact
//! integers in ticks, lots, ppm and money units for the configured instrument.

mod raw;

pub use raw::RawConfig;

use crate::instrument::{Instrument, InstrumentTable, Market, Venue};
use crate::msg::{Money, MONEY_PER_TICK_LOT};
use std::fmt;
use std::path::{Path, PathBuf};

/// The config shipped as `config/default.toml`, built in so `obi-scalp run` works with no file.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// A config error: the key (or file) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub msg: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, msg: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            msg: msg.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.msg)
    }
}

impl std::error::Error for ConfigError {}

/// Paper or live trading: the one enum for it (the config's `mode`, the status board,
/// `/health/detailed`, the audit log).
pub use crate::ops::Mode;

/// Where market data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The built-in deterministic synthetic market (no network).
    Synthetic,
    /// A venue WebSocket (real or the simulator).
    Live,
}

/// Runner wait strategy of the hot threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Spin where a hot thread has a core to itself (pinned), park where it does not (default).
    Auto,
    /// Busy-spin (production, isolated cores).
    Spin,
    /// Spin, yielding the core between polls.
    SpinYield,
    /// Back off and park (development, CI, tests).
    Park,
}

impl WaitStrategy {
    pub const fn as_str(self) -> &'static str {
        match self {
            WaitStrategy::Auto => "auto",
            WaitStrategy::Spin => "spin",
            WaitStrategy::SpinYield => "spin_yield",
            WaitStrategy::Park => "park",
        }
    }
}

/// Market-data settings.
#[derive(Debug, Clone)]
pub struct MarketConfig {
    pub instrument: Instrument,
    pub source: Source,
    pub ws_url: String,
    pub rest_url: String,
    /// Extra CA certificate (PEM) to trust, e.g. the simulator's.
    pub ca_file: Option<PathBuf>,
    /// Book depth subscribed to (Bybit `orderbook.{depth}`).
    pub stream_depth: u32,
    /// Levels kept per book side.
    pub book_levels: usize,
    pub max_silence_ns: u64,
    pub reseed_interval_ns: u64,
    pub max_frame_age_ns: u64,
    pub reconnect_initial_ns: u64,
    pub reconnect_max_ns: u64,
    pub ping_interval_ns: u64,
    /// How long start-up may take to reach the venue before it fails (exit code 5).
    pub connect_timeout_ns: u64,
}

/// Synthetic market settings.
#[derive(Debug, Clone, Copy)]
pub struct SyntheticConfig {
    pub seed: u64,
    /// Mean time between market events, ns.
    pub mean_interval_ns: u64,
    /// Start price in ticks.
    pub start_px: i64,
}

/// OBI scalper parameters, resolved to integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrategyConfig {
    /// OBI depth N.
    pub obi_levels: usize,
    /// Long entry when OBI >= this (ppm).
    pub long_threshold_ppm: i64,
    /// Short entry when OBI <= -this (ppm).
    pub short_threshold_ppm: i64,
    /// No entry when the spread exceeds this many ticks.
    pub max_spread_ticks: i64,
    /// The signal must hold this long (ns)...
    pub hold_ns: u64,
    /// ...unless it exceeds the threshold by this factor (ppm of 1: 1.5 = 1_500_000).
    pub instant_factor_ppm: i64,
    /// Entry price offset in ticks from the opposite best (buy at ask + offset).
    pub entry_offset_ticks: i64,
    pub entry_timeout_ns: u64,
    pub take_profit_ticks: i64,
    pub stop_loss_ticks: i64,
    pub max_hold_ns: u64,
    pub cooldown_ns: u64,
    /// Order size in lots.
    pub order_qty: i64,
}

/// Risk settings: the starting equity and the limits, resolved to money units, lots and ratios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskConfig {
    pub initial_equity: Money,
    pub limits: RiskLimits,
    /// What a kill/abort flatten does while the traded book is not synced (or crossed).
    pub flatten_when_unsynced: crate::strategy::FlattenPolicy,
    /// State carried over from the journal at start-up (not a config key: `run` sets it).
    pub carry: Option<crate::risk::RiskCarry>,
}

pub use crate::risk::RiskLimits;

pub use crate::exec::PaperConfig;

/// Threads, pinning and rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    pub wait: WaitStrategy,
    /// Which hot stages share a thread ([`crate::pipeline::layout`]).
    pub layout: crate::pipeline::layout::LayoutSpec,
    /// One core per hot thread of the layout (empty: automatic).
    pub cores: Vec<usize>,
    pub ring_capacity: usize,
}

/// Operations: HTTP, artifacts, audit, kill switch, intervals: the one ops config type.
pub use crate::ops::OpsConfig;

/// Recording of raw frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordConfig {
    pub enabled: bool,
    pub dir: PathBuf,
    pub rotate_bytes: u64,
    pub rotate_ns: u64,
    pub flush_ns: u64,
}

/// The trade journal and its PostgreSQL copy (`[store]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The SQLite journal `run` writes (None: `journal = "off"`).
    pub journal: Option<PathBuf>,
    /// How often the cold thread commits what it buffered (the most a SIGKILL can lose).
    pub flush_ns: u64,
    /// How often the cold thread snapshots equity into the journal.
    pub equity_interval_ns: u64,
    /// PostgreSQL connection URL (secret-capable: see `crate::ops::secrets::POSTGRES_URL`).
    pub postgres_url: Option<String>,
    /// Days `obi-scalp backup` keeps old backups.
    pub backup_retention_days: u32,
}

/// Live order entry (`[live]`, used when `mode = "live"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfig {
    /// The venue's private REST base URL (Bybit: `https://api.bybit.com`).
    pub rest_url: String,
    /// The venue's private WebSocket (Bybit: `wss://stream.bybit.com/v5/private`).
    pub private_ws_url: String,
    /// Sign and journal every request without sending it.
    pub dry_run: bool,
    /// Bybit `X-BAPI-RECV-WINDOW`.
    pub recv_window_ms: u32,
    /// A request without an answer this long is resolved by querying the order.
    pub request_timeout_ns: u64,
    /// Requests per second per order endpoint (Bybit linear: 10 per UID, the documented limit).
    pub order_rate_per_sec: u32,
    /// What start-up reconciliation does with our orders left at the venue (`on_start`).
    pub on_start: OnStart,
    /// Client order ids start with `<client_id_prefix>-`: how a restarted process recognises
    /// its own orders. Stable across restarts of the same config (not per start).
    pub client_id_prefix: String,
    /// How often the venue's balance, position and open orders are read and compared with
    /// our ledger and order table (and after every reconnect of the private stream).
    pub reconcile_interval_ms: u64,
    /// Venues without a private stream (Coincheck): fills are polled every `poll_fast_ms`
    /// while orders work, the interval doubling up to `poll_slow_ms` while idle.
    pub poll_fast_ms: u64,
    pub poll_slow_ms: u64,
    /// Set by `run` after start-up reconciliation: what was adopted from the venue (the
    /// trader starts from it). Never read from the file.
    pub adopted: Option<Adopted>,
}

/// `[live] on_start`: what start-up reconciliation does with orders carrying our client-id
/// prefix (foreign orders are reported and left alone; a position is adopted, never flattened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStart {
    /// Cancel our leftover orders at the venue before the first order.
    CancelOurs,
    /// Adopt our leftover orders into the order table (they keep working).
    Adopt,
    /// Refuse to start when any of our orders or a position is open (exit code 10).
    Refuse,
}

impl OnStart {
    pub const fn as_str(self) -> &'static str {
        match self {
            OnStart::CancelOurs => "cancel_ours",
            OnStart::Adopt => "adopt",
            OnStart::Refuse => "refuse",
        }
    }
}

/// One of our orders adopted from the venue at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdoptedOrder {
    /// The local id the gateway gave it.
    pub id: u64,
    pub side: crate::msg::OrderSide,
    pub px: i64,
    pub qty: i64,
    /// Executed before we adopted it (already in the venue's position).
    pub filled: i64,
}

/// What start-up reconciliation found at the venue and the trader starts from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Adopted {
    /// The venue's position (lots, positive long).
    pub position: i64,
    /// Its cost basis at the venue's entry price (Money, negative when short).
    pub basis: Money,
    pub orders: Vec<AdoptedOrder>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub market: MarketConfig,
    pub synthetic: SyntheticConfig,
    pub strategy: StrategyConfig,
    pub risk: RiskConfig,
    pub paper: PaperConfig,
    pub live: LiveConfig,
    pub pipeline: PipelineConfig,
    pub ops: OpsConfig,
    pub record: RecordConfig,
    pub store: StoreConfig,
    /// Run duration (None: until stopped).
    pub duration_ns: Option<u64>,
    pub instruments: InstrumentTable,
    /// SHA-256 of the config text, hex (first 16 chars), for `/health/detailed`.
    pub digest: String,
    /// The file it came from (None: built-in default).
    pub path: Option<PathBuf>,
}

impl Config {
    /// Reads and resolves a config file; errors name the file and the key.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(path.display().to_string(), format!("cannot read: {e}"))
        })?;
        let mut c = Config::from_toml(&text).map_err(|e| ConfigError {
            key: format!("{}: {}", path.display(), e.key),
            msg: e.msg,
        })?;
        c.path = Some(path.to_path_buf());
        Ok(c)
    }

    /// The built-in default config.
    pub fn builtin() -> Config {
        Config::from_toml(DEFAULT_TOML).expect("built-in default config is valid")
    }

    /// Parses and resolves TOML text.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let raw = RawConfig::parse(text)?;
        let mut c = Config::resolve(&raw)?;
        c.digest = digest(text);
        Ok(c)
    }

    /// Stage two: checked raw values → the objects the program runs with.
    pub fn resolve(raw: &RawConfig) -> Result<Config, ConfigError> {
        raw.resolve()
    }

    /// Converts a quote-currency decimal amount to money units of this config's instrument.
    pub fn money(inst: &Instrument, key: &str, text: &str) -> Result<Money, ConfigError> {
        money_of(inst, key, text)
    }
}

/// Quote-currency decimal → money units: value / (tick * lot) * MONEY_PER_TICK_LOT, exactly.
pub(crate) fn money_of(inst: &Instrument, key: &str, text: &str) -> Result<Money, ConfigError> {
    // value = units * 10^-d with d = notional decimals + 6; one money unit is
    // tick_units * lot_units * 10^-(tick_dec + lot_dec) / 1e6.
    let d = inst.notional_decimals() + 6;
    if d > crate::num::MAX_DECIMALS {
        return Err(ConfigError::new(
            key,
            "instrument tick and lot have too many decimals for money amounts",
        ));
    }
    let bad = |why: &str| {
        ConfigError::new(
            key,
            format!("expected a decimal amount, got `{text}` ({why})"),
        )
    };
    let (m, e) =
        crate::num::parse_decimal(text.trim().as_bytes()).map_err(|e| bad(&e.to_string()))?;
    let shift = e + d as i32;
    let units: i128 = if shift >= 0 {
        10i128
            .checked_pow(shift as u32)
            .and_then(|p| (m as i128).checked_mul(p))
            .ok_or_else(|| bad("too large"))?
    } else {
        let p = 10i128
            .checked_pow((-shift) as u32)
            .ok_or_else(|| bad("too many decimals"))?;
        if (m as i128) % p != 0 {
            return Err(bad("too many decimals"));
        }
        m as i128 / p
    };
    let per = inst.tick.step_units() as i128 * inst.lot.step_units() as i128;
    if units % per != 0 {
        return Err(ConfigError::new(
            key,
            format!("`{text}` is finer than the instrument's money resolution"),
        ));
    }
    debug_assert_eq!(MONEY_PER_TICK_LOT, 1_000_000);
    Ok(units / per)
}

/// Prints money units of `inst` as an exact quote-currency decimal with the currency's own
/// places ([`Instrument::quote_decimals`]: `12345` JPY, `12.30` USDT), and more only where the
/// amount has them (`0.03` JPY, `0.0055` USDT): never rounded.
pub fn format_money(inst: &Instrument, m: Money) -> String {
    let per = inst.tick.step_units() as i128 * inst.lot.step_units() as i128;
    let mut s = String::new();
    let _ = crate::num::write_units_trimmed(
        m * per,
        inst.notional_decimals() + 6,
        inst.quote_decimals(),
        &mut s,
    );
    s
}

fn digest(text: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Market type's default for a venue's symbol (the venue's connector says; Bybit BTCUSDT
/// defaults to linear).
pub fn default_market(venue: Venue) -> Market {
    venue.default_market()
}

#[cfg(test)]
mod tests;
