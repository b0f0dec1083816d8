//! `nasr compare`.

use anyhow::{Context, Result};
use nasr_methods::compare::{CompareConfig, compare, markdown};
use nasr_methods::run::RunOptions;

use crate::cli::CompareArgs;
use crate::search::run_template;

pub fn run(args: CompareArgs, compute: nasr_nn::Compute) -> Result<()> {
    let config = CompareConfig {
        methods: args.methods.clone(),
        seeds: (0..args.seeds).collect(),
        budget_epochs: args.budget_epochs,
        trial_epochs: args.trial_epochs,
        final_epochs: args.final_epochs,
        candidates: args.candidates,
        run: run_template(
            "nb201",
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
