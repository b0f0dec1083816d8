//! Once-for-All's progressive shrinking (Cai et al., ICLR 2020; code: `train_ofa_net.py`):
//! one elastic supernet ([`OfaSupernet`]) trained so that every sub-network works without
//! retraining. First the full network alone; then phases that open the space step by step,
//! kernel, then depth, then expansion, each step running a few sub-networks drawn from the
//! phase's part of the space (OFA: 1, 2, 4) on one batch and applying the sum of their
//! gradients. Every phase after the first distils from the full network: each sub-network's
//! loss is the label-smoothed cross-entropy plus the cross-entropy against the frozen full
//! network's softmax. At the start of each expand phase the middle channels of every layer are
//! sorted by importance, so that smaller widths keep the most important ones.
//!
//! Run folder: `config.toml`, `phases/<name>/` (each phase's checkpoints: a killed run resumes
//! at the phase and epoch it reached), `metrics.json` (every phase's epochs), `supernet.
//! safetensors`, `ofa.json` (the smallest and largest sub-networks' validation accuracy).

use std::path::Path;

use burn::module::Module;
use nasr_nn::NnError;
use nasr_nn::nets::ofa::OfaSupernet;
use nasr_nn::supernet::PathSupernet;
use nasr_nn::train::{Distillation, EpochRecord, StepLoss, TrainConfig, TrainStep, Trainer};
use nasr_space::ofa::{Elastic, OfaConfig, OfaSpace};
use nasr_space::{EpochStream, SeedStreams, Space};
use serde::{Deserialize, Serialize};

use crate::run::{DataConfig, RunData, RunOptions};

/// One phase of progressive shrinking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Its name, and its checkpoint folder `phases/<name>`.
    pub name: String,
    /// Passes over the training set.
    pub epochs: usize,
    /// Initial learning rate (cosine-annealed over the phase).
    pub lr: f64,
    /// Sub-networks per step (their gradients summed).
    pub subnets: usize,
    /// The part of the space it samples.
    pub elastic: Elastic,
    /// Sort every layer's middle channels by importance before the phase (expand phases).
    pub reorganize: bool,
}

/// Everything that defines a progressive-shrinking run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProgressiveShrinkingConfig {
    /// Run seed.
    pub seed: u64,
    /// Data selection.
    pub data: DataConfig,
    /// The space's sizes (`[space.ofa]`; input channels and classes are taken from the data).
    pub space: crate::space::SpaceConfig,
    /// Training settings every phase shares (its epochs and lr are the phases').
    pub train: TrainConfig,
    /// The phases in order; the first trains the full network without a teacher.
    pub phases: Vec<Phase>,
    /// Weight of the distillation term (OFA: 1.0).
    pub kd_weight: f64,
    /// Training batches that recalibrate BatchNorm before a sub-network is scored.
    pub recal_batches: usize,
}

impl Default for ProgressiveShrinkingConfig {
    fn default() -> Self {
        let space = OfaConfig::default();
        Self {
            seed: 0,
            data: DataConfig::default(),
            train: TrainConfig {
                batch_size: 64,
                label_smoothing: 0.1,
                sgd: nasr_nn::train::optim::SgdConfig {
                    momentum: 0.9,
                    nesterov: true,
                    weight_decay: 3e-5,
                    grad_clip: None,
                },
                eval_batch_size: 64,
                ..TrainConfig::default()
            },
            phases: ofa_phases(&space),
            space: crate::space::SpaceConfig::Ofa(space),
            kd_weight: 1.0,
            recal_batches: 8,
        }
    }
}

