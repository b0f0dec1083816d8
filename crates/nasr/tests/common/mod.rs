//! Helpers shared by the CLI tests.

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
