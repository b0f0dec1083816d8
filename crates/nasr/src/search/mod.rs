//! `nasr search`: any method, built from its flags or read from an experiment file (`-c`) with
//! the flags given on top, then run by the library ([`ExperimentConfig::run_observed`]).

mod flags;
mod print;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nasr_methods::experiment::{ExperimentConfig, ExperimentOptions, SearchStrategy};
use nasr_methods::space::SpaceName;
use nasr_search::TrialRecord;

use crate::cli::{DataDirArg, space_names, strategy_names};

/// Flags of `nasr search`. Without `-c`, a flag left out takes its default (shown in its help);
/// with `-c`, it leaves the file's value alone. A flag of another method is refused.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Experiment file (TOML): `method = "..."` (table, rsws, asha, hyperband, fairnas, spos,
    /// darts, proxyless, ofa, dna, ftt or train) and that method's settings; or a run folder's config.toml, with the
    /// --strategy that wrote it. Flags override its values.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Strategy [default: rea, or the -c file's]. On the MobileNet space: fairnas (strictly
    /// fair supernet training) or spos (uniform single-path training), then NSGA-II for
    /// accuracy vs multiply-adds. On the NAS-Bench-201 table: rs (random), rea (regularised
    /// evolution), reinforce, nsga2 (accuracy vs latency on --objective-device). Training on
    /// data: rsws (random search with weight sharing: train a supernet, rank --candidates
    /// paths), asha and hyperband (random architectures trained from scratch, epochs as the
    /// fidelity), darts (differentiable search: mixed supernet, bilevel optimisation,
    /// derivation, retraining), proxyless (binary gates and a latency loss), ofa (progressive
    /// shrinking), dna (blocks distilled from --teacher, exact selection within --max-flops,
    /// --max-params or --max-latency, retraining), ftt (FTT-NAS: a supernet trained under
    /// --fault, --ftt-strategy over its paths rewarded clean and under faults, fault-tolerant
    /// retraining).
    #[arg(long, value_name = "STRATEGY", value_parser = strategy_names())]
    pub strategy: Option<SearchStrategy>,
    /// Search space: nb201, mobilenet (with --strategy fairnas or spos), or darts (with
    /// --strategy darts or ftt) [default: the strategy's: mobilenet for fairnas and spos, else nb201].
    #[arg(long, value_name = "SPACE", value_parser = space_names(&SpaceName::ALL))]
    pub space: Option<SpaceName>,
    /// Run seed [default: 0].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Trials: table queries; asha/hyperband evaluations (at any rung); fairnas/spos:
    /// architectures NSGA-II evaluates on the trained supernet; ftt: architectures its
    /// strategy evaluates [default: 100; ftt 50].
    #[arg(long, value_name = "N")]
    pub queries: Option<usize>,
    #[command(flatten)]
    pub data_dir: DataDirArg,
    /// Run folder (experiment.sqlite, trials.jsonl, best.json, ...). Rerunning into it resumes.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Do not draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub table: flags::TableFlags,
    #[command(flatten)]
    pub training: flags::TrainingFlags,
    #[command(flatten)]
    pub supernet: flags::SupernetFlags,
    #[command(flatten)]
    pub multi_fidelity: flags::MultiFidelityFlags,
    #[command(flatten)]
    pub darts: flags::DartsFlags,
    #[command(flatten)]
    pub proxyless: flags::ProxylessFlags,
    #[command(flatten)]
    pub dna: flags::DnaFlags,
    #[command(flatten)]
    pub ftt: flags::FttFlags,
}

pub fn run(args: SearchArgs, compute: nasr_nn::Compute) -> Result<()> {
    let experiment = resolve(&args)?;
    let options = ExperimentOptions {
        data_dir: args.data_dir.resolve(),
        show_progress: !args.no_progress,
        compute,
    };
    let bar = table_bar(&experiment, args.no_progress);
    let trials_to_stderr = !args.no_progress && matches!(experiment.method(), "asha" | "hyperband");
    let mut best = f64::NEG_INFINITY;
    let mut on_trial = |record: &TrialRecord| {
        if let Some(bar) = &bar {
            if let Some(accuracy) = record.metrics.get("accuracy") {
                best = best.max(*accuracy);
            }
            bar.set_position(record.id + 1);
            bar.set_message(format!("best {best:.2}%"));
        }
        if trials_to_stderr {
            let accuracy = record.metrics.get("accuracy").copied().unwrap_or(f64::NAN);
            eprintln!(
                "trial {:>3}  {:>2} epochs  valid acc {accuracy:.4}",
                record.id,
                record.fidelity.rank()
            );
        }
    };
    let result = experiment
        .run_observed(&args.out, &options, &mut on_trial)
        .with_context(|| {
            let what = experiment
                .strategy()
                .map_or("train", SearchStrategy::as_str);
            format!("{what} search into {}", args.out.display())
        })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    print::result(&experiment, &result, &args.out)
}

/// The experiment: the `-c` file (or the strategy's defaults), then every flag given.
fn resolve(args: &SearchArgs) -> Result<ExperimentConfig> {
    let mut experiment = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let mut experiment = ExperimentConfig::from_toml(&text, args.strategy)
                .with_context(|| format!("{}: not a valid nasr experiment", path.display()))?;
            if let Some(space) = args.space {
                experiment.set_space(space)?;
            }
            experiment
        }
        None => ExperimentConfig::new(args.strategy.unwrap_or(SearchStrategy::Rea), args.space)?,
    };
    flags::apply(args, &mut experiment, args.config.is_some())?;
    experiment.validate()?;
    Ok(experiment)
}

/// A table search's progress bar (hidden under --no-progress); none for other methods.
fn table_bar(experiment: &ExperimentConfig, hidden: bool) -> Option<ProgressBar> {
    let ExperimentConfig::Table(config) = experiment else {
        return None;
    };
    let bar = ProgressBar::new(config.queries as u64);
    if hidden {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{} on nb201/{}", config.strategy, config.dataset));
    Some(bar)
}
