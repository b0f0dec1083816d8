//! `nasr demo`: a whole search in a few minutes: DARTS (first order) on the NB201 space over an
//! MNIST subset, derivation of the cell, a short retraining from scratch, and its test accuracy.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use nasr_data::DatasetName;
use nasr_methods::darts::{AlphaOptimizer, DartsConfig, RetrainConfig, darts_run};
use nasr_methods::run::{DataConfig, RunOptions};
use nasr_nn::train::TrainConfig;
use nasr_search::nb201_table::Nb201Table;

use crate::cli::DataDirArg;

/// Flags of `nasr demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Run folder to write.
    #[arg(long, value_name = "DIR", default_value = "runs/demo")]
    pub out: PathBuf,
    /// Run seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

pub fn run(args: DemoArgs, compute: nasr_nn::Compute) -> Result<()> {
    let data_dir = args.data_dir.resolve();
    if nasr_data::load(DatasetName::Mnist, &data_dir).is_err() {
        eprintln!(
            "MNIST not found under {}; downloading it (checksum-verified)",
            data_dir.display()
        );
        crate::data::fetch_with_progress(DatasetName::Mnist, &data_dir, None)?;
    }
    let defaults = DartsConfig::default();
    let config = DartsConfig {
        seed: args.seed,
        data: DataConfig {
            name: DatasetName::Mnist,
            train_subset: Some(6_000),
            ..defaults.data
        },
        train: TrainConfig {
            epochs: 3,
            ..defaults.train
        },
        // A 3-epoch search takes 141 architecture steps, against DARTS' ~20,000 on CIFAR-10.
        alpha: AlphaOptimizer {
            lr: 0.01,
            ..defaults.alpha
        },
        retrain: Some(RetrainConfig {
            train_subset: Some(20_000),
            train: TrainConfig {
                epochs: 1,
                ..TrainConfig::default()
            },
            ..RetrainConfig::default()
        }),
        ..defaults
    };
    println!("nasr demo: DARTS (first order) on the NAS-Bench-201 space, searching on 6,000 MNIST");
    println!(
        "images (3,000 for the weights, 3,000 for alpha; C=8, N=1, 3 epochs), then retraining"
    );
    println!(
        "the derived cell from scratch on 18,000 images and testing it on all 10,000 test images"
    );
    let options = RunOptions {
        show_progress: !args.no_progress,
        compute,
    };
    let table = Nb201Table::load(&data_dir).ok();
    let started = std::time::Instant::now();
    let result = darts_run(&config, &data_dir, &args.out, &options, table.as_ref())
        .with_context(|| format!("demo run into {}", args.out.display()))?;
    println!("derived cell {}", result.arch);
    println!(
        "mixed supernet validation accuracy {:.4}",
        result.supernet_valid_accuracy
    );
    if let Some(accuracy) = result.nb201_cifar10 {
        println!("NAS-Bench-201 says this cell reaches {accuracy:.2}% on CIFAR-10");
    }
    if let (Some(accuracy), Some(parameters)) =
        (result.retrain_test_accuracy, result.retrain_parameters)
    {
        println!("retrained: test accuracy {accuracy:.4} ({parameters} parameters)");
    }
    println!(
        "run folder {} (alphas.jsonl, best.json, retrain/); {:.0} s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
