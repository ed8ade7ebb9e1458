//! Instruments: which book on which venue, and the tick and lot its numbers are counted in.

use crate::num::{NumError, Scale};
use arrayvec::ArrayString;
use std::fmt;
use std::str::FromStr;

/// The exchanges: the one table that lists them is `venue/table.rs`.
pub use crate::venue::Venue;

/// Spot or derivatives market of a venue (Bybit serves them on different connections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Market {
    Spot,
    Linear,
    Inverse,
}

impl Market {
    pub const fn as_str(self) -> &'static str {
        match self {
            Market::Spot => "spot",
            Market::Linear => "linear",
            Market::Inverse => "inverse",
        }
    }
}

impl FromStr for Market {
    type Err = String;
    fn from_str(s: &str) -> Result<Market, String> {
        match s.to_ascii_lowercase().as_str() {
            "spot" => Ok(Market::Spot),
            "linear" => Ok(Market::Linear),
            "inverse" => Ok(Market::Inverse),
            _ => Err(format!(
                "unknown market `{s}` (expected spot, linear or inverse)"
            )),
        }
    }
}

/// A symbol as the venue writes it (`BTCUSDT`, `btc_jpy`), stored inline.
pub type Symbol = ArrayString<24>;

/// Identifies one order book: venue, market type and symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BookKey {
    pub venue: Venue,
    pub market: Market,
    pub symbol: Symbol,
}

impl BookKey {
    pub fn new(venue: Venue, market: Market, symbol: &str) -> BookKey {
        BookKey {
            venue,
            market,
            symbol: Symbol::from(symbol).unwrap_or_else(|_| {
                Symbol::from(&symbol[..symbol.len().min(24)]).unwrap_or_default()
            }),
        }
    }

    /// `bybit_linear`, `coincheck_spot`: the CSV `venue` column.
    pub fn venue_label(&self) -> String {
        format!("{}_{}", self.venue.as_str(), self.market.as_str())
    }
}

impl fmt::Display for BookKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_{}:{}",
            self.venue.as_str(),
            self.market.as_str(),
            self.symbol
        )
    }
}

/// One tradable instrument and its exact number scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instrument {
    pub key: BookKey,
    /// Price step: prices are counted in ticks of this size.
    pub tick: Scale,
    /// Size step: sizes are counted in lots of this size.
    pub lot: Scale,
    pub quote: ArrayString<8>,
}

impl Instrument {
    pub fn new(
        venue: Venue,
        market: Market,
        symbol: &str,
        tick: &str,
        lot: &str,
        quote: &str,
    ) -> Result<Instrument, NumError> {
        Ok(Instrument {
            key: BookKey::new(venue, market, symbol),
            tick: Scale::from_step(tick)?,
            lot: Scale::from_step(lot)?,
            quote: ArrayString::from(quote).unwrap_or_default(),
        })
    }

    /// Decimal places of one unit of `ticks * lots` (the quote-currency amount of one tick on one lot).
    pub fn notional_decimals(&self) -> u8 {
        self.tick.decimals() + self.lot.decimals()
    }

    /// Decimal places amounts of the quote currency are shown with (at least): 0 for JPY and
    /// KRW, 8 for BTC and ETH, 2 for USD, USD stablecoins, EUR and anything else. Exact amounts
    /// with more significant places show them all (money is never rounded for display).
    pub fn quote_decimals(&self) -> u8 {
        match self.quote.as_str() {
            "JPY" | "KRW" => 0,
            "BTC" | "ETH" => 8,
            _ => 2,
        }
    }

    /// Quote-currency value of `ticks * lots` in units of `10^-notional_decimals()`.
    pub fn notional_units(&self, ticks: i64, lots: i64) -> i128 {
        ticks as i128
            * self.tick.step_units() as i128
            * lots as i128
            * self.lot.step_units() as i128
    }
}

