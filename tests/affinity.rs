//! A configured core the process may not run on is a start-up error naming `pipeline.cores`
//! (exit 2), not a silently unpinned thread: `obi-scalp run` is started under `taskset -c 0`
//! (an affinity mask of core 0 only, as `CPUAffinity=` or a container would give it) with
//! `pipeline.cores = [1]`; core 1 is online on any machine with two cores, but not in the mask.

use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_obi-scalp");

#[test]
fn a_core_outside_the_affinity_mask_is_a_config_error() {
    let require = std::env::var("OBI_REQUIRE_TOOLS").as_deref() == Ok("1");
    let have_taskset = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        have_taskset || !require,
        "taskset (util-linux) is needed (OBI_REQUIRE_TOOLS=1)"
    );
    if !have_taskset {
        eprintln!("SKIP: taskset not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("obi-affinity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("run.toml"),
        "duration_s = 5\n[pipeline]\nlayout = \"1\"\nwait = \"park\"\ncores = [1]\n[ops]\nhttp_addr = \"off\"\n",
    )
    .unwrap();
    let out = Command::new("taskset")
        .args(["-c", "0", BIN, "run", "--config", "run.toml"])
        .current_dir(&dir)
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit 2 (config):\n{err}");
    assert!(
        err.contains("pipeline.cores") && err.contains("core 1"),
        "names the key and the core:\n{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
