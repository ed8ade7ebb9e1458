//! Reports from the journal: the figures of a time range, exact money, and their renderings
//! (Markdown, a self-contained HTML page, JSON) and the [`Series`] the charts
//! ([`super::chart`]) draw.
//!
//! The figures are computed the way `replay`'s `summary.json` computes them, from the same kind
//! of records, so a report over a replay's journal gives the same strings:
//! - PnL, fees, trades, wins, win rate, profit factor, Sharpe: from the closed trades (Sharpe of
//!   per-trade returns `net / entry_value`, sample standard deviation);
//! - maximum drawdown: the largest fall from a running peak of the equity chain (each run's PnL
//!   continues from where the previous run of the range ended). A replay journals the ledger's
//!   own peak and drawdown points, so this equals its `max_drawdown`; a `run` journals an equity
//!   snapshot every `equity_interval_ms`, so there it is the drawdown at that sampling;
//! - exposure: the share of the range's run time with a position open (trade hold times);
//! - latency: the last cumulative percentiles each run journaled;
//! - uptime: the runs' time (started to ended, or to their last record when killed); restarts:
//!   runs after the first, of which unclean: ended without a clean stop.

use super::journal::money;
use crate::msg::Money;
use rusqlite::{params, Connection};
use serde::Serialize;
use std::fmt::Write as _;

const DAY_NS: i64 = 86_400_000_000_000;

/// The time range of a report, `[from_ns, to_ns)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from_ns: i64,
    pub to_ns: i64,
}

