//! `nasr`: neural architecture search from the command line.
//!
//! The binary parses flags into typed configs and calls the library crates; it owns only
//! argument parsing, the data-folder default, printing and exit codes.

#![forbid(unsafe_code)]

mod bench;
mod cli;
mod compare;
mod data;
mod demo;
mod export;
mod fault_flags;
mod latency;
mod ofa;
mod plot;
mod predict;
mod rank_eval;
mod report;
mod robustness;
mod search;
mod study;
mod template;
mod train;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    nasr_kernels::allocator::reuse_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NASR_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Err(error) = nasr_kernels::route::Route::from_env() {
        eprintln!("error: {error}");
        return std::process::ExitCode::FAILURE;
    }
    let compute: nasr_nn::Compute = cli.device.into();
    if let Err(error) = compute.check_built() {
        eprintln!("error: {error}");
        return std::process::ExitCode::FAILURE;
    }
    // Every command runs on a worker of rayon's global pool: a kernel's parallel loop started
    // from a thread outside the pool is handed to a worker and waited for (a wake-up each),
    // which doubled the batch-1 latency of a 2 ms network; from a worker it starts in place.
    let result = rayon::scope(|_| run(cli.command, compute));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs one subcommand.
fn run(command: Command, compute: nasr_nn::Compute) -> anyhow::Result<()> {
    match command {
        Command::Train(args) => train::run(*args, compute),
        Command::Data(args) => data::run(args),
        Command::Search(args) => search::run(*args, compute),
        Command::RankEval(args) => rank_eval::run(args, compute),
        Command::Robustness(args) => robustness::run(args, compute),
        Command::Compare(args) => compare::run(args, compute),
        Command::Demo(args) => demo::run(args, compute),
        Command::Bench(args) => bench::run(args, compute),
        Command::Latency(args) => latency::run(args, compute),
        Command::Plot(args) => plot::run(args),
        Command::Ofa(args) => ofa::run(args, compute),
        Command::Export(args) => export::run(args, compute),
        Command::Predict(args) => predict::run(args, compute),
        Command::Report(args) => report::run(args),
        Command::Study(args) => study::run(args),
        Command::Worker(args) => study::worker(args, compute),
    }
}
