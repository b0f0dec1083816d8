//! `nasr train`: resolve the config (file, then flags), run, print the result.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use nasr_methods::run::{RunMetrics, RunOptions, TrainRunConfig, train_run};
use nasr_methods::space::{SpaceConfig, SpaceName};

use crate::cli::{DataDirArg, space_names};

/// Flags of `nasr train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// TOML config to start from (a run folder's config.toml, or an experiment file with
    /// `method = "train"`); flags override it.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Search space of the architecture: nb201, mobilenet (MBConv layers; sizes from the
    /// config file's [space.mobilenet] table, else the defaults for 28x28 inputs) or darts
    /// (DARTS' evaluation network; sizes from [space.darts], --channels and --layers) or ofa
    /// (one Once-for-All sub-network, trained from scratch; sizes from [space.ofa]).
    #[arg(long, value_name = "SPACE", value_parser = space_names(&SpaceName::ALL))]
    pub space: Option<SpaceName>,
    /// Architecture in the space's canonical form, e.g. for nb201
    /// '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|',
    /// for mobilenet 'k3_e3-k5_e6-k7_e3-k3_e6-k5_e3-k7_e6' (one kernel_expansion per layer),
    /// for ofa 'r28|k3_e4-k5_e6|...' (resolution, then each unit's layers).
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
    /// Channels of the first stage (C) of an nb201 or darts network; later stages have 2C and
    /// 4C (a mobilenet network's widths are its config's stages).
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
    /// Start from the weights of this run folder's model.safetensors instead of a fresh draw
    /// (fine-tuning; e.g. a folder written by `nasr ofa extract`, whose config.toml --config
    /// reads).
    #[arg(long, value_name = "DIR")]
    pub init_from: Option<PathBuf>,
    #[command(flatten)]
    pub faults: crate::fault_flags::FaultArgs,
    /// With --fault: fault-tolerant training, each step's loss (1 - G) * CE_clean + G *
    /// CE_faulty (FTT-NAS; aw_nas's final training uses 0.7) [default: 0.7].
    #[arg(long, value_name = "G")]
    pub fault_gamma: Option<f64>,
    /// Run folder to write (config.toml, metrics.json, timing.json, model.safetensors,
    /// checkpoints/). Rerunning into the same folder resumes from its last checkpoint.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

pub fn run(args: TrainArgs, compute: nasr_nn::Compute) -> Result<()> {
    let config = resolve(&args)?;
    let data_dir = args.data_dir.resolve();
    let options = RunOptions {
        show_progress: !args.no_progress,
        compute,
    };
    let metrics = train_run(&config, &data_dir, &args.out, &options)
        .with_context(|| format!("training run into {}", args.out.display()))?;
    print_metrics(&metrics, &args.out);
    Ok(())
}

/// What `nasr train` prints: the epochs, the architecture and its size, the test accuracy.
pub fn print_metrics(metrics: &RunMetrics, out: &Path) {
    for epoch in &metrics.epochs {
        println!(
            "epoch {:>3}  train loss {:.4}  train acc {:.4}  valid acc {:.4}",
            epoch.epoch, epoch.train_loss, epoch.train_accuracy, epoch.valid_accuracy
        );
    }
    match metrics.arch_index {
        Some(index) => println!("arch {} (NB201 index {index})", metrics.arch),
        None => println!("arch {}", metrics.arch),
    }
    println!("parameters {}", metrics.parameters);
    if let Some(flops) = metrics.flops {
        println!("multiply-adds {flops}");
    }
    println!("test accuracy {:.4}", metrics.test_accuracy);
    println!("run folder {}", out.display());
}

/// The config file (or defaults), with every given flag applied on top.
fn resolve(args: &TrainArgs) -> Result<TrainRunConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            read_config(&text)
                .with_context(|| format!("{}: not a valid nasr train config", path.display()))?
        }
        None => TrainRunConfig::default(),
    };
    if let Some(space) = args.space {
        config.space = config.space.clone().with_name(space);
    }
    set(&mut config.arch, args.arch.clone());
    if let Some(name) = &args.data {
        config.data.name = name.parse()?;
    }
    if args.train_subset.is_some() {
        config.data.train_subset = args.train_subset;
    }
    if args.test_subset.is_some() {
        config.data.test_subset = args.test_subset;
    }
    set(
        &mut config.data.validation_fraction,
        args.validation_fraction,
    );
    size_network(&mut config.space, args)?;
    set(&mut config.seed, args.seed);
    if args.init_from.is_some() {
        config.init_from = args.init_from.clone();
    }
    match (args.faults.model()?, args.fault_gamma) {
        (Some(model), gamma) => {
            config.fault = Some(nasr_nn::train::fault_tolerant::FaultTolerance {
                model,
                gamma: gamma.unwrap_or(0.7),
            })
        }
        (None, Some(_)) => anyhow::bail!("--fault-gamma needs --fault MODEL"),
        (None, None) => {}
    }
    let train = &mut config.train;
    set(&mut train.epochs, args.epochs);
    set(&mut train.batch_size, args.batch_size);
    set(&mut train.lr, args.lr);
    set(&mut train.lr_min, args.lr_min);
    set(&mut train.sgd.momentum, args.momentum);
    set(&mut train.sgd.nesterov, args.nesterov);
    set(&mut train.sgd.weight_decay, args.weight_decay);
    if let Some(clip) = args.grad_clip {
        train.sgd.grad_clip = (clip > 0.0).then_some(clip);
    }
    set(&mut train.label_smoothing, args.label_smoothing);
    set(&mut train.augmentation.pad_crop, args.pad_crop);
    set(&mut train.augmentation.horizontal_flip, args.flip);
    set(&mut train.augmentation.cutout, args.cutout);
    if config.arch.is_empty() {
        anyhow::bail!("no architecture given: pass --arch or set `arch` in the --config file");
    }
    Ok(config)
}

