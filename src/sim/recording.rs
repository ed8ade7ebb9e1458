//! Replays a recorded venue feed (cryptofeed "format 2" JSON lines, plain or `.zst`) through
//! the simulator with the recorded inter-arrival times, scaled by a [`Speed`].
//!
//! Every `recv` frame is replayed on the route its connection was opened on (the `connect`
//! line's address), except the recorded subscription acks and pongs: the feed answers the
//! client's own subscribes and pings instead. A Bybit subscribe to a book the replay has
//! already delivered a snapshot of is answered with a fresh snapshot built from the book the
//! frames so far imply (with the last `u`), so a client that connects late still syncs.
//! `http` lines are served as REST answers (Binance depth snapshots, instrument lists).
//!
//! The reader here is deliberately small and private: one `serde_json` parse per line.

use crate::instrument::Venue;
use crate::num::{parse_decimal, parse_units};
use crate::sim::synthetic::split_query;
use crate::sim::wire::route_of_path;
use crate::sim::{BookSide, RestReply, Route, SimFeed};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::str::FromStr;

/// Replay pace relative to the recording, in thousandths: 1000 = as recorded, 10000 = ten
/// times faster, 0 = no waiting at all (every frame is due at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Speed {
    per_mille: u64,
}

impl Speed {
    pub const REALTIME: Speed = Speed { per_mille: 1000 };
    pub const MAX: Speed = Speed { per_mille: 0 };

    /// `n` times the recorded pace (0 = [`Speed::MAX`]).
    pub const fn times(n: u64) -> Speed {
        Speed {
            per_mille: n.saturating_mul(1000),
        }
    }

    pub const fn per_mille(self) -> u64 {
        self.per_mille
    }

    /// Replay time of a recorded gap of `dt_ns`.
    pub fn scale(self, dt_ns: u64) -> u64 {
        if self.per_mille == 0 {
            0
        } else {
            (dt_ns as u128 * 1000 / self.per_mille as u128) as u64
        }
    }
}

impl FromStr for Speed {
    type Err = String;
    /// `"1"`, `"10"`, `"0.5"` (exact to 0.001) or `"max"`.
    fn from_str(s: &str) -> Result<Speed, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("max") {
            return Ok(Speed::MAX);
        }
        match parse_units(t.as_bytes(), 3) {
            Ok(v) if v >= 0 => Ok(Speed {
                per_mille: v as u64,
            }),
            _ => Err(format!(
                "speed `{s}`: expected a non-negative factor with at most 3 decimals (1 = recorded pace) or `max`"
            )),
        }
    }
}

/// One line of a cryptofeed recording.
#[derive(Debug, Deserialize)]
struct Line {
    t: String,
    #[serde(default)]
    conn: Option<String>,
    #[serde(default)]
    ts: Option<serde_json::Number>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    addr: Option<String>,
    #[serde(default)]
    exchange: Option<String>,
}

/// Levels of one side keyed by price (units of 1e-18), holding the recorded strings.
pub type Side = BTreeMap<i128, (String, String)>;

/// The book implied by the frames replayed so far.
#[derive(Debug, Clone, Default)]
pub struct RecBook {
    pub route: Route,
    pub symbol: String,
    /// Bybit topic (`orderbook.200.BTCUSDT`), Binance stream (`nknusdt@depth@100ms`).
    pub topic: String,
    pub bids: Side,
    pub asks: Side,
    pub synced: bool,
    /// Bybit `u` / Binance last applied `u` (or the snapshot's `lastUpdateId`).
    pub u: u64,
    pub seq: u64,
    pub ts_ms: u64,
    pub cts_ms: u64,
}

/// A book update carried by a frame, parsed at load.
#[derive(Debug, Clone, Default)]
pub struct BookUpdate {
    pub snapshot: bool,
    pub bids: Vec<(String, String)>,
    pub asks: Vec<(String, String)>,
    pub u: u64,
    pub seq: u64,
    pub ts_ms: u64,
    pub cts_ms: u64,
}

/// What a recorded frame is, as the venue reads it ([`RecordedVenue::classify`]).
#[derive(Debug, Clone)]
pub enum Recorded {
    /// A recorded ack or pong: dropped (the feed answers its own clients).
    Drop,
    /// Replayed as is, touching no book (trades, malformed input, other topics).
    Pass,
    /// A book update of `symbol` on `topic` (the book is found or made by route and topic).
    Book {
        symbol: String,
        topic: String,
        update: BookUpdate,
    },
}

