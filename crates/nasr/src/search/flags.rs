//! The flags of `nasr search`, one group per method, and how they set an experiment: each flag
//! has one meaning and sets the fields of the methods it applies to; given with a method it does
//! not apply to, it is refused, naming those it does.

use crate::train::{SizeFlags, size_space};
use anyhow::{Result, bail};
use clap::Args;
use nasr_data::DatasetName;
use nasr_methods::darts::{DartsConfig, Relaxation, RetrainConfig};
use nasr_methods::experiment::{DartsOrder, ExperimentConfig};
use nasr_methods::ftt::{FttConfig, FttRetrain};
use nasr_methods::proxyless::ProxylessConfig;
use nasr_search::hardware_loss::{CostKind, CostLoss};
use nasr_search::nb201_table::Nb201Dataset;

use super::SearchArgs;

/// The query-based search on the NAS-Bench-201 table.
#[derive(Debug, Args)]
#[command(next_help_heading = "Table search (rs, rea, reinforce, nsga2)")]
pub struct TableFlags {
    /// Evaluator: nb201 (look architectures up in the NAS-Bench-201 table).
    #[arg(long, value_parser = ["nb201"])]
    pub evaluator: Option<String>,
    /// Table dataset: cifar10, cifar100, imagenet16-120 [default: cifar10].
    #[arg(long, value_name = "NAME")]
    pub dataset: Option<Nb201Dataset>,
    /// Latency device setting of the table (e.g. pixel3, gold_6226, 2080ti_32).
    #[arg(long, value_name = "DEV")]
    pub objective_device: Option<String>,
    /// Latency budget in ms, on --objective-device (table strategies) or as --latency-table
    /// predicts it (fairnas, spos, dna); slower architectures never count as best.
    #[arg(long, value_name = "MS")]
    pub max_latency: Option<f64>,
}

/// Data and network of the methods that train.
#[derive(Debug, Args)]
#[command(next_help_heading = "Training on data (rsws, asha, hyperband, fairnas, spos, darts)")]
pub struct TrainingFlags {
    /// Dataset to train on: mnist, fashion-mnist, cifar10, cifar100, sklearn-digits
    /// [default: mnist].
    #[arg(long, value_name = "NAME")]
    pub data: Option<DatasetName>,
    /// Train on the first N training examples only (before the validation split).
    #[arg(long, value_name = "N")]
    pub train_subset: Option<usize>,
    /// Test on the first N test examples only (asha, hyperband, darts).
    #[arg(long, value_name = "N")]
    pub test_subset: Option<usize>,
    /// Training epochs of the supernet (rsws, fairnas, spos, darts; ofa: of every phase)
    /// [default: 1; ofa: its phases' own].
    #[arg(long, value_name = "E")]
    pub epochs: Option<usize>,
    /// Channels of the first stage (C) of the NB201 networks; darts: of the searched and the
    /// retrained network, in either space [default: 8].
    #[arg(long, value_name = "C")]
    pub channels: Option<usize>,
    /// Cells per stage (N) of the NB201 networks (the darts space's number of cells is
    /// --layers) [default: 1].
    #[arg(long, value_name = "N")]
    pub cells: Option<usize>,
    /// Examples per SGD step (darts: of the search and the retraining) [default: 64].
    #[arg(long, value_name = "B")]
    pub batch_size: Option<usize>,
}

/// Ranking architectures on a trained supernet.
#[derive(Debug, Args)]
#[command(next_help_heading = "Supernet ranking (rsws; --recal-batches also fairnas, spos)")]
pub struct SupernetFlags {
    /// rsws: architectures sampled and ranked after training [default: 50].
    #[arg(long, value_name = "K")]
    pub candidates: Option<usize>,
    /// Training batches that recalibrate BatchNorm before each evaluation [default: 8].
    #[arg(long, value_name = "N")]
    pub recal_batches: Option<usize>,
    /// ofa: the ablation without progressive shrinking: every phase after the full network's
    /// samples the whole space (same epochs, rates and sub-networks per step).
    #[arg(long)]
    pub no_shrinking: bool,
}

