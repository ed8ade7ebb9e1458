//! `obi-scalp sweep`: parameter sweeps and walk-forward over replays; `sweep merge` combines
//! shard outputs.

use super::AppError;
use crate::replay::progress::Progress;
use crate::replay::{self, input};
use crate::sweep::{self, walk, Base, Objective, Results, Row};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub cmd: Option<SweepCmd>,
    /// Base config; every point is this config with the point's values written in.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Recordings, as for `replay` (decoded once, shared by every point).
    #[arg(long, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// A swept key: `section.key=lo:hi:step` (both ends included) or `section.key=a,b,c`;
    /// any `[strategy]`, `[risk]` or `[paper]` key. Repeat for a grid.
    #[arg(long = "param")]
    pub params: Vec<String>,
    /// Run N points drawn from the grid (with --seed) instead of all of it.
    #[arg(long)]
    pub random: Option<u64>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Where to write results.csv, results.json and best.toml (or walk_forward.*).
    #[arg(long, default_value = "var/sweep")]
    pub out: PathBuf,
    /// What the best point maximises: net_pnl, sharpe or profit_factor.
    #[arg(long, default_value = "net_pnl")]
    pub objective: String,
    /// Points with fewer trades never count as best.
    #[arg(long, default_value_t = 1)]
    pub min_trades: u64,
    /// Run a deterministic slice `i/n` of the points (merge the slices with `sweep merge`).
    #[arg(long)]
    pub shard: Option<String>,
    /// `train=3d,test=1d[,step=1d]` (units s, m, h, d): best point per training window, scored
    /// on the next test window.
    #[arg(long)]
    pub walk_forward: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum SweepCmd {
    /// Combine the outputs of `--shard` runs into the results of one unsharded run.
    Merge {
        /// Shard output directories.
        #[arg(num_args = 1.., required = true)]
        dirs: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
}

fn usage(e: impl Into<String>) -> AppError {
    AppError::usage(e)
}

pub fn run(a: SweepArgs) -> Result<(), AppError> {
    if let Some(SweepCmd::Merge { dirs, out }) = a.cmd {
        return merge(&dirs, &out);
    }
    let cfg_path = a
        .config
        .clone()
        .ok_or_else(|| usage("--config is required"))?;
    if a.input.is_empty() {
        return Err(usage("--input is required"));
    }
    if a.params.is_empty() {
        return Err(usage("at least one --param is required"));
    }
    let objective: Objective = a.objective.parse().map_err(usage)?;
    let text = std::fs::read_to_string(&cfg_path)
        .map_err(|e| usage(format!("{}: cannot read: {e}", cfg_path.display())))?;
    let base = Base::new(&text).map_err(|e| usage(format!("{}: {e}", cfg_path.display())))?;
    let params: Vec<sweep::Param> = a
        .params
        .iter()
        .map(|p| sweep::parse_param(p))
        .collect::<Result<_, _>>()
        .map_err(usage)?;
    if let Some(w) = params
        .iter()
        .enumerate()
        .find(|(i, p)| params[..*i].iter().any(|q| q.key == p.key))
    {
        return Err(usage(format!("--param {}: given twice", w.1.key)));
    }
    let size = sweep::grid_size(&params).map_err(usage)?;
    let selected = sweep::select(size, a.random.map(|n| (n, a.seed)));
    let points = match &a.shard {
        Some(s) => {
            let (i, n) = sweep::parse_shard(s).map_err(usage)?;
            sweep::shard(&selected, i, n)
        }
        None => selected.clone(),
    };
    if a.walk_forward.is_some() && a.shard.is_some() {
        return Err(usage("--walk-forward and --shard cannot be combined"));
    }
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    // Every point's config, checked before any input is read.
    let mut values = Vec::with_capacity(points.len());
    let mut configs = Vec::with_capacity(points.len());
    for &p in &points {
        let v = sweep::point_values(&params, p);
        let (_, c) = base.point(&params, &v).map_err(usage)?;
        values.push(v);
        configs.push(c);
    }
    let base_cfg = crate::config::Config::from_toml(&text)?;
    let key = base_cfg.market.instrument.key;

    let t0 = Instant::now();
    let mut stream = input::stream(&a.input, Some(key.venue), None).map_err(|e| usage(e.0))?;
    for s in &stream.scan.skipped {
        eprintln!("{}:{}: skipped: {}", s.path.display(), s.line, s.message);
    }
    for w in &stream.scan.warnings {
        eprintln!("warning: {w}");
    }
    let mut bar = Progress::new("decode", "records", stream.total());
    let decoded = replay::decode(&base_cfg, &mut stream, &mut |n| bar.update(n)).map_err(usage)?;
    bar.finish(stream.done);
    drop(stream);
    if decoded.record_ns.is_empty() {
        return Err(usage(format!(
            "no {key} frames in the input: check market.venue/market.market/market.symbol"
        )));
    }
    let decode_s = t0.elapsed().as_secs_f64();
    let quote = base_cfg.market.instrument.quote.to_string();

    if let Some(spec) = &a.walk_forward {
        let spec = walk::parse_walk(spec).map_err(usage)?;
        let (first, last) = decoded.span();
        let wins = walk::windows(spec, first, last);
        if wins.is_empty() {
            return Err(usage(format!(
                "--walk-forward: the input spans {} s, shorter than one training window",
                (last - first) / 1_000_000_000
            )));
        }
        let count = |w: replay::Window| {
            decoded
                .record_ns
                .iter()
                .filter(|&&t| t >= w.trade_from_ns && t < w.until_ns)
                .count() as u64
        };
        let mut per = Vec::new();
        for (k, &(tr, te)) in wins.iter().enumerate() {
            eprintln!("walk-forward: training window {} of {}", k + 1, wins.len());
            let (sums, _) = run_progress("train", &configs, &decoded, Some(tr), jobs)?;
            let rows: Vec<Row> = points
                .iter()
                .zip(&values)
                .zip(&sums)
                .map(|((&p, v), s)| Row::new(p, v.clone(), s))
                .collect();
            let oos = match sweep::best(&rows, objective, a.min_trades) {
                Some(b) => {
                    let i = points.iter().position(|&p| p == b.point).expect("a point");
                    let s = replay::run_events(&configs[i], &decoded, Some(te)).map_err(usage)?;
                    Some(Row::new(b.point, b.values.clone(), &s))
                }
                None => None,
            };
            per.push(((tr, te), (count(tr), count(te)), rows, oos));
        }
        let report = walk::WalkReport::new(objective, a.min_trades, quote, spec, first, per);
        let keys: Vec<String> = params.iter().map(|p| p.key.clone()).collect();
        std::fs::create_dir_all(&a.out).map_err(|e| {
            AppError::exit(
                crate::ops::Exit::Io,
                format!("cannot create {}: {e}", a.out.display()),
            )
        })?;
        let json = serde_json::to_string_pretty(&report).expect("report serializes") + "\n";
        for (name, data) in [
            ("walk_forward.csv", report.csv(&keys)),
            ("walk_forward.json", json),
        ] {
            let p = a.out.join(name);
            crate::ops::artifacts::write_atomic(&p, data.as_bytes()).map_err(|e| {
                AppError::exit(
                    crate::ops::Exit::Io,
                    format!("cannot write {}: {e}", p.display()),
                )
            })?;
        }
        print!("{}", report.human());
        println!("wrote {}", a.out.join("walk_forward.json").display());
        return Ok(());
    }

    let (sums, run_s) = run_progress("sweep", &configs, &decoded, None, jobs)?;
    let run_s = run_s.max(1e-9);
    let mut res = Results {
        objective,
        min_trades: a.min_trades,
        quote,
        params: params.clone(),
        points_selected: selected.len() as u64,
        base_config: text,
        rows: points
            .iter()
            .zip(values)
            .zip(&sums)
            .map(|((&p, v), s)| Row::new(p, v, s))
            .collect(),
        best: None,
    };
    res.finish();
    res.write(&a.out)
        .map_err(|e| AppError::exit(crate::ops::Exit::Io, e))?;
    let n = points.len() as f64;
    let threads = jobs.min(points.len()).max(1) as f64;
    println!(
        "sweep: {} points on {} threads: decode {:.3} s once ({} records, {} frames of {key}), points {:.3} s: {:.1} points/s, {:.0} frames/s per thread",
        points.len(),
        threads,
        decode_s,
        decoded.record_ns.len(),
        decoded.feed.frames,
        run_s,
        n / run_s,
        n * decoded.feed.frames as f64 / run_s / threads
    );
    match &res.best {
        Some(b) => println!(
            "best by {}: point {} ({}): {} trades, net {} {}, profit factor {}, Sharpe/trade {}",
            objective.as_str(),
            b.point,
            params
                .iter()
                .zip(&b.values)
                .map(|(p, v)| format!("{}={v}", p.key))
                .collect::<Vec<_>>()
                .join(" "),
            b.trades,
            b.net_pnl,
            res.quote,
            b.profit_factor,
            b.sharpe_per_trade
        ),
        None => println!("no point made {} trades: no best.toml", a.min_trades),
    }
    println!("wrote {}", a.out.join("results.csv").display());
    Ok(())
}

/// Runs the points on `jobs` threads, drawing progress from this one.
fn run_progress(
    label: &'static str,
    configs: &[crate::config::Config],
    d: &replay::Decoded,
    window: Option<replay::Window>,
    jobs: usize,
) -> Result<(Vec<replay::report::Summary>, f64), AppError> {
    let done = AtomicUsize::new(0);
    let mut bar = Progress::new(label, "points", configs.len() as u64);
    let (r, secs) = std::thread::scope(|s| {
        let h = s.spawn(|| {
            let t = Instant::now();
            let r = sweep::run_all(configs, d, window, jobs, &done);
            (r, t.elapsed().as_secs_f64())
        });
        while !h.is_finished() {
            bar.update(done.load(Ordering::Relaxed) as u64);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        h.join()
    })
    .map_err(|_| AppError::exit(crate::ops::Exit::Internal, "a sweep thread panicked"))?;
    bar.finish(done.load(Ordering::Relaxed) as u64);
    Ok((r.map_err(usage)?, secs))
}

fn merge(dirs: &[PathBuf], out: &std::path::Path) -> Result<(), AppError> {
    let mut parts = Vec::new();
    for d in dirs {
        let p = d.join("results.json");
        let t = std::fs::read_to_string(&p)
            .map_err(|e| usage(format!("{}: cannot read: {e}", p.display())))?;
        let r: Results = serde_json::from_str(&t)
            .map_err(|e| usage(format!("{}: not sweep results: {e}", p.display())))?;
        parts.push(r);
    }
    let all = Results::merge(parts).map_err(usage)?;
    all.write(out)
        .map_err(|e| AppError::exit(crate::ops::Exit::Io, e))?;
    println!(
        "merged {} shards: {} points; wrote {}",
        dirs.len(),
        all.rows.len(),
        out.join("results.csv").display()
    );
    Ok(())
}
