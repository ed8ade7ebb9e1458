//! Fault injection for the simulator: what goes wrong, and when.
//!
//! A fault is given on the command line as `--fault SPEC` (repeatable) and parsed by
//! [`FaultSpec::parse`]. The grammar:
//!
//! ```text
//! SPEC     = KIND [ "@" TRIGGER ] [ ":" ARG ]
//! TRIGGER  = START [ ",every=" PERIOD ]  |  "every=" PERIOD
//! START    = DURATION          wall time since the server started   (5s, 1500ms, 1.5s, 2m)
//!          | "msg=" N          after N stream frames have left the feed
//! PERIOD   = DURATION | N | "msg=" N    repeat every DURATION, or every N stream frames
//! DURATION = DIGITS [ "." DIGITS ] ( "ms" | "s" | "m" )
//! ```
//!
//! Without a trigger a fault fires at start-up; `every=P` alone first fires at P. A one-shot
//! fault acts at the first opportunity at or after its trigger (the next stream frame, the next
//! REST request, the first WebSocket client).
//!
//! | kind | ARG | effect |
//! |---|---|---|
//! | `drop` | – | close every WebSocket connection abruptly (TCP shutdown, no close frame) |
//! | `stall` | DURATION (required) | send nothing for DURATION; stream frames due meanwhile are lost (silence, then a sequence gap) |
//! | `skip` | N (default 1) | do not send the next N stream frames (a gap) |
//! | `dup` | N (default 1) | send each of the next N stream frames twice |
//! | `reorder` | – | swap the next two stream frames of one route |
//! | `malformed` | N (default 1) | before each of the next N stream frames, send a truncated copy of it (not valid JSON) |
//! | `crossed` | N (default 1) | send the feed's crossed-book frame N times |
//! | `slow` | DELAY \[ `,for=`DURATION \] | hold every outgoing frame DELAY before sending it, for DURATION (default: to the end) |
//! | `refuse` | DURATION or N (required) | close new TCP connections on accept for DURATION, or the next N of them |
//! | `rest429`, `rest500` | \[DURATION\] | answer the next REST request (or all of them for DURATION) with 429 / 500 |
//! | `reject` | N (default 1) | private API: refuse the next N places with the venue's own error |
//! | `order429`, `order500` | N (default 1) | private API: answer the next N order requests with the venue's rate-limit / internal error |
//! | `timeout` | N (default 1) | private API: do not execute the next N order requests, and never answer them |
//! | `lostack` | N (default 1) | private API: execute the next N order requests, but never answer them |
//! | `dropfill` | N (default 1) | private API: leave the next N executions out of the private stream (Bybit; the order updates still go out), out of `transactions_pagination` (Coincheck; `transactions` still lists them), out of `executionEvents` (GMO Coin; `executions` still lists them) |
//! | `read429`, `read500` | N (default 1) | private API: answer the next N signed reads (GET: orders, positions, wallet or balance, executions) with the venue's rate-limit / internal error (Bybit, Coincheck, GMO Coin) |
//! | `skew` | DURATION (required) | private API: the venue's clock runs DURATION ahead from then on (Bybit `/v5/market/time` and the recv-window check; Coincheck the HTTP `Date` header; GMO Coin `/public/v1/status` `responsetime` and the `API-TIMESTAMP` window) |
//! | `reststale` | \[DURATION\] | answer the next REST request (or all for DURATION) with the first 200 body the server gave for that path (none yet: answered fresh, the one-shot stays pending) |
//!
//! "Stream frames" are the frames the feed produces as the market moves (not the answers to a
//! client's own frames); counts are over all routes and all clients, so every client sees the
//! same fault. Examples: `drop@30s`, `skip@msg=100,every=500`, `stall@10s:3s`,
//! `slow:10ms,for=5s`, `refuse@5s,every=60s:2s`, `rest429`.

use crate::sim::private::PrivateFault;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The grammar in short, for `obi-scalp sim --help`.
pub const FAULT_HELP: &str = "\
Fault grammar (--fault SPEC, repeatable):
  SPEC     = KIND[@TRIGGER][:ARG]
  TRIGGER  = START[,every=PERIOD] | every=PERIOD
  START    = DURATION (wall time since start: 5s, 1500ms, 1.5s, 2m) | msg=N (after N stream frames)
  PERIOD   = DURATION | N (stream frames)
