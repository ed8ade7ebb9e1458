//! The threaded pipeline: feed → book → signal+risk → order, one OS thread per stage, joined by
//! `rtrb` SPSC rings of small `Copy` messages, plus the cold thread.

pub mod book;
pub mod feed;
pub mod runner;
pub mod stats;

pub use runner::{effective_wait, spawn, Stage, Waiter};
