//! `verify-book`: our book against the venue's own top of book in the same recording.
//!
//! The recording is replayed through the venue's decoder and the book, exactly as `book` does;
//! after every book update its best bid and ask are kept. The venue's own view of its top of
//! book comes from the connector ([`Connector::top_of_book`]): Binance `bookTicker`, Bybit
//! `tickers` and `orderbook.1`, bitFlyer `mid_price` on the board diffs. Each such quote is
//! then matched to one state of our book:
//! - by update id where the venue gives one ([`TopKey::Id`]): the book after the last update
//!   whose id is at most the quote's (the id the decoder commits, or the id the book frame
//!   carries in the quote's id space, [`TopItem::BookId`], such as Bybit's cross sequence);
//!   matching happens after the whole file is read, so a quote that arrives before the book
//!   update it reflects (Binance sends `bookTicker` before the diff holding the same id) is
//!   still matched to it;
//! - by receive time otherwise: the book after the last update received at or before the quote;
//! - a mid the venue sends with a book update ([`TopItem::Mid`]) against the book right after
//!   that update.
//!
//! Only quotes matched to a book that is not `resyncing` are compared (a `stale` book is still
//! a book: bitFlyer's decoder marks it stale when its mid disagrees with `mid_price`, and that
//! is what is being checked); the others are counted as not compared.
//! A quote agrees when both best prices are equal; a mid when it is (bid + ask) / 2 exactly or
//! rounded down to the tick (bitFlyer floors its `mid_price` to the yen).

use crate::book::BookSet;
use crate::instrument::{Instrument, InstrumentTable, Market, Venue};
use crate::msg::{BookOp, BookState, MarketMsg};
use crate::num::Scale;
use crate::record::RecordKind;
use crate::replay::input;
use crate::venue::{AnyDecoder, Connector, Decoder, DecoderSettings, TopItem, TopKey};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// What to verify.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub input: PathBuf,
    pub venue: Option<Venue>,
    pub market: Option<Market>,
    /// Only this symbol (any case).
    pub symbol: Option<String>,
    /// How many disagreements to show per book, with their context.
    pub show: usize,
}

/// Our book's top after one update.
#[derive(Debug, Clone, Copy)]
struct State {
    line: u64,
    recv_ns: u64,
    /// The update id the decoder committed.
    seq: u64,
    /// The book frame's id in the quotes' id space, when the venue sends one.
    xid: Option<u64>,
    /// The first id the update holds, when it spans several.
    first: Option<u64>,
    /// Not resyncing: a book to compare with.
    usable: bool,
    bid: Option<i64>,
    ask: Option<i64>,
}

/// One quote of the venue's, as read.
#[derive(Debug, Clone)]
struct Quote {
    line: u64,
    recv_ns: u64,
    bid: Option<String>,
    ask: Option<String>,
    /// A mid (bitFlyer), matched to `same_frame`.
    mid: Option<String>,
    key: TopKey,
    source: &'static str,
    /// Index of the book state the frame itself produced (mids).
    same_frame: Option<usize>,
}

/// One book of one connection.
#[derive(Debug)]
struct Book {
    inst: Instrument,
    states: Vec<State>,
}

/// The verdict on one book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookVerdict {
    /// `linear BTCUSDT (bybit)`.
    pub book: String,
    /// The streams its quotes came from and how they were matched (`tickers by update id`).
    pub against: String,
    pub agree: u64,
    pub compared: u64,
    /// Quotes with no book state to compare with (before the first sync, resyncing).
    pub not_compared: u64,
    /// Quotes whose id lies inside one book update's span: a state our book never had.
    pub inside_update: u64,
    /// Quotes whose prices are not numbers on the instrument's tick grid.
    pub unreadable: u64,
    /// The first disagreements, each with its context, ready to print.
    pub disagreements: Vec<String>,
}

impl BookVerdict {
    /// `agree / compared` (1 when nothing was compared).
    pub fn ratio(&self) -> f64 {
        if self.compared == 0 {
            1.0
        } else {
            self.agree as f64 / self.compared as f64
        }
    }
}

