//! Order execution: the paper exchange (the order stage's logic in paper mode), our ledger of
//! positions and PnL, and the order-rate limiter.
//!
//! [`PaperExchange`] fills orders against recorded or live market data in event time;
//! [`Ledger`] is our own view of position, cash and round trips; [`TokenBucket`] limits the
//! order rate. All amounts are exact [`crate::msg::Money`].

pub mod ledger;
pub mod paper;
pub mod rate;

pub use ledger::{ClosedTrade, Ledger, MarkResult};
pub use paper::{OpenOrder, PaperConfig, PaperCounters, PaperExchange};
pub use rate::TokenBucket;
