use super::*;
use crate::config::Config;
use crate::exec::ClosedTrade;
use crate::msg::{ExecKind, ExecReport, Liquidity, Money, OrderSide, Tif, MONEY_PER_TICK_LOT};
use crate::risk::{ReasonCode, Reasons, RiskEvent, RiskSnapshot, RiskStatus};
use crate::trader::{Trader, TraderEvent};
use std::path::PathBuf;

const SEC: u64 = 1_000_000_000;
const M: i128 = MONEY_PER_TICK_LOT;

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("obi-store-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d.join("journal.sqlite")
}

fn count(j: &Journal, t: &str) -> i64 {
    j.connection()
        .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
        .unwrap()
}

fn fill(ts: u64, id: u64) -> TraderEvent {
    TraderEvent::Exec {
        report: ExecReport {
            id,
            ts_ns: ts,
            kind: ExecKind::Fill {
                px: 100_000,
                qty: 2,
                liquidity: Liquidity::Maker,
                fee: -3 * M,
                leaves: 0,
            },
        },
        side: OrderSide::Buy,
    }
}

fn run_info(cfg: &Config) -> RunInfo {
    RunInfo::for_config(cfg, RunKind::Run, 1_767_571_200 * SEC)
}

#[test]
fn records_round_trip_with_exact_money() {
    let p = tmp("roundtrip");
    let cfg = Config::builtin();
    let mut j = Journal::open(&p).unwrap();
    j.begin_run(&run_info(&cfg)).unwrap();
    j.record(&TraderEvent::Order {
        ts_ns: 5,
        recv_ns: 4,
        id: 7,
        side: OrderSide::Sell,
        px: 123,
        qty: 4,
        tif: Tif::PostOnly,
        reduce_only: true,
    });
    j.record(&fill(6, 7));
    // Bigger than 64 bits: kept exact as text.
    let big = i128::from(i64::MAX) * 1000 + 7;
    j.record(&TraderEvent::Closed {
        trade: ClosedTrade {
            side: OrderSide::Buy,
            qty: 2,
            max_position: 2,
            entry_value: big,
            exit_value: big + 5 * M,
            gross_pnl: 5 * M,
            fees: -3 * M,
            net_pnl: 8 * M,
            open_ns: 1,
            close_ns: 6,
        },
        exit: None,
    });
    assert_eq!(j.flush().unwrap(), 3);
    assert_eq!(count(&j, "events"), 2);
    let (kind, liq, fee): (String, String, i64) = j
        .connection()
        .query_row(
            "SELECT kind, liquidity, fee FROM events WHERE seq = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (kind.as_str(), liq.as_str(), fee as i128),
        ("fill", "maker", -3 * M)
    );
    let v: Money = j
        .connection()
        .query_row("SELECT entry_value FROM trades", [], |r| {
            journal::money(r.get_ref(0)?)
        })
        .unwrap();
    assert_eq!(v, big);
    // Reopening continues the sequence.
    drop(j);
    let mut j = Journal::open(&p).unwrap();
    j.begin_run(&run_info(&cfg)).unwrap();
    j.record(&fill(9, 8));
    j.flush().unwrap();
    let s: i64 = j
        .connection()
        .query_row("SELECT max(seq) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(s, 4);
}

#[test]
fn schema_is_versioned_and_newer_files_are_refused() {
    let p = tmp("schema");
    let j = Journal::open(&p).unwrap();
    let v: i64 = j
        .connection()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, schema::VERSION);
    let mode: String = j
        .connection()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    j.connection()
        .execute_batch(&format!("PRAGMA user_version={}", schema::VERSION + 1))
        .unwrap();
    drop(j);
    let e = Journal::open(&p).err().expect("newer schema refused");
    assert!(e.0.contains("newer than this build"), "{e}");
    assert!(e.0.contains(&p.display().to_string()), "{e}");
}

#[test]
fn unwritable_path_is_a_clear_start_up_error() {
    let p = tmp("unwritable");
    // A regular file where the directory should be.
    let file = p.parent().unwrap().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let bad = file.join("journal.sqlite");
    let e = Journal::open(&bad).err().expect("cannot open under a file");
    assert!(e.0.contains(&bad.display().to_string()), "{e}");
}

#[test]
fn a_failed_flush_keeps_records_pending_and_degrades() {
    let p = tmp("degraded");
    let cfg = Config::builtin();
    let mut j = Journal::open(&p).unwrap();
    j.begin_run(&run_info(&cfg)).unwrap();
    // Another connection holds the write lock: our flush fails after the busy timeout.
    let other = journal::connect(&p).unwrap();
    other
        .busy_timeout(std::time::Duration::from_millis(1))
        .unwrap();
    j.connection()
        .busy_timeout(std::time::Duration::from_millis(1))
        .unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    j.record(&fill(1, 1));
    j.record(&fill(2, 2));
    assert!(j.flush().is_err());
    let s = j.stats();
    assert!(s.degraded);
    assert_eq!((s.pending, s.write_errors, s.written), (2, 1, 0));
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(j.flush().unwrap(), 2);
    let s = j.stats();
    assert!(!s.degraded);
    assert_eq!((s.pending, s.written), (0, 2));
    assert_eq!(count(&j, "events"), 2);
}

