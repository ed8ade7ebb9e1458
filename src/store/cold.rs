//! The journal as the cold thread drives it: open at start-up (rebuilding the carried risk state
//! into the config before the pipeline starts), one call per trader event, one per cold-loop tick
//! (flush and equity snapshot on their intervals), one at the end.

use super::{
    carry, wall_ns, EquitySnap, Journal, JournalStats, RunEnd, RunInfo, RunKind, StoreError,
};
use crate::config::Config;
use crate::pipeline::cold::Latencies;
use crate::pipeline::stats::HotCounters;
use crate::risk::Reasons;
use crate::trader::TraderEvent;
use std::time::{Duration, Instant};

/// The journal of one `run`.
pub struct ColdJournal {
    journal: Journal,
    flush_every: Duration,
    equity_every: Duration,
    last_flush: Instant,
    last_equity: Instant,
    last_latency: Instant,
    /// A flush failure has been logged and not yet recovered from.
    warned: bool,
    pg: Option<super::pg::PgSink>,
}

/// The secret name of `[store] postgres_url` (`$CREDENTIALS_DIRECTORY/postgres_url`,
/// `/run/secrets/postgres_url`, `OBI_SCALP_POSTGRES_URL`, then the config value).
pub const POSTGRES_URL: &str = "postgres_url";

/// The PostgreSQL URL from the secret sources, the config value last.
pub fn postgres_url(cfg: &Config) -> Result<Option<String>, StoreError> {
    let mut src = crate::ops::SecretSources::from_env();
    if let Some(v) = &cfg.store.postgres_url {
        src = src.with_config_value(POSTGRES_URL, "store.postgres_url", v);
    }
    src.lookup(POSTGRES_URL)
        .map(|o| o.map(|(s, _)| s.expose().to_string()))
        .map_err(|e| StoreError(format!("store.postgres_url: {e}")))
}

/// Latency rows are cumulative per run: written once a minute and at the end.
const LATENCY_EVERY: Duration = Duration::from_secs(60);

impl ColdJournal {
    /// Opens `[store] journal` (None when off), rebuilds the carried risk state into
    /// `cfg.risk.carry` (unless `reset_risk`) and writes the run's row.
    pub fn start(cfg: &mut Config, reset_risk: bool) -> Result<Option<ColdJournal>, StoreError> {
        let Some(path) = cfg.store.journal.clone() else {
            return Ok(None);
        };
        let mut journal = Journal::open(&path)?;
        let now = wall_ns();
        if !reset_risk {
            let c = carry::risk_carry(
                journal.connection(),
                now,
                cfg.risk.limits.trading_day_offset_ns,
            )
            .map_err(|e| StoreError::at(&path, "rebuilding the risk state", e))?;
            if let Some(c) = &c {
                tracing::info!(
                    day_pnl = %crate::config::format_money(&cfg.market.instrument, c.day_pnl),
                    drawdown = %crate::config::format_money(&cfg.market.instrument, c.drawdown),
                    latched = ?c.latched.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                    "risk state carried over from the journal"
                );
            }
            cfg.risk.carry = c;
        }
        let mut info = RunInfo::for_config(cfg, RunKind::Run, now);
        info.risk_reset = reset_risk;
        journal.begin_run(&info)?;
        let pg = match postgres_url(cfg)? {
            Some(url) => Some(
                super::pg::PgSink::spawn(url, path.clone())
                    .map_err(|e| StoreError::msg(&path, format!("postgres sink thread: {e}")))?,
            ),
            None => None,
        };
        Ok(Some(ColdJournal {
            pg,
            journal,
            flush_every: Duration::from_nanos(cfg.store.flush_ns),
            equity_every: Duration::from_nanos(cfg.store.equity_interval_ns),
            last_flush: Instant::now(),
            last_equity: Instant::now(),
            last_latency: Instant::now(),
            warned: false,
        }))
    }

    pub fn record(&mut self, e: &TraderEvent) {
        self.journal.record(e);
    }

    fn snapshot(&mut self, c: &HotCounters) {
        let g = HotCounters::get;
        let p = c.pnl.load();
        self.journal.equity(EquitySnap {
            ts_ns: wall_ns(),
            pnl: p.realized + p.unrealized,
            position: g(&c.position) as i64,
            status: c.risk_status.get(),
            reasons: Reasons::from_bits(g(&c.risk_reasons) as u16),
        });
    }

    /// Called every cold-loop pass: snapshots equity and flushes when their intervals are due.
    pub fn tick(&mut self, c: &HotCounters, lat: &Latencies) {
        if self.last_equity.elapsed() >= self.equity_every {
            self.last_equity = Instant::now();
            self.snapshot(c);
        }
        if self.last_latency.elapsed() >= LATENCY_EVERY {
            self.last_latency = Instant::now();
            self.journal.latencies(wall_ns(), lat);
        }
        if self.last_flush.elapsed() >= self.flush_every {
            self.last_flush = Instant::now();
            self.flush();
        }
    }

    fn flush(&mut self) {
        match self.journal.flush() {
            Ok(n) => {
                if n > 0 {
                    if let Some(p) = &self.pg {
                        p.wake();
                    }
                }
                super::metrics::publish(
                    &self.journal.stats(),
                    self.pg.as_ref().map(|p| &**p.stats()),
                );
                if self.warned {
                    self.warned = false;
                    tracing::info!("journal writable again");
                }
            }
            Err(e) => {
                super::metrics::publish(
                    &self.journal.stats(),
                    self.pg.as_ref().map(|p| &**p.stats()),
                );
                if !self.warned {
                    self.warned = true;
                    tracing::error!(error = %e, "journal degraded: records kept in memory");
                }
            }
        }
    }

    pub fn stats(&self) -> JournalStats {
        self.journal.stats()
    }

    /// The last snapshot and latencies, the final flush and the run's closing row.
    pub fn finish(
        mut self,
        c: &HotCounters,
        lat: &Latencies,
        reason: &str,
        clean: bool,
    ) -> JournalStats {
        self.snapshot(c);
        self.journal.latencies(wall_ns(), lat);
        let end = RunEnd {
            ended_wall_ns: wall_ns(),
            stop_reason: reason.to_string(),
            clean,
            max_drawdown: None,
            position: Some(HotCounters::get(&c.position) as i64),
            cash_change: None,
            risk_status: Some(c.risk_status.get()),
        };
        if let Err(e) = self.journal.end_run(&end) {
            tracing::error!(error = %e, "journal: the run's last records were not written");
        }
        if let Some(p) = self.pg.take() {
            let s = p.finish();
            use std::sync::atomic::Ordering::Relaxed;
            tracing::info!(
                sent = s.sent.load(Relaxed),
                behind = s.behind.load(Relaxed),
                errors = s.errors.load(Relaxed),
                "postgres sink stopped"
            );
        }
        self.journal.stats()
    }
}
