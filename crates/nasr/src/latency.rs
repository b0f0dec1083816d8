//! `nasr latency`: measure a latency lookup table of a MobileNet or ofa space on this machine, and
//! check its predictions against end-to-end measurements of random architectures.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use nasr_methods::space::{SpaceConfig, SpaceName};
use nasr_nn::Compute;
use nasr_nn::latency::{self, Protocol};
use nasr_search::latency::{LatencyTable, PredictionQuality};
use nasr_space::OfaSpace;
use nasr_space::mobilenet::MobileNetSpace;
use nasr_space::ofa::OfaConfig;

use crate::cli::space_names;
use nasr_space::{Arch, SeedStreams, Space};

/// Flags of `nasr latency`.
#[derive(Debug, Args)]
pub struct LatencyArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: LatencyCommand,
}

/// `nasr latency` subcommands.
#[derive(Debug, Subcommand)]
pub enum LatencyCommand {
    /// Measure the latency of every block of a MobileNet space (stem, each layer's candidates at
    /// their input shapes, head, classifier) in evaluation mode, and fit a per-network overhead
    /// on random architectures: a table for hardware-aware search on this machine.
    Measure(MeasureArgs),
    /// Predicted (the table's sums) against measured end-to-end latency of random
    /// architectures: mean relative error, RMSE and Kendall tau.
    Check(CheckArgs),
}

/// How each latency is timed.
#[derive(Debug, Args)]
pub struct ProtocolArgs {
    /// Images per forward pass.
    #[arg(long, default_value_t = 1)]
    pub batch_size: usize,
    /// Untimed passes before the timed ones.
    #[arg(long, default_value_t = 10)]
    pub warmup: usize,
    /// Timed passes; each figure is their median.
    #[arg(long, default_value_t = 100)]
    pub repeats: usize,
    /// Rounds the timed passes are spread over, every block timed in turn in each, so that the
    /// machine's drift over the measurement falls on all blocks alike.
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    /// Threads the kernels run on. One by default: at batch 1 the networks are too small to
    /// split, and two threads make each figure depend on whether the second one was awake
    /// (a table measured on two predicted 30 random networks 17% off, on one 4% off).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

impl ProtocolArgs {
    fn protocol(&self) -> Result<Protocol> {
        anyhow::ensure!(self.batch_size > 0, "--batch-size must be positive");
        anyhow::ensure!(self.repeats > 0, "--repeats must be positive");
        anyhow::ensure!(self.rounds > 0, "--rounds must be positive");
        Ok(Protocol {
            batch_size: self.batch_size,
            warmup: self.warmup,
            repeats: self.repeats,
            rounds: self.rounds,
        })
    }
}

/// Flags of `nasr latency measure`.
#[derive(Debug, Args)]
pub struct MeasureArgs {
    /// The space at its preset sizes: mobilenet (FairNAS's, no skip), proxyless
    /// (ProxylessNAS's, 13 layers with skip), both for 28x28 MNIST, or ofa (Once-for-All's
    /// elastic space at every resolution; keys add the middle width, squeeze-excite, h-swish).
    #[arg(long, default_value = "mobilenet", value_parser = space_names(&[SpaceName::Mobilenet, SpaceName::Proxyless, SpaceName::Ofa]), conflicts_with = "mobilenet_config")]
    pub space: SpaceName,
    /// The space's sizes instead: a TOML file of `[space.mobilenet]`'s fields (e.g.
    /// spaces/proxyless-imagenet.toml).
    #[arg(long, value_name = "FILE.toml")]
    pub mobilenet_config: Option<PathBuf>,
    /// Timing.
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// Architectures of varied depth the per-network and per-block overheads are fitted on
    /// (0: none).
    #[arg(long, default_value_t = 20)]
    pub fit_archs: usize,
    /// Seed of the architectures the overhead is fitted on.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The table file to write.
    #[arg(long, default_value = "latency.json")]
    pub out: PathBuf,
}

/// Flags of `nasr latency check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A table written by `nasr latency measure`.
    pub table: PathBuf,
    /// Random architectures to measure.
    #[arg(long, default_value_t = 30)]
    pub archs: usize,
    /// Check these architectures instead of random ones (e.g. a search's derived network).
    #[arg(long = "arch", value_name = "ARCH")]
    pub given: Vec<String>,
    /// Seed of the architectures (keep it apart from the table's fitting seed).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Images per forward pass (default: the table's).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Untimed passes before the timed ones.
    #[arg(long, default_value_t = 10)]
    pub warmup: usize,
    /// Timed passes per architecture.
    #[arg(long, default_value_t = 100)]
    pub repeats: usize,
    /// Rounds the timed passes are spread over, every network timed in turn in each.
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    /// Threads the kernels run on (default: the table's).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print each architecture's predicted and measured latency too.
    #[arg(long)]
    pub details: bool,
}

/// Runs `nasr latency`.
pub fn run(args: LatencyArgs, compute: Compute) -> Result<()> {
    match args.command {
        LatencyCommand::Measure(args) => {
            let threads = args.protocol.threads;
            on_threads(threads, || measure(args, compute))
        }
        LatencyCommand::Check(args) => check(args, compute),
    }
}

