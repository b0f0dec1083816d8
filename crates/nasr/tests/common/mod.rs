//! Helpers shared by the CLI tests.
//!
//! Each test binary includes this module and uses some of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The `nasr` binary with `NASR_DATA` passed through.
pub fn nasr() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nasr"));
    command.env(
        "NASR_DATA",
        nasr_data::test_data_dir(&["mnist", "sklearn-digits", "nas-bench-201"]),
    );
    command
}

/// A path for a fresh scratch folder (removed if it exists, not created).
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nasr-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `nasr ARGS`' standard output; fails the test, showing its stderr, where it fails.
pub fn succeed(args: &[&str]) -> String {
    let output = nasr().args(args).output().unwrap();
    assert!(
        output.status.success(),
        "nasr {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `nasr ARGS`' standard error; fails the test where it succeeds.
pub fn fail(args: &[&str]) -> String {
    let output = nasr().args(args).output().unwrap();
    assert!(
        !output.status.success(),
        "nasr {} succeeded",
        args.join(" ")
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}