/// A venue's part of replaying its recordings: how its frames touch the books, what it
/// answers a client, how it writes a crossed book. Each venue's is in `venue/<name>/sim.rs`,
/// handed out by its [`SimVenue::recording`](crate::sim::SimVenue::recording).
pub trait RecordedVenue: Sync + std::fmt::Debug {
    /// The cryptofeed exchange name of the recording's `header` line (`BYBIT`).
    fn exchange(&self) -> &'static str;

    /// Seeds books from the recorded REST answers `http` (path and query, body), before any
    /// frame is replayed (Binance: the depth snapshots).
    fn seed_books(
        &self,
        http: &[(String, String)],
        books: &mut Vec<RecBook>,
    ) -> Result<(), String> {
        let _ = (http, books);
        Ok(())
    }

    /// Whether a symbol has one book over all its routes (Binance: raw and combined streams).
    fn one_book_per_symbol(&self) -> bool {
        false
    }

    /// What the recorded frame `v` (received on `route`) is; a topic it shows on the route
    /// is added to `topics` (Bybit: for answering subscribes).
    fn classify(&self, route: Route, v: &Value, topics: &mut Vec<(Route, String)>) -> Recorded;

    /// The venue's sync rule for one update of `b`: sequence fields and the synced flag set,
    /// the book cleared for a snapshot; false when the update is not applied at all. The
    /// levels and times are applied by the caller.
    fn apply(&self, b: &mut RecBook, a: &BookUpdate) -> bool;

    /// The answers to client frame `v` on `route` (subscribe acks, pongs, snapshots of
    /// `books` already synced); `topics` are those the recording shows per route.
    fn on_client_frame(
        &self,
        route: Route,
        v: &Value,
        topics: &[(Route, String)],
        books: &[RecBook],
    ) -> Vec<String> {
        let _ = (route, v, topics, books);
        Vec::new()
    }

    /// A frame putting a bid at `level` (`[["px","qty"]]`, above the best ask) into `b`
    /// (sent on `b`'s route).
    fn crossed_frame(&self, b: &RecBook, level: &str) -> String;
}

#[derive(Debug, Clone)]
struct RecFrame {
    t_ns: u64,
    route: Route,
    text: String,
    apply: Option<(usize, BookUpdate)>,
}

/// A recorded feed of one venue, replayed with its recorded timing.
#[derive(Debug, Clone)]
pub struct RecordingFeed {
    venue: Venue,
    proto: &'static dyn RecordedVenue,
    frames: Vec<RecFrame>,
    next: usize,
    routes: Vec<Route>,
    http: Vec<(String, String)>,
    books: Vec<RecBook>,
    /// Topics (Bybit) seen per route, for answering subscribes.
    topics: Vec<(Route, String)>,
}

/// Price key in units of 1e-18, from a decimal string.
fn price_key(s: &str) -> Option<i128> {
    let (m, e) = parse_decimal(s.as_bytes()).ok()?;
    let shift = 18 + e;
    if !(0..=36).contains(&shift) {
        return None;
    }
    (m as i128).checked_mul(10i128.checked_pow(shift as u32)?)
}

/// Whether a decimal string is zero.
pub fn is_zero(s: &str) -> bool {
    matches!(parse_decimal(s.as_bytes()), Ok((0, _)))
}

