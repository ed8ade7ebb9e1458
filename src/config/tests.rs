use super::*;

#[test]
fn builtin_default_resolves() {
    let c = Config::builtin();
    assert_eq!(c.mode, Mode::Paper);
    assert_eq!(c.market.instrument.key.symbol.as_str(), "btc_jpy");
    assert_eq!(c.strategy.long_threshold_ppm, 250_000);
    assert_eq!(c.strategy.short_threshold_ppm, 270_000);
    assert_eq!(c.strategy.hold_ns, 500_000_000);
    assert_eq!(c.strategy.instant_factor_ppm, 1_500_000);
    assert_eq!(c.strategy.obi_levels, 8);
    assert_eq!(c.strategy.order_qty, 1_000_000); // 0.01 BTC in 1e-8 lots
    assert_eq!(c.risk.limits.max_consecutive_failures, 5);
    assert_eq!(c.duration_ns, Some(60_000_000_000));
    assert_eq!(c.pipeline.wait, WaitStrategy::Auto);
    assert_eq!(c.digest.len(), 16);
}

#[test]
fn empty_file_gives_the_same_defaults() {
    let c = Config::from_toml("").unwrap();
    let d = Config::builtin();
    assert_eq!(c.strategy, d.strategy);
    assert_eq!(c.risk, d.risk);
    assert_eq!(c.paper, d.paper);
}

fn err(text: &str) -> ConfigError {
    Config::from_toml(text).unwrap_err()
}

#[test]
fn errors_name_the_key() {
    let e = err("[strategy]\nlong_threshold = -0.1\n");
    assert_eq!(e.key, "strategy.long_threshold");
    assert!(e.msg.contains("-0.1"), "{e}");
    let e = err("[strategy]\nhold_ms = 0\n");
    assert_eq!(e.key, "strategy.hold_ms");
    let e = err("[strategy]\nentry_offset = 11\nmax_entry_offset = 10\n");
    assert_eq!(e.key, "strategy.entry_offset");
    assert!(e.msg.contains("max_entry_offset"));
    // Paper: the exchange sweeps the full depth, so an offset past the 5 levels a book message
    // carries is fine; `max_entry_offset` (default 10) is the bound, named by the error.
    for ok in [5, 10, -10] {
        let text = format!("[strategy]\nentry_offset = {ok}\n");
        let c = Config::from_toml(&text).unwrap();
        assert_eq!(c.mode, crate::config::Mode::Paper);
        assert_eq!(c.strategy.entry_offset_ticks, ok);
    }
    let e = err("[strategy]\nentry_offset = 11\n");
    assert_eq!(e.key, "strategy.entry_offset");
    assert!(e.msg.contains("strategy.max_entry_offset = 10"), "{e}");
    let e = err("[strategy]\nlong_treshold = 0.3\n");
    assert_eq!(e.key, "strategy.long_treshold");
    assert_eq!(e.msg, "unknown key");
    let e = err("[risk]\nmax_drawdown = \"abc\"\n");
    assert_eq!(e.key, "risk.max_drawdown");
    let e = err("[pipeline]\nwait = \"busy\"\n");
    assert_eq!(e.key, "pipeline.wait");
    let e = err("[market]\nsymbol = \"doge_jpy\"\n");
    assert_eq!(e.key, "market.symbol");
    let e = err("[strategy]\norder_size = \"0.000000001\"\n");
    assert_eq!(e.key, "strategy.order_size");
    let e = err("bogus = 1\n");
    assert_eq!(e.key, "bogus");
    let e = err("[strategy\n");
    assert!(e.key.starts_with("line 1"), "{e}");
}

#[test]
fn bybit_config_with_custom_instrument() {
    let c = Config::from_toml(
        r#"
[market]
venue = "bybit"
market = "linear"
symbol = "BTCUSDT"
source = "live"
ws_url = "ws://127.0.0.1:1/v5/public/linear"
[strategy]
order_size = "0.001"
[risk]
initial_equity = "10000"
max_drawdown = "500.5"
max_position_size = "0.01"
max_order_size = "0.01"
[paper]
taker_fee_bps = 5.5
maker_fee_bps = 2
"#,
    )
    .unwrap();
    assert_eq!(c.strategy.order_qty, 1);
    // one money unit = 0.10 USDT * 0.001 / 1e6
    assert_eq!(c.risk.limits.max_drawdown, 5_005_000_000_000);
    assert_eq!(
        format_money(&c.market.instrument, c.risk.limits.max_drawdown),
        "500.50"
    );
    assert_eq!(c.paper.taker_fee_cbps, 550);
    assert_eq!(c.paper.maker_fee_cbps, 200);
}

#[test]
fn money_round_trips() {
    let c = Config::builtin();
    let i = c.market.instrument;
    let m = money_of(&i, "k", "1234.5").unwrap();
    assert_eq!(format_money(&i, m), "1234.5");
    assert_eq!(format_money(&i, money_of(&i, "k", "1234").unwrap()), "1234");
    // One money unit on BTC/JPY is 1e-14 JPY: shown exactly, not rounded to the yen.
    assert_eq!(format_money(&i, -1), "-0.00000000000001");
    assert_eq!(format_money(&i, 0), "0");
    assert!(money_of(&i, "k", "1e-30").is_err());
}

#[test]
fn live_reconciliation_keys_parse_or_name_the_key() {
    let c = Config::from_toml("").unwrap();
    assert_eq!(c.live.on_start, OnStart::Refuse);
    assert_eq!(c.live.client_id_prefix, "obi");
    assert_eq!(c.live.reconcile_interval_ms, 5000);
    assert_eq!(
        c.live,
        Config::builtin().live,
        "default.toml documents the defaults"
    );
    let c = Config::from_toml(
        "[live]\non_start = \"adopt\"\nclient_id_prefix = \"bot7\"\nreconcile_interval_ms = 250\n",
    )
    .unwrap();
    assert_eq!(
        (
            c.live.on_start,
            c.live.client_id_prefix.as_str(),
            c.live.reconcile_interval_ms
        ),
        (OnStart::Adopt, "bot7", 250)
    );
    let e = err("[live]\non_start = \"flatten\"\n");
    assert_eq!(e.key, "live.on_start");
    assert!(
        e.msg.contains("cancel_ours") && e.msg.contains("flatten"),
        "{e}"
    );
    for bad in ["\"\"", "\"obi-x\"", "\"toolongprefix\""] {
        let e = err(&format!("[live]\nclient_id_prefix = {bad}\n"));
        assert_eq!(e.key, "live.client_id_prefix", "{bad}");
    }
    let e = err("[live]\nreconcile_interval_ms = 10\n");
    assert_eq!(e.key, "live.reconcile_interval_ms");
    assert!(e.msg.contains("100"), "{e}");
}

#[test]
fn live_poll_intervals_parse_or_name_the_key() {
    let c = Config::from_toml("").unwrap();
    assert_eq!((c.live.poll_fast_ms, c.live.poll_slow_ms), (100, 2000));
    let c = Config::from_toml("[live]\npoll_fast_ms = 20\npoll_slow_ms = 500\n").unwrap();
    assert_eq!((c.live.poll_fast_ms, c.live.poll_slow_ms), (20, 500));
    let e = err("[live]\npoll_fast_ms = 600\npoll_slow_ms = 500\n");
    assert_eq!(e.key, "live.poll_fast_ms");
    assert!(e.msg.contains("500"), "{e}");
    let e = err("[live]\npoll_fast_ms = 0\n");
    assert_eq!(e.key, "live.poll_fast_ms");
}
