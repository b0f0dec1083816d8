//! `nasr compare`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use nasr_methods::compare::{CompareConfig, compare, markdown};
use nasr_methods::run::RunOptions;

use crate::cli::DataDirArg;
use crate::template::run_template;

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

pub fn run(args: CompareArgs, compute: nasr_nn::Compute) -> Result<()> {
    let config = CompareConfig {
        methods: args.methods.clone(),
        seeds: (0..args.seeds).collect(),
        budget_epochs: args.budget_epochs,
        trial_epochs: args.trial_epochs,
        final_epochs: args.final_epochs,
        candidates: args.candidates,
        run: run_template(
            &args.data,
            args.train_subset,
            (args.channels, args.cells),
            args.batch_size,
            0,
        )?,
    };
    // Many short runs: a progress bar per run would only scroll past.
    let options = RunOptions {
        show_progress: false,
        compute,
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
