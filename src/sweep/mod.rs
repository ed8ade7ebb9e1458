//! Parameter sweeps over replays: a grid (or a seeded random sample of it) of `[strategy]`,
//! `[risk]` and `[paper]` overrides, each point run through [`replay::run_events`] on decoded
//! inputs shared read-only by `J` threads; walk-forward windows ([`walk`]); shards and their
//! merge.
//!
//! Every point's config is the base config's TOML with the point's values written into it and
//! read by the normal config code, so a bad key or value is refused exactly as in a config
//! file, and `best.toml` is a config `replay` reads to the same figures.

pub mod walk;

use crate::config::Config;
use crate::msg::Money;
use crate::replay::{self, report::Summary, Decoded, Window};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The sections whose keys can be swept.
pub const SECTIONS: [&str; 3] = ["strategy", "risk", "paper"];

/// Most points one sweep may have.
pub const MAX_POINTS: u64 = 10_000_000;

/// One swept key and the values it takes, as exact decimal text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    /// `section.key`.
    pub key: String,
    pub values: Vec<String>,
}

impl Param {
    fn parts(&self) -> (&str, &str) {
        self.key.split_once('.').expect("checked in parse")
    }
}

/// Parses `KEY=lo:hi:step` (exact decimals, both ends included), `KEY=a,b,c` or `KEY=v`.
pub fn parse_param(spec: &str) -> Result<Param, String> {
    let (key, vals) = spec
        .split_once('=')
        .ok_or_else(|| format!("--param {spec}: expected KEY=lo:hi:step or KEY=a,b,c"))?;
    let key = key.trim();
    let bad = |why: String| format!("--param {key}: {why}");
    let Some((sec, name)) = key.split_once('.') else {
        return Err(bad(
            "expected section.key, e.g. strategy.long_threshold".into()
        ));
    };
    if !SECTIONS.contains(&sec) || name.is_empty() || name.contains('.') {
        return Err(bad(format!(
            "only [strategy], [risk] and [paper] keys can be swept, as section.key (got `{key}`)"
        )));
    }
    let vals = vals.trim();
    let values: Vec<String> = if vals.contains(':') {
        let p: Vec<&str> = vals.split(':').map(str::trim).collect();
        if p.len() != 3 {
            return Err(bad(format!("expected lo:hi:step, got `{vals}`")));
        }
        let num = |what: &str, t: &str| {
            crate::num::parse_decimal(t.as_bytes())
                .map_err(|e| bad(format!("{what} `{t}` is not a decimal number ({e})")))
        };
        let (lo, hi, st) = (num("lo", p[0])?, num("hi", p[1])?, num("step", p[2])?);
        let e = lo.1.min(hi.1).min(st.1);
        let scale = |(m, x): (i64, i32)| -> Result<i128, String> {
            10i128
                .checked_pow((x - e) as u32)
                .and_then(|f| (m as i128).checked_mul(f))
                .ok_or_else(|| bad("numbers too large".into()))
        };
        let (lo, hi, st) = (scale(lo)?, scale(hi)?, scale(st)?);
        if st <= 0 {
            return Err(bad(format!("step must be positive, got `{}`", p[2])));
        }
        if lo > hi {
            return Err(bad(format!("lo `{}` is above hi `{}`", p[0], p[1])));
        }
        let n = (hi - lo) / st + 1;
        if n as u64 > MAX_POINTS {
            return Err(bad(format!("{n} values; at most {MAX_POINTS}")));
        }
        (0..n).map(|k| fmt_scaled(lo + k * st, -e)).collect()
    } else {
        vals.split(',').map(|v| v.trim().to_string()).collect()
    };
    if values.iter().any(String::is_empty) {
        return Err(bad(format!("empty value in `{vals}`")));
    }
    Ok(Param {
        key: key.to_string(),
        values,
    })
}

/// `v * 10^-dec` as decimal text.
fn fmt_scaled(v: i128, dec: i32) -> String {
    if dec <= 0 {
        return (v * 10i128.pow((-dec) as u32)).to_string();
    }
    let p = 10i128.pow(dec as u32);
    let sign = if v < 0 { "-" } else { "" };
    let a = v.abs();
    format!("{sign}{}.{:0w$}", a / p, a % p, w = dec as usize)
}