No trigger: fires at start. One-shot faults act at the first chance at/after the trigger.
Kinds:
  drop                      close every WebSocket connection abruptly (no close frame)
  stall:DURATION            send nothing for DURATION; stream frames due meanwhile are lost
  skip[:N]                  skip the next N stream frames (a sequence gap)
  dup[:N]                   send each of the next N stream frames twice
  reorder                   swap the next two stream frames of one route
  malformed[:N]             send a truncated copy (invalid JSON) before each of the next N frames
  crossed[:N]               send the feed's crossed-book frame
  slow:DELAY[,for=DURATION] delay every outgoing frame by DELAY (for DURATION, default to the end)
  refuse:DURATION|N         close new connections on accept for DURATION, or the next N
  rest429[:DURATION]        answer the next REST request (or all for DURATION) with HTTP 429
  rest500[:DURATION]        same with HTTP 500
  reststale[:DURATION]      same with the first body the server gave for that path
Private API (with --account):
  reject[:N]                refuse the next N places with the venue's own error
  order429[:N]              answer the next N order requests with the venue's rate-limit error
  order500[:N]              answer the next N order requests with the venue's internal error
  timeout[:N]               do not execute the next N order requests and never answer them
  lostack[:N]               execute the next N order requests but never answer them
  dropfill[:N]              leave the next N executions out of the private stream (Bybit,
                            GMO Coin), out of transactions_pagination (Coincheck)
  read429[:N]               answer the next N signed reads with the rate-limit error
  read500[:N]               answer the next N signed reads with the internal error
  skew:DURATION             the venue's clock runs DURATION ahead (time endpoint or Date
                            header, timestamp window)
Examples: drop@30s  skip@msg=100,every=500  stall@10s:3s  slow:10ms,for=5s  refuse@5s:2s  rest429";

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Drop,
    Stall(Duration),
    Skip(u32),
    Dup(u32),
    Reorder,
    Malformed(u32),
    Crossed(u32),
    Slow {
        delay: Duration,
        period: Option<Duration>,
    },
    Refuse(Duration),
    /// Close the next N new connections on accept (`refuse:N`).
    RefuseNext(u32),
    Rest429(Option<Duration>),
    Rest500(Option<Duration>),
    RestStale(Option<Duration>),
    /// The private API (`--account`): see [`crate::sim::private::PrivateFault`].
    Private(crate::sim::private::PrivateFault),
}

impl FaultKind {
    pub const fn name(self) -> &'static str {
        match self {
            FaultKind::Drop => "drop",
            FaultKind::Stall(_) => "stall",
            FaultKind::Skip(_) => "skip",
            FaultKind::Dup(_) => "dup",
            FaultKind::Reorder => "reorder",
            FaultKind::Malformed(_) => "malformed",
            FaultKind::Crossed(_) => "crossed",
            FaultKind::Slow { .. } => "slow",
            FaultKind::Refuse(_) | FaultKind::RefuseNext(_) => "refuse",
            FaultKind::Rest429(_) => "rest429",
            FaultKind::Rest500(_) => "rest500",
            FaultKind::RestStale(_) => "reststale",
            FaultKind::Private(p) => match p {
                crate::sim::private::PrivateFault::Reject(_) => "reject",
                crate::sim::private::PrivateFault::Order429(_) => "order429",
                crate::sim::private::PrivateFault::Order500(_) => "order500",
                crate::sim::private::PrivateFault::Timeout(_) => "timeout",
                crate::sim::private::PrivateFault::LostAck(_) => "lostack",
                crate::sim::private::PrivateFault::DropFill(_) => "dropfill",
                crate::sim::private::PrivateFault::Read429(_) => "read429",
                crate::sim::private::PrivateFault::Read500(_) => "read500",
                crate::sim::private::PrivateFault::Skew(_) => "skew",
            },
        }
    }
}

