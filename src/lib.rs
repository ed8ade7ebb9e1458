//! obi-scalp: a low-latency order-book-imbalance scalping engine.
//!
//! The pipeline reads off the tree: [`venue`] turns wire frames into book operations under each
//! venue's sync rules, [`book`] keeps the L2 ladders and computes the signals, and the stages
//! after it decide and execute. [`num`] and [`instrument`] keep every price and size an exact
//! integer.

pub mod app;
pub mod book;
pub mod clock;
pub mod config;
pub mod exec;
pub mod fuzzing;
pub mod instrument;
pub mod msg;
pub mod net;
pub mod num;
pub mod ops;
pub mod pipeline;
pub mod record;
pub mod replay;
pub mod risk;
pub mod sim;
pub mod store;
pub mod strategy;
pub mod sweep;
pub mod trader;
pub mod venue;
pub mod verify;

/// The shared data folder and the skip rules of the test suite (one file for unit tests,
/// integration tests and benches; see its module doc).
#[cfg(test)]
#[path = "../tests/common/shared_data.rs"]
pub(crate) mod testdata;