/// A TOML value for a swept value: booleans and integers as such, other numbers as exact
/// decimal strings (the config reads numbers from strings without going through f64).
fn toml_value(v: &str) -> toml::Value {
    match v {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => match v.parse::<i64>() {
            Ok(i) => toml::Value::Integer(i),
            Err(_) => toml::Value::String(v.to_string()),
        },
    }
}

/// Points of the grid: 0..size, the last parameter varying fastest.
pub fn grid_size(params: &[Param]) -> Result<u64, String> {
    let mut n: u64 = 1;
    for p in params {
        n = n
            .checked_mul(p.values.len() as u64)
            .filter(|&n| n <= MAX_POINTS)
            .ok_or_else(|| format!("the grid has more than {MAX_POINTS} points"))?;
    }
    Ok(n)
}

/// The values of grid point `id`.
pub fn point_values(params: &[Param], mut id: u64) -> Vec<String> {
    let mut out = vec![String::new(); params.len()];
    for (i, p) in params.iter().enumerate().rev() {
        let n = p.values.len() as u64;
        out[i] = p.values[(id % n) as usize].clone();
        id /= n;
    }
    out
}

/// splitmix64: a small, well-mixed deterministic generator (the sample must not change with a
/// crate's version).
fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The points a sweep runs, ascending: the whole grid, or `n` distinct points drawn with
/// `seed` (Floyd's sampling; the whole grid when `n` covers it).
pub fn select(size: u64, random: Option<(u64, u64)>) -> Vec<u64> {
    match random {
        Some((n, seed)) if n < size => {
            let mut s = seed;
            let mut chosen = std::collections::BTreeSet::new();
            for j in size - n..size {
                let t = splitmix(&mut s) % (j + 1);
                if !chosen.insert(t) {
                    chosen.insert(j);
                }
            }
            chosen.into_iter().collect()
        }
        _ => (0..size).collect(),
    }
}

/// Shard `i` of `n` (`i` from 0): every `n`-th selected point starting at the `i`-th.
pub fn shard(points: &[u64], i: u64, n: u64) -> Vec<u64> {
    points
        .iter()
        .enumerate()
        .filter(|(k, _)| *k as u64 % n == i)
        .map(|(_, &p)| p)
        .collect()
}

/// Parses `i/n`.
pub fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("--shard {s}: expected i/n with 0 <= i < n, e.g. 0/4");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The base config as a TOML table, and the configs of points.
#[derive(Debug, Clone)]
pub struct Base {
    pub text: String,
    table: toml::Table,
}

impl Base {
    pub fn new(text: &str) -> Result<Base, String> {
        Config::from_toml(text).map_err(|e| format!("config error: {e}"))?;
        let table: toml::Table = text.parse().map_err(|e| format!("config: {e}"))?;
        Ok(Base {
            text: text.to_string(),
            table,
        })
    }

    /// The TOML text of the base with `values` of `params` written in, and its config, checked
    /// by the normal config code (errors name the point and the key).
    pub fn point(&self, params: &[Param], values: &[String]) -> Result<(String, Config), String> {
        let mut t = self.table.clone();
        for (p, v) in params.iter().zip(values) {
            let (sec, name) = p.parts();
            let entry = t
                .entry(sec.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(st) = entry else {
                return Err(format!("--param {}: [{sec}] is not a section", p.key));
            };
            st.insert(name.to_string(), toml_value(v));
        }
        let text = t.to_string();
        let cfg = Config::from_toml(&text).map_err(|e| {
            let point: Vec<String> = params
                .iter()
                .zip(values)
                .map(|(p, v)| format!("{}={v}", p.key))
                .collect();
            format!("--param: point {}: config error: {e}", point.join(" "))
        })?;
        Ok((text, cfg))
    }
}

/// What the best point maximises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    NetPnl,
    Sharpe,
    ProfitFactor,
}

impl std::str::FromStr for Objective {
    type Err = String;
    fn from_str(s: &str) -> Result<Objective, String> {
        match s {
            "net_pnl" => Ok(Objective::NetPnl),
            "sharpe" => Ok(Objective::Sharpe),
            "profit_factor" => Ok(Objective::ProfitFactor),
            _ => Err(format!(
                "--objective: expected net_pnl, sharpe or profit_factor, got `{s}`"
            )),
        }
    }
}

