//! Risk state from the journal: what the previous `run`s of this journal left behind.
//!
//! The equity of consecutive runs is chained: each run's PnL (equity snapshots, and the exact
//! equity of each risk transition) continues from where the previous run ended, since every run's
//! paper ledger restarts at `initial_equity`. From that chain:
//! - `drawdown` = its peak minus its last value;
//! - `day_pnl` = its last value minus its value when the current trading day began (0 when the
//!   last record is from an earlier day);
//! - `latched` = the abort reasons in force at the last risk transition of the last run.
//!
//! A run started with `--reset-risk` starts a new chain. Replays in the same file are ignored.

use super::journal::money;
use crate::msg::Money;
use crate::risk::{Reasons, RiskCarry};
use rusqlite::Connection;

const DAY_NS: i128 = 86_400_000_000_000;

/// The trading day of `ts_ns`, as the risk engine counts it.
pub fn trading_day(ts_ns: u64, offset_ns: i64) -> i64 {
    ((ts_ns as i128 - offset_ns as i128).div_euclid(DAY_NS)) as i64
}

/// Rebuilds the carry at `now_ns` (wall clock); `None` when no `run` wrote to this journal.
pub fn risk_carry(
    conn: &Connection,
    now_ns: u64,
    day_offset_ns: i64,
) -> rusqlite::Result<Option<RiskCarry>> {
    // Runs since the last reset, oldest first.
    let mut runs: Vec<(i64, Money)> = Vec::new();
    {
        let mut st = conn.prepare(
            "SELECT run_id, initial_equity, risk_reset FROM runs WHERE kind = 'run' ORDER BY run_id",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let init = money(r.get_ref(1)?)?;
            let reset: bool = r.get(2)?;
            if reset {
                runs.clear();
            }
            runs.push((id, init));
        }
    }
    if runs.is_empty() {
        return Ok(None);
    }
    let today = trading_day(now_ns, day_offset_ns);
    let mut base: Money = 0;
    let mut peak: Money = 0;
    let mut last: Money = 0;
    let mut last_day: Option<i64> = None;
    let mut day_start: Money = 0;
    let mut latched = Reasons::EMPTY;
    let mut st = conn.prepare(
        "SELECT ts_ns, pnl, NULL FROM equity WHERE run_id = ?1
         UNION ALL
         SELECT ts_ns, equity, reasons FROM risk WHERE run_id = ?1
         ORDER BY 1",
    )?;
    for (id, init) in &runs {
        let mut run_last: Money = 0;
        let mut run_latched = Reasons::EMPTY;
        let mut rows = st.query([id])?;
        while let Some(r) = rows.next()? {
            let ts: i64 = r.get(0)?;
            let v = money(r.get_ref(1)?)?;
            let reasons: Option<i64> = r.get(2)?;
            // Equity rows hold the run's PnL; risk rows the equity itself.
            let pnl = match reasons {
                Some(bits) => {
                    run_latched = Reasons::from_bits(bits as u16);
                    v - init
                }
                None => v,
            };
            let chained = base + pnl;
            let day = trading_day(ts.max(0) as u64, day_offset_ns);
            if last_day != Some(day) {
                // The day began at the previous chained value.
                day_start = last;
                last_day = Some(day);
            }
            peak = peak.max(chained);
            last = chained;
            run_last = pnl;
        }
        base += run_last;
        last = base;
        latched = RiskCarry::carried(run_latched);
    }
    let day_pnl = if last_day == Some(today) {
        last - day_start
    } else {
        0
    };
    Ok(Some(RiskCarry {
        day: today,
        day_pnl,
        drawdown: peak - last,
        latched,
    }))
}
