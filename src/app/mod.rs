//! The commands behind `obi-scalp`'s subcommands.

pub mod backup;
pub mod bench;
pub mod book;
pub mod check;
pub mod drill;
pub mod journal;
pub mod live;
pub mod record;
pub mod replay;
pub mod report;
pub mod run;
pub mod session;
pub mod sweep;
pub mod verify;

use std::fmt;

/// A command's failure: the process exit code and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    pub code: u8,
    pub msg: String,
}

impl AppError {
    /// Bad input: a missing file, an invalid config, a wrong flag (exit code 2).
    pub fn usage(msg: impl Into<String>) -> AppError {
        AppError::exit(crate::ops::Exit::Config, msg)
    }

    /// A failure with its code from the one exit-code table ([`crate::ops::Exit`]).
    pub fn exit(e: crate::ops::Exit, msg: impl Into<String>) -> AppError {
        AppError {
            code: e.code(),
            msg: msg.into(),
        }
    }

    /// A failure with a raw code; prefer [`AppError::exit`] (the code must be in the table).
    pub fn with_code(code: u8, msg: impl Into<String>) -> AppError {
        AppError {
            code,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl From<crate::config::ConfigError> for AppError {
    fn from(e: crate::config::ConfigError) -> Self {
        AppError::usage(format!("config error: {e}"))
    }
}