/// When a fault first fires, or how far apart it repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Wall time since the server started.
    After(Duration),
    /// A number of stream frames produced by the feed.
    Msgs(u64),
}

/// One parsed `--fault` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub start: Trigger,
    pub every: Option<Trigger>,
    /// The text it was parsed from, for logs.
    pub text: String,
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

const KINDS: &str = "drop, stall, skip, dup, reorder, malformed, crossed, slow, refuse, rest429, \
                     rest500, reststale, reject, order429, order500, timeout, lostack, dropfill, \
                     read429, read500, skew";

impl FaultSpec {
    /// Parses `KIND[@TRIGGER][:ARG]`; the error quotes the whole spec and names the bad part.
    pub fn parse(text: &str) -> Result<FaultSpec, String> {
        let bad = |what: String| format!("bad --fault '{text}': {what}");
        let s = text.trim();
        let (head, arg) = match s.split_once(':') {
            Some((h, a)) => (h, Some(a)),
            None => (s, None),
        };
        let (kind_s, trig) = match head.split_once('@') {
            Some((k, t)) => (k, Some(t)),
            None => (head, None),
        };
        let (start, every) = match trig {
            None => (Trigger::After(Duration::ZERO), None),
            Some(t) => parse_trigger(t).map_err(|e| bad(format!("trigger '{t}': {e}")))?,
        };
        let kind = parse_kind(kind_s, arg).map_err(bad)?;
        Ok(FaultSpec {
            kind,
            start,
            every,
            text: s.to_string(),
        })
    }
}

impl FromStr for FaultSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<FaultSpec, String> {
        FaultSpec::parse(s)
    }
}

fn parse_trigger(t: &str) -> Result<(Trigger, Option<Trigger>), String> {
    if t.is_empty() {
        return Err("empty (expected 5s, 1500ms, msg=N or every=PERIOD)".into());
    }
    if let Some(p) = t.strip_prefix("every=") {
        let every = parse_period(p)?;
        return Ok((every, Some(every)));
    }
    let (start_s, every_s) = match t.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (t, None),
    };
    let start = if let Some(n) = start_s.strip_prefix("msg=") {
        Trigger::Msgs(parse_count(n).map_err(|e| format!("msg={n}: {e}"))?)
    } else {
        Trigger::After(parse_duration(start_s)?)
    };
    let every = match every_s {
        None => None,
        Some(e) => {
            let p = e
                .strip_prefix("every=")
                .ok_or_else(|| format!("'{e}' after the comma: expected every=PERIOD"))?;
            Some(parse_period(p)?)
        }
    };
    Ok((start, every))
}

/// `every=` value: a duration, or a count of stream frames (`N` or `msg=N`). Must be non-zero.
fn parse_period(p: &str) -> Result<Trigger, String> {
    let t = if let Some(n) = p.strip_prefix("msg=") {
        Trigger::Msgs(parse_count(n)?)
    } else if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
        Trigger::Msgs(parse_count(p)?)
    } else {
        Trigger::After(parse_duration(p)?)
    };
    match t {
        Trigger::Msgs(0) => Err(format!("every={p}: the period must be above zero")),
        Trigger::After(d) if d.is_zero() => {
            Err(format!("every={p}: the period must be above zero"))
        }
        _ => Ok(t),
    }
}

fn parse_count(n: &str) -> Result<u64, String> {
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{n}' is not a whole number"));
    }
    n.parse::<u64>().map_err(|_| format!("'{n}' is too large"))
}

/// `DIGITS[.DIGITS](ms|s|m)`, exact to the nanosecond, without going through floats.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let expected = || format!("'{s}' is not a duration (expected e.g. 5s, 1500ms, 1.5s, 2m)");
    let (num, unit_ns): (&str, u64) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1_000_000)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1_000_000_000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000_000_000)
    } else {
        return Err(expected());
    };
    let (int_s, frac_s) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if int_s.is_empty() || !digits(int_s) || !digits(frac_s) || num.ends_with('.') {
        return Err(expected());
    }
    let int: u64 = int_s.parse().map_err(|_| expected())?;
    let mut ns = int.checked_mul(unit_ns).ok_or_else(expected)?;
    // Each fractional digit is worth a tenth of the one before; digits below 1 ns are refused.
    let mut place = unit_ns;
    for b in frac_s.bytes() {
        if place % 10 != 0 {
            return Err(format!("'{s}' is finer than a nanosecond"));
        }
        place /= 10;
        ns = ns
            .checked_add(u64::from(b - b'0') * place)
            .ok_or_else(expected)?;
    }
    Ok(Duration::from_nanos(ns))
}

