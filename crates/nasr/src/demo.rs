//! `nasr demo`: a small NB201 network trained on MNIST, end to end, in a few minutes.

use anyhow::{Context, Result};
use nasr_data::DatasetName;
use nasr_nn::run::{DataConfig, NetworkSize, RunOptions, TrainRunConfig, train_run};
use nasr_nn::train::TrainConfig;

use crate::cli::DemoArgs;

/// The cell NAS-Bench-201 ranks best on CIFAR-10 among its conv + skip cells.
const DEMO_ARCH: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

pub fn run(args: DemoArgs) -> Result<()> {
    let data_dir = args.data_dir.resolve();
    if nasr_data::load(DatasetName::Mnist, &data_dir).is_err() {
        eprintln!(
            "MNIST not found under {}; downloading it (checksum-verified)",
            data_dir.display()
        );
        crate::data::fetch_with_progress(DatasetName::Mnist, &data_dir, None)?;
    }
    let config = TrainRunConfig {
        seed: args.seed,
        arch: DEMO_ARCH.into(),
        data: DataConfig {
            name: DatasetName::Mnist,
            train_subset: Some(20_000),
            ..DataConfig::default()
        },
        network: NetworkSize {
            channels: 8,
            cells: 1,
        },
        train: TrainConfig {
            epochs: 1,
            ..TrainConfig::default()
        },
        ..TrainRunConfig::default()
    };
    println!("nasr demo: training NB201 cell {DEMO_ARCH}");
    println!("on 18,000 MNIST images (C=8, N=1, 1 epoch), then testing on all 10,000 test images");
    let options = RunOptions {
        show_progress: !args.no_progress,
    };
    let metrics = train_run(&config, &data_dir, &args.out, &options)
        .with_context(|| format!("demo run into {}", args.out.display()))?;
    let last = metrics.epochs.last().context("the run trained no epoch")?;
    println!("validation accuracy {:.4}", last.valid_accuracy);
    println!(
        "test accuracy {:.4} ({} parameters)",
        metrics.test_accuracy, metrics.parameters
    );
    println!("run folder {}", args.out.display());
    Ok(())
}