/// Days since the epoch of a `YYYY-MM-DD` date (UTC).
pub fn parse_date(s: &str) -> Result<i64, String> {
    let bad = || format!("expected a date YYYY-MM-DD, got \"{s}\"");
    let p: Vec<&str> = s.split('-').collect();
    if p.len() != 3 {
        return Err(bad());
    }
    let y: i64 = p[0].parse().map_err(|_| bad())?;
    let m: i64 = p[1].parse().map_err(|_| bad())?;
    let d: i64 = p[2].parse().map_err(|_| bad())?;
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Howard Hinnant's days_from_civil.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(year, month, day)` of days since the epoch.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

pub fn date_of_ns(ns: i64) -> String {
    let (y, m, d) = civil_from_days(ns.div_euclid(DAY_NS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The period kinds of `--period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub fn parse(s: &str) -> Result<Period, String> {
        match s {
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            _ => Err(format!(
                "--period: expected day, week or month, got \"{s}\""
            )),
        }
    }
    pub const fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// The period (UTC; weeks start on Monday) holding `ns`.
    pub fn containing(self, ns: i64) -> Range {
        let day = ns.div_euclid(DAY_NS);
        let (a, b) = match self {
            Period::Day => (day, day + 1),
            Period::Week => {
                // 1970-01-01 was a Thursday: Monday is day 4 mod 7.
                let start = day - (day - 4).rem_euclid(7);
                (start, start + 7)
            }
            Period::Month => {
                let (y, m, _) = civil_from_days(day);
                let start = days_from_civil(y, m, 1);
                (start, start + days_in_month(y, m))
            }
        };
        Range {
            from_ns: a * DAY_NS,
            to_ns: b * DAY_NS,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LatencyLine {
    pub run_id: i64,
    pub kind: String,
    pub count: i64,
    pub p50_ns: i64,
    pub p90_ns: i64,
    pub p99_ns: i64,
    pub p999_ns: i64,
    pub max_ns: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RiskLine {
    pub run_id: i64,
    pub ts_ns: i64,
    pub from: String,
    pub to: String,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DayLine {
    pub date: String,
    pub trades: u64,
    pub net_pnl: String,
}

/// What a report says. Money fields are exact decimals of `quote`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub period: String,
    pub from: String,
    pub to: String,
    pub from_ns: i64,
    pub to_ns: i64,
    pub kind: String,
    pub venue: String,
    pub symbol: String,
    pub quote: String,
    pub runs: u64,
    pub restarts: u64,
    pub unclean_runs: u64,
    pub uptime_s: u64,
    pub signals: u64,
    pub orders: u64,
    pub fills: u64,
    pub cancels: u64,
    pub rejects: u64,
    pub trades: u64,
    pub wins: u64,
    pub win_rate: String,
    pub gross_pnl: String,
    pub fees: String,
    pub net_pnl: String,
    pub profit_factor: String,
    pub max_drawdown: String,
    pub sharpe_per_trade: String,
    /// Share of the runs' time with a position open, as a ratio.
    pub exposure: String,
    pub daily: Vec<DayLine>,
    pub latency: Vec<LatencyLine>,
    pub risk_events: Vec<RiskLine>,
}

/// The series the charts draw (money as exact units; the charts convert to pixels).
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// `(ns, chained equity change)`.
    pub equity: Vec<(i64, Money)>,
    /// `(day start ns, net PnL of the day's trades)`.
    pub daily: Vec<(i64, Money)>,
    /// Net PnL of each closed trade, in close order.
    pub trades: Vec<Money>,
    /// Tick-to-trade percentiles of the last run with samples: `(label, ns)`.
    pub latency: Vec<(&'static str, i64)>,
    pub money_per: i64,
    pub money_decimals: u8,
    pub quote: String,
}

impl Series {
    /// Money units as a float in the quote currency, for plotting only.
    pub fn to_f64(&self, m: Money) -> f64 {
        (m * self.money_per as i128) as f64 / 10f64.powi(self.money_decimals as i32)
    }
}

/// The ratios of a set of closed trades, as `summary.json` and the report print them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeRatios {
    /// Trades with a net PnL above zero.
    pub wins: u64,
    pub win_rate: String,
    /// Won over lost money; `inf` with no loss and some win.
    pub profit_factor: String,
    /// Sharpe of per-trade returns `net / entry_value` (sample standard deviation).
    pub sharpe_per_trade: String,
}

impl TradeRatios {
    /// From `(net PnL, entry value)` per closed trade.
    pub fn of(nets: &[(Money, Money)]) -> TradeRatios {
        let n = nets.len() as u64;
        let wins = nets.iter().filter(|t| t.0 > 0).count() as u64;
        let won: Money = nets.iter().filter(|t| t.0 > 0).map(|t| t.0).sum();
        let lost: Money = -nets.iter().filter(|t| t.0 < 0).map(|t| t.0).sum::<Money>();
        let ratio = |x: f64| format!("{x:.4}");
        let win_rate = if n == 0 {
            "0.0000".into()
        } else {
            ratio(wins as f64 / n as f64)
        };
        let profit_factor = if lost == 0 {
            if won > 0 {
                "inf".into()
            } else {
                "0.0000".into()
            }
        } else {
            ratio(won as f64 / lost as f64)
        };
        let rets: Vec<f64> = nets
            .iter()
            .filter(|t| t.1 != 0)
            .map(|t| t.0 as f64 / t.1 as f64)
            .collect();
        let sharpe_per_trade = if rets.len() < 2 {
            "0.0000".into()
        } else {
            let mean = rets.iter().sum::<f64>() / rets.len() as f64;
            let var =
                rets.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / (rets.len() - 1) as f64;
            if var > 0.0 {
                ratio(mean / var.sqrt())
            } else {
                "0.0000".into()
            }
        };
        TradeRatios {
            wins,
            win_rate,
            profit_factor,
            sharpe_per_trade,
        }
    }
}

/// As `crate::config::format_money` prints money.
fn fmt_money(m: Money, per: i64, dec: u8, qdec: u8) -> String {
    let mut s = String::new();
    let _ = crate::num::write_units_trimmed(m * per as i128, dec, qdec, &mut s);
    s
}

/// The run kind a report reads by default: the kind of the journal's latest run.
pub fn default_kind(c: &Connection) -> rusqlite::Result<Option<String>> {
    c.query_row(
        "SELECT kind FROM runs ORDER BY run_id DESC LIMIT 1",
        [],
        |r| r.get(0),
    )
    .map(Some)
    .or_else(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => Ok(None),
        e => Err(e),
    })
}

/// The time of the journal's latest record of `kind` (to pick the default period).
pub fn latest_ns(c: &Connection, kind: &str) -> rusqlite::Result<Option<i64>> {
    c.query_row(
        "SELECT max(t) FROM (
            SELECT max(e.ts_ns) AS t FROM events e JOIN runs r USING (run_id) WHERE r.kind = ?1
            UNION ALL SELECT max(t.close_ns) FROM trades t JOIN runs r USING (run_id) WHERE r.kind = ?1
            UNION ALL SELECT max(q.ts_ns) FROM equity q JOIN runs r USING (run_id) WHERE r.kind = ?1)",
        [kind],
        |r| r.get(0),
    )
}

struct RunRow {
    id: i64,
    started: i64,
    ended: Option<i64>,
    clean: Option<bool>,
    last_ns: Option<i64>,
}

/// Builds the report of `range` over the runs of `kind`.
pub fn build(
    c: &Connection,
    kind: &str,
    period: Period,
    range: Range,
) -> rusqlite::Result<(Report, Series)> {
    // Instrument facts of the latest run of that kind.
    let (venue, symbol, quote, per, dec, qdec): (String, String, String, i64, u8, u8) = c
        .query_row(
            "SELECT venue, symbol, quote, money_per, money_decimals, quote_decimals FROM runs
             WHERE kind = ?1 ORDER BY run_id DESC LIMIT 1",
            [kind],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap_or_else(|_| (String::new(), String::new(), String::new(), 1, 0, 0));
    let m = |v: Money| fmt_money(v, per, dec, qdec);
    let (a, b) = (range.from_ns, range.to_ns);

    // Runs overlapping the range, with their last record for killed ones.
    let mut runs: Vec<RunRow> = Vec::new();
    {
        let mut st = c.prepare(
            "SELECT r.run_id, r.started_wall_ns, r.ended_wall_ns, r.clean,
                (SELECT max(ts_ns) FROM equity q WHERE q.run_id = r.run_id)
             FROM runs r WHERE r.kind = ?1 ORDER BY r.run_id",
        )?;
        let mut rows = st.query([kind])?;
        while let Some(r) = rows.next()? {
            runs.push(RunRow {
                id: r.get(0)?,
                started: r.get(1)?,
                ended: r.get(2)?,
                clean: r.get(3)?,
                last_ns: r.get(4)?,
            });
        }
    }
    // A run counts when any of its records falls in the range.
    let mut in_range: Vec<&RunRow> = Vec::new();
    {
        let mut st = c.prepare(
            "SELECT EXISTS(SELECT 1 FROM events WHERE run_id = ?1 AND ts_ns >= ?2 AND ts_ns < ?3)
                 OR EXISTS(SELECT 1 FROM equity WHERE run_id = ?1 AND ts_ns >= ?2 AND ts_ns < ?3)
                 OR EXISTS(SELECT 1 FROM trades WHERE run_id = ?1 AND close_ns >= ?2 AND close_ns < ?3)",
        )?;
        for r in &runs {
            let yes: bool = st.query_row(params![r.id, a, b], |x| x.get(0))?;
            if yes {
                in_range.push(r);
            }
        }
    }
    let ids: Vec<i64> = in_range.iter().map(|r| r.id).collect();
    let id_list = if ids.is_empty() {
        "NULL".to_string()
    } else {
        ids.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    // Run time within the range; a replay's clock is its recording's.
    let mut run_ns: i64 = 0;
    let mut unclean = 0u64;
    for r in &in_range {
        let end = r.ended.or(r.last_ns).unwrap_or(r.started);
        let (s, e) = (r.started.max(a), end.min(b));
        run_ns += (e - s).max(0);
        if r.clean != Some(true) {
            unclean += 1;
        }
    }

    // Event counts as the trader counts them.
    let count = |kinds: &str| -> rusqlite::Result<u64> {
        c.query_row(
            &format!(
                "SELECT count(*) FROM events WHERE run_id IN ({id_list}) AND kind IN ({kinds})
                 AND ts_ns >= ?1 AND ts_ns < ?2"
            ),
            [a, b],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as u64)
    };
    let signals = count("'signal'")?;
    let orders = count("'order'")?;
    let fills = count("'fill'")?;
    let cancels = count("'cancel','cancel_all'")?;
    let rejects = count("'reject','pre_trade_reject'")?;

    // Closed trades.
    let mut nets: Vec<(Money, Money)> = Vec::new(); // (net, entry_value)
    let (mut gross, mut fees, mut net) = (0 as Money, 0 as Money, 0 as Money);
    let mut hold_ns: i64 = 0;
    let mut by_day: std::collections::BTreeMap<i64, (u64, Money)> = Default::default();
    {
        let mut st = c.prepare(&format!(
            "SELECT gross_pnl, fees, net_pnl, entry_value, open_ns, close_ns FROM trades
             WHERE run_id IN ({id_list}) AND close_ns >= ?1 AND close_ns < ?2 ORDER BY seq"
        ))?;
        let mut rows = st.query([a, b])?;
        while let Some(r) = rows.next()? {
            let g = money(r.get_ref(0)?)?;
            let f = money(r.get_ref(1)?)?;
            let n = money(r.get_ref(2)?)?;
            let ev = money(r.get_ref(3)?)?;
            let (o, cl): (i64, i64) = (r.get(4)?, r.get(5)?);
            gross += g;
            fees += f;
            net += n;
            nets.push((n, ev));
            hold_ns += (cl.min(b) - o.max(a)).max(0);
            let d = by_day.entry(cl.div_euclid(DAY_NS)).or_default();
            d.0 += 1;
            d.1 += n;
        }
    }
    let n = nets.len() as u64;
    let TradeRatios {
        wins,
        win_rate,
        profit_factor,
        sharpe_per_trade: sharpe,
    } = TradeRatios::of(&nets);
    let ratio = |x: f64| format!("{x:.4}");

    // The equity chain and its drawdown.
    let mut series = Series {
        money_per: per,
        money_decimals: dec,
        quote: quote.clone(),
        ..Series::default()
    };
    let mut base: Money = 0;
    let mut peak: Money = 0;
    let mut max_dd: Money = 0;
    {
        let mut st = c.prepare(
            "SELECT ts_ns, pnl FROM equity WHERE run_id = ?1 AND ts_ns >= ?2 AND ts_ns < ?3
             ORDER BY ts_ns, seq",
        )?;
        for r in &in_range {
            let mut last: Money = 0;
            let mut rows = st.query(params![r.id, a, b])?;
            while let Some(x) = rows.next()? {
                let ts: i64 = x.get(0)?;
                let v = base + money(x.get_ref(1)?)?;
                peak = peak.max(v);
                max_dd = max_dd.max(peak - v);
                series.equity.push((ts, v));
                last = v - base;
            }
            base += last;
        }
    }
    series.daily = by_day.iter().map(|(d, v)| (d * DAY_NS, v.1)).collect();
    series.trades = nets.iter().map(|t| t.0).collect();

    // Latency: the last journaled percentiles of each run.
    let mut latency = Vec::new();
    {
        let mut st = c.prepare(&format!(
            "SELECT l.run_id, l.kind, l.count, l.p50_ns, l.p90_ns, l.p99_ns, l.p999_ns, l.max_ns
             FROM latency l WHERE l.run_id IN ({id_list}) AND l.seq = (
                SELECT max(seq) FROM latency k WHERE k.run_id = l.run_id AND k.kind = l.kind)
             ORDER BY l.run_id, l.kind"
        ))?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            latency.push(LatencyLine {
                run_id: r.get(0)?,
                kind: r.get(1)?,
                count: r.get(2)?,
                p50_ns: r.get(3)?,
                p90_ns: r.get(4)?,
                p99_ns: r.get(5)?,
                p999_ns: r.get(6)?,
                max_ns: r.get(7)?,
            });
        }
    }
    if let Some(l) = latency.iter().rev().find(|l| l.kind == "tick_to_trade") {
        series.latency = vec![
            ("p50", l.p50_ns),
            ("p90", l.p90_ns),
            ("p99", l.p99_ns),
            ("p99.9", l.p999_ns),
            ("max", l.max_ns),
        ];
    }

    let mut risk_events = Vec::new();
    {
        let mut st = c.prepare(&format!(
            "SELECT run_id, ts_ns, from_status, to_status, reasons_text FROM risk
             WHERE run_id IN ({id_list}) AND ts_ns >= ?1 AND ts_ns < ?2 ORDER BY seq"
        ))?;
        let mut rows = st.query([a, b])?;
        while let Some(r) = rows.next()? {
            let reasons: String = r.get(4)?;
            risk_events.push(RiskLine {
                run_id: r.get(0)?,
                ts_ns: r.get(1)?,
                from: r.get(2)?,
                to: r.get(3)?,
                reasons: reasons
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            });
        }
    }

    let exposure = if run_ns <= 0 {
        "0.0000".into()
    } else {
        ratio(hold_ns as f64 / run_ns as f64)
    };
    let report = Report {
        period: period.as_str().into(),
        from: date_of_ns(a),
        to: date_of_ns(b - 1),
        from_ns: a,
        to_ns: b,
        kind: kind.into(),
        venue,
        symbol,
        quote,
        runs: in_range.len() as u64,
        restarts: (in_range.len() as u64).saturating_sub(1),
        unclean_runs: unclean,
        uptime_s: (run_ns / 1_000_000_000) as u64,
        signals,
        orders,
        fills,
        cancels,
        rejects,
        trades: n,
        wins,
        win_rate,
        gross_pnl: m(gross),
        fees: m(fees),
        net_pnl: m(net),
        profit_factor,
        max_drawdown: m(max_dd),
        sharpe_per_trade: sharpe,
        exposure,
        daily: by_day
            .iter()
            .map(|(d, v)| DayLine {
                date: date_of_ns(d * DAY_NS),
                trades: v.0,
                net_pnl: m(v.1),
            })
            .collect(),
        latency,
        risk_events,
    };
    Ok((report, series))
}

fn us(ns: i64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

/// The Markdown report; `charts` are file names of images beside it.
pub fn markdown(r: &Report, charts: &[(&str, String)]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# obi-scalp {} report: {} {} ({} to {})\n",
        r.period, r.venue, r.symbol, r.from, r.to
    );
    let _ = writeln!(
        s,
        "Runs of kind `{}` in the journal. Money in {}.\n",
        r.kind, r.quote
    );
    let _ = writeln!(s, "| figure | value |\n|---|---|");
    let rows: Vec<(&str, String)> = vec![
        ("net PnL", r.net_pnl.clone()),
        ("gross PnL", r.gross_pnl.clone()),
        ("fees", r.fees.clone()),
        ("trades", r.trades.to_string()),
        ("wins", r.wins.to_string()),
        ("win rate", r.win_rate.clone()),
        ("profit factor", r.profit_factor.clone()),
        ("max drawdown", r.max_drawdown.clone()),
        ("Sharpe per trade", r.sharpe_per_trade.clone()),
        ("exposure (time in a position)", r.exposure.clone()),
        ("signals", r.signals.to_string()),
        ("orders", r.orders.to_string()),
        ("fills", r.fills.to_string()),
        ("cancels", r.cancels.to_string()),
        ("rejects", r.rejects.to_string()),
        ("risk events", r.risk_events.len().to_string()),
        ("runs", r.runs.to_string()),
        ("restarts", r.restarts.to_string()),
        ("unclean runs", r.unclean_runs.to_string()),
        ("uptime (s)", r.uptime_s.to_string()),
    ];
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    if !r.daily.is_empty() {
        let _ = writeln!(
            s,
            "\n## Daily\n\n| date | trades | net PnL |\n|---|---|---|"
        );
        for d in &r.daily {
            let _ = writeln!(s, "| {} | {} | {} |", d.date, d.trades, d.net_pnl);
        }
    }
    let _ = writeln!(s, "\n## Latency (µs)\n");
    if r.latency.is_empty() {
        let _ = writeln!(s, "No latency samples (a replay has none).");
    } else {
        let _ = writeln!(
            s,
            "| run | kind | count | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|---|"
        );
        for l in &r.latency {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                l.run_id,
                l.kind,
                l.count,
                us(l.p50_ns),
                us(l.p90_ns),
                us(l.p99_ns),
                us(l.p999_ns),
                us(l.max_ns)
            );
        }
    }
    let _ = writeln!(s, "\n## Risk events\n");
    if r.risk_events.is_empty() {
        let _ = writeln!(s, "None.");
    } else {
        let _ = writeln!(
            s,
            "| run | time (ns) | from | to | reasons |\n|---|---|---|---|---|"
        );
        for e in &r.risk_events {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                e.run_id,
                e.ts_ns,
                e.from,
                e.to,
                e.reasons.join(", ")
            );
        }
    }
    if !charts.is_empty() {
        let _ = writeln!(s, "\n## Charts\n");
        for (title, file) in charts {
            let _ = writeln!(s, "![{title}]({file})\n");
            if let Some(stem) = file.strip_suffix(".png") {
                let _ = writeln!(s, "[{title} as SVG]({stem}.svg)\n");
            }
        }
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A self-contained HTML page: the Markdown's tables, the SVG charts inline.
pub fn html(r: &Report, svgs: &[(&str, String)]) -> String {
    let mut s = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>obi-scalp report</title>\n\
         <style>body{font-family:sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse}\
         td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}td:first-child{text-align:left}\
         </style></head><body>\n",
    );
    let md = markdown(r, &[]);
    // A small Markdown subset: headings, tables, paragraphs.
    let mut in_table = false;
    for line in md.lines() {
        if let Some(t) = line.strip_prefix("## ") {
            let _ = writeln!(s, "<h2>{}</h2>", esc(t));
        } else if let Some(t) = line.strip_prefix("# ") {
            let _ = writeln!(s, "<h1>{}</h1>", esc(t));
        } else if line.starts_with('|') {
            if line.starts_with("|---") {
                continue;
            }
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            if !in_table {
                in_table = true;
                s.push_str("<table><tr>");
                for c in cells {
                    let _ = write!(s, "<th>{}</th>", esc(c));
                }
                s.push_str("</tr>\n");
            } else {
                s.push_str("<tr>");
                for c in cells {
                    let _ = write!(s, "<td>{}</td>", esc(c));
                }
                s.push_str("</tr>\n");
            }
        } else {
            if in_table {
                in_table = false;
                s.push_str("</table>\n");
            }
            if !line.trim().is_empty() {
                let _ = writeln!(s, "<p>{}</p>", esc(line).replace('`', ""));
            }
        }
    }
    if in_table {
        s.push_str("</table>\n");
    }
    for (title, svg) in svgs {
        let _ = writeln!(s, "<h2>{}</h2>", esc(title));
        // The SVG document without its XML declaration.
        let body = svg.find("<svg").map(|i| &svg[i..]).unwrap_or(svg.as_str());
        s.push_str(body);
        s.push('\n');
    }
    s.push_str("</body></html>\n");
    s
}