fn parse_kind(kind: &str, arg: Option<&str>) -> Result<FaultKind, String> {
    let no_arg = |k: FaultKind| match arg {
        None => Ok(k),
        Some(a) => Err(format!("{kind} takes no argument (got ':{a}')")),
    };
    let count = |mk: fn(u32) -> FaultKind| -> Result<FaultKind, String> {
        match arg {
            None => Ok(mk(1)),
            Some(a) => match a.parse::<u32>() {
                Ok(n) if n > 0 && a.bytes().all(|b| b.is_ascii_digit()) => Ok(mk(n)),
                _ => Err(format!(
                    "{kind}:{a}: the argument is a count of frames (1 or more)"
                )),
            },
        }
    };
    let need_duration = |mk: fn(Duration) -> FaultKind| -> Result<FaultKind, String> {
        match arg {
            None => Err(format!("{kind} needs a duration argument, e.g. {kind}:3s")),
            Some(a) => {
                let d = parse_duration(a).map_err(|e| format!("{kind}:{a}: {e}"))?;
                if d.is_zero() {
                    return Err(format!("{kind}:{a}: the duration must be above zero"));
                }
                Ok(mk(d))
            }
        }
    };
    let opt_duration = |mk: fn(Option<Duration>) -> FaultKind| -> Result<FaultKind, String> {
        match arg {
            None => Ok(mk(None)),
            Some(a) => {
                let d = parse_duration(a).map_err(|e| format!("{kind}:{a}: {e}"))?;
                if d.is_zero() {
                    return Err(format!("{kind}:{a}: the duration must be above zero"));
                }
                Ok(mk(Some(d)))
            }
        }
    };
    match kind {
        "drop" => no_arg(FaultKind::Drop),
        "reorder" => no_arg(FaultKind::Reorder),
        "stall" => need_duration(FaultKind::Stall),
        // A plain number is a count of connections; anything else a duration.
        "refuse" => match arg {
            Some(a) if !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()) => {
                let n: u32 = a
                    .parse()
                    .map_err(|_| format!("refuse:{a}: expected a count of connections"))?;
                if n == 0 {
                    return Err(format!("refuse:{a}: the count must be above zero"));
                }
                Ok(FaultKind::RefuseNext(n))
            }
            _ => need_duration(FaultKind::Refuse),
        },
        "skip" => count(FaultKind::Skip),
        "dup" => count(FaultKind::Dup),
        "malformed" => count(FaultKind::Malformed),
        "crossed" => count(FaultKind::Crossed),
        "rest429" => opt_duration(FaultKind::Rest429),
        "rest500" => opt_duration(FaultKind::Rest500),
        "reststale" => opt_duration(FaultKind::RestStale),
        "reject" => count(|n| FaultKind::Private(PrivateFault::Reject(n))),
        "order429" => count(|n| FaultKind::Private(PrivateFault::Order429(n))),
        "order500" => count(|n| FaultKind::Private(PrivateFault::Order500(n))),
        "timeout" => count(|n| FaultKind::Private(PrivateFault::Timeout(n))),
        "lostack" => count(|n| FaultKind::Private(PrivateFault::LostAck(n))),
        "dropfill" => count(|n| FaultKind::Private(PrivateFault::DropFill(n))),
        "read429" => count(|n| FaultKind::Private(PrivateFault::Read429(n))),
        "read500" => count(|n| FaultKind::Private(PrivateFault::Read500(n))),
        "skew" => need_duration(|d| FaultKind::Private(PrivateFault::Skew(d))),
        "slow" => {
            let a = arg.ok_or("slow needs a delay argument, e.g. slow:10ms or slow:10ms,for=5s")?;
            let (delay_s, period_s) = match a.split_once(',') {
                Some((d, p)) => (d, Some(p)),
                None => (a, None),
            };
            let delay = parse_duration(delay_s).map_err(|e| format!("slow delay: {e}"))?;
            let period = match period_s {
                None => None,
                Some(p) => {
                    let v = p.strip_prefix("for=").ok_or_else(|| {
                        format!("slow: '{p}' after the comma: expected for=DURATION")
                    })?;
                    Some(parse_duration(v).map_err(|e| format!("slow for=: {e}"))?)
                }
            };
            Ok(FaultKind::Slow { delay, period })
        }
        "" => Err(format!("no fault kind (expected one of {KINDS})")),
        other => Err(format!(
            "unknown fault kind '{other}' (expected one of {KINDS})"
        )),
    }
}