impl Objective {
    pub fn as_str(self) -> &'static str {
        match self {
            Objective::NetPnl => "net_pnl",
            Objective::Sharpe => "sharpe",
            Objective::ProfitFactor => "profit_factor",
        }
    }
}

/// One point's figures: money as exact decimals in the quote currency, ratios as the replay
/// summary prints them (4 decimals).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub point: u64,
    pub values: Vec<String>,
    pub trades: u64,
    pub wins: u64,
    /// Fraction of trades with positive net PnL.
    pub win_rate: String,
    pub gross_pnl: String,
    pub fees: String,
    pub net_pnl: String,
    /// Money won over money lost (ratio; `inf` with no losing trade).
    pub profit_factor: String,
    pub max_drawdown: String,
    /// Mean over standard deviation of per-trade returns (net PnL / entry value); not annualised.
    pub sharpe_per_trade: String,
}

impl Row {
    pub fn new(point: u64, values: Vec<String>, s: &Summary) -> Row {
        Row {
            point,
            values,
            trades: s.trades,
            wins: s.wins,
            win_rate: s.win_rate.clone(),
            gross_pnl: s.gross_pnl.clone(),
            fees: s.fees.clone(),
            net_pnl: s.net_pnl.clone(),
            profit_factor: s.profit_factor.clone(),
            max_drawdown: s.max_drawdown.clone(),
            sharpe_per_trade: s.sharpe_per_trade.clone(),
        }
    }

    /// Net PnL exactly, in units of `10^-scale` of the quote currency.
    fn net_units(&self) -> (i128, u32) {
        exact(&self.net_pnl)
    }
}

/// An exact decimal as (integer, decimals).
fn exact(s: &str) -> (i128, u32) {
    let (neg, b) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (i, f) = b.split_once('.').unwrap_or((b, ""));
    let digits = format!("{i}{f}");
    let v: i128 = digits.parse().unwrap_or(0);
    (if neg { -v } else { v }, f.len() as u32)
}

/// Compares two exact decimals.
fn cmp_exact(a: (i128, u32), b: (i128, u32)) -> std::cmp::Ordering {
    let d = a.1.max(b.1);
    let up = |(v, s): (i128, u32)| v.saturating_mul(10i128.pow(d - s));
    up(a).cmp(&up(b))
}

fn ratio(s: &str) -> f64 {
    s.parse::<f64>().unwrap_or(f64::NEG_INFINITY)
}

/// Orders rows by the objective, better first; ties: the lower point id.
pub fn rank(a: &Row, b: &Row, obj: Objective) -> std::cmp::Ordering {
    let by = match obj {
        Objective::NetPnl => cmp_exact(b.net_units(), a.net_units()),
        Objective::Sharpe => ratio(&b.sharpe_per_trade).total_cmp(&ratio(&a.sharpe_per_trade)),
        Objective::ProfitFactor => ratio(&b.profit_factor).total_cmp(&ratio(&a.profit_factor)),
    };
    by.then(a.point.cmp(&b.point))
}

/// The best row with at least `min_trades` trades.
pub fn best(rows: &[Row], obj: Objective, min_trades: u64) -> Option<&Row> {
    rows.iter()
        .filter(|r| r.trades >= min_trades)
        .min_by(|a, b| rank(a, b, obj))
}

/// Runs `configs` on `d` (restricted to `window`) on `jobs` threads; summaries in the order of
/// `configs`. `done` counts finished points (for a progress display on another thread).
pub fn run_all(
    configs: &[Config],
    d: &Decoded,
    window: Option<Window>,
    jobs: usize,
    done: &AtomicUsize,
) -> Result<Vec<Summary>, String> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Summary, String>>>> =
        Mutex::new((0..configs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(configs.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(cfg) = configs.get(i) else { break };
                let r = replay::run_events(cfg, d, window);
                results.lock().expect("no panics holding it")[i] = Some(r);
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
    });
    results
        .into_inner()
        .expect("no panics holding it")
        .into_iter()
        .map(|r| r.expect("every point ran"))
        .collect()
}