/// The verdicts of every book with quotes, plus what was skipped reading the file.
#[derive(Debug, Default)]
pub struct Verification {
    pub books: Vec<BookVerdict>,
    /// `path:line: message` of each line that could not be read.
    pub skipped: Vec<String>,
}

/// Replays `o.input` and checks every book against the venue's own top of book.
pub fn verify(o: &VerifyOptions) -> Result<Verification, String> {
    let loaded = input::load(std::slice::from_ref(&o.input), o.venue, o.market).map_err(|e| e.0)?;
    let venue = loaded
        .venue
        .ok_or_else(|| format!("cannot tell the venue of {}", o.input.display()))?;
    let connector: &'static dyn Connector = venue
        .require_connector("market-data decoder")
        .map_err(|e| format!("{}: {e}", o.input.display()))?;
    let table = InstrumentTable::default();
    let settings = DecoderSettings::default();

    struct Conn {
        dec: AnyDecoder,
        set: BookSet,
        books: Vec<Option<Book>>,
        /// Per symbol: the last bid and ask quoted (deltas carry the rest forward).
        carried: BTreeMap<String, (Option<String>, Option<String>)>,
        /// Per symbol: the quotes, matched once the whole file is read.
        quotes: BTreeMap<String, Vec<Quote>>,
    }
    let mut conns: BTreeMap<String, Conn> = BTreeMap::new();
    let mut buf = Vec::with_capacity(1 << 16);
    let mut items = Vec::new();
    let mut evs = Vec::new();
    // Book states committed by the current frame: (book, state index).
    let mut committed: Vec<(usize, usize)> = Vec::new();

    fn apply(c: &mut Conn, evs: &[crate::msg::MdEvent], line: u64, out: &mut Vec<(usize, usize)>) {
        for e in evs {
            let i = e.book as usize;
            c.set.ensure(i);
            while c.books.len() <= i {
                c.books.push(None);
            }
            let msg = c.set.apply(e);
            let BookOp::Commit { seq, .. } = e.op else {
                continue;
            };
            let Some(MarketMsg::Book(u)) = msg else {
                continue;
            };
            let book = c.books[i].get_or_insert_with(|| Book {
                inst: c.dec.routes().books[i],
                states: Vec::new(),
            });
            let l2 = &c.set.books[i];
            book.states.push(State {
                line,
                recv_ns: u.recv_ns,
                seq,
                xid: None,
                first: None,
                usable: u.state != BookState::Resyncing,
                bid: l2.best_bid().map(|l| l.0),
                ask: l2.best_ask().map(|l| l.0),
            });
            out.push((i, book.states.len() - 1));
        }
    }

    for rec in &loaded.records {
        if rec.kind == RecordKind::Http {
            let url = rec.url_or_addr.as_deref().unwrap_or("");
            for c in conns.values_mut() {
                buf.clear();
                buf.extend_from_slice(&rec.data);
                evs.clear();
                c.dec
                    .on_rest(rec.ts_ns, url, &mut buf, &mut |e| evs.push(e));
                committed.clear();
                apply(c, &evs, rec.line, &mut committed);
            }
            continue;
        }
        let Some(&(v, m)) = loaded.conns.get(&rec.conn) else {
            continue;
        };
        if !conns.contains_key(&rec.conn) {
            let dec = AnyDecoder::new(v, m, table.clone(), &[], &settings)?;
            conns.insert(
                rec.conn.clone(),
                Conn {
                    dec,
                    set: BookSet::new(0, 8, crate::book::DEFAULT_LEVELS),
                    books: Vec::new(),
                    carried: BTreeMap::new(),
                    quotes: BTreeMap::new(),
                },
            );
        }
        let c = conns.get_mut(&rec.conn).expect("inserted above");
        evs.clear();
        committed.clear();
        match rec.kind {
            RecordKind::Recv => {
                items.clear();
                connector.top_of_book(&rec.data, &mut items);
                buf.clear();
                buf.extend_from_slice(&rec.data);
                c.dec.on_frame(rec.ts_ns, &mut buf, &mut |e| evs.push(e));
            }
            RecordKind::Connect | RecordKind::Disconnect => {
                items.clear();
                c.dec.on_disconnect(rec.ts_ns, &mut |e| evs.push(e));
            }
            _ => continue,
        }
        apply(c, &evs, rec.line, &mut committed);
        for item in items.drain(..) {
            match item {
                TopItem::BookId { symbol, first, id } => {
                    let Some(i) = c.dec.routes().find(&symbol) else {
                        continue;
                    };
                    for &(b, k) in committed.iter().filter(|(b, _)| *b == i) {
                        if let Some(Some(book)) = c.books.get_mut(b) {
                            book.states[k].xid = Some(id);
                            book.states[k].first = first;
                        }
                    }
                }
                TopItem::Quote {
                    symbol,
                    bid,
                    ask,
                    key,
                    source,
                } => {
                    let carried = c.carried.entry(symbol.clone()).or_default();
                    if bid.is_some() {
                        carried.0 = bid;
                    }
                    if ask.is_some() {
                        carried.1 = ask;
                    }
                    if carried.0.is_none() || carried.1.is_none() {
                        continue; // one side never quoted yet
                    }
                    let q = Quote {
                        line: rec.line,
                        recv_ns: rec.ts_ns,
                        bid: carried.0.clone(),
                        ask: carried.1.clone(),
                        mid: None,
                        key,
                        source,
                        same_frame: None,
                    };
                    c.quotes.entry(symbol).or_default().push(q);
                }
                TopItem::Mid { symbol, mid } => {
                    let i = c.dec.routes().find(&symbol);
                    let same = i.and_then(|i| {
                        committed
                            .iter()
                            .rev()
                            .find(|(b, _)| *b == i)
                            .map(|&(_, k)| k)
                    });
                    let q = Quote {
                        line: rec.line,
                        recv_ns: rec.ts_ns,
                        bid: None,
                        ask: None,
                        mid: Some(mid),
                        key: TopKey::Time,
                        source: "mid_price",
                        same_frame: same,
                    };
                    c.quotes.entry(symbol).or_default().push(q);
                }
            }
        }
    }

    let mut out = Verification {
        skipped: loaded
            .skipped
            .iter()
            .map(|s| format!("{}:{}: {}", s.path.display(), s.line, s.message))
            .collect(),
        ..Verification::default()
    };
    for c in conns.values() {
        for (symbol, quotes) in &c.quotes {
            if o.symbol
                .as_ref()
                .is_some_and(|s| !s.eq_ignore_ascii_case(symbol))
            {
                continue;
            }
            // Quotes of a symbol the decoder never routed (no book of it here) are not ours
            // to judge.
            let Some(i) = c.dec.routes().find(symbol) else {
                continue;
            };
            let empty;
            let b = match c.books.get(i) {
                Some(Some(b)) => b,
                _ => {
                    empty = Book {
                        inst: c.dec.routes().books[i],
                        states: Vec::new(),
                    };
                    &empty
                }
            };
            // One verdict per stream the quotes came from (bitFlyer: mids and tickers).
            let mut sources: Vec<&'static str> = quotes.iter().map(|q| q.source).collect();
            sources.dedup();
            sources.sort_unstable();
            sources.dedup();
            for src in sources {
                let of: Vec<Quote> = quotes.iter().filter(|q| q.source == src).cloned().collect();
                out.books.push(judge(b, &of, o.show));
            }
        }
    }
    Ok(out)
}

