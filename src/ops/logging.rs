//! Process logging (tracing to stderr), set up once by `main` for every subcommand.
//!
//! - Level and filters: `RUST_LOG` (the usual `tracing` / `env_logger` syntax:
//!   `info`, `warn,obi_scalp::net=debug`); `OBI_SCALP_LOG` is an alias read when `RUST_LOG` is
//!   unset. Default `info`. An unparsable value is reported on stderr and `info` is used.
//! - Colour only when stderr is a terminal: a file, a pipe, the journal and log shippers get
//!   plain text.
//! - Under systemd (`$JOURNAL_STREAM` names stderr's device and inode): each line starts with
//!   the `sd-daemon` priority prefix (`<3>` error, `<4>` warn, `<6>` info, `<7>` debug and
//!   trace), which journald turns into the entry's `PRIORITY=` and strips; no timestamp (the
//!   journal stamps every entry) and no level word (the priority is the level).
//! - `json = true` (`[ops] json_logs`): one JSON object per line (the prefix, under journald,
//!   stays in front of it).
//!
//! Only cold threads log; hot threads count and the cold side reports.

use std::fmt;
use std::io::IsTerminal;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// The log-level variable, and its alias.
pub const LOG_ENV: &str = "RUST_LOG";
pub const LOG_ENV_ALIAS: &str = "OBI_SCALP_LOG";

/// Where stderr goes, as far as the format is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// A terminal: colour and timestamps.
    Terminal,
    /// The systemd journal (`$JOURNAL_STREAM` is stderr): priority prefixes, no timestamps.
    Journal,
    /// A file or a pipe: plain text with timestamps.
    Plain,
}

impl LogTarget {
    /// Looks at stderr and `$JOURNAL_STREAM`.
    pub fn detect() -> LogTarget {
        if let Ok(v) = std::env::var("JOURNAL_STREAM") {
            if journal_stream_is_stderr(&v) {
                return LogTarget::Journal;
            }
        }
        if std::io::stderr().is_terminal() {
            LogTarget::Terminal
        } else {
            LogTarget::Plain
        }
    }
}

/// Whether `$JOURNAL_STREAM` (`DEVICE:INODE`, decimal) is file descriptor 2 (systemd sets it
/// for the service's stdout/stderr; a child whose stderr was redirected must not use it).
pub fn journal_stream_is_stderr(value: &str) -> bool {
    let Some((dev, ino)) = value.split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.trim().parse::<u64>(), ino.trim().parse::<u64>()) else {
        return false;
    };
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    // fstat on a duplicate of fd 2 (a closed stderr is simply not the journal).
    let meta = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata());
    meta.is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

/// The `sd-daemon(3)` priority of a level: `<3>` error ... `<7>` debug.
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// The filter from `RUST_LOG` (else `OBI_SCALP_LOG`, else `info`), and a complaint about an
/// unparsable value.
pub fn filter_from(rust_log: Option<&str>, alias: Option<&str>) -> (EnvFilter, Option<String>) {
    let (name, value) = match (rust_log, alias) {
        (Some(v), _) if !v.trim().is_empty() => (LOG_ENV, v),
        (_, Some(v)) if !v.trim().is_empty() => (LOG_ENV_ALIAS, v),
        _ => return (EnvFilter::new("info"), None),
    };
    match EnvFilter::try_new(value) {
        Ok(f) => (f, None),
        Err(e) => (
            EnvFilter::new("info"),
            Some(format!(
                "obi-scalp: {name}={value:?} is not a log filter ({e}); logging at info"
            )),
        ),
    }
}

/// Puts the `sd-daemon` priority prefix in front of each event's line.
struct JournalPrefix<F>(F);

impl<S, N, F> FormatEvent<S, N> for JournalPrefix<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// Prints the process's last word (`obi-scalp: why`) on stderr; under journald as `<3>`, an
/// error, like the log lines before it.
pub fn print_fatal(msg: &str) {
    if LogTarget::detect() == LogTarget::Journal {
        eprintln!("<3>obi-scalp: {msg}");
    } else {
        eprintln!("obi-scalp: {msg}");
    }
}

/// Installs the process's subscriber (once; later calls do nothing).
pub fn init(json: bool) {
    let rust_log = std::env::var(LOG_ENV).ok();
    let alias = std::env::var(LOG_ENV_ALIAS).ok();
    let (filter, complaint) = filter_from(rust_log.as_deref(), alias.as_deref());
    if let Some(c) = complaint {
        eprintln!("{c}");
    }
    let target = LogTarget::detect();
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(target == LogTarget::Terminal);
    let _ = match (target, json) {
        (LogTarget::Journal, false) => b
            .event_format(JournalPrefix(
                tracing_subscriber::fmt::format()
                    .without_time()
                    .with_level(false)
                    .with_target(false),
            ))
            .try_init(),
        (LogTarget::Journal, true) => b
            .event_format(JournalPrefix(
                tracing_subscriber::fmt::format()
                    .json()
                    .without_time()
                    .with_target(false),
            ))
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .try_init(),
        (_, true) => b.json().try_init(),
        (_, false) => b.try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_follow_sd_daemon() {
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
        assert_eq!(priority(&Level::DEBUG), 7);
        assert_eq!(priority(&Level::TRACE), 7);
    }

    #[test]
    fn rust_log_wins_over_the_alias_and_bad_values_are_reported() {
        let (f, c) = filter_from(Some("warn"), Some("debug"));
        assert_eq!(f.to_string(), "warn");
        assert!(c.is_none());
        let (f, _) = filter_from(None, Some("debug"));
        assert_eq!(f.to_string(), "debug");
        let (f, _) = filter_from(Some(" "), None);
        assert_eq!(f.to_string(), "info");
        let (f, c) = filter_from(Some("info,[[["), None);
        assert_eq!(f.to_string(), "info");
        assert!(c.unwrap().contains("RUST_LOG"));
    }

    #[test]
    fn journal_stream_must_name_stderr() {
        assert!(!journal_stream_is_stderr("garbage"));
        assert!(!journal_stream_is_stderr("1:x"));
        assert!(!journal_stream_is_stderr("0:0"));
    }
}