/// OFA's schedule (`train_ofa_net.py`) scaled to this machine. OFA: kernel 120 epochs at lr
/// 0.03, depth 25 + 120 at 0.0025 / 0.0075, expand 25 + 120 at 0.0025 / 0.0075 (per 64-image
/// batch), 1, 2, 2, 4, 4 sub-networks per step; here 3, 1 + 3, 1 + 3 epochs at those rates,
/// after 4 epochs of the full network at 0.05 (OFA's teacher schedule is not in its code).
pub fn ofa_phases(space: &OfaConfig) -> Vec<Phase> {
    let largest = |values: &[usize]| vec![*values.iter().max().expect("non-empty")];
    let top = |values: &[usize], n: usize| {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        sorted[sorted.len().saturating_sub(n)..].to_vec()
    };
    let part = |kernels: Vec<usize>, expansions: Vec<usize>, depths: Vec<usize>| Elastic {
        kernels,
        expansions,
        depths,
    };
    let phase = |name: &str, epochs, lr, subnets, elastic, reorganize| Phase {
        name: name.into(),
        epochs,
        lr,
        subnets,
        elastic,
        reorganize,
    };
    let (k, e, d) = (&space.kernels, &space.expansions, &space.depths);
    vec![
        phase(
            "full",
            4,
            0.05,
            1,
            part(largest(k), largest(e), largest(d)),
            false,
        ),
        phase(
            "kernel",
            3,
            0.03,
            1,
            part(k.clone(), largest(e), largest(d)),
            false,
        ),
        phase(
            "depth-1",
            1,
            0.0025,
            2,
            part(k.clone(), largest(e), top(d, 2)),
            false,
        ),
        phase(
            "depth-2",
            3,
            0.0075,
            2,
            part(k.clone(), largest(e), d.clone()),
            false,
        ),
        phase(
            "expand-1",
            1,
            0.0025,
            4,
            part(k.clone(), top(e, 2), d.clone()),
            true,
        ),
        phase(
            "expand-2",
            3,
            0.0075,
            4,
            part(k.clone(), e.clone(), d.clone()),
            true,
        ),
    ]
}

/// The ablation of progressive shrinking: `phases` with every phase after the first sampling
/// the whole of `space` (its epochs, rate and sub-networks per step kept, no reorganisation),
/// so that the budget is the same and only the order in which the space opens differs.
pub fn without_shrinking(phases: &[Phase], space: &OfaSpace) -> Vec<Phase> {
    phases
        .iter()
        .enumerate()
        .map(|(index, phase)| {
            if index == 0 {
                phase.clone()
            } else {
                Phase {
                    elastic: space.everything(),
                    reorganize: false,
                    ..phase.clone()
                }
            }
        })
        .collect()
}

/// The outcome of a progressive-shrinking run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfaResult {
    /// The smallest sub-network of the space at the largest resolution.
    pub smallest: ScoredSubnet,
    /// The largest sub-network at the largest resolution.
    pub largest: ScoredSubnet,
}

/// A sub-network with its validation accuracy in the trained supernet (BN recalibrated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredSubnet {
    /// Canonical string.
    pub arch: String,
    /// Validation accuracy in [0, 1].
    pub valid_accuracy: f64,
    /// Multiply-adds per image.
    pub flops: u64,
    /// Parameters of the extracted network.
    pub params: u64,
}

/// Trains the elastic supernet of `config` by progressive shrinking into `out`, resuming
/// whatever phase a previous run of the same config reached.
pub fn progressive_shrinking_run(
    config: &ProgressiveShrinkingConfig,
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
) -> Result<OfaResult, NnError> {
    validate(config)?;
    crate::run::open_run_folder(config, out)?;
    let RunData {
        parts,
        normalization,
        ..
    } = RunData::load(&config.data, config.seed, data_dir)?;
    let space = super::trained::run_space(config, &parts)?;
    for phase in &config.phases {
        space.check_within(&phase.elastic)?;
    }
    let streams = SeedStreams::new(config.seed);
    let device = options.compute.train_device();
    let mut supernet = nasr_nn::init::seeded(&mut streams.stream("init"), || {
        Ok::<_, NnError>(OfaSupernet::new(&space, &device))
    })?;
    let data = nasr_nn::train::TrainData {
        train: &parts.train,
        valid: &parts.valid,
        normalization: &normalization,
    };
    let scoring =
        super::trained::SubnetScoring::new(config, &space, &parts, &normalization, options);
    let accuracy = |model: &OfaSupernet, arch: &nasr_space::Arch| scoring.accuracy(model, arch);
    let top_resolution = space.config().resolutions.len() - 1;
    let mut teacher: Option<OfaSupernet> = None;
    let mut history: Vec<PhaseRecord> = Vec::new();
    for (index, phase) in config.phases.iter().enumerate() {
        if phase.reorganize {
            supernet = supernet.reorganize_middle();
        }
        let train = TrainConfig {
            epochs: phase.epochs,
            lr: phase.lr,
            ..config.train.clone()
        };
        let largest = space.extreme(&phase.elastic, true, top_resolution);
        let (trained, epochs) = {
            let mut step = phase_step(&space, phase, teacher.as_ref(), config, streams);
            let mut validate = |model: &OfaSupernet, _epoch| Ok(accuracy(model, &largest));
            Trainer::new(&train, streams.phase(&format!("ofa-{index}")))
                .on(options.compute)
                .with_checkpoints(out.join("phases").join(&phase.name))
                .with_progress(options.show_progress)
                .fit_with(supernet, data, &mut step, &mut validate)?
        };
        supernet = trained;
        history.push(PhaseRecord {
            phase: phase.name.clone(),
            epochs,
        });
        if teacher.is_none() {
            // OFA's teacher: the full network as it left the first phase, frozen.
            teacher = Some(supernet.clone().no_grad());
        }
    }
    crate::run::write_json(&out.join("metrics.json"), &history)?;
    nasr_nn::params::save_safetensors(
        &nasr_nn::params::named_tensors(&supernet),
        &out.join("supernet.safetensors"),
    )?;
    let everything = space.everything();
    let score = |arch: nasr_space::Arch| {
        let cost = space.cost(&arch);
        ScoredSubnet {
            arch: space.format(&arch),
            valid_accuracy: accuracy(&supernet, &arch),
            flops: cost.flops,
            params: cost.params,
        }
    };
    let result = OfaResult {
        smallest: score(space.extreme(&everything, false, top_resolution)),
        largest: score(space.extreme(&everything, true, top_resolution)),
    };
    crate::run::write_json(&out.join("ofa.json"), &result)?;
    Ok(result)
}

