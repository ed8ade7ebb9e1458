//! Process exit codes: the one place they are defined and documented.
//!
//! | code | name                | meaning                                                          |
//! |------|---------------------|------------------------------------------------------------------|
//! | 0    | `ok`                | clean shutdown (signal, end of replay, `--check` passed)         |
//! | 1    | `io`                | an output could not be written (file, directory, recorder)       |
//! | 2    | `config`            | bad command line, config or missing input (names file/key/range) |
//! | 3    | `missing_secret`    | live mode without an API key/secret                              |
//! | 4    | `auth`              | the venue rejected the credentials at the start-up auth check    |
//! | 5    | `venue_unreachable` | the venue could not be reached within the configured time        |
//! | 6    | `bind`              | a listener (ops HTTP, `sim --listen`) could not bind its address |
//! | 7    | `risk_abort`        | the risk stage aborted trading (reason in `run_complete.json`)   |
//! | 8    | `killed`            | the kill switch fired (file, `POST /kill`, or SIGUSR1)           |
//! | 9    | `book_disagrees`    | `verify-book`: a book agreed with the venue below the ratio asked |
//! | 10   | `reconcile_refused` | live start-up: our orders or a position at the venue, `on_start = "refuse"` |
//! | 20   | `drill_auth`        | `drill`: the venue refused the credentials (signed read, private stream) |
//! | 21   | `drill_network`     | `drill`: the venue could not be reached (refused, TLS, no answer, stream dropped) |
//! | 22   | `drill_rate_limit`  | `drill`: rate-limited by the venue, or headroom below the floor |
//! | 23   | `drill_exchange`    | `drill`: the venue answered with its own error, or its clock is too far off |
//! | 70   | `internal`          | a bug: panic in a stage, invariant broken (EX_SOFTWARE)          |
//! | 130  | `forced_sigint`     | a second SIGINT while draining: exit at once (128 + 2)           |
//! | 143  | `forced_sigterm`    | a second SIGTERM while draining: exit at once (128 + 15)         |
//!
//! systemd restarts on failure (`Restart=on-failure`) for any non-zero code except those in the
//! unit's `RestartPreventExitStatus=` (2, 3, 4, 7, 8, 10: restarting cannot fix a bad config,
//! missing or rejected credentials, or an operator's kill; a risk abort and a refused
//! reconciliation need a human).

use std::fmt;

use serde::Serialize;

/// Why the process ended, as a distinct exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    Ok,
    Io,
    Config,
    MissingSecret,
    Auth,
    VenueUnreachable,
    Bind,
    RiskAbort,
    Killed,
    BookDisagrees,
    ReconcileRefused,
    DrillAuth,
    DrillNetwork,
    DrillRateLimit,
    DrillExchange,
    Internal,
    ForcedSigint,
    ForcedSigterm,
}

impl Exit {
    pub const ALL: [Exit; 18] = [
        Exit::Ok,
        Exit::Io,
        Exit::Config,
        Exit::MissingSecret,
        Exit::Auth,
        Exit::VenueUnreachable,
        Exit::Bind,
        Exit::RiskAbort,
        Exit::Killed,
        Exit::BookDisagrees,
        Exit::ReconcileRefused,
        Exit::DrillAuth,
        Exit::DrillNetwork,
        Exit::DrillRateLimit,
        Exit::DrillExchange,
        Exit::Internal,
        Exit::ForcedSigint,
        Exit::ForcedSigterm,
    ];

    /// The numeric exit status.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Io => 1,
            Exit::Config => 2,
            Exit::MissingSecret => 3,
            Exit::Auth => 4,
            Exit::VenueUnreachable => 5,
            Exit::Bind => 6,
            Exit::RiskAbort => 7,
            Exit::Killed => 8,
            Exit::BookDisagrees => 9,
            Exit::ReconcileRefused => 10,
            Exit::DrillAuth => 20,
            Exit::DrillNetwork => 21,
            Exit::DrillRateLimit => 22,
            Exit::DrillExchange => 23,
            Exit::Internal => 70,
            Exit::ForcedSigint => 130,
            Exit::ForcedSigterm => 143,
        }
    }

    /// Short stable name (used in `run_complete.json` and logs).
    pub const fn name(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::Io => "io",
            Exit::Config => "config",
            Exit::MissingSecret => "missing_secret",
            Exit::Auth => "auth",
            Exit::VenueUnreachable => "venue_unreachable",
            Exit::Bind => "bind",
            Exit::RiskAbort => "risk_abort",
            Exit::Killed => "killed",
            Exit::BookDisagrees => "book_disagrees",
            Exit::ReconcileRefused => "reconcile_refused",
            Exit::DrillAuth => "drill_auth",
            Exit::DrillNetwork => "drill_network",
            Exit::DrillRateLimit => "drill_rate_limit",
            Exit::DrillExchange => "drill_exchange",
            Exit::Internal => "internal",
            Exit::ForcedSigint => "forced_sigint",
            Exit::ForcedSigterm => "forced_sigterm",
        }
    }

    /// One-line description for `--help` and the operator's docs.
    pub const fn describe(self) -> &'static str {
        match self {
            Exit::Ok => "clean shutdown",
            Exit::Io => "an output could not be written",
            Exit::Config => "bad command line or config",
            Exit::MissingSecret => "live mode without API credentials",
            Exit::Auth => "venue rejected the credentials",
            Exit::VenueUnreachable => "venue unreachable within the configured time",
            Exit::Bind => "could not bind a listener",
            Exit::RiskAbort => "risk stage aborted trading",
            Exit::Killed => "kill switch fired",
            Exit::BookDisagrees => "verify-book: the book agreed with the venue too rarely",
            Exit::ReconcileRefused => {
                "live start-up found our orders or a position at the venue (on_start = \"refuse\")"
            }
            Exit::DrillAuth => "drill: the venue refused the credentials",
            Exit::DrillNetwork => "drill: the venue could not be reached",
            Exit::DrillRateLimit => "drill: rate-limited, or too little rate-limit headroom",
            Exit::DrillExchange => "drill: the venue answered with an error, or its clock is off",
            Exit::Internal => "internal error (bug)",
            Exit::ForcedSigint => "second SIGINT while shutting down",
            Exit::ForcedSigterm => "second SIGTERM while shutting down",
        }
    }

    /// The exit with this numeric code, if it is one of ours.
    pub fn from_code(code: i32) -> Option<Exit> {
        Exit::ALL.into_iter().find(|e| i32::from(e.code()) == code)
    }

    pub const fn is_success(self) -> bool {
        matches!(self, Exit::Ok)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code(), self.name(), self.describe())
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for e in Exit::ALL {
            assert!(seen.insert(e.code()), "duplicate code {}", e.code());
            assert_eq!(Exit::from_code(i32::from(e.code())), Some(e));
            assert_eq!(e.is_success(), e.code() == 0);
        }
        assert_eq!(Exit::from_code(11), None);
        assert_eq!(Exit::Killed.to_string(), "8 (killed): kill switch fired");
    }

    #[test]
    fn module_doc_table_matches_codes() {
        // The table above is the operator's reference; keep it in step with `code()`.
        let src = include_str!("exit.rs");
        for e in Exit::ALL {
            let row = format!("//! | {:<4} | `{}`", e.code(), e.name());
            assert!(src.contains(&row), "doc table lacks row for {e:?}: {row}");
        }
    }
}
