//! `nasr bench`: train-step, supernet-step, infer, eval, ops and nb201.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use nasr_methods::bench::memory::peak_mib;
use nasr_methods::bench::{
    BENCH_OPS, BenchNetwork, StepTimes, SupernetStepMode, TrainStepBench, time_evaluation,
    time_inference, time_op, time_supernet_steps, time_train_steps,
};
use nasr_search::bench::{BenchConfig, BenchResult, run_nb201_bench};
use nasr_search::nb201_table::Nb201Table;
use nasr_search::registry::StrategySettings;
use nasr_space::mobilenet::MobileNetConfig;
use nasr_space::ofa::OfaConfig;

use crate::cli::DataDirArg;

/// Flags of `nasr bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure.
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// `nasr bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Time one training step (forward, backward, SGD update) of a network on random data, and
    /// the memory the steps add.
    TrainStep {
        #[command(flatten)]
        network: NetworkArgs,
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        timing: Timing,
    },
    /// Time one step of a supernet on random data, and the memory the steps add.
    SupernetStep {
        /// path (one sampled path), fair (FairNAS's m strictly fair paths, one update), mixed
        /// (DARTS' weight step over all ops), darts1 / darts2 (a whole first- / second-order
        /// DARTS step: alpha step, then weight step). mixed and darts run on nb201 only.
        #[arg(long, default_value = "mixed", value_parser = SupernetStepMode::ALL.map(SupernetStepMode::name))]
        mode: String,
        #[command(flatten)]
        network: NetworkArgs,
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        timing: Timing,
    },
    /// Time inference of a network (forward only, evaluation mode) on a random batch.
    Infer {
        #[command(flatten)]
        network: NetworkArgs,
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        timing: Timing,
    },
    /// Time evaluation passes of a network over a dataset's test set (evaluation mode, as
    /// `nasr train` scores its test set), e.g. the 10,000 MNIST test images.
    Eval {
        #[command(flatten)]
        network: NetworkArgs,
        /// Dataset whose test set is evaluated.
        #[arg(long, default_value = "mnist")]
        dataset: String,
        /// Images per evaluation batch.
        #[arg(long, default_value_t = 500)]
        batch_size: usize,
        /// Untimed passes first.
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        /// Timed passes (the median is reported).
        #[arg(long, default_value_t = 3)]
        passes: usize,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Time forward + backward of single ops (convolutions, BatchNorm, pooling, elementwise)
    /// on random input: where a training step's time goes.
    Ops {
        /// Images per batch.
        #[arg(long, default_value_t = 64)]
        batch_size: usize,
        /// Shapes as CHANNELSxSIZE, comma-separated (NB201 C=16 N=5 on 32x32: 16x32, 32x16, 64x8).
        #[arg(long, default_value = "16x32,32x16,64x8", value_delimiter = ',')]
        shapes: Vec<String>,
        /// Ops, comma-separated (default: all).
        #[arg(long, value_delimiter = ',', value_parser = BENCH_OPS)]
        ops: Vec<String>,
        /// Untimed runs first.
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        /// Timed runs (the median is reported).
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Print one JSON line per op and shape instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Compare search strategies on the NAS-Bench-201 table: R independent runs of Q queries.
    Nb201(Nb201BenchArgs),
}

/// The network a step benchmark times: NB201 at C=16, N=5 by default, or a MobileNet-space
/// network.
#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// Space of the network: nb201, mobilenet, proxyless (the MobileNet space at
    /// ProxylessNAS's preset, with skip), or ofa (a sub-network of the default Once-for-All
    /// space; its supernet runs mode path).
    #[arg(long, default_value = "nb201", value_parser = ["nb201", "mobilenet", "proxyless", "ofa"])]
    pub space: String,
    /// Architecture in the space's canonical form. Default: nb201's convolution-heavy cell;
    /// for mobilenet the layers cycle k3_e3, k5_e6, k7_e3, k3_e6, k5_e3, k7_e6; for ofa the
    /// largest sub-network (r28, depth 4, k7_e6 everywhere).
    #[arg(long)]
    pub arch: Option<String>,
    /// NB201: channels of the first stage (C). Default 16.
    #[arg(long)]
    pub channels: Option<usize>,
    /// NB201: cells per stage (N). Default 5.
    #[arg(long)]
    pub cells: Option<usize>,
    /// MobileNet: the space's sizes as a TOML file of `[space.mobilenet]`'s fields (e.g.
    /// bench/mobilenet_wide.toml). Default: the default MobileNet space (28x28x1).
    #[arg(long, value_name = "FILE.toml")]
    pub mobilenet_config: Option<PathBuf>,
}