/// One phase's epochs (`metrics.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseRecord {
    /// The phase's name.
    pub phase: String,
    /// Its epochs.
    pub epochs: Vec<EpochRecord>,
}

/// The training step of a phase: `phase.subnets` sub-networks drawn from its part of the space
/// (stream `ofa/<phase>` per epoch), with distillation from `teacher` when there is one.
fn phase_step<'a>(
    space: &'a OfaSpace,
    phase: &'a Phase,
    teacher: Option<&'a OfaSupernet>,
    config: &ProgressiveShrinkingConfig,
    streams: SeedStreams,
) -> impl FnMut(&OfaSupernet, &TrainStep<'_>) -> StepLoss + 'a {
    let mut draws = EpochStream::new(streams, &format!("ofa/{}", phase.name));
    let (smoothing, kd_weight) = (config.train.label_smoothing, config.kd_weight);
    let full = space.extreme(&space.everything(), true, 0);
    move |model, step| {
        // One resolution per step, as OFA resizes each batch: the first draw's.
        let rng = draws.at(step.epoch);
        let mut archs: Vec<_> = (0..phase.subnets)
            .map(|_| space.sample_within(&phase.elastic, rng))
            .collect();
        let resolution = archs[0].choices[0];
        for arch in &mut archs {
            arch.choices[0] = resolution;
        }
        let students: Vec<_> = archs
            .iter()
            .map(|arch| model.forward_path(arch, step.images.clone()))
            .collect();
        match teacher {
            None => step.cross_entropy(students.into()),
            Some(teacher) => {
                // The teacher sees the step's resolution: the full network at it.
                let mut at = full.clone();
                at.choices[0] = resolution;
                let soft = teacher.forward_path(&at, step.images.clone()).detach();
                Distillation::new(smoothing, kd_weight, &step.images.device()).step(
                    students,
                    soft,
                    &step.labels,
                )
            }
        }
    }
}

fn validate(config: &ProgressiveShrinkingConfig) -> Result<(), NnError> {
    config.train.validate()?;
    let bad = |field: &'static str, problem: String| Err(NnError::Config { field, problem });
    if config.phases.is_empty() {
        return bad(
            "phases",
            "must list at least the full network's phase".into(),
        );
    }
    for phase in &config.phases {
        if phase.epochs == 0 || phase.subnets == 0 {
            return bad(
                "phases",
                format!(
                    "phase {} needs at least 1 epoch and 1 sub-network per step",
                    phase.name
                ),
            );
        }
        if !(phase.lr.is_finite() && phase.lr > 0.0) {
            return bad(
                "phases",
                format!("phase {} needs a positive lr, got {}", phase.name, phase.lr),
            );
        }
    }
    let mut names: Vec<&str> = config.phases.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
        return bad("phases", format!("two phases are named {}", pair[0]));
    }
    if !(config.kd_weight.is_finite() && config.kd_weight >= 0.0) {
        return bad(
            "kd_weight",
            format!("must be 0 or more, got {}", config.kd_weight),
        );
    }
    Ok(())
}
