//! Binance USDⓈ-M futures public market data: `<symbol>@depth@100ms` diffs over the combined
//! streams of `wss://fstream.binance.com`, seeded from the REST snapshot
//! `GET https://fapi.binance.com/fapi/v1/depth`, `<symbol>@aggTrade` prints. The frames are
//! Binance spot's plus `pu` (the previous event's `u`) and `T` (transaction time):
//! `{"e":"depthUpdate","E":123456789,"T":123456788,"s":"BTCUSDT","U":157,"u":160,"pu":149,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}`
//! (developers.binance.com, USDⓈ-M futures WebSocket "Diff. Book Depth Streams"), and the
//! sync rule is futures' own: `pu` must equal the previous `u`, otherwise resync
//! ([`Rule::UsdM`], in `binance/sync.rs` beside spot's). Wire reading and sync are Binance's
//! (`venue/binance/wire.rs`, `venue/binance/sync.rs`); this folder holds the connector and
//! the decoder type of the table row. Always the linear market.

pub mod connector;
pub mod sim;

pub use connector::BinanceUsdm;

use crate::msg::MdEvent;
use crate::venue::binance::{BinanceConfig, BinanceDecoder, Rule};
use crate::venue::{BookRoutes, Decoder, FeedCounters};

/// Public WebSocket host (combined streams at `/stream?streams=..`).
pub const WS_BASE: &str = "wss://fstream.binance.com";
/// Public REST host.
pub const REST_BASE: &str = "https://fapi.binance.com";

/// REST depth snapshot URL on `base` (`limit` 5 to 1000).
pub fn snapshot_url_at(base: &str, symbol: &str, limit: u32) -> String {
    format!(
        "{}/fapi/v1/depth?symbol={}&limit={limit}",
        base.trim_end_matches('/'),
        symbol.to_ascii_uppercase()
    )
}

/// The decoder of one USD-M connection: Binance's decoder under the futures rule.
#[derive(Debug)]
pub struct BinanceUsdmDecoder(pub BinanceDecoder);

impl BinanceUsdmDecoder {
    pub fn new(routes: BookRoutes) -> BinanceUsdmDecoder {
        BinanceUsdmDecoder::with_config(routes, BinanceConfig::default())
    }

    /// `config` with the futures rule, whatever its `rule` says.
    pub fn with_config(routes: BookRoutes, config: BinanceConfig) -> BinanceUsdmDecoder {
        BinanceUsdmDecoder(BinanceDecoder::with_config(
            routes,
            BinanceConfig {
                rule: Rule::UsdM,
                ..config
            },
        ))
    }
}

impl Decoder for BinanceUsdmDecoder {
    #[inline]
    fn on_frame<F: FnMut(MdEvent)>(&mut self, recv_ns: u64, frame: &mut [u8], out: &mut F) {
        self.0.on_frame(recv_ns, frame, out)
    }

    fn on_rest<F: FnMut(MdEvent)>(
        &mut self,
        recv_ns: u64,
        url: &str,
        body: &mut [u8],
        out: &mut F,
    ) {
        self.0.on_rest(recv_ns, url, body, out)
    }

