//! Once-for-All's progressive shrinking on real data (scikit-learn's 8x8 digits, the ofa space
//! at resolutions 6 and 8): after the phases, the smallest and the largest sub-network both
//! classify without retraining, and a run whose last phase was lost resumes to the same result;
//! a sub-network cut out of it scores as it did inside, and `nasr train` fine-tunes it.

use std::path::PathBuf;

use nasr_data::DatasetName;
use nasr_methods::ofa::{
    ProgressiveShrinkingConfig, extract_subnet, ofa_phases, progressive_shrinking_run,
};
use nasr_methods::run::{DataConfig, RunOptions, TrainRunConfig, train_run};
use nasr_space::ofa::OfaConfig;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nasr-ofa-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn config() -> ProgressiveShrinkingConfig {
    let space = OfaConfig {
        resolutions: vec![6, 8],
        ..OfaConfig::default()
    };
    let mut phases = ofa_phases(&space);
    for phase in &mut phases {
        phase.epochs = if phase.name == "full" { 4 } else { 1 };
        // A few dozen steps per phase instead of thousands: OFA's later rates barely move.
        phase.lr = phase.lr.max(0.02);
    }
    ProgressiveShrinkingConfig {
        data: DataConfig {
            name: DatasetName::Digits,
            validation_fraction: 0.3,
            train_subset: None,
            test_subset: None,
        },
        space: nasr_methods::space::SpaceConfig::Ofa(space),
        phases,
        recal_batches: 4,
        ..ProgressiveShrinkingConfig::default()
    }
}

#[test]
fn progressive_shrinking_trains_sub_networks_that_classify_without_retraining_and_resumes() {
    let data = nasr_data::test_data_dir(&["sklearn-digits"]);
    let out = scratch("run");
    let config = config();
    let result = progressive_shrinking_run(&config, &data, &out, &RunOptions::default()).unwrap();
    assert!(
        result.smallest.flops < result.largest.flops / 4,
        "{result:?}"
    );
    for subnet in [&result.smallest, &result.largest] {
        assert!(
            subnet.valid_accuracy > 0.6,
            "{} scores {} (chance 0.1)",
            subnet.arch,
            subnet.valid_accuracy
        );
    }
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics.as_array().unwrap().len(), 6);

    // As if killed during the last phase: its checkpoints and the results are gone.
    let ofa_json = std::fs::read_to_string(out.join("ofa.json")).unwrap();
    std::fs::remove_dir_all(out.join("phases").join("expand-2")).unwrap();
    std::fs::remove_file(out.join("ofa.json")).unwrap();
    progressive_shrinking_run(&config, &data, &out, &RunOptions::default()).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("ofa.json")).unwrap(),
        ofa_json
    );

    extract_and_fine_tune(&out, &result.smallest);
    predict_and_specialize(&out, &result);
}

/// The predictor fits on measured sub-networks; specialisation stays within its budget, its
/// best predicted accuracy never falls, and a budget below the smallest sub-network is refused
/// with the smallest cost named.
fn predict_and_specialize(run: &std::path::Path, result: &nasr_methods::ofa::OfaResult) {
    use nasr_methods::ofa::TrainedSupernet;
    use nasr_methods::ofa::predictor::{PredictorRunConfig, fit_predictor};
    use nasr_methods::ofa::specialize::{Budget, specialize};
    use nasr_search::constrained_evolution::EvolutionConfig;
    let data = nasr_data::test_data_dir(&["sklearn-digits"]);
    let options = RunOptions::default();
    let trained = TrainedSupernet::load(run, &data, &options).unwrap();
    let config = PredictorRunConfig {
        per_resolution: 10,
        predictor: nasr_search::predictor::PredictorConfig {
            hidden: vec![32, 32],
            epochs: 100,
            ..Default::default()
        },
        ..PredictorRunConfig::default()
    };
    let quality = fit_predictor(&trained, &config, &options).unwrap();
    assert_eq!((quality.train_pairs, quality.held_out_pairs), (16, 4));
    assert!(
        quality.rmse_points.is_finite() && quality.rmse_points < 30.0,
        "{quality:?}"
    );
    // Fitting again reads the measured pairs back: the same predictor, no new measurement.
    let again = fit_predictor(&trained, &config, &options).unwrap();
    assert_eq!(
        (again.rmse_points, again.kendall_tau),
        (quality.rmse_points, quality.kendall_tau)
    );
    let pairs = std::fs::read_to_string(run.join("predictor").join("pairs.jsonl")).unwrap();
    assert_eq!(pairs.lines().count(), 20);

    let budget = Budget {
        max_flops: Some((result.smallest.flops + result.largest.flops) / 3),
        max_params: None,
    };
    let evolution = EvolutionConfig {
        generations: 30,
        ..EvolutionConfig::default()
    };
    let found = specialize(&trained, budget, None, &evolution, &options).unwrap();
    assert!(found.flops <= budget.max_flops.unwrap(), "{found:?}");
    assert!(found.best_per_generation.windows(2).all(|w| w[1] >= w[0]));
    assert!(found.valid_accuracy > 0.5, "{found:?}");
    // A latency bound: a model (here a millisecond per million multiply-adds) and its limit.
    let model = |arch: &nasr_space::Arch| trained.space.cost(arch).flops as f64 / 1e6;
    let max_ms = (result.smallest.flops + result.largest.flops) as f64 / 4e6;
    let bound = nasr_methods::ofa::specialize::LatencyBound {
        model: &model,
        max_ms,
    };
    let fast = specialize(
        &trained,
        Budget::default(),
        Some(&bound),
        &evolution,
        &options,
    )
    .unwrap();
    assert!(fast.latency_ms.unwrap() <= max_ms, "{fast:?}");
    let err = specialize(
        &trained,
        Budget {
            max_flops: Some(1000),
            max_params: None,
        },
        None,
        &evolution,
        &options,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("budget is met by no sub-network: the smallest costs"),
        "{err}"
    );
}

/// The smallest sub-network cut out of the run: the same validation accuracy as inside the
/// supernet; one epoch of fine-tuning from its weights beats one epoch from scratch.
fn extract_and_fine_tune(run: &std::path::Path, smallest: &nasr_methods::ofa::ScoredSubnet) {
    let data = nasr_data::test_data_dir(&["sklearn-digits"]);
    let options = RunOptions::default();
    let cut = scratch("cut");
    let extracted = extract_subnet(run, &smallest.arch, &data, &cut, &options).unwrap();
    assert_eq!(extracted.valid_accuracy, smallest.valid_accuracy);
    assert_eq!(extracted.flops, smallest.flops);
    let text = std::fs::read_to_string(cut.join("config.toml")).unwrap();
    let mut config: TrainRunConfig = toml::from_str(&text).unwrap();
    config.train.epochs = 1;
    let scratch_run = train_run(&config, &data, &scratch("from-scratch"), &options).unwrap();
    config.init_from = Some(cut.clone());
    let tuned = train_run(&config, &data, &scratch("fine-tuned"), &options).unwrap();
    let (from_scratch, fine_tuned) = (
        scratch_run.epochs[0].valid_accuracy,
        tuned.epochs[0].valid_accuracy,
    );
    assert!(
        fine_tuned > from_scratch + 0.1 && fine_tuned > 0.6,
        "fine-tuned {fine_tuned}, from scratch {from_scratch}"
    );
}
