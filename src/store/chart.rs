//! The report's charts, drawn by the `plotters` crate, each once as PNG (its bitmap backend, the
//! PNG encoded by the `png` crate) and once as SVG (its SVG backend), from one description
//! ([`Chart`]) so the two files show the same thing:
//!
//! - [`equity`]: the chained net PnL over time (a line), with [`drawdown`] beneath it as the
//!   fall from the running peak (drawn at or below zero);
//! - [`daily_pnl`]: one bar per UTC day, green above zero, red below;
//! - [`trade_histogram`]: how many closed trades fall in each PnL bin;
//! - [`latency`]: the tick-to-trade percentiles of the last run with samples, in µs (the journal
//!   keeps percentiles, not the samples, so this is the distribution as percentiles).
//!
//! Every axis says its unit: money in the quote currency, time in UTC (the tick labels' format
//! follows the span: seconds, minutes, days). Text is drawn with DejaVu Sans, embedded in the
//! binary (`assets/fonts/`), so the PNG needs no system font library. A series longer than
//! [`MAX_POINTS`] is thinned to the first, lowest, highest and last point of each pixel column,
//! so its extremes stay drawn.

use super::report::{date_of_ns, Series};
use crate::msg::Money;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub const WIDTH: u32 = 900;
pub const HEIGHT: u32 = 360;
/// The plot area's left edge and right margin in pixels (the label area and margins below).
const LEFT: f64 = 94.0;
const RIGHT: f64 = 24.0;
const MARGIN: u32 = 12;
const Y_LABELS: u32 = 82;
const X_LABELS: u32 = 52;
/// A polyline with more points is thinned per pixel column.
pub const MAX_POINTS: usize = 4000;

const SEC: i64 = 1_000_000_000;

const FONT: &str = "sans-serif";

/// Registers the embedded font with plotters (once per process).
fn fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FONT, FontStyle::Normal, super::glyphs::DEJAVU_SANS)
            .is_err()
        {
            panic!("the embedded DejaVu Sans does not parse");
        }
    });
}

/// The data range a chart shows; maps time to pixel columns for thinning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plot {
    pub x0: f64,
    pub x1: f64,
    pub y0: f64,
    pub y1: f64,
}

