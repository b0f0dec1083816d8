//! `nasr bench`: train-step, supernet-step and nb201.

use anyhow::{Context, Result};
use nasr_nn::bench::{
    SupernetStepMode, TrainStepBench, median, time_supernet_steps, time_train_steps,
};
use nasr_search::bench::{BenchConfig, BenchResult, run_nb201_bench};
use nasr_search::nb201_table::Nb201Table;
use nasr_search::registry::StrategySettings;

use crate::cli::{BenchArgs, BenchCommand, Nb201BenchArgs};

pub fn run(args: BenchArgs) -> Result<()> {
    match args.command {
        BenchCommand::Nb201(args) => nb201(args),
        BenchCommand::SupernetStep {
            mode,
            channels,
            cells,
            batch_size,
            resolution,
            in_channels,
            warmup,
            steps,
            json,
        } => {
            let bench = TrainStepBench {
                channels,
                cells,
                batch_size,
                resolution,
                in_channels,
                warmup,
                steps: steps.max(1),
                ..TrainStepBench::default()
            };
            let step_mode = match mode.as_str() {
                "path" => SupernetStepMode::Path,
                "mixed" => SupernetStepMode::Mixed,
                "darts1" => SupernetStepMode::DartsFirstOrder,
                _ => SupernetStepMode::DartsSecondOrder,
            };
            let times = time_supernet_steps(&bench, step_mode)?;
            let median_ms = median(&times).as_secs_f64() * 1e3;
            let peak = peak_rss_mib();
            if json {
                let report = serde_json::json!({
                    "bench": "supernet-step",
                    "mode": mode,
                    "channels": channels,
                    "cells": cells,
                    "batch": [batch_size, in_channels, resolution, resolution],
                    "steps": bench.steps,
                    "median_ms": median_ms,
                    "peak_rss_mib": peak,
                });
                println!("{report}");
            } else {
                println!(
                    "supernet step ({mode}), NB201 C={channels} N={cells}, batch {batch_size}x{in_channels}x{resolution}x{resolution}: \
                     median {median_ms:.1} ms over {} steps, peak memory {}",
                    times.len(),
                    peak.map_or("unknown".into(), |p| format!("{p:.0} MiB"))
                );
            }
            Ok(())
        }
        BenchCommand::TrainStep {
            channels,
            cells,
            batch_size,
            resolution,
            in_channels,
            warmup,
            steps,
            json,
        } => {
            let bench = TrainStepBench {
                channels,
                cells,
                batch_size,
                resolution,
                in_channels,
                warmup,
                steps: steps.max(1),
                ..TrainStepBench::default()
            };
            let times = time_train_steps(&bench)?;
            let median_ms = median(&times).as_secs_f64() * 1e3;
            let min_ms = times.iter().min().map_or(0.0, |t| t.as_secs_f64() * 1e3);
            if json {
                let report = serde_json::json!({
                    "bench": "train-step",
                    "framework": "nasr (burn flex)",
                    "config": bench,
                    "median_ms": median_ms,
                    "min_ms": min_ms,
                    "peak_rss_mib": peak_rss_mib(),
                });
                println!("{report}");
            } else {
                println!(
                    "train step, NB201 C={channels} N={cells}, batch {batch_size}x{in_channels}x{resolution}x{resolution}: \
                     median {median_ms:.1} ms, min {min_ms:.1} ms over {} steps",
                    times.len()
                );
            }
            Ok(())
        }
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
    let dataset = args.dataset.parse()?;
    let budget = match (&args.objective_device, args.max_latency) {
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
