//! The top-level command line: the global flags, the subcommands, and the flag groups that
//! several commands share. Each command's own flags live in its module (`train.rs`,
//! `search/`, ...), beside the code that runs it.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use nasr_methods::experiment::SearchStrategy;
use nasr_methods::space::SpaceName;

use crate::bench::BenchArgs;
use crate::compare::CompareArgs;
use crate::data::DataArgs;
use crate::demo::DemoArgs;
use crate::plot::PlotArgs;
use crate::rank_eval::RankEvalArgs;
use crate::search::SearchArgs;
use crate::train::TrainArgs;

/// nasr: neural architecture search that trains, reproduces and ships the network it finds.
#[derive(Debug, Parser)]
#[command(name = "nasr", version, about, long_about = None)]
pub struct Cli {
    /// Where to compute: `cpu` (always built), `gpu` (wgpu; a build with `--features gpu`) or
    /// `cuda` (a build with `--features cuda`).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "cpu",
        env = "NASR_DEVICE"
    )]
    pub device: DeviceArg,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The `--device` values.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum DeviceArg {
    /// burn's flex CPU backend with nasr's kernels.
    Cpu,
    /// burn's wgpu backend (Vulkan on NVIDIA).
    Gpu,
    /// burn's CUDA backend.
    Cuda,
}

impl From<DeviceArg> for nasr_nn::Compute {
    fn from(device: DeviceArg) -> Self {
        match device {
            DeviceArg::Cpu => nasr_nn::Compute::Cpu,
            DeviceArg::Gpu => nasr_nn::Compute::Gpu,
            DeviceArg::Cuda => nasr_nn::Compute::Cuda,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one architecture from scratch and write a run folder.
    Train(Box<TrainArgs>),
    /// Download and verify datasets.
    Data(DataArgs),
    /// Search an architecture space, recording every trial; rerun with the same --out to resume.
    /// `-c FILE.toml` runs any method from an experiment file: a flag given overrides the
    /// file's value, one left out keeps it (without -c, a flag left out takes its default).
    Search(Box<SearchArgs>),
    /// Measure how well a weight-sharing supernet ranks architectures (Kendall tau, Spearman rho).
    RankEval(RankEvalArgs),
    /// Trained networks' test accuracy against a fault rate (FTT-NAS's fault models), as JSON
    /// and an SVG curve.
    Robustness(crate::robustness::RobustnessArgs),
    /// Compare search methods at equal budget over several seeds (mean ± std test accuracy).
    Compare(CompareArgs),
    /// Search a cell with DARTS on MNIST, retrain it and print its test accuracy (a few minutes).
    Demo(DemoArgs),
    /// Measure speed.
    Bench(BenchArgs),
    /// Measure a latency lookup table of a MobileNet or ofa space on this machine, or check one.
    Latency(crate::latency::LatencyArgs),
    /// Draw a run's records as SVG charts.
    Plot(PlotArgs),
    /// After a Once-for-All run: cut a sub-network out, fit the accuracy predictor, specialise
    /// for a budget.
    Ofa(crate::ofa::OfaArgs),
    /// Write a trained run's network as ONNX (dynamic batch, normalisation in the graph).
    Export(crate::export::ExportArgs),
    /// Classify images (IDX, CIFAR, PNG) with a trained run or an exported ONNX model.
    Predict(crate::predict::PredictArgs),
    /// Write a run's report: one self-contained HTML page (charts, architecture, config).
    Report(crate::report::ReportArgs),
    /// A search shared by workers through a PostgreSQL database: create, status, list, delete.
    Study(crate::study::StudyArgs),
    /// Work on a shared study until it is finished (stateless: start as many as you like).
    Worker(crate::study::WorkerArgs),
}

/// Where data lives: `--data-dir`, else `$NASR_DATA`, else the user's cache folder.
#[derive(Debug, Args, Clone)]
pub struct DataDirArg {
    /// Folder holding one sub-folder per dataset (mnist/, cifar10/, ...).
    /// Default: $NASR_DATA, else ~/.cache/nasr/data.
    #[arg(long, env = "NASR_DATA", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DataDirArg {
    /// The data folder to use.
    pub fn resolve(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(nasr_data::cache_data_dir)
    }
}

/// Parses a `--space` flag into [`SpaceName`], offering `spaces` (listed in the help).
pub fn space_names(spaces: &'static [SpaceName]) -> impl TypedValueParser<Value = SpaceName> {
    PossibleValuesParser::new(spaces.iter().map(|s| s.as_str())).try_map(|name| name.parse())
}

/// Parses a `--strategy` flag into [`SearchStrategy`], offering every strategy.
pub fn strategy_names() -> impl TypedValueParser<Value = SearchStrategy> {
    PossibleValuesParser::new(SearchStrategy::ALL.map(SearchStrategy::as_str))
        .try_map(|name| name.parse())
}
