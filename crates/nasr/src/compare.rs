//! `nasr compare`.

use anyhow::{Context, Result};
use nasr_nn::compare::{CompareConfig, compare, markdown};
use nasr_nn::run::{DataConfig, NetworkSize, RunOptions, TrainRunConfig};
use nasr_nn::train::TrainConfig;

use crate::cli::CompareArgs;

pub fn run(args: CompareArgs) -> Result<()> {
    let config = CompareConfig {
        methods: args.methods.clone(),
        seeds: (0..args.seeds).collect(),
        budget_epochs: args.budget_epochs,
        trial_epochs: args.trial_epochs,
        final_epochs: args.final_epochs,
        candidates: args.candidates,
        run: TrainRunConfig {
            data: DataConfig {
                name: args.data.parse()?,
                train_subset: args.train_subset,
                ..DataConfig::default()
            },
            network: NetworkSize {
                channels: args.channels,
                cells: args.cells,
            },
            train: TrainConfig {
                batch_size: args.batch_size,
                ..TrainConfig::default()
            },
            ..TrainRunConfig::default()
        },
    };
    // Many short runs: a progress bar per run would only scroll past.
    let options = RunOptions {
        show_progress: false,
    };
    let results = compare(&config, &args.data_dir.resolve(), &args.out, &options)
        .with_context(|| format!("comparison into {}", args.out.display()))?;
    print!("{}", markdown(&config, &results));
    println!(
        "\nwritten: {0}/compare.json, {0}/compare.md",
        args.out.display()
    );
    Ok(())
}
