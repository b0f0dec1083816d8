//! `nasr bench`: train-step, supernet-step and nb201.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use nasr_methods::bench::{
    BENCH_OPS, SupernetStepMode, TrainStepBench, median, time_inference, time_op,
    time_supernet_steps, time_train_steps,
};
use nasr_search::bench::{BenchConfig, BenchResult, run_nb201_bench};
use nasr_search::nb201_table::Nb201Table;
use nasr_search::registry::StrategySettings;

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
    /// Time one training step (forward, backward, SGD update) of the NB201 network on random data.
    TrainStep {
        #[command(flatten)]
        sizes: StepSizes,
        /// Untimed warm-up steps.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Timed steps (the median is reported).
        #[arg(long, default_value_t = 20)]
        steps: usize,
    },
    /// Compare search strategies on the NAS-Bench-201 table: R independent runs of Q queries.
    Nb201(Nb201BenchArgs),
    /// Time inference of the NB201 network (forward only, evaluation mode) on random data.
    Infer {
        #[command(flatten)]
        sizes: StepSizes,
        /// Untimed runs first.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Timed runs (the median is reported).
        #[arg(long, default_value_t = 20)]
        steps: usize,
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
    /// Time one step of the NB201 supernet on random data, and report this process's peak
    /// memory (run each mode in its own process to compare memory).
    SupernetStep {
        /// path (one sampled path), mixed (DARTS' weight step over all ops), darts1 / darts2
        /// (a whole first- / second-order DARTS step: alpha step, then weight step).
        #[arg(long, default_value = "mixed", value_parser = ["path", "mixed", "darts1", "darts2"])]
        mode: String,
        #[command(flatten)]
        sizes: StepSizes,
        /// Untimed warm-up steps.
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        /// Timed steps (the median is reported).
        #[arg(long, default_value_t = 10)]
        steps: usize,
    },
}

/// Network and batch sizes of the step benchmarks (NB201 at C=16, N=5 on 3x32x32 by default).
#[derive(Debug, Args)]
pub struct StepSizes {
    /// Channels of the first stage (C).
    #[arg(long, default_value_t = 16)]
    pub channels: usize,
    /// Cells per stage (N).
    #[arg(long, default_value_t = 5)]
    pub cells: usize,
    /// Images per step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Input height and width.
    #[arg(long, default_value_t = 32)]
    pub resolution: usize,
    /// Input channels.
    #[arg(long, default_value_t = 3)]
    pub in_channels: usize,
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
        BenchCommand::Infer {
            sizes,
            warmup,
            steps,
        } => {
            let bench = step_bench(&sizes, warmup, steps);
            let times = time_inference(&bench, compute)?;
            let median_ms = median(&times).as_secs_f64() * 1e3;
            if sizes.json {
                let report = serde_json::json!({
                    "bench": "infer",
                    "framework": "nasr (burn flex)",
                    "config": bench,
                    "median_ms": median_ms,
                    "peak_rss_mib": peak_rss_mib(),
                    "kernel_route": kernel_route(),
                });
                println!("{report}");
            } else {
                println!(
                    "inference, {}: median {median_ms:.2} ms over {} runs",
                    describe(&bench),
                    times.len()
                );
            }
            Ok(())
        }
        BenchCommand::Ops {
            batch_size,
            shapes,
            warmup,
            steps,
            json,
        } => ops(batch_size, &shapes, [warmup, steps], json, compute),
        BenchCommand::SupernetStep {
            mode,
            sizes,
            warmup,
            steps,
        } => {
            let bench = step_bench(&sizes, warmup, steps);
            let step_mode = match mode.as_str() {
                "path" => SupernetStepMode::Path,
                "mixed" => SupernetStepMode::Mixed,
                "darts1" => SupernetStepMode::DartsFirstOrder,
                _ => SupernetStepMode::DartsSecondOrder,
            };
            let times = time_supernet_steps(&bench, step_mode, compute)?;
            let median_ms = median(&times).as_secs_f64() * 1e3;
            let peak = peak_rss_mib();
            if sizes.json {
                let report = serde_json::json!({
                    "bench": "supernet-step",
                    "mode": mode,
                    "channels": bench.channels,
                    "cells": bench.cells,
                    "batch": [bench.batch_size, bench.in_channels, bench.resolution, bench.resolution],
                    "steps": bench.steps,
                    "median_ms": median_ms,
                    "peak_rss_mib": peak,
                    "kernel_route": kernel_route(),
                });
                println!("{report}");
            } else {
                println!(
                    "supernet step ({mode}), {}: median {median_ms:.1} ms over {} steps, peak memory {}",
                    describe(&bench),
                    times.len(),
                    peak.map_or("unknown".into(), |p| format!("{p:.0} MiB"))
                );
            }
            Ok(())
        }
        BenchCommand::TrainStep {
            sizes,
            warmup,
            steps,
        } => {
            let bench = step_bench(&sizes, warmup, steps);
            let times = time_train_steps(&bench, compute)?;
            let median_ms = median(&times).as_secs_f64() * 1e3;
            let min_ms = times.iter().min().map_or(0.0, |t| t.as_secs_f64() * 1e3);
            if sizes.json {
                let report = serde_json::json!({
                    "bench": "train-step",
                    "framework": "nasr (burn flex)",
                    "config": bench,
                    "median_ms": median_ms,
                    "min_ms": min_ms,
                    "peak_rss_mib": peak_rss_mib(),
                    "kernel_route": kernel_route(),
                });
                println!("{report}");
            } else {
                println!(
                    "train step, {}: median {median_ms:.1} ms, min {min_ms:.1} ms over {} steps",
                    describe(&bench),
                    times.len()
                );
            }
            Ok(())
        }
    }
}

/// `nasr bench ops`: every op of `BENCH_OPS` at every shape.
fn ops(
    batch: usize,
    shapes: &[String],
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
    if !json {
        println!("forward + backward, batch {batch}, median of {steps} runs (ms)");
        print!("{:<14}", "op");
        for (c, s) in &shapes {
            print!(" {:>10}", format!("{c}x{s}x{s}"));
        }
        println!();
    }
    for op in BENCH_OPS {
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

/// "NB201 C=16 N=5, batch 64x3x32x32".
fn describe(bench: &TrainStepBench) -> String {
    format!(
        "NB201 C={} N={}, batch {}x{}x{}x{}, kernel route {}",
        bench.channels,
        bench.cells,
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

/// The benchmark of `sizes`, with at least one timed step.
fn step_bench(sizes: &StepSizes, warmup: usize, steps: usize) -> TrainStepBench {
    TrainStepBench {
        channels: sizes.channels,
        cells: sizes.cells,
        batch_size: sizes.batch_size,
        resolution: sizes.resolution,
        in_channels: sizes.in_channels,
        warmup,
        steps: steps.max(1),
        ..TrainStepBench::default()
    }
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if the system reports it.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
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
