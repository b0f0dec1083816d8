//! ONNX export checked by a second runtime: a trained network of each space nasr trains
//! (NB201, the DARTS evaluation network, MobileNet, a Once-for-All sub-network), on real
//! MNIST, exported with its BatchNorm statistics and loaded by tract, gives nasr's logits to
//! 1e-4 and the same class on 256 test images, in forwards of 64 and of 256 images.

use std::path::PathBuf;

use nasr_data::DatasetName;
use nasr_methods::predict::OnnxModel;
use nasr_methods::run::{DataConfig, RunOptions, TrainRunConfig, train_run};
use nasr_methods::space::{NetworkSize, SpaceConfig};
use nasr_methods::trained_run::TrainedRun;
use nasr_nn::nets::darts::DartsNetConfig;
use nasr_nn::train::TrainConfig;
use nasr_space::mobilenet::MobileNetConfig;
use nasr_space::ofa::OfaConfig;

const TEST_IMAGES: usize = 256;

fn data_dir() -> PathBuf {
    nasr_data::test_data_dir(&["mnist"])
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nasr-export-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run_config(space: SpaceConfig, arch: &str) -> TrainRunConfig {
    TrainRunConfig {
        seed: 3,
        space,
        arch: arch.into(),
        data: DataConfig {
            name: DatasetName::Mnist,
            train_subset: Some(1000),
            test_subset: Some(TEST_IMAGES),
            validation_fraction: 0.2,
        },
        train: TrainConfig {
            epochs: 1,
            batch_size: 32,
            ..TrainConfig::default()
        },
        init_from: None,
        fault: None,
    }
}

fn argmax(row: &[f32]) -> usize {
    (0..row.len())
        .max_by(|&a, &b| row[a].total_cmp(&row[b]))
        .unwrap()
}

/// Trains `config`, exports it, and checks tract's logits against nasr's.
fn exported_model_matches(name: &str, config: TrainRunConfig) {
    let out = scratch(name);
    let options = RunOptions::default();
    let metrics = train_run(&config, &data_dir(), &out, &options).unwrap();
    let run = TrainedRun::load(&out, &data_dir(), &options).unwrap();
    let test = &run.data().parts.test;
    assert_eq!(test.len(), TEST_IMAGES);
    let expected = run.logits(test, 64);
    let classes = run.data().parts.train.classes;

    let path = out.join("model.onnx");
    std::fs::write(&path, run.onnx().unwrap()).unwrap();
    let model = OnnxModel::load(&path).unwrap();
    let images = nasr_data::Images {
        shape: test.shape,
        pixels: test.pixels.clone(),
        names: (0..test.len()).map(|i| i.to_string()).collect(),
        labels: Some(test.labels.clone()),
    };
    for batch in [64, TEST_IMAGES] {
        let got = model.logits_in_batches(&images, batch).unwrap();
        assert_eq!(got.len(), expected.len(), "{name} at batch {batch}");
        let worst = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        println!("{name} at batch {batch}: max |tract - nasr| = {worst:.2e}");
        assert!(
            worst <= 1e-4,
            "{name} at batch {batch}: max |tract - nasr| = {worst}"
        );
        for (i, (a, b)) in got
            .chunks(classes)
            .zip(expected.chunks(classes))
            .enumerate()
        {
            assert_eq!(argmax(a), argmax(b), "{name} at batch {batch}: image {i}");
        }
    }
    // tract's accuracy is the run's test accuracy.
    let hits = expected
        .chunks(classes)
        .zip(&test.labels)
        .filter(|(row, label)| argmax(row) == usize::from(**label))
        .count();
    assert!((hits as f64 / TEST_IMAGES as f64 - metrics.test_accuracy).abs() < 1e-9);

    let metadata = nasr_nn::export::read_metadata(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(metadata["arch"], metrics.arch);
    assert_eq!(metadata["seed"], "3");
    assert_eq!(metadata["dataset"], "mnist");
    assert_eq!(metadata["dataset_test_sha256"], metrics.data_sha256.test);
    assert_eq!(metadata["nasr_version"], env!("CARGO_PKG_VERSION"));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn an_nb201_network_exports_and_matches_in_tract() {
    // Every NB201 op: convolutions, the pool, skip and none.
    let arch =
        "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|";
    let space = SpaceConfig::Nb201(NetworkSize {
        channels: 4,
        cells: 1,
    });
    exported_model_matches("nb201", run_config(space, arch));
}

#[test]
fn a_darts_network_exports_and_matches_in_tract() {
    // Separable, dilated, both pools, skip (factorized reduce in the reduction cells).
    let arch = "Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_5x5', 1), ('skip_connect', 0), \
                ('sep_conv_5x5', 1), ('avg_pool_3x3', 1), ('dil_conv_3x3', 0), ('skip_connect', 0), \
                ('max_pool_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), \
                ('avg_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('sep_conv_3x3', 0), \
                ('skip_connect', 2), ('skip_connect', 0), ('dil_conv_3x3', 1)], reduce_concat=[2, 3, 4, 5])";
    let space = SpaceConfig::Darts(DartsNetConfig {
        channels: 4,
        layers: 3,
        ..DartsNetConfig::default()
    });
    exported_model_matches("darts", run_config(space, arch));
}

#[test]
fn a_mobilenet_network_exports_and_matches_in_tract() {
    let space = SpaceConfig::Mobilenet(MobileNetConfig::default());
    exported_model_matches(
        "mobilenet",
        run_config(space, "k3_e3-k5_e6-k7_e3-k3_e6-k5_e3-k7_e6"),
    );
}

#[test]
fn a_once_for_all_sub_network_exports_and_matches_in_tract() {
    // Resolution 20 of 28-pixel images: the bilinear resize is in the graph too; squeeze-excite
    // and h-swish in the later units.
    let space = SpaceConfig::Ofa(OfaConfig::default());
    let arch = "r20|k3_e4-k5_e6|k7_e3-k3_e3|k3_e6-k3_e6-k5_e4|k5_e3-k5_e3|k7_e6-k7_e4";
    exported_model_matches("ofa", run_config(space, arch));
}