/// The random input batch of a step benchmark.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Images per step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Input height and width. Default: 32 for nb201, the config's input_size for mobilenet,
    /// the largest resolution (28) for ofa.
    #[arg(long)]
    pub resolution: Option<usize>,
    /// Input channels. Default: 3 for nb201, the config's in_channels for mobilenet and ofa.
    #[arg(long)]
    pub in_channels: Option<usize>,
}

/// How many steps a benchmark runs, and how it reports.
#[derive(Debug, Args)]
pub struct Timing {
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Timed steps (the median is reported).
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What a NAS-Bench-201 table search optimises: a dataset's accuracy, optionally under a
/// latency budget.
#[derive(Debug, Args)]
pub struct TableTarget {
    /// Table dataset: cifar10, cifar100, imagenet16-120.
    #[arg(long, default_value = "cifar10")]
    pub dataset: String,
    /// Latency device setting of the table (e.g. pixel3, gold_6226, 2080ti_32).
    #[arg(long, value_name = "DEV")]
    pub objective_device: Option<String>,
    /// Latency budget in ms on --objective-device; slower architectures never count as best.
    #[arg(long, value_name = "MS")]
    pub max_latency: Option<f64>,
}

/// Flags of `nasr bench nb201`.
#[derive(Debug, Args)]
pub struct Nb201BenchArgs {
    /// Strategies, comma-separated: rs, rea, reinforce, nsga2.
    #[arg(long, default_value = "rs,rea,reinforce", value_delimiter = ',')]
    pub strategy: Vec<String>,
    /// Queries per run.
    #[arg(long, default_value_t = 100)]
    pub queries: usize,
    /// Independent runs per strategy.
    #[arg(long, default_value_t = 100)]
    pub runs: usize,
    /// Root seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub table: TableTarget,
    /// Print one JSON object per strategy on stdout.
    #[arg(long)]
    pub json: bool,
    /// Draw mean best-so-far accuracy vs queries (with a standard-deviation band) to this SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    pub data_dir: DataDirArg,
}

pub fn run(args: BenchArgs, compute: nasr_nn::Compute) -> Result<()> {
    match args.command {
        BenchCommand::Nb201(args) => nb201(args),
        BenchCommand::TrainStep {
            network,
            input,
            timing,
        } => {
            let bench = step_bench(&network, &input, &timing)?;
            let times = time_train_steps(&bench, compute)?;
            report(
                "train-step",
                "train step",
                &bench,
                &times,
                &timing,
                serde_json::json!({}),
            )
        }
        BenchCommand::SupernetStep {
            mode,
            network,
            input,
            timing,
        } => {
            let bench = step_bench(&network, &input, &timing)?;
            let step_mode = SupernetStepMode::ALL
                .into_iter()
                .find(|m| m.name() == mode)
                .context("--mode")?;
            let times = time_supernet_steps(&bench, step_mode, compute)?;
            let extra = serde_json::json!({ "mode": mode });
            report(
                "supernet-step",
                &format!("supernet step ({mode})"),
                &bench,
                &times,
                &timing,
                extra,
            )
        }
        BenchCommand::Infer {
            network,
            input,
            timing,
        } => {
            let bench = step_bench(&network, &input, &timing)?;
            let times = time_inference(&bench, compute)?;
            report(
                "infer",
                "inference",
                &bench,
                &times,
                &timing,
                serde_json::json!({}),
            )
        }
        BenchCommand::Eval {
            network,
            dataset,
            batch_size,
            warmup,
            passes,
            json,
            data_dir,
        } => {
            let name: nasr_data::DatasetName = dataset.parse()?;
            let data = nasr_data::load(name, &data_dir.resolve())
                .with_context(|| format!("loading {name}"))?;
            let shape = data.test.shape;
            if shape.height != shape.width {
                bail!(
                    "{name}: the benchmarks take square images, got {}x{}",
                    shape.height,
                    shape.width
                );
            }
            let input = InputArgs {
                batch_size,
                resolution: Some(shape.height),
                in_channels: Some(shape.channels),
            };
            let timing = Timing {
                warmup,
                steps: passes,
                json,
            };
            let mut bench = step_bench(&network, &input, &timing)?;
            bench.classes = data.test.classes;
            let normalization = data.train.channel_stats();
            let evaluation = time_evaluation(&bench, &data.test, &normalization, compute)?;
            let extra = serde_json::json!({
                "dataset": name.as_str(),
                "images": data.test.len(),
                "accuracy": evaluation.accuracy,
            });
            let what = format!("evaluation of {} {name} test images", data.test.len());
            report("eval", &what, &bench, &evaluation.passes, &timing, extra)
        }
        BenchCommand::Ops {
            batch_size,
            shapes,
            ops: chosen,
            warmup,
            steps,
            json,
        } => ops(batch_size, &shapes, &chosen, [warmup, steps], json, compute),
    }
}

/// Prints a step benchmark's result: a line of text saying `what` was timed, or one JSON object
/// (`"bench": name`) with `extra`'s fields.
fn report(
    name: &str,
    what: &str,
    bench: &TrainStepBench,
    times: &StepTimes,
    timing: &Timing,
    extra: serde_json::Value,
) -> Result<()> {
    let median_ms = times.median().as_secs_f64() * 1e3;
    let min_ms = times.min().as_secs_f64() * 1e3;
    if timing.json {
        let mut report = serde_json::json!({
            "bench": name,
            "framework": "nasr (burn flex)",
            "config": bench,
            "median_ms": median_ms,
            "min_ms": min_ms,
            "memory_growth_mib": times.memory_growth_mib,
            "params": times.params,
            "peak_rss_mib": peak_mib(),
            "kernel_route": kernel_route(),
        });
        if let (Some(report), serde_json::Value::Object(extra)) = (report.as_object_mut(), extra) {
            report.extend(extra);
        }
        println!("{report}");
    } else {
        let memory = times
            .memory_growth_mib
            .map_or("unknown".into(), |m| format!("{m:.0} MiB"));
        println!(
            "{what}, {}: median {median_ms:.1} ms, min {min_ms:.1} ms over {} runs; memory growth {memory}",
            describe(bench),
            times.times.len()
        );
    }
    Ok(())
}

/// `nasr bench ops`: every chosen op (all of `BENCH_OPS` when none is) at every shape.
fn ops(
    batch: usize,
    shapes: &[String],
    chosen: &[String],
    [warmup, steps]: [usize; 2],
    json: bool,
    compute: nasr_nn::Compute,
) -> Result<()> {
    let parse = |text: &String| -> Result<(usize, usize)> {
        let (c, s) = text
            .split_once('x')
            .with_context(|| format!("shape {text:?}: expected CHANNELSxSIZE, e.g. 16x32"))?;
        Ok((c.trim().parse()?, s.trim().parse()?))
    };
    let shapes = shapes.iter().map(parse).collect::<Result<Vec<_>>>()?;
    let ops: Vec<&str> = if chosen.is_empty() {
        BENCH_OPS.to_vec()
    } else {
        chosen.iter().map(String::as_str).collect()
    };
    if !json {
        println!("forward + backward, batch {batch}, median of {steps} runs (ms)");
        print!("{:<14}", "op");
        for (c, s) in &shapes {
            print!(" {:>10}", format!("{c}x{s}x{s}"));
        }
        println!();
    }
    for op in ops {
        if !json {
            print!("{op:<14}");
        }
        for &(channels, size) in &shapes {
            let ms =
                time_op(op, [batch, channels, size], warmup, steps, compute)?.as_secs_f64() * 1e3;
            if json {
                let line = serde_json::json!({
                    "bench": "ops", "framework": "nasr (burn flex)", "op": op,
                    "shape": [batch, channels, size, size], "median_ms": ms,
                });
                println!("{line}");
            } else {
                print!(" {ms:>10.2}");
            }
        }
        if !json {
            println!();
        }
    }
    Ok(())
}

/// "NB201 C=16 N=5, batch 64x3x32x32, kernel route avx512".
fn describe(bench: &TrainStepBench) -> String {
    let network = match &bench.network {
        BenchNetwork::Nb201 {
            channels, cells, ..
        } => format!("NB201 C={channels} N={cells}"),
        BenchNetwork::MobileNet { arch, .. } => format!("MobileNet {arch}"),
        BenchNetwork::Ofa { arch, .. } => format!("OFA {arch}"),
    };
    format!(
        "{network}, batch {}x{}x{}x{}, kernel route {}",
        bench.batch_size,
        bench.in_channels,
        bench.resolution,
        bench.resolution,
        kernel_route()
    )
}

/// The instruction-set route of nasr's kernels in this process (`NASR_KERNELS`).
fn kernel_route() -> &'static str {
    nasr_kernels::route::active().name()
}

