//! FairNAS: the strictly fair step's gradient is the sum of its m single-path gradients, and a
//! fairly trained supernet learns.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Int, Tensor, TensorData};
use nasr_methods::path_steps::strict_fair_step;
use nasr_nn::nets::nb201::Nb201NetworkConfig;
use nasr_nn::nets::nb201::Nb201Supernet;
use nasr_nn::params::named_param_ids;
use nasr_nn::train::{TrainConfig, TrainData, Trainer};
use nasr_search::fair::StrictFairSampler;
use nasr_space::{Nb201Space, SeedStreams};

fn config() -> Nb201NetworkConfig {
    Nb201NetworkConfig {
        channels: 4,
        cells: 1,
        in_channels: 1,
        classes: 10,
    }
}

#[test]
fn the_fair_step_gradient_is_the_sum_of_the_single_path_gradients() {
    let device = nasr_nn::Compute::Cpu.train_device();
    let net = nasr_nn::init::seeded(&mut SeedStreams::new(0).stream("init"), || {
        Nb201Supernet::new(&config(), &device)
    })
    .unwrap()
    .train();
    let sampler = StrictFairSampler::new(&Nb201Space::new()).unwrap();
    let archs = sampler.sample(&mut SeedStreams::new(1).stream("fair"));
    let images = nasr_nn::init::normal_tensor(
        [6, 1, 10, 10],
        &mut nasr_space::SeedStreams::new(1).stream("input"),
        &device,
    );
    let labels =
        Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 2, 3, 4, 5], [6]), &device);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let loss = |arch| loss_fn.forward(net.forward_path(arch, images.clone()), labels.clone());

    let summed = archs.iter().map(loss).reduce(|a, b| a + b).unwrap();
    let fair = GradientsParams::from_grads(summed.backward(), &net);
    let singles: Vec<GradientsParams> = archs
        .iter()
        .map(|arch| GradientsParams::from_grads(loss(arch).backward(), &net))
        .collect();

    let mut compared = 0;
    // Convolution weights are the 4-D parameters.
    for (name, id, _) in named_param_ids(&net).into_iter().filter(|p| p.2 == 4) {
        let values = |g: Option<Tensor<4>>| g.map(|g| g.into_data().try_to_vec::<f32>().unwrap());
        let expected = singles
            .iter()
            .filter_map(|g| values(g.get::<4>(id)))
            .reduce(|a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect());
        let got = values(fair.get::<4>(id));
        match (expected, got) {
            (Some(expected), Some(got)) => {
                for (e, g) in expected.iter().zip(&got) {
                    assert!(
                        (e - g).abs() <= 1e-5 * (1.0 + e.abs()),
                        "{name}: {e} vs {g}"
                    );
                }
            }
            // An op whose node does not reach the cell output on its path (all later edges
            // `none`) gets no gradient on that path, and so none in the fair step either.
            (None, None) => continue,
            (e, g) => panic!(
                "{name}: single-path sum {:?} vs fair step {:?}",
                e.is_some(),
                g.is_some()
            ),
        }
        compared += 1;
    }
    // Stem, 2 reductions x 3 convs, and most of the 3 cells x 6 edges x 2 conv ops.
    assert_eq!(archs.len(), 5);
    assert!(
        compared > 1 + 6 + 18,
        "only {compared} conv weights had gradients"
    );
}

#[test]
fn a_fairly_trained_supernet_learns_digits() {
    let data_dir = nasr_data::test_data_dir(&["mnist", "sklearn-digits"]);
    let data = nasr_data::load(nasr_data::DatasetName::Digits, &data_dir).unwrap();
    let streams = SeedStreams::new(0);
    let (train, valid) = data.train.split(300, &mut streams.stream("split")).unwrap();
    let normalization = train.channel_stats();
    let device = nasr_nn::Compute::Cpu.train_device();
    let net = nasr_nn::init::seeded(&mut streams.stream("init"), || {
        Nb201Supernet::new(&config(), &device)
    })
    .unwrap();
    let sampler = StrictFairSampler::new(&Nb201Space::new()).unwrap();
    let train_config = TrainConfig {
        epochs: 3,
        batch_size: 32,
        ..TrainConfig::default()
    };
    let mut forward = strict_fair_step(&sampler, streams);
    let (_, epochs) = Trainer::new(&train_config, streams)
        .fit_with(
            net,
            TrainData {
                train: &train,
                valid: &valid,
                normalization: &normalization,
            },
            &mut forward,
            &mut |_, _| Ok(0.0),
        )
        .unwrap();
    // Accuracy over all five paths of every step: far above chance (0.1) after three epochs.
    assert!(epochs[2].train_accuracy > 0.5, "{epochs:?}");
    assert!(epochs[2].train_loss < epochs[0].train_loss);
}

