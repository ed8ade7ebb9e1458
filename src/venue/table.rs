//! The one table that lists the venues.
//!
//! Each row names a venue: its variant of [`Venue`], the names `--venue` and the config
//! accept (the first is the canonical one, [`Venue::as_str`]), the texts that recognise it in a
//! recorded host or exchange name ([`Venue::of_text`]), and, for a venue obi-scalp speaks, its
//! [`Connector`] and decoder types (`{}` for a venue that is only named so far: its
//! instruments can be listed, but nothing connects to it).
//!
//! From this table come [`Venue`], [`Venue::connector`] and [`AnyDecoder`] (enum dispatch: no
//! virtual calls on the hot path). Outside `src/venue/`, nothing matches on a venue; see the
//! [connector docs](super::connector) for how to add one.

use super::connector::Connector;
use super::{binance, binance_usdm, bybit};
use super::{bitbank, bitflyer, coincheck, gmocoin};
use super::{BookRoutes, Decoder, FeedCounters};
use crate::msg::MdEvent;

macro_rules! venue_table {
    ($(
        $(#[$doc:meta])*
        $v:ident [$($name:literal),+] in [$($host:literal),*] $imp:tt
    ),+ $(,)?) => {
        /// The exchanges obi-scalp knows (one row each in `venue/table.rs`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Venue {
            $( $(#[$doc])* $v, )+
        }

        impl Venue {
            /// Every venue, in table order.
            pub const ALL: [Venue; venue_table!(@count $($v)+)] = [$(Venue::$v),+];

            /// The canonical name (`coincheck`, `gmocoin`): config values, CSV columns, logs.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Venue::$v => venue_table!(@first $($name),+), )+
                }
            }

            /// Names accepted by `--venue` and `market.venue` (case-insensitive).
            pub const fn names(self) -> &'static [&'static str] {
                match self {
                    $( Venue::$v => &[$($name),+], )+
                }
            }

            /// Texts that recognise the venue in a host or exchange name (`coin.z.com`).
            pub const fn host_texts(self) -> &'static [&'static str] {
                match self {
                    $( Venue::$v => &[$($host),*], )+
                }
            }

            /// The venue's connector, `None` for a venue that is only named so far.
            pub fn connector(self) -> Option<&'static dyn Connector> {
                match self {
                    $( Venue::$v => venue_table!(@connector $imp), )+
                }
            }
        }

        /// A decoder of any venue the table connects to (enum dispatch: no virtual calls on
        /// the hot path). Variants of venues without a decoder hold [`NoDecoder`] and cannot
        /// be built.
        #[derive(Debug)]
        pub enum AnyDecoder {
            $( $v(venue_table!(@decoder $imp)), )+
        }

        $( venue_table!(@from $v $imp); )+

        impl Decoder for AnyDecoder {
            #[inline]
            fn on_frame<F: FnMut(MdEvent)>(&mut self, recv_ns: u64, frame: &mut [u8], out: &mut F) {
                match self { $( AnyDecoder::$v(d) => d.on_frame(recv_ns, frame, out), )+ }
            }

            fn on_rest<F: FnMut(MdEvent)>(
                &mut self,
                recv_ns: u64,
                url: &str,
                body: &mut [u8],
                out: &mut F,
            ) {
                match self { $( AnyDecoder::$v(d) => d.on_rest(recv_ns, url, body, out), )+ }
            }

            fn on_timer<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
                match self { $( AnyDecoder::$v(d) => d.on_timer(now_ns, out), )+ }
            }

            fn on_disconnect<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
                match self { $( AnyDecoder::$v(d) => d.on_disconnect(now_ns, out), )+ }
            }

            fn counters(&self) -> &FeedCounters {
                match self { $( AnyDecoder::$v(d) => d.counters(), )+ }
            }

            fn routes(&self) -> &BookRoutes {
                match self { $( AnyDecoder::$v(d) => d.routes(), )+ }
            }

            fn take_resync_request(&mut self) -> bool {
                match self { $( AnyDecoder::$v(d) => d.take_resync_request(), )+ }
            }

            fn take_snapshot_book(&mut self) -> Option<usize> {
                match self { $( AnyDecoder::$v(d) => d.take_snapshot_book(), )+ }
            }
        }
    };
    (@count) => { 0 };
    (@count $h:ident $($t:ident)*) => { 1 + venue_table!(@count $($t)*) };
    (@first $n:literal $(, $rest:literal)*) => { $n };
    (@connector {}) => { None };
    (@connector { $c:expr, $d:ty }) => { Some(&$c as &'static dyn Connector) };
    (@decoder {}) => { NoDecoder };
    (@decoder { $c:expr, $d:ty }) => { $d };
    (@from $v:ident {}) => {};
    (@from $v:ident { $c:expr, $d:ty }) => {
        impl From<$d> for AnyDecoder {
            fn from(d: $d) -> AnyDecoder {
                AnyDecoder::$v(d)
            }
        }
    };
}

venue_table! {
    // Variant  [names accepted]       in [host / exchange-name texts]  {connector, decoder}
    Coincheck [ "coincheck" ]          in [ "coincheck" ]               { coincheck::Coincheck, coincheck::CoincheckDecoder },
    Bybit     [ "bybit" ]              in [ "bybit" ]                   { bybit::Bybit, bybit::BybitDecoder },
    Binance   [ "binance" ]            in [ "binance" ]                 { binance::Binance, binance::BinanceDecoder },
    Bitflyer  [ "bitflyer" ]           in [ "bitflyer" ]                { bitflyer::Bitflyer, bitflyer::BitflyerDecoder },
    GmoCoin   [ "gmocoin", "gmo" ]     in [ "coin.z.com", "gmo" ]       { gmocoin::GmoCoin, gmocoin::GmoCoinDecoder },
    Bitbank   [ "bitbank" ]            in [ "bitbank" ]                 { bitbank::Bitbank, bitbank::BitbankDecoder },
    /// Binance USDⓈ-M futures (`fstream`/`fapi` hosts, cryptofeed's `BINANCE_FUTURES`).
    BinanceUsdm [ "binance_usdm", "binanceusdm" ] in [ "fstream.binance", "fapi.binance", "binance_futures" ] { binance_usdm::BinanceUsdm, binance_usdm::BinanceUsdmDecoder },
}

/// The decoder slot of a venue that has no decoder yet: an empty enum, so such an
/// [`AnyDecoder`] cannot exist and its dispatch arms compile to nothing.
#[derive(Debug)]
pub enum NoDecoder {}

impl Decoder for NoDecoder {
    fn on_frame<F: FnMut(MdEvent)>(&mut self, _: u64, _: &mut [u8], _: &mut F) {
        match *self {}
    }
    fn on_timer<F: FnMut(MdEvent)>(&mut self, _: u64, _: &mut F) {
        match *self {}
    }
    fn on_disconnect<F: FnMut(MdEvent)>(&mut self, _: u64, _: &mut F) {
        match *self {}
    }
    fn counters(&self) -> &FeedCounters {
        match *self {}
    }
    fn routes(&self) -> &BookRoutes {
        match *self {}
    }
    fn take_resync_request(&mut self) -> bool {
        match *self {}
    }
}

impl Venue {
    /// The venue named by a host or a cryptofeed exchange name (`stream.bybit.com`, `BINANCE`,
    /// `api.coin.z.com`), by the row's texts: the longest text found wins (`fstream.binance`
    /// over `binance`), the first row on a tie.
    pub fn of_text(s: &str) -> Option<Venue> {
        let l = s.to_ascii_lowercase();
        let mut best: Option<(usize, Venue)> = None;
        for v in Venue::ALL {
            for t in v.host_texts() {
                if l.contains(t) && best.is_none_or(|(n, _)| t.len() > n) {
                    best = Some((t.len(), v));
                }
            }
        }
        best.map(|(_, v)| v)
    }

    /// The market a symbol means when the config does not name one (the connector's; spot for
    /// a venue without one).
    pub fn default_market(self) -> crate::instrument::Market {
        self.connector()
            .map_or(crate::instrument::Market::Spot, |c| c.default_market())
    }

    /// The venue's connector, or an error naming what `what` needs and which venues have one
    /// (`no live feed for bitflyer yet (supported: coincheck, bybit, binance)`).
    pub fn require_connector(self, what: &str) -> Result<&'static dyn Connector, String> {
        self.connector().ok_or_else(|| {
            format!(
                "no {what} for {self} yet (supported: {})",
                Venue::connected()
                    .map(Venue::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }

    /// The venues that have a connector, in table order.
    pub fn connected() -> impl Iterator<Item = Venue> {
        Venue::ALL.into_iter().filter(|v| v.connector().is_some())
    }
}

impl std::fmt::Display for Venue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Venue {
    type Err = String;
    fn from_str(s: &str) -> Result<Venue, String> {
        let l = s.to_ascii_lowercase();
        Venue::ALL
            .into_iter()
            .find(|v| v.names().contains(&l.as_str()))
            .ok_or_else(|| {
                let names: Vec<&str> = Venue::ALL.iter().map(|v| v.as_str()).collect();
                format!("unknown venue `{s}` (expected {})", or_list(&names))
            })
    }
}

/// `a, b or c`.
pub fn or_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print() {
        for v in Venue::ALL {
            assert_eq!(v.as_str().parse::<Venue>(), Ok(v));
            assert_eq!(v.to_string().to_uppercase().parse::<Venue>(), Ok(v));
        }
        assert_eq!("gmo".parse::<Venue>(), Ok(Venue::GmoCoin));
        assert_eq!(
            "kraken".parse::<Venue>().unwrap_err(),
            "unknown venue `kraken` (expected coincheck, bybit, binance, bitflyer, gmocoin, bitbank or binance_usdm)"
        );
    }

    #[test]
    fn texts_recognise_venues() {
        assert_eq!(
            Venue::of_text("wss://stream.bybit.com/v5"),
            Some(Venue::Bybit)
        );
        assert_eq!(Venue::of_text("BINANCE"), Some(Venue::Binance));
        assert_eq!(
            Venue::of_text("wss://fstream.binance.com/stream"),
            Some(Venue::BinanceUsdm)
        );
        assert_eq!(Venue::of_text("BINANCE_FUTURES"), Some(Venue::BinanceUsdm));
        assert_eq!(
            Venue::of_text("wss://stream.binance.com:9443/stream"),
            Some(Venue::Binance)
        );
        assert_eq!(Venue::of_text("api.coin.z.com"), Some(Venue::GmoCoin));
        assert_eq!(
            Venue::of_text("ws-api.coincheck.com"),
            Some(Venue::Coincheck)
        );
        assert_eq!(Venue::of_text("example.org"), None);
    }

    #[test]
    fn every_connector_is_its_own_row() {
        for v in Venue::ALL {
            if let Some(c) = v.connector() {
                assert_eq!(c.venue(), v);
            }
        }
        let e = Venue::Bitflyer.require_connector("live feed").err();
        assert_eq!(e, None);
        assert_eq!(Venue::connected().count(), Venue::ALL.len());
    }
}
