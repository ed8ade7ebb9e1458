//! The journal's throughput and the report's cost over a large journal (no files needed).
//!
//! 1. **Write:** a synthetic month of trades written through [`Journal::record`] /
//!    [`Journal::equity`] / [`Journal::flush`], the calls the cold thread makes, on one thread.
//!    Each trade is six records (entry order, entry fill, exit order, exit fill, closed trade,
//!    equity snapshot); a flush (one transaction) every 1,000 trades. Prints records/s.
//! 2. **Report:** [`report::build`] over the whole month and all five charts as PNG and SVG, timed, with the
//!    peak resident set of that phase alone (`VmHWM` after resetting it through
//!    `/proc/self/clear_refs`).
//!
//! Run: `cargo bench --bench journal` (1,000,000 trades; `OBI_BENCH_TRADES=N` for another size;
//! the journal is left at `target/bench-journal.sqlite` for `obi-scalp report`).
//! `cargo test --benches` runs it on 2,000 trades and checks the report's figures.

use obi_scalp::config::Config;
use obi_scalp::exec::ClosedTrade;
use obi_scalp::msg::{ExecKind, ExecReport, Liquidity, OrderSide, Tif, MONEY_PER_TICK_LOT};
use obi_scalp::risk::{Reasons, RiskStatus};
use obi_scalp::store::report::{self, Period};
use obi_scalp::store::{chart, EquitySnap, Journal, RunEnd, RunInfo, RunKind};
use obi_scalp::trader::TraderEvent;
use std::path::Path;
use std::time::Instant;

const SEC: u64 = 1_000_000_000;
const M: i128 = MONEY_PER_TICK_LOT;
/// 2026-08-01 00:00 UTC.
const MONTH_NS: u64 = 1_785_542_400 * SEC;

fn fill(ts: u64, id: u64, side: OrderSide, px: i64) -> TraderEvent {
    TraderEvent::Exec {
        report: ExecReport {
            id,
            ts_ns: ts,
            kind: ExecKind::Fill {
                px,
                qty: 1,
                liquidity: Liquidity::Maker,
                fee: M,
                leaves: 0,
            },
        },
        side,
    }
}

fn order(ts: u64, id: u64, side: OrderSide, px: i64) -> TraderEvent {
    TraderEvent::Order {
        ts_ns: ts,
        recv_ns: ts,
        id,
        side,
        px,
        qty: 1,
        tif: Tif::PostOnly,
        reduce_only: side == OrderSide::Sell,
    }
}

/// Writes `trades` round trips spread over 30 days (each -10 to +12 in the quote currency, a
/// -200 every 1,000th); returns (records, seconds, net PnL in money units).
fn write(path: &Path, trades: u64) -> (u64, f64, i128) {
    let _ = std::fs::remove_file(path);
    let mut j = Journal::open(path).expect("journal opens");
    let cfg = Config::builtin();
    let info = RunInfo::for_config(&cfg, RunKind::Replay, MONTH_NS);
    j.begin_run(&info).unwrap();
    // Money units of one unit of the quote currency.
    let q = 10i128.pow(u32::from(info.money_decimals)) / i128::from(info.money_per);
    let gap = 30 * 86_400 * SEC / trades.max(1);
    let (mut records, mut pnl) = (0u64, 0i128);
    let t0 = Instant::now();
    for i in 0..trades {
        let ts = MONTH_NS + i * gap;
        let px = 100_000 + (i % 97) as i64;
        // A deterministic mix of wins and losses, a slow drift and a few large swings.
        let gross = ((i * 7919 % 23) as i128 - 8) * q + if i % 1000 == 0 { -200 * q } else { 0 };
        let net = gross - 2 * q;
        pnl += net;
        j.record(&order(ts, 2 * i, OrderSide::Buy, px));
        j.record(&fill(ts + 1, 2 * i, OrderSide::Buy, px));
        j.record(&order(ts + 2, 2 * i + 1, OrderSide::Sell, px));
        j.record(&fill(ts + 3, 2 * i + 1, OrderSide::Sell, px));
        j.record(&TraderEvent::Closed {
            trade: ClosedTrade {
                side: OrderSide::Buy,
                qty: 1,
                max_position: 1,
                entry_value: px as i128 * M,
                exit_value: px as i128 * M + gross,
                gross_pnl: gross,
                fees: 2 * q,
                net_pnl: net,
                open_ns: ts + 1,
                close_ns: ts + 3,
            },
            exit: None,
        });
        j.equity(EquitySnap {
            ts_ns: ts + 3,
            pnl,
            position: 0,
            status: RiskStatus::Ok,
            reasons: Reasons::default(),
        });
        records += 6;
        if i % 1000 == 999 {
            j.flush().expect("flush");
        }
    }
    j.flush().expect("flush");
    let secs = t0.elapsed().as_secs_f64();
    j.end_run(&RunEnd {
        ended_wall_ns: MONTH_NS + 30 * 86_400 * SEC,
        stop_reason: "end of bench".into(),
        clean: true,
        max_drawdown: None,
        position: Some(0),
        cash_change: None,
        risk_status: Some(RiskStatus::Ok),
    })
    .unwrap();
    (records, secs, pnl)
}

fn vm_hwm_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let trades: u64 = if bench {
        std::env::var("OBI_BENCH_TRADES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000)
    } else {
        2_000
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(if bench {
        "bench-journal.sqlite".to_string()
    } else {
        format!("bench-journal-test-{}.sqlite", std::process::id())
    });

    let (records, secs, pnl) = write(&path, trades);
    println!(
        "journal/write: {trades} trades, {records} records in {secs:.2} s = {:.0} records/s \
         (flush every 1,000 trades = 6,000 records)",
        records as f64 / secs
    );

    // Reset the peak RSS so it measures the report alone (Linux: "5" clears VmHWM).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = vm_hwm_kb();
    let t0 = Instant::now();
    let c = obi_scalp::store::journal::connect(&path).unwrap();
    let range = Period::Month.containing(MONTH_NS as i64);
    let (r, series) = report::build(&c, "replay", Period::Month, range).unwrap();
    let build_s = t0.elapsed().as_secs_f64();
    let (mut png_bytes, mut svg_bytes) = (0, 0);
    for (_, _, c) in chart::all(&series) {
        png_bytes += chart::png(&c).unwrap().len();
        svg_bytes += chart::svg(&c).unwrap().len();
    }
    let total_s = t0.elapsed().as_secs_f64();
    println!(
        "report/month: {} trades: build {build_s:.2} s, with 5 charts as PNG ({png_bytes} bytes) and SVG ({svg_bytes} bytes) {total_s:.2} s; \
         peak RSS of the report phase {} kB{}",
        r.trades,
        vm_hwm_kb().map_or("?".into(), |k| k.to_string()),
        if reset {
            String::new()
        } else {
            format!(" (VmHWM not reset: includes the write phase; {before:?} kB before)")
        }
    );

    // The figures are the data's.
    assert_eq!(r.trades, trades);
    assert_eq!(series.equity.len() as u64, trades);
    assert_eq!(series.equity.last().unwrap().1, pnl);
    assert_eq!(r.fills, 2 * trades);
    if !bench {
        let _ = std::fs::remove_file(&path);
        for x in ["-wal", "-shm", ".lock"] {
            let _ = std::fs::remove_file(format!("{}{x}", path.display()));
        }
    }
}
