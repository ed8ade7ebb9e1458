//! The one place that finds the shared recorded data and decides what a missing input does:
//! integration tests include it with `#[path = "common/shared_data.rs"] mod shared_data;`,
//! benches with `#[path = "../tests/common/shared_data.rs"]`, and the library's unit tests
//! through `crate::testdata` (the same file).
//!
//! - `OBI_SHARED_DATA`: the data folder; default `../shared/data` beside the crate root.
//! - `OBI_REQUIRE_DATA=1` (set by `.ci/run`): a missing data file is a failure (a panic that
//!   names the file and the variable), never a silent pass.
//! - `OBI_REQUIRE_TOOLS=1` (set by `.ci/run`): the same for a missing tool (promtool, rustfmt)
//!   or a machine condition a test cannot run under.
//! - Otherwise the test is skipped (it returns early) and says so on the process's own stderr,
//!   written directly rather than through `eprintln!`: the test harness captures `print!` and
//!   `eprint!` output of passing tests and shows it only for failures, so a skip printed that
//!   way would be invisible in `cargo test`.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

/// Environment variable naming the shared data folder.
pub const DATA_ENV: &str = "OBI_SHARED_DATA";
/// Environment variable that turns a missing data file into a failure.
pub const REQUIRE_DATA_ENV: &str = "OBI_REQUIRE_DATA";
/// Environment variable that turns a missing tool into a failure.
pub const REQUIRE_TOOLS_ENV: &str = "OBI_REQUIRE_TOOLS";

/// The shared data folder: `$OBI_SHARED_DATA`, else `../shared/data` beside the crate root.
pub fn dir() -> PathBuf {
    match std::env::var_os(DATA_ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")),
    }
}

fn switch_on(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Whether a missing data file must fail the test (`OBI_REQUIRE_DATA=1`).
pub fn data_required() -> bool {
    switch_on(REQUIRE_DATA_ENV)
}

/// Whether a missing tool must fail the test (`OBI_REQUIRE_TOOLS=1`).
pub fn tools_required() -> bool {
    switch_on(REQUIRE_TOOLS_ENV)
}

/// The test's name as the harness runs it (its thread name), for the messages.
fn test_name() -> String {
    std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("a test")
        .to_owned()
}

/// Writes `msg` on the process's stderr, bypassing the harness's output capture.
fn visible(msg: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{msg}");
    let _ = e.flush();
}

/// The shared data file `name`, or `None` after a visible skip message; panics with the
/// reason instead when `OBI_REQUIRE_DATA=1`.
pub fn shared_data(name: &str) -> Option<PathBuf> {
    let path = dir().join(name);
    if path.is_file() {
        return Some(path);
    }
    let why = format!(
        "{} not found (the shared data folder is {}; set {DATA_ENV} to point elsewhere)",
        path.display(),
        dir().display()
    );
    if data_required() {
        panic!(
            "{}: recorded data is required ({REQUIRE_DATA_ENV}=1) but {why}",
            test_name()
        );
    }
    visible(&format!("SKIP {}: {why}", test_name()));
    None
}

/// Skips the calling test for want of `what` (a tool or machine condition it needs, `why`
/// says which): a visible skip message, or a panic when `OBI_REQUIRE_TOOLS=1`. The caller
/// returns right after.
pub fn skip_tool(what: &str, why: &str) {
    if tools_required() {
        panic!(
            "{}: {what} is required ({REQUIRE_TOOLS_ENV}=1) but {why}",
            test_name()
        );
    }
    visible(&format!("SKIP {}: {what}: {why}", test_name()));
}

/// The executable `name` on `PATH`, or `None` after [`skip_tool`] (which panics when tools are
/// required).
pub fn tool(name: &str, install_hint: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        skip_tool(name, &format!("not found on PATH ({install_hint})"));
    }
    found
}
