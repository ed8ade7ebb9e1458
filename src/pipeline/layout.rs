//! Stage groups: which OS thread runs which hot stages, on which core, with which wait strategy.
//!
//! The four hot stages (feed, book, signal, order) stay separate structs joined by SPSC rings; a
//! [`Layout`] only decides how they are grouped onto threads. `[pipeline] layout` names the
//! groups: `"feed,book,signal,order"` (one hot thread), `"feed|book,signal,order"` (two),
//! `"feed|book|signal|order"` (four), or `"auto"` (the default), which fits the layout to the
//! cores this process may run on: one core is kept for the cold thread and the OS, and the hot
//! stages are fused onto the rest (1 free core → one thread, 2 → feed | the rest,
//! 3 → feed | book | signal,order, 4 or more → one thread each).
//!
//! A [`Plan`] is the layout resolved for this machine: per thread its stages, its core (if
//! pinned) and its wait strategy. A hot thread with a core to itself spins pinned (`wait =
//! "auto"`, the default, or `"spin"`); where threads would share cores they park.

use crate::config::WaitStrategy;
use std::fmt;

/// Number of hot stages.
pub const STAGES: usize = 4;

/// Names of the hot stages, in pipeline order (index = stage id).
pub const STAGE_NAMES: [&str; STAGES] = ["feed", "book", "signal", "order"];

/// A set of stages (bit `i` = stage `i` of [`STAGE_NAMES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StageSet(pub u8);

impl StageSet {
    pub const ALL: StageSet = StageSet(0b1111);

    #[inline]
    pub const fn has(self, stage: usize) -> bool {
        self.0 & (1 << stage) != 0
    }

    pub fn stages(self) -> impl Iterator<Item = usize> {
        (0..STAGES).filter(move |&i| self.has(i))
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for StageSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for i in self.stages() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(STAGE_NAMES[i])?;
        }
        Ok(())
    }
}

/// The hot stages grouped onto threads, in pipeline order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub groups: Vec<StageSet>,
}

impl Layout {
    /// The layout with `threads` hot threads (1 to 4): 1 = all fused, 2 = feed | the rest,
    /// 3 = feed | book | signal,order, 4 = one thread per stage.
    pub fn with_threads(threads: usize) -> Layout {
        let groups = match threads {
            0 | 1 => vec![StageSet::ALL],
            2 => vec![StageSet(0b0001), StageSet(0b1110)],
            3 => vec![StageSet(0b0001), StageSet(0b0010), StageSet(0b1100)],
            _ => vec![
                StageSet(0b0001),
                StageSet(0b0010),
                StageSet(0b0100),
                StageSet(0b1000),
            ],
        };
        Layout { groups }
    }

    /// Parses `"feed,book|signal,order"`: `|` separates threads, `,` stages on one thread.
    /// Every stage appears exactly once, in pipeline order.
    pub fn parse(text: &str) -> Result<Layout, String> {
        let mut groups = Vec::new();
        let mut next = 0usize;
        for g in text.split('|') {
            let mut set = StageSet::default();
            for name in g.split(',') {
                let name = name.trim();
                let Some(i) = STAGE_NAMES.iter().position(|n| *n == name) else {
                    return Err(format!(
                        "unknown stage \"{name}\" (expected feed, book, signal, order)"
                    ));
                };
                if i != next {
                    return Err(format!(
                        "stage \"{name}\" out of place: every stage appears once, in the order feed, book, signal, order"
                    ));
                }
                next += 1;
                set.0 |= 1 << i;
            }
            groups.push(set);
        }
        if next != STAGES {
            return Err(format!(
                "stage \"{}\" missing: every stage appears once, in the order feed, book, signal, order",
                STAGE_NAMES[next]
            ));
        }
        Ok(Layout { groups })
    }

    pub fn threads(&self) -> usize {
        self.groups.len()
    }

    /// The thread (group index) running `stage`.
    pub fn thread_of(&self, stage: usize) -> usize {
        self.groups
            .iter()
            .position(|g| g.has(stage))
            .expect("every stage is in a group")
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.groups.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            write!(f, "{g}")?;
        }
        Ok(())
    }
}

/// `[pipeline] layout`: a fixed layout, or one fitted to the cores.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LayoutSpec {
    #[default]
    Auto,
    Fixed(Layout),
}

impl LayoutSpec {
    /// `"auto"`, a number of hot threads (`"1"` to `"4"`), or groups like `"feed|book,signal,order"`.
    pub fn parse(text: &str) -> Result<LayoutSpec, String> {
        let t = text.trim();
        if t == "auto" {
            return Ok(LayoutSpec::Auto);
        }
        if let Ok(n) = t.parse::<usize>() {
            if (1..=STAGES).contains(&n) {
                return Ok(LayoutSpec::Fixed(Layout::with_threads(n)));
            }
            return Err(format!("{n} hot threads: expected 1 to 4"));
        }
        Layout::parse(t).map(LayoutSpec::Fixed)
    }
}

impl fmt::Display for LayoutSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutSpec::Auto => f.write_str("auto"),
            LayoutSpec::Fixed(l) => write!(f, "{l}"),
        }
    }
}