/// ASHA and Hyperband: the rungs and the workers.
#[derive(Debug, Args)]
#[command(next_help_heading = "ASHA and Hyperband")]
pub struct MultiFidelityFlags {
    /// Epochs of the lowest rung [default: 1].
    #[arg(long, value_name = "E")]
    pub min_epochs: Option<usize>,
    /// Epochs of the top rung [default: 4].
    #[arg(long, value_name = "E")]
    pub max_epochs: Option<usize>,
    /// Reduction factor between rungs [default: 2].
    #[arg(long, value_name = "ETA")]
    pub eta: Option<usize>,
    /// Worker threads, each training one trial at a time [default: 1].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
}

/// DNA: the teacher, the block training, the budget of the selection.
#[derive(Debug, Args)]
#[command(next_help_heading = "DNA")]
pub struct DnaFlags {
    /// The teacher's run folder (`nasr train` of a MobileNet-space network with the student
    /// space's stage boundaries, outside the student space; e.g. of spaces/dna-teacher.toml).
    #[arg(long, value_name = "RUN")]
    pub teacher: Option<std::path::PathBuf>,
    /// Multiply-add budget of the selection.
    #[arg(long, value_name = "N", conflicts_with = "max_params")]
    pub max_flops: Option<u64>,
    /// Parameter budget of the selection.
    #[arg(long, value_name = "N")]
    pub max_params: Option<u64>,
    /// Epochs of each block supernet's training [default: 2].
    #[arg(long, value_name = "E")]
    pub block_epochs: Option<usize>,
    /// Validation batches each candidate is scored on [default: 8].
    #[arg(long, value_name = "N")]
    pub score_batches: Option<usize>,
}

/// FTT-NAS: the fault model, the supernet's fault-tolerant loss, the reward, the strategy,
/// the retraining.
#[derive(Debug, Args)]
#[command(next_help_heading = "FTT-NAS")]
pub struct FttFlags {
    #[command(flatten)]
    pub faults: crate::fault_flags::FaultArgs,
    /// Weight G of the faulty loss in supernet training, (1 - G) * CE_clean + G * CE_faulty
    /// [default: 0.5].
    #[arg(long, value_name = "G")]
    pub fault_gamma: Option<f64>,
    /// The strategy over the supernet's paths: reinforce, rea or rs [default: reinforce].
    #[arg(long, value_name = "STRATEGY", value_parser = ["reinforce", "rea", "rs"])]
    pub ftt_strategy: Option<String>,
    /// Reward (1 - A) * acc_clean + A * acc_faulty [default: 0.5 for feature faults, 0.2 for
    /// adsaf].
    #[arg(long, value_name = "A")]
    pub reward_alpha: Option<f64>,
    /// Fault draws per architecture's reward [default: 2].
    #[arg(long, value_name = "N")]
    pub fault_draws: Option<usize>,
    /// Channels (C) of the retrained network [default: the supernet's].
    #[arg(long, value_name = "C")]
    pub retrain_channels: Option<usize>,
    /// Weight G of the faulty loss in the retraining [default: 0.7].
    #[arg(long, value_name = "G")]
    pub retrain_gamma: Option<f64>,
}

/// ProxylessNAS: the hardware term, the architecture steps, the warm-up.
#[derive(Debug, Args)]
#[command(next_help_heading = "ProxylessNAS")]
pub struct ProxylessFlags {
    /// A latency table measured on this machine for the searched space (`nasr latency measure
    /// --space ...`); the found network's latency is predicted from it and measured end to end
    /// with its protocol (proxyless; fairnas and spos: NSGA-II minimises its latency).
    #[arg(long, value_name = "FILE")]
    pub latency_table: Option<std::path::PathBuf>,
    /// ProxylessNAS's soft latency target T in ms (needs --latency-table).
    #[arg(long, value_name = "MS", conflicts_with_all = ["target_flops", "target_params"])]
    pub target_latency: Option<f64>,
    /// A multiply-add target instead of latency.
    #[arg(long, value_name = "N", conflicts_with = "target_params")]
    pub target_flops: Option<f64>,
    /// A parameter-count target instead of latency.
    #[arg(long, value_name = "N")]
    pub target_params: Option<f64>,
    /// How the expected cost E enters the loss: mul#log (alpha * CE * (log E / log T)^beta,
    /// latency in microseconds), add#linear (CE + lambda * (E - T) / T), or TuNAS's add#abs
    /// (CE + lambda * |E - T| / T, which also pushes up under T) [default: mul#log].
    #[arg(long, value_name = "FORM", value_parser = ["mul#log", "add#linear", "add#abs"])]
    pub latency_loss: Option<String>,
    /// mul#log's alpha [default: 0.2].
    #[arg(long, value_name = "A")]
    pub latency_alpha: Option<f64>,
    /// mul#log's beta [default: 0.3].
    #[arg(long, value_name = "B")]
    pub latency_beta: Option<f64>,
    /// add#linear's and add#abs's lambda [default: 0.1].
    #[arg(long, value_name = "L")]
    pub latency_lambda: Option<f64>,
    /// Weight steps per architecture step [default: 5].
    #[arg(long, value_name = "K")]
    pub arch_every: Option<usize>,
    /// Weight-only epochs on uniform paths before the search [default: 1].
    #[arg(long, value_name = "E")]
    pub warmup_epochs: Option<usize>,
}

