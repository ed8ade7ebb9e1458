//! `obi-scalp`: parses the command line and hands over to the library.

use clap::{Parser, Subcommand};
use obi_scalp::app::{self, AppError};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "obi-scalp",
    version,
    about = "Low-latency order-book-imbalance scalping engine"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Trade: the threaded pipeline (paper by default; the built-in synthetic market needs no network).
    Run(app::run::RunArgs),
    /// Deterministic single-thread event-time backtest of recordings through the same stage code.
    Replay(app::replay::ReplayArgs),
    /// Report from the trade journal: PnL, trades, drawdown, latency, risk events (Markdown, HTML, JSON).
    Report(app::report::ReportArgs),
    /// Back up what the configs' runs keep: journal (online), configs, audit logs, recordings.
    Backup(app::backup::BackupArgs),
    /// Restore a backup (verified against its manifest first) into a new folder.
    Restore(app::backup::RestoreArgs),
    /// The trade journal's backups: backup (online, with a checksum manifest), verify, restore.
    Journal(app::journal::JournalArgs),
    /// Parameter sweep (grid or random), walk-forward and shard merge over replays.
    Sweep(app::sweep::SweepArgs),
    /// Replay a recording through the parser and book only; CSV of the top of book to stdout.
    Book(app::book::BookArgs),
    /// Check a recording's books against the venue's own top of book in it (bookTicker, tickers, mid_price).
    VerifyBook(app::verify::VerifyArgs),
    /// The threaded pipeline over a recording as fast as it goes: tick-to-trade and stage latency.
    BenchLatency(app::bench::BenchArgs),
    /// Validate a config file and print the effective configuration.
    CheckConfig(app::check::CheckArgs),
    /// Local exchange simulator speaking a venue's WebSocket and REST protocols.
    Sim(obi_scalp::sim::cli::SimArgs),
    /// Record raw frames of a live feed to disk.
    Record(app::record::RecordArgs),
    /// Connectivity drill before going live: auth, clock skew, account reads, both streams and
    /// their reconnects, rate-limit headroom; no orders (live_connectivity_drill.json).
    Drill(app::drill::DrillArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `run` sets logging up itself once its config says whether to log JSON.
    if !matches!(cli.cmd, Cmd::Run(_)) {
        obi_scalp::ops::logging::init(false);
    }
    let res: Result<(), AppError> = match cli.cmd {
        Cmd::Run(a) => app::run::run(a),
        Cmd::Replay(a) => app::replay::run(a),
        Cmd::Report(a) => app::report::run(a),
        Cmd::Backup(a) => app::backup::run_backup(a),
        Cmd::Restore(a) => app::backup::run_restore(a),
        Cmd::Journal(a) => app::journal::run(a),
        Cmd::Sweep(a) => app::sweep::run(a),
        Cmd::Book(a) => app::book::run(a),
        Cmd::VerifyBook(a) => app::verify::run(a),
        Cmd::BenchLatency(a) => app::bench::run(a),
        Cmd::CheckConfig(a) => app::check::run(a),
        Cmd::Sim(a) => obi_scalp::sim::cli::run(a).map_err(|e| AppError::exit(e.exit, e.msg)),
        Cmd::Record(a) => app::record::run(a),
        Cmd::Drill(a) => app::drill::run(a),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            obi_scalp::ops::logging::print_fatal(&e.msg);
            ExitCode::from(e.code)
        }
    }
}
