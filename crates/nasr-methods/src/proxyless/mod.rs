//! ProxylessNAS (Cai, Zhu and Han, ICLR 2019): path-level binarisation of a MobileNet
//! supernet. Weight steps train one path drawn from p = softmax(alpha) per layer; every
//! `arch_every` weight steps, an architecture step on a held-out batch runs the supernet with
//! binary gates in the `two` mode ([`arch_step`]) and moves alpha along the gates' gradient and
//! the pull of the expected latency (from a table measured on this machine by `nasr latency`),
//! entering the loss as `mul#log`, `add#linear` or TuNAS's `add#abs` against a target. The
//! derived network (each layer's most probable block) is retrained from scratch and its
//! latency measured end to end.
//!
//! Run folder: `config.toml`, `latency.json` (the table used, copied), `warmup/` (the
//! weight-only epochs' checkpoints), `checkpoints/` (weights, momentum and
//! `alphas-epoch-NNN.json`), `metrics.json`, `alphas.jsonl`, `best.json` and `retrain/`.

pub mod alpha;
pub mod arch_step;

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use burn::tensor::{Int, Tensor};
use nasr_data::{Batcher, Dataset, Normalization};
use nasr_nn::NnError;
use nasr_nn::eval::supernet::PathEvaluation;
use nasr_nn::latency::latency_error;
use nasr_nn::nets::mobilenet::MobileNetSupernet;
use nasr_nn::supernet::gated::draw;
use nasr_nn::train::optim::{AdamConfig, SgdConfig};
use nasr_nn::train::{
    EpochRecord, StepLoss, TrainConfig, TrainData, TrainStep, Trainer, to_tensors,
};
use nasr_search::hardware_loss::{CostKind, CostLoss, LayerCosts};
use nasr_search::latency::LatencyTable;
use nasr_space::{Arch, EpochStream, SeedStreams, Space};
use serde::{Deserialize, Serialize};

use crate::fairnas::MobileNetProblem;
use crate::latency_table::{load_run_table, measure_like};
use crate::run::{DataConfig, RunOptions, TrainRunConfig, train_run, write_json};
use crate::space::{SpaceConfig, SpaceName};
pub use alpha::LayerAlphas;
pub use arch_step::{ArchStepRecord, HardwareTerm, arch_step};

/// Everything that defines a ProxylessNAS search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxylessConfig {
    /// Run seed.
    pub seed: u64,
    /// The space: `[space.proxyless]` (ProxylessNAS's preset, with skip) or
    /// `[space.mobilenet]`; input size, channels and classes come from the data.
    pub space: SpaceConfig,
    /// Data; the validation split is the held-out set of the architecture steps (ProxylessNAS
    /// holds 50,000 images out of ImageNet's training set).
    pub data: DataConfig,
    /// Weight-only epochs before the search, on uniformly drawn paths (ProxylessNAS: 40).
    pub warmup_epochs: usize,
    /// The warm-up's initial learning rate, cosine-annealed over it (ProxylessNAS: 0.05).
    pub warmup_lr: f64,
    /// The search's weight training (ProxylessNAS: SGD Nesterov 0.9, lr 0.025 cosine, weight
    /// decay 4e-5, label smoothing 0.1).
    pub train: TrainConfig,
    /// Alpha's Adam (ProxylessNAS: lr 1e-3, betas (0, 0.999), eps 1e-8, no weight decay).
    pub alpha: AdamConfig,
    /// Weight steps per architecture step (ProxylessNAS: 5).
    pub arch_every: usize,
    /// What the hardware term counts: `latency` (from `latency_table`), `flops` or `params`.
    pub cost: CostKind,
    /// How the expected cost enters the loss.
    pub loss: CostLoss,
    /// The target T: milliseconds for latency, counts for flops and params; none searches for
    /// accuracy alone.
    pub target: Option<f64>,
    /// A table measured by `nasr latency measure` for this space (needed by `cost = latency`
    /// with a target).
    pub latency_table: Option<PathBuf>,
    /// Training batches that recalibrate BatchNorm before the derived path is validated.
    pub recal_batches: usize,
    /// Epochs of the derived network's retraining from scratch (0 skips it), with `train`'s
    /// other settings.
    pub retrain_epochs: usize,
}

