//! ProxylessNAS on real data (scikit-learn's 8x8 digits, the proxyless space sized to them): the
//! hardware term steers the derived network to its target, and an interrupted search resumes
//! to the same result. The cost is multiply-adds, which the space counts exactly, so that the
//! test does not depend on timing this machine.

use std::path::{Path, PathBuf};

use nasr_data::DatasetName;
use nasr_methods::proxyless::{ProxylessConfig, ProxylessResult, proxyless_run};
use nasr_methods::run::{DataConfig, RunOptions};
use nasr_search::hardware_loss::{CostKind, CostLoss};
use nasr_space::mobilenet::{MobileNetConfig, MobileNetSpace};
use nasr_space::{SeedStreams, Space};

fn data_dir() -> PathBuf {
    nasr_data::test_data_dir(&["sklearn-digits"])
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nasr-proxyless-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The space the search builds from the digits (8x8x1, 10 classes).
fn digits_space() -> MobileNetSpace {
    MobileNetSpace::new(MobileNetConfig {
        input_size: 8,
        ..MobileNetConfig::proxyless()
    })
    .unwrap()
}

fn config(target: f64) -> ProxylessConfig {
    let mut config = ProxylessConfig {
        data: DataConfig {
            name: DatasetName::Digits,
            validation_fraction: 0.3,
            train_subset: None,
            test_subset: None,
        },
        warmup_epochs: 1,
        cost: CostKind::Flops,
        loss: CostLoss::ADD_LINEAR,
        target: Some(target),
        arch_every: 1,
        recal_batches: 2,
        retrain_epochs: 0,
        ..ProxylessConfig::default()
    };
    config.train.epochs = 2;
    // A few dozen architecture steps instead of thousands: a larger step, a firmer pull.
    config.alpha.lr = 0.05;
    config.loss = CostLoss::AddLinear { lambda: 2.0 };
    config
}

fn run(config: &ProxylessConfig, out: &Path) -> ProxylessResult {
    proxyless_run(config, &data_dir(), out, &RunOptions::default()).unwrap()
}

/// Multiply-adds of random architectures, sorted.
fn random_flops(space: &MobileNetSpace) -> Vec<u64> {
    let mut rng = SeedStreams::new(5).stream("archs");
    let mut flops: Vec<u64> = (0..200)
        .map(|_| space.cost(&space.sample(&mut rng)).flops)
        .collect();
    flops.sort();
    flops
}

/// Both of ProxylessNAS's loss forms only ever penalise cost (dL/dE > 0); the target sets how
/// hard. With a tight target the expected cost falls over the search and the derived network is
/// cheaper than three in four random ones; without a hardware term nothing pulls on cost.
#[test]
fn a_tight_target_pulls_the_expected_and_the_derived_cost_down() {
    let space = digits_space();
    let flops = random_flops(&space);
    let out = scratch("tight");
    let tight = run(&config(flops[20] as f64), &out);
    assert!(
        tight.flops < flops[50],
        "derived {} with {} multiply-adds; a quarter of random ones have fewer than {}",
        tight.arch,
        tight.flops,
        flops[50]
    );
    assert_eq!(
        space.cost(&space.parse(&tight.arch).unwrap()).flops,
        tight.flops
    );
    let expected = expected_by_epoch(&out);
    let uniform = mean(&flops);
    assert!(
        expected[1] < expected[0] && expected[0] < uniform,
        "E[flops] by epoch {expected:?}, about {uniform} under uniform p"
    );

    let free = run(
        &ProxylessConfig {
            target: None,
            ..config(0.0)
        },
        &scratch("free"),
    );
    assert_eq!(free.target, None);
}

/// TuNAS's absolute form pushes the cost up towards a target above it, where ProxylessNAS's
/// forms would still pull it down: E rises over the search, and the derived network costs more
/// than three in four random ones.
#[test]
fn the_absolute_form_pushes_the_cost_up_to_a_target_above_it() {
    let space = digits_space();
    let flops = random_flops(&space);
    let out = scratch("abs");
    let config = ProxylessConfig {
        loss: CostLoss::AddAbs { lambda: 2.0 },
        ..config(flops[195] as f64)
    };
    let high = run(&config, &out);
    assert!(
        high.flops > flops[150],
        "derived {} with {} multiply-adds; a quarter of random ones have more than {}",
        high.arch,
        high.flops,
        flops[150]
    );
    let expected = expected_by_epoch(&out);
    let uniform = mean(&flops);
    assert!(
        expected[1] > expected[0] && expected[0] > uniform,
        "E[flops] by epoch {expected:?}, about {uniform} under uniform p"
    );
}

/// `expected_cost` of each line of the run's `alphas.jsonl` (one per search epoch).
fn expected_by_epoch(out: &Path) -> Vec<f64> {
    std::fs::read_to_string(out.join("alphas.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            record["expected_cost"].as_f64().unwrap()
        })
        .collect()
}

fn mean(values: &[u64]) -> f64 {
    values.iter().sum::<u64>() as f64 / values.len() as f64
}

#[test]
fn an_interrupted_search_resumes_to_the_same_result() {
    let config = config(2e5);
    let out = scratch("resume");
    let whole = run(&config, &out);
    let alphas = std::fs::read_to_string(out.join("alphas.jsonl")).unwrap();
    // As if killed after the first search epoch: its checkpoints stay, the rest is gone.
    for name in ["best.json", "alphas.jsonl", "metrics.json"] {
        std::fs::remove_file(out.join(name)).unwrap();
    }
    let checkpoints = out.join("checkpoints");
    for entry in std::fs::read_dir(&checkpoints).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.contains("002") {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let progress = checkpoints.join("progress.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&progress).unwrap()).unwrap();
    state["completed_epochs"] = 1.into();
    state["history"].as_array_mut().unwrap().truncate(1);
    std::fs::write(&progress, serde_json::to_string(&state).unwrap()).unwrap();

    let resumed = run(&config, &out);
    assert_eq!(resumed, whole);
    assert_eq!(
        std::fs::read_to_string(out.join("alphas.jsonl")).unwrap(),
        alphas
    );
}