/// DARTS: the architecture step, the darts space's depth, the retraining.
#[derive(Debug, Args)]
#[command(next_help_heading = "DARTS")]
pub struct DartsFlags {
    /// 1 for the first-order architecture gradient, 2 for the second (unrolled) one
    /// [default: 1].
    #[arg(long, value_name = "1|2", value_parser = clap::value_parser!(u8).range(1..=2))]
    pub order: Option<u8>,
    /// darts space: cells of the search and retraining networks (reductions at 1/3 and 2/3 of
    /// the depth); --channels sets their C [default: 5].
    #[arg(long, value_name = "L")]
    pub layers: Option<usize>,
    /// Adam learning rate of the architecture parameters (DARTS: 3e-4, for 50 epochs of
    /// CIFAR-10; short searches on small data need more) [default: 3e-4].
    #[arg(long, value_name = "LR")]
    pub alpha_lr: Option<f64>,
    /// Second order's virtual step size (default: the weights' learning rate).
    #[arg(long, value_name = "XI")]
    pub xi: Option<f64>,
    /// DARTS-'s auxiliary skip connection, starting at this coefficient and decaying to 0 over
    /// the search (the paper uses 1); 0 disables it [default: 0].
    #[arg(long, value_name = "BETA")]
    pub aux_skip_beta: Option<f64>,
    /// Fair DARTS (Chu et al., ECCV 2020): sigmoid op weights instead of softmax, so ops do
    /// not compete, plus the zero-one loss; a remedy for collapse onto parameter-free ops.
    #[arg(long)]
    pub fair_darts: bool,
    /// Weight of Fair DARTS' zero-one loss (the paper's 10) [default: 10].
    #[arg(long, value_name = "W")]
    pub zero_one_weight: Option<f64>,
    /// Epochs of the derived architecture's retraining from scratch; 0 skips it [default: 1].
    #[arg(long, value_name = "E")]
    pub retrain_epochs: Option<usize>,
    /// Retrain on the first N training examples (default: --train-subset).
    #[arg(long, value_name = "N")]
    pub retrain_subset: Option<usize>,
}

const TABLE: &[&str] = &["table"];
const TRAINING: &[&str] = &[
    "rsws",
    "asha",
    "hyperband",
    "fairnas",
    "spos",
    "darts",
    "proxyless",
    "ofa",
    "dna",
    "ftt",
    "train",
];
const NB201_NETWORK: &[&str] = &["rsws", "asha", "hyperband", "darts", "ftt", "train"];
const MULTI_FIDELITY: &[&str] = &["asha", "hyperband"];
const DARTS: &[&str] = &["darts"];
const PROXYLESS: &[&str] = &["proxyless"];
const GRADIENT: &[&str] = &["darts", "proxyless"];
const RETRAINING: &[&str] = &["darts", "proxyless", "ftt"];
const DNA: &[&str] = &["dna"];
const FTT: &[&str] = &["ftt"];