/// The `[[px, qty], ..]` levels of a recorded frame (strings or numbers), as text.
pub fn levels_of(v: Option<&Value>) -> Option<Vec<(String, String)>> {
    v?.as_array()?
        .iter()
        .map(|l| {
            let a = l.as_array()?;
            let text = |x: &Value| match x {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            Some((text(a.first()?)?, text(a.get(1)?)?))
        })
        .collect()
}

/// A field as `u64`, 0 when missing.
pub fn u64_of(v: Option<&Value>) -> u64 {
    v.and_then(Value::as_u64).unwrap_or(0)
}

/// The venues whose recordings the simulator replays, in table order, with their part.
fn replayed_venues() -> Vec<(Venue, &'static dyn RecordedVenue)> {
    Venue::ALL
        .into_iter()
        .filter_map(|v| Some((v, v.connector()?.sim()?.recording()?)))
        .collect()
}

impl RecordingFeed {
    /// Loads a recording (`.jsonl` or `.jsonl.zst`) of Bybit, Binance or Coincheck.
    pub fn open(path: &Path, speed: Speed) -> Result<RecordingFeed, String> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| format!("{name}: cannot open: {e}"))?;
        let mut reader = BufReader::new(file);
        let zst = reader
            .fill_buf()
            .map(|b| b.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]))
            .map_err(|e| format!("{name}: cannot read: {e}"))?;
        let input: Box<dyn Read> = if zst {
            Box::new(
                zstd::stream::read::Decoder::with_buffer(reader)
                    .map_err(|e| format!("{name}: not a zstd stream: {e}"))?,
            )
        } else {
            Box::new(reader)
        };
        RecordingFeed::from_reader(&name, BufReader::new(input), speed)
    }

    /// As [`open`](Self::open), from any line reader; `name` is used in error messages.
    pub fn from_reader(
        name: &str,
        input: impl BufRead,
        speed: Speed,
    ) -> Result<RecordingFeed, String> {
        let mut venue: Option<(Venue, &'static dyn RecordedVenue)> = None;
        let mut conns: Vec<(String, Route)> = Vec::new();
        let mut recv: Vec<(u64, usize, String, String)> = Vec::new(); // (ts_ns, line, conn, data)
        let mut http: Vec<(String, String)> = Vec::new();
        let mut sent_topics: Vec<(String, String)> = Vec::new();
        for (i, line) in input.lines().enumerate() {
            let n = i + 1;
            let line = line.map_err(|e| format!("{name}:{n}: cannot read: {e}"))?;
            if line.trim().is_empty() {
                continue;
            }
            let l: Line = serde_json::from_str(&line)
                .map_err(|e| format!("{name}:{n}: not a recording line: {e}"))?;
            let need = |field: &'static str, v: Option<String>| {
                v.ok_or_else(|| format!("{name}:{n}: `{}` line without field `{field}`", l.t))
            };
            match l.t.as_str() {
                "header" => {
                    let ex = l.exchange.clone().unwrap_or_default();
                    let replayed = replayed_venues();
                    let Some(found) = replayed.iter().find(|(_, r)| r.exchange() == ex) else {
                        let names: Vec<&str> = replayed.iter().map(|(_, r)| r.exchange()).collect();
                        return Err(format!(
                            "{name}:{n}: field `exchange`: `{ex}` is not served by the simulator (expected {})",
                            crate::venue::table::or_list(&names)
                        ));
                    };
                    venue = Some(*found);
                }
                "connect" => {
                    let (v, _) = venue.ok_or_else(|| {
                        format!("{name}:{n}: `connect` before the `header` line")
                    })?;
                    let conn = need("conn", l.conn.clone())?;
                    let addr = need("addr", l.addr.clone())?;
                    let path = addr
                        .split_once("://")
                        .map(|(_, rest)| rest)
                        .unwrap_or(&addr);
                    let path = path.find('/').map(|p| &path[p..]).unwrap_or("/");
                    let route = route_of_path(v, path).ok_or_else(|| {
                        format!("{name}:{n}: field `addr`: `{addr}` is not a {v} route the simulator serves")
                    })?;
                    conns.push((conn, route));
                }
                "http" => {
                    let url = need("url", l.url.clone())?;
                    let body = need("data", l.data.clone())?;
                    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(&url);
                    let pq = rest.find('/').map(|p| &rest[p..]).unwrap_or("/");
                    http.push((pq.replace("?&", "?"), body));
                }
                "send" => {
                    let conn = need("conn", l.conn.clone())?;
                    if let Some(d) = &l.data {
                        if let Ok(v) = serde_json::from_str::<Value>(d) {
                            for a in v
                                .get("args")
                                .and_then(Value::as_array)
                                .into_iter()
                                .flatten()
                            {
                                if let Some(t) = a.as_str() {
                                    sent_topics.push((conn.clone(), t.to_string()));
                                }
                            }
                        }
                    }
                }
                "recv" => {
                    let conn = need("conn", l.conn.clone())?;
                    let data = need("data", l.data.clone())?;
                    let ts = l
                        .ts
                        .as_ref()
                        .ok_or_else(|| format!("{name}:{n}: `recv` line without field `ts`"))?;
                    let ts_ns = parse_units(ts.to_string().as_bytes(), 9)
                        .ok()
                        .filter(|v| *v >= 0)
                        .ok_or_else(|| {
                            format!("{name}:{n}: field `ts`: `{ts}` is not a time in seconds")
                        })?;
                    recv.push((ts_ns as u64, n, conn, data));
                }
                other => {
                    return Err(format!(
                        "{name}:{n}: field `t`: `{other}` (expected header, http, connect, send or recv)"
                    ))
                }
            }
        }
        let (venue, proto) = venue.ok_or_else(|| format!("{name}: no `header` line"))?;
        recv.sort_by_key(|r| r.0);
        let t0 = recv.first().map(|r| r.0).unwrap_or(0);

        let mut feed = RecordingFeed {
            venue,
            proto,
            frames: Vec::with_capacity(recv.len()),
            next: 0,
            routes: Vec::new(),
            http,
            books: Vec::new(),
            topics: Vec::new(),
        };
        for (conn, route) in &conns {
            if !feed.routes.contains(route) {
                feed.routes.push(route);
            }
            for (c, t) in &sent_topics {
                if c == conn && !feed.topics.contains(&(*route, t.clone())) {
                    feed.topics.push((route, t.clone()));
                }
            }
        }
        proto.seed_books(&feed.http, &mut feed.books)?;
        for (ts_ns, n, conn, data) in recv {
            let route = conns
                .iter()
                .find(|(c, _)| *c == conn)
                .map(|(_, r)| *r)
                .ok_or_else(|| {
                    format!("{name}:{n}: field `conn`: `{conn}` has no `connect` line")
                })?;
            let Some(apply) = feed.classify(route, &data) else {
                continue; // a recorded ack or pong: the feed answers its own clients
            };
            feed.frames.push(RecFrame {
                t_ns: speed.scale(ts_ns - t0),
                route,
                text: data,
                apply,
            });
        }
        Ok(feed)
    }

    fn book_index(&mut self, route: Route, symbol: &str, topic: &str) -> usize {
        if let Some(i) = self
            .books
            .iter()
            .position(|b| b.route == route && b.topic == topic)
        {
            return i;
        }
        if let Some(i) = self
            .books
            .iter()
            .position(|b| b.symbol == symbol && self.proto.one_book_per_symbol())
        {
            self.books[i].route = route;
            return i;
        }
        self.books.push(RecBook {
            route,
            symbol: symbol.to_string(),
            topic: topic.to_string(),
            ..RecBook::default()
        });
        self.books.len() - 1
    }

    /// `None`: drop the frame (a recorded ack/pong); `Some(apply)`: replay it.
    fn classify(&mut self, route: Route, data: &str) -> Option<Option<(usize, BookUpdate)>> {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return Some(None); // replayed as is: malformed input is part of a recording
        };
        match self.proto.classify(route, &v, &mut self.topics) {
            Recorded::Drop => None,
            Recorded::Pass => Some(None),
            Recorded::Book {
                symbol,
                topic,
                update,
            } => Some(Some((self.book_index(route, &symbol, &topic), update))),
        }
    }

    fn apply(&mut self, book: usize, a: BookUpdate) {
        let b = &mut self.books[book];
        if !self.proto.apply(b, &a) {
            return;
        }
        b.ts_ms = a.ts_ms;
        b.cts_ms = a.cts_ms;
        for (p, q) in a.bids {
            set_level(&mut b.bids, p, q);
        }
        for (p, q) in a.asks {
            set_level(&mut b.asks, p, q);
        }
    }

    /// Frames not yet replayed.
    pub fn remaining(&self) -> usize {
        self.frames.len() - self.next
    }

    /// Replay time of the next frame, if any.
    pub fn next_event_ns(&self) -> Option<u64> {
        self.frames.get(self.next).map(|f| f.t_ns)
    }

    fn find(&self, symbol: &str) -> Option<&RecBook> {
        let (market, sym) = match symbol.rsplit_once(':') {
            Some((q, s)) => (Some(q.rsplit('_').next().unwrap_or(q)), s),
            None => (None, symbol),
        };
        self.books.iter().find(|b| {
            b.symbol.eq_ignore_ascii_case(sym)
                && market.is_none_or(|m| b.route.ends_with(&format!("/{m}")))
        })
    }
}