impl Default for ProxylessConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            space: SpaceConfig::default_of(SpaceName::Proxyless),
            data: DataConfig {
                validation_fraction: 0.2,
                ..DataConfig::default()
            },
            warmup_epochs: 1,
            warmup_lr: 0.05,
            train: TrainConfig {
                epochs: 2,
                lr: 0.025,
                lr_min: 0.0,
                sgd: SgdConfig {
                    momentum: 0.9,
                    nesterov: true,
                    weight_decay: 4e-5,
                    grad_clip: None,
                },
                label_smoothing: 0.1,
                eval_batch_size: 64,
                ..TrainConfig::default()
            },
            alpha: AdamConfig {
                lr: 1e-3,
                beta1: 0.0,
                beta2: 0.999,
                weight_decay: 0.0,
                eps: 1e-8,
            },
            arch_every: 5,
            cost: CostKind::Latency,
            loss: CostLoss::MUL_LOG,
            target: None,
            latency_table: None,
            recal_batches: 8,
            retrain_epochs: 1,
        }
    }
}

/// One search epoch (a line of `alphas.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxylessEpoch {
    /// Epoch of the search (after the warm-up), from 1.
    pub epoch: usize,
    /// softmax(alpha) of every layer, in the space's option order.
    pub probabilities: Vec<Vec<f64>>,
    /// The derived architecture.
    pub derived: String,
    /// E[cost] under p, in the cost's unit (latency in ms); none without a hardware term.
    pub expected_cost: Option<f64>,
    /// The derived architecture's cost (latency in ms, from the table).
    pub derived_cost: Option<f64>,
    /// Mean cross-entropy of the epoch's architecture steps.
    pub arch_cross_entropy: f64,
    /// Mean architecture loss of the epoch's architecture steps.
    pub arch_loss: f64,
}

/// The outcome of a search (`best.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxylessResult {
    /// The derived architecture.
    pub arch: String,
    /// What the hardware term counted.
    pub cost: CostKind,
    /// The target (ms for latency).
    pub target: Option<f64>,
    /// The table's latency of the derived network, in ms (with a latency table).
    pub predicted_latency_ms: Option<f64>,
    /// Its latency measured end to end here with the table's protocol, in ms.
    pub measured_latency_ms: Option<f64>,
    /// Its multiply-adds per image.
    pub flops: u64,
    /// Its parameters.
    pub params: u64,
    /// The supernet's validation accuracy on the derived path (BatchNorm recalibrated).
    pub supernet_valid_accuracy: f64,
    /// Test accuracy after retraining from scratch (when retrained).
    pub retrain_test_accuracy: Option<f64>,
}

type AlphaCheckpoint = crate::alpha_checkpoint::AlphaCheckpoint<LayerAlphas, ProxylessEpoch>;