/// Which methods each given flag applies to; the first flag given to a method outside its
/// list is refused.
fn check_applicable(args: &SearchArgs, method: &str) -> Result<()> {
    let f = &args.ftt;
    let (t, d, s, m, x, p) = (
        &args.table,
        &args.training,
        &args.supernet,
        &args.multi_fidelity,
        &args.darts,
        &args.proxyless,
    );
    let flags: &[(&str, bool, &[&str])] = &[
        (
            "--queries",
            args.queries.is_some(),
            &["table", "asha", "hyperband", "fairnas", "spos", "ftt"],
        ),
        ("--evaluator", t.evaluator.is_some(), TABLE),
        ("--dataset", t.dataset.is_some(), TABLE),
        ("--objective-device", t.objective_device.is_some(), TABLE),
        (
            "--max-latency",
            t.max_latency.is_some(),
            &["table", "fairnas", "spos", "dna"],
        ),
        ("--data", d.data.is_some(), TRAINING),
        ("--train-subset", d.train_subset.is_some(), TRAINING),
        (
            "--test-subset",
            d.test_subset.is_some(),
            &["asha", "hyperband", "darts", "dna", "ftt", "train"],
        ),
        (
            "--epochs",
            d.epochs.is_some(),
            &[
                "rsws",
                "fairnas",
                "spos",
                "darts",
                "proxyless",
                "ofa",
                "dna",
                "ftt",
                "train",
            ],
        ),
        ("--channels", d.channels.is_some(), NB201_NETWORK),
        ("--cells", d.cells.is_some(), NB201_NETWORK),
        ("--batch-size", d.batch_size.is_some(), TRAINING),
        ("--candidates", s.candidates.is_some(), &["rsws"]),
        (
            "--recal-batches",
            s.recal_batches.is_some(),
            &["rsws", "fairnas", "spos", "proxyless", "ofa", "ftt"],
        ),
        ("--no-shrinking", s.no_shrinking, &["ofa"]),
        ("--min-epochs", m.min_epochs.is_some(), MULTI_FIDELITY),
        ("--max-epochs", m.max_epochs.is_some(), MULTI_FIDELITY),
        ("--eta", m.eta.is_some(), MULTI_FIDELITY),
        ("--workers", m.workers.is_some(), MULTI_FIDELITY),
        ("--order", x.order.is_some(), DARTS),
        ("--layers", x.layers.is_some(), &["darts", "ftt", "train"]),
        ("--alpha-lr", x.alpha_lr.is_some(), GRADIENT),
        ("--xi", x.xi.is_some(), DARTS),
        ("--aux-skip-beta", x.aux_skip_beta.is_some(), DARTS),
        ("--fair-darts", x.fair_darts, DARTS),
        ("--zero-one-weight", x.zero_one_weight.is_some(), DARTS),
        ("--retrain-epochs", x.retrain_epochs.is_some(), RETRAINING),
        (
            "--latency-table",
            p.latency_table.is_some(),
            &["fairnas", "spos", "proxyless", "dna"],
        ),
        ("--target-latency", p.target_latency.is_some(), PROXYLESS),
        ("--target-flops", p.target_flops.is_some(), PROXYLESS),
        ("--target-params", p.target_params.is_some(), PROXYLESS),
        ("--latency-loss", p.latency_loss.is_some(), PROXYLESS),
        ("--latency-alpha", p.latency_alpha.is_some(), PROXYLESS),
        ("--latency-beta", p.latency_beta.is_some(), PROXYLESS),
        ("--latency-lambda", p.latency_lambda.is_some(), PROXYLESS),
        ("--arch-every", p.arch_every.is_some(), PROXYLESS),
        ("--warmup-epochs", p.warmup_epochs.is_some(), PROXYLESS),
        ("--retrain-subset", x.retrain_subset.is_some(), DARTS),
        ("--teacher", args.dna.teacher.is_some(), DNA),
        ("--max-flops", args.dna.max_flops.is_some(), DNA),
        ("--max-params", args.dna.max_params.is_some(), DNA),
        ("--block-epochs", args.dna.block_epochs.is_some(), DNA),
        ("--score-batches", args.dna.score_batches.is_some(), DNA),
        ("--fault", f.faults.fault.is_some(), FTT),
        ("--fault-rate", f.faults.fault_rate.is_some(), FTT),
        ("--fault-per-mac", f.faults.fault_per_mac, FTT),
        ("--fault-sigma", f.faults.fault_sigma.is_some(), FTT),
        ("--fault-gamma", f.fault_gamma.is_some(), FTT),
        ("--ftt-strategy", f.ftt_strategy.is_some(), FTT),
        ("--reward-alpha", f.reward_alpha.is_some(), FTT),
        ("--fault-draws", f.fault_draws.is_some(), FTT),
        ("--retrain-channels", f.retrain_channels.is_some(), FTT),
        ("--retrain-gamma", f.retrain_gamma.is_some(), FTT),
    ];
    for &(flag, given, methods) in flags {
        if given && !methods.contains(&method) {
            bail!(
                "{flag} applies to {}, not to {}",
                describe(methods),
                describe(&[method])
            );
        }
    }
    Ok(())
}