/// Runs `work` on a worker of a pool of `threads` threads, so that the kernels split their
/// work over that many and start it without handing it to another thread (see `main`).
fn on_threads<T: Send>(threads: usize, work: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    anyhow::ensure!(threads > 0, "--threads must be positive");
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("setting up the kernels' threads")?
        .install(work)
}

/// A bar of `total` steps named `what`.
fn bar(total: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// `count` random architectures of `space` from `seed`'s stream `name`.
fn random_archs(space: &MobileNetSpace, seed: u64, name: &str, count: usize) -> Vec<Arch> {
    let mut rng = SeedStreams::new(seed).stream(name);
    (0..count).map(|_| space.sample(&mut rng)).collect()
}

/// `count` architectures of `space` from `seed`'s stream `name`, of varied depth: the k-th
/// skips each layer that offers skip with probability k / (count - 1), so that the per-block
/// overhead can be told from the per-network one.
fn varied_depth_archs(space: &MobileNetSpace, seed: u64, name: &str, count: usize) -> Vec<Arch> {
    let mut rng = SeedStreams::new(seed).stream(name);
    let last = count.saturating_sub(1).max(1) as f64;
    (0..count)
        .map(|k| space.sample_with_skip(k as f64 / last, &mut rng))
        .collect()
}

fn measure(args: MeasureArgs, compute: Compute) -> Result<()> {
    if args.space == SpaceName::Ofa {
        return measure_ofa(args, compute);
    }
    let config = match &args.mobilenet_config {
        Some(path) => crate::bench::read_mobilenet_config(path)?,
        None => SpaceConfig::default_of(args.space)
            .mobilenet("nasr latency")?
            .clone(),
    };
    let space = MobileNetSpace::new(config)?;
    let protocol = args.protocol.protocol()?;
    let progress = bar(protocol.rounds, "blocks (rounds)");
    let mut table = latency::measure_table(&space, protocol, compute, |done, total| {
        progress.set_length(total as u64);
        progress.set_position(done as u64);
    })?;
    progress.finish_and_clear();
    let archs = varied_depth_archs(&space, args.seed, "latency-fit", args.fit_archs);
    let progress = bar(protocol.rounds, "overhead (rounds)");
    latency::fit_overhead(&mut table, &space, &archs, protocol, compute, |done, _| {
        progress.set_position(done as u64)
    })?;
    progress.finish_and_clear();
    table.save(&args.out)?;
    let m = &table.machine;
    println!(
        "{} entries at batch {} on {} ({} route, {} threads), overhead {:.4} ms per network \
         and {:.4} ms per block (fitted on {} architectures of varied depth): {}",
        table.entries.len(),
        table.batch_size,
        m.cpu,
        m.kernel_route,
        m.threads,
        table.overhead_ms,
        table.block_overhead_ms,
        table.overhead_fitted_on,
        args.out.display()
    );
    Ok(())
}

fn check(args: CheckArgs, compute: Compute) -> Result<()> {
    if is_ofa_table(&args.table) {
        let table = LatencyTable::<OfaConfig>::load(&args.table)?;
        let threads = args.threads.unwrap_or(table.machine.threads);
        return on_threads(threads, || check_ofa(args, table, compute));
    }
    let table = LatencyTable::load(&args.table)?;
    let threads = args.threads.unwrap_or(table.machine.threads);
    on_threads(threads, || check_on_threads(args, table, compute))
}

fn check_on_threads(args: CheckArgs, table: LatencyTable, compute: Compute) -> Result<()> {
    let here = latency::this_machine(compute);
    for difference in table.machine.differences(&here) {
        eprintln!(
            "warning: {} was measured on another machine ({difference}): its figures may not \
             hold here",
            args.table.display()
        );
    }
    let space = table.space()?;
    let protocol = Protocol {
        batch_size: args.batch_size.unwrap_or(table.batch_size),
        warmup: args.warmup,
        repeats: args.repeats.max(1),
        rounds: args.rounds.max(1),
    };
    if protocol.batch_size != table.batch_size {
        eprintln!(
            "warning: {} was measured at batch {}, checked at batch {}",
            args.table.display(),
            table.batch_size,
            protocol.batch_size
        );
    }
    let archs = if args.given.is_empty() {
        random_archs(&space, args.seed, "latency-check", args.archs)
    } else {
        args.given
            .iter()
            .map(|text| space.parse(text))
            .collect::<Result<Vec<_>, _>>()?
    };
    let progress = bar(protocol.rounds, "networks (rounds)");
    let (predicted, measured) =
        latency::predicted_and_measured(&table, &space, &archs, protocol, compute, |done, _| {
            progress.set_position(done as u64)
        })?;
    progress.finish_and_clear();
    let names: Vec<String> = archs.iter().map(|arch| space.format(arch)).collect();
    let details = args.details.then_some(names.as_slice());
    print_check(details, &predicted, &measured, protocol.batch_size, &table);
    Ok(())
}

/// What `nasr latency check` prints: each architecture's figures where `details` names them,
/// the prediction's quality and the quartiles.
fn print_check<S>(
    details: Option<&[String]>,
    predicted: &[f64],
    measured: &[f64],
    batch_size: usize,
    table: &LatencyTable<S>,
) {
    for ((name, p), m) in details
        .unwrap_or_default()
        .iter()
        .zip(predicted)
        .zip(measured)
    {
        println!("{name}  predicted {p:.4} ms  measured {m:.4} ms");
    }
    let quality = PredictionQuality::of(predicted, measured);
    let mean = measured.iter().sum::<f64>() / measured.len().max(1) as f64;
    println!(
        "{} architectures at batch {batch_size} (mean measured {mean:.3} ms): mean relative \
         error {:.1}%, RMSE {:.4} ms, Kendall tau {:.3} (overhead {:.4} ms from {} other \
         architectures)",
        measured.len(),
        quality.mean_relative_error * 100.0,
        quality.rmse_ms,
        quality.kendall_tau,
        table.overhead_ms,
        table.overhead_fitted_on,
    );
    let [q1, q2, q3] = quartiles(predicted);
    println!(
        "predicted latency of these architectures: quartiles {q1:.4} / {q2:.4} / {q3:.4} ms \
         (e.g. a tight and a loose --target-latency or --max-latency)"
    );
}

/// Whether `path` holds a table of the ofa space (its sizes list resolutions).
fn is_ofa_table(path: &std::path::Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|v| v["space"].get("resolutions").is_some())
}

