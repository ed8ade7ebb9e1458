//! The report's charts as SVG, drawn by this file (no plotting crate: the bundled SQLite already
//! costs the build 18.6 s, and four chart kinds need about 300 lines).
//!
//! - [`equity`]: the chained net PnL over time (a polyline), with [`drawdown`] beneath it as the
//!   fall from the running peak (drawn at or below zero);
//! - [`daily_pnl`]: one bar per UTC day, green above zero, red below;
//! - [`trade_histogram`]: how many closed trades fall in each PnL bin;
//! - [`latency`]: the tick-to-trade percentiles of the last run with samples, in µs.
//!
//! Every axis says its unit: money in the quote currency, time in UTC (the tick labels' format
//! follows the span: seconds, minutes, days). Bars carry a `<title>` with their exact value, shown
//! on hover. Coordinates come from [`Plot`], which the tests use to check a chart against its data.
//! A series longer than [`MAX_POINTS`] is thinned to the first, lowest, highest and last point of
//! each pixel column, so its extremes stay drawn.

use super::report::{date_of_ns, Series};
use crate::msg::Money;
use std::fmt::Write as _;

pub const WIDTH: f64 = 800.0;
pub const HEIGHT: f64 = 320.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 52.0;
/// A polyline with more points is thinned per pixel column.
pub const MAX_POINTS: usize = 4000;

const SEC: i64 = 1_000_000_000;

/// The plot area and the data range it shows; maps data to pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plot {
    pub x0: f64,
    pub x1: f64,
    pub y0: f64,
    pub y1: f64,
}

impl Plot {
    pub fn px(&self, x: f64) -> f64 {
        let w = WIDTH - LEFT - RIGHT;
        if self.x1 <= self.x0 {
            return LEFT + w / 2.0;
        }
        LEFT + (x - self.x0) / (self.x1 - self.x0) * w
    }
    pub fn py(&self, y: f64) -> f64 {
        let h = HEIGHT - TOP - BOTTOM;
        TOP + h - (y - self.y0) / (self.y1 - self.y0) * h
    }
}

/// A "nice" step (1, 2 or 5 times a power of ten) giving about `n` intervals over `span`.
fn nice_step(span: f64, n: f64) -> f64 {
    if span.is_nan() || span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / n;
    let p = 10f64.powf(raw.log10().floor());
    let f = raw / p;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * p
}

/// The value axis: `[lo, hi]` widened to nice ticks and to include zero.
fn value_axis(lo: f64, hi: f64) -> (f64, f64, f64) {
    let (mut lo, mut hi) = (lo.min(0.0), hi.max(0.0));
    if hi - lo <= 0.0 {
        hi = lo + 1.0;
    }
    let step = nice_step(hi - lo, 5.0);
    lo = (lo / step).floor() * step;
    hi = (hi / step).ceil() * step;
    (lo, hi, step)
}

fn decimals_for(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    }
}

/// A time step from a fixed ladder giving at most about 7 ticks over `span_ns`.
fn time_step(span_ns: i64) -> i64 {
    const MS: i64 = 1_000_000;
    const STEPS: &[i64] = &[
        10 * MS,
        20 * MS,
        50 * MS,
        100 * MS,
        200 * MS,
        500 * MS,
        SEC,
        2 * SEC,
        5 * SEC,
        10 * SEC,
        15 * SEC,
        30 * SEC,
        60 * SEC,
        120 * SEC,
        300 * SEC,
        600 * SEC,
        900 * SEC,
        1800 * SEC,
        3600 * SEC,
        7200 * SEC,
        3 * 3600 * SEC,
        6 * 3600 * SEC,
        12 * 3600 * SEC,
        86_400 * SEC,
        2 * 86_400 * SEC,
        7 * 86_400 * SEC,
        14 * 86_400 * SEC,
    ];
    for s in STEPS {
        if span_ns / s <= 7 {
            return *s;
        }
    }
    28 * 86_400 * SEC
}