impl Plot {
    pub fn px(&self, x: f64) -> f64 {
        let w = f64::from(WIDTH) - LEFT - RIGHT;
        if self.x1 <= self.x0 {
            return LEFT + w / 2.0;
        }
        LEFT + (x - self.x0) / (self.x1 - self.x0) * w
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

const LINE_BLUE: RGBColor = RGBColor(0x1f, 0x5f, 0xbf);
const LOSS_RED: RGBColor = RGBColor(0xc0, 0x30, 0x30);
const GAIN_GREEN: RGBColor = RGBColor(0x2e, 0x9e, 0x4a);
const BAR_BLUE: RGBColor = RGBColor(0x50, 0x80, 0xc0);
const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
const ZERO: RGBColor = RGBColor(0x44, 0x44, 0x44);
const NOTE: RGBColor = RGBColor(0x66, 0x66, 0x66);

/// A bar's value and colour.
type Bar = (f64, RGBColor);
/// A label on the x axis at a position.
type Tick = (f64, String);

/// What one chart shows; [`png()`] and [`svg()`] draw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    /// The value axis' caption, with its unit.
    pub y_desc: String,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A time series `(ns, value)` in time order; `fill`: the area between the line and zero is
    /// shaded.
    Line {
        points: Vec<(i64, f64)>,
        color: RGBColor,
        fill: bool,
    },
    /// One bar per slot `i` in `[i, i + 1)`, `(value, colour)`; `ticks`: `(x, label)` along the
    /// bottom; `histogram`: counts (the value axis steps by whole numbers) of bins whose bars
    /// span their slot, edge to edge.
    Bars {
        bars: Vec<Bar>,
        ticks: Vec<Tick>,
        x_desc: String,
        histogram: bool,
    },
    /// Nothing to draw: the message says why.
    Empty(String),
}

/// A linear value axis over `[lo, hi]` whose ticks are the ones given (plotters' own f64 axis
/// picks its ticks and has no default label format, so a mesh cannot take a formatter on it).
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = if self.hi > self.lo {
            (v - self.lo) / (self.hi - self.lo)
        } else {
            0.5
        };
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Bold points only: no light grid between the ticks.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The value axis' ticks: every `step` from `y0` to `y1`.
fn value_ticks(y0: f64, y1: f64, step: f64) -> Vec<f64> {
    let n = ((y1 - y0) / step).round() as i64;
    (0..=n).map(|i| y0 + i as f64 * step).collect()
}

/// The time axis' ticks: the multiples of `step` in `[a, b]`.
fn time_ticks(a: i64, b: i64, step: i64) -> Vec<i64> {
    let mut t = a.div_euclid(step) * step;
    if t < a {
        t += step;
    }
    let mut v = Vec::new();
    while t <= b {
        v.push(t);
        t += step;
    }
    v
}

/// The time axis' caption: UTC and the dates shown.
fn time_desc(a: i64, b: i64) -> String {
    let (da, db) = (date_of_ns(a), date_of_ns(b));
    if da == db {
        format!("time (UTC), {da}")
    } else {
        format!("time (UTC), {da} to {db}")
    }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Chart) -> Drawn<DB> {
    root.fill(&WHITE)?;
    let title = (FONT, 21).into_font();
    let builder = |root| {
        let mut b = ChartBuilder::on(root);
        b.caption(&c.title, title.clone())
            .margin(MARGIN)
            .margin_right(RIGHT as u32)
            .x_label_area_size(X_LABELS)
            .y_label_area_size(Y_LABELS);
        b
    };
    match &c.body {
        Body::Empty(msg) => {
            let centre = Pos::new(HPos::Center, VPos::Center);
            let mid = (WIDTH as i32) / 2;
            root.draw(&Text::new(
                c.title.clone(),
                (mid, 22),
                title.color(&BLACK).pos(centre),
            ))?;
            root.draw(&Text::new(
                msg.clone(),
                (mid, HEIGHT as i32 / 2),
                (FONT, 18).into_font().color(&NOTE).pos(centre),
            ))?;
        }
        Body::Line {
            points,
            color,
            fill,
        } => {
            let (p, step) = time_plot(points);
            let (x0, mut x1) = (p.x0 as i64, p.x1 as i64);
            if x1 <= x0 {
                x1 = x0 + SEC;
            }
            let tstep = time_step(x1 - x0);
            let dec = decimals_for(step);
            let mut ch = builder(root).build_cartesian_2d(
                (x0..x1).with_key_points(time_ticks(x0, x1, tstep)),
                Axis {
                    lo: p.y0,
                    hi: p.y1,
                    ticks: value_ticks(p.y0, p.y1, step),
                },
            )?;
            let tl = |t: &i64| time_label(*t, tstep);
            let yl = |v: &f64| format!("{v:.dec$}");
            ch.configure_mesh()
                .bold_line_style(GRID)
                .x_label_formatter(&tl)
                .y_label_formatter(&yl)
                .x_desc(time_desc(x0, x1))
                .y_desc(&c.y_desc)
                .label_style((FONT, 15))
                .axis_desc_style((FONT, 16))
                .draw()?;
            ch.draw_series(LineSeries::new([(x0, 0.0), (x1, 0.0)], ZERO))?;
            let pts = thin(points, &p);
            if *fill && !pts.is_empty() {
                let mut area = Vec::with_capacity(pts.len() + 2);
                area.push((pts[0].0, 0.0));
                area.extend(pts.iter().copied());
                area.push((pts[pts.len() - 1].0, 0.0));
                ch.draw_series(std::iter::once(Polygon::new(
                    area,
                    color.mix(0.25).filled(),
                )))?;
            }
            ch.draw_series(LineSeries::new(pts, color.stroke_width(2)))?;
        }
        Body::Bars {
            bars,
            ticks,
            x_desc,
            histogram,
        } => {
            let lo = bars.iter().map(|b| b.0).fold(f64::INFINITY, f64::min);
            let hi = bars.iter().map(|b| b.0).fold(f64::NEG_INFINITY, f64::max);
            let (y0, mut y1, mut step) = value_axis(lo, hi);
            if *histogram && step < 1.0 {
                step = 1.0;
                y1 = y1.ceil();
            }
            let dec = decimals_for(step);
            let n = bars.len().max(1) as f64;
            let mut ch = builder(root).build_cartesian_2d(
                Axis {
                    lo: 0.0,
                    hi: n,
                    ticks: ticks.iter().map(|t| t.0).collect(),
                },
                Axis {
                    lo: y0,
                    hi: y1,
                    ticks: value_ticks(y0, y1, step),
                },
            )?;
            let xl = |x: &f64| {
                ticks
                    .iter()
                    .find(|t| (t.0 - x).abs() < 1e-9)
                    .map(|t| t.1.clone())
                    .unwrap_or_default()
            };
            let yl = |v: &f64| format!("{v:.dec$}");
            ch.configure_mesh()
                .disable_x_mesh()
                .bold_line_style(GRID)
                .x_label_formatter(&xl)
                .y_label_formatter(&yl)
                .x_desc(x_desc)
                .y_desc(&c.y_desc)
                .label_style((FONT, 15))
                .axis_desc_style((FONT, 16))
                .draw()?;
            // A histogram's bars fill their bins; others are 80% of their slot, at most 60 pixels.
            let plot_w = f64::from(WIDTH) - LEFT - RIGHT;
            let half = if *histogram {
                0.5
            } else {
                (0.4f64).min(30.0 * n / plot_w)
            };
            ch.draw_series(bars.iter().enumerate().map(|(i, (v, color))| {
                let c = i as f64 + 0.5;
                Rectangle::new([(c - half, 0.0), (c + half, *v)], color.filled())
            }))?;
            if *histogram {
                // A white edge between neighbouring bins.
                ch.draw_series(bars.iter().enumerate().map(|(i, (v, _))| {
                    let i = i as f64;
                    Rectangle::new([(i, 0.0), (i + 1.0, *v)], WHITE.stroke_width(1))
                }))?;
            }
            ch.draw_series(LineSeries::new([(0.0, 0.0), (n, 0.0)], ZERO))?;
        }
    }
    Ok(())
}

/// The chart as a PNG file of [`WIDTH`] × [`HEIGHT`] pixels (RGB).
pub fn png(c: &Chart) -> Result<Vec<u8>, String> {
    fonts();
    let what = |e: &dyn std::fmt::Display| format!("chart \"{}\" as PNG: {e}", c.title);
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let bitmap = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT));
        let root = super::glyphs::Glyphs(bitmap).into_drawing_area();
        draw(&root, c).map_err(|e| what(&e))?;
        root.present().map_err(|e| what(&e))?;
    }
    let mut out = Vec::new();
    let mut enc = ::png::Encoder::new(&mut out, WIDTH, HEIGHT);
    enc.set_color(::png::ColorType::Rgb);
    enc.set_depth(::png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(|e| what(&e))?;
    w.write_image_data(&rgb).map_err(|e| what(&e))?;
    w.finish().map_err(|e| what(&e))?;
    Ok(out)
}

