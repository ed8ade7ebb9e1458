//! The journal's schema, versioned by SQLite's `user_version` and upgraded by numbered migrations.
//!
//! Every record table has a `seq` primary key: one sequence across the journal's tables, assigned
//! in the order the cold thread saw the records, so a reader (the PostgreSQL sink, a report) can
//! take "everything after seq N" from each table. Money columns hold exact integer money units
//! of [`crate::msg::Money`] (an INTEGER when it fits 64 bits, else its decimal text); `runs`
//! says how to turn them into the quote currency (`money_per`, `money_decimals`, as
//! [`crate::config::format_money`] does).

/// Migration `i` (0-based) takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // v1
    "CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,              -- 'run' | 'replay'
        started_wall_ns INTEGER NOT NULL,
        ended_wall_ns INTEGER,           -- NULL: still running, or killed
        pid INTEGER NOT NULL,
        venue TEXT NOT NULL,
        symbol TEXT NOT NULL,
        quote TEXT NOT NULL,
        money_per INTEGER NOT NULL,
        money_decimals INTEGER NOT NULL,
        quote_decimals INTEGER NOT NULL, -- printed at least this many decimals (trailing zeros trimmed beyond)
        initial_equity NOT NULL,
        config_digest TEXT NOT NULL,
        risk_reset INTEGER NOT NULL,     -- 1: started with the carried risk state cleared
        stop_reason TEXT,
        clean INTEGER,
        final_max_drawdown,              -- the ledger's own figure at the end (replay)
        final_position INTEGER,
        final_cash_change,
        final_risk_status TEXT
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        ts_ns INTEGER NOT NULL,
        kind TEXT NOT NULL,  -- signal|order|ack|fill|cancel|cancel_all|cancelled|reject|pre_trade_reject|cancel_reject|unknown_report
        order_id INTEGER,
        side TEXT,
        px INTEGER,
        qty INTEGER,
        tif TEXT,
        reduce_only INTEGER,
        reason TEXT,
        liquidity TEXT,
        fee,
        leaves INTEGER,
        recv_ns INTEGER,
        obi_ppm INTEGER
    );
    CREATE INDEX events_ts ON events(ts_ns);
    CREATE TABLE trades (
        seq INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        open_ns INTEGER NOT NULL,
        close_ns INTEGER NOT NULL,
        side TEXT NOT NULL,              -- the entry side: buy = long
        qty INTEGER NOT NULL,
        max_position INTEGER NOT NULL,
        entry_value NOT NULL,
        exit_value NOT NULL,
        gross_pnl NOT NULL,
        fees NOT NULL,
        net_pnl NOT NULL,
        exit_reason TEXT
    );
    CREATE INDEX trades_close ON trades(close_ns);
    CREATE TABLE risk (
        seq INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        ts_ns INTEGER NOT NULL,
        from_status TEXT NOT NULL,
        to_status TEXT NOT NULL,
        reasons INTEGER NOT NULL,        -- crate::risk::Reasons bits
        reasons_text TEXT NOT NULL,
        raised TEXT NOT NULL,
        cleared TEXT NOT NULL,
        kill_source TEXT,
        mark_px INTEGER,
        equity NOT NULL,
        equity_peak NOT NULL,
        drawdown NOT NULL,
        day_pnl NOT NULL,
        position INTEGER NOT NULL
    );
    CREATE TABLE equity (
        seq INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        ts_ns INTEGER NOT NULL,
        pnl NOT NULL,                    -- net PnL of the run so far, open position at the mark
        position INTEGER NOT NULL,
        risk_status TEXT NOT NULL,
        reasons INTEGER NOT NULL
    );
    CREATE INDEX equity_ts ON equity(ts_ns);
    CREATE TABLE latency (
        seq INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        ts_ns INTEGER NOT NULL,
        kind TEXT NOT NULL,              -- crate::pipeline::stats::LatencyKind, cumulative per run
        count INTEGER NOT NULL,
        p50_ns INTEGER NOT NULL,
        p90_ns INTEGER NOT NULL,
        p99_ns INTEGER NOT NULL,
        p999_ns INTEGER NOT NULL,
        max_ns INTEGER NOT NULL
    );",
];

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// The record tables, in the order the PostgreSQL sink and the backup drill walk them.
pub const TABLES: &[&str] = &["runs", "events", "trades", "risk", "equity", "latency"];