/// The benchmark of the flags, with at least one timed step.
fn step_bench(network: &NetworkArgs, input: &InputArgs, timing: &Timing) -> Result<TrainStepBench> {
    let defaults = TrainStepBench::default();
    let (network, [resolution, in_channels]) = match network.space.as_str() {
        "mobilenet" | "proxyless" => {
            if network.channels.is_some() || network.cells.is_some() {
                bail!(
                    "--channels and --cells size nb201; mobilenet's sizes come from --mobilenet-config"
                );
            }
            let config = match &network.mobilenet_config {
                Some(path) => read_mobilenet_config(path)?,
                None if network.space == "proxyless" => MobileNetConfig::proxyless(),
                None => MobileNetConfig::default(),
            };
            let input = [config.input_size, config.in_channels];
            (BenchNetwork::mobilenet(config, network.arch.clone()), input)
        }
        "ofa" => {
            if network.channels.is_some() || network.cells.is_some() {
                bail!("--channels and --cells size nb201; the ofa space has its default sizes");
            }
            if network.mobilenet_config.is_some() {
                bail!("--mobilenet-config sizes the mobilenet space, not ofa");
            }
            let config = OfaConfig::default();
            let largest = *config.resolutions.iter().max().expect("resolutions");
            let input = [largest, config.in_channels];
            (BenchNetwork::ofa(config, network.arch.clone())?, input)
        }
        _ => {
            if network.mobilenet_config.is_some() {
                bail!(
                    "--mobilenet-config sizes the mobilenet space; nb201 takes --channels and --cells"
                );
            }
            let BenchNetwork::Nb201 {
                arch,
                channels,
                cells,
            } = BenchNetwork::nb201()
            else {
                unreachable!("nb201() is an NB201 network")
            };
            let network = BenchNetwork::Nb201 {
                arch: network.arch.clone().unwrap_or(arch),
                channels: network.channels.unwrap_or(channels),
                cells: network.cells.unwrap_or(cells),
            };
            (network, [defaults.resolution, defaults.in_channels])
        }
    };
    Ok(TrainStepBench {
        network,
        batch_size: input.batch_size,
        resolution: input.resolution.unwrap_or(resolution),
        in_channels: input.in_channels.unwrap_or(in_channels),
        warmup: timing.warmup,
        steps: timing.steps.max(1),
        ..defaults
    })
}

