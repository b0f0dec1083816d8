//! `nasr ofa`: what follows a Once-for-All run (`nasr search --strategy ofa`): cut one of its
//! sub-networks out into a run folder of its own, fit its accuracy predictor, and specialise
//! it for a budget.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use nasr_methods::latency_table::measure_ofa_like;
use nasr_methods::ofa::predictor::{PredictorRunConfig, fit_predictor};
use nasr_methods::ofa::specialize::{Budget, specialize as specialize_run};
use nasr_methods::ofa::specialize::{LatencyBound, help_latency};
use nasr_methods::ofa::{TrainedSupernet, extract_subnet};
use nasr_methods::run::RunOptions;
use nasr_nn::Compute;
use nasr_search::constrained_evolution::EvolutionConfig;
use nasr_search::help_latency::{DeviceLatencyModel, HelpTable};
use nasr_search::latency::LatencyTable;
use nasr_search::predictor::PredictorConfig;
use nasr_space::Space;
use nasr_space::ofa::OfaConfig;

use crate::cli::DataDirArg;

/// Flags of `nasr ofa`.
#[derive(Debug, Args)]
pub struct OfaArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: OfaCommand,
}

/// `nasr ofa` subcommands.
#[derive(Debug, Subcommand)]
pub enum OfaCommand {
    /// Cut one sub-network out of a trained OFA run into an ordinary run folder
    /// (config.toml, model.safetensors, metrics.json with its test accuracy as cut out):
    /// BatchNorm recalibrated on the run's fixed training subset, no retraining. `nasr train
    /// --config DIR/config.toml --init-from DIR --out NEW` fine-tunes it.
    Extract(ExtractArgs),
    /// Fit the run's accuracy predictor: sub-networks drawn evenly over the resolutions, each
    /// scored in the supernet, an MLP fitted to 80% of the pairs and judged on the rest
    /// (RMSE, Kendall tau, beside a FLOPs-only ranking). Writes RUN/predictor/; resumable.
    Predictor(PredictorArgs),
    /// The best sub-network within a budget, by OFA's constrained evolution over the run's
    /// predictor (population 100, 500 generations); then its validation accuracy, measured.
    Specialize(SpecializeArgs),
    /// Fit the latency model of every device column of HELP's published OFA latencies and
    /// print its held-out error.
    LatencyModel(LatencyModelArgs),
}

/// Where HELP's OFA latencies are.
#[derive(Debug, Args)]
pub struct HelpTableArg {
    /// HELP's OFA latency table [default: DATA_DIR/hw-latency/ofa_latency_help.csv].
    #[arg(long, value_name = "FILE")]
    pub help_table: Option<PathBuf>,
}

impl HelpTableArg {
    fn load(&self, data_dir: &DataDirArg) -> Result<HelpTable> {
        let path = self.help_table.clone().unwrap_or_else(|| {
            data_dir
                .resolve()
                .join("hw-latency")
                .join("ofa_latency_help.csv")
        });
        HelpTable::load(&path).with_context(|| format!("reading {}", path.display()))
    }
}

/// Flags of `nasr ofa latency-model`.
#[derive(Debug, Args)]
pub struct LatencyModelArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,
    #[command(flatten)]
    pub help_table: HelpTableArg,
}