fn measure_ofa(args: MeasureArgs, compute: Compute) -> Result<()> {
    let space = OfaSpace::new(
        SpaceConfig::default_of(SpaceName::Ofa)
            .ofa("nasr latency")?
            .clone(),
    )?;
    let protocol = args.protocol.protocol()?;
    let progress = bar(protocol.rounds, "blocks (rounds)");
    let mut table =
        nasr_nn::ofa_latency::measure_table(&space, protocol, compute, |done, total| {
            progress.set_length(total as u64);
            progress.set_position(done as u64);
        })?;
    progress.finish_and_clear();
    let archs = random_ofa_archs(&space, args.seed, "latency-fit", args.fit_archs);
    let progress = bar(protocol.rounds, "overhead (rounds)");
    nasr_nn::ofa_latency::fit_overhead(
        &mut table,
        &space,
        &archs,
        protocol,
        compute,
        |done, _| progress.set_position(done as u64),
    )?;
    progress.finish_and_clear();
    table.save(&args.out)?;
    println!(
        "{} entries at batch {} on {} ({} route, {} threads), overhead {:.4} ms per network \
         and {:.4} ms per layer (fitted on {} sub-networks): {}",
        table.entries.len(),
        table.batch_size,
        table.machine.cpu,
        table.machine.kernel_route,
        table.machine.threads,
        table.overhead_ms,
        table.block_overhead_ms,
        table.overhead_fitted_on,
        args.out.display()
    );
    Ok(())
}

/// `count` sub-networks drawn from the whole of `space` from `seed`'s stream `name`.
fn random_ofa_archs(space: &OfaSpace, seed: u64, name: &str, count: usize) -> Vec<Arch> {
    let mut rng = SeedStreams::new(seed).stream(name);
    (0..count).map(|_| space.sample(&mut rng)).collect()
}

fn check_ofa(args: CheckArgs, table: LatencyTable<OfaConfig>, compute: Compute) -> Result<()> {
    let space = OfaSpace::new(table.space.clone())?;
    let protocol = Protocol {
        batch_size: args.batch_size.unwrap_or(table.batch_size),
        warmup: args.warmup,
        repeats: args.repeats.max(1),
        rounds: args.rounds.max(1),
    };
    let archs = if args.given.is_empty() {
        random_ofa_archs(&space, args.seed, "latency-check", args.archs)
    } else {
        args.given
            .iter()
            .map(|text| space.parse(text))
            .collect::<Result<Vec<_>, _>>()?
    };
    let progress = bar(protocol.rounds, "networks (rounds)");
    let (predicted, measured) = nasr_nn::ofa_latency::predicted_and_measured(
        &table,
        &space,
        &archs,
        protocol,
        compute,
        |done, _| progress.set_position(done as u64),
    )?;
    progress.finish_and_clear();
    let names: Vec<String> = archs.iter().map(|arch| space.format(arch)).collect();
    let details = args.details.then_some(names.as_slice());
    print_check(details, &predicted, &measured, protocol.batch_size, &table);
    Ok(())
}

/// The 25th, 50th and 75th percentile of `values` (nearest rank), NaN when empty.
fn quartiles(values: &[f64]) -> [f64; 3] {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    [0.25, 0.5, 0.75].map(|q| {
        let rank = (q * sorted.len() as f64).ceil() as usize;
        sorted.get(rank.max(1) - 1).copied().unwrap_or(f64::NAN)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn quartiles_are_nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=8).rev().map(f64::from).collect();
        assert_eq!(super::quartiles(&values), [2.0, 4.0, 6.0]);
        assert!(super::quartiles(&[]).iter().all(|q| q.is_nan()));
    }
}
