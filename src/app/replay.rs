//! `obi-scalp replay`: deterministic single-thread event-time backtest.

use super::AppError;
use crate::config::Config;
use crate::ops::artifacts::write_atomic;
use crate::replay::{input, report, Engine};
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
}

pub fn run(a: ReplayArgs) -> Result<(), AppError> {
    let cfg = Config::load(&a.config)?;
    let key = cfg.market.instrument.key;
    let loaded = input::load(&a.input, Some(key.venue), None).map_err(|e| AppError::usage(e.0))?;
    for s in &loaded.skipped {
        eprintln!("{}:{}: skipped: {}", s.path.display(), s.line, s.message);
    }
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let engine = Engine::new(&cfg).map_err(AppError::usage)?;
    let (out, engine) = engine.run(&loaded);
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
    print!("{}", report::human(&summary));
    println!(
        "wrote {} and {}",
        a.out.join("trades.csv").display(),
        a.out.join("summary.json").display()
    );
    Ok(())
}
