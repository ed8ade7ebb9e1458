//! Order execution: the [`Gateway`] the order stage talks to, the paper exchange (the order
//! stage's logic in paper mode), the per-order state machine of live orders, our ledger of
//! positions and PnL, and the order-rate limiter.
//!
//! [`OrderTable`] turns a venue's answers and stream events (in any order, duplicated) into
//! the reports the trader can act on; [`PaperExchange`] fills orders against recorded or live market data in event time;
//! [`Ledger`] is our own view of position, cash and round trips; [`TokenBucket`] limits the
//! order rate. All amounts are exact [`crate::msg::Money`].

pub mod gateway;
pub mod ledger;
pub mod live;
pub mod mirror;
pub mod orders;
pub mod paper;
pub mod rate;
pub mod recon;
pub mod sign;
pub mod venue_health;

pub use gateway::{Gateway, OrderGateway};
pub use ledger::{ClosedTrade, Ledger, MarkResult};
pub use mirror::{LevelTap, Mirror};
pub use orders::{ClientIds, OrderState, OrderTable, VenueEvent};
pub use paper::{OpenOrder, PaperConfig, PaperCounters, PaperExchange};
pub use rate::TokenBucket;
pub use sign::Signer;
