//! `obi-scalp report`: the figures of a day, week or month (or `--from`/`--to`) from the journal,
//! as `report_<period>_<from>.md/.html/.json`, its charts `report_<period>_<from>_<chart>.png` and
//! `.svg` (and `monthly_report_YYYYMM.md/.json` for a month).

use super::AppError;
use crate::ops::artifacts::write_atomic;
use crate::store::chart;
use crate::store::report::{self, Period, Range};
use clap::Args;
use std::path::PathBuf;

const DAY_NS: i64 = 86_400_000_000_000;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// day, week (Monday to Sunday, UTC) or month.
    #[arg(long, default_value = "day")]
    pub period: String,
    /// First day (YYYY-MM-DD, UTC); default: the period holding the journal's latest record.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD, UTC, included); default: the end of the period.
    #[arg(long)]
    pub to: Option<String>,
    /// The journal (default: the `[store] journal` default).
    #[arg(long, default_value = "var/journal.sqlite")]
    pub journal: PathBuf,
    /// Which runs: run or replay (default: the kind of the journal's latest run).
    #[arg(long)]
    pub kind: Option<String>,
    #[arg(long, default_value = "var/reports")]
    pub out: PathBuf,
}

pub fn run(a: ReportArgs) -> Result<(), AppError> {
    let period = Period::parse(&a.period).map_err(AppError::usage)?;
    if !a.journal.exists() {
        return Err(AppError::usage(format!(
            "journal {}: not found",
            a.journal.display()
        )));
    }
    let c = crate::store::journal::connect(&a.journal).map_err(|e| AppError::usage(e.0))?;
    let db = |e: rusqlite::Error| {
        AppError::exit(
            crate::ops::Exit::Io,
            format!("{}: {e}", a.journal.display()),
        )
    };
    let kind = match &a.kind {
        Some(k) if k == "run" || k == "replay" => k.clone(),
        Some(k) => {
            return Err(AppError::usage(format!(
                "--kind: expected run or replay, got \"{k}\""
            )))
        }
        None => report::default_kind(&c)
            .map_err(db)?
            .ok_or_else(|| AppError::usage(format!("journal {}: no runs", a.journal.display())))?,
    };
    let from = a
        .from
        .as_deref()
        .map(report::parse_date)
        .transpose()
        .map_err(|e| AppError::usage(format!("--from: {e}")))?;
    let to =
        a.to.as_deref()
            .map(report::parse_date)
            .transpose()
            .map_err(|e| AppError::usage(format!("--to: {e}")))?;
    let range = match (from, to) {
        (Some(f), Some(t)) if t < f => {
            return Err(AppError::usage("--to is before --from"));
        }
        (Some(f), Some(t)) => Range {
            from_ns: f * DAY_NS,
            to_ns: (t + 1) * DAY_NS,
        },
        (Some(f), None) => period.containing(f * DAY_NS),
        (None, Some(t)) => period.containing(t * DAY_NS),
        (None, None) => {
            let last = report::latest_ns(&c, &kind).map_err(db)?.ok_or_else(|| {
                AppError::usage(format!(
                    "journal {}: no {kind} records",
                    a.journal.display()
                ))
            })?;
            period.containing(last)
        }
    };
    let (r, series) = report::build(&c, &kind, period, range).map_err(db)?;
    std::fs::create_dir_all(&a.out).map_err(|e| {
        AppError::exit(
            crate::ops::Exit::Io,
            format!("cannot create {}: {e}", a.out.display()),
        )
    })?;
    let json = serde_json::to_string_pretty(&r).expect("report serializes") + "\n";
    let stem = format!("report_{}_{}", r.period, r.from);
    let drawn = |e: String| AppError::exit(crate::ops::Exit::Io, e);
    let mut charts = Vec::new();
    for (file, title, c) in chart::all(&series) {
        charts.push((
            file,
            title,
            chart::png(&c).map_err(drawn)?,
            chart::svg(&c).map_err(drawn)?,
        ));
    }
    // The Markdown links the PNG files written beside it; the HTML carries the SVGs inline.
    let links: Vec<(&str, String)> = charts
        .iter()
        .map(|(file, title, _, _)| (*title, format!("{stem}_{file}.png")))
        .collect();
    let inline: Vec<(&str, String)> = charts
        .iter()
        .map(|(_, t, _, svg)| (*t, svg.clone()))
        .collect();
    let md = report::markdown(&r, &links);
    let html = report::html(&r, &inline);
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (format!("{stem}.json"), json.clone().into_bytes()),
        (format!("{stem}.md"), md.clone().into_bytes()),
        (format!("{stem}.html"), html.into_bytes()),
    ];
    for (file, _, png, svg) in charts {
        files.push((format!("{stem}_{file}.png"), png));
        files.push((format!("{stem}_{file}.svg"), svg.into_bytes()));
    }
    if period == Period::Month && from.is_none() && to.is_none() {
        let ym = r.from[..7].replace('-', "");
        files.push((format!("monthly_report_{ym}.json"), json.into_bytes()));
        files.push((format!("monthly_report_{ym}.md"), md.into_bytes()));
    }
    for (name, data) in &files {
        let p = a.out.join(name);
        write_atomic(&p, data).map_err(|e| {
            AppError::exit(
                crate::ops::Exit::Io,
                format!("cannot write {}: {e}", p.display()),
            )
        })?;
        println!("wrote {}", p.display());
    }
    println!(
        "{} {} to {}: trades {}, net {} {}, max drawdown {}",
        r.kind, r.from, r.to, r.trades, r.net_pnl, r.quote, r.max_drawdown
    );
    Ok(())
}
