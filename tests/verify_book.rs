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

/// A `<receive_ns> <frame>` recording written from the venue's documented message shapes.
fn plain_file(tag: &str, lines: &[&str]) -> TempFile {
    let f =
        TempFile(std::env::temp_dir().join(format!("obi-verify-{tag}-{}.txt", std::process::id())));
    let text: String = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            format!(
                "{} {l}\n",
                1_796_300_000_000_000_000u64 + i as u64 * 500_000_000
            )
        })
        .collect();
    std::fs::write(&f.0, text).unwrap();
    f
}

/// Three book updates, each followed by the venue's ticker; the third ticker still quotes a bid
/// the update before it removed (`stale_bid`). Checks the counts, the disagreement shown and
/// both exit codes.
fn three_tickers_one_stale(venue: &str, book: &str, lines: &[&str], stale_bid: &str) {
    let f = plain_file(venue, lines);
    let out = verify(&f.0, &["--venue", venue]);
    let text = stdout(&out);
    let l = line_of(&text, book);
    assert!(
        l.contains("2 of 3 agree") && l.contains("against ticker by receive time"),
        "{text}"
    );
    let miss = text
        .lines()
        .find(|l| l.contains("disagrees: line 6 "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        miss.contains(&format!("ticker says bid {stale_bid} "))
            && miss.contains("(line 5) has bid"),
        "{miss}"
    );
    assert_eq!(out.status.code(), Some(9), "below the default 0.95");
    let out = verify(&f.0, &["--venue", venue, "--min-agreement", "0.6"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn gmocoin_books_are_checked_against_the_ticker_channel() {
    three_tickers_one_stale(
        "gmocoin_linear",
        "gmocoin_linear:BTC_JPY",
        &[
            r#"{"channel":"orderbooks","asks":[{"price":"13660704","size":"0.001"},{"price":"13660910","size":"0.012"}],"bids":[{"price":"13658802","size":"0.008"},{"price":"13658299","size":"0.03"}],"symbol":"BTC_JPY","timestamp":"2026-12-03T10:13:20.000Z"}"#,
            r#"{"channel":"ticker","ask":"13660704","bid":"13658802","high":"13700000","last":"13659000","low":"13500000","symbol":"BTC_JPY","timestamp":"2026-12-03T10:13:20.100Z","volume":"194.8484"}"#,
            r#"{"channel":"orderbooks","asks":[{"price":"13660910","size":"0.012"}],"bids":[{"price":"13658802","size":"0.005"},{"price":"13658299","size":"0.03"}],"symbol":"BTC_JPY","timestamp":"2026-12-03T10:13:21.000Z"}"#,
            r#"{"channel":"ticker","ask":"13660910","bid":"13658802","high":"13700000","last":"13659000","low":"13500000","symbol":"BTC_JPY","timestamp":"2026-12-03T10:13:21.100Z","volume":"194.8484"}"#,
            r#"{"channel":"orderbooks","asks":[{"price":"13660500","size":"0.02"},{"price":"13660910","size":"0.012"}],"bids":[{"price":"13658299","size":"0.03"}],"symbol":"BTC_JPY","timestamp":"2026-12-03T10:13:22.000Z"}"#,
            r#"{"channel":"ticker","ask":"13660500","bid":"13658802","high":"13700000","last":"13659000","low":"13500000","symbol":"BTC_JPY","timestamp":"2026-12-03T10:13:22.100Z","volume":"194.8484"}"#,
        ],
        "13658802",
    );
}

#[test]
fn bitbank_books_are_checked_against_the_ticker_room() {
    three_tickers_one_stale(
        "bitbank",
        "bitbank_spot:btc_jpy",
        &[
            r#"42["message",{"room_name":"depth_whole_btc_jpy","message":{"data":{"asks":[["14500100","0.5"],["14500200","1.0"]],"bids":[["14500000","0.3"],["14499900","0.7"]],"asks_over":"0","bids_under":"0","asks_under":"0","bids_over":"0","ask_market":"0","bid_market":"0","timestamp":1796300000000,"sequenceId":"1000"}}}]"#,
            r#"42["message",{"room_name":"ticker_btc_jpy","message":{"pid":1,"data":{"sell":"14500100","buy":"14500000","open":"14400000","high":"14600000","low":"14300000","last":"14500000","vol":"650.2026","timestamp":1796300000100}}}]"#,
            r#"42["message",{"room_name":"depth_diff_btc_jpy","message":{"data":{"a":[["14500100","0"]],"b":[["14500050","0.1"]],"t":1796300001000,"s":"1003"}}}]"#,
            r#"42["message",{"room_name":"ticker_btc_jpy","message":{"pid":2,"data":{"sell":"14500200","buy":"14500050","open":"14400000","high":"14600000","low":"14300000","last":"14500000","vol":"650.2026","timestamp":1796300001100}}}]"#,
            r#"42["message",{"room_name":"depth_diff_btc_jpy","message":{"data":{"a":[],"b":[["14500050","0"]],"t":1796300002000,"s":"1007"}}}]"#,
            r#"42["message",{"room_name":"ticker_btc_jpy","message":{"pid":3,"data":{"sell":"14500200","buy":"14500050","open":"14400000","high":"14600000","low":"14300000","last":"14500000","vol":"650.2026","timestamp":1796300002100}}}]"#,
        ],
        "14500050",
    );
}