/// Flags of `nasr ofa predictor`.
#[derive(Debug, Args)]
pub struct PredictorArgs {
    /// The progressive-shrinking run folder.
    pub run: PathBuf,
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Sub-networks measured per resolution (OFA: 1,000).
    #[arg(long, default_value_t = 100)]
    pub per_resolution: usize,
    /// Hidden widths of the MLP, comma-separated (OFA: 400,400,400).
    #[arg(long, value_delimiter = ',', default_value = "128,128,128")]
    pub hidden: Vec<usize>,
    /// Passes of Adam over the training pairs.
    #[arg(long, default_value_t = 300)]
    pub epochs: usize,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

/// Flags of `nasr ofa specialize`.
#[derive(Debug, Args)]
pub struct SpecializeArgs {
    /// The progressive-shrinking run folder, its predictor fitted.
    pub run: PathBuf,
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Most multiply-adds per image.
    #[arg(long, value_name = "N")]
    pub max_flops: Option<u64>,
    /// Most parameters.
    #[arg(long, value_name = "N")]
    pub max_params: Option<u64>,
    /// Most milliseconds, by --latency-table or --latency-device.
    #[arg(long, value_name = "MS")]
    pub max_latency: Option<f64>,
    /// This machine's latency table of the space (`nasr latency measure --space ofa`); the
    /// chosen sub-network is measured end to end after the search as the table was.
    #[arg(
        long,
        value_name = "FILE",
        requires = "max_latency",
        conflicts_with = "latency_device"
    )]
    pub latency_table: Option<PathBuf>,
    /// The device of --max-latency: a column of HELP's published OFA latencies
    /// (2080ti_1, titan_rtx_32, v100_64, ...: device and batch), priced by a model fitted
    /// to them (a proxy through OFA's layout: see the README).
    #[arg(long, value_name = "NAME", requires = "max_latency")]
    pub latency_device: Option<String>,
    #[command(flatten)]
    pub help_table: HelpTableArg,
    /// Generations of the evolution.
    #[arg(long, default_value_t = 500)]
    pub generations: usize,
    /// Population of the evolution.
    #[arg(long, default_value_t = 100)]
    pub population: usize,
}

/// Flags of `nasr ofa extract`.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The progressive-shrinking run folder (`nasr search --strategy ofa --out RUN`).
    pub run: PathBuf,
    /// The sub-network, in the ofa space's canonical form ('r28|k3_e4-k5_e6|...').
    #[arg(long, value_name = "ARCH")]
    pub arch: String,
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Run folder to write.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(args: OfaArgs, compute: Compute) -> Result<()> {
    match args.command {
        OfaCommand::Extract(args) => extract(args, compute),
        OfaCommand::Predictor(args) => predictor(args, compute),
        OfaCommand::Specialize(args) => specialize(args, compute),
        OfaCommand::LatencyModel(args) => latency_model(args),
    }
}

fn extract(args: ExtractArgs, compute: Compute) -> Result<()> {
    let options = RunOptions {
        show_progress: false,
        compute,
    };
    let result = extract_subnet(
        &args.run,
        &args.arch,
        &args.data_dir.resolve(),
        &args.out,
        &options,
    )
    .with_context(|| format!("extracting from {}", args.run.display()))?;
    println!("arch {}", result.arch);
    println!(
        "parameters {}  multiply-adds {}",
        result.params, result.flops
    );
    println!(
        "validation accuracy {:.4}  test accuracy {:.4} (as cut out, no retraining)",
        result.valid_accuracy, result.test_accuracy
    );
    println!("run folder {}", args.out.display());
    Ok(())
}

fn load(
    run: &std::path::Path,
    data_dir: &DataDirArg,
    options: &RunOptions,
) -> Result<TrainedSupernet> {
    TrainedSupernet::load(run, &data_dir.resolve(), options)
        .with_context(|| format!("reading the ofa run {}", run.display()))
}

fn predictor(args: PredictorArgs, compute: Compute) -> Result<()> {
    let options = RunOptions {
        show_progress: !args.no_progress,
        compute,
    };
    let trained = load(&args.run, &args.data_dir, &options)?;
    let config = PredictorRunConfig {
        per_resolution: args.per_resolution,
        predictor: PredictorConfig {
            hidden: args.hidden,
            epochs: args.epochs,
            ..PredictorConfig::default()
        },
        ..PredictorRunConfig::default()
    };
    let q = fit_predictor(&trained, &config, &options)?;
    println!(
        "pairs: {} fitted, {} held out (fit in {:.1} s)",
        q.train_pairs, q.held_out_pairs, q.fit_seconds
    );
    println!(
        "held out: RMSE {:.2} points, Kendall tau {:.3} (multiply-adds alone: tau {:.3})",
        q.rmse_points, q.kendall_tau, q.flops_kendall_tau
    );
    println!("predictor {}", args.run.join("predictor").display());
    Ok(())
}

