//! `nasr train`: resolve the config (file, then flags), run, print the result.

use anyhow::{Context, Result};
use nasr_methods::experiment::SpaceName;
use nasr_methods::run::{RunOptions, TrainRunConfig, train_run};

use crate::cli::TrainArgs;

pub fn run(args: TrainArgs) -> Result<()> {
    let config = resolve(&args)?;
    let data_dir = args.data_dir.resolve();
    let options = RunOptions {
        show_progress: !args.no_progress,
    };
    let metrics = train_run(&config, &data_dir, &args.out, &options)
        .with_context(|| format!("training run into {}", args.out.display()))?;
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
    println!("run folder {}", args.out.display());
    Ok(())
}

/// The config file (or defaults), with every given flag applied on top.
fn resolve(args: &TrainArgs) -> Result<TrainRunConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text)
                .with_context(|| format!("{}: not a valid nasr train config", path.display()))?
        }
        None => TrainRunConfig::default(),
    };
    set(
        &mut config.space,
        args.space.as_deref().map(str::parse).transpose()?,
    );
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
    check_depth_flag(config.space, args.cells, args.layers)?;
    if config.space == SpaceName::Darts {
        let network = config.darts_net.get_or_insert_default();
        set(&mut network.channels, args.channels);
        set(&mut network.layers, args.layers);
        set(&mut network.auxiliary_weight, args.auxiliary_weight);
        set(&mut network.drop_path, args.drop_path);
    } else {
        set(&mut config.network.channels, args.channels);
        set(&mut config.network.cells, args.cells);
    }
    set(&mut config.seed, args.seed);
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

/// Refuses the depth flag of the other space: `--cells` is NB201's cells per stage, `--layers`
/// the darts space's number of cells.
pub fn check_depth_flag(
    space: SpaceName,
    cells: Option<usize>,
    layers: Option<usize>,
) -> Result<()> {
    if space == SpaceName::Darts && cells.is_some() {
        anyhow::bail!(
            "--cells is NB201's cells per stage; the darts space's number of cells is --layers"
        );
    }
    if space != SpaceName::Darts && layers.is_some() {
        anyhow::bail!(
            "--layers is the darts space's number of cells (NB201's cells per stage is --cells); \
             the space here is {space}"
        );
    }
    Ok(())
}

/// Overrides `target` when a flag gave a value.
fn set<T>(target: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *target = value;
    }
}
