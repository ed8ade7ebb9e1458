//! Walk-forward: the best point on each training window, scored out of sample on the test
//! window after it, so that overfitting shows as in-sample figures the test windows do not keep.

use super::{best, sum_exact, Objective, Row};
use crate::replay::Window;
use serde::Serialize;

/// `train=3d,test=1d[,step=1d]` in ns (`step` defaults to `test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkSpec {
    pub train_ns: u64,
    pub test_ns: u64,
    pub step_ns: u64,
}

/// A duration: a whole number with `s`, `m`, `h` or `d`.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let per: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "`{s}`: expected a whole number with s, m, h or d (e.g. 20s, 3d)"
            ))
        }
    };
    num.parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .and_then(|n| n.checked_mul(per))
        .and_then(|n| n.checked_mul(1_000_000_000))
        .ok_or_else(|| format!("`{s}`: expected a positive whole number before the unit"))
}

pub fn parse_walk(spec: &str) -> Result<WalkSpec, String> {
    let bad = |why: String| format!("--walk-forward {spec}: {why}");
    let (mut train, mut test, mut step) = (None, None, None);
    for part in spec.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| bad("expected train=D,test=D[,step=D]".into()))?;
        let d = parse_duration(v).map_err(|e| bad(format!("{}: {e}", k.trim())))?;
        match k.trim() {
            "train" => train = Some(d),
            "test" => test = Some(d),
            "step" => step = Some(d),
            other => return Err(bad(format!("unknown part `{other}` (train, test, step)"))),
        }
    }
    let train_ns = train.ok_or_else(|| bad("train= is missing".into()))?;
    let test_ns = test.ok_or_else(|| bad("test= is missing".into()))?;
    Ok(WalkSpec {
        train_ns,
        test_ns,
        step_ns: step.unwrap_or(test_ns),
    })
}

/// Training and test windows over `[first_ns, last_ns]`: starting at `first_ns`, moved by
/// `step`, while the test window starts before the last record (the last one may be cut short
/// by the end of the data; the report gives each window's record count).
pub fn windows(spec: WalkSpec, first_ns: u64, last_ns: u64) -> Vec<(Window, Window)> {
    let mut out = Vec::new();
    let mut t = first_ns;
    while t.saturating_add(spec.train_ns) <= last_ns {
        let mid = t + spec.train_ns;
        out.push((
            Window {
                trade_from_ns: t,
                until_ns: mid,
            },
            Window {
                trade_from_ns: mid,
                until_ns: mid.saturating_add(spec.test_ns),
            },
        ));
        t = t.saturating_add(spec.step_ns);
    }
    out
}

/// One window as run: (train, test) windows, their record counts, the training rows and the
/// best point's test row.
pub type WindowRun = ((Window, Window), (u64, u64), Vec<Row>, Option<Row>);

/// One window of the report.
#[derive(Debug, Clone, Serialize)]
pub struct WindowReport {
    pub window: usize,
    /// Seconds from the first record (exact to the ns as decimals).
    pub train_from_s: String,
    pub train_until_s: String,
    pub test_from_s: String,
    pub test_until_s: String,
    pub train_records: u64,
    pub test_records: u64,
    /// The best training point (none when no point made the minimum trades).
    pub best: Option<Row>,
    /// The same point on the test window.
    pub out_of_sample: Option<Row>,
}

/// The walk-forward report (`walk_forward.json`).
#[derive(Debug, Clone, Serialize)]
pub struct WalkReport {
    pub objective: Objective,
    pub min_trades: u64,
    pub quote: String,
    pub train_s: u64,
    pub test_s: u64,
    pub step_s: u64,
    pub windows: Vec<WindowReport>,
    /// Sums over windows: in-sample (best training rows) and out-of-sample (their test rows).
    pub in_sample_trades: u64,
    pub in_sample_net_pnl: String,
    pub out_of_sample_trades: u64,
    pub out_of_sample_net_pnl: String,
}

fn secs(ns: u64) -> String {
    super::fmt_scaled(ns as i128, 9)
}