/// The chart as an SVG document of [`WIDTH`] × [`HEIGHT`].
pub fn svg(c: &Chart) -> Result<String, String> {
    fonts();
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, c).map_err(|e| format!("chart \"{}\" as SVG: {e}", c.title))?;
        root.present()
            .map_err(|e| format!("chart \"{}\" as SVG: {e}", c.title))?;
    }
    Ok(s)
}

fn line_chart(
    title: &str,
    y_desc: String,
    points: Vec<(i64, f64)>,
    color: RGBColor,
    fill: bool,
) -> Chart {
    let body = if points.is_empty() {
        Body::Empty("no equity points in this range".into())
    } else {
        Body::Line {
            points,
            color,
            fill,
        }
    };
    Chart {
        title: title.into(),
        y_desc,
        body,
    }
}

fn money_points(s: &Series, v: &[(i64, Money)]) -> Vec<(i64, f64)> {
    v.iter().map(|(t, m)| (*t, s.to_f64(*m))).collect()
}

/// The equity curve: the net PnL chained over the range's runs.
pub fn equity(s: &Series) -> Chart {
    line_chart(
        "Equity (net PnL, chained over runs)",
        format!("net PnL ({})", s.quote),
        money_points(s, &s.equity),
        LINE_BLUE,
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
pub fn drawdown(s: &Series) -> Chart {
    line_chart(
        "Drawdown from the running equity peak",
        format!("drawdown ({})", s.quote),
        money_points(s, &drawdown_points(s)),
        LOSS_RED,
        true,
    )
}

/// Every how many slots a label fits (about 70 pixels each).
fn label_every(slots: usize) -> usize {
    ((slots as f64 * 70.0 / (f64::from(WIDTH) - LEFT - RIGHT)).ceil() as usize).max(1)
}

/// Labels at the slots' centres, thinned so that they do not overlap.
fn centre_ticks(labels: impl Iterator<Item = String>, slots: usize) -> Vec<Tick> {
    let every = label_every(slots);
    labels
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, l)| (i as f64 + 0.5, l))
        .collect()
}