/// One hot thread of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadPlan {
    pub stages: StageSet,
    /// Core it is pinned to (None: not pinned).
    pub core: Option<usize>,
    /// Wait strategy it runs with (never `Auto`).
    pub wait: WaitStrategy,
}

/// The layout resolved for this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub spec: LayoutSpec,
    pub layout: Layout,
    pub threads: Vec<ThreadPlan>,
    /// Cores this process may run on.
    pub cores_online: usize,
    pub wait_requested: WaitStrategy,
    /// Why the plan differs from what was asked (spin refused, ...), if it does.
    pub note: Option<String>,
}

/// A layout that cannot run here: names the config field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    pub field: &'static str,
    pub msg: String,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.msg)
    }
}

impl std::error::Error for PlanError {}

impl Plan {
    /// Resolves `spec` for a machine whose usable core ids are `available` (in the order the OS
    /// lists them). `pins` are the configured cores (`pipeline.cores`, one per hot thread, or
    /// empty: automatic).
    pub fn resolve(
        spec: &LayoutSpec,
        wait: WaitStrategy,
        pins: &[usize],
        available: &[usize],
    ) -> Result<Plan, PlanError> {
        let cores_online = available.len().max(1);
        // One core is kept for the cold thread and the OS.
        let free = cores_online.saturating_sub(1).max(1);
        let layout = match spec {
            LayoutSpec::Auto => Layout::with_threads(free.min(STAGES)),
            LayoutSpec::Fixed(l) => l.clone(),
        };
        let n = layout.threads();
        for &c in pins {
            if !available.contains(&c) {
                return Err(PlanError {
                    field: "pipeline.cores",
                    msg: format!(
                        "core {c} is not one this process may run on (cores {available:?})"
                    ),
                });
            }
        }
        if !pins.is_empty() && pins.len() != n {
            return Err(PlanError {
                field: "pipeline.cores",
                msg: format!(
                    "{} cores for {n} hot threads (layout \"{layout}\"): give one core per hot thread, or none",
                    pins.len()
                ),
            });
        }
        let mut distinct = pins.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != pins.len() {
            return Err(PlanError {
                field: "pipeline.cores",
                msg: format!("{pins:?}: a core is named twice"),
            });
        }
        // Does every hot thread have a core to itself (one left over for the cold side)?
        let own_cores = n < cores_online;
        let mut note = None;
        let per_thread = match wait {
            WaitStrategy::Auto => {
                if own_cores {
                    WaitStrategy::Spin
                } else {
                    WaitStrategy::Park
                }
            }
            WaitStrategy::Park => WaitStrategy::Park,
            w => {
                if own_cores {
                    w
                } else {
                    note = Some(format!(
                        "refusing to {} {n} hot threads on {cores_online} cores ({} free after the cold thread): parking instead",
                        w.as_str(),
                        cores_online.saturating_sub(1)
                    ));
                    WaitStrategy::Park
                }
            }
        };
        // Pin: the configured cores; else, for threads that spin, the cores after the first
        // (left to the OS and the cold thread).
        let cores: Vec<Option<usize>> = if !pins.is_empty() {
            pins.iter().map(|&c| Some(c)).collect()
        } else if per_thread != WaitStrategy::Park && own_cores {
            (0..n).map(|i| available.get(i + 1).copied()).collect()
        } else {
            vec![None; n]
        };
        let threads = layout
            .groups
            .iter()
            .zip(cores)
            .map(|(&stages, core)| ThreadPlan {
                stages,
                core,
                wait: per_thread,
            })
            .collect();
        Ok(Plan {
            spec: spec.clone(),
            layout,
            threads,
            cores_online,
            wait_requested: wait,
            note,
        })
    }

    /// Whether any hot thread parks (producers then ring the consumers' doorbells).
    pub fn any_parks(&self) -> bool {
        self.threads.iter().any(|t| t.wait == WaitStrategy::Park)
    }

    /// One line for the start-up message: `layout "feed,book,signal,order" (auto on 2 cores):
    /// 1 hot thread: [feed,book,signal,order spin on core 1]`.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "layout \"{}\" ({} on {} cores): {} hot thread{}:",
            self.layout,
            match self.spec {
                LayoutSpec::Auto => "auto",
                LayoutSpec::Fixed(_) => "configured",
            },
            self.cores_online,
            self.threads.len(),
            if self.threads.len() == 1 { "" } else { "s" }
        );
        for t in &self.threads {
            s.push_str(&format!(" [{} {}", t.stages, t.wait.as_str()));
            match t.core {
                Some(c) => s.push_str(&format!(" pinned to core {c}]")),
                None => s.push_str(" unpinned]"),
            }
        }
        if let Some(n) = &self.note {
            s.push_str("; ");
            s.push_str(n);
        }
        s
    }

    /// The plan as JSON (`machine.layout` of bench-latency, `pipeline` of /health/detailed).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "layout": self.layout.to_string(),
            "requested": self.spec.to_string(),
            "cores_online": self.cores_online,
            "hot_threads": self.threads.len(),
            "wait_requested": self.wait_requested.as_str(),
            "threads": self.threads.iter().map(|t| serde_json::json!({
                "stages": t.stages.to_string(),
                "wait": t.wait.as_str(),
                "core": t.core,
            })).collect::<Vec<_>>(),
            "note": self.note,
        })
    }
}

