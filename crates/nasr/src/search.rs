//! `nasr search`: a query-based search on the NAS-Bench-201 table, recorded and resumable.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nasr_search::experiment::{SearchConfig, run_table_search};
use nasr_search::nb201_table::Nb201Table;
use nasr_search::registry::StrategySettings;

use nasr_methods::multi_fidelity::{MultiFidelityConfig, run_multi_fidelity};
use nasr_methods::rsws::{RswsConfig, rsws_run};
use nasr_methods::run::{DataConfig, NetworkSize, RunOptions, TrainRunConfig};
use nasr_nn::train::TrainConfig;
use nasr_search::nb201_table::Nb201Dataset;

use crate::cli::SearchArgs;

pub fn run(args: SearchArgs) -> Result<()> {
    match args.strategy.as_str() {
        "fairnas" | "spos" => return fairnas(args),
        _ if args.space == "mobilenet" => {
            anyhow::bail!(
                "the mobilenet space searches with --strategy fairnas or spos, not {}",
                args.strategy
            )
        }
        "darts" => return crate::darts::run(args),
        _ if args.space == "darts" => {
            anyhow::bail!(
                "the darts space searches with --strategy darts, not {}",
                args.strategy
            )
        }
        "rsws" => return rsws(args),
        "asha" | "hyperband" => return multi_fidelity(args),
        _ => {}
    }
    let data_dir = args.data_dir.resolve();
    let table = Nb201Table::load(&data_dir).context("loading the NAS-Bench-201 table")?;
    let config = SearchConfig {
        seed: args.seed,
        strategy: args.strategy.parse()?,
        queries: args.queries,
        dataset: args.table.dataset.parse()?,
        objective_device: args.table.objective_device.clone(),
        max_latency_ms: args.table.max_latency,
        settings: StrategySettings::default(),
    };
    let bar = ProgressBar::new(args.queries as u64);
    if args.no_progress {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{} on nb201/{}", args.strategy, config.dataset));
    let mut best = f64::NEG_INFINITY;
    let result = run_table_search(&config, &table, &args.out, &mut |record| {
        if let Some(accuracy) = record.metrics.get("accuracy") {
            best = best.max(*accuracy);
        }
        bar.set_position(record.id + 1);
        bar.set_message(format!("best {best:.2}%"));
    })
    .with_context(|| format!("search into {}", args.out.display()))?;
    bar.finish_and_clear();
    match result {
        Some(best) => {
            println!(
                "best {} (NB201 index {}, trial {})",
                best.arch, best.index, best.trial
            );
            for (name, value) in &best.metrics {
                println!("  {name} {value}");
            }
        }
        None => println!("no feasible architecture found in {} queries", args.queries),
    }
    println!("run folder {}", args.out.display());
    Ok(())
}

/// `nasr search --strategy rsws`: random search with weight sharing on real data.
fn rsws(args: SearchArgs) -> Result<()> {
    let data_dir = args.data_dir.resolve();
    let template = search_template(&args)?;
    let config = RswsConfig {
        seed: args.seed,
        space: args.space.parse()?,
        data: template.data,
        network: template.network,
        train: TrainConfig {
            epochs: args.epochs,
            ..template.train
        },
        candidates: args.candidates,
        recal_batches: args.recal_batches,
    };
    let options = RunOptions {
        show_progress: !args.no_progress,
    };
    let result = rsws_run(&config, &data_dir, &args.out, &options)
        .with_context(|| format!("RSWS search into {}", args.out.display()))?;
    for epoch in &result.epochs {
        println!(
            "supernet epoch {:>3}  train loss {:.4}  train acc {:.4}  random-path valid acc {:.4}",
            epoch.epoch, epoch.train_loss, epoch.train_accuracy, epoch.valid_accuracy
        );
    }
    let best = &result.best;
    println!(
        "best of {} candidates: {} (NB201 index {})",
        result.candidates, best.arch, best.index
    );
    println!(
        "  supernet validation accuracy {:.4}",
        best.supernet_valid_accuracy
    );
    // For orientation only: the table was measured on CIFAR-10, not on this data.
    if let Ok(table) = Nb201Table::load(&data_dir) {
        println!(
            "  NAS-Bench-201 CIFAR-10 test accuracy of this cell: {:.2}%",
            table.accuracy(best.index, Nb201Dataset::Cifar10)
        );
    }
    println!("run folder {}", args.out.display());
    Ok(())
}

/// `nasr search --strategy asha|hyperband`: random architectures trained from scratch, with
/// early stopping by successive halving.
fn multi_fidelity(args: SearchArgs) -> Result<()> {
    let data_dir = args.data_dir.resolve();
    let config = MultiFidelityConfig {
        strategy: args.strategy.parse()?,
        queries: args.queries,
        workers: args.workers,
        min_epochs: args.min_epochs,
        max_epochs: args.max_epochs,
        eta: args.eta,
        run: search_template(&args)?,
    };
    let options = RunOptions {
        show_progress: !args.no_progress,
    };
    let quiet = args.no_progress;
    let summary = run_multi_fidelity(&config, &data_dir, &args.out, &options, &mut |record| {
        if !quiet {
            let accuracy = record.metrics.get("accuracy").copied().unwrap_or(f64::NAN);
            eprintln!(
                "trial {:>3}  {:>2} epochs  valid acc {accuracy:.4}",
                record.id,
                record.fidelity.rank()
            );
        }
    })
    .with_context(|| format!("{} search into {}", args.strategy, args.out.display()))?;
    println!(
        "rungs {:?} epochs; {} architectures started, {} stopped early; {} epochs trained in all",
        summary.rung_epochs, summary.started, summary.stopped_early, summary.epochs_trained
    );
    match &summary.best {
        Some(best) => {
            println!(
                "best {} (NB201 index {}), {} epochs",
                best.arch, best.index, best.epochs
            );
            println!(
                "  valid accuracy {:.4}, test accuracy {:.4}",
                best.valid_accuracy, best.test_accuracy
            );
        }
        None => println!("no trial finished"),
    }
    println!("run folder {}", args.out.display());
    Ok(())
}

/// The training settings that the data-driven commands share: dataset and subset, network
/// sizes (C, N), batch size and seed; everything else at its default.
pub fn run_template(
    space: &str,
    data: &str,
    train_subset: Option<usize>,
    (channels, cells): (usize, usize),
    batch_size: usize,
    seed: u64,
) -> Result<TrainRunConfig> {
    Ok(TrainRunConfig {
        seed,
        space: space.parse()?,
        data: DataConfig {
            name: data.parse()?,
            train_subset,
            ..DataConfig::default()
        },
        network: NetworkSize { channels, cells },
        train: TrainConfig {
            batch_size,
            ..TrainConfig::default()
        },
        ..TrainRunConfig::default()
    })
}

/// The data and training settings of a search on data, from its flags.
fn search_template(args: &SearchArgs) -> Result<TrainRunConfig> {
    run_template(
        &args.space,
        &args.data,
        args.train_subset,
        (args.channels, args.cells),
        args.batch_size,
        args.seed,
    )
}

/// `nasr search --space mobilenet --strategy fairnas|spos`: train the supernet, then NSGA-II
/// for supernet accuracy against multiply-adds; the Pareto front to front.json and front.svg.
fn fairnas(args: SearchArgs) -> Result<()> {
    use nasr_methods::fairnas::{FairNasConfig, PathSampling, fairnas_run};

    let template = search_template(&args)?;
    let config = FairNasConfig {
        seed: args.seed,
        data: template.data,
        train: TrainConfig {
            epochs: args.epochs,
            // burn's flex backend lowers depthwise convs to matrices whose size grows with the
            // batch (gigabytes at 500 images of 28x28 with wide 7x7 layers): evaluate in
            // training-sized batches.
            eval_batch_size: args.batch_size,
            ..template.train
        },
        sampling: if args.strategy == "fairnas" {
            PathSampling::StrictFair
        } else {
            PathSampling::Uniform
        },
        queries: args.queries,
        recal_batches: args.recal_batches,
        ..FairNasConfig::default()
    };
    let options = RunOptions {
        show_progress: !args.no_progress,
    };
    let mut front = fairnas_run(&config, &args.data_dir.resolve(), &args.out, &options)
        .with_context(|| format!("{} search into {}", args.strategy, args.out.display()))?;
    front.sort_by_key(|m| m.flops);
    println!(
        "Pareto front: {} architectures (supernet validation accuracy vs multiply-adds)",
        front.len()
    );
    for member in &front {
        println!(
            "  {:>10} MACs  {:>7} params  acc {:.4}  {}",
            member.flops, member.params, member.supernet_valid_accuracy, member.arch
        );
    }
    let points: Vec<(f64, f64)> = front
        .iter()
        .map(|m| (m.flops as f64 / 1e6, m.supernet_valid_accuracy))
        .collect();
    let svg = args.out.join("front.svg");
    crate::plot::pareto(
        &points,
        &format!("{} on the MobileNet space", args.strategy),
        &svg,
    )?;
    println!(
        "retrain one with: nasr train --space mobilenet --arch ARCH --data {} ...",
        args.data
    );
    println!("run folder {} (front.json, front.svg)", args.out.display());
    Ok(())
}
