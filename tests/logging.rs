//! Log output as users see it: `RUST_LOG` sets the level, no ANSI colour off a terminal, and
//! under systemd (`$JOURNAL_STREAM` naming stderr) every line carries its `sd-daemon` priority
//! prefix, WARN as `<4>`.
//!
//! The run: `obi-scalp run` on the built-in market with the kill file already present, so it
//! logs its start-up at INFO and the kill switch at WARN, then exits 8. Stderr goes to a file
//! whose device and inode the test puts in `$JOURNAL_STREAM`, as systemd does for a unit.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_obi-scalp");

fn workdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("obi-logging-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("var")).unwrap();
    std::fs::write(d.join("var/KILL"), b"").unwrap();
    std::fs::write(
        d.join("run.toml"),
        "duration_s = 60\n[pipeline]\nwait = \"park\"\n[ops]\nhttp_addr = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    d
}

/// Runs with `env`; returns the exit code and stderr. `journal`: set `$JOURNAL_STREAM` to the
/// stderr file.
fn run(dir: &Path, env: &[(&str, &str)], journal: bool) -> (i32, String) {
    let err_path = dir.join("stderr.log");
    let err = std::fs::File::create(&err_path).unwrap();
    let m = err.metadata().unwrap();
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .args(["run", "--config", "run.toml"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err);
    for k in [
        "RUST_LOG",
        "OBI_SCALP_LOG",
        "JOURNAL_STREAM",
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "CREDENTIALS_DIRECTORY",
    ] {
        c.env_remove(k);
    }
    if journal {
        c.env("JOURNAL_STREAM", format!("{}:{}", m.dev(), m.ino()));
    }
    c.envs(env.iter().copied());
    let st = c.status().unwrap();
    (
        st.code().unwrap_or(-1),
        std::fs::read_to_string(err_path).unwrap(),
    )
}

#[test]
fn journal_lines_carry_priorities_and_no_colour() {
    let dir = workdir("journal");
    let (code, err) = run(&dir, &[("RUST_LOG", "info")], true);
    assert_eq!(code, 8, "kill file present: exit 8\n{err}");
    assert!(!err.contains('\x1b'), "no ANSI codes:\n{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(
            ["<3>", "<4>", "<6>", "<7>"]
                .iter()
                .any(|p| l.starts_with(p)),
            "every line has its priority: {l:?}"
        );
    }
    assert!(
        !lines
            .iter()
            .any(|l| l[3..].trim_start().starts_with("WARN")
                || l[3..].trim_start().starts_with("INFO")),
        "the priority is the level: no level word after it:\n{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<4>") && l.contains("kill switch")),
        "the kill switch warning is PRIORITY=4:\n{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<6>") && l.contains("ready")),
        "start-up at PRIORITY=6:\n{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rust_log_sets_the_level_and_a_file_gets_plain_text() {
    let dir = workdir("plain");
    let (code, err) = run(&dir, &[("RUST_LOG", "warn")], false);
    assert_eq!(code, 8, "{err}");
    assert!(!err.contains('\x1b'), "no ANSI codes in a file:\n{err}");
    assert!(!err.contains("<4>"), "no journal prefixes off the journal");
    assert!(err.contains("WARN") && err.contains("kill switch"), "{err}");
    assert!(!err.contains(" INFO "), "RUST_LOG=warn hides INFO:\n{err}");

    // The alias, when RUST_LOG is unset.
    let (_, err) = run(&dir, &[("OBI_SCALP_LOG", "warn")], false);
    assert!(!err.contains(" INFO ") && err.contains("WARN"), "{err}");
    // RUST_LOG wins over the alias.
    let (_, err) = run(
        &dir,
        &[("OBI_SCALP_LOG", "warn"), ("RUST_LOG", "info")],
        false,
    );
    assert!(err.contains(" INFO "), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
