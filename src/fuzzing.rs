//! The bodies of the fuzz targets: every parser of outside input, driven by arbitrary bytes.
//!
//! `fuzz/` (its own Cargo workspace, `cargo +nightly fuzz run TARGET`) calls these from
//! libFuzzer, and `tests/fuzz_corpus.rs` runs every committed corpus input through the same
//! functions on the stable toolchain, so CI replays the corpus without libFuzzer. Each must
//! return for any input without a panic (a panic is the defect a fuzzer reports) and keeps
//! the invariants asserted here.
//!
//! | function | what it drives |
//! |---|---|
//! | [`venue_decoder`] | a venue's market-data decoder: frames, REST bodies, timers, disconnects |
//! | [`record_reader`] | the recording reader (cryptofeed JSON lines, plain `ns frame` lines, obirec) |
//! | [`http_request`] | the ops HTTP server's request path: read, route, answer |
//! | [`config_toml`] | the config loader (`Config::from_toml`) |

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::config::Config;
use crate::instrument::InstrumentTable;
use crate::ops::secrets::KILL_TOKEN;
use crate::ops::{
    Handler, HttpConfig, HttpContext, KillSwitch, Mode, SecretSources, SecretStore, Status,
    StatusBoard,
};
use crate::record::{Format, RecordReader};
use crate::venue::{AnyDecoder, Decoder, DecoderSettings, Venue};

/// Feeds `data` to a decoder of `venue`. The first byte picks the instrument among the
/// venue's built-in ones (its market); the rest is split into lines, each one event 1 ms after
/// the last, followed by a timer tick:
/// - `>URL BODY`: a REST response for `URL`;
/// - `~`: a disconnect;
/// - anything else: a WebSocket frame.
///
/// Checked: every event names a book the decoder routes.
pub fn venue_decoder(venue: Venue, data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let table = InstrumentTable::default();
    let insts: Vec<_> = table.iter().filter(|i| i.key.venue == venue).collect();
    if insts.is_empty() {
        return;
    }
    let inst = insts[pick as usize % insts.len()];
    let Ok(mut d) = AnyDecoder::new(
        venue,
        inst.key.market,
        table.clone(),
        &[],
        &DecoderSettings::default(),
    ) else {
        return;
    };
    let mut t = 1_700_000_000_000_000_000u64;
    let mut buf = Vec::with_capacity(rest.len());
    // The highest book index of the events of one step (books are added as symbols appear).
    let top = std::cell::Cell::new(None::<u16>);
    let mut check = |e: crate::msg::MdEvent| top.set(top.get().max(Some(e.book)));
    for line in rest.split(|&b| b == b'\n') {
        t += 1_000_000;
        buf.clear();
        if let Some(r) = line.strip_prefix(b">") {
            let (url, body) = match r.iter().position(|&b| b == b' ') {
                Some(i) => (&r[..i], &r[i + 1..]),
                None => (r, &[][..]),
            };
            let url = String::from_utf8_lossy(url);
            buf.extend_from_slice(body);
            d.on_rest(t, &url, &mut buf, &mut check);
        } else if line == b"~" {
            d.on_disconnect(t, &mut check);
        } else {
            buf.extend_from_slice(line);
            d.on_frame(t, &mut buf, &mut check);
        }
        d.on_timer(t, &mut check);
        if let Some(b) = top.take() {
            let books = d.routes().books.len();
            assert!((b as usize) < books, "event for book {b} of {books}");
        }
        if d.take_resync_request() {
            while d.take_snapshot_book().is_some() {}
        }
    }
}

/// Reads `data` as a recording of `format` (the input gets the format's first bytes when it
/// lacks them: `{` for cryptofeed, a digit for plain, the obirec magic), to the end.
///
/// Checked: the reader ends, taking at most one step per input byte (plus the header), and
/// every record's data lies within what was read.
pub fn record_reader(format: Format, data: &[u8]) {
    let lead: &[u8] = match format {
        Format::CryptofeedJson => b"{",
        Format::PlainNs => b"1",
        Format::Obirec => crate::record::obirec::MAGIC,
    };
    let mut bytes = Vec::with_capacity(lead.len() + data.len());
    if !data.starts_with(lead) {
        bytes.extend_from_slice(lead);
    }
    bytes.extend_from_slice(data);
    let len = bytes.len();
    let path = std::path::Path::new("fuzz-input");
    let Ok(mut r) = RecordReader::from_reader(path, std::io::Cursor::new(bytes)) else {
        return;
    };
    let mut steps = 0usize;
    while let Some(next) = r.next_record() {
        steps += 1;
        assert!(
            steps <= len + 2,
            "{steps} records from {len} bytes: not ending"
        );
        match next {
            Ok(rec) => assert!(rec.data.len() <= len, "record data beyond the input"),
            Err(e) if e.is_malformed() => {}
            Err(_) => break,
        }
    }
}

/// The kill token the HTTP target's server knows.
pub const HTTP_KILL_TOKEN: &str = "fuzz-kill-token-32-bytes-at-least-0001";

fn handler() -> &'static Handler {
    static H: OnceLock<Handler> = OnceLock::new();
    H.get_or_init(|| {
        let sources = SecretSources::new(None, None, "OBI_SCALP_FUZZ", |_| None).with_config_value(
            KILL_TOKEN,
            "ops.http.kill_token",
            HTTP_KILL_TOKEN,
        );
        let secrets = SecretStore::new(sources, &[KILL_TOKEN]);
        secrets.reload();
        let cfg = HttpConfig {
            kill_enabled: true,
            ..HttpConfig::default()
        };
        Handler::new(
            &cfg,
            HttpContext {
                board: Arc::new(StatusBoard::new(Status::new("fuzz", "fuzz", Mode::Paper))),
                kill: KillSwitch::new(),
                secrets: Some(Arc::new(secrets)),
                audit: None,
                feed_down_tolerance: Duration::from_secs(30),
            },
        )
    })
}

/// Serves `data` as one connection's request bytes.
///
/// Checked: an answer is a whole HTTP/1.1 response whose `Content-Length` is its body's length.
pub fn http_request(data: &[u8]) {
    let out = handler().answer(data);
    if out.is_empty() {
        return;
    }
    assert!(
        out.starts_with(b"HTTP/1.1 "),
        "answer without a status line"
    );
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("answer head ends");
    let head = std::str::from_utf8(&out[..end]).expect("answer head is UTF-8");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("Content-Length")
        .parse()
        .expect("Content-Length is a number");
    assert_eq!(
        len,
        out.len() - end - 4,
        "Content-Length is the body's length"
    );
}

/// The status code the server answers `data` with (`None` for no answer).
pub fn http_request_status(data: &[u8]) -> Option<u16> {
    let out = handler().answer(data);
    std::str::from_utf8(out.get(9..12)?).ok()?.parse().ok()
}

/// Loads `data` as a config file. Checked: an error names a key or line and says something.
pub fn config_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Config::from_toml(text) {
        assert!(!e.to_string().is_empty(), "empty config error");
    }
}
