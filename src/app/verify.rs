//! `obi-scalp verify-book`: replays a recording's books and checks them against the venue's own
//! top of book in the same recording (see [`crate::verify`]).

use super::AppError;
use crate::ops::Exit;
use crate::verify::{verify, VerifyOptions};
use clap::Args;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub rec: super::book::RecordingArgs,
    /// Exit with code 9 when a book agrees with the venue in a smaller share of the compared
    /// quotes than this (0 to 1), or when nothing could be compared.
    #[arg(long, default_value_t = 0.95)]
    pub min_agreement: f64,
    /// Disagreements shown per book, each with the updates around it.
    #[arg(long, default_value_t = 5)]
    pub show: usize,
}

pub fn run(a: VerifyArgs) -> Result<(), AppError> {
    if !(0.0..=1.0).contains(&a.min_agreement) {
        return Err(AppError::usage(
            "--min-agreement: expected a ratio from 0 to 1",
        ));
    }
    let (venue, market) = a.rec.venue_market()?;
    let o = VerifyOptions {
        input: a.rec.input.clone(),
        venue,
        market,
        symbol: a.rec.symbol.clone(),
        show: a.show,
    };
    let v = verify(&o).map_err(AppError::usage)?;
    for s in &v.skipped {
        eprintln!("{s}: skipped");
    }
    let mut below = Vec::new();
    for b in &v.books {
        println!(
            "{}: {} of {} agree ({:.2}%) against {}; not compared: {} with no book state to match (before the first sync or resyncing), {} inside one book update (a state the book never had), {} unreadable",
            b.book,
            b.agree,
            b.compared,
            100.0 * b.ratio(),
            b.against,
            b.not_compared,
            b.inside_update,
            b.unreadable
        );
        for d in &b.disagreements {
            println!("  disagrees: {d}");
        }
        if b.ratio() < a.min_agreement {
            below.push(b.book.as_str());
        }
    }
    let compared: u64 = v.books.iter().map(|b| b.compared).sum();
    if compared == 0 {
        return Err(AppError::exit(
            Exit::BookDisagrees,
            format!(
                "{}: no quote of the venue's own top of book could be compared with a synced book",
                a.rec.input.display()
            ),
        ));
    }
    if !below.is_empty() {
        return Err(AppError::exit(
            Exit::BookDisagrees,
            format!(
                "agreement below --min-agreement {} on {}",
                a.min_agreement,
                below.join(", ")
            ),
        ));
    }
    Ok(())
}