/// Core ids this process may run on (its affinity mask), in the order the OS lists them.
pub fn available_cores() -> Vec<usize> {
    core_affinity::get_core_ids()
        .map(|v| v.into_iter().map(|c| c.id).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_groups_and_thread_counts() {
        let l = Layout::parse("feed|book,signal,order").unwrap();
        assert_eq!(l.groups, vec![StageSet(1), StageSet(0b1110)]);
        assert_eq!(l.to_string(), "feed|book,signal,order");
        assert_eq!(
            LayoutSpec::parse("4").unwrap(),
            LayoutSpec::Fixed(Layout::parse("feed|book|signal|order").unwrap())
        );
        assert_eq!(
            LayoutSpec::parse("1").unwrap(),
            LayoutSpec::Fixed(Layout::parse("feed,book,signal,order").unwrap())
        );
        assert_eq!(LayoutSpec::parse("auto").unwrap(), LayoutSpec::Auto);
        for bad in [
            "feed,book,signal",
            "book,feed,signal,order",
            "feed,book,book,signal,order",
            "feed,bok,signal,order",
            "feed,signal|book,order",
            "5",
            "",
        ] {
            assert!(LayoutSpec::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn auto_keeps_one_core_for_the_cold_side() {
        type Case<'a> = (&'a [usize], &'a str, WaitStrategy, &'a [Option<usize>]);
        let cases: [Case; 5] = [
            (&[0], "feed,book,signal,order", WaitStrategy::Park, &[None]),
            (
                &[0, 1],
                "feed,book,signal,order",
                WaitStrategy::Spin,
                &[Some(1)],
            ),
            (
                &[0, 1, 2],
                "feed|book,signal,order",
                WaitStrategy::Spin,
                &[Some(1), Some(2)],
            ),
            (
                &[0, 1, 2, 3],
                "feed|book|signal,order",
                WaitStrategy::Spin,
                &[Some(1), Some(2), Some(3)],
            ),
            (
                &[0, 1, 2, 3, 4, 5, 6, 7],
                "feed|book|signal|order",
                WaitStrategy::Spin,
                &[Some(1), Some(2), Some(3), Some(4)],
            ),
        ];
        for (cores, layout, wait, pins) in cases {
            let p = Plan::resolve(&LayoutSpec::Auto, WaitStrategy::Auto, &[], cores).unwrap();
            assert_eq!(p.layout.to_string(), layout, "{cores:?}");
            assert!(p.threads.iter().all(|t| t.wait == wait), "{cores:?}: {p:?}");
            let got: Vec<_> = p.threads.iter().map(|t| t.core).collect();
            assert_eq!(got, pins, "{cores:?}");
        }
    }

    #[test]
    fn shared_cores_park_and_say_why() {
        let four = LayoutSpec::parse("4").unwrap();
        let p = Plan::resolve(&four, WaitStrategy::Auto, &[], &[0, 1]).unwrap();
        assert!(p
            .threads
            .iter()
            .all(|t| t.wait == WaitStrategy::Park && t.core.is_none()));
        assert!(p.note.is_none(), "auto asked for no spinning");
        let p = Plan::resolve(&four, WaitStrategy::Spin, &[], &[0, 1]).unwrap();
        assert!(p.threads.iter().all(|t| t.wait == WaitStrategy::Park));
        assert!(p
            .note
            .unwrap()
            .contains("refusing to spin 4 hot threads on 2 cores"));
        let p = Plan::resolve(&LayoutSpec::Auto, WaitStrategy::Park, &[], &[0, 1]).unwrap();
        assert_eq!(p.threads.len(), 1);
        assert_eq!(p.threads[0].wait, WaitStrategy::Park);
        assert_eq!(p.threads[0].core, None, "park pins only where configured");
    }

    #[test]
    fn pins_are_checked() {
        let e = Plan::resolve(&LayoutSpec::Auto, WaitStrategy::Auto, &[7], &[0, 1]).unwrap_err();
        assert_eq!(e.field, "pipeline.cores");
        assert!(e.msg.contains("core 7"), "{e}");
        let e = Plan::resolve(&LayoutSpec::Auto, WaitStrategy::Auto, &[0, 1], &[0, 1]).unwrap_err();
        assert!(e.msg.contains("2 cores for 1 hot threads"), "{e}");
        let four = LayoutSpec::parse("4").unwrap();
        let e = Plan::resolve(&four, WaitStrategy::Park, &[1, 1, 2, 3], &[0, 1, 2, 3]).unwrap_err();
        assert!(e.msg.contains("named twice"), "{e}");
        let p = Plan::resolve(&four, WaitStrategy::Park, &[0, 1, 2, 3], &[0, 1, 2, 3]).unwrap();
        let got: Vec<_> = p.threads.iter().map(|t| t.core).collect();
        assert_eq!(got, [Some(0), Some(1), Some(2), Some(3)]);
    }
}