impl WalkReport {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        objective: Objective,
        min_trades: u64,
        quote: String,
        spec: WalkSpec,
        first_ns: u64,
        per_window: Vec<WindowRun>,
    ) -> WalkReport {
        let mut windows = Vec::new();
        for (i, ((tr, te), (nr_tr, nr_te), train_rows, oos)) in per_window.into_iter().enumerate() {
            windows.push(WindowReport {
                window: i,
                train_from_s: secs(tr.trade_from_ns - first_ns),
                train_until_s: secs(tr.until_ns - first_ns),
                test_from_s: secs(te.trade_from_ns - first_ns),
                test_until_s: secs(te.until_ns - first_ns),
                train_records: nr_tr,
                test_records: nr_te,
                best: best(&train_rows, objective, min_trades).cloned(),
                out_of_sample: oos,
            });
        }
        let is: Vec<&Row> = windows.iter().filter_map(|w| w.best.as_ref()).collect();
        let oos: Vec<&Row> = windows
            .iter()
            .filter_map(|w| w.out_of_sample.as_ref())
            .collect();
        WalkReport {
            objective,
            min_trades,
            quote,
            train_s: spec.train_ns / 1_000_000_000,
            test_s: spec.test_ns / 1_000_000_000,
            step_s: spec.step_ns / 1_000_000_000,
            in_sample_trades: is.iter().map(|r| r.trades).sum(),
            in_sample_net_pnl: sum_exact(is.iter().map(|r| r.net_pnl.as_str())),
            out_of_sample_trades: oos.iter().map(|r| r.trades).sum(),
            out_of_sample_net_pnl: sum_exact(oos.iter().map(|r| r.net_pnl.as_str())),
            windows,
        }
    }

    /// `walk_forward.csv`: one line per window, in-sample next to out-of-sample.
    pub fn csv(&self, keys: &[String]) -> String {
        let q = self.quote.to_lowercase();
        let mut s = format!(
            "window,train_from_s,train_until_s,test_from_s,test_until_s,train_records,test_records,best_point,{},is_trades,is_net_pnl_{q},is_profit_factor,is_sharpe_per_trade,oos_trades,oos_net_pnl_{q},oos_profit_factor,oos_sharpe_per_trade\n",
            keys.join(",")
        );
        for w in &self.windows {
            let dash = |n: usize| vec![""; n].join(",");
            let (bp, vals, is) = match &w.best {
                Some(b) => (
                    b.point.to_string(),
                    b.values.join(","),
                    format!(
                        "{},{},{},{}",
                        b.trades, b.net_pnl, b.profit_factor, b.sharpe_per_trade
                    ),
                ),
                None => (String::new(), dash(keys.len()), dash(4)),
            };
            let oos = match &w.out_of_sample {
                Some(o) => format!(
                    "{},{},{},{}",
                    o.trades, o.net_pnl, o.profit_factor, o.sharpe_per_trade
                ),
                None => dash(4),
            };
            s.push_str(&format!(
                "{},{},{},{},{},{},{},{bp},{vals},{is},{oos}\n",
                w.window,
                w.train_from_s,
                w.train_until_s,
                w.test_from_s,
                w.test_until_s,
                w.train_records,
                w.test_records
            ));
        }
        s
    }

    /// The human table.
    pub fn human(&self) -> String {
        let mut s = format!(
            "walk-forward train {} s, test {} s, step {} s, objective {}, min trades {} (PnL in {})\n",
            self.train_s, self.test_s, self.step_s, self.objective.as_str(), self.min_trades, self.quote
        );
        for w in &self.windows {
            match (&w.best, &w.out_of_sample) {
                (Some(b), Some(o)) => s.push_str(&format!(
                    "window {} train [{}, {}) s: point {} in-sample {} trades net {} | test [{}, {}) s: out-of-sample {} trades net {}\n",
                    w.window, w.train_from_s, w.train_until_s, b.point, b.trades, b.net_pnl,
                    w.test_from_s, w.test_until_s, o.trades, o.net_pnl
                )),
                _ => s.push_str(&format!(
                    "window {} train [{}, {}) s: no point with >= {} trades\n",
                    w.window, w.train_from_s, w.train_until_s, self.min_trades
                )),
            }
        }
        s.push_str(&format!(
            "overall: in-sample {} trades net {}; out-of-sample {} trades net {}\n",
            self.in_sample_trades,
            self.in_sample_net_pnl,
            self.out_of_sample_trades,
            self.out_of_sample_net_pnl
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_windows() {
        assert_eq!(parse_duration("20s").unwrap(), 20_000_000_000);
        assert_eq!(parse_duration("3d").unwrap(), 3 * 86_400 * 1_000_000_000);
        assert!(parse_duration("1.5h").is_err() && parse_duration("0s").is_err());
        assert!(parse_duration("10").is_err());
        let w = parse_walk("train=20s,test=10s").unwrap();
        assert_eq!(w.step_ns, 10_000_000_000);
        assert!(parse_walk("train=20s")
            .unwrap_err()
            .contains("test= is missing"));
        assert!(parse_walk("train=20s,test=1x")
            .unwrap_err()
            .contains("test"));
        let s = 1_000_000_000u64;
        let ws = windows(w, 100 * s, 144 * s);
        assert_eq!(ws.len(), 3);
        assert_eq!(ws[0].0.trade_from_ns, 100 * s);
        assert_eq!(ws[0].1.trade_from_ns, 120 * s);
        assert_eq!(ws[2].1.until_ns, 150 * s);
        assert_eq!(sum_exact(["1.50", "-0.25", "2"]), "3.25");
    }
}