/// A MobileNet space's sizes from a TOML file of `[space.mobilenet]`'s fields.
pub(crate) fn read_mobilenet_config(path: &Path) -> Result<MobileNetConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("{}: not a MobileNet space config", path.display()))
}

/// `nasr bench nb201`: every strategy, `runs` times, then statistics, JSON and a plot.
fn nb201(args: Nb201BenchArgs) -> Result<()> {
    let table =
        Nb201Table::load(&args.data_dir.resolve()).context("loading the NAS-Bench-201 table")?;
    let dataset = args.table.dataset.parse()?;
    let budget = match (&args.table.objective_device, args.table.max_latency) {
        (Some(device), Some(max)) => Some((table.device(device)?, max)),
        (None, None) => None,
        _ => anyhow::bail!("--objective-device and --max-latency go together"),
    };
    let (_, optimum) = table
        .optimum(dataset, budget)
        .context("no architecture of the table meets the latency budget")?;
    let mut results: Vec<BenchResult> = Vec::new();
    for strategy in &args.strategy {
        let config = BenchConfig {
            strategy: strategy.clone(),
            queries: args.queries,
            runs: args.runs,
            seed: args.seed,
            dataset,
            latency_budget: budget,
            settings: StrategySettings::default(),
        };
        results.push(run_nb201_bench(&table, &config)?);
    }
    if !args.json {
        println!(
            "NAS-Bench-201 {dataset} test accuracy (%), best of {} queries, {} runs; table optimum {optimum:.2}",
            args.queries, args.runs
        );
    }
    for result in &results {
        let (mean, std) = result.mean_std();
        let found = result.found();
        let regret = found.iter().map(|a| optimum - a).sum::<f64>() / found.len().max(1) as f64;
        if args.json {
            let line = serde_json::json!({
                "strategy": result.strategy,
                "runs": args.runs,
                "queries": args.queries,
                "mean_test_accuracy": mean,
                "std_test_accuracy": std,
                "mean_regret": regret,
                "feasible_runs": found.len(),
            });
            println!("{line}");
        } else {
            let stderr = std / (found.len().max(1) as f64).sqrt();
            println!(
                "{:<10} {mean:.3} +- {std:.3} (standard error {stderr:.3}), mean regret {regret:.3}",
                result.strategy
            );
        }
    }
    if let Some(path) = &args.plot {
        crate::plot::best_so_far(&results, optimum, &format!("NAS-Bench-201 {dataset}"), path)?;
        if !args.json {
            println!("plot {}", path.display());
        }
    }
    Ok(())
}
