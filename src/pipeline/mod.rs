//! The threaded pipeline: feed → book → signal+risk → order, joined by `rtrb` SPSC rings of
//! small `Copy` messages, grouped onto hot threads by a [`Layout`], plus the cold thread.

pub mod book;
pub mod build;
pub mod cold;
pub mod feed;
pub mod heartbeat;
pub mod layout;
pub mod live;
pub mod order;
pub mod ring;
pub mod runner;
pub mod signal;
pub mod sources;
pub mod stats;
pub mod tap;

pub use build::{FrameClock, Pipeline, Running, StartError};
pub use layout::{Layout, LayoutSpec, Plan};
pub use runner::{spawn, Bells, Stage, Waiter};
