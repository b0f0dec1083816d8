//! FTT-NAS's fault-tolerant training and robustness curves on real data (scikit-learn's 8x8
//! digits, a small NB201 network): a fault-tolerant run learns, records its fault model and
//! resumes to the same result; its robustness curve is the clean accuracy at rate 0, falls
//! under heavy faults and repeats exactly.

use std::path::PathBuf;

use nasr_data::DatasetName;
use nasr_methods::robustness::robustness_curve;
use nasr_methods::run::{DataConfig, RunOptions, TrainRunConfig, train_run};
use nasr_methods::space::{NetworkSize, SpaceConfig};
use nasr_nn::faults::{FaultFamily, FaultRate, FeatureFault};
use nasr_nn::train::TrainConfig;
use nasr_nn::train::fault_tolerant::FaultTolerance;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nasr-faults-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run(fault: Option<FaultTolerance>) -> TrainRunConfig {
    TrainRunConfig {
        seed: 3,
        arch: "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|".into(),
        data: DataConfig {
            name: DatasetName::Digits,
            validation_fraction: 0.2,
            train_subset: None,
            test_subset: None,
        },
        space: SpaceConfig::Nb201(NetworkSize { channels: 8, cells: 1 }),
        train: TrainConfig {
            epochs: 4,
            batch_size: 32,
            lr: 0.05,
            ..TrainConfig::default()
        },
        init_from: None,
        fault,
    }
}

#[test]
fn a_fault_tolerant_run_learns_resumes_and_degrades_under_faults_as_measured() {
    let data = nasr_data::test_data_dir(&["sklearn-digits"]);
    let options = RunOptions::default();
    let tolerance = FaultTolerance {
        model: nasr_nn::faults::FaultModel {
            feature: Some(FeatureFault::Mibb {
                rate: FaultRate::PerElement(0.02),
            }),
            weight: None,
        },
        gamma: 0.5,
    };
    let out = scratch("ftt");
    let config = run(Some(tolerance));
    let metrics = train_run(&config, &data, &out, &options).unwrap();
    assert!(metrics.test_accuracy > 0.7, "{}", metrics.test_accuracy);
    let text = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(
        text.contains("[fault]") && text.contains("gamma = 0.5"),
        "{text}"
    );
    // A rerun finds the epochs done and returns the same metrics.
    assert_eq!(
        train_run(&config, &data, &out, &options).unwrap().epochs,
        metrics.epochs
    );

    let family = FaultFamily::Mibb { per_mac: false };
    let curve = robustness_curve(&out, family, &[0.0, 0.3], 3, &data, &options).unwrap();
    assert_eq!(curve.clean_accuracy, metrics.test_accuracy);
    assert!((curve.points[0].accuracy.mean - curve.clean_accuracy).abs() < 1e-12);
    let heavy = &curve.points[1].accuracy;
    assert!(heavy.mean < curve.clean_accuracy - 0.05, "{heavy:?}");
    assert_eq!(heavy.draws.len(), 3);
    assert_eq!(
        robustness_curve(&out, family, &[0.0, 0.3], 3, &data, &options).unwrap(),
        curve
    );
    let err = robustness_curve(&out, family, &[2.0], 1, &data, &options).unwrap_err();
    assert!(
        err.to_string().contains("fault rate must be a probability"),
        "{err}"
    );
}
