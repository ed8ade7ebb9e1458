//! Progress of long runs on stderr: a bar with rate and ETA on a terminal, a plain line every
//! few seconds otherwise (logs, CI), and a closing line with the totals either way.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often a plain (non-terminal) progress line is written.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// How often the terminal bar is redrawn.
const BAR_EVERY: Duration = Duration::from_millis(200);

/// Progress of `total` units of work (records, points), reported by [`Progress::update`].
pub struct Progress {
    what: &'static str,
    unit: &'static str,
    total: u64,
    t0: Instant,
    last: Instant,
    tty: bool,
    drawn: bool,
    quiet: bool,
}

impl Progress {
    /// `what` names the run (`replay`), `unit` the counted things (`records`).
    pub fn new(what: &'static str, unit: &'static str, total: u64) -> Progress {
        let now = Instant::now();
        Progress {
            what,
            unit,
            total,
            t0: now,
            last: now,
            tty: std::io::stderr().is_terminal(),
            drawn: false,
            quiet: false,
        }
    }

    /// No output at all (library callers, tests).
    pub fn quiet(mut self) -> Progress {
        self.quiet = true;
        self
    }

    /// `done` units are finished; draws when due. Cheap enough to call per unit.
    pub fn update(&mut self, done: u64) {
        if self.quiet {
            return;
        }
        let now = Instant::now();
        let every = if self.tty { BAR_EVERY } else { PLAIN_EVERY };
        if now.duration_since(self.last) < every {
            return;
        }
        self.last = now;
        let line = self.line(done, now);
        let mut e = std::io::stderr().lock();
        if self.tty {
            let _ = write!(e, "\r{line}\x1b[K");
            self.drawn = true;
        } else {
            let _ = writeln!(e, "{line}");
        }
        let _ = e.flush();
    }

    fn line(&self, done: u64, now: Instant) -> String {
        let secs = now.duration_since(self.t0).as_secs_f64().max(1e-9);
        let rate = done as f64 / secs;
        let pct = if self.total == 0 {
            100.0
        } else {
            done as f64 * 100.0 / self.total as f64
        };
        let eta = if rate > 0.0 {
            format!("{:.0} s", self.total.saturating_sub(done) as f64 / rate)
        } else {
            "?".into()
        };
        let bar = if self.tty {
            let w = 30usize;
            let fill = ((pct / 100.0) * w as f64) as usize;
            format!(
                "[{}{}] ",
                "#".repeat(fill.min(w)),
                ".".repeat(w - fill.min(w))
            )
        } else {
            String::new()
        };
        format!(
            "{}: {bar}{done}/{} {} ({pct:.1}%), {} {}/s, elapsed {secs:.1} s, ETA {eta}",
            self.what,
            self.total,
            self.unit,
            fmt_rate(rate),
            self.unit
        )
    }

    /// The closing line: totals, time and rate.
    pub fn finish(&mut self, done: u64) {
        if self.quiet {
            return;
        }
        let secs = self.t0.elapsed().as_secs_f64().max(1e-9);
        let mut e = std::io::stderr().lock();
        if self.drawn {
            let _ = write!(e, "\r\x1b[K");
        }
        let _ = writeln!(
            e,
            "{}: {done} {} in {secs:.2} s ({} {}/s)",
            self.what,
            self.unit,
            fmt_rate(done as f64 / secs),
            self.unit
        );
    }
}

fn fmt_rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.2}")
    }
}
