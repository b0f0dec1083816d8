//! `nasr rank-eval`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use nasr_methods::fairnas::{FairNasConfig, PathSampling};
use nasr_methods::rank_eval::{Correlation, RankEvalConfig, rank_eval};
use nasr_methods::rsws::RswsConfig;
use nasr_methods::run::RunOptions;
use nasr_methods::sampling_rank::{SamplingRankConfig, name, sampling_rank};
use nasr_methods::space::SpaceName;
use nasr_nn::train::TrainConfig;
use nasr_search::nb201_table::Nb201Table;

use crate::cli::{DataDirArg, space_names};
use crate::template::run_template;

/// Flags of `nasr rank-eval`.
#[derive(Debug, Args)]
pub struct RankEvalArgs {
    /// Search space. nb201 ranks an RSWS supernet; mobilenet compares a strictly fair
    /// (FairNAS) supernet with a uniformly sampled one, at matched updates per option.
    #[arg(long, default_value = "nb201", value_parser = space_names(&[SpaceName::Nb201, SpaceName::Mobilenet]))]
    pub space: SpaceName,
    /// Dataset (mnist, fashion-mnist, cifar10, cifar100, sklearn-digits).
    #[arg(long, default_value = "mnist")]
    pub data: String,
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Train on the first N training examples only (before the validation split).
    #[arg(long, value_name = "N")]
    pub train_subset: Option<usize>,
    /// Test on the first N test examples only (standalone runs report test accuracy).
    #[arg(long, value_name = "N")]
    pub test_subset: Option<usize>,
    /// mobilenet: supernet seeds (SEED, SEED+1, ...); each trains a fair and a uniform supernet.
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// Architectures sampled, trained standalone and ranked by the supernet (M).
    #[arg(long, default_value_t = 8)]
    pub archs: usize,
    /// Standalone training epochs per architecture (E).
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Supernet training epochs (mobilenet: of the fair supernet; the uniform one runs m times
    /// as many, m being the options per layer).
    #[arg(long, default_value_t = 1)]
    pub supernet_epochs: usize,
    /// Channels of the first stage (C).
    #[arg(long, default_value_t = 8)]
    pub channels: usize,
    /// Cells per stage (N).
    #[arg(long, default_value_t = 1)]
    pub cells: usize,
    /// Examples per SGD step (both sides).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Training batches that recalibrate BatchNorm before each supernet evaluation.
    #[arg(long, default_value_t = 8)]
    pub recal_batches: usize,
    /// Run seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run folder (supernet/, standalone/<index>/, rank_eval.json); rerunning resumes.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

pub fn run(args: RankEvalArgs, compute: nasr_nn::Compute) -> Result<()> {
    if args.space == SpaceName::Mobilenet {
        return fair_vs_uniform(args, compute);
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
            space: template.space.clone(),
            data: template.data.clone(),
            train: train(args.supernet_epochs),
            candidates: args.archs,
            recal_batches: args.recal_batches,
        },
        standalone: train(args.epochs),
    };
    let table = Nb201Table::load(&data_dir).ok();
    let options = RunOptions {
        show_progress: !args.no_progress,
        compute,
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
fn fair_vs_uniform(args: RankEvalArgs, compute: nasr_nn::Compute) -> Result<()> {
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
        compute,
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
        &args.data,
        args.train_subset,
        (args.channels, args.cells),
        args.batch_size,
        args.seed,
    )?;
    template.data.test_subset = args.test_subset;
    Ok(template)
}