fn bar_chart(
    title: &str,
    y_desc: String,
    x_desc: String,
    (bars, ticks): (Vec<Bar>, Vec<Tick>),
    histogram: bool,
    empty: &str,
) -> Chart {
    let body = if bars.is_empty() {
        Body::Empty(empty.into())
    } else {
        Body::Bars {
            bars,
            ticks,
            x_desc,
            histogram,
        }
    };
    Chart {
        title: title.into(),
        y_desc,
        body,
    }
}

/// Net PnL per UTC day, green above zero, red below.
pub fn daily_pnl(s: &Series) -> Chart {
    let bars = s
        .daily
        .iter()
        .map(|(_, m)| {
            let v = s.to_f64(*m);
            (v, if v >= 0.0 { GAIN_GREEN } else { LOSS_RED })
        })
        .collect();
    let ticks = centre_ticks(
        s.daily.iter().map(|(d, _)| date_of_ns(*d)[5..].to_string()),
        s.daily.len(),
    );
    bar_chart(
        "Net PnL per day",
        format!("net PnL ({})", s.quote),
        "day (UTC, MM-DD)".into(),
        (bars, ticks),
        false,
        "no closed trades in this range",
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

/// How many closed trades fall in each net PnL bin; the ticks are the bins' edges.
pub fn trade_histogram(s: &Series) -> Chart {
    let bins = trade_bins(s);
    let step = bins.first().map_or(1.0, |b| b.1 - b.0);
    let dec = decimals_for(step);
    let every = label_every(bins.len() + 1);
    let mut ticks: Vec<Tick> = bins
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, b)| (i as f64, format!("{:.dec$}", b.0)))
        .collect();
    if let Some(last) = bins.last() {
        if bins.len().is_multiple_of(every) {
            ticks.push((bins.len() as f64, format!("{:.dec$}", last.1)));
        }
    }
    let bars = bins.iter().map(|b| (b.2 as f64, BAR_BLUE)).collect();
    bar_chart(
        "Closed trades by net PnL",
        "trades".into(),
        format!("net PnL per trade ({}), bin edges", s.quote),
        (bars, ticks),
        true,
        "no closed trades in this range",
    )
}

/// The tick-to-trade percentiles of the last run with samples.
pub fn latency(s: &Series) -> Chart {
    let bars = s
        .latency
        .iter()
        .map(|(_, ns)| (*ns as f64 / 1000.0, BAR_BLUE))
        .collect();
    let ticks = centre_ticks(
        s.latency.iter().map(|(k, _)| (*k).to_string()),
        s.latency.len(),
    );
    bar_chart(
        "Tick-to-trade latency, percentiles of the last run",
        "tick-to-trade (µs)".into(),
        "percentile".into(),
        (bars, ticks),
        false,
        "no latency samples (a replay has none)",
    )
}