/// A small FairNAS search on scikit-learn's digits: `epochs` supernet epochs, 12 queries.
fn digits_fairnas(epochs: usize) -> nasr_methods::fairnas::FairNasConfig {
    nasr_methods::fairnas::FairNasConfig {
        data: nasr_methods::run::DataConfig {
            name: nasr_data::DatasetName::Digits,
            validation_fraction: 0.2,
            ..nasr_methods::run::DataConfig::default()
        },
        train: TrainConfig {
            epochs,
            batch_size: 32,
            eval_batch_size: 64,
            ..TrainConfig::default()
        },
        queries: 12,
        population: 4,
        recal_batches: 2,
        ..nasr_methods::fairnas::FairNasConfig::default()
    }
}

#[test]
fn a_fairnas_search_returns_a_front_of_non_dominated_mobilenet_architectures() {
    use nasr_methods::fairnas::fairnas_run;
    use nasr_methods::run::RunOptions;

    let data_dir = nasr_data::test_data_dir(&["mnist", "sklearn-digits"]);
    let out = std::env::temp_dir().join(format!("nasr-fairnas-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let config = digits_fairnas(2);
    let front = fairnas_run(&config, &data_dir, &out, &RunOptions::default())
        .unwrap()
        .front;
    assert!(!front.is_empty());
    for a in &front {
        for b in &front {
            let dominates = b.supernet_valid_accuracy >= a.supernet_valid_accuracy
                && b.flops <= a.flops
                && (b.supernet_valid_accuracy > a.supernet_valid_accuracy || b.flops < a.flops);
            assert!(!dominates, "{} dominates {}", b.arch, a.arch);
        }
    }
    let written: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("front.json")).unwrap()).unwrap();
    assert_eq!(written.len(), front.len());
    assert_eq!(
        std::fs::read_to_string(out.join("trials.jsonl"))
            .unwrap()
            .lines()
            .count(),
        12
    );
}

