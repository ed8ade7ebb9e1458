//! `obi-scalp book`: a recording through the parser and the book only, top of book as CSV.

use super::AppError;
use crate::book::BookSet;
use crate::instrument::{BookKey, Instrument, InstrumentTable, Market, Venue};
use crate::msg::{BookOp, MarketMsg, MdEvent};
use crate::record::RecordKind;
use crate::replay::input;
use crate::venue::{AnyDecoder, Decoder, DecoderSettings, FeedCounters};
use clap::Args;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// The recording a book command reads (`book`, `verify-book`).
#[derive(Args, Debug)]
pub struct RecordingArgs {
    /// Recording: cryptofeed JSON lines, `<receive_ns> <frame>` lines or obirec; plain, .gz or .zst.
    #[arg(long)]
    pub input: PathBuf,
    /// Venue (needed for `<ns> <frame>` files; otherwise taken from the recording).
    /// `NAME_linear` / `NAME_spot` (`bybit_linear`, `gmocoin_linear`, ...) also select the market.
    #[arg(long)]
    pub venue: Option<String>,
    /// Only this symbol.
    #[arg(long)]
    pub symbol: Option<String>,
}

impl RecordingArgs {
    /// `--venue` parsed: the venue and, for Bybit, the market (both `None` without the flag).
    pub fn venue_market(&self) -> Result<(Option<Venue>, Option<Market>), AppError> {
        match &self.venue {
            Some(s) => {
                let (v, m) = parse_venue(s)?;
                Ok((Some(v), m))
            }
            None => Ok((None, None)),
        }
    }
}

#[derive(Args, Debug)]
pub struct BookArgs {
    #[command(flatten)]
    pub rec: RecordingArgs,
    /// Levels per side in the CSV.
    #[arg(long, default_value_t = 1)]
    pub depth: usize,
}

/// Per-book output state.
struct Out {
    key: BookKey,
    inst: Instrument,
}

/// Parses `--venue` as `bybit` or `bybit_linear`.
pub fn parse_venue(s: &str) -> Result<(Venue, Option<Market>), AppError> {
    let (v, m) = match s.split_once('_').map(|(v, m)| (v, m.parse::<Market>())) {
        Some((v, Ok(m))) => (v, Some(m)),
        _ => (s, None),
    };
    let v: Venue = v.parse().map_err(AppError::usage)?;
    Ok((v, m))
}