/// All charts: `(file stem, title, chart)`.
pub fn all(s: &Series) -> Vec<(&'static str, &'static str, Chart)> {
    vec![
        ("equity", "Equity curve", equity(s)),
        ("drawdown", "Drawdown", drawdown(s)),
        ("daily_pnl", "Net PnL per day", daily_pnl(s)),
        ("trade_pnl", "Closed trades by net PnL", trade_histogram(s)),
        ("latency", "Tick-to-trade latency percentiles", latency(s)),
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

    fn hex(c: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }

    /// The points of the SVG polyline drawn in `color`.
    fn polyline(svg: &str, color: RGBColor) -> Vec<(i32, i32)> {
        let line = svg
            .lines()
            .find(|l| {
                l.starts_with("<polyline") && l.contains(&format!("stroke=\"{}\"", hex(color)))
            })
            .unwrap_or_else(|| panic!("no {} polyline in {svg}", hex(color)));
        let i = line.find("points=\"").unwrap() + 8;
        line[i..i + line[i..].find('"').unwrap()]
            .split_whitespace()
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    /// `(x, y, width, height)` of the SVG's filled rectangles in `color`.
    fn rects(svg: &str, color: RGBColor) -> Vec<(i32, i32, i32, i32)> {
        let attr = |l: &str, k: &str| -> i32 {
            let i = l.find(&format!(" {k}=\"")).unwrap() + k.len() + 3;
            l[i..i + l[i..].find('"').unwrap()].parse().unwrap()
        };
        svg.lines()
            .filter(|l| l.starts_with("<rect") && l.contains(&format!("fill=\"{}\"", hex(color))))
            .map(|l| {
                (
                    attr(l, "x"),
                    attr(l, "y"),
                    attr(l, "width"),
                    attr(l, "height"),
                )
            })
            .collect()
    }

    fn argmax<T: PartialOrd + Copy>(v: impl Iterator<Item = T>) -> usize {
        let v: Vec<T> = v.collect();
        (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
    }

    #[test]
    fn equity_line_has_every_point_in_order_and_its_extremes_at_the_data_extremes() {
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
        let svg = svg(&equity(&s)).unwrap();
        let pts = polyline(&svg, LINE_BLUE);
        assert_eq!(pts.len(), eq.len());
        assert!(pts.windows(2).all(|w| w[0].0 < w[1].0), "{pts:?}");
        // Pixel y grows downwards: the highest point is the largest value.
        assert_eq!(argmax(pts.iter().map(|p| -p.1)), 3);
        assert_eq!(argmax(pts.iter().map(|p| p.1)), 2);
        // The axes say their units; time is labelled in UTC.
        assert!(svg.contains("net PnL (USDT)"));
        assert!(svg.contains("\n00:00:30\n"), "{svg}");
        assert!(svg.contains("time (UTC), 1970-01-01"));
        assert!(
            svg.contains("\n-5\n") && svg.contains("\n15\n"),
            "value ticks cover the data"
        );
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
        let points = money_points(&s, &s.equity);
        let (p, _) = time_plot(&points);
        let kept = thin(&points, &p);
        assert!(
            kept.len() <= MAX_POINTS && kept.len() > 100,
            "{}",
            kept.len()
        );
        assert!(kept.contains(&(12_345 * SEC, 1000.0)));
        assert!(kept.contains(&(77_777 * SEC, -900.0)));
        assert!(kept.windows(2).all(|w| w[0].0 <= w[1].0));
        // What is drawn is the thinned series.
        let drawn = polyline(&svg(&equity(&s)).unwrap(), LINE_BLUE);
        assert_eq!(drawn.len(), kept.len());
    }

    #[test]
    fn drawdown_reaches_the_largest_fall_from_the_peak() {
        let s = series(&[(0, 0), (1, 10), (2, 4), (3, 15), (4, 6), (5, 20)]);
        let dd = drawdown_points(&s);
        assert_eq!(dd.iter().map(|d| d.1).min(), Some(-9));
        assert!(dd.iter().all(|d| d.1 <= 0));
        let svg = svg(&drawdown(&s)).unwrap();
        let pts = polyline(&svg, LOSS_RED);
        assert_eq!(pts.len(), 6);
        assert_eq!(argmax(pts.iter().map(|p| p.1)), 4, "lowest at the -9 point");
        assert!(svg.contains("drawdown (USDT)"));
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
        let svg = svg(&trade_histogram(&s)).unwrap();
        let bars = rects(&svg, BAR_BLUE);
        assert_eq!(bars.len(), bins.len());
        // Heights in proportion to the counts (one pixel of rounding), bins edge to edge.
        let unit = bars.iter().map(|b| b.3).max().unwrap() as f64
            / bins.iter().map(|b| b.2).max().unwrap() as f64;
        for (r, b) in bars.iter().zip(&bins) {
            assert!((r.3 as f64 - b.2 as f64 * unit).abs() <= 1.0, "{r:?} {b:?}");
        }
        assert!(bars
            .windows(2)
            .all(|w| (w[0].0 + w[0].2 - w[1].0).abs() <= 1));
        // Whole-number count axis.
        assert!(!svg.contains("\n0.5\n"));
        assert!(svg.contains("net PnL per trade (USDT), bin edges"));
    }

    #[test]
    fn daily_bars_are_green_above_zero_and_red_below_in_proportion() {
        let mut s = series(&[]);
        s.daily = vec![(0, 5), (86_400 * SEC, -2)];
        let svg = svg(&daily_pnl(&s)).unwrap();
        let (up, down) = (rects(&svg, GAIN_GREEN), rects(&svg, LOSS_RED));
        assert_eq!((up.len(), down.len()), (1, 1));
        // They meet at the zero line: the green one ends where the red one starts.
        assert_eq!(up[0].1 + up[0].3, down[0].1);
        assert!(
            (up[0].3 as f64 / down[0].3 as f64 - 2.5).abs() < 0.05,
            "{up:?} {down:?}"
        );
        assert!(svg.contains("\n01-01\n") && svg.contains("\n01-02\n"));
        assert!(svg.contains("day (UTC, MM-DD)"));
    }

    #[test]
    fn empty_charts_say_why() {
        let s = series(&[]);
        assert!(svg(&equity(&s))
            .unwrap()
            .contains("no equity points in this range"));
        assert!(svg(&latency(&s))
            .unwrap()
            .contains("no latency samples (a replay has none)"));
    }

    /// The PNG's pixels, decoded.
    fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut r = ::png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, ::png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn png_decodes_at_its_size_with_the_line_and_the_text_drawn() {
        let s = series(&[(0, 0), (10 * SEC, 5), (20 * SEC, -3), (30 * SEC, 12)]);
        let (w, h, px) = decode(&png(&equity(&s)).unwrap());
        assert_eq!((w, h), (WIDTH, HEIGHT));
        let at = |x: u32, y: u32| {
            let i = ((y * w + x) * 3) as usize;
            (px[i], px[i + 1], px[i + 2])
        };
        let blue = (0..w)
            .flat_map(|x| (0..h).map(move |y| (x, y)))
            .filter(|&(x, y)| at(x, y) == (LINE_BLUE.0, LINE_BLUE.1, LINE_BLUE.2))
            .count();
        assert!(blue > 500, "the equity line: {blue} pixels");
        // Ink in the rotated unit caption (left strip) and the title (top strip).
        let ink = |xs: std::ops::Range<u32>, ys: std::ops::Range<u32>| {
            xs.flat_map(|x| ys.clone().map(move |y| (x, y)))
                .filter(|&(x, y)| at(x, y).0 < 128)
                .count()
        };
        assert!(ink(0..30, 0..h) > 100, "the value axis' caption");
        assert!(ink(0..w, 0..30) > 100, "the title");
    }

    #[test]
    fn png_text_keeps_each_glyphs_side_bearing() {
        fonts();
        let mut buf = vec![0u8; 200 * 100 * 3];
        let x = {
            let b = &mut buf;
            let root = super::super::glyphs::Glyphs(BitMapBackend::with_buffer(b, (200, 100)))
                .into_drawing_area();
            root.fill(&WHITE).unwrap();
            root.draw(&Text::new("1", (10, 10), (FONT, 62).into_font()))
                .unwrap();
            root.present().unwrap();
            drop(root);
            (0..200u32)
                .find(|&x| (0..100u32).any(|y| b[((y * 200 + x) * 3) as usize] < 128))
                .unwrap()
        };
        // Where ab_glyph puts the outline of "1" at pen x = 10 and an em of 62 / 1.24 = 50
        // pixels: its left side bearing is about a tenth of an em.
        use ab_glyph::{Font, FontRef};
        let f = FontRef::try_from_slice(super::super::glyphs::DEJAVU_SANS).unwrap();
        let sc = ab_glyph::PxScale::from(50.0 * f.height_unscaled() / f.units_per_em().unwrap());
        let g = f
            .glyph_id('1')
            .with_scale_and_position(sc, ab_glyph::point(10.0, 50.0));
        let left = f.outline_glyph(g).unwrap().px_bounds().min.x;
        assert!(left >= 14.0, "{left}");
        assert!(
            (x as f32 - left).abs() <= 1.0,
            "ink from x = {x}, the glyph's outline from {left}"
        );
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
        assert_eq!(
            time_ticks(5 * SEC, 31 * SEC, 10 * SEC),
            [10 * SEC, 20 * SEC, 30 * SEC]
        );
    }
}
