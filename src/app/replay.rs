//! `obi-scalp replay`: deterministic single-thread event-time backtest.

use super::AppError;
use crate::config::Config;
use crate::ops::artifacts::write_atomic;
use crate::replay::progress::Progress;
use crate::replay::{input, report, Engine};
use crate::store::{EquitySnap, Journal, RunEnd, RunInfo, RunKind, StoreError};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Config file: instrument, strategy, risk and paper-exchange parameters.
    #[arg(long)]
    pub config: PathBuf,
    /// Recordings (cryptofeed JSON lines, `<ns> <frame>` lines or obirec; plain, .gz or .zst).
    #[arg(long, num_args = 1.., required = true)]
    pub input: Vec<PathBuf>,
    /// Where to write trades.csv and summary.json.
    #[arg(long, default_value = "var/replay")]
    pub out: PathBuf,
    /// Also write the run into this SQLite journal (the same schema `run` writes), for
    /// `obi-scalp report`.
    #[arg(long)]
    pub journal: Option<PathBuf>,
}

pub fn run(a: ReplayArgs) -> Result<(), AppError> {
    let cfg = Config::load(&a.config)?;
    let key = cfg.market.instrument.key;
    let mut stream =
        input::stream(&a.input, Some(key.venue), None).map_err(|e| AppError::usage(e.0))?;
    for s in &stream.scan.skipped {
        eprintln!("{}:{}: skipped: {}", s.path.display(), s.line, s.message);
    }
    for w in &stream.scan.warnings {
        eprintln!("warning: {w}");
    }
    if stream.scan.spilled_bytes > 0 {
        eprintln!(
            "note: {} bytes of out-of-order stretches spilled to {} while merging",
            stream.scan.spilled_bytes,
            std::env::temp_dir().display()
        );
    }
    let engine = Engine::new(&cfg).map_err(AppError::usage)?;
    let mut bar = Progress::new("replay", "records", stream.total());
    let (out, engine) = engine
        .run_stream(&mut stream, &mut |n| bar.update(n))
        .map_err(|e| AppError::usage(e.0))?;
    bar.finish(stream.done);
    if out.records == 0 {
        return Err(AppError::usage(format!(
            "no {} frames in the input: check market.venue/market.market/market.symbol",
            key
        )));
    }
    let summary = report::summarize(&cfg, &out, &engine);
    std::fs::create_dir_all(&a.out).map_err(|e| {
        AppError::exit(
            crate::ops::Exit::Io,
            format!("cannot create {}: {e}", a.out.display()),
        )
    })?;
    let csv = report::trades_csv(&cfg.market.instrument, &out.events);
    let json = serde_json::to_string_pretty(&summary).expect("summary serializes") + "\n";
    for (name, data) in [
        ("trades.csv", csv.as_bytes()),
        ("summary.json", json.as_bytes()),
    ] {
        let p = a.out.join(name);
        write_atomic(&p, data).map_err(|e| {
            AppError::exit(
                crate::ops::Exit::Io,
                format!("cannot write {}: {e}", p.display()),
            )
        })?;
    }
    if let Some(p) = &a.journal {
        let n = write_journal(p, &cfg, &out, &engine)
            .map_err(|e| AppError::exit(crate::ops::Exit::Io, e.0))?;
        println!("journal: {n} records into {}", p.display());
    }
    print!("{}", report::human(&summary));
    println!(
        "wrote {} and {}",
        a.out.join("trades.csv").display(),
        a.out.join("summary.json").display()
    );
    Ok(())
}

/// Writes one replay into a journal: its events, the ledger's equity points and its end.
fn write_journal(
    path: &std::path::Path,
    cfg: &Config,
    out: &crate::replay::Outcome,
    engine: &crate::replay::Engine,
) -> Result<usize, StoreError> {
    let mut j = Journal::open(path)?;
    j.begin_run(&RunInfo::for_config(cfg, RunKind::Replay, out.first_ns))?;
    for e in &out.events {
        j.record(e);
    }
    for &(ts_ns, pnl, position, bits) in &out.equity {
        let reasons = crate::risk::Reasons::from_bits(bits);
        j.equity(EquitySnap {
            ts_ns,
            pnl,
            position,
            status: reasons.status(),
            reasons,
        });
    }
    let status = engine.trader.risk.status();
    let n = j.flush()?;
    let (pos, cash) = engine.paper.balance();
    j.end_run(&RunEnd {
        ended_wall_ns: out.last_ns,
        stop_reason: "end of input".into(),
        clean: true,
        max_drawdown: Some(engine.trader.ledger.max_drawdown()),
        position: Some(pos),
        cash_change: Some(cash),
        risk_status: Some(status),
    })?;
    Ok(n)
}
