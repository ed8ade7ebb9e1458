//! The systemd watchdog's view of the hot threads: `WATCHDOG=1` only while every hot thread
//! goes round its loop ([`crate::pipeline::heartbeat`]).
//!
//! [`HotWatch::check`] runs on the cold thread when a ping is due ([`super::Ops::tick_with`]);
//! when a thread has not beaten since the previous ping it logs which one (once, until it
//! beats again) and answers false, so no `WATCHDOG=1` goes out and systemd restarts the
//! process after `WatchdogSec`.

use crate::pipeline::heartbeat::HeartbeatWatch;
use crate::pipeline::sources::FrameSource;
use crate::pipeline::Running;
use crate::venue::Decoder;

/// The heartbeats of one running pipeline, with the threads' names for the log.
#[derive(Debug)]
pub struct HotWatch {
    watch: HeartbeatWatch,
    names: Vec<String>,
    warned: bool,
}

impl HotWatch {
    pub fn new<S: FrameSource, D: Decoder + Send + 'static>(running: &Running<S, D>) -> HotWatch {
        HotWatch {
            watch: HeartbeatWatch::new(running.heartbeats.clone()),
            names: running
                .plan
                .threads
                .iter()
                .map(|t| t.stages.to_string())
                .collect(),
            warned: false,
        }
    }

    /// Whether every hot thread made progress since the previous check (logs the ones that
    /// did not).
    pub fn check(&mut self) -> bool {
        let ok = self.watch.check();
        if !ok && !self.warned {
            let stuck: Vec<&str> = self
                .watch
                .stuck()
                .iter()
                .map(|&i| self.names.get(i).map_or("?", String::as_str))
                .collect();
            tracing::error!(
                threads = %stuck.join(" "),
                "hot thread(s) made no progress since the last watchdog ping; not sending WATCHDOG=1"
            );
            self.warned = true;
        } else if ok && self.warned {
            tracing::warn!("every hot thread makes progress again; WATCHDOG=1 resumes");
            self.warned = false;
        }
        ok
    }
}
