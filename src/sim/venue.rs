//! What the simulator asks of a venue: the [`SimVenue`] trait.
//!
//! The simulator (`sim`) keeps the server, the fan-out and the faults; everything that depends
//! on a venue's protocol comes from the venue's folder (`src/venue/<name>/sim.rs`), through
//! the venue's [`Connector::sim`](crate::venue::Connector::sim). Nothing in `sim` matches on
//! the venue.

use crate::instrument::{Instrument, Market};
use crate::sim::market::SyntheticConfig;
use crate::sim::private::{AccountFile, PrivateApi};
use crate::sim::recording::RecordedVenue;
use crate::sim::synthetic::SyntheticVenue;
use crate::sim::wire::LevelFmt;
use crate::sim::Route;

/// A venue's part of the simulator: see the [module docs](self).
///
/// Object safe and stateless, like the [`Connector`](crate::venue::Connector) that hands it
/// out (`&'static dyn SimVenue`); state belongs in the feed or the private side.
pub trait SimVenue: Sync {
    /// The venue's default synthetic market(s) with `seed` (`obi-scalp sim` without
    /// `--input`; [`SyntheticFeed::default_for`](crate::sim::SyntheticFeed::default_for)).
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig>;

    /// The protocol of the venue's synthetic market (frames per step, client and REST
    /// answers, crossed-book frames) for [`SyntheticFeed`](crate::sim::SyntheticFeed).
    fn synthetic(&self) -> &'static dyn SyntheticVenue;

    /// The route a WebSocket request path (without its query) belongs to (`/ws/btcusdt@depth`
    /// → `/ws`), or `None` when the venue does not serve it.
    fn route_of_path(&self, path: &str) -> Option<Route>;

    /// How the venue prints `inst`'s price levels; `px_decimals` is the price scale when the
    /// venue prints more places than the tick has (Bybit linear), 0 otherwise.
    fn level_fmt(&self, inst: &Instrument, px_decimals: u8) -> LevelFmt;

    /// The instrument (market, symbol as the venue writes it) whose private API (orders, the
    /// private stream, `GET /sim/state`) the simulator serves for `--account`; `None` when it
    /// serves none for this venue.
    fn private_instrument(&self) -> Option<(Market, &'static str)> {
        None
    }

    /// The private API for `account` on `inst` (the built-in instrument named by
    /// [`SimVenue::private_instrument`]); `scheme` is `http` or `https`, as served. Only
    /// called when [`SimVenue::private_instrument`] is `Some`.
    fn private_api(
        &self,
        account: &AccountFile,
        inst: Instrument,
        scheme: &'static str,
    ) -> Result<Box<dyn PrivateApi>, String> {
        let _ = (account, inst, scheme);
        Err("this venue has no private API in the simulator".into())
    }

    /// How the simulator replays the venue's cryptofeed recordings (`--input`); `None`: it
    /// replays none of this venue.
    fn recording(&self) -> Option<&'static dyn RecordedVenue> {
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::instrument::Venue;
    use crate::sim::wire::route_of_path;
    use crate::sim::{SimFeed, SyntheticFeed};

    #[test]
    fn every_simulated_venue_serves_its_own_markets_on_routes_it_recognises() {
        let simulated: Vec<Venue> = crate::sim::synthetic::simulated().collect();
        assert_eq!(simulated, Venue::connected().collect::<Vec<_>>());
        for v in simulated {
            let sim = v.connector().and_then(|c| c.sim()).unwrap();
            let markets = sim.synthetic_markets(7);
            assert!(!markets.is_empty(), "{v}: no default market");
            for m in &markets {
                assert_eq!(m.instrument.key.venue, v, "{v}: {}", m.instrument.key);
            }
            let feed = SyntheticFeed::default_for(v, 7).unwrap();
            assert_eq!(feed.venue(), v);
            for r in feed.routes() {
                assert_eq!(route_of_path(v, r), Some(*r), "{v}: route {r}");
                assert_eq!(
                    route_of_path(v, &format!("{r}?x=1")),
                    Some(*r),
                    "{v}: {r}?x=1"
                );
            }
            assert_eq!(route_of_path(v, "/no/such/route"), None, "{v}");
        }
    }
}