/// Sets the network sizes the flags give, refusing a flag of another space: `--channels`
/// sizes NB201 and DARTS networks, `--cells` NB201's, `--layers`, `--auxiliary-weight` and
/// `--drop-path` the darts space's; a MobileNet network is sized by its config table.
fn size_network(space: &mut SpaceConfig, args: &TrainArgs) -> Result<()> {
    let flags = SizeFlags {
        channels: args.channels,
        cells: args.cells,
        layers: args.layers,
    };
    size_space(space, flags)?;
    if let SpaceConfig::Darts(network) = space {
        set(&mut network.auxiliary_weight, args.auxiliary_weight);
        set(&mut network.drop_path, args.drop_path);
    }
    let darts_only = [
        ("--auxiliary-weight", args.auxiliary_weight.is_some()),
        ("--drop-path", args.drop_path.is_some()),
    ];
    if let Some((flag, _)) = darts_only.iter().find(|(_, given)| *given)
        && space.name() != SpaceName::Darts
    {
        anyhow::bail!(
            "{flag} applies to the darts space; the space here is {}",
            space.name()
        );
    }
    Ok(())
}

/// A train config: a run folder's `config.toml`, or an experiment file of method `train`.
fn read_config(text: &str) -> Result<TrainRunConfig> {
    let mut table: toml::Table = toml::from_str(text)?;
    nasr_methods::space::refuse_config_format_1(&table)?;
    match table.remove("method") {
        // Read from the text, so that an error points at its line.
        None => Ok(toml::from_str(text)?),
        Some(toml::Value::String(method)) if method == "train" => {
            Ok(toml::Value::Table(table).try_into()?)
        }
        Some(other) => anyhow::bail!(
            "method = {other} is not a training run (method = \"train\"); \
             run the other methods with `nasr search -c`"
        ),
    }
}

/// The network-size flags `nasr train` and `nasr search` share, as given.
#[derive(Debug, Clone, Copy)]
pub struct SizeFlags {
    /// `--channels`: C of an NB201 or DARTS network.
    pub channels: Option<usize>,
    /// `--cells`: NB201's cells per stage.
    pub cells: Option<usize>,
    /// `--layers`: the darts space's number of cells.
    pub layers: Option<usize>,
}

/// Sets the sizes `--channels`, `--cells` and `--layers` give: `--cells` is NB201's cells per
/// stage, `--layers` the darts space's number of cells, and a MobileNet network is sized by
/// its config table; a flag of another space is refused.
pub fn size_space(space: &mut SpaceConfig, flags: SizeFlags) -> Result<()> {
    let SizeFlags {
        channels,
        cells,
        layers,
    } = flags;
    let name = space.name();
    if name == SpaceName::Darts && cells.is_some() {
        anyhow::bail!(
            "--cells is NB201's cells per stage; the darts space's number of cells is --layers"
        );
    }
    if name != SpaceName::Darts && layers.is_some() {
        anyhow::bail!(
            "--layers is the darts space's number of cells (NB201's cells per stage is --cells); \
             the space here is {name}"
        );
    }
    match space {
        SpaceConfig::Nb201(size) => {
            set(&mut size.channels, channels);
            set(&mut size.cells, cells);
        }
        SpaceConfig::Darts(network) => {
            set(&mut network.channels, channels);
            set(&mut network.layers, layers);
        }
        SpaceConfig::Mobilenet(_) | SpaceConfig::Proxyless(_)
            if channels.is_some() || cells.is_some() =>
        {
            anyhow::bail!(
                "--channels and --cells size nb201 networks (--channels also darts ones); a \
             mobilenet network's channels and depths are the stages of its [space.mobilenet] \
             table"
            )
        }
        SpaceConfig::Mobilenet(_) | SpaceConfig::Proxyless(_) => {}
        SpaceConfig::Ofa(_) if channels.is_some() || cells.is_some() => {
            anyhow::bail!(
                "--channels and --cells size nb201 networks; the ofa space's widths and depths \
                 are its [space.ofa] table"
            )
        }
        SpaceConfig::Ofa(_) => {}
    }
    Ok(())
}

/// Overrides `target` when a flag gave a value.
fn set<T>(target: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *target = value;
    }
}
