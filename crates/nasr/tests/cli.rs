//! The `nasr` binary as a user runs it: help, clear errors, and resume after a hard kill.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{nasr, scratch};

const ARCH: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A small MNIST run: 1,000 training images per epoch, 3 epochs.
fn small_train(out: &Path) -> Command {
    small_train_of(ARCH, out)
}

fn small_train_of(arch: &str, out: &Path) -> Command {
    let mut command = nasr();
    command.args([
        "train", "--space", "nb201", "--arch", arch, "--data", "mnist", "--epochs", "3",
    ]);
    command.args([
        "--channels",
        "4",
        "--cells",
        "1",
        "--batch-size",
        "32",
        "--seed",
        "3",
    ]);
    command.args([
        "--train-subset",
        "1100",
        "--test-subset",
        "500",
        "--no-progress",
        "--out",
    ]);
    command.arg(out);
    command
}

#[test]
fn help_describes_every_train_flag() {
    let output = nasr().args(["train", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--arch",
        "--data",
        "--epochs",
        "--channels",
        "--cells",
        "--layers",
        "--batch-size",
        "--seed",
        "--out",
        "--config",
        "--data-dir",
    ] {
        assert!(text.contains(flag), "train --help lacks {flag}:\n{text}");
    }
    let output = nasr().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    for command in ["train", "data", "demo", "bench"] {
        assert!(text.contains(command), "--help lacks {command}");
    }
}

#[test]
fn a_misspelt_op_is_named_and_nothing_panics() {
    let out = scratch("bad-arch");
    let arch = ARCH.replace("skip_connect", "skip");
    let output = nasr()
        .args(["train", "--arch", &arch, "--data", "mnist", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("unknown op \"skip\"") && message.contains("skip~0"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn missing_data_says_how_to_fetch_it() {
    let out = scratch("no-data");
    let empty = scratch("empty-data");
    let output = nasr()
        .args([
            "train",
            "--arch",
            ARCH,
            "--data",
            "fashion-mnist",
            "--data-dir",
        ])
        .arg(&empty)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("nasr data fetch fashion-mnist"),
        "{message}"
    );
}

#[test]
fn config_file_is_read_and_flags_override_it() {
    let out = scratch("config");
    std::fs::create_dir_all(&out).unwrap();
    let config = out.join("in.toml");
    std::fs::write(
        &config,
        format!("seed = 5\narch = \"{ARCH}\"\n[data]\nname = \"mnist\"\nvalidation_fraction = 0.5\n[train]\nepochs = 9\n"),
    )
    .unwrap();
    // epochs 0 from the flag overrides the file's 9 and is rejected, naming the field.
    let output = nasr()
        .args(["train", "--epochs", "0", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(out.join("run"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("epochs must be at least 1"),
        "{}",
        stderr(&output)
    );
    let resolved = std::fs::read_to_string(out.join("run/config.toml")).unwrap_or_default();
    assert!(
        resolved.is_empty(),
        "an invalid config must not write a run folder"
    );
    std::fs::write(&config, "seed = 5\nunknown_key = 1\n").unwrap();
    let output = nasr()
        .args(["train", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(out.join("run"))
        .output()
        .unwrap();
    assert!(
        stderr(&output).contains("unknown_key"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_run_killed_mid_training_resumes_to_the_uninterrupted_result() {
    let (whole, killed) = (scratch("whole"), scratch("killed"));
    let status = small_train(&whole).status().unwrap();
    assert!(status.success());

    let mut child = small_train(&killed).spawn().unwrap();
    let progress = killed.join("checkpoints/progress.json");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !progress.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up.
    child.wait().unwrap();
    let text =
        std::fs::read_to_string(&progress).expect("a checkpoint was written before the kill");
    assert!(
        !text.contains("\"completed_epochs\": 3"),
        "the run finished before the kill: nothing was resumed"
    );
    assert!(!killed.join("metrics.json").exists());

    let status = small_train(&killed).status().unwrap();
    assert!(status.success());
    for file in ["metrics.json", "model.safetensors"] {
        assert!(
            std::fs::read(whole.join(file)).unwrap() == std::fs::read(killed.join(file)).unwrap(),
            "{file} of the resumed run differs from the uninterrupted run"
        );
    }

    // Another architecture into the same folder would resume these weights as its own: refused,
    // and the finished run is left as it was.
    let metrics = std::fs::read(whole.join("metrics.json")).unwrap();
    let other = ARCH.replacen("nor_conv_3x3", "nor_conv_1x1", 1);
    let output = small_train_of(&other, &whole).output().unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("another config"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read(whole.join("metrics.json")).unwrap(), metrics);
}

/// A build without the `gpu` feature refuses `--device gpu` with the feature's name, before
/// doing any work; `--device cpu` is the default and always accepted.
#[cfg(not(feature = "gpu"))]
#[test]
fn a_device_this_build_lacks_is_refused_by_its_feature() {
    let output = nasr()
        .args(["--device", "gpu", "bench", "infer", "--steps", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("`gpu` feature") && !stderr.contains("panicked"),
        "{stderr}"
    );
    let output = nasr()
        .args([
            "bench",
            "infer",
            "--device",
            "cpu",
            "--channels",
            "4",
            "--cells",
            "1",
            "--steps",
            "1",
            "--warmup",
            "0",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `nasr latency measure` writes a table that `nasr latency check` reads and scores; a table
/// with an entry taken out is refused, naming the entry.
#[test]
fn a_latency_table_is_measured_checked_and_a_missing_entry_named() {
    let dir = scratch("latency");
    std::fs::create_dir_all(&dir).unwrap();
    let table = dir.join("table.json");
    let measure = nasr()
        .args(["latency", "measure", "--repeats", "3", "--warmup", "1"])
        .args(["--fit-archs", "2", "--out"])
        .arg(&table)
        .output()
        .unwrap();
    assert!(measure.status.success(), "{}", stderr(&measure));
    let check = nasr()
        .args(["latency", "check", "--archs", "4"])
        .args(["--repeats", "3", "--warmup", "1"])
        .arg(&table)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        report.contains("4 architectures") && report.contains("Kendall tau"),
        "{report}"
    );
    // Take out one block's entry: every architecture that uses it can no longer be predicted.
    let text = std::fs::read_to_string(&table).unwrap();
    let key = "expanded_conv-input:28x28x8-output:28x28x8-expand:3-kernel:3-stride:1-idskip:1";
    assert!(text.contains(key), "{text}");
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["entries"].as_object_mut().unwrap().remove(key);
    std::fs::write(&table, value.to_string()).unwrap();
    let check = nasr()
        .args(["latency", "check", "--archs", "30"])
        .args(["--repeats", "1", "--warmup", "0"])
        .arg(&table)
        .output()
        .unwrap();
    assert!(!check.status.success());
    assert!(stderr(&check).contains(key), "{}", stderr(&check));
    assert!(!stderr(&check).contains("panicked"), "{}", stderr(&check));
}
