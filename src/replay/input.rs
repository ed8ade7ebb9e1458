//! Recorded input for replays: records from one or more files in receive-time order, with each
//! connection resolved to its venue and market.

use crate::instrument::{Market, Venue};
use crate::record::{self, Record, RecordKind, RecordWarning};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A record that could not be read and was skipped.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub path: PathBuf,
    pub line: u64,
    pub message: String,
}

/// All records of the inputs, merged by receive time.
#[derive(Debug, Default)]
pub struct Loaded {
    pub records: Vec<Record>,
    /// Venue and market of each connection id (from `connect` addresses or file metadata).
    pub conns: BTreeMap<String, (Venue, Market)>,
    /// The venue the files are about.
    pub venue: Option<Venue>,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<RecordWarning>,
}

impl Loaded {
    /// Whether record `r` feeds the `venue`/`market` decoder: REST bodies always (the decoder
    /// ignores other symbols), frames and connection events of that market's connections.
    pub fn feeds(&self, r: &Record, venue: Venue, market: Market) -> bool {
        r.kind == RecordKind::Http
            || self
                .conns
                .get(&r.conn)
                .is_some_and(|&(v, m)| v == venue && m == market)
    }

    /// The records that feed the `venue`/`market` decoder, in order.
    pub fn records_for(&self, venue: Venue, market: Market) -> Vec<Record> {
        self.records
            .iter()
            .filter(|r| self.feeds(r, venue, market))
            .cloned()
            .collect()
    }
}

/// Why the inputs could not be loaded: the message names the file (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The venue named by a host or a cryptofeed exchange name (the venue table's texts).
pub fn venue_of_text(s: &str) -> Option<Venue> {
    Venue::of_text(s)
}

/// The market a connection address serves, as the venue's connector reads it (Bybit's paths),
/// else the venue's default market.
pub fn market_of_addr(venue: Venue, addr: &str) -> Market {
    addr_market(venue, addr).unwrap_or_else(|| venue.default_market())
}

/// The market `addr` names, when the venue's addresses name one.
fn addr_market(venue: Venue, addr: &str) -> Option<Market> {
    venue.connector().and_then(|c| c.market_of_addr(addr))
}

/// Loads `paths` (cryptofeed, `<ns> <frame>` or obirec; plain, gz or zst), merges them by
/// receive time (stable: equal times keep file order) and resolves connections.
/// `venue` overrides what the files say (needed for plain `<ns> <frame>` files).
pub fn load(
    paths: &[PathBuf],
    venue: Option<Venue>,
    market: Option<Market>,
) -> Result<Loaded, InputError> {
    let mut out = Loaded {
        venue,
        ..Loaded::default()
    };
    for (fi, path) in paths.iter().enumerate() {
        load_one(path, fi, market, &mut out)?;
    }
    let Some(v) = out.venue else {
        return Err(InputError(format!(
            "cannot tell the venue of {}: pass --venue",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    // Connections never announced by a `connect` record (plain files) get the default market.
    for r in &out.records {
        if r.kind == RecordKind::Recv && !out.conns.contains_key(&r.conn) {
            let m = market.unwrap_or(crate::config::default_market(v));
            out.conns.insert(r.conn.clone(), (v, m));
        }
    }
    if !out.records.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns) {
        out.records.sort_by_key(|r| r.ts_ns);
    }
    Ok(out)
}

fn load_one(
    path: &Path,
    fi: usize,
    market: Option<Market>,
    out: &mut Loaded,
) -> Result<(), InputError> {
    let mut r = record::open(path).map_err(|e| InputError(e.to_string()))?;
    let meta = r.meta().cloned();
    if let Some(m) = &meta {
        if out.venue.is_none() {
            out.venue = m.venue.parse().ok();
        }
    }
    // Connection ids are per file: prefix them so two files never share one.
    let prefix = format!("f{fi}:");
    loop {
        let rec = match r.next_record() {
            None => break,
            Some(Ok(rec)) => rec,
            Some(Err(e)) if e.is_malformed() => {
                let line = match &e {
                    record::RecordError::Malformed { line, .. } => *line,
                    _ => 0,
                };
                out.skipped.push(Skipped {
                    path: path.to_path_buf(),
                    line,
                    message: e.to_string(),
                });
                continue;
            }
            Some(Err(e)) => return Err(InputError(e.to_string())),
        };
        match rec.kind {
            RecordKind::Header => {
                if out.venue.is_none() {
                    if let Ok(s) = std::str::from_utf8(rec.data) {
                        out.venue = venue_of_text(
                            &serde_json::from_str::<serde_json::Value>(s)
                                .ok()
                                .and_then(|v| {
                                    v.get("exchange")
                                        .and_then(|e| e.as_str())
                                        .map(str::to_owned)
                                })
                                .unwrap_or_default(),
                        );
                    }
                }
                continue;
            }
            RecordKind::Connect => {
                let addr = rec.url_or_addr.unwrap_or("");
                let v = out.venue.or_else(|| venue_of_text(addr));
                if out.venue.is_none() {
                    out.venue = v;
                }
                if let Some(v) = v {
                    // An address that names its market wins over `--venue`'s market.
                    let m = addr_market(v, addr)
                        .or(market)
                        .unwrap_or_else(|| v.default_market());
                    out.conns.insert(format!("{prefix}{}", rec.conn), (v, m));
                }
            }
            RecordKind::Http if out.venue.is_none() => {
                out.venue = rec.url_or_addr.and_then(venue_of_text);
            }
            _ => {}
        }
        let mut owned = rec.to_record();
        owned.conn = format!("{prefix}{}", owned.conn);
        out.records.push(owned);
    }
    if let Some(m) = meta {
        // obirec files name their connection address in the header.
        if let (Some(v), false) = (out.venue, m.addr.is_empty()) {
            let mk = m
                .market
                .parse()
                .unwrap_or_else(|_| market_of_addr(v, &m.addr));
            for rec in &out.records {
                if rec.conn.starts_with(&prefix) && !out.conns.contains_key(&rec.conn) {
                    out.conns.insert(rec.conn.clone(), (v, mk));
                }
            }
        }
    }
    out.warnings.extend(r.warnings().iter().cloned());
    Ok(())
}
