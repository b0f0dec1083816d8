//! `nasr rank-eval`.

use anyhow::{Context, Result};
use nasr_methods::fairnas::{FairNasConfig, PathSampling};
use nasr_methods::rank_eval::{Correlation, RankEvalConfig, rank_eval};
use nasr_methods::rsws::RswsConfig;
use nasr_methods::run::RunOptions;
use nasr_methods::sampling_rank::{SamplingRankConfig, name, sampling_rank};
use nasr_nn::train::TrainConfig;
use nasr_search::nb201_table::Nb201Table;

use crate::cli::RankEvalArgs;
use crate::search::run_template;

pub fn run(args: RankEvalArgs) -> Result<()> {
    if args.space == "mobilenet" {
        return fair_vs_uniform(args);
    }
    let data_dir = args.data_dir.resolve();
    let template = template(&args)?;
    let train = |epochs| TrainConfig {
        epochs,
        ..template.train.clone()
    };
    let config = RankEvalConfig {
        supernet: RswsConfig {
            seed: args.seed,
            space: args.space.parse()?,
            data: template.data.clone(),
            network: template.network,
            train: train(args.supernet_epochs),
            candidates: args.archs,
            recal_batches: args.recal_batches,
        },
        standalone: train(args.epochs),
    };
    let table = Nb201Table::load(&data_dir).ok();
    let options = RunOptions {
        show_progress: !args.no_progress,
    };
    let result = rank_eval(&config, &data_dir, &args.out, &options, table.as_ref())
        .with_context(|| format!("rank evaluation into {}", args.out.display()))?;
    println!(
        "{} architectures, standalone {} epoch(s), supernet {} epoch(s)",
        result.archs, result.standalone_epochs, result.supernet_epochs
    );
    println!(
        "{:<12} {:>10} {:>10}  {:<60}",
        "supernet", "standalone", "NB201 C10", "arch"
    );
    for s in &result.scored {
        let table = s
            .nb201_cifar10
            .map_or("-".to_string(), |a| format!("{a:.2}"));
        println!(
            "{:<12.4} {:>10.4} {:>10}  {}",
            s.supernet_valid_accuracy, s.standalone_valid_accuracy, table, s.arch
        );
    }
    let show = |label: &str, c: &Correlation| {
        println!(
            "{label:<34} Kendall tau {:>6.3}  Spearman rho {:>6.3}",
            c.kendall_tau, c.spearman_rho
        );
    };
    show("supernet vs standalone", &result.supernet_vs_standalone);
    if let Some(c) = &result.supernet_vs_table {
        show("supernet vs NB201 CIFAR-10", c);
    }
    if let Some(c) = &result.standalone_vs_table {
        show("standalone vs NB201 CIFAR-10", c);
    }
    println!("run folder {}", args.out.display());
    Ok(())
}

/// `nasr rank-eval --space mobilenet`: does strict fairness rank better than uniform sampling?
fn fair_vs_uniform(args: RankEvalArgs) -> Result<()> {
    let template = template(&args)?;
    let train = |epochs| TrainConfig {
        epochs,
        // Depthwise convs on flex allocate with the batch: evaluate in training-sized batches.
        eval_batch_size: args.batch_size,
        ..template.train.clone()
    };
    let config = SamplingRankConfig {
        seeds: (args.seed..args.seed + args.seeds).collect(),
        archs: args.archs,
        supernet: FairNasConfig {
            seed: args.seed,
            data: template.data.clone(),
            train: train(args.supernet_epochs),
            recal_batches: args.recal_batches,
            ..FairNasConfig::default()
        },
        standalone: train(args.epochs),
    };
    let options = RunOptions {
        show_progress: !args.no_progress,
    };
    let result = sampling_rank(&config, &args.data_dir.resolve(), &args.out, &options)
        .with_context(|| format!("fair vs uniform ranking into {}", args.out.display()))?;
    let epochs = |sampling| {
        result
            .supernets
            .iter()
            .find(|s| s.sampling == sampling)
            .map_or(0, |s| s.epochs)
    };
    println!(
        "{} architectures, standalone {} epoch(s); m = {} options per layer, so fair {} epoch(s) vs uniform {} epoch(s)",
        result.standalone.len(),
        args.epochs,
        result.options_per_layer,
        epochs(PathSampling::StrictFair),
        epochs(PathSampling::Uniform),
    );
    println!(
        "{:<8} {:>5} {:>12} {:>13}",
        "sampling", "seed", "Kendall tau", "Spearman rho"
    );
    for s in &result.supernets {
        println!(
            "{:<8} {:>5} {:>12.3} {:>13.3}",
            name(s.sampling),
            s.seed,
            s.vs_standalone.kendall_tau,
            s.vs_standalone.spearman_rho
        );
    }
    for s in &result.summary {
        println!(
            "{:<8} mean Kendall tau {:.3} ± {:.3}, Spearman rho {:.3} ± {:.3}",
            name(s.sampling),
            s.kendall_tau_mean,
            s.kendall_tau_sd,
            s.spearman_rho_mean,
            s.spearman_rho_sd
        );
    }
    println!("run folder {} (sampling_rank.json)", args.out.display());
    Ok(())
}

/// The training-run settings both comparisons start from.
fn template(args: &RankEvalArgs) -> Result<nasr_methods::run::TrainRunConfig> {
    let mut template = run_template(
        &args.space,
        &args.data,
        args.train_subset,
        (args.channels, args.cells),
        args.batch_size,
        args.seed,
    )?;
    template.data.test_subset = args.test_subset;
    Ok(template)
}