/// Built-in instrument defaults, checked against the venues' instrument endpoints
/// (Bybit and Binance values as recorded in `../shared/data`).
const DEFAULTS: &[(Venue, Market, &str, &str, &str, &str)] = &[
    (
        Venue::Coincheck,
        Market::Spot,
        "btc_jpy",
        "1",
        "0.00000001",
        "JPY",
    ),
    (
        Venue::Coincheck,
        Market::Spot,
        "eth_jpy",
        "1",
        "0.00000001",
        "JPY",
    ),
    (
        Venue::Bybit,
        Market::Linear,
        "BTCUSDT",
        "0.10",
        "0.001",
        "USDT",
    ),
    (
        Venue::Bybit,
        Market::Linear,
        "ETHUSDT",
        "0.01",
        "0.01",
        "USDT",
    ),
    (
        Venue::Bybit,
        Market::Linear,
        "SOLUSDT",
        "0.010",
        "0.1",
        "USDT",
    ),
    (
        Venue::Bybit,
        Market::Linear,
        "DOGEUSDT",
        "0.00001",
        "1",
        "USDT",
    ),
    (
        Venue::Bybit,
        Market::Spot,
        "BTCUSDT",
        "0.1",
        "0.000001",
        "USDT",
    ),
    (
        Venue::Bybit,
        Market::Spot,
        "ETHUSDT",
        "0.01",
        "0.00001",
        "USDT",
    ),
    (
        Venue::Binance,
        Market::Spot,
        "BTCUSDT",
        "0.01",
        "0.00001",
        "USDT",
    ),
    (
        Venue::Binance,
        Market::Spot,
        "NKNUSDT",
        "0.0001",
        "1",
        "USDT",
    ),
    (
        Venue::Binance,
        Market::Spot,
        "BLZETH",
        "0.00000001",
        "1",
        "ETH",
    ),
    (
        Venue::Binance,
        Market::Spot,
        "LRCBTC",
        "0.00000001",
        "1",
        "BTC",
    ),
    (
        Venue::Binance,
        Market::Spot,
        "RUNEEUR",
        "0.001",
        "0.1",
        "EUR",
    ),
    (
        Venue::Bitflyer,
        Market::Spot,
        "BTC_JPY",
        "1",
        "0.00000001",
        "JPY",
    ),
    (
        Venue::Bitflyer,
        Market::Linear,
        "FX_BTC_JPY",
        "1",
        "0.00000001",
        "JPY",
    ),
    // Binance USDⓈ-M BTCUSDT perpetual: tickSize 0.10, stepSize 0.001 (fapi exchangeInfo).
    (
        Venue::BinanceUsdm,
        Market::Linear,
        "BTCUSDT",
        "0.10",
        "0.001",
        "USDT",
    ),
    (Venue::GmoCoin, Market::Spot, "BTC", "1", "0.0001", "JPY"),
    // Book and trade sizes of the leverage book come in 0.001 BTC (VENUES.md §1.4 probe frame
    // `"size": "0.001"`; a recorded `trades` print of `"size":"0.004"`).
    (
        Venue::GmoCoin,
        Market::Linear,
        "BTC_JPY",
        "1",
        "0.001",
        "JPY",
    ),
    (
        Venue::Bitbank,
        Market::Spot,
        "btc_jpy",
        "1",
        "0.0001",
        "JPY",
    ),
];

/// The instrument table: built-in defaults, overridable and extendable from config.
#[derive(Debug, Clone)]
pub struct InstrumentTable {
    list: Vec<Instrument>,
}

impl Default for InstrumentTable {
    fn default() -> Self {
        let list = DEFAULTS
            .iter()
            .map(|&(v, m, s, t, l, q)| {
                Instrument::new(v, m, s, t, l, q).expect("built-in instrument is valid")
            })
            .collect();
        InstrumentTable { list }
    }
}

impl InstrumentTable {
    /// Adds or replaces an instrument.
    pub fn upsert(&mut self, inst: Instrument) {
        match self.list.iter_mut().find(|i| i.key == inst.key) {
            Some(slot) => *slot = inst,
            None => self.list.push(inst),
        }
    }

    /// Looks an instrument up; the symbol comparison ignores ASCII case (Binance streams are lowercase).
    pub fn get(&self, venue: Venue, market: Market, symbol: &str) -> Option<&Instrument> {
        self.list.iter().find(|i| {
            i.key.venue == venue
                && i.key.market == market
                && i.key.symbol.eq_ignore_ascii_case(symbol)
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Instrument> {
        self.list.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve() {
        let t = InstrumentTable::default();
        let i = t.get(Venue::Bybit, Market::Linear, "BTCUSDT").unwrap();
        assert_eq!(i.tick.parse(b"65140.40"), Ok(651404));
        assert_eq!(i.lot.parse(b"1.234"), Ok(1234));
        assert_eq!(i.key.venue_label(), "bybit_linear");
        assert!(t.get(Venue::Binance, Market::Spot, "nknusdt").is_some());
        let c = t.get(Venue::Coincheck, Market::Spot, "btc_jpy").unwrap();
        assert_eq!(c.tick.parse(b"6288279.0"), Ok(6288279));
    }

    #[test]
    fn notional_is_exact() {
        let t = InstrumentTable::default();
        let i = t.get(Venue::Bybit, Market::Linear, "BTCUSDT").unwrap();
        // 65140.40 * 0.002 = 130.28080 USDT; notional decimals 2 + 3 = 5.
        assert_eq!(i.notional_units(651404, 2), 13_028_080);
        assert_eq!(i.notional_decimals(), 5);
    }

    #[test]
    fn parses_venue_names() {
        assert_eq!("Bybit".parse::<Venue>(), Ok(Venue::Bybit));
        assert!("kraken".parse::<Venue>().unwrap_err().contains("kraken"));
    }
}