/// Sets level `p` of `side` to `q` (removed when `q` is zero).
pub fn set_level(side: &mut Side, p: String, q: String) {
    let Some(k) = price_key(&p) else { return };
    if is_zero(&q) {
        side.remove(&k);
    } else {
        side.insert(k, (p, q));
    }
}

/// `[["px","qty"],..]` of recorded levels.
pub fn write_levels<'a>(f: &mut String, levels: impl Iterator<Item = &'a (String, String)>) {
    f.push('[');
    for (i, (p, q)) in levels.enumerate() {
        if i > 0 {
            f.push(',');
        }
        let _ = write!(
            f,
            "[{},{}]",
            Value::from(p.as_str()),
            Value::from(q.as_str())
        );
    }
    f.push(']');
}

impl SimFeed for RecordingFeed {
    fn venue(&self) -> Venue {
        self.venue
    }

    fn routes(&self) -> &[Route] {
        &self.routes
    }

    fn on_client_frame(&mut self, route: Route, frame: &str) -> Vec<String> {
        let Ok(v) = serde_json::from_str::<Value>(frame) else {
            return Vec::new();
        };
        self.proto
            .on_client_frame(route, &v, &self.topics, &self.books)
    }

    fn advance(&mut self, t_ns: u64, out: &mut Vec<(Route, String)>) -> bool {
        while self.next < self.frames.len() && self.frames[self.next].t_ns <= t_ns {
            let f = &mut self.frames[self.next];
            let text = std::mem::take(&mut f.text);
            let route = f.route;
            if let Some((book, a)) = f.apply.take() {
                self.apply(book, a);
            }
            out.push((route, text));
            self.next += 1;
        }
        self.next < self.frames.len()
    }