fn risk_event(ts: u64, init: Money, equity: Money, reasons: Reasons) -> TraderEvent {
    TraderEvent::Risk(RiskEvent {
        ts_ns: ts,
        from: RiskStatus::Ok,
        to: reasons.status(),
        reasons,
        raised: reasons,
        cleared: Reasons::EMPTY,
        kill_source: None,
        snapshot: RiskSnapshot {
            equity,
            equity_peak: init.max(equity),
            ..RiskSnapshot::default()
        },
    })
}

/// A run that made 300, then lost 800 (today), and a restart: the new run starts with the day's
/// loss of 500, a drawdown of 800 from the peak, and the latched max-trade-loss abort.
#[test]
fn restart_keeps_daily_loss_equity_peak_and_abort_latch() {
    let p = tmp("carry");
    let mut cfg = Config::builtin();
    cfg.store.journal = Some(p.clone());
    let init = cfg.risk.initial_equity;
    let now = wall_ns();
    let day0 = carry::trading_day(now, cfg.risk.limits.trading_day_offset_ns);
    let day_start_ns = (day0 as i128 * 86_400 * SEC as i128
        + cfg.risk.limits.trading_day_offset_ns as i128) as u64;
    {
        // Yesterday: +100 (not today's PnL, but part of the peak chain).
        let mut j = Journal::open(&p).unwrap();
        j.begin_run(&run_info(&cfg)).unwrap();
        let snap = |ts, pnl| EquitySnap {
            ts_ns: ts,
            pnl,
            position: 0,
            status: RiskStatus::Ok,
            reasons: Reasons::EMPTY,
        };
        j.equity(snap(day_start_ns - 10 * SEC, 100 * M));
        j.flush().unwrap();
        // Today, a second run: +200 more (peak 300), then -800 (ends at -500 chained).
        j.begin_run(&run_info(&cfg)).unwrap();
        j.equity(snap(day_start_ns + SEC, 200 * M));
        let latched: Reasons = [ReasonCode::MaxTradeLossExceeded].into_iter().collect();
        j.record(&risk_event(
            day_start_ns + 2 * SEC,
            init,
            init - 400 * M,
            latched,
        ));
        j.equity(snap(day_start_ns + 3 * SEC, -600 * M));
        j.flush().unwrap();
    }
    // A replay in the same file does not count.
    {
        let mut j = Journal::open(&p).unwrap();
        j.begin_run(&RunInfo::for_config(&cfg, RunKind::Replay, now))
            .unwrap();
        j.equity(EquitySnap {
            ts_ns: day_start_ns + 4 * SEC,
            pnl: 10_000 * M,
            position: 0,
            status: RiskStatus::Ok,
            reasons: Reasons::EMPTY,
        });
        j.flush().unwrap();
    }
    let cj = cold::ColdJournal::start(&mut cfg, false).unwrap().unwrap();
    let c = cfg.risk.carry.expect("carried");
    assert_eq!(c.day, day0);
    // Chain: +100 (yesterday), then today +200 -> 300, then -600 -> -500. Today: -500 - 100.
    assert_eq!(c.day_pnl, -600 * M);
    assert_eq!(c.drawdown, 800 * M);
    assert!(c.latched.contains(ReasonCode::MaxTradeLossExceeded));
    drop(cj);
    // The trader built from that config starts with them.
    let mut t = Trader::new(&cfg, 0);
    t.risk
        .evaluate(now, &t.ledger, crate::msg::NO_PRICE, None, &mut |_| {});
    let s = t.risk.snapshot();
    assert_eq!(s.day_pnl, -600 * M);
    assert_eq!(s.drawdown, 800 * M);
    assert_eq!(s.equity_peak, init + 800 * M);
    assert_eq!(t.risk.status(), RiskStatus::Abort);
    // `--reset-risk` starts a new chain.
    let mut cfg2 = Config::builtin();
    cfg2.store.journal = Some(p.clone());
    let cj = cold::ColdJournal::start(&mut cfg2, true).unwrap().unwrap();
    assert_eq!(cfg2.risk.carry, None);
    drop(cj);
    let mut cfg3 = Config::builtin();
    cfg3.store.journal = Some(p);
    let _cj = cold::ColdJournal::start(&mut cfg3, false).unwrap().unwrap();
    let c = cfg3.risk.carry.expect("an empty chain since the reset");
    assert_eq!((c.day_pnl, c.drawdown, c.latched), (0, 0, Reasons::EMPTY));
}

