//! `nasr search` and `nasr bench nb201` as a user runs them: a search killed with SIGKILL and
//! rerun equals an uninterrupted one; the same seed prints the same bytes.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{nasr, scratch};

fn search(out: &Path) -> Command {
    let mut command = nasr();
    command.args([
        "search",
        "--space",
        "nb201",
        "--strategy",
        "rea",
        "--evaluator",
        "nb201",
    ]);
    command.args(["--queries", "1500", "--seed", "4", "--no-progress", "--out"]);
    command.arg(out);
    command
}

/// Trials recorded in the store so far (0 before it exists).
fn recorded(out: &Path) -> usize {
    let Ok(store) = nasr_search::store::SqliteStore::open(&out.join("experiment.sqlite")) else {
        return 0;
    };
    nasr_search::store::Store::trials(&store).map_or(0, |t| t.len())
}

#[test]
fn a_search_killed_at_any_point_resumes_to_the_uninterrupted_result() {
    let (whole, killed) = (scratch("whole"), scratch("killed"));
    assert!(search(&whole).status().unwrap().success());

    let mut child = search(&killed).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !killed.join("experiment.sqlite").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = recorded(&killed);
    assert!(
        before > 0 && before < 1500,
        "kill landed outside the search ({before} trials)"
    );
    assert!(!killed.join("best.json").exists());

    assert!(search(&killed).status().unwrap().success());
    for file in ["trials.jsonl", "best.json"] {
        assert!(
            std::fs::read(whole.join(file)).unwrap() == std::fs::read(killed.join(file)).unwrap(),
            "{file} of the resumed search differs from the uninterrupted one"
        );
    }
    let lines = std::fs::read_to_string(killed.join("trials.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 1500);
}

#[test]
fn a_folder_of_another_search_is_refused() {
    let out = scratch("other");
    assert!(
        nasr()
            .args(["search", "--queries", "20", "--no-progress", "--out"])
            .arg(&out)
            .status()
            .unwrap()
            .success()
    );
    let output = nasr()
        .args([
            "search",
            "--queries",
            "20",
            "--seed",
            "1",
            "--no-progress",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("another config"));
}

#[test]
fn bench_json_is_the_same_for_the_same_seed_and_names_its_fields() {
    let run = || {
        let output = nasr()
            .args([
                "bench",
                "nb201",
                "--strategy",
                "rs,rea",
                "--queries",
                "50",
                "--runs",
                "20",
                "--seed",
                "3",
                "--json",
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    let first = run();
    assert_eq!(first, run());
    let text = String::from_utf8(first).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for key in [
        "strategy",
        "runs",
        "queries",
        "mean_test_accuracy",
        "std_test_accuracy",
        "mean_regret",
    ] {
        assert!(lines[0].get(key).is_some(), "missing {key} in {}", lines[0]);
    }
    assert!(
        lines[1]["mean_test_accuracy"].as_f64().unwrap() > 90.0,
        "accuracies are in percent"
    );
}

#[test]
fn bench_draws_a_plot_and_rejects_an_unknown_device() {
    let out = scratch("plot");
    std::fs::create_dir_all(&out).unwrap();
    let plot = out.join("curve.svg");
    let status = nasr()
        .args([
            "bench",
            "nb201",
            "--strategy",
            "rs,reinforce",
            "--queries",
            "30",
            "--runs",
            "10",
            "--plot",
        ])
        .arg(&plot)
        .status()
        .unwrap();
    assert!(status.success());
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.contains("<svg") && svg.contains("reinforce"));
    let output = nasr()
        .args([
            "bench",
            "nb201",
            "--objective-device",
            "pixel9",
            "--max-latency",
            "5",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown device \"pixel9\""));
}

#[test]
fn compare_prints_the_same_table_twice_for_the_same_seeds() {
    let run = |name: &str| {
        let out = scratch(name);
        let output = nasr()
            .args([
                "compare",
                "--methods",
                "rs,rsws,asha",
                "--seeds",
                "2",
                "--data",
                "sklearn-digits",
            ])
            .args([
                "--budget-epochs",
                "4",
                "--trial-epochs",
                "2",
                "--final-epochs",
                "1",
                "--candidates",
                "5",
            ])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(out.join("compare.json").exists() && out.join("compare.md").exists());
        // Every final run records its config, version and data checksums.
        let metrics = std::fs::read_to_string(out.join("rsws/seed-1/final/metrics.json")).unwrap();
        assert!(metrics.contains("data_sha256") && metrics.contains("nasr_version"));
        String::from_utf8(output.stdout).unwrap()
    };
    let first = run("compare-a");
    assert_eq!(first, run("compare-b").replace("compare-b", "compare-a"));
    for method in ["| rs |", "| rsws |", "| asha |"] {
        assert!(first.contains(method), "{first}");
    }
}