pub fn run(a: BookArgs) -> Result<(), AppError> {
    if a.depth == 0 || a.depth > 1000 {
        return Err(AppError::usage("--depth: expected 1 to 1000"));
    }
    let (venue, market) = a.rec.venue_market()?;
    let loaded = input::load(std::slice::from_ref(&a.rec.input), venue, market)
        .map_err(|e| AppError::usage(e.0))?;
    if let Some(v) = loaded.venue {
        // Fail before any output when the venue has no decoder here.
        AnyDecoder::new(
            v,
            crate::config::default_market(v),
            InstrumentTable::default(),
            &[],
            &DecoderSettings::default(),
        )
        .map_err(|e| AppError::usage(format!("{}: {e}", a.rec.input.display())))?;
    }
    for s in &loaded.skipped {
        eprintln!("{}:{}: skipped: {}", s.path.display(), s.line, s.message);
    }
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let table = InstrumentTable::default();
    let settings = DecoderSettings::default();
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut header = String::from("ts_ns,venue,symbol,state");
    for i in 1..=a.depth {
        let sfx = if i == 1 {
            String::new()
        } else {
            format!("_{i}")
        };
        for c in ["bid_px", "bid_qty", "ask_px", "ask_qty"] {
            header.push_str(&format!(",{c}{sfx}"));
        }
    }
    writeln!(w, "{header}").map_err(io_err)?;

    // One decoder and book set per connection.
    struct Conn {
        dec: AnyDecoder,
        books: BookSet,
        outs: Vec<Option<Out>>,
    }
    let mut conns: BTreeMap<String, Conn> = BTreeMap::new();
    let mut line = String::with_capacity(256);
    let mut buf = Vec::with_capacity(1 << 16);
    let mut rows = 0u64;
    for rec in &loaded.records {
        // REST records belong to no WebSocket connection (whatever connection id they were
        // recorded under): they go to the venue's decoders.
        if rec.kind == RecordKind::Http {
            let url = rec.url_or_addr.as_deref().unwrap_or("");
            for c in conns.values_mut() {
                buf.clear();
                buf.extend_from_slice(&rec.data);
                let mut evs = Vec::new();
                c.dec
                    .on_rest(rec.ts_ns, url, &mut buf, &mut |e| evs.push(e));
                rows += emit(c, &evs, &a, market, &mut line, &mut w)?;
            }
            continue;
        }
        let Some(&(v, m)) = loaded.conns.get(&rec.conn) else {
            continue;
        };
        let c = conns.entry(rec.conn.clone()).or_insert_with(|| Conn {
            dec: AnyDecoder::new(v, m, table.clone(), &[], &settings)
                .expect("the venue was checked before the loop"),
            books: BookSet::new(0, 8, crate::book::DEFAULT_LEVELS),
            outs: Vec::new(),
        });
        match rec.kind {
            RecordKind::Recv => {
                buf.clear();
                buf.extend_from_slice(&rec.data);
                let mut evs = Vec::new();
                c.dec.on_frame(rec.ts_ns, &mut buf, &mut |e| evs.push(e));
                rows += emit(c, &evs, &a, market, &mut line, &mut w)?;
            }
            RecordKind::Connect | RecordKind::Disconnect => {
                let mut evs = Vec::new();
                c.dec.on_disconnect(rec.ts_ns, &mut |e| evs.push(e));
                rows += emit(c, &evs, &a, market, &mut line, &mut w)?;
            }
            _ => {}
        }
    }
    w.flush().map_err(io_err)?;
    drop(w);

    fn emit(
        c: &mut Conn,
        evs: &[MdEvent],
        a: &BookArgs,
        market: Option<Market>,
        line: &mut String,
        w: &mut impl Write,
    ) -> Result<u64, AppError> {
        let mut rows = 0;
        for e in evs {
            let i = e.book as usize;
            c.books.ensure(i);
            while c.outs.len() <= i {
                c.outs.push(None);
            }
            if c.outs[i].is_none() {
                let inst = c.dec.routes().books[i];
                c.outs[i] = Some(Out {
                    key: inst.key,
                    inst,
                });
            }
            let msg = c.books.apply(e);
            if !matches!(e.op, BookOp::Commit { .. }) {
                continue;
            }
            let Some(MarketMsg::Book(u)) = msg else {
                continue;
            };
            let o = c.outs[i].as_ref().expect("set above");
            if let Some(s) = &a.rec.symbol {
                if !o.key.symbol.eq_ignore_ascii_case(s) {
                    continue;
                }
            }
            if market.is_some_and(|m| m != o.key.market) {
                continue;
            }
            line.clear();
            use std::fmt::Write as _;
            let _ = write!(
                line,
                "{},{},{},{}",
                u.recv_ns,
                o.key.venue_label(),
                o.key.symbol,
                u.state.as_str()
            );
            let book = &c.books.books[i];
            for lvl in 0..a.depth {
                for (side, l) in [(&book.bids, lvl), (&book.asks, lvl)] {
                    match side.level(l) {
                        Some((px, q)) => {
                            line.push(',');
                            let _ = o.inst.tick.write(px, line);
                            line.push(',');
                            let _ = o.inst.lot.write(q, line);
                        }
                        None => line.push_str(",,"),
                    }
                }
            }
            line.push('\n');
            w.write_all(line.as_bytes()).map_err(io_err)?;
            rows += 1;
        }
        Ok(rows)
    }

    // Summary on stderr: counters of all connections, then each book.
    let mut total = FeedCounters::default();
    let mut crossed = 0;
    let mut books_desc = Vec::new();
    for c in conns.values() {
        let f = c.dec.counters();
        total.frames += f.frames;
        total.events += f.events;
        total.updates += f.updates;
        total.snapshots += f.snapshots + f.rest_snapshots;
        total.gaps += f.gaps;
        total.resyncs += f.resyncs;
        total.malformed += f.malformed;
        total.unknown += f.unknown;
        total.trades += f.trades;
        total.dropped += f.dropped;
        total.stale += f.stale;
        for (i, b) in c.books.books.iter().enumerate() {
            crossed += c.books.counters[i].crossed;
            if let Some(Some(o)) = c.outs.get(i) {
                books_desc.push(format!(
                    "{} {}x{} {}",
                    o.key,
                    b.bids.len(),
                    b.asks.len(),
                    b.state.as_str()
                ));
            }
        }
    }
    eprintln!(
        "book: {} records, {} skipped; frames {}, events {}, updates {}, snapshots {}, rows {}, gaps {}, resyncs {}, crossed {}, malformed {}, unknown {}, dropped {}, trades {}; books: {}",
        loaded.records.len(),
        loaded.skipped.len(),
        total.frames,
        total.events,
        total.updates,
        total.snapshots,
        rows,
        total.gaps,
        total.resyncs,
        crossed,
        total.malformed,
        total.unknown,
        total.dropped,
        total.trades,
        books_desc.join(", ")
    );
    Ok(())
}

fn io_err(e: std::io::Error) -> AppError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        // `obi-scalp book ... | head`: the reader left; not an error of ours.
        std::process::exit(0);
    }
    AppError::exit(crate::ops::Exit::Io, format!("writing CSV: {e}"))
}