/// Retention goes by the dated folder name (`backup-YYYYMMDDTHHMMSSZ`, the time the backup was
/// taken), which is what an operator sees: a folder whose name is older than the retention goes,
/// whatever its manifest's own clock said; a folder not named by a date, or without a manifest,
/// is not ours and stays.
#[test]
fn prune_removes_only_backups_whose_dated_name_is_older_than_the_retention() {
    let p = tmp("prune");
    let cfg = Config::builtin();
    let mut j = Journal::open(&p).unwrap();
    j.begin_run(&run_info(&cfg)).unwrap();
    j.record(&fill(5, 1));
    j.flush().unwrap();
    let root = p.parent().unwrap().join("backups");
    let day = 86_400 * SEC;
    let now = 1_785_542_400 * SEC; // 2026-08-01T00:00:00Z
    let old = root.join(backup::stamp_name(now - 30 * day - SEC));
    let kept = root.join(backup::stamp_name(now - 30 * day + SEC));
    assert_eq!(
        old.file_name().unwrap().to_str().unwrap(),
        "backup-20260701T235959Z"
    );
    // Their manifests say "now" (the test's clock): the names decide.
    for d in [&old, &kept] {
        backup::backup(&p, d, &[]).unwrap();
    }
    let undated = root.join("backup-before-upgrade");
    backup::backup(&p, &undated, &[]).unwrap();
    let bare = root.join(backup::stamp_name(now - 60 * day));
    std::fs::create_dir_all(&bare).unwrap();
    assert_eq!(backup::prune(&root, 30, now).unwrap(), vec![old.clone()]);
    assert!(!old.exists() && kept.exists() && undated.exists() && bare.exists());
    assert_eq!(backup::verify(&kept).unwrap().rows["events"], 1);
    assert_eq!(
        backup::stamp_name(1_785_542_400 * SEC + 3_723 * SEC),
        "backup-20260801T010203Z"
    );
    assert_eq!(
        backup::stamp_of("backup-20260801T010203Z"),
        Some(1_785_542_400 * SEC + 3_723 * SEC)
    );
    for bad in [
        "backup-20260801T010203",
        "backup-20261301T010203Z",
        "backup-20260801T250203Z",
        "backup-2026080xT010203Z",
        "backups-20260801T010203Z",
    ] {
        assert_eq!(backup::stamp_of(bad), None, "{bad}");
    }
}

/// Two processes writing one journal collide on its sequence numbers (`UNIQUE constraint failed:
/// events.seq`, found in #17's soak): the second writer is refused at open, naming the file and
/// the holder, and the journal opens again once the first is gone.
#[test]
fn a_second_writer_of_one_journal_is_refused_naming_the_file() {
    let p = tmp("locked");
    let first = Journal::open(&p).unwrap();
    let e = Journal::open(&p)
        .err()
        .expect("a second writer of the same journal refused");
    let msg = e.to_string();
    assert!(msg.contains(&p.display().to_string()), "{msg}");
    assert!(msg.contains("in use by another writer"), "{msg}");
    assert!(
        msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    drop(first);
    Journal::open(&p).expect("reopened after the first writer is gone");
}

/// Two included paths with the same file name (two services' `run.toml` in different folders)
/// would land on one `files/run.toml` and the first would be lost without a word: refused,
/// naming both the path and the name.
#[test]
fn included_paths_sharing_a_file_name_are_refused_not_overwritten() {
    let p = tmp("include-clash");
    let cfg = Config::builtin();
    let mut j = Journal::open(&p).unwrap();
    j.begin_run(&run_info(&cfg)).unwrap();
    j.flush().unwrap();
    let base = p.parent().unwrap().to_path_buf();
    let (a, b) = (base.join("a"), base.join("b"));
    for (d, body) in [(&a, "# a\n"), (&b, "# b\n")] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("run.toml"), body).unwrap();
    }
    let dest = base.join("backup-clash");
    let e = backup::backup(&p, &dest, &[a.join("run.toml"), b.join("run.toml")]).unwrap_err();
    assert!(
        e.0.contains("b/run.toml") && e.0.contains("also named \"run.toml\""),
        "{}",
        e.0
    );
}

/// A long `run` appends for hours: the journal connection's page cache stays at its cap
/// ([`journal::PAGE_CACHE_KIB`]) while the file grows far past it (with SQLite's default 2 MB
/// cache the soak's resident memory crept up by the file's growth).
#[test]
fn the_journal_page_cache_stays_bounded_while_the_file_grows() {
    let p = tmp("cache");
    let cfg = Config::builtin();
    let mut j = Journal::open(&p).unwrap();
    j.begin_run(&run_info(&cfg)).unwrap();
    let mut id = 0;
    while std::fs::metadata(&p).unwrap().len() < 4 << 20 {
        for _ in 0..2000 {
            id += 1;
            j.record(&fill(id, id));
        }
        j.flush().unwrap();
        // Checkpoint so that the main file (not only the WAL) holds the pages.
        j.connection()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    }
    let used = j.page_cache_bytes();
    assert!(
        used <= journal::PAGE_CACHE_KIB * 1024 * 5 / 4,
        "page cache {used} bytes after {id} records (file {} bytes)",
        std::fs::metadata(&p).unwrap().len()
    );
}