    fn rest(&mut self, path_and_query: &str) -> RestReply {
        if let Some((_, body)) = self.http.iter().find(|(pq, _)| pq == path_and_query) {
            return RestReply {
                status: 200,
                body: body.clone(),
            };
        }
        // Same endpoint and symbol, other parameters (e.g. another `limit`).
        let (path, q) = split_query(path_and_query);
        let sym = q
            .iter()
            .find(|(k, _)| matches!(*k, "symbol" | "pair"))
            .map(|(_, v)| *v);
        let hit = self.http.iter().find(|(pq, _)| {
            let (p2, q2) = split_query(pq);
            p2 == path
                && sym.is_some()
                && q2
                    .iter()
                    .any(|(k, v)| matches!(*k, "symbol" | "pair") && Some(*v) == sym)
        });
        match hit {
            Some((_, body)) => RestReply {
                status: 200,
                body: body.clone(),
            },
            None => RestReply {
                status: 404,
                body: format!(
                    "{{\"error\":{}}}",
                    Value::from(format!("not in the recording: {path_and_query}"))
                ),
            },
        }
    }

    fn book(&self, symbol: &str) -> Option<(BookSide, BookSide)> {
        let b = self.find(symbol)?;
        if !b.synced {
            return None;
        }
        Some((
            b.bids.values().rev().cloned().collect(),
            b.asks.values().cloned().collect(),
        ))
    }