/// Runs the search into `out`, derives the network, retrains it and measures its latency.
pub fn proxyless_run(
    config: &ProxylessConfig,
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
) -> Result<ProxylessResult, NnError> {
    validate(config)?;
    crate::run::open_run_folder(config, out)?;
    let problem = MobileNetProblem::load(
        &config.space,
        &config.data,
        config.seed,
        data_dir,
        "proxyless",
    )?;
    let table = load_table(config, &problem, out)?;
    let hardware = hardware_term(config, &problem, table.as_ref())?;
    let streams = SeedStreams::new(config.seed);
    let device = options.compute.train_device();
    let supernet = nasr_nn::init::seeded(&mut streams.stream("init"), || {
        Ok::<_, NnError>(MobileNetSupernet::new(&problem.space, &device))
    })?;
    let data = TrainData {
        train: &problem.parts.train,
        valid: &problem.parts.valid,
        normalization: &problem.normalization,
    };
    let supernet = warm_up(config, &problem, supernet, data, out, options)?;
    let search = Search::new(config, &problem, hardware, out);
    let (supernet, search, epochs) = search.run(supernet, data, options)?;
    write_json(&out.join("metrics.json"), &epochs)?;
    crate::alpha_checkpoint::write_json_lines(&out.join("alphas.jsonl"), &search.log)?;

    let arch = search.alphas.derive();
    let space = &problem.space;
    let name = space.format(&arch);
    let cost = space.cost(&arch);
    let (predicted_latency_ms, measured_latency_ms) = match &table {
        Some(table) => {
            let predicted = table.predict(space, &arch).map_err(latency_error)?;
            (
                Some(predicted),
                Some(measure_like(table, space, &arch, options)?),
            )
        }
        None => (None, None),
    };
    let mut result = ProxylessResult {
        arch: name.clone(),
        cost: config.cost,
        target: config.target,
        predicted_latency_ms,
        measured_latency_ms,
        flops: cost.flops,
        params: cost.params,
        supernet_valid_accuracy: epochs.last().map_or(0.0, |e| e.valid_accuracy),
        retrain_test_accuracy: None,
    };
    drop(supernet);
    if config.retrain_epochs > 0 {
        let run = TrainRunConfig {
            init_from: None,
            fault: None,
            seed: config.seed,
            space: config.space.clone(),
            arch: name,
            data: DataConfig {
                validation_fraction: 0.1,
                ..config.data.clone()
            },
            train: TrainConfig {
                epochs: config.retrain_epochs,
                ..config.train.clone()
            },
        };
        let metrics = train_run(&run, data_dir, &out.join("retrain"), options)?;
        result.retrain_test_accuracy = Some(metrics.test_accuracy);
    }
    write_json(&out.join("best.json"), &result)?;
    Ok(result)
}

fn validate(config: &ProxylessConfig) -> Result<(), NnError> {
    let bad = |field, problem: String| Err(NnError::Config { field, problem });
    config.train.validate()?;
    if config.arch_every == 0 {
        return bad("arch_every", "must be at least 1".into());
    }
    if !(config.alpha.lr.is_finite() && config.alpha.lr > 0.0) {
        return bad("alpha.lr", "must be positive".into());
    }
    if !(config.warmup_lr.is_finite() && config.warmup_lr > 0.0) {
        return bad("warmup_lr", "must be positive".into());
    }
    if config.target.is_some() && config.cost == CostKind::Latency && config.latency_table.is_none()
    {
        return bad(
            "latency_table",
            "is needed for a latency target: measure one with `nasr latency measure` for this \
             space and pass it with --latency-table"
                .into(),
        );
    }
    Ok(())
}

/// The run's latency table (see [`load_run_table`]), if one is configured.
fn load_table(
    config: &ProxylessConfig,
    problem: &MobileNetProblem,
    out: &Path,
) -> Result<Option<LatencyTable>, NnError> {
    config
        .latency_table
        .as_deref()
        .map(|path| load_run_table(path, &problem.space, out))
        .transpose()
}

/// The hardware term of a configured target: costs in the loss's units (latency in us).
fn hardware_term(
    config: &ProxylessConfig,
    problem: &MobileNetProblem,
    table: Option<&LatencyTable>,
) -> Result<Option<HardwareTerm>, NnError> {
    let Some(target) = config.target else {
        return Ok(None);
    };
    let (costs, target) = match config.cost {
        CostKind::Latency => {
            let table = table.expect("validated: a latency target has a table");
            let costs = LayerCosts::latency(table, &problem.space).map_err(latency_error)?;
            (costs, target * 1e3)
        }
        CostKind::Flops => (LayerCosts::flops(&problem.space), target),
        CostKind::Params => (LayerCosts::params(&problem.space), target),
    };
    config
        .loss
        .check_target(target, config.cost)
        .map_err(latency_error)?;
    Ok(Some(HardwareTerm {
        costs,
        loss: config.loss,
        target,
    }))
}

