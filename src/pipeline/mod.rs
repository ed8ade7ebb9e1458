//! The threaded pipeline: feed → book → signal+risk → order, one OS thread per stage, joined by
//! `rtrb` SPSC rings of small `Copy` messages, plus the cold thread.

pub mod book;
pub mod build;
pub mod cold;
pub mod feed;
pub mod live;
pub mod order;
pub mod runner;
pub mod signal;
pub mod sources;
pub mod stats;
pub mod tap;

pub use runner::{effective_wait, spawn, Stage, Waiter};