fn specialize(args: SpecializeArgs, compute: Compute) -> Result<()> {
    let options = RunOptions {
        show_progress: false,
        compute,
    };
    let trained = load(&args.run, &args.data_dir, &options)?;
    let budget = Budget {
        max_flops: args.max_flops,
        max_params: args.max_params,
    };
    let evolution = EvolutionConfig {
        generations: args.generations,
        population: args.population,
        ..EvolutionConfig::default()
    };
    anyhow::ensure!(
        args.max_latency.is_none() || args.latency_table.is_some() || args.latency_device.is_some(),
        "--max-latency needs --latency-table FILE (this machine) or --latency-device NAME (HELP's)"
    );
    let table = match &args.latency_device {
        Some(_) => Some(args.help_table.load(&args.data_dir)?),
        None => None,
    };
    let model = match (&table, &args.latency_device) {
        (Some(table), Some(device)) => Some(help_latency(&trained.space, table, device)?),
        _ => None,
    };
    let machine = match &args.latency_table {
        Some(path) => Some(machine_table(path, &trained.space)?),
        None => None,
    };
    let space = &trained.space;
    let by_table = |arch: &nasr_space::Arch| {
        machine
            .as_ref()
            .and_then(|t| t.predict(space, arch).ok())
            .unwrap_or(f64::INFINITY)
    };
    let bound = match (&model, &machine, args.max_latency) {
        (Some((fitted, predict)), _, Some(max_ms)) => {
            println!(
                "latency model of {}: held-out mean relative error {:.1}%, Kendall tau {:.3}",
                fitted.device,
                fitted.held_out_relative_error * 100.0,
                fitted.held_out_kendall_tau
            );
            Some(LatencyBound {
                model: predict,
                max_ms,
            })
        }
        (None, Some(_), Some(max_ms)) => Some(LatencyBound {
            model: &by_table,
            max_ms,
        }),
        _ => None,
    };
    let found = specialize_run(&trained, budget, bound.as_ref(), &evolution, &options)?;
    println!("arch {}", found.arch);
    println!("multiply-adds {}  parameters {}", found.flops, found.params);
    if let (Some(ms), Some(device)) = (found.latency_ms, &args.latency_device) {
        println!("latency {ms:.3} ms predicted on {device} (HELP's table)");
    }
    if let (Some(ms), Some(table)) = (found.latency_ms, &machine) {
        let arch = space.parse(&found.arch)?;
        let measured = measure_ofa_like(table, space, &arch, &options)?;
        println!(
            "latency {ms:.4} ms predicted by the table, {measured:.4} ms measured after the search"
        );
    }
    println!(
        "evolution: {} candidates in {:.3} s, predicted accuracy {:.4}",
        found.scored, found.evolution_seconds, found.predicted_accuracy
    );
    println!(
        "validation accuracy {:.4} (measured after the search, no retraining)",
        found.valid_accuracy
    );
    Ok(())
}

fn latency_model(args: LatencyModelArgs) -> Result<()> {
    let table = args.help_table.load(&args.data_dir)?;
    for device in &table.devices {
        let model = DeviceLatencyModel::fit(&table, device)?;
        println!(
            "{device:<14} held-out mean relative error {:>5.1}%  Kendall tau {:.3}  ({} rows fitted, {} held out)",
            model.held_out_relative_error * 100.0,
            model.held_out_kendall_tau,
            model.rows.0,
            model.rows.1
        );
    }
    Ok(())
}

/// This machine's table of the ofa space at `path`, refused when measured for other sizes.
fn machine_table(
    path: &std::path::Path,
    space: &nasr_space::OfaSpace,
) -> Result<LatencyTable<OfaConfig>> {
    let table = LatencyTable::<OfaConfig>::load(path)?;
    anyhow::ensure!(
        table.measured_for(space.config()),
        "{} was measured for another ofa space than the run's; measure one with `nasr latency \
         measure --space ofa` at the run's sizes",
        path.display()
    );
    Ok(table)
}