/// Decides when each fault fires. Driven by the server's market thread.
#[derive(Debug)]
pub struct FaultSchedule {
    entries: Vec<(FaultSpec, Option<Trigger>)>,
}

impl FaultSchedule {
    pub fn new(specs: &[FaultSpec]) -> FaultSchedule {
        FaultSchedule {
            entries: specs.iter().map(|s| (s.clone(), Some(s.start))).collect(),
        }
    }

    /// Appends the faults due at `now` (since start) with `msgs` stream frames produced so far.
    /// Each fault fires at most once per call; a repeating one is re-armed one period after
    /// this firing (so a late check does not fire a burst of catch-up faults).
    pub fn due(&mut self, now: Duration, msgs: u64, out: &mut Vec<FaultKind>) {
        for (spec, next) in &mut self.entries {
            let Some(t) = *next else { continue };
            let hit = match t {
                Trigger::After(d) => now >= d,
                Trigger::Msgs(n) => msgs >= n,
            };
            if !hit {
                continue;
            }
            out.push(spec.kind);
            *next = spec.every.map(|p| match p {
                Trigger::After(d) => Trigger::After(now + d),
                Trigger::Msgs(n) => Trigger::Msgs(msgs + n),
            });
        }
    }

    /// True when no fault will fire again.
    pub fn is_done(&self) -> bool {
        self.entries.iter().all(|(_, n)| n.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations_parse_exactly() {
        assert_eq!(parse_duration("5s").unwrap(), ms(5000));
        assert_eq!(parse_duration("1500ms").unwrap(), ms(1500));
        assert_eq!(parse_duration("1.5s").unwrap(), ms(1500));
        assert_eq!(parse_duration("0.001s").unwrap(), ms(1));
        assert_eq!(parse_duration("2m").unwrap(), ms(120_000));
        assert_eq!(parse_duration("0.5ms").unwrap(), Duration::from_micros(500));
        for bad in [
            "5",
            "s",
            "5x",
            "-1s",
            "1.s",
            ".5s",
            "1e3ms",
            "0.0000000001s",
            "5 s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn specs_parse_with_triggers_and_args() {
        let s = FaultSpec::parse("drop@5s").unwrap();
        assert_eq!(
            (s.kind, s.start, s.every),
            (FaultKind::Drop, Trigger::After(ms(5000)), None)
        );
        let s = FaultSpec::parse("skip@msg=100,every=50").unwrap();
        assert_eq!(s.kind, FaultKind::Skip(1));
        assert_eq!(
            (s.start, s.every),
            (Trigger::Msgs(100), Some(Trigger::Msgs(50)))
        );
        let s = FaultSpec::parse("stall@1500ms,every=10s:3s").unwrap();
        assert_eq!(s.kind, FaultKind::Stall(ms(3000)));
        assert_eq!(s.every, Some(Trigger::After(ms(10_000))));
        let s = FaultSpec::parse("refuse@every=1m:2s").unwrap();
        assert_eq!(
            (s.start, s.every),
            (Trigger::After(ms(60_000)), Some(Trigger::After(ms(60_000))))
        );
        assert_eq!(
            FaultSpec::parse("refuse:3").unwrap().kind,
            FaultKind::RefuseNext(3)
        );
        assert_eq!(
            FaultSpec::parse("refuse:3s").unwrap().kind,
            FaultKind::Refuse(ms(3000))
        );
        let s = FaultSpec::parse("slow:10ms,for=5s").unwrap();
        assert_eq!(
            s.kind,
            FaultKind::Slow {
                delay: ms(10),
                period: Some(ms(5000))
            }
        );
        assert_eq!(s.start, Trigger::After(Duration::ZERO));
        assert_eq!(
            FaultSpec::parse("slow:10ms").unwrap().kind,
            FaultKind::Slow {
                delay: ms(10),
                period: None
            }
        );
        assert_eq!(FaultSpec::parse("dup:3").unwrap().kind, FaultKind::Dup(3));
        assert_eq!(
            FaultSpec::parse("rest429").unwrap().kind,
            FaultKind::Rest429(None)
        );
        assert_eq!(
            FaultSpec::parse("rest500:2s").unwrap().kind,
            FaultKind::Rest500(Some(ms(2000)))
        );
        assert_eq!(
            FaultSpec::parse("reststale@msg=5").unwrap().kind,
            FaultKind::RestStale(None)
        );
        assert_eq!(
            FaultSpec::parse("crossed@3s").unwrap().kind,
            FaultKind::Crossed(1)
        );
        assert_eq!(
            FaultSpec::parse("malformed:2").unwrap().kind,
            FaultKind::Malformed(2)
        );
        assert_eq!(
            FaultSpec::parse("reorder@msg=7").unwrap().kind,
            FaultKind::Reorder
        );
    }

    #[test]
    fn errors_name_the_bad_part() {
        let cases = [
            ("explode@5s", "unknown fault kind 'explode'"),
            ("drop@5x", "trigger '5x'"),
            ("drop@msg=ten", "msg=ten"),
            ("stall@5s", "stall needs a duration"),
            ("stall:soon", "stall:soon"),
            ("drop:3s", "drop takes no argument"),
            ("skip:0", "skip:0"),
            ("slow", "slow needs a delay"),
            ("slow:10ms,5s", "expected for=DURATION"),
            ("skip@msg=5,each=5", "expected every=PERIOD"),
            ("skip@every=0", "above zero"),
            ("@5s", "no fault kind"),
            ("refuse:0s", "above zero"),
            ("refuse:0", "count must be above zero"),
        ];
        for (spec, want) in cases {
            let e = FaultSpec::parse(spec).unwrap_err();
            assert!(
                e.contains(want),
                "{spec}: error '{e}' should mention '{want}'"
            );
            assert!(
                e.contains(spec),
                "{spec}: error '{e}' should quote the spec"
            );
        }
    }

    #[test]
    fn schedule_fires_once_or_repeats() {
        let specs = [
            FaultSpec::parse("drop@1s").unwrap(),
            FaultSpec::parse("skip@msg=10,every=5").unwrap(),
            FaultSpec::parse("stall@every=2s:1s").unwrap(),
        ];
        let mut s = FaultSchedule::new(&specs);
        let mut out = Vec::new();
        s.due(ms(999), 9, &mut out);
        assert!(out.is_empty());
        s.due(ms(1000), 10, &mut out);
        assert_eq!(out, vec![FaultKind::Drop, FaultKind::Skip(1)]);
        out.clear();
        s.due(ms(1500), 14, &mut out);
        assert!(out.is_empty());
        s.due(ms(2000), 15, &mut out);
        assert_eq!(out, vec![FaultKind::Skip(1), FaultKind::Stall(ms(1000))]);
        out.clear();
        // A late check fires once and re-arms from now, no catch-up burst.
        s.due(ms(9000), 100, &mut out);
        assert_eq!(out, vec![FaultKind::Skip(1), FaultKind::Stall(ms(1000))]);
        out.clear();
        s.due(ms(10_999), 104, &mut out);
        assert!(out.is_empty());
        assert!(!s.is_done());
        let mut once = FaultSchedule::new(&[FaultSpec::parse("rest429").unwrap()]);
        once.due(Duration::ZERO, 0, &mut out);
        assert_eq!(out, vec![FaultKind::Rest429(None)]);
        assert!(once.is_done());
    }
}
