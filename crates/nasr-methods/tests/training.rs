//! Training learns on real MNIST, and a whole run is reproducible bit for bit.

use std::path::PathBuf;

use nasr_data::DatasetName;
use nasr_methods::run::{DataConfig, RunOptions, TrainRunConfig, train_run};
use nasr_methods::space::{NetworkSize, SpaceConfig};
use nasr_nn::train::TrainConfig;

fn data_dir() -> PathBuf {
    nasr_data::test_data_dir(&["mnist", "sklearn-digits"])
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nasr-nn-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn small_run(seed: u64) -> TrainRunConfig {
    TrainRunConfig {
        seed,
        arch: "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|".into(),
        data: DataConfig {
            name: DatasetName::Mnist,
            train_subset: Some(2500),
            test_subset: Some(1000),
            validation_fraction: 0.2,
        },
        space: SpaceConfig::Nb201(NetworkSize { channels: 4, cells: 1 }),
        train: TrainConfig {
            epochs: 2,
            batch_size: 32,
            ..TrainConfig::default()
        },
        init_from: None,
        fault: None,
    }
}

#[test]
fn a_small_network_learns_mnist_well_above_chance() {
    let out = scratch("learns");
    let metrics = train_run(&small_run(0), &data_dir(), &out, &RunOptions::default()).unwrap();
    // Chance is 0.1; 2,000 images for two epochs give a tiny network more than 0.85.
    assert!(
        metrics.test_accuracy > 0.85,
        "test accuracy {}",
        metrics.test_accuracy
    );
    assert!(metrics.epochs[1].train_loss < metrics.epochs[0].train_loss);
    assert_eq!(metrics.examples.train + metrics.examples.valid, 2500);
}

#[test]
fn same_config_and_seed_give_byte_identical_metrics_and_weights() {
    let mut config = small_run(7);
    config.train.epochs = 1;
    config.data.train_subset = Some(1200);
    // Augmentation on, so that its stream is covered too.
    config.train.augmentation.pad_crop = 2;
    let (a, b, c) = (scratch("repro-a"), scratch("repro-b"), scratch("repro-c"));
    train_run(&config, &data_dir(), &a, &RunOptions::default()).unwrap();
    train_run(&config, &data_dir(), &b, &RunOptions::default()).unwrap();
    for file in ["metrics.json", "model.safetensors", "config.toml"] {
        let (x, y) = (
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
        );
        assert!(x == y, "{file} differs between two runs of the same config");
    }
    config.seed = 8;
    train_run(&config, &data_dir(), &c, &RunOptions::default()).unwrap();
    assert_ne!(
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(c.join("model.safetensors")).unwrap(),
        "another seed must give other weights"
    );
}

#[test]
fn bad_training_config_names_the_field() {
    let mut config = small_run(0);
    config.train.label_smoothing = 1.5;
    let err = train_run(
        &config,
        &data_dir(),
        &scratch("bad"),
        &RunOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("label_smoothing"), "{err}");
    let mut config = small_run(0);
    config.arch = "|nor_conv_3x3~0|+|conv~0|none~1|+|none~0|none~1|none~2|".into();
    let err = train_run(
        &config,
        &data_dir(),
        &scratch("bad-arch"),
        &RunOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("\"conv~0\""), "{err}");
}

#[test]
fn a_mobilenet_architecture_trains_and_records_its_flops() {
    let config = TrainRunConfig {
        space: nasr_methods::space::SpaceConfig::default_of(
            nasr_methods::space::SpaceName::Mobilenet,
        ),
        arch: "k3_e3-k5_e6-k7_e3-k3_e6-k5_e3-k7_e6".into(),
        data: DataConfig {
            name: DatasetName::Digits,
            validation_fraction: 0.2,
            ..DataConfig::default()
        },
        train: TrainConfig {
            epochs: 3,
            batch_size: 32,
            ..TrainConfig::default()
        },
        ..TrainRunConfig::default()
    };
    let out = scratch("mobilenet");
    let metrics = train_run(&config, &data_dir(), &out, &RunOptions::default()).unwrap();
    assert!(
        metrics.test_accuracy > 0.5,
        "test accuracy {}",
        metrics.test_accuracy
    );
    assert!(metrics.flops.is_some_and(|f| f > 0) && metrics.arch_index.is_none());

    // The standalone evaluator of multi-fidelity search trains any space's architectures: the
    // same run, as a trial, in a folder named by the space's key.
    let space = nasr_space::MobileNetSpace::new(nasr_space::mobilenet::MobileNetConfig {
        input_size: 8,
        in_channels: 1,
        classes: 10,
        ..Default::default()
    })
    .unwrap();
    let arch = nasr_space::Space::parse(&space, &config.arch).unwrap();
    let key = nasr_space::Space::key(&space, &arch);
    let trials = scratch("mobilenet-trials");
    let mut evaluator = nasr_methods::multi_fidelity::StandaloneEvaluator::new(
        std::sync::Arc::new(space),
        config.clone(),
        &data_dir(),
        &trials,
        RunOptions::default(),
    );
    let trial = nasr_search::Evaluator::evaluate(
        &mut evaluator,
        &arch,
        nasr_search::Fidelity::Epochs(config.train.epochs),
    )
    .unwrap();
    assert_eq!(trial["test_accuracy"], metrics.test_accuracy);
    assert!(
        trials
            .join(format!("{key}-e3"))
            .join("metrics.json")
            .exists()
    );

    let mut bad = config.clone();
    bad.arch = "k3_e3-k9_e6-k7_e3-k3_e6-k5_e3-k7_e6".into();
    let err = train_run(
        &bad,
        &data_dir(),
        &scratch("mobilenet-bad"),
        &RunOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("\"k9_e6\""), "{err}");
}
