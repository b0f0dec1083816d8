//! `nasr search --strategy darts` as a user runs it, on real data (scikit-learn's digits):
//! alpha moves away from uniform, the derived cell is valid and retrains above chance, a run
//! killed mid-search resumes to the uninterrupted result, and the alphas plot is drawn. Also
//! `nasr train --space darts` on the DARTS paper's own cell.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{nasr, scratch};

fn darts_search(out: &Path, order: &str, retrain_epochs: &str) -> Command {
    let mut command = nasr();
    command.args(["search", "--space", "nb201", "--strategy", "darts"]);
    command.args([
        "--data",
        "sklearn-digits",
        "--epochs",
        "3",
        "--channels",
        "4",
    ]);
    command.args(["--cells", "1", "--batch-size", "32", "--alpha-lr", "0.03"]);
    command.args(["--order", order, "--retrain-epochs", retrain_epochs]);
    command.args(["--seed", "0", "--no-progress", "--out"]);
    command.arg(out);
    command
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn mean_entropy(record: &serde_json::Value) -> f64 {
    let entropy: Vec<f64> = record["entropy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    entropy.iter().sum::<f64>() / entropy.len() as f64
}

#[test]
fn a_first_order_search_moves_alpha_derives_a_valid_cell_and_resumes_after_a_kill() {
    let (whole, killed) = (scratch("darts-whole"), scratch("darts-killed"));
    let output = darts_search(&whole, "1", "4").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("NB201 index"), "{stdout}");

    // Alpha leaves the uniform start (entropy ln 5 = 1.6094) and keeps moving.
    let log = json_lines(&whole.join("alphas.jsonl"));
    assert_eq!(log.len(), 3);
    let entropies: Vec<f64> = log.iter().map(mean_entropy).collect();
    assert!(
        entropies[2] < entropies[0] && entropies[2] < 1.6094 - 0.01,
        "{entropies:?}"
    );

    // The derived cell is a valid NB201 cell, retrained from scratch well above chance (0.1).
    let best: serde_json::Value =
        serde_json::from_slice(&std::fs::read(whole.join("best.json")).unwrap()).unwrap();
    let arch = best["arch"].as_str().unwrap();
    let index = best["index"].as_u64().unwrap() as usize;
    let space = nasr_space::Nb201Space::new();
    assert_eq!(
        space
            .index_of(&nasr_space::Space::parse(&space, arch).unwrap())
            .unwrap(),
        index
    );
    let accuracy = best["retrain_test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.5, "retrained test accuracy {accuracy}");

    // Killed after the first epoch's checkpoint, rerun: the same bytes as the whole run.
    let mut child = darts_search(&killed, "1", "4").spawn().unwrap();
    let progress = killed.join("checkpoints/progress.json");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !progress.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !killed.join("best.json").exists(),
        "the search finished before the kill"
    );
    assert!(darts_search(&killed, "1", "4").status().unwrap().success());
    for file in [
        "alphas.jsonl",
        "best.json",
        "metrics.json",
        "retrain/model.safetensors",
    ] {
        assert!(
            std::fs::read(whole.join(file)).unwrap() == std::fs::read(killed.join(file)).unwrap(),
            "{file} of the resumed search differs from the uninterrupted one"
        );
    }

    // The alphas plot.
    let status = nasr()
        .args(["plot", "alphas"])
        .arg(&whole)
        .status()
        .unwrap();
    assert!(status.success());
    let svg = std::fs::read_to_string(whole.join("alphas.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("skip_connect"));
}

#[test]
fn a_second_order_search_moves_alpha_differently_from_first_order() {
    let (first, second) = (scratch("darts-first"), scratch("darts-second"));
    assert!(darts_search(&first, "1", "0").status().unwrap().success());
    assert!(darts_search(&second, "2", "0").status().unwrap().success());
    let weights =
        |dir: &Path| json_lines(&dir.join("alphas.jsonl")).pop().unwrap()["weights"].clone();
    let (w1, w2) = (weights(&first), weights(&second));
    assert_ne!(w1, w2, "the unrolled gradient changed nothing");
    let last = json_lines(&second.join("alphas.jsonl")).pop().unwrap();
    assert!(mean_entropy(&last) < 1.6094 - 0.01);

    // A second-order search into the first-order folder would mix the two: refused.
    let output = darts_search(&first, "2", "0").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("another config"),
        "{stderr}"
    );
}

#[test]
fn fair_darts_pushes_sigmoid_weights_towards_zero_or_one() {
    let out = scratch("darts-fair");
    let status = darts_search(&out, "1", "0")
        .arg("--fair-darts")
        .status()
        .unwrap();
    assert!(status.success());
    let log = json_lines(&out.join("alphas.jsonl"));
    // Mean distance of the sigmoid weights from 0.5, where every weight starts.
    let spread = |record: &serde_json::Value| {
        let rows = record["weights"].as_array().unwrap();
        let values: Vec<f64> = rows
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
            .collect();
        values.iter().map(|w| (w - 0.5).abs()).sum::<f64>() / values.len() as f64
    };
    let (first, last) = (spread(&log[0]), spread(&log[2]));
    assert!(last > first && last > 0.05, "spread {first} -> {last}");
    let best: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("best.json")).unwrap()).unwrap();
    assert!(best["index"].as_u64().is_some(), "{best}");
}

#[test]
fn the_darts_papers_cell_trains_on_digits_through_the_evaluation_network() {
    // DARTS_V2 (the paper's second-order cell), with auxiliary head, drop-path and cutout.
    let genotype = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";
    let out = scratch("darts-train");
    let output = nasr()
        .args(["train", "--space", "darts", "--arch", genotype])
        .args([
            "--data",
            "sklearn-digits",
            "--epochs",
            "3",
            "--channels",
            "8",
        ])
        .args([
            "--layers",
            "4",
            "--auxiliary-weight",
            "0.4",
            "--drop-path",
            "0.2",
        ])
        .args([
            "--cutout",
            "2",
            "--batch-size",
            "32",
            "--seed",
            "0",
            "--no-progress",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    let accuracy = metrics["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.5, "test accuracy {accuracy}");

    let bad = nasr()
        .args([
            "train",
            "--space",
            "darts",
            "--arch",
            &genotype.replacen("sep_conv_3x3", "sep_conv_4x4", 1),
        ])
        .args(["--data", "sklearn-digits", "--out"])
        .arg(scratch("darts-bad"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && stderr.contains("sep_conv_4x4"),
        "{stderr}"
    );
}