    fn on_timer<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        self.0.on_timer(now_ns, out)
    }

    fn on_disconnect<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        self.0.on_disconnect(now_ns, out)
    }

    fn counters(&self) -> &FeedCounters {
        self.0.counters()
    }

    fn routes(&self) -> &BookRoutes {
        self.0.routes()
    }

    fn take_resync_request(&mut self) -> bool {
        self.0.take_resync_request()
    }

    fn take_snapshot_book(&mut self) -> Option<usize> {
        self.0.take_snapshot_book()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::BookSet;
    use crate::instrument::{InstrumentTable, Market, Venue};
    use crate::msg::{BookOp, BookState, MarketMsg};
    use crate::venue::testutil::{collect, edited, edits};
    use proptest::prelude::*;

    fn dec() -> BinanceUsdmDecoder {
        let r = BookRoutes::new(
            InstrumentTable::default(),
            Venue::BinanceUsdm,
            Market::Linear,
            &["BTCUSDT"],
        )
        .unwrap();
        BinanceUsdmDecoder::new(r)
    }

    /// A combined-stream diff in the futures docs' shape (with `T` and `pu`).
    fn diff(first: u64, last: u64, pu: u64, b: &str, a: &str) -> String {
        format!(
            r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1786310816516,"T":1786310816512,"s":"BTCUSDT","U":{first},"u":{last},"pu":{pu},"b":[{b}],"a":[{a}]}}}}"#
        )
    }

    /// The futures REST snapshot shape (`GET /fapi/v1/depth`: `lastUpdateId`, `E`, `T`).
    const SNAP: &str = r#"{"lastUpdateId":1027024,"E":1589436922972,"T":1589436922959,"bids":[["65000.00","4.000"],["64999.90","1.5"]],"asks":[["65000.10","12.000"]]}"#;
    const SNAP_URL: &str = "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000";

    fn rest(d: &mut BinanceUsdmDecoder, body: &str) -> Vec<MdEvent> {
        let mut evs = Vec::new();
        let mut b = body.as_bytes().to_vec();
        d.on_rest(5_000, SNAP_URL, &mut b, &mut |e| evs.push(e));
        evs
    }

    fn commits(evs: &[MdEvent]) -> Vec<u64> {
        evs.iter()
            .filter_map(|e| match e.op {
                BookOp::Commit { seq, .. } => Some(seq),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn buffer_snapshot_then_pu_chain_and_gap_resync() {
        let mut d = dec();
        let mut books = BookSet::new(1, 5, 1000);
        let evs = collect(
            &mut d,
            &[
                &diff(1027000, 1027010, 1026990, r#"["65000.00","3.000"]"#, ""),
                &diff(1027020, 1027030, 1027010, r#"["65000.00","5.000"]"#, ""),
                &diff(1027033, 1027040, 1027030, "", r#"["65000.10","0"]"#),
            ],
        );
        assert!(evs.is_empty(), "buffered until the snapshot");
        assert!(d.take_resync_request(), "a snapshot is asked for");
        assert_eq!(d.take_snapshot_book(), Some(0));
        let evs = rest(&mut d, SNAP);
        assert_eq!(commits(&evs), vec![1027024, 1027030, 1027040]);
        let mut top = None;
        for e in &evs {
            if let Some(MarketMsg::Book(u)) = books.apply(e) {
                top = Some((u.bid_px, u.bid_qty, u.ask_px));
            }
        }
        assert_eq!(
            top,
            Some((650_000, 5_000, crate::msg::NO_PRICE)),
            "65000.00 x 5, asks gone"
        );
        assert_eq!(d.counters().dropped, 1, "u < lastUpdateId");
        // pu continues the chain even though U skips ids
        let evs = collect(&mut d, &[&diff(1027050, 1027060, 1027040, "", "")]);
        assert_eq!(commits(&evs), vec![1027060]);
        // pu is not the previous u: updates were lost
        let evs = collect(&mut d, &[&diff(1027070, 1027080, 1027065, "", "")]);
        assert_eq!(
            evs.last().map(|e| e.op),
            Some(BookOp::State(BookState::Resyncing))
        );
        let c = *d.counters();
        assert_eq!((c.gaps, c.resyncs, c.malformed), (1, 1, 0));
        assert!(d.take_resync_request());
        assert_eq!(d.take_snapshot_book(), Some(0));
        // a snapshot the buffered diff continues (pu == lastUpdateId) resyncs the book
        let snap2 = SNAP.replace("1027024", "1027065");
        let evs = rest(&mut d, &snap2);
        assert_eq!(commits(&evs), vec![1027065, 1027080]);
        assert_eq!(d.0.book_state(0), Some(BookState::Synced));
    }

    #[test]
    fn the_spot_rule_would_have_called_these_gaps() {
        // The same stream through the spot decoder: U != previous u + 1 is a gap there.
        let r = BookRoutes::new(
            InstrumentTable::default(),
            Venue::BinanceUsdm,
            Market::Linear,
            &["BTCUSDT"],
        )
        .unwrap();
        let mut spot = BinanceDecoder::new(r);
        let mut usdm = dec();
        let frames = [
            diff(1027020, 1027030, 1027010, "", ""),
            diff(1027033, 1027040, 1027030, "", ""),
        ];
        let mut b = SNAP.as_bytes().to_vec();
        spot.on_rest(1, SNAP_URL, &mut b, &mut |_| {});
        let _ = rest(&mut usdm, SNAP);
        let _ = collect(&mut spot, &[&frames[0], &frames[1]]);
        let _ = collect(&mut usdm, &[&frames[0], &frames[1]]);
        assert_eq!(spot.counters().gaps, 1);
        assert_eq!(usdm.counters().gaps, 0);
        assert_eq!(usdm.0.book_seq(0), Some(1027040));
    }

    #[test]
    fn malformed_pu_is_counted_and_resyncs() {
        let mut d = dec();
        let _ = rest(&mut d, SNAP);
        let _ = collect(&mut d, &[&diff(1027020, 1027030, 1027010, "", "")]);
        let bad = diff(1027031, 1027035, 1027030, "", "").replace(r#""pu":1027030"#, r#""pu":"x""#);
        let evs = collect(&mut d, &[&bad]);
        assert_eq!(d.counters().malformed, 1);
        assert_eq!(
            evs.last().map(|e| e.op),
            Some(BookOp::State(BookState::Resyncing))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// The fast path and the tape read edited futures frames alike: same events, counters
        /// and book ids (the differential check the spot decoder has, with `pu`).
        #[test]
        fn fast_path_and_tape_agree_on_edited_futures_frames(e in edits(), which in 0usize..2) {
            let frames = [
                diff(1027020, 1027030, 1027010, r#"["65000.00","5.000"]"#, r#"["65000.10","0"]"#),
                diff(1027031, 1027040, 1027030, "", r#"["65000.20","1.25"]"#),
            ];
            let run = |fast: bool| {
                let mut d = dec();
                d.0.set_fast_path(fast);
                let _ = rest(&mut d, SNAP);
                let mut buf = edited(frames[which].as_bytes(), &e);
                let mut evs = Vec::new();
                d.on_frame(7, &mut buf, &mut |e| evs.push(e));
                (evs, *d.counters(), d.0.book_seq(0))
            };
            prop_assert_eq!(run(true), run(false));
        }
    }
}