/// The exact sum of decimal amounts (all in the same currency).
pub fn sum_exact<'a>(xs: impl IntoIterator<Item = &'a str>) -> String {
    let mut acc: (Money, u32) = (0, 0);
    for x in xs {
        let (v, s) = exact(x);
        let d = acc.1.max(s);
        acc = (acc.0 * 10i128.pow(d - acc.1) + v * 10i128.pow(d - s), d);
    }
    fmt_scaled(acc.0, acc.1 as i32)
}

/// The whole output of a sweep (`results.json`): what was swept and one row per point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub objective: Objective,
    pub min_trades: u64,
    /// Quote currency of every money column.
    pub quote: String,
    pub params: Vec<Param>,
    /// Points selected before sharding (a complete merge has this many rows).
    pub points_selected: u64,
    pub base_config: String,
    pub rows: Vec<Row>,
    pub best: Option<Row>,
}

impl Results {
    /// `results.csv`: one line per point.
    pub fn csv(&self) -> String {
        let q = self.quote.to_lowercase();
        let mut s = String::from("point");
        for p in &self.params {
            s.push(',');
            s.push_str(&p.key);
        }
        s.push_str(&format!(
            ",trades,wins,win_rate,gross_pnl_{q},fees_{q},net_pnl_{q},profit_factor,max_drawdown_{q},sharpe_per_trade\n"
        ));
        for r in &self.rows {
            s.push_str(&r.point.to_string());
            for v in &r.values {
                s.push(',');
                s.push_str(v);
            }
            s.push_str(&format!(
                ",{},{},{},{},{},{},{},{},{}\n",
                r.trades,
                r.wins,
                r.win_rate,
                r.gross_pnl,
                r.fees,
                r.net_pnl,
                r.profit_factor,
                r.max_drawdown,
                r.sharpe_per_trade
            ));
        }
        s
    }

    /// `best.toml`: the base config with the best point's values.
    pub fn best_toml(&self) -> Result<Option<String>, String> {
        let Some(b) = &self.best else { return Ok(None) };
        let base = Base::new(&self.base_config)?;
        let (text, _) = base.point(&self.params, &b.values)?;
        Ok(Some(format!(
            "# obi-scalp sweep: best point {} by {} (min trades {}): {}\n{text}",
            b.point,
            self.objective.as_str(),
            self.min_trades,
            self.params
                .iter()
                .zip(&b.values)
                .map(|(p, v)| format!("{}={v}", p.key))
                .collect::<Vec<_>>()
                .join(" ")
        )))
    }

    /// Sorts rows by point and picks the best.
    pub fn finish(&mut self) {
        self.rows.sort_by_key(|r| r.point);
        self.best = best(&self.rows, self.objective, self.min_trades).cloned();
    }

    /// Writes results.csv, results.json and (when a point qualifies) best.toml into `dir`.
    pub fn write(&self, dir: &std::path::Path) -> Result<(), String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let json = serde_json::to_string_pretty(self).expect("results serialize") + "\n";
        let mut files = vec![("results.csv", self.csv()), ("results.json", json)];
        let best_path = dir.join("best.toml");
        match self.best_toml()? {
            Some(t) => files.push(("best.toml", t)),
            None => {
                let _ = std::fs::remove_file(&best_path);
            }
        }
        for (name, data) in files {
            let p = dir.join(name);
            crate::ops::artifacts::write_atomic(&p, data.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        }
        Ok(())
    }

