//! `obi-scalp verify-book` on the shared recordings: our book against the venue's own top of
//! book in the same file (`../shared/data/README.md` gives the figures).

#[path = "common/shared_data.rs"]
mod shared_data;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BYBIT: &str = "bybit_v5_cryptofeed_20260809.jsonl";

fn verify(input: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_obi-scalp"))
        .args(["verify-book", "--input", input.to_str().unwrap()])
        .args(extra)
        .output()
        .expect("run obi-scalp")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The summary line of `book`.
fn line_of<'a>(text: &'a str, book: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(&format!("{book}: ")))
        .unwrap_or_else(|| panic!("no line for {book} in\n{text}"))
}

#[test]
fn bybit_linear_books_agree_with_tickers_as_the_data_readme_says() {
    let Some(p) = shared_data::shared_data(BYBIT) else {
        return;
    };
    let out = verify(&p, &[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    for (book, figure) in [
        ("bybit_linear:BTCUSDT", "132 of 132 agree"),
        ("bybit_linear:ETHUSDT", "200 of 200 agree"),
        ("bybit_linear:SOLUSDT", "152 of 153 agree"),
        ("bybit_linear:DOGEUSDT", "148 of 151 agree"),
    ] {
        let l = line_of(&text, book);
        assert!(l.contains(figure), "{l}");
        assert!(l.contains("against tickers by update id"), "{l}");
    }
    // Spot tickers carry no best bid/ask: nothing to judge those books by.
    assert!(!text.contains("bybit_spot:"), "{text}");
    // Each disagreement is shown with the updates around it.
    let sol = text
        .lines()
        .find(|l| l.contains("disagrees: line 1253 "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        sol.contains("says bid 77.280 ask 77.290")
            && sol.contains("has bid 77.290 ask 77.300")
            && sol.contains("the update after (line 1260): bid 77.280 ask 77.290"),
        "{sol}"
    );
}

#[test]
fn agreement_below_the_ratio_asked_exits_9_naming_the_books() {
    let Some(p) = shared_data::shared_data(BYBIT) else {
        return;
    };
    let out = verify(&p, &["--min-agreement", "1"]);
    assert_eq!(out.status.code(), Some(9));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bybit_linear:SOLUSDT") && err.contains("bybit_linear:DOGEUSDT"),
        "{err}"
    );
    assert!(!err.contains("BTCUSDT"), "{err}");
    let out = verify(&p, &["--min-agreement", "1.5"]);
    assert_eq!(out.status.code(), Some(2));
}

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_ticker_the_book_does_not_match_is_found_and_shown() {
    let Some(p) = shared_data::shared_data(BYBIT) else {
        return;
    };
    // Change the best bid of one BTCUSDT ticker delta (past the first sync) to 1.00.
    let text = std::fs::read_to_string(&p).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let needle = r#"bid1Price\":\""#;
    let (n, l) = lines
        .iter_mut()
        .enumerate()
        .filter(|(_, l)| l.contains(r#"tickers.BTCUSDT\",\"type\":\"delta"#) && l.contains(needle))
        .nth(20)
        .expect("a BTCUSDT ticker delta with a best bid");
    let at = l.find(needle).unwrap() + needle.len();
    let end = at + l[at..].find('\\').unwrap();
    l.replace_range(at..end, "1.00");
    let tampered = TempFile(
        std::env::temp_dir().join(format!("obi-verify-tampered-{}.jsonl", std::process::id())),
    );
    std::fs::write(&tampered.0, lines.join("\n") + "\n").unwrap();
    let out = verify(&tampered.0, &[]);
    let text = stdout(&out);
    let btc = line_of(&text, "bybit_linear:BTCUSDT");
    assert!(!btc.contains("132 of 132"), "{btc}");
    assert!(
        text.contains(&format!("disagrees: line {} ", n + 1)) && text.contains("says bid 1.00 "),
        "{text}"
    );
}

#[test]
fn bitflyer_mid_agrees_212_of_213_and_the_one_miss_is_a_bid_the_stream_never_sent() {
    let Some(p) = shared_data::shared_data("bitflyer_cryptofeed_20211212.jsonl") else {
        return;
    };
    let out = verify(&p, &["--venue", "bitflyer", "--symbol", "FX_BTC_JPY"]);
    let text = stdout(&out);
    let mid = text
        .lines()
        .find(|l| l.contains("against mid_price of the same update"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        mid.starts_with("bitflyer_linear:FX_BTC_JPY: 212 of 213 agree")
            && mid.contains("16 with no book state to match"),
        "{mid}"
    );
    // The miss: right after the snapshot of line 811, the venue's mid 5869789 is
    // (5868995 + 5870583) / 2, a bid at 5868995 that neither that snapshot nor any diff
    // carried (the diff of line 830 deletes it): bitFlyer's unsequenced diffs lost its add.
    let miss = text
        .lines()
        .find(|l| l.contains("disagrees: line 818 "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        miss.contains("mid_price says mid 5869789.0")
            && miss.contains("has bid 5868836 ask 5870583")
            && miss.contains("the update before (line 811)"),
        "{miss}"
    );
    let raw = std::fs::read_to_string(&p).unwrap();
    let lines: Vec<&str> = raw.lines().collect();
    assert!(
        !lines[810].contains(r#"\"price\":5868995.0"#),
        "not in the snapshot"
    );
    assert!(lines[829].contains(r#"{\"price\":5868995.0,\"size\":0.0}"#));
    assert_eq!((5868995 + 5870583) / 2, 5869789);
    // The tickers, matched by receive time only, are a weaker check (timing between the
    // channels): shown, and below the default ratio.
    assert!(text.contains("against ticker by receive time"), "{text}");
    assert_eq!(out.status.code(), Some(9));
}
