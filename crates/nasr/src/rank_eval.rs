//! `nasr rank-eval`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use nasr_methods::dna::blocks::BlockTraining;
use nasr_methods::dna::scores::Scoring;
use nasr_methods::fairnas::FairNasConfig;
use nasr_methods::rank_eval::{Correlation, RankEvalConfig, rank_eval};
use nasr_methods::rsws::RswsConfig;
use nasr_methods::run::RunOptions;
use nasr_methods::sampling_rank::{DnaRanker, RankMethod, SamplingRankConfig, name, sampling_rank};
use nasr_methods::space::SpaceName;
use nasr_nn::train::TrainConfig;
use nasr_search::nb201_table::Nb201Table;

use crate::cli::{DataDirArg, space_names};
use crate::template::run_template;

/// Flags of `nasr rank-eval`.
#[derive(Debug, Args)]
pub struct RankEvalArgs {
    /// Search space. nb201 ranks an RSWS supernet; mobilenet compares a strictly fair
    /// (FairNAS) supernet with a uniformly sampled one, at matched updates per option, and
    /// with --methods ...,dna DNA's summed block scores.
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
    /// mobilenet: the rankers compared, comma-separated: fair, uniform, dna.
    #[arg(long, value_delimiter = ',', default_value = "uniform,fair", value_parser = ["fair", "uniform", "dna"])]
    pub methods: Vec<String>,
    /// mobilenet with dna: the teacher's run folder (e.g. `nasr train -c spaces/dna-teacher.toml`).
    #[arg(long, value_name = "RUN")]
    pub teacher: Option<PathBuf>,
    /// mobilenet with dna: epochs of each block supernet.
    #[arg(long, default_value_t = 2)]
    pub block_epochs: usize,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

pub fn run(args: RankEvalArgs, compute: nasr_nn::Compute) -> Result<()> {
    if args.space == SpaceName::Mobilenet {
        return fair_vs_uniform(args, compute);
    }
    if args.teacher.is_some() || args.methods.iter().any(|m| m != "uniform" && m != "fair") {
        anyhow::bail!("--methods dna and --teacher compare rankers on --space mobilenet");
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
        methods: args
            .methods
            .iter()
            .map(|m| match m.as_str() {
                "fair" => RankMethod::Fair,
                "uniform" => RankMethod::Uniform,
                _ => RankMethod::Dna,
            })
            .collect(),
        dna: args.teacher.clone().map(|teacher| DnaRanker {
            teacher,
            blocks: BlockTraining {
                epochs: args.block_epochs,
                batch_size: args.batch_size,
                ..BlockTraining::default()
            },
            scoring: Scoring {
                batch_size: args.batch_size,
                ..Scoring::default()
            },
        }),
    };
    let options = RunOptions {
        show_progress: !args.no_progress,
        compute,
    };
    let result = sampling_rank(&config, &args.data_dir.resolve(), &args.out, &options)
        .with_context(|| format!("supernet ranking into {}", args.out.display()))?;
    println!(
        "{} architectures, standalone {} epoch(s); m = {} options per layer",
        result.standalone.len(),
        args.epochs,
        result.options_per_layer,
    );
    println!(
        "{:<8} {:>5} {:>7} {:>9} {:>12} {:>13}",
        "method", "seed", "epochs", "passes", "Kendall tau", "Spearman rho"
    );
    let row = |method: &str, seed: u64, epochs: usize, passes: u64, c: &Correlation| {
        println!(
            "{method:<8} {seed:>5} {epochs:>7} {passes:>9} {:>12.3} {:>13.3}",
            c.kendall_tau, c.spearman_rho
        );
    };
    for s in &result.supernets {
        row(
            name(s.sampling),
            s.seed,
            s.epochs,
            s.passes,
            &s.vs_standalone,
        );
    }
    for d in &result.dna {
        // DNA's epochs are each block's; its passes are block forward/backward passes.
        row("dna", d.seed, d.block_epochs, d.passes, &d.vs_standalone);
    }
    for s in &result.summary {
        println!(
            "{:<8} mean Kendall tau {:.3} ± {:.3}, Spearman rho {:.3} ± {:.3}",
            s.method.name(),
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