/// The warm-up: weight-only epochs on uniformly drawn paths, checkpointed under `warmup/`.
fn warm_up(
    config: &ProxylessConfig,
    problem: &MobileNetProblem,
    supernet: MobileNetSupernet,
    data: TrainData<'_>,
    out: &Path,
    options: &RunOptions,
) -> Result<MobileNetSupernet, NnError> {
    if config.warmup_epochs == 0 {
        return Ok(supernet);
    }
    let train = TrainConfig {
        epochs: config.warmup_epochs,
        lr: config.warmup_lr,
        ..config.train.clone()
    };
    let streams = SeedStreams::new(config.seed);
    let mut step = crate::path_steps::uniform_path_step(&problem.space, streams.phase("warmup"));
    let mut validate = |model: &MobileNetSupernet, epoch: usize| {
        let arch = crate::path_steps::validation_path(&problem.space, &streams, epoch);
        Ok(evaluator(config, problem, model, options).accuracy(&arch))
    };
    let (supernet, _) = Trainer::new(&train, streams.phase("warmup"))
        .on(options.compute)
        .with_checkpoints(out.join("warmup").join("checkpoints"))
        .with_progress(options.show_progress)
        .fit_with(supernet, data, &mut step, &mut validate)?;
    Ok(supernet)
}

fn evaluator<'a>(
    config: &ProxylessConfig,
    problem: &'a MobileNetProblem,
    supernet: &'a MobileNetSupernet,
    options: &RunOptions,
) -> nasr_nn::eval::SupernetEvaluator<'a, MobileNetSupernet> {
    problem.path_evaluator(
        supernet,
        PathEvaluation {
            batch_size: config.train.batch_size,
            recal_batches: config.recal_batches,
            eval_batch_size: config.train.eval_batch_size,
            compute: options.compute,
        },
        config.seed,
    )
}

/// The architecture side of a running search.
struct Search<'a> {
    config: &'a ProxylessConfig,
    problem: &'a MobileNetProblem,
    hardware: Option<HardwareTerm>,
    streams: SeedStreams,
    checkpoints: PathBuf,
    alphas: LayerAlphas,
    log: Vec<ProxylessEpoch>,
    paths: EpochStream,
    val_batches: Option<(usize, Batcher<'a>)>,
    arch_steps: usize,
    ce_sum: f64,
    loss_sum: f64,
}

impl<'a> Search<'a> {
    fn new(
        config: &'a ProxylessConfig,
        problem: &'a MobileNetProblem,
        hardware: Option<HardwareTerm>,
        out: &Path,
    ) -> Self {
        let streams = SeedStreams::new(config.seed);
        let options: Vec<usize> = problem
            .space
            .decisions()
            .iter()
            .map(|d| d.options.len())
            .collect();
        Self {
            config,
            problem,
            hardware,
            streams,
            checkpoints: out.join("checkpoints"),
            alphas: LayerAlphas::new(&options, &mut streams.stream("alpha-init")),
            log: Vec::new(),
            paths: EpochStream::new(streams, "proxyless-path"),
            val_batches: None,
            arch_steps: 0,
            ce_sum: 0.0,
            loss_sum: 0.0,
        }
    }

