//! Command-line flags. Every flag of `train` is optional so that it can override `--config`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    Search(Box<SearchArgs>),
    /// Measure how well a weight-sharing supernet ranks architectures (Kendall tau, Spearman rho).
    RankEval(RankEvalArgs),
    /// Compare search methods at equal budget over several seeds (mean ± std test accuracy).
    Compare(CompareArgs),
    /// Search a cell with DARTS on MNIST, retrain it and print its test accuracy (a few minutes).
    Demo(DemoArgs),
    /// Measure speed.
    Bench(BenchArgs),
    /// Draw a run's records as SVG charts.
    Plot(PlotArgs),
}

/// Flags of `nasr plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// What to draw.
    #[command(subcommand)]
    pub what: PlotCommand,
}

/// The charts `nasr plot` draws.
#[derive(Debug, Subcommand)]
pub enum PlotCommand {
    /// softmax(alpha) of every edge against epochs, from a DARTS run's alphas.jsonl.
    Alphas {
        /// The DARTS run folder.
        run: PathBuf,
        /// Where to write the SVG (default: RUN/alphas.svg).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
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

/// Flags of `nasr train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// TOML config to start from (a run folder's config.toml works); flags override it.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Search space of the architecture: nb201, or mobilenet (MBConv layers; sizes from the
    /// config file's [mobilenet] table, else the defaults for 28x28 inputs).
    #[arg(long, value_name = "SPACE", value_parser = ["nb201", "mobilenet", "darts"])]
    pub space: Option<String>,
    /// Architecture in the space's canonical form, e.g. for nb201
    /// '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|',
    /// for mobilenet 'k3_e3-k5_e6-k7_e3-k3_e6-k5_e3-k7_e6' (one kernel_expansion per layer).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Dataset: mnist, fashion-mnist, cifar10, cifar100, sklearn-digits.
    #[arg(long, value_name = "NAME")]
    pub data: Option<String>,
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Train on the first N training examples only (before the validation split).
    #[arg(long, value_name = "N")]
    pub train_subset: Option<usize>,
    /// Test on the first N test examples only.
    #[arg(long, value_name = "N")]
    pub test_subset: Option<usize>,
    /// Fraction of the training set held out for validation.
    #[arg(long, value_name = "F")]
    pub validation_fraction: Option<f64>,
    /// Passes over the training set.
    #[arg(long, value_name = "E")]
    pub epochs: Option<usize>,
    /// Channels of the first stage (C); later stages have 2C and 4C.
    #[arg(long, value_name = "C")]
    pub channels: Option<usize>,
    /// Cells per stage (N) of NB201 (the darts space's number of cells is --layers).
    #[arg(long, value_name = "N")]
    pub cells: Option<usize>,
    /// darts space: cells of the evaluation network, with reductions at 1/3 and 2/3 of the
    /// depth (formerly --cells).
    #[arg(long, value_name = "L")]
    pub layers: Option<usize>,
    /// darts space: weight of the auxiliary head's loss (0: no head; DARTS uses 0.4).
    #[arg(long, value_name = "W")]
    pub auxiliary_weight: Option<f64>,
    /// darts space: drop-path probability at the last epoch, ramped linearly from 0 (DARTS: 0.2).
    #[arg(long, value_name = "P")]
    pub drop_path: Option<f64>,
    /// Examples per SGD step.
    #[arg(long, value_name = "B")]
    pub batch_size: Option<usize>,
    /// Initial learning rate (cosine-annealed to --lr-min).
    #[arg(long, value_name = "LR")]
    pub lr: Option<f64>,
    /// Final learning rate.
    #[arg(long, value_name = "LR")]
    pub lr_min: Option<f64>,
    /// SGD momentum.
    #[arg(long, value_name = "M")]
    pub momentum: Option<f64>,
    /// Use Nesterov momentum (true/false).
    #[arg(long, value_name = "BOOL")]
    pub nesterov: Option<bool>,
    /// L2 weight decay.
    #[arg(long, value_name = "WD")]
    pub weight_decay: Option<f64>,
    /// Clip the global gradient norm to this value (0 disables clipping).
    #[arg(long, value_name = "NORM")]
    pub grad_clip: Option<f64>,
    /// Label smoothing factor in [0, 1).
    #[arg(long, value_name = "A")]
    pub label_smoothing: Option<f32>,
    /// Pad-and-random-crop augmentation, pixels per side (0 disables it; CIFAR uses 4).
    #[arg(long, value_name = "PIXELS")]
    pub pad_crop: Option<usize>,
    /// Random horizontal flips (true/false; leave off for digits).
    #[arg(long, value_name = "BOOL")]
    pub flip: Option<bool>,
    /// Cutout augmentation: side of the zeroed square in pixels (0 disables it; DARTS uses 16
    /// on CIFAR-10).
    #[arg(long, value_name = "PIXELS")]
    pub cutout: Option<usize>,
    /// Run seed: all randomness (split, init, data order, augmentation) derives from it.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Run folder to write (config.toml, metrics.json, timing.json, model.safetensors,
    /// checkpoints/). Rerunning into the same folder resumes from its last checkpoint.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

/// Flags of `nasr search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Search space: nb201, mobilenet (with --strategy fairnas or spos), or darts (with
    /// --strategy darts).
    #[arg(long, default_value = "nb201", value_parser = ["nb201", "mobilenet", "darts"])]
    pub space: String,
    /// Strategy. On the MobileNet space: fairnas (strictly fair supernet training) or spos
    /// (uniform single-path training), then NSGA-II for accuracy vs multiply-adds. On the
    /// NAS-Bench-201 table: rs (random), rea (regularised evolution),
    /// reinforce, nsga2 (accuracy vs latency on --objective-device). Training on data: rsws
    /// (random search with weight sharing: train a supernet, rank --candidates paths), asha and
    /// hyperband (random architectures trained from scratch, epochs as the fidelity), darts
    /// (differentiable search: mixed supernet, bilevel optimisation, derivation, retraining).
    #[arg(long, default_value = "rea")]
    pub strategy: String,
    /// Evaluator: nb201 (look architectures up in the NAS-Bench-201 table).
    #[arg(long, default_value = "nb201", value_parser = ["nb201"])]
    pub evaluator: String,
    /// Number of trials (table queries).
    #[arg(long, default_value_t = 100)]
    pub queries: usize,
    /// Run seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub table: TableTarget,
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// rsws: dataset to train the supernet on (mnist, fashion-mnist, cifar10, cifar100, sklearn-digits).
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// rsws: train on the first N training examples only (before the validation split).
    #[arg(long, value_name = "N")]
    pub train_subset: Option<usize>,
    /// rsws: supernet training epochs.
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// rsws: channels of the first stage (C).
    #[arg(long, default_value_t = 8)]
    pub channels: usize,
    /// rsws: cells per stage (N).
    #[arg(long, default_value_t = 1)]
    pub cells: usize,
    /// rsws: examples per SGD step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// asha/hyperband: epochs of the lowest rung.
    #[arg(long, default_value_t = 1)]
    pub min_epochs: usize,
    /// asha/hyperband: epochs of the top rung.
    #[arg(long, default_value_t = 4)]
    pub max_epochs: usize,
    /// asha/hyperband: reduction factor between rungs.
    #[arg(long, default_value_t = 2)]
    pub eta: usize,
    /// asha/hyperband: worker threads, each training one trial at a time.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// rsws: architectures sampled and ranked after training.
    #[arg(long, default_value_t = 50)]
    pub candidates: usize,
    /// rsws: training batches that recalibrate BatchNorm before each evaluation.
    #[arg(long, default_value_t = 8)]
    pub recal_batches: usize,
    /// darts: 1 for the first-order architecture gradient, 2 for the second (unrolled) one.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub order: u8,
    /// darts on the darts space: cells of the search and retraining networks (reductions at
    /// 1/3 and 2/3 of the depth); --channels sets their C.
    #[arg(long, default_value_t = 5)]
    pub layers: usize,
    /// darts: Adam learning rate of the architecture parameters (DARTS: 3e-4, for 50 epochs of
    /// CIFAR-10; short searches on small data need more).
    #[arg(long, default_value_t = 3e-4)]
    pub alpha_lr: f64,
    /// darts: second order's virtual step size (default: the weights' learning rate).
    #[arg(long)]
    pub xi: Option<f64>,
    /// darts: DARTS-'s auxiliary skip connection, starting at this coefficient and decaying
    /// to 0 over the search (the paper uses 1); 0 disables it.
    #[arg(long, default_value_t = 0.0)]
    pub aux_skip_beta: f64,
    /// darts: Fair DARTS (Chu et al., ECCV 2020): sigmoid op weights instead of softmax, so ops
    /// do not compete, plus the zero-one loss; a remedy for collapse onto parameter-free ops.
    #[arg(long)]
    pub fair_darts: bool,
    /// darts with --fair-darts: weight of the zero-one loss (the paper's 10).
    #[arg(long, default_value_t = 10.0)]
    pub zero_one_weight: f64,
    /// darts: epochs of the derived architecture's retraining from scratch (0 skips it).
    #[arg(long, default_value_t = 1)]
    pub retrain_epochs: usize,
    /// darts: retrain on the first N training examples (default: --train-subset).
    #[arg(long, value_name = "N")]
    pub retrain_subset: Option<usize>,
    /// Test on the first N test examples only.
    #[arg(long, value_name = "N")]
    pub test_subset: Option<usize>,
    /// Run folder (experiment.sqlite, trials.jsonl, best.json). Rerunning into it resumes.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Do not draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// Flags of `nasr rank-eval`.
#[derive(Debug, Args)]
pub struct RankEvalArgs {
    /// Search space. nb201 ranks an RSWS supernet; mobilenet compares a strictly fair
    /// (FairNAS) supernet with a uniformly sampled one, at matched updates per option.
    #[arg(long, default_value = "nb201", value_parser = ["nb201", "mobilenet"])]
    pub space: String,
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

/// Flags of `nasr compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Methods, comma-separated: rs, rea, reinforce, rsws, asha, hyperband (rs is always run).
    #[arg(long, default_value = "rs,rsws,asha", value_delimiter = ',')]
    pub methods: Vec<String>,
    /// Number of seeds (0, 1, ..., S-1); each method runs once per seed.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Search budget per run, in training epochs (RSWS spends it on supernet training).
    #[arg(long, default_value_t = 8)]
    pub budget_epochs: usize,
    /// Epochs of one standalone trial (rs, rea, reinforce) and of ASHA's top rung.
    #[arg(long, default_value_t = 2)]
    pub trial_epochs: usize,
    /// Epochs of the final retraining of each chosen architecture.
    #[arg(long, default_value_t = 2)]
    pub final_epochs: usize,
    /// RSWS: candidates ranked after supernet training.
    #[arg(long, default_value_t = 20)]
    pub candidates: usize,
    /// Dataset (mnist, fashion-mnist, cifar10, cifar100, sklearn-digits).
    #[arg(long, default_value = "sklearn-digits")]
    pub data: String,
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Train on the first N training examples only (before the validation split).
    #[arg(long, value_name = "N")]
    pub train_subset: Option<usize>,
    /// Channels of the first stage (C).
    #[arg(long, default_value_t = 4)]
    pub channels: usize,
    /// Cells per stage (N).
    #[arg(long, default_value_t = 1)]
    pub cells: usize,
    /// Examples per SGD step.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Output folder (compare.json, compare.md, one run folder per method and seed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Flags of `nasr data`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// What to do with data.
    #[command(subcommand)]
    pub command: DataCommand,
}

/// `nasr data` subcommands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download a dataset and verify its sha256 before writing anything.
    Fetch {
        /// mnist, fashion-mnist, cifar10 or cifar100.
        name: String,
        /// Folder to write into (the files go to DIR/NAME/).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Download from this URL prefix instead of the dataset's default host.
        #[arg(long, value_name = "URL")]
        mirror: Option<String>,
    },
}

/// Flags of `nasr demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Run folder to write.
    #[arg(long, value_name = "DIR", default_value = "runs/demo")]
    pub out: PathBuf,
    /// Run seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

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