#[test]
fn fair_and_uniform_supernets_are_ranked_at_matched_updates_and_rerun_identically() {
    use nasr_methods::fairnas::{FairNasConfig, PathSampling};
    use nasr_methods::run::{DataConfig, RunOptions};
    use nasr_methods::sampling_rank::{SamplingRankConfig, sampling_rank};

    let data_dir = nasr_data::test_data_dir(&["mnist", "sklearn-digits"]);
    let out = std::env::temp_dir().join(format!("nasr-sampling-rank-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let train = TrainConfig {
        epochs: 1,
        batch_size: 32,
        eval_batch_size: 64,
        ..TrainConfig::default()
    };
    let config = SamplingRankConfig {
        seeds: vec![0, 1],
        archs: 4,
        supernet: FairNasConfig {
            data: DataConfig {
                name: nasr_data::DatasetName::Digits,
                train_subset: Some(400),
                validation_fraction: 0.25,
                ..DataConfig::default()
            },
            train: train.clone(),
            recal_batches: 2,
            ..FairNasConfig::default()
        },
        standalone: train,
        ..SamplingRankConfig::default()
    };
    let result = sampling_rank(&config, &data_dir, &out, &RunOptions::default()).unwrap();
    assert_eq!(result.options_per_layer, 6);
    assert_eq!(result.standalone.len(), 4);
    let runs: Vec<(PathSampling, u64, usize)> = result
        .supernets
        .iter()
        .map(|s| (s.sampling, s.seed, s.epochs))
        .collect();
    // The uniform supernet runs m = 6 times the epochs: one update per option per fair step.
    assert_eq!(
        runs,
        vec![
            (PathSampling::StrictFair, 0, 1),
            (PathSampling::StrictFair, 1, 1),
            (PathSampling::Uniform, 0, 6),
            (PathSampling::Uniform, 1, 6),
        ]
    );
    for ranking in &result.supernets {
        assert_eq!(ranking.supernet_valid_accuracy.len(), 4);
    }
    let first = std::fs::read(out.join("sampling_rank.json")).unwrap();
    // Rerun into the same folder: every run resumes from its finished checkpoints. (Compared
    // as bytes: a tied ranking has a NaN correlation, which is never equal to itself.)
    sampling_rank(&config, &data_dir, &out, &RunOptions::default()).unwrap();
    assert_eq!(
        std::fs::read(out.join("sampling_rank.json")).unwrap(),
        first
    );
}

#[test]
fn a_latency_budget_bounds_the_front_and_picks_the_most_accurate_architecture_within_it() {
    use nasr_methods::fairnas::{FairNasConfig, fairnas_run};
    use nasr_methods::run::RunOptions;
    use nasr_search::latency::{LatencyTable, Machine, TABLE_FORMAT, space_keys};
    use nasr_space::Space;
    use nasr_space::mobilenet::{MobileNetConfig, MobileNetSpace};

    let data_dir = nasr_data::test_data_dir(&["sklearn-digits"]);
    let out = std::env::temp_dir().join(format!("nasr-fairnas-budget-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    // The space the run builds from the digits, and a table of made-up but distinct figures
    // (a block costs its key's length in microseconds): the test is about the budget, not
    // about timing this machine.
    let space = MobileNetSpace::new(MobileNetConfig {
        input_size: 8,
        ..MobileNetConfig::default()
    })
    .unwrap();
    let entries = space_keys(&space)
        .into_iter()
        .map(|key| {
            let ms = key.len() as f64 * 1e-3 * if key.contains("expand:6") { 2.0 } else { 1.0 };
            (key, ms)
        })
        .collect();
    let table = LatencyTable {
        format: TABLE_FORMAT,
        nasr_version: "test".into(),
        machine: Machine {
            cpu: "test".into(),
            kernel_route: "portable".into(),
            threads: 1,
            backend: "flex".into(),
        },
        space: space.config().clone(),
        batch_size: 1,
        warmup: 1,
        repeats: 3,
        rounds: 1,
        entries,
        overhead_ms: 0.0,
        overhead_fitted_on: 0,
        block_overhead_ms: 0.0,
    };
    let table_path = out.join("table.json");
    table.save(&table_path).unwrap();
    let mut rng = SeedStreams::new(7).stream("budget");
    let mut predicted: Vec<f64> = (0..21)
        .map(|_| table.predict(&space, &space.sample(&mut rng)).unwrap())
        .collect();
    predicted.sort_by(f64::total_cmp);
    let budget = predicted[10];

    let run_dir = out.join("run");
    let config = FairNasConfig {
        latency_table: Some(table_path),
        max_latency_ms: Some(budget),
        ..digits_fairnas(1)
    };
    let result = fairnas_run(&config, &data_dir, &run_dir, &RunOptions::default()).unwrap();
    assert!(!result.front.is_empty());
    for member in &result.front {
        let latency = member.latency_ms.unwrap();
        assert!(
            latency <= budget,
            "{} at {latency} ms over {budget}",
            member.arch
        );
        let arch = space.parse(&member.arch).unwrap();
        assert!((table.predict(&space, &arch).unwrap() - latency).abs() < 1e-12);
    }
    let pick = result.pick.expect("a pick within the budget");
    let best_accuracy = result
        .front
        .iter()
        .map(|m| m.supernet_valid_accuracy)
        .fold(0.0, f64::max);
    assert_eq!(pick.member.supernet_valid_accuracy, best_accuracy);
    assert!(pick.measured_latency_ms > 0.0);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("best.json")).unwrap()).unwrap();
    assert_eq!(written["arch"], pick.member.arch.as_str());
    let _ = std::fs::remove_dir_all(&out);
}