/// Methods as a user names them: the table by its strategies.
fn describe(methods: &[&str]) -> String {
    let names: Vec<&str> = methods
        .iter()
        .map(|&m| match m {
            "table" => "the table strategies (rs, rea, reinforce, nsga2)",
            "train" => "a training run (method train)",
            other => other,
        })
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// Sets `experiment` from the flags given; a flag left out keeps the file's value, or the
/// method config's default, which is the default each flag's help names. `from_file`: the
/// experiment came from a `-c` file.
pub fn apply(args: &SearchArgs, experiment: &mut ExperimentConfig, from_file: bool) -> Result<()> {
    check_applicable(args, experiment.method())?;
    let (d, s, m) = (&args.training, &args.supernet, &args.multi_fidelity);
    let sizes = SizeFlags {
        channels: d.channels,
        cells: d.cells,
        layers: args.darts.layers,
    };
    match experiment {
        ExperimentConfig::Table(c) => {
            let t = &args.table;
            set(&mut c.seed, args.seed);
            set(&mut c.queries, args.queries);
            set(&mut c.dataset, t.dataset);
            set_some(&mut c.objective_device, t.objective_device.clone());
            set_some(&mut c.max_latency_ms, t.max_latency);
        }
        ExperimentConfig::Rsws(c) => {
            set(&mut c.seed, args.seed);
            set(&mut c.data.name, d.data);
            set_some(&mut c.data.train_subset, d.train_subset);
            set(&mut c.train.epochs, d.epochs);
            size_space(&mut c.space, sizes)?;
            set(&mut c.train.batch_size, d.batch_size);
            set(&mut c.candidates, s.candidates);
            set(&mut c.recal_batches, s.recal_batches);
        }
        ExperimentConfig::Asha(c) | ExperimentConfig::Hyperband(c) => {
            set(&mut c.queries, args.queries);
            set(&mut c.workers, m.workers);
            set(&mut c.min_epochs, m.min_epochs);
            set(&mut c.max_epochs, m.max_epochs);
            set(&mut c.eta, m.eta);
            let run = &mut c.run;
            set(&mut run.seed, args.seed);
            set(&mut run.data.name, d.data);
            set_some(&mut run.data.train_subset, d.train_subset);
            set_some(&mut run.data.test_subset, d.test_subset);
            size_space(&mut run.space, sizes)?;
            set(&mut run.train.batch_size, d.batch_size);
        }
        ExperimentConfig::Fairnas(c) | ExperimentConfig::Spos(c) => {
            set(&mut c.seed, args.seed);
            set(&mut c.data.name, d.data);
            set_some(&mut c.data.train_subset, d.train_subset);
            set(&mut c.train.epochs, d.epochs);
            set(&mut c.train.batch_size, d.batch_size);
            // Evaluation batches follow --batch-size where no file gives them (FairNasConfig's
            // default keeps them training-sized for memory); a file's own value stands.
            if !from_file {
                set(&mut c.train.eval_batch_size, d.batch_size);
            }
            set(&mut c.queries, args.queries);
            set(&mut c.recal_batches, s.recal_batches);
            set_some(&mut c.latency_table, args.proxyless.latency_table.clone());
            set_some(&mut c.max_latency_ms, args.table.max_latency);
        }
        ExperimentConfig::Darts(c) => {
            set(&mut c.seed, args.seed);
            set(&mut c.data.name, d.data);
            set_some(&mut c.data.train_subset, d.train_subset);
            set_some(&mut c.data.test_subset, d.test_subset);
            darts(c, &args.darts, sizes, d.batch_size)?;
            set(&mut c.train.epochs, d.epochs);
        }
        ExperimentConfig::Proxyless(c) => {
            set(&mut c.seed, args.seed);
            set(&mut c.data.name, d.data);
            set_some(&mut c.data.train_subset, d.train_subset);
            set_some(&mut c.data.test_subset, d.test_subset);
            set(&mut c.train.epochs, d.epochs);
            set(&mut c.train.batch_size, d.batch_size);
            set(&mut c.recal_batches, s.recal_batches);
            set(&mut c.alpha.lr, args.darts.alpha_lr);
            set(&mut c.retrain_epochs, args.darts.retrain_epochs);
            proxyless(c, &args.proxyless)?;
        }
        ExperimentConfig::Ofa(c) => {
            set(&mut c.seed, args.seed);
            set(&mut c.data.name, d.data);
            set_some(&mut c.data.train_subset, d.train_subset);
            set(&mut c.train.batch_size, d.batch_size);
            set(&mut c.recal_batches, s.recal_batches);
            if let Some(epochs) = d.epochs {
                c.phases.iter_mut().for_each(|phase| phase.epochs = epochs);
            }
            if s.no_shrinking {
                let space = nasr_space::OfaSpace::new(c.space.ofa("ofa")?.clone())?;
                c.phases = nasr_methods::ofa::without_shrinking(&c.phases, &space);
            }
        }
        ExperimentConfig::Dna(c) => {
            set(&mut c.seed, args.seed);
            set(&mut c.data.name, d.data);
            set_some(&mut c.data.train_subset, d.train_subset);
            set_some(&mut c.data.test_subset, d.test_subset);
            set(&mut c.retrain.epochs, d.epochs);
            set(&mut c.retrain.batch_size, d.batch_size);
            set(&mut c.blocks.batch_size, d.batch_size);
            set(&mut c.scoring.batch_size, d.batch_size);
            let x = &args.dna;
            set(&mut c.teacher, x.teacher.clone());
            set(&mut c.blocks.epochs, x.block_epochs);
            set(&mut c.scoring.valid_batches, x.score_batches);
            // A budget flag replaces the file's budget: the selection takes exactly one.
            let budget = [
                x.max_flops.is_some(),
                x.max_params.is_some(),
                args.table.max_latency.is_some(),
            ];
            if budget.contains(&true) {
                c.max_flops = x.max_flops;
                c.max_params = x.max_params;
                c.max_latency_ms = args.table.max_latency;
            }
            set_some(&mut c.latency_table, args.proxyless.latency_table.clone());
        }
        ExperimentConfig::Ftt(c) => {
            set(&mut c.seed, args.seed);
            set(&mut c.data.name, d.data);
            set_some(&mut c.data.train_subset, d.train_subset);
            set_some(&mut c.data.test_subset, d.test_subset);
            set(&mut c.train.epochs, d.epochs);
            set(&mut c.train.batch_size, d.batch_size);
            size_space(&mut c.space, sizes)?;
            set(&mut c.trials, args.queries);
            set(&mut c.recal_batches, s.recal_batches);
            ftt(c, &args.ftt, args.darts.retrain_epochs, d.batch_size)?;
        }
        ExperimentConfig::Train(c) => {
            set(&mut c.seed, args.seed);
            set(&mut c.data.name, d.data);
            set_some(&mut c.data.train_subset, d.train_subset);
            set_some(&mut c.data.test_subset, d.test_subset);
            set(&mut c.train.epochs, d.epochs);
            set(&mut c.train.batch_size, d.batch_size);
            size_space(&mut c.space, sizes)?;
        }
    }
    Ok(())
}

/// The DARTS flags: `--channels`, `--cells` (NB201), `--layers` (darts space) and
/// `--batch-size` size the searched and the retrained network alike.
fn darts(
    c: &mut DartsConfig,
    x: &DartsFlags,
    sizes: SizeFlags,
    batch_size: Option<usize>,
) -> Result<()> {
    set(&mut c.alpha.lr, x.alpha_lr);
    set(
        &mut c.order,
        x.order.map(|order| match order {
            1 => DartsOrder::First,
            _ => DartsOrder::Second,
        }),
    );
    set_some(&mut c.xi, x.xi);
    set(&mut c.aux_skip_beta, x.aux_skip_beta);
    if x.fair_darts {
        c.relaxation = Relaxation::Sigmoid;
    }
    set(&mut c.zero_one_weight, x.zero_one_weight);
    match x.retrain_epochs {
        Some(0) => c.retrain = None,
        Some(epochs) => {
            c.retrain
                .get_or_insert_with(RetrainConfig::default)
                .train
                .epochs = epochs
        }
        None => {}
    }
    size_space(&mut c.space, sizes)?;
    set(&mut c.train.batch_size, batch_size);
    if let Some(retrain) = &mut c.retrain {
        let SizeFlags {
            channels,
            cells,
            layers,
        } = sizes;
        set_some(&mut retrain.train_subset, x.retrain_subset);
        set(&mut retrain.network.channels, channels);
        set(&mut retrain.network.cells, cells);
        set(&mut retrain.darts_net.channels, channels);
        set(&mut retrain.darts_net.layers, layers);
        set(&mut retrain.train.batch_size, batch_size);
    }
    Ok(())
}

/// The FTT-NAS flags: a fault model replaces the file's (its gamma kept unless given);
/// `--retrain-epochs 0` turns the retraining off, `--retrain-channels` widens it.
fn ftt(
    c: &mut FttConfig,
    f: &FttFlags,
    retrain_epochs: Option<usize>,
    batch_size: Option<usize>,
) -> Result<()> {
    if let Some(model) = f.faults.model()? {
        c.fault.model = model;
    }
    set(&mut c.fault.gamma, f.fault_gamma);
    if let Some(name) = &f.ftt_strategy {
        c.strategy = name.parse()?;
    }
    set_some(&mut c.reward_alpha, f.reward_alpha);
    set(&mut c.fault_draws, f.fault_draws);
    match retrain_epochs {
        Some(0) => c.retrain = None,
        Some(epochs) => {
            c.retrain
                .get_or_insert_with(FttRetrain::default)
                .train
                .epochs = epochs
        }
        None => {}
    }
    let Some(retrain) = &mut c.retrain else {
        if f.retrain_channels.is_some() || f.retrain_gamma.is_some() {
            bail!(
                "--retrain-channels and --retrain-gamma need the retraining (--retrain-epochs 0 turns it off)"
            );
        }
        return Ok(());
    };
    set(&mut retrain.gamma, f.retrain_gamma);
    set(&mut retrain.train.batch_size, batch_size);
    if let Some(channels) = f.retrain_channels {
        let mut space = retrain.space.clone().unwrap_or_else(|| c.space.clone());
        let sizes = SizeFlags {
            channels: Some(channels),
            cells: None,
            layers: None,
        };
        size_space(&mut space, sizes)?;
        retrain.space = Some(space);
    }
    Ok(())
}

/// The ProxylessNAS flags: the target sets the cost it counts; the loss form's own
/// coefficients apply to that form.
fn proxyless(c: &mut ProxylessConfig, p: &ProxylessFlags) -> Result<()> {
    set_some(&mut c.latency_table, p.latency_table.clone());
    for (target, cost) in [
        (p.target_latency, CostKind::Latency),
        (p.target_flops, CostKind::Flops),
        (p.target_params, CostKind::Params),
    ] {
        if target.is_some() {
            c.target = target;
            c.cost = cost;
        }
    }
    match p.latency_loss.as_deref() {
        Some("add#linear") => c.loss = CostLoss::ADD_LINEAR,
        Some("add#abs") => c.loss = CostLoss::ADD_ABS,
        Some(_) => c.loss = CostLoss::MUL_LOG,
        None => {}
    }
    match &mut c.loss {
        CostLoss::MulLog { alpha, beta } => {
            set(alpha, p.latency_alpha);
            set(beta, p.latency_beta);
            if p.latency_lambda.is_some() {
                bail!(
                    "--latency-lambda is add#linear's and add#abs's; mul#log takes --latency-alpha \
                     and --latency-beta"
                );
            }
        }
        CostLoss::AddLinear { lambda } | CostLoss::AddAbs { lambda } => {
            set(lambda, p.latency_lambda);
            if p.latency_alpha.is_some() || p.latency_beta.is_some() {
                bail!(
                    "--latency-alpha and --latency-beta are mul#log's; add#linear and add#abs \
                     take --latency-lambda"
                );
            }
        }
    }
    set(&mut c.arch_every, p.arch_every);
    set(&mut c.warmup_epochs, p.warmup_epochs);
    Ok(())
}

/// Overrides `target` when the flag gave a value.
fn set<T>(target: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *target = value;
    }
}

/// Overrides an optional setting when the flag was given.
fn set_some<T>(target: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *target = value;
    }
}