    /// Combines shard outputs into the results of one unsharded run.
    pub fn merge(parts: Vec<Results>) -> Result<Results, String> {
        let mut it = parts.into_iter();
        let mut all = it.next().ok_or("nothing to merge")?;
        for p in it {
            if p.params != all.params
                || p.base_config != all.base_config
                || p.objective != all.objective
                || p.min_trades != all.min_trades
                || p.points_selected != all.points_selected
            {
                return Err(
                    "the shards come from different sweeps (parameters, config, objective or min-trades differ)"
                        .into(),
                );
            }
            all.rows.extend(p.rows);
        }
        all.rows.sort_by_key(|r| r.point);
        if let Some(w) = all.rows.windows(2).find(|w| w[0].point == w[1].point) {
            return Err(format!("point {} is in two shards", w[0].point));
        }
        if all.rows.len() as u64 != all.points_selected {
            return Err(format!(
                "{} of {} points present: a shard is missing",
                all.rows.len(),
                all.points_selected
            ));
        }
        all.finish();
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_exact_decimals() {
        let p = parse_param("strategy.long_threshold=0.20:0.40:0.05").unwrap();
        assert_eq!(p.values, ["0.20", "0.25", "0.30", "0.35", "0.40"]);
        let p = parse_param("strategy.hold_ms=100,300,500").unwrap();
        assert_eq!(p.values, ["100", "300", "500"]);
        let p = parse_param("paper.taker_fee_bps=5:6:0.5").unwrap();
        assert_eq!(p.values, ["5.0", "5.5", "6.0"]);
        let p = parse_param("strategy.entry_offset=-2:0:1").unwrap();
        assert_eq!(p.values, ["-2", "-1", "0"]);
    }

    #[test]
    fn bad_params_name_the_key() {
        for (spec, want) in [
            ("market.symbol=X", "--param market.symbol: only [strategy]"),
            (
                "strategy.hold_ms=5:1:1",
                "--param strategy.hold_ms: lo `5` is above hi `1`",
            ),
            (
                "strategy.hold_ms=1:5:0",
                "--param strategy.hold_ms: step must be positive",
            ),
            (
                "strategy.hold_ms=1:5",
                "--param strategy.hold_ms: expected lo:hi:step",
            ),
            (
                "strategy.hold_ms=a:5:1",
                "--param strategy.hold_ms: lo `a` is not",
            ),
            ("hold_ms=1", "--param hold_ms: expected section.key"),
        ] {
            let e = parse_param(spec).unwrap_err();
            assert!(e.starts_with(want), "{spec}: {e}");
        }
        let base = Base::new(crate::config::DEFAULT_TOML).unwrap();
        let p = [parse_param("strategy.hold_msx=1").unwrap()];
        let e = base.point(&p, &p[0].values).unwrap_err();
        assert!(e.contains("strategy.hold_msx: unknown key"), "{e}");
        let p = [parse_param("strategy.long_threshold=2").unwrap()];
        let e = base.point(&p, &p[0].values).unwrap_err();
        assert!(
            e.contains("strategy.long_threshold: expected a number from"),
            "{e}"
        );
    }

    #[test]
    fn grid_random_and_shards_are_deterministic() {
        let ps = [
            parse_param("strategy.hold_ms=1,2,3").unwrap(),
            parse_param("strategy.cooldown_ms=10,20").unwrap(),
        ];
        assert_eq!(grid_size(&ps).unwrap(), 6);
        assert_eq!(point_values(&ps, 0), ["1", "10"]);
        assert_eq!(point_values(&ps, 1), ["1", "20"]);
        assert_eq!(point_values(&ps, 5), ["3", "20"]);
        let a = select(1000, Some((50, 7)));
        assert_eq!(a.len(), 50);
        assert_eq!(a, select(1000, Some((50, 7))));
        assert_ne!(a, select(1000, Some((50, 8))));
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a[49] < 1000);
        assert_eq!(select(6, Some((10, 1))), (0..6).collect::<Vec<_>>());
        let mut both = shard(&a, 0, 2);
        both.extend(shard(&a, 1, 2));
        both.sort();
        assert_eq!(both, a);
        assert_eq!(parse_shard("1/2").unwrap(), (1, 2));
        assert!(parse_shard("2/2").is_err() && parse_shard("x").is_err());
    }

    #[test]
    fn ranking_is_exact_on_money() {
        let row = |point, net: &str| Row {
            point,
            values: vec![],
            trades: 1,
            wins: 0,
            win_rate: "0".into(),
            gross_pnl: "0".into(),
            fees: "0".into(),
            net_pnl: net.into(),
            profit_factor: "0".into(),
            max_drawdown: "0".into(),
            sharpe_per_trade: "0".into(),
        };
        // 1e-11 apart: f64 of these values would still order them, but ties must go by point.
        let rows = [
            row(0, "-0.00000000001"),
            row(1, "0.00000000000"),
            row(2, "0.0"),
        ];
        assert_eq!(best(&rows, Objective::NetPnl, 0).unwrap().point, 1);
        assert!(best(&rows, Objective::NetPnl, 2).is_none());
    }
}
