//! `nasr search --strategy darts`: differentiable search on the NB201 or DARTS space.

use anyhow::{Context, Result};
use nasr_methods::darts::{DartsConfig, Relaxation, RetrainConfig, darts_run};
use nasr_methods::run::{DataConfig, NetworkSize, RunOptions};
use nasr_nn::darts_net::DartsNetConfig;
use nasr_nn::train::TrainConfig;
use nasr_search::nb201_table::Nb201Table;

use crate::cli::SearchArgs;

pub fn run(args: SearchArgs) -> Result<()> {
    if args.space != "nb201" && args.space != "darts" {
        anyhow::bail!(
            "darts searches the nb201 or darts space, not {}",
            args.space
        );
    }
    let data_dir = args.data_dir.resolve();
    let defaults = DartsConfig::default();
    let network = NetworkSize {
        channels: args.channels,
        cells: args.cells,
    };
    let darts_net = DartsNetConfig {
        channels: args.channels,
        layers: args.layers,
        ..defaults.darts_net
    };
    let config = DartsConfig {
        seed: args.seed,
        space: args.space.parse()?,
        darts_net,
        data: DataConfig {
            name: args.data.parse()?,
            train_subset: args.train_subset,
            test_subset: args.test_subset,
            ..defaults.data
        },
        network,
        train: TrainConfig {
            epochs: args.epochs,
            batch_size: args.batch_size,
            ..defaults.train
        },
        alpha: nasr_methods::darts::AlphaOptimizer {
            lr: args.alpha_lr,
            ..defaults.alpha
        },
        order: args.order.try_into()?,
        xi: args.xi,
        aux_skip_beta: args.aux_skip_beta,
        relaxation: if args.fair_darts {
            Relaxation::Sigmoid
        } else {
            Relaxation::Softmax
        },
        zero_one_weight: args.zero_one_weight,
        retrain: (args.retrain_epochs > 0).then(|| RetrainConfig {
            train_subset: args.retrain_subset,
            network,
            darts_net: DartsNetConfig {
                channels: args.channels,
                layers: args.layers,
                ..RetrainConfig::default().darts_net
            },
            train: TrainConfig {
                epochs: args.retrain_epochs,
                batch_size: args.batch_size,
                ..TrainConfig::default()
            },
            ..RetrainConfig::default()
        }),
    };
    let table = Nb201Table::load(&data_dir).ok();
    let options = RunOptions {
        show_progress: !args.no_progress,
    };
    let result = darts_run(&config, &data_dir, &args.out, &options, table.as_ref())
        .with_context(|| format!("darts search into {}", args.out.display()))?;
    match result.index {
        Some(index) => println!(
            "derived {} (NB201 index {index}, {} skip connection(s))",
            result.arch, result.skip_count
        ),
        None => println!(
            "derived {}\n({} skip connection(s) in the normal cell)",
            result.arch, result.skip_count
        ),
    }
    println!(
        "supernet validation accuracy {:.4}",
        result.supernet_valid_accuracy
    );
    if let Some(accuracy) = result.nb201_cifar10 {
        println!(
            "NAS-Bench-201 CIFAR-10 test accuracy of this cell: {accuracy:.2}% (searched on other data)"
        );
    }
    if let (Some(accuracy), Some(parameters)) =
        (result.retrain_test_accuracy, result.retrain_parameters)
    {
        println!("retrained from scratch: test accuracy {accuracy:.4} ({parameters} parameters)");
    }
    println!(
        "run folder {} (alphas.jsonl, best.json, retrain/)",
        args.out.display()
    );
    Ok(())
}