    fn crossed_frame(&mut self) -> Option<(Route, String)> {
        let b = self.books.iter().find(|b| b.synced && b.asks.len() >= 2)?;
        // A bid at the second-best ask: strictly above the best ask, on a real price.
        let (p, q) = b.asks.values().nth(1)?;
        let level = format!(
            "[[{},{}]]",
            Value::from(p.as_str()),
            Value::from(q.as_str())
        );
        Some((b.route, self.proto.crossed_frame(b, &level)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::wire::routes;
    use std::io::Cursor;

    const BYBIT: &str = "bybit_v5_cryptofeed_20260809.jsonl";
    const BINANCE: &str = "binance_spot_cryptofeed_20211012.jsonl.zst";
    const BITFLYER: &str = "bitflyer_cryptofeed_20211212.jsonl.zst";

    /// The shared recording `name`, or `None` after a visible skip (a panic under
    /// `OBI_REQUIRE_DATA=1`).
    fn data(name: &str) -> Option<std::path::PathBuf> {
        crate::testdata::shared_data(name)
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    fn key(s: &str) -> i128 {
        price_key(s).unwrap()
    }

    #[test]
    fn speed_parses_exactly() {
        assert_eq!("1".parse::<Speed>(), Ok(Speed::REALTIME));
        assert_eq!("10".parse::<Speed>(), Ok(Speed::times(10)));
        assert_eq!("0.5".parse::<Speed>().unwrap().per_mille(), 500);
        assert_eq!("max".parse::<Speed>(), Ok(Speed::MAX));
        assert!("-1".parse::<Speed>().unwrap_err().contains("-1"));
        assert!("fast".parse::<Speed>().is_err());
        assert_eq!(Speed::times(10).scale(45_000_000_000), 4_500_000_000);
        assert_eq!("0.5".parse::<Speed>().unwrap().scale(1_000), 2_000);
        assert_eq!(Speed::MAX.scale(u64::MAX), 0);
    }

    #[test]
    fn coincheck_recording_keeps_the_book_and_answers_nothing() {
        let rec = concat!(
            "{\"t\":\"header\",\"exchange\":\"COINCHECK\"}\n",
            "{\"t\":\"connect\",\"conn\":\"c\",\"addr\":\"wss://ws-api.coincheck.com/\"}\n",
            "{\"t\":\"send\",\"conn\":\"c\",\"data\":\"{\\\"type\\\":\\\"subscribe\\\",\\\"channel\\\":\\\"btc_jpy-orderbook\\\"}\"}\n",
            "{\"t\":\"recv\",\"conn\":\"c\",\"ts\":1.0,\"data\":\"[\\\"btc_jpy\\\",{\\\"bids\\\":[[\\\"100.0\\\",\\\"1.5\\\"]],\\\"asks\\\":[[\\\"101.0\\\",\\\"2.0\\\"],[\\\"102.0\\\",\\\"0.5\\\"]],\\\"last_update_at\\\":\\\"1\\\"}]\"}\n",
            "{\"t\":\"recv\",\"conn\":\"c\",\"ts\":1.5,\"data\":\"[[\\\"1\\\",\\\"9\\\",\\\"btc_jpy\\\",\\\"101.0\\\",\\\"0.1\\\",\\\"buy\\\",\\\"1\\\",\\\"2\\\"]]\"}\n",
            "{\"t\":\"recv\",\"conn\":\"c\",\"ts\":2.0,\"data\":\"[\\\"btc_jpy\\\",{\\\"bids\\\":[[\\\"100.0\\\",\\\"0\\\"],[\\\"99.0\\\",\\\"3.0\\\"]],\\\"asks\\\":[],\\\"last_update_at\\\":\\\"2\\\"}]\"}\n",
        );
        let mut f = RecordingFeed::from_reader("cc", Cursor::new(rec), Speed::MAX).unwrap();
        assert_eq!(f.venue(), Venue::Coincheck);
        assert_eq!(f.routes(), &[routes::COINCHECK]);
        assert_eq!(f.book("btc_jpy"), None, "nothing replayed yet");
        let mut out = Vec::new();
        assert!(!f.advance(u64::MAX, &mut out));
        assert_eq!(out.len(), 3, "diffs and the trades frame are all replayed");
        let (bids, asks) = f.book("btc_jpy").unwrap();
        let s = |v: &[(&str, &str)]| -> BookSide {
            v.iter()
                .map(|(p, q)| (p.to_string(), q.to_string()))
                .collect()
        };
        assert_eq!(bids, s(&[("99.0", "3.0")]));
        assert_eq!(asks, s(&[("101.0", "2.0"), ("102.0", "0.5")]));
        let sub = r#"{"type":"subscribe","channel":"btc_jpy-orderbook"}"#;
        assert!(f.on_client_frame(routes::COINCHECK, sub).is_empty());
        let (route, frame) = f.crossed_frame().unwrap();
        assert_eq!(route, routes::COINCHECK);
        assert_eq!(
            frame,
            r#"["btc_jpy",{"bids":[["102.0","0.5"]],"asks":[],"last_update_at":"0"}]"#
        );
        let e = RecordingFeed::from_reader(
            "r",
            Cursor::new("{\"t\":\"header\",\"exchange\":\"KRAKEN\"}\n"),
            Speed::MAX,
        )
        .unwrap_err();
        assert_eq!(
            e,
            "r:1: field `exchange`: `KRAKEN` is not served by the simulator (expected COINCHECK, BYBIT or BINANCE)"
        );
    }

    #[test]
    fn bad_lines_are_named() {
        let bad = "{\"t\":\"header\",\"exchange\":\"BYBIT\"}\n{\"t\":\"connect\",\"conn\":\"c\",\"ts\":1.0,\"addr\":\"wss://x/v5/public/linear\"}\n{\"t\":\"recv\",\"conn\":\"c\",\"data\":\"{}\"}\n";
        let e = RecordingFeed::from_reader("rec.jsonl", Cursor::new(bad), Speed::MAX).unwrap_err();
        assert!(e.starts_with("rec.jsonl:3:") && e.contains("`ts`"), "{e}");
        let e = RecordingFeed::from_reader(
            "r",
            Cursor::new("{\"t\":\"header\",\"exchange\":\"KRAKEN\"}\n"),
            Speed::MAX,
        )
        .unwrap_err();
        assert!(e.contains("r:1") && e.contains("KRAKEN"), "{e}");
        let e = RecordingFeed::from_reader("r", Cursor::new("{\"t\":\"header\",\"exchange\":\"BYBIT\"}\n{\"t\":\"connect\",\"conn\":\"c\",\"addr\":\"wss://x/v5/public/option\"}\n"), Speed::MAX)
            .unwrap_err();
        assert!(e.contains("r:2") && e.contains("addr"), "{e}");
        let e = RecordingFeed::from_reader("r", Cursor::new("not json\n"), Speed::MAX).unwrap_err();
        assert!(e.starts_with("r:1:"), "{e}");
        assert!(
            RecordingFeed::open(Path::new("/nonexistent/x.jsonl"), Speed::MAX)
                .unwrap_err()
                .contains("cannot open")
        );
        if let Some(p) = data(BITFLYER) {
            let e = RecordingFeed::open(&p, Speed::MAX).unwrap_err();
            assert!(e.contains("BITFLYER"), "{e}");
        }
    }

    #[test]
    fn bybit_recording_replays_both_routes_with_its_timing() {
        let Some(plain) = data(BYBIT) else { return };
        let Some(zst) = data(&format!("{BYBIT}.zst")) else {
            return;
        };
        let mut f = RecordingFeed::open(&zst, Speed::REALTIME).unwrap();
        let g = RecordingFeed::open(&plain, Speed::times(10)).unwrap();
        assert_eq!(f.venue(), Venue::Bybit);
        assert_eq!(f.remaining(), g.remaining());
        let mut routes_seen = f.routes().to_vec();
        routes_seen.sort_unstable();
        assert_eq!(routes_seen, vec![routes::BYBIT_LINEAR, routes::BYBIT_SPOT]);
        // Recorded timing, scaled: the last frame is ~45 s in, a tenth of that at 10x.
        let last = f.frames.last().unwrap().t_ns;
        assert!((30..60).contains(&(last / 1_000_000_000)), "{last}");
        assert_eq!(g.frames.last().unwrap().t_ns, last / 10);
        assert!(f.frames.windows(2).all(|w| w[0].t_ns <= w[1].t_ns));

        // A client subscribing before any frame: ack, no snapshot yet (the recorded one comes).
        let r = f.on_client_frame(
            routes::BYBIT_LINEAR,
            r#"{"op":"subscribe","args":["orderbook.200.BTCUSDT","publicTrade.BTCUSDT"]}"#,
        );
        assert_eq!(r.len(), 1);
        assert_eq!(parse(&r[0])["success"], true);
        let r = f.on_client_frame(
            routes::BYBIT_SPOT,
            r#"{"op":"subscribe","args":["orderbook.200.SOLUSDT"]}"#,
        );
        assert_eq!(parse(&r[0])["success"], false, "SOLUSDT is linear only");

        let mut out = Vec::new();
        let mut t = 0;
        let mut frames = 0;
        let mut more = true;
        while more {
            out.clear();
            more = f.advance(t, &mut out);
            t += 100_000_000;
            for (route, text) in &out {
                frames += 1;
                let v = parse(text);
                assert!(v.get("op").is_none(), "recorded acks are not replayed");
                assert!(v.get("topic").is_some());
                if *route == routes::BYBIT_SPOT {
                    assert!(!text.contains("SOLUSDT"));
                }
            }
            // The recorded L200 books stay 200 x 200 and uncrossed after every frame.
            for b in f.books.iter().filter(|b| b.synced) {
                assert_eq!((b.bids.len(), b.asks.len()), (200, 200), "{}", b.topic);
                let (bb, ba) = (
                    b.bids.keys().next_back().unwrap(),
                    b.asks.keys().next().unwrap(),
                );
                assert!(bb < ba);
            }
            assert!(t < 120_000_000_000, "bounded");
        }
        assert_eq!(frames, g.remaining());
        assert_eq!(f.books.iter().filter(|b| b.synced).count(), 6);

        // A late subscriber gets the implied book with the last `u`, equal to book().
        let r = f.on_client_frame(
            routes::BYBIT_SPOT,
            r#"{"req_id":"x","op":"subscribe","args":["orderbook.200.BTCUSDT"]}"#,
        );
        assert_eq!(r.len(), 2);
        let ack = parse(&r[0]);
        assert_eq!(
            (ack["ret_msg"].as_str(), ack["req_id"].as_str()),
            (Some("subscribe"), Some("x"))
        );
        let snap = parse(&r[1]);
        assert_eq!(snap["type"], "snapshot");
        let (bids, asks) = f.book("spot:BTCUSDT").unwrap();
        let lv = |v: &Value| -> Vec<(String, String)> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    (
                        l[0].as_str().unwrap().to_string(),
                        l[1].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        };
        assert_eq!(lv(&snap["data"]["b"]), bids);
        assert_eq!(lv(&snap["data"]["a"]), asks);
        let spot = f
            .books
            .iter()
            .find(|b| b.route == routes::BYBIT_SPOT && b.symbol == "BTCUSDT")
            .unwrap();
        assert_eq!(snap["data"]["u"].as_u64(), Some(spot.u));
        assert!(
            spot.u > 62_505_424,
            "deltas after the recorded snapshot were applied"
        );
        assert_ne!(f.book("linear:BTCUSDT"), f.book("spot:BTCUSDT"));

        // The crossed frame puts a bid above the best ask of a book.
        let (route, frame) = f.crossed_frame().unwrap();
        let v = parse(&frame);
        let b = f
            .books
            .iter()
            .find(|b| b.route == route && b.topic == v["topic"].as_str().unwrap())
            .unwrap();
        assert_eq!(v["data"]["u"].as_u64(), Some(b.u + 1));
        let bid = v["data"]["b"][0][0].as_str().unwrap();
        assert!(key(bid) > *b.asks.keys().next().unwrap());
        let p = f.on_client_frame(routes::BYBIT_LINEAR, r#"{"op":"ping"}"#);
        assert_eq!(parse(&p[0])["ret_msg"], "pong");
    }

    #[test]
    fn binance_recording_serves_rest_snapshots_and_applies_the_sync_rule() {
        let Some(p) = data(BINANCE) else { return };
        let mut f = RecordingFeed::open(&p, Speed::MAX).unwrap();
        assert_eq!(f.routes(), &[routes::BINANCE_STREAM]);
        let r = f.rest("/api/v3/depth?symbol=NKNUSDT&limit=1000");
        assert_eq!(r.status, 200);
        let snap = parse(&r.body);
        assert_eq!(snap["lastUpdateId"], 499869752);
        assert_eq!(
            f.rest("/api/v3/depth?symbol=NKNUSDT&limit=5000").body,
            r.body
        );
        assert_eq!(
            f.rest("/api/v3/depth?symbol=BTCUSDT&limit=1000").status,
            404
        );
        assert_eq!(f.rest("/api/v3/exchangeInfo").status, 200);
        // The snapshot seeds the implied book.
        let (bids, _) = f.book("NKNUSDT").unwrap();
        assert_eq!(bids[0].0, snap["bids"][0][0].as_str().unwrap());
        let mut out = Vec::new();
        assert!(
            !f.advance(0, &mut out),
            "Speed::MAX: everything is due at once"
        );
        assert_eq!(f.remaining(), 0);
        assert!(out.iter().all(|(r, _)| *r == routes::BINANCE_STREAM));
        // Replay NKNUSDT by the documented rule and compare with the feed's implied book.
        let (mut bids, mut asks): (Side, Side) = (BTreeMap::new(), BTreeMap::new());
        for (side, k) in [(&mut bids, "bids"), (&mut asks, "asks")] {
            for l in snap[k].as_array().unwrap() {
                set_level(
                    side,
                    l[0].as_str().unwrap().into(),
                    l[1].as_str().unwrap().into(),
                );
            }
        }
        let mut id = 499869752u64;
        let mut applied = 0;
        for (_, text) in &out {
            let v = parse(text);
            let d = &v["data"];
            if d["e"] != "depthUpdate" || d["s"] != "NKNUSDT" {
                continue;
            }
            let (uu, u) = (d["U"].as_u64().unwrap(), d["u"].as_u64().unwrap());
            if u <= id {
                continue;
            }
            assert!(uu <= id + 1, "gap in the recording");
            id = u;
            applied += 1;
            for (side, k) in [(&mut bids, "b"), (&mut asks, "a")] {
                for l in d[k].as_array().unwrap() {
                    set_level(
                        side,
                        l[0].as_str().unwrap().into(),
                        l[1].as_str().unwrap().into(),
                    );
                }
            }
        }
        assert!(applied > 10, "{applied}");
        let (fb, fa) = f.book("nknusdt").unwrap();
        assert_eq!(fb, bids.values().rev().cloned().collect::<Vec<_>>());
        assert_eq!(fa, asks.values().cloned().collect::<Vec<_>>());
        assert!(key(&fb[0].0) < key(&fa[0].0));
        let (_, frame) = f.crossed_frame().unwrap();
        let v = parse(&frame);
        assert_eq!(v["data"]["e"], "depthUpdate");
        let ack = f.on_client_frame(
            routes::BINANCE_STREAM,
            r#"{"method":"SUBSCRIBE","params":[],"id":3}"#,
        );
        assert_eq!(ack, vec![r#"{"result":null,"id":3}"#.to_string()]);
    }
}