    /// Trains the supernet and alpha together, resuming from the folder's checkpoints.
    fn run(
        mut self,
        supernet: MobileNetSupernet,
        data: TrainData<'_>,
        options: &RunOptions,
    ) -> Result<(MobileNetSupernet, Self, Vec<EpochRecord>), NnError> {
        let config = self.config;
        let trainer = Trainer::new(&config.train, self.streams)
            .on(options.compute)
            .with_checkpoints(&self.checkpoints)
            .with_progress(options.show_progress);
        self.resume(trainer.completed_epochs()?)?;
        let state = RefCell::new(self);
        let (supernet, epochs) = trainer.fit_with(
            supernet,
            data,
            &mut |model: &MobileNetSupernet, step: &TrainStep<'_>| {
                state.borrow_mut().step(model, step)
            },
            &mut |model: &MobileNetSupernet, epoch| {
                state.borrow_mut().end_epoch(model, epoch, options)
            },
        )?;
        Ok((supernet, state.into_inner(), epochs))
    }

    /// Continues from the alpha checkpoint of `epochs` completed epochs (none at 0).
    fn resume(&mut self, epochs: usize) -> Result<(), NnError> {
        if let Some(checkpoint) = AlphaCheckpoint::load(&self.checkpoints, epochs)? {
            self.alphas = checkpoint.alphas;
            self.log = checkpoint.log;
        }
        Ok(())
    }

    /// The weight step's loss: one path drawn from p, after an architecture step every
    /// `arch_every` steps.
    fn step(&mut self, model: &MobileNetSupernet, step: &TrainStep<'_>) -> StepLoss {
        let every = self.config.arch_every;
        if step.step % every == every - 1 {
            let (images, labels) = self.val_batch(step.epoch, &step.images.device());
            let mut rng = self
                .streams
                .stream(&format!("gates/{}/{}", step.epoch, step.step));
            let record = arch_step(
                model,
                &self.problem.space,
                &mut self.alphas,
                self.hardware.as_ref(),
                &self.config.alpha,
                images,
                labels,
                &mut rng,
            );
            self.arch_steps += 1;
            self.ce_sum += record.cross_entropy;
            self.loss_sum += record.loss;
        }
        let probabilities = self.alphas.probabilities();
        let rng = self.paths.at(step.epoch);
        let arch = Arch::new(probabilities.iter().map(|p| draw(p, rng)).collect());
        step.cross_entropy(vec![model.forward_path(&arch, step.images.clone())].into())
    }

    /// The next held-out batch of the epoch's shuffle (stream `proxyless-valid/<epoch>`),
    /// cycling when the held-out split has fewer batches than the epoch's architecture steps.
    fn val_batch(
        &mut self,
        epoch: usize,
        device: &burn::tensor::Device,
    ) -> (Tensor<4>, Tensor<1, Int>) {
        let valid: &Dataset = &self.problem.parts.valid;
        let normalization: &Normalization = &self.problem.normalization;
        if self.val_batches.as_ref().is_none_or(|(e, _)| *e != epoch) {
            let batcher = Batcher::shuffled(
                valid,
                normalization,
                self.config.train.batch_size,
                &mut self.streams.stream(&format!("proxyless-valid/{epoch}")),
            );
            self.val_batches = Some((epoch, batcher));
            self.arch_steps = 0;
        }
        let (_, batcher) = self.val_batches.as_ref().expect("set above");
        let batch = batcher.plain_batch(self.arch_steps % batcher.len());
        to_tensors(&batch, valid, device)
    }

    /// Logs the epoch, saves the alpha checkpoint (before the trainer saves the weights, so a
    /// resumed run always finds it), and returns the derived path's validation accuracy.
    fn end_epoch(
        &mut self,
        model: &MobileNetSupernet,
        epoch: usize,
        options: &RunOptions,
    ) -> Result<f64, NnError> {
        let space = &self.problem.space;
        let probabilities = self.alphas.probabilities();
        let derived = self.alphas.derive();
        let scale = if self.config.cost == CostKind::Latency {
            1e-3
        } else {
            1.0
        };
        let expected_cost = self.hardware.as_ref().map(|term| {
            let distributions: Vec<Vec<(usize, f64)>> = probabilities
                .iter()
                .map(|p| p.iter().copied().enumerate().collect())
                .collect();
            scale * term.costs.expected(&distributions)
        });
        let derived_cost = self.hardware.as_ref().map(|t| scale * t.costs.of(&derived));
        let steps = self.arch_steps.max(1) as f64;
        let record = ProxylessEpoch {
            epoch: epoch + 1,
            probabilities,
            derived: space.format(&derived),
            expected_cost,
            derived_cost,
            arch_cross_entropy: self.ce_sum / steps,
            arch_loss: self.loss_sum / steps,
        };
        (self.ce_sum, self.loss_sum) = (0.0, 0.0);
        if options.show_progress {
            eprintln!(
                "epoch {}: derived {}, expected cost {}, architecture loss {:.4}",
                record.epoch,
                record.derived,
                record
                    .expected_cost
                    .map_or("-".into(), |c| format!("{c:.4}")),
                record.arch_loss
            );
        }
        self.log.push(record);
        let checkpoint = AlphaCheckpoint {
            alphas: self.alphas.clone(),
            log: self.log.clone(),
        };
        checkpoint.save(&self.checkpoints, epoch + 1)?;
        Ok(evaluator(self.config, self.problem, model, options).accuracy(&derived))
    }
}