/// Matches and compares one book's quotes.
fn judge(b: &Book, quotes: &[Quote], show: usize) -> BookVerdict {
    let tick = b.inst.tick;
    let half = Scale::new(tick.decimals() + 1, tick.step_units() * 5);
    // The id of a state: the book frame's in the quotes' space, else the committed one (a
    // REST snapshot's id, diffs applied from the buffer with it).
    let ids: Vec<u64> = b.states.iter().map(|s| s.xid.unwrap_or(s.seq)).collect();
    let ids_sorted = ids.windows(2).all(|w| w[0] <= w[1]);
    let at_id = |x: u64| -> Option<usize> {
        if ids_sorted {
            ids.partition_point(|&id| id <= x).checked_sub(1)
        } else {
            ids.iter().rposition(|&id| id <= x)
        }
    };
    let at_time =
        |t: u64| -> Option<usize> { b.states.partition_point(|s| s.recv_ns <= t).checked_sub(1) };
    let px = |s: Option<i64>| match s {
        Some(p) => tick.format(p),
        None => "-".to_owned(),
    };
    let mut v = BookVerdict {
        book: b.inst.key.to_string(),
        against: String::new(),
        agree: 0,
        compared: 0,
        not_compared: 0,
        inside_update: 0,
        unreadable: 0,
        disagreements: Vec::new(),
    };
    let mut sources: Vec<String> = Vec::new();
    for q in quotes {
        let how = match (q.mid.is_some(), q.key) {
            (true, _) => format!("{} of the same update", q.source),
            (false, TopKey::Id(_)) => format!("{} by update id", q.source),
            (false, TopKey::Time) => format!("{} by receive time", q.source),
        };
        if !sources.contains(&how) {
            sources.push(how);
        }
        let k = match (q.mid.is_some(), q.key) {
            (true, _) => q.same_frame,
            (false, TopKey::Id(x)) => at_id(x),
            (false, TopKey::Time) => at_time(q.recv_ns),
        };
        let Some(k) = k.filter(|&k| b.states[k].usable) else {
            v.not_compared += 1;
            continue;
        };
        if let (false, TopKey::Id(x)) = (q.mid.is_some(), q.key) {
            let next_first = b.states.get(k + 1).and_then(|n| n.first);
            if ids[k] < x && next_first.is_some_and(|f| f <= x) {
                v.inside_update += 1;
                continue;
            }
        }
        let s = b.states[k];
        let (agree, said) = if let Some(mid) = &q.mid {
            let Ok(m) = half.parse_unsigned(mid.as_bytes(), "mid") else {
                v.unreadable += 1;
                continue;
            };
            // In half ticks: bid + ask is twice the mid; floored to the tick, an even count.
            let ours = s.bid.zip(s.ask).map(|(b, a)| b + a);
            let agree = ours.is_some_and(|sum| m == sum || m == sum.div_euclid(2) * 2);
            (agree, format!("mid {mid}"))
        } else {
            let parse = |t: &Option<String>| {
                t.as_deref()
                    .map(|t| tick.parse_unsigned(t.as_bytes(), "price"))
            };
            let (Some(Ok(qb)), Some(Ok(qa))) = (parse(&q.bid), parse(&q.ask)) else {
                v.unreadable += 1;
                continue;
            };
            (
                s.bid == Some(qb) && s.ask == Some(qa),
                format!(
                    "bid {} ask {}",
                    q.bid.as_deref().unwrap_or("-"),
                    q.ask.as_deref().unwrap_or("-")
                ),
            )
        };
        v.compared += 1;
        if agree {
            v.agree += 1;
            continue;
        }
        if v.disagreements.len() >= show {
            continue;
        }
        let at = match q.key {
            TopKey::Id(x) if q.mid.is_none() => format!(" at id {x}"),
            _ => String::new(),
        };
        let mut d = format!(
            "line {} ({} ns): {}{at} says {said}; our book after update {} (line {}{}) has bid {} ask {}",
            q.line,
            q.recv_ns,
            q.source,
            s.seq,
            s.line,
            s.xid.map(|x| format!(", id {x}")).unwrap_or_default(),
            px(s.bid),
            px(s.ask),
        );
        if let Some(p) = k.checked_sub(1).map(|p| b.states[p]) {
            let _ = write!(
                d,
                "; the update before (line {}): bid {} ask {}",
                p.line,
                px(p.bid),
                px(p.ask)
            );
        }
        if let Some(n) = b.states.get(k + 1) {
            let _ = write!(
                d,
                "; the update after (line {}): bid {} ask {}",
                n.line,
                px(n.bid),
                px(n.ask)
            );
        }
        v.disagreements.push(d);
    }
    v.against = sources.join(", ");
    v
}
