//! FTT-NAS end to end on real data (scikit-learn's digits): the fault-tolerantly trained
//! supernet learns, every trial's reward is its clean and faulty accuracy mixed by alpha and
//! the faults cost accuracy, the pick is retrained and tested under faults, a rerun resumes to
//! the same result, and both spaces and the strategy options run.

use std::path::{Path, PathBuf};

use nasr_data::DatasetName;
use nasr_methods::ftt::{FttConfig, FttResult, FttRetrain, ftt_run};
use nasr_methods::run::{DataConfig, RunOptions};
use nasr_methods::space::{NetworkSize, SpaceConfig};
use nasr_nn::faults::FaultFamily;
use nasr_nn::nets::darts::DartsNetConfig;
use nasr_nn::train::TrainConfig;
use nasr_search::registry::StrategyName;

fn folder(name: &str) -> PathBuf {
    let out = std::env::temp_dir().join(format!("nasr-ftt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    out
}

fn config() -> FttConfig {
    FttConfig {
        data: DataConfig {
            name: DatasetName::Digits,
            validation_fraction: 0.2,
            ..DataConfig::default()
        },
        space: SpaceConfig::Nb201(NetworkSize {
            channels: 8,
            cells: 1,
        }),
        train: TrainConfig {
            epochs: 4,
            batch_size: 32,
            eval_batch_size: 256,
            ..TrainConfig::default()
        },
        trials: 10,
        retrain: Some(FttRetrain {
            train: TrainConfig {
                epochs: 3,
                batch_size: 32,
                eval_batch_size: 256,
                ..TrainConfig::default()
            },
            ..FttRetrain::default()
        }),
        ..FttConfig::default()
    }
}

fn trials(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("trials.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn run(config: &FttConfig, out: &Path) -> FttResult {
    let data_dir = nasr_data::test_data_dir(&["sklearn-digits"]);
    ftt_run(config, &data_dir, out, &RunOptions::default()).unwrap()
}

#[test]
fn ftt_nas_learns_rewards_clean_and_faulty_accuracy_and_resumes() {
    let out = folder("nb201");
    let config = config();
    let result = run(&config, &out);
    // The supernet learned under faults: its last validation path is far above chance (0.1).
    let last = result.epochs.last().unwrap();
    assert!(last.valid_accuracy > 0.3, "{:?}", result.epochs);
    let trials = trials(&out);
    assert_eq!(trials.len(), 10);
    let alpha = config.alpha();
    assert_eq!(alpha, 0.5);
    let (mut clean_sum, mut faulty_sum) = (0.0, 0.0);
    for trial in &trials {
        let m = &trial["metrics"];
        let (clean, faulty) = (
            m["accuracy_clean"].as_f64().unwrap(),
            m["accuracy_faulty"].as_f64().unwrap(),
        );
        let reward = m["accuracy"].as_f64().unwrap();
        assert!((reward - ((1.0 - alpha) * clean + alpha * faulty)).abs() < 1e-12);
        clean_sum += clean;
        faulty_sum += faulty;
    }
    // MiBB at 2% of every convolution's outputs costs the supernet's paths accuracy.
    assert!(faulty_sum < clean_sum, "{faulty_sum} vs {clean_sum}");
    let best_reward = trials
        .iter()
        .map(|t| t["metrics"]["accuracy"].as_f64().unwrap())
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(result.best.reward, best_reward);
    // The pick, retrained fault-tolerantly, classifies digits clean and under the faults.
    let retrained = result.retrained.as_ref().unwrap();
    assert!(retrained.test_accuracy > 0.5, "{retrained:?}");
    assert_eq!(retrained.test_accuracy_faulty.draws.len(), 5);
    assert!(retrained.test_accuracy_faulty.mean > 0.3, "{retrained:?}");
    assert!(out.join("retrain/model.safetensors").exists());
    // A rerun into the folder resumes every part (the supernet's epochs from its
    // checkpoints, the trials from the store: none is asked again) and gives the same result.
    assert_eq!(run(&config, &out), result);
    assert_eq!(self::trials(&out), trials);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn ftt_nas_searches_the_darts_space_with_rea_under_weight_faults() {
    let out = folder("darts");
    let config = FttConfig {
        space: SpaceConfig::Darts(DartsNetConfig {
            channels: 4,
            layers: 3,
            ..DartsNetConfig::default()
        }),
        strategy: StrategyName::Rea,
        trials: 4,
        retrain: None,
        fault: nasr_nn::train::fault_tolerant::FaultTolerance {
            model: FaultFamily::Adsaf.at(0.1),
            gamma: 0.5,
        },
        ..config()
    };
    assert_eq!(config.alpha(), 0.2);
    let result = run(&config, &out);
    assert_eq!(trials(&out).len(), 4);
    assert!(result.best.arch.starts_with("Genotype(normal=["));
    assert!(result.retrained.is_none());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_config_ftt_cannot_run_is_refused_naming_the_field() {
    let data_dir = nasr_data::test_data_dir(&["sklearn-digits"]);
    let refused = |config: FttConfig| {
        let out = folder("refused");
        let error = ftt_run(&config, &data_dir, &out, &RunOptions::default())
            .unwrap_err()
            .to_string();
        assert!(!out.exists(), "nothing is written for a refused config");
        error
    };
    let mut faultless = config();
    faultless.fault.model = Default::default();
    assert!(refused(faultless).contains("fault has no fault model"));
    let table_strategy = FttConfig {
        strategy: StrategyName::Nsga2,
        ..config()
    };
    assert!(refused(table_strategy).contains("must be reinforce, rea or rs; got nsga2"));
    let mobilenet = FttConfig {
        space: SpaceConfig::default_of(nasr_methods::space::SpaceName::Mobilenet),
        ..config()
    };
    assert!(refused(mobilenet).contains("ftt runs on [space.nb201] or [space.darts]"));
}
