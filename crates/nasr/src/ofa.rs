//! `nasr ofa`: what follows a Once-for-All run (`nasr search --strategy ofa`): cut one of its
//! sub-networks out into a run folder of its own.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use nasr_methods::ofa::extract_subnet;
use nasr_methods::run::RunOptions;
use nasr_nn::Compute;

use crate::cli::DataDirArg;

/// Flags of `nasr ofa`.
#[derive(Debug, Args)]
pub struct OfaArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: OfaCommand,
}

/// `nasr ofa` subcommands.
#[derive(Debug, Subcommand)]
pub enum OfaCommand {
    /// Cut one sub-network out of a trained OFA run into an ordinary run folder
    /// (config.toml, model.safetensors, metrics.json with its test accuracy as cut out):
    /// BatchNorm recalibrated on the run's fixed training subset, no retraining. `nasr train
    /// --config DIR/config.toml --init-from DIR --out NEW` fine-tunes it.
    Extract(ExtractArgs),
}

/// Flags of `nasr ofa extract`.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The progressive-shrinking run folder (`nasr search --strategy ofa --out RUN`).
    pub run: PathBuf,
    /// The sub-network, in the ofa space's canonical form ('r28|k3_e4-k5_e6|...').
    #[arg(long, value_name = "ARCH")]
    pub arch: String,
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Run folder to write.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(args: OfaArgs, compute: Compute) -> Result<()> {
    match args.command {
        OfaCommand::Extract(args) => extract(args, compute),
    }
}

fn extract(args: ExtractArgs, compute: Compute) -> Result<()> {
    let options = RunOptions {
        show_progress: false,
        compute,
    };
    let result = extract_subnet(
        &args.run,
        &args.arch,
        &args.data_dir.resolve(),
        &args.out,
        &options,
    )
    .with_context(|| format!("extracting from {}", args.run.display()))?;
    println!("arch {}", result.arch);
    println!(
        "parameters {}  multiply-adds {}",
        result.params, result.flops
    );
    println!(
        "validation accuracy {:.4}  test accuracy {:.4} (as cut out, no retraining)",
        result.valid_accuracy, result.test_accuracy
    );
    println!("run folder {}", args.out.display());
    Ok(())
}