fn time_label(ns: i64, step: i64) -> String {
    let sod = ns.rem_euclid(86_400 * SEC) / SEC;
    let (h, m, s) = (sod / 3600, sod / 60 % 60, sod % 60);
    if step >= 86_400 * SEC {
        date_of_ns(ns)[5..].to_string()
    } else if step >= 60 * SEC {
        format!("{h:02}:{m:02}")
    } else if step >= SEC {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        let ms = ns.rem_euclid(SEC) / 1_000_000;
        if step >= 100_000_000 {
            format!("{h:02}:{m:02}:{s:02}.{}", ms / 100)
        } else {
            format!("{h:02}:{m:02}:{s:02}.{:02}", ms / 10)
        }
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

struct Canvas {
    s: String,
}

impl Canvas {
    fn new(title: &str) -> Canvas {
        let mut s = String::new();
        let _ = write!(
            s,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
             viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
            WIDTH / 2.0,
            esc(title)
        );
        Canvas { s }
    }

    /// Horizontal grid lines and labels of the value axis, its unit rotated beside it.
    fn y_axis(&mut self, p: &Plot, step: f64, unit: &str) {
        let dec = decimals_for(step);
        let n = ((p.y1 - p.y0) / step).round() as i64;
        for i in 0..=n {
            let v = p.y0 + i as f64 * step;
            let y = p.py(v);
            let (stroke, w) = if v.abs() < step / 2.0 {
                ("#444", 1.2)
            } else {
                ("#ddd", 1.0)
            };
            let _ = writeln!(
                self.s,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{stroke}\" stroke-width=\"{w}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v:.dec$}</text>",
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
            );
        }
        let cy = TOP + (HEIGHT - TOP - BOTTOM) / 2.0;
        let _ = writeln!(
            self.s,
            "<text x=\"16\" y=\"{cy:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {cy:.1})\">{}</text>",
            esc(unit)
        );
    }

    /// Time ticks along the bottom, with the axis caption naming the UTC dates shown.
    fn time_axis(&mut self, p: &Plot) {
        let (a, b) = (p.x0 as i64, p.x1 as i64);
        let step = time_step(b - a);
        let mut t = a.div_euclid(step) * step;
        if t < a {
            t += step;
        }
        while t <= b {
            let x = p.px(t as f64);
            let _ = writeln!(
                self.s,
                "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                HEIGHT - BOTTOM,
                HEIGHT - BOTTOM + 16.0,
                time_label(t, step)
            );
            t += step;
        }
        let (da, db) = (date_of_ns(a), date_of_ns(b));
        let dates = if da == db {
            da
        } else {
            format!("{da} to {db}")
        };
        self.caption(&format!("time (UTC), {dates}"));
    }

    fn caption(&mut self, text: &str) {
        let _ = writeln!(
            self.s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
            HEIGHT - 10.0,
            esc(text)
        );
    }

    fn frame(&mut self) {
        let _ = writeln!(
            self.s,
            "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#888\"/>",
            WIDTH - LEFT - RIGHT,
            HEIGHT - TOP - BOTTOM
        );
    }

    fn empty(mut self, what: &str) -> String {
        let _ = writeln!(
            self.s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#666\">{}</text>",
            WIDTH / 2.0,
            HEIGHT / 2.0,
            esc(what)
        );
        self.finish()
    }

    fn finish(mut self) -> String {
        self.s.push_str("</svg>\n");
        self.s
    }
}

/// Points of a time series, thinned to the first, lowest, highest and last point per pixel column
/// when longer than [`MAX_POINTS`] (in time order).
pub fn thin(points: &[(i64, f64)], p: &Plot) -> Vec<(i64, f64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(MAX_POINTS);
    let mut i = 0;
    while i < points.len() {
        let col = p.px(points[i].0 as f64) as i64;
        let mut j = i;
        let (mut lo, mut hi) = (i, i);
        while j < points.len() && p.px(points[j].0 as f64) as i64 == col {
            if points[j].1 < points[lo].1 {
                lo = j;
            }
            if points[j].1 > points[hi].1 {
                hi = j;
            }
            j += 1;
        }
        let mut keep = [i, lo, hi, j - 1];
        keep.sort_unstable();
        let mut last = usize::MAX;
        for k in keep {
            if k != last {
                out.push(points[k]);
                last = k;
            }
        }
        i = j;
    }
    out
}

/// The plot a time series is drawn in.
pub fn time_plot(points: &[(i64, f64)]) -> (Plot, f64) {
    let x0 = points.first().map_or(0, |p| p.0) as f64;
    let x1 = points.last().map_or(0, |p| p.0) as f64;
    let lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let (y0, y1, step) = value_axis(lo, hi);
    (Plot { x0, x1, y0, y1 }, step)
}

fn line_chart(title: &str, unit: &str, points: &[(i64, f64)], color: &str, fill: bool) -> String {
    let mut c = Canvas::new(title);
    if points.is_empty() {
        return c.empty("no equity points in this range");
    }
    let (p, step) = time_plot(points);
    c.y_axis(&p, step, unit);
    c.time_axis(&p);
    let pts = thin(points, &p);
    let mut d = String::new();
    for (x, y) in &pts {
        let _ = write!(d, "{:.1},{:.1} ", p.px(*x as f64), p.py(*y));
    }
    if fill {
        // The area between the line and zero.
        let z = p.py(0.0);
        let _ = writeln!(
            c.s,
            "<polygon points=\"{:.1},{z:.1} {d}{:.1},{z:.1}\" fill=\"{color}\" fill-opacity=\"0.25\" stroke=\"none\"/>",
            p.px(pts[0].0 as f64),
            p.px(pts[pts.len() - 1].0 as f64)
        );
    }
    let _ = writeln!(
        c.s,
        "<polyline class=\"series\" points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\"/>",
        d.trim_end()
    );
    c.frame();
    c.finish()
}

fn money_points(s: &Series, v: &[(i64, Money)]) -> Vec<(i64, f64)> {
    v.iter().map(|(t, m)| (*t, s.to_f64(*m))).collect()
}

/// The equity curve: the net PnL chained over the range's runs.
pub fn equity(s: &Series) -> String {
    line_chart(
        "Equity (net PnL, chained over runs)",
        &format!("net PnL ({})", s.quote),
        &money_points(s, &s.equity),
        "#1f5fbf",
        false,
    )
}

/// The drawdown series: `v - running peak` (zero or below) at each equity point.
pub fn drawdown_points(s: &Series) -> Vec<(i64, Money)> {
    let mut peak: Money = 0;
    s.equity
        .iter()
        .map(|(t, v)| {
            peak = peak.max(*v);
            (*t, *v - peak)
        })
        .collect()
}

/// The drawdown from the running peak, drawn below zero.
pub fn drawdown(s: &Series) -> String {
    line_chart(
        "Drawdown from the running equity peak",
        &format!("drawdown ({})", s.quote),
        &money_points(s, &drawdown_points(s)),
        "#c03030",
        true,
    )
}

struct Bar {
    label: String,
    value: f64,
    title: String,
}

/// `signed`: green above zero, red below; `counts`: the value axis steps by whole numbers.
fn bar_chart(
    title: &str,
    unit: &str,
    caption: &str,
    bars: &[Bar],
    signed: bool,
    counts: bool,
) -> String {
    let mut c = Canvas::new(title);
    if bars.is_empty() {
        return c.empty("nothing in this range");
    }
    let lo = bars.iter().map(|b| b.value).fold(f64::INFINITY, f64::min);
    let hi = bars
        .iter()
        .map(|b| b.value)
        .fold(f64::NEG_INFINITY, f64::max);
    let (y0, mut y1, mut step) = value_axis(lo, hi);
    if counts && step < 1.0 {
        step = 1.0;
        y1 = y1.ceil();
    }
    let p = Plot {
        x0: 0.0,
        x1: bars.len() as f64,
        y0,
        y1,
    };
    c.y_axis(&p, step, unit);
    let slot = (WIDTH - LEFT - RIGHT) / bars.len() as f64;
    let label_every = ((bars.len() as f64 * 60.0 / (WIDTH - LEFT - RIGHT)).ceil() as usize).max(1);
    let z = p.py(0.0);
    let width = (slot * 0.8).clamp(0.5, 60.0);
    for (i, b) in bars.iter().enumerate() {
        let x = p.px(i as f64) + (slot - width) / 2.0;
        let y = p.py(b.value);
        let (top, h) = if y < z { (y, z - y) } else { (z, y - z) };
        let color = if !signed {
            "#5080c0"
        } else if b.value >= 0.0 {
            "#2e9e4a"
        } else {
            "#c03030"
        };
        let _ = writeln!(
            c.s,
            "<rect class=\"bar\" x=\"{x:.1}\" y=\"{top:.1}\" width=\"{width:.1}\" height=\"{h:.1}\" fill=\"{color}\"><title>{}</title></rect>",
            esc(&b.title)
        );
        if i % label_every == 0 {
            let _ = writeln!(
                c.s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
                x + width / 2.0,
                HEIGHT - BOTTOM + 16.0,
                esc(&b.label)
            );
        }
    }
    c.caption(caption);
    c.frame();
    c.finish()
}

/// Net PnL per UTC day; `labels` are the exact money strings of the report's daily table.
pub fn daily_pnl(s: &Series, labels: &[String]) -> String {
    let bars: Vec<Bar> = s
        .daily
        .iter()
        .enumerate()
        .map(|(i, (d, m))| {
            let date = date_of_ns(*d);
            Bar {
                label: date[5..].to_string(),
                value: s.to_f64(*m),
                title: format!(
                    "{date}: {} {}",
                    labels.get(i).map(String::as_str).unwrap_or("?"),
                    s.quote
                ),
            }
        })
        .collect();
    bar_chart(
        "Net PnL per day",
        &format!("net PnL ({})", s.quote),
        "day (UTC, MM-DD)",
        &bars,
        true,
        false,
    )
}

/// The histogram's bins over per-trade net PnL: `(lower edge, upper edge, trades)` in the quote
/// currency; the last bin includes its upper edge.
pub fn trade_bins(s: &Series) -> Vec<(f64, f64, u64)> {
    if s.trades.is_empty() {
        return Vec::new();
    }
    let v: Vec<f64> = s.trades.iter().map(|m| s.to_f64(*m)).collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let n = ((v.len() as f64).sqrt().ceil() as usize).clamp(1, 40);
    // All trades equal: one bin about a fifth of their size wide.
    let span = if hi > lo {
        hi - lo
    } else {
        lo.abs().max(1e-9) / 5.0
    };
    let step = nice_step(span, n as f64);
    let start = (lo / step).floor() * step;
    let bins = (((hi - start) / step).floor() as usize + 1).max(1);
    let mut counts = vec![0u64; bins];
    for x in &v {
        let i = (((x - start) / step).floor() as usize).min(bins - 1);
        counts[i] += 1;
    }
    counts
        .iter()
        .enumerate()
        .map(|(i, c)| (start + i as f64 * step, start + (i + 1) as f64 * step, *c))
        .collect()
}

/// How many closed trades fall in each net PnL bin.
pub fn trade_histogram(s: &Series) -> String {
    let bins = trade_bins(s);
    let step = bins.first().map_or(1.0, |b| b.1 - b.0);
    let dec = decimals_for(step);
    let bars: Vec<Bar> = bins
        .iter()
        .map(|(a, b, n)| Bar {
            label: format!("{a:.dec$}"),
            value: *n as f64,
            title: format!("{a:.dec$} to {b:.dec$} {}: {n} trades", s.quote),
        })
        .collect();
    bar_chart(
        "Closed trades by net PnL",
        "trades",
        &format!("net PnL per trade ({}), lower edge of each bin", s.quote),
        &bars,
        false,
        true,
    )
}

/// The tick-to-trade percentiles of the last run with samples.
pub fn latency(s: &Series) -> String {
    let bars: Vec<Bar> = s
        .latency
        .iter()
        .map(|(k, ns)| Bar {
            label: (*k).to_string(),
            value: *ns as f64 / 1000.0,
            title: format!("{k}: {}.{:03} µs", ns / 1000, ns % 1000),
        })
        .collect();
    if bars.is_empty() {
        return Canvas::new("Tick-to-trade latency")
            .empty("no latency samples (a replay has none)");
    }
    bar_chart(
        "Tick-to-trade latency, percentiles of the last run",
        "tick-to-trade (µs)",
        "percentile",
        &bars,
        false,
        false,
    )
}

/// All charts: `(file stem, title, svg)`.
pub fn all(s: &Series, daily_labels: &[String]) -> Vec<(&'static str, &'static str, String)> {
    vec![
        ("equity", "Equity curve", equity(s)),
        ("drawdown", "Drawdown", drawdown(s)),
        ("daily_pnl", "Net PnL per day", daily_pnl(s, daily_labels)),
        ("trade_pnl", "Closed trades by net PnL", trade_histogram(s)),
        ("latency", "Tick-to-trade latency", latency(s)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Money units are quote units here (`money_per` 1, no decimals).
    fn series(eq: &[(i64, i128)]) -> Series {
        Series {
            equity: eq.to_vec(),
            money_per: 1,
            money_decimals: 0,
            quote: "USDT".into(),
            ..Series::default()
        }
    }

    fn polyline(svg: &str) -> Vec<(f64, f64)> {
        let i = svg
            .find("class=\"series\" points=\"")
            .expect("a series polyline")
            + 23;
        let end = i + svg[i..].find('"').unwrap();
        svg[i..end]
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    fn round1(v: f64) -> f64 {
        (v * 10.0).round() / 10.0
    }

    #[test]
    fn equity_polyline_has_every_point_and_reaches_the_data_extremes() {
        let eq = [
            (0, 0),
            (10, 5),
            (20, -3),
            (30, 12),
            (40, 7),
            (50, -1),
            (60, 4),
        ];
        let s = series(&eq.map(|(t, v)| (t * SEC, v)));
        let svg = equity(&s);
        let pts = polyline(&svg);
        assert_eq!(pts.len(), eq.len());
        let (p, _) = time_plot(&money_points(&s, &s.equity));
        let top = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let bottom = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(top, round1(p.py(12.0)));
        assert_eq!(bottom, round1(p.py(-3.0)));
        assert_eq!(pts[0].0, LEFT);
        assert_eq!(pts[6].0, WIDTH - RIGHT);
        // The axis covers the data and says its unit; time is labelled in UTC.
        assert!(p.y0 <= -3.0 && p.y1 >= 12.0, "{p:?}");
        assert!(svg.contains("net PnL (USDT)"));
        assert!(svg.contains("00:00:30"), "{svg}");
        assert!(svg.contains("time (UTC), 1970-01-01"));
    }

    #[test]
    fn a_long_series_is_thinned_but_keeps_its_extremes() {
        let n = 100_000i64;
        let eq: Vec<(i64, i128)> = (0..n)
            .map(|i| {
                let v = match i {
                    12_345 => 1_000,
                    77_777 => -900,
                    _ => i % 50,
                };
                (i * SEC, i128::from(v))
            })
            .collect();
        let s = series(&eq);
        let pts = polyline(&equity(&s));
        assert!(pts.len() <= MAX_POINTS && pts.len() > 100, "{}", pts.len());
        let (p, _) = time_plot(&money_points(&s, &s.equity));
        assert!(pts.iter().any(|q| q.1 == round1(p.py(1000.0))));
        assert!(pts.iter().any(|q| q.1 == round1(p.py(-900.0))));
        // In time order.
        assert!(pts.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn drawdown_reaches_the_largest_fall_from_the_peak() {
        let s = series(&[(0, 0), (1, 10), (2, 4), (3, 15), (4, 6), (5, 20)]);
        let dd = drawdown_points(&s);
        assert_eq!(dd.iter().map(|d| d.1).min(), Some(-9));
        assert!(dd.iter().all(|d| d.1 <= 0));
        let pts = polyline(&drawdown(&s));
        assert_eq!(pts.len(), 6);
        let (p, _) = time_plot(&money_points(&s, &dd));
        let bottom = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(bottom, round1(p.py(-9.0)));
    }

    fn titles(svg: &str) -> Vec<String> {
        svg.split("<title>")
            .skip(1)
            .map(|t| t[..t.find("</title>").unwrap()].to_string())
            .collect()
    }

    #[test]
    fn the_histogram_counts_every_trade_in_its_bin() {
        let mut s = series(&[]);
        s.trades = vec![-7, -3, -3, 0, 1, 2, 2, 2, 9, 40];
        let bins = trade_bins(&s);
        assert_eq!(bins.iter().map(|b| b.2).sum::<u64>(), 10);
        for t in &s.trades {
            let v = s.to_f64(*t);
            let (i, b) = bins
                .iter()
                .enumerate()
                .find(|(i, b)| v >= b.0 && (v < b.1 || *i == bins.len() - 1))
                .unwrap();
            assert!(b.2 > 0, "trade {v} in empty bin {i}");
        }
        let svg = trade_histogram(&s);
        let counted: u64 = titles(&svg)
            .iter()
            .map(|t| {
                t.rsplit(": ")
                    .next()
                    .unwrap()
                    .trim_end_matches(" trades")
                    .parse::<u64>()
                    .unwrap()
            })
            .sum();
        assert_eq!(counted, 10);
        // Whole-number count axis.
        assert!(!svg.contains(">0.5<"));
    }

    #[test]
    fn daily_bars_carry_the_exact_money_of_their_day() {
        let mut s = series(&[]);
        s.daily = vec![(0, 5), (86_400 * SEC, -2)];
        let svg = daily_pnl(&s, &["5".into(), "-2".into()]);
        assert_eq!(titles(&svg), ["1970-01-01: 5 USDT", "1970-01-02: -2 USDT"]);
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
        assert!(svg.contains("#2e9e4a") && svg.contains("#c03030"));
    }

    #[test]
    fn nice_steps_are_one_two_five() {
        assert_eq!(nice_step(10.0, 5.0), 2.0);
        assert_eq!(nice_step(0.7, 5.0), 0.2);
        assert_eq!(nice_step(300.0, 5.0), 100.0);
        assert_eq!(value_axis(-0.3, 1.7), (-0.5, 2.0, 0.5));
    }

    #[test]
    fn time_labels_follow_the_span() {
        assert_eq!(time_label(3_723 * SEC, 30 * SEC), "01:02:03");
        assert_eq!(time_label(3_723 * SEC, 300 * SEC), "01:02");
        assert_eq!(time_label(40 * 86_400 * SEC, 86_400 * SEC), "02-10");
        assert_eq!(time_step(90 * SEC), 15 * SEC);
        assert_eq!(time_step(3 * 86_400 * SEC), 12 * 3600 * SEC);
        assert_eq!(time_step(2 * SEC), 500_000_000);
        assert_eq!(
            time_label(3_723 * SEC + 500_000_000, 500_000_000),
            "01:02:03.5"
        );
    }
}
