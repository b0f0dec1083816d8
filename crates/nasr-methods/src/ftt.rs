//! FTT-NAS (Ning et al.; code: aw_nas): search for a network that keeps its accuracy under
//! hardware faults.
//!
//! 1. A weight-sharing supernet of the NB201 or DARTS space is trained one uniform path per
//!    step on the fault-tolerant loss `(1 - gamma) CE_clean + gamma CE_faulty`
//!    ([`fault_tolerant_path_step`]).
//! 2. A multi-trial strategy (REINFORCE by default, REA or random search as options) asks
//!    architectures of the space; each is scored by [`Faulty`]`<`[`SupernetEvaluator`]`>`: its
//!    path's validation accuracy clean and under the fault model (mean over R draws, BatchNorm
//!    recalibrated along the path, under faults for the faulty draws), rewarded with
//!    `(1 - alpha) acc_clean + alpha acc_faulty`.
//! 3. The best-rewarded architecture is retrained from scratch with fault-tolerant training and
//!    tested clean and under the search's faults.
//!
//! aw_nas's controller is an LSTM driven by REINFORCE; nasr's REINFORCE is a factorised policy
//! (one categorical per decision), the same as its table search's.
//!
//! Folder: `config.toml`; `checkpoints/` and `metrics.json` (supernet training, per epoch);
//! `supernet.safetensors`; `experiment.sqlite` (every trial and the strategy's state, so a
//! killed search resumes where it stopped) and `trials.jsonl`; `timing.json`; `retrain/` (a `nasr train` run
//! folder); `best.json` ([`FttResult`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use nasr_nn::NnError;
use nasr_nn::eval::SupernetEvaluator;
use nasr_nn::eval::faulty::{Faulty, FaultyAccuracy};
use nasr_nn::eval::supernet::{PathData, PathEvaluation};
use nasr_nn::faults::{FaultModel, FaultRate, FeatureFault};
use nasr_nn::nets::darts::{DartsNetConfig, DartsSupernet};
use nasr_nn::nets::nb201::{Nb201NetworkConfig, Nb201Supernet};
use nasr_nn::params::{named_tensors, save_safetensors};
use nasr_nn::supernet::PathSupernet;
use nasr_nn::train::fault_tolerant::FaultTolerance;
use nasr_nn::train::{EpochRecord, TrainConfig, TrainData, Trainer};
use nasr_search::experiment::{open_store, write_trials};
use nasr_search::registry::{StrategyName, StrategySettings, build};
use nasr_search::store::{Store, drive};
use nasr_search::{Goal, SearchError, TrialRecord};
use nasr_space::{DartsSpace, Nb201Space, Space};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::path_steps::{fault_tolerant_path_step, validation_path};
use crate::run::{
    DataConfig, RunData, RunOptions, TrainRunConfig, open_run_folder, train_run, write_json,
};
use crate::space::{NetworkSize, SpaceConfig};
use crate::trained_run::TrainedRun;

/// Everything that defines an FTT-NAS search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FttConfig {
    /// Run seed.
    pub seed: u64,
    /// The space and its supernet's sizes (`[space.nb201]` or `[space.darts]`).
    pub space: SpaceConfig,
    /// Data selection (the validation split scores the architectures).
    pub data: DataConfig,
    /// Supernet training.
    pub train: TrainConfig,
    /// The search's fault model, and the weight gamma of the faulty loss in supernet training
    /// (aw_nas's shipped search configs: 0, its FTT example 0.5).
    pub fault: FaultTolerance,
    /// The strategy: `reinforce` (default), `rea` or `rs`.
    pub strategy: StrategyName,
    /// The strategy's settings.
    pub settings: StrategySettings,
    /// Architectures evaluated.
    pub trials: usize,
    /// Reward weight alpha of the faulty accuracy (default: aw_nas's 0.5 under feature faults,
    /// 0.2 under weight faults).
    pub reward_alpha: Option<f64>,
    /// Fault draws per architecture's reward.
    pub fault_draws: usize,
    /// Training batches BatchNorm is recalibrated on before each evaluation.
    pub recal_batches: usize,
    /// Retraining of the pick (none: search only).
    pub retrain: Option<FttRetrain>,
}

/// How the pick is retrained and tested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FttRetrain {
    /// The network's sizes (default: the supernet's), e.g. a wider C to match another
    /// network's parameters.
    pub space: Option<SpaceConfig>,
    /// Training.
    pub train: TrainConfig,
    /// Weight of the faulty loss (aw_nas's final training: 0.7).
    pub gamma: f64,
    /// Fault draws of the test under the search's faults.
    pub test_draws: usize,
}

impl Default for FttRetrain {
    fn default() -> Self {
        Self {
            space: None,
            train: TrainConfig {
                epochs: 3,
                ..TrainConfig::default()
            },
            gamma: 0.7,
            test_draws: 5,
        }
    }
}

impl Default for FttConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            space: SpaceConfig::Nb201(NetworkSize {
                channels: 8,
                cells: 1,
            }),
            data: DataConfig::default(),
            train: TrainConfig {
                epochs: 3,
                ..TrainConfig::default()
            },
            fault: FaultTolerance {
                model: FaultModel {
                    feature: Some(FeatureFault::Mibb {
                        rate: FaultRate::PerElement(0.02),
                    }),
                    weight: None,
                },
                gamma: 0.5,
            },
            strategy: StrategyName::Reinforce,
            settings: StrategySettings::default(),
            trials: 50,
            reward_alpha: None,
            fault_draws: 2,
            recal_batches: 4,
            retrain: Some(FttRetrain::default()),
        }
    }
}

impl FttConfig {
    /// The reward's alpha: as set, else 0.5 with feature faults and 0.2 with weight faults
    /// only (aw_nas's MiBB and adSAF configs).
    pub fn alpha(&self) -> f64 {
        self.reward_alpha
            .unwrap_or(if self.fault.model.feature.is_some() {
                0.5
            } else {
                0.2
            })
    }

    /// Checks every field; the error names it.
    pub fn validate(&self) -> Result<(), NnError> {
        let bad = |field, problem: String| Err(NnError::Config { field, problem });
        self.train.validate()?;
        self.fault.validate()?;
        if self.fault.model == FaultModel::default() {
            return bad(
                "fault",
                "has no fault model: FTT-NAS searches under faults (--fault MODEL)".into(),
            );
        }
        if !matches!(
            self.strategy,
            StrategyName::Reinforce | StrategyName::Rea | StrategyName::Rs
        ) {
            return bad(
                "strategy",
                format!("must be reinforce, rea or rs; got {}", self.strategy),
            );
        }
        if self.trials == 0 || self.fault_draws == 0 || self.recal_batches == 0 {
            return bad(
                "trials",
                format!(
                    "trials, fault_draws and recal_batches must be at least 1 (got {}, {} and {})",
                    self.trials, self.fault_draws, self.recal_batches
                ),
            );
        }
        if !(0.0..=1.0).contains(&self.alpha()) {
            return bad(
                "reward_alpha",
                format!("must be in [0, 1], got {}", self.alpha()),
            );
        }
        if let Some(retrain) = &self.retrain {
            retrain.train.validate()?;
            FaultTolerance {
                gamma: retrain.gamma,
                ..self.fault
            }
            .validate()?;
            if let Some(space) = &retrain.space
                && space.name() != self.space.name()
            {
                return bad(
                    "retrain.space",
                    format!(
                        "must be the searched space ({}); got {}",
                        self.space.name(),
                        space.name()
                    ),
                );
            }
        }
        match &self.space {
            SpaceConfig::Nb201(_) => Ok(()),
            SpaceConfig::Darts(sizes) => sizes.validate(),
            other => bad(
                "space",
                format!(
                    "ftt runs on [space.nb201] or [space.darts]; got [space.{}]",
                    other.name()
                ),
            ),
        }
    }
}

/// One evaluated architecture's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FttScore {
    /// Canonical architecture string.
    pub arch: String,
    /// The reward the strategy maximised.
    pub reward: f64,
    /// Its supernet path's validation accuracy without faults.
    pub accuracy_clean: f64,
    /// Under the search's faults, mean over the draws.
    pub accuracy_faulty: f64,
    /// Their standard deviation.
    pub accuracy_faulty_sd: f64,
}

/// The pick retrained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FttRetrained {
    /// Parameters of the retrained network.
    pub parameters: usize,
    /// Test accuracy without faults.
    pub test_accuracy: f64,
    /// Test accuracy under the search's faults, over the draws.
    pub test_accuracy_faulty: FaultyAccuracy,
}

/// What an FTT-NAS search found (`best.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FttResult {
    /// Format version of the files.
    pub format_version: u32,
    /// The space searched.
    pub space: String,
    /// The best-rewarded architecture.
    pub best: FttScore,
    /// Architectures evaluated.
    pub trials: usize,
    /// Supernet training, per epoch (validation: one random path after recalibration, clean).
    pub epochs: Vec<EpochRecord>,
    /// The pick retrained and tested.
    pub retrained: Option<FttRetrained>,
}

/// Runs (or resumes) an FTT-NAS search into `out`.
pub fn ftt_run(
    config: &FttConfig,
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
) -> Result<FttResult, NnError> {
    config.validate()?;
    open_run_folder(config, out)?;
    let data = RunData::load(&config.data, config.seed, data_dir)?;
    let (in_channels, classes) = (data.parts.train.shape.channels, data.parts.train.classes);
    let device = options.compute.train_device();
    let init = &mut data.streams.stream("init");
    let (epochs, best) = match &config.space {
        SpaceConfig::Nb201(size) => {
            let network = Nb201NetworkConfig {
                channels: size.channels,
                cells: size.cells,
                in_channels,
                classes,
            };
            let supernet = nasr_nn::init::seeded(init, || Nb201Supernet::new(&network, &device))?;
            search(config, Nb201Space::new(), supernet, &data, out, options)?
        }
        SpaceConfig::Darts(sizes) => {
            let network = DartsNetConfig {
                in_channels,
                classes,
                ..*sizes
            };
            let supernet = nasr_nn::init::seeded(init, || DartsSupernet::new(&network, &device))?;
            search(config, DartsSpace::new(), supernet, &data, out, options)?
        }
        other => unreachable!("validate refuses [space.{}]", other.name()),
    };
    let retrained = match &config.retrain {
        Some(retrain) => Some(retrain_pick(
            config, retrain, &best.arch, data_dir, out, options,
        )?),
        None => None,
    };
    let result = FttResult {
        format_version: 1,
        space: config.space.name().to_string(),
        best,
        trials: config.trials,
        epochs,
        retrained,
    };
    write_json(&out.join("best.json"), &result)?;
    Ok(result)
}

/// Trains the supernet of `space` fault-tolerantly, then runs the strategy over its paths
/// under faults; the supernet's epochs and the best-rewarded architecture.
fn search<Sp, S>(
    config: &FttConfig,
    space: Sp,
    supernet: S,
    data: &RunData,
    out: &Path,
    options: &RunOptions,
) -> Result<(Vec<EpochRecord>, FttScore), NnError>
where
    Sp: Space + Clone + Send + Sync + 'static,
    S: PathSupernet + Sync,
{
    let RunData {
        parts,
        normalization,
        streams,
        ..
    } = data;
    let streams = *streams;
    let path_data = PathData {
        train: &parts.train,
        valid: &parts.valid,
        normalization,
    };
    let settings = PathEvaluation {
        batch_size: config.train.batch_size,
        recal_batches: config.recal_batches,
        eval_batch_size: config.train.eval_batch_size,
        compute: options.compute,
    };
    let started = Instant::now();
    let mut step = fault_tolerant_path_step(&space, streams, config.fault);
    let (supernet, epochs) = Trainer::new(&config.train, streams)
        .on(options.compute)
        .with_checkpoints(out.join("checkpoints"))
        .with_progress(options.show_progress)
        .fit_with(
            supernet,
            TrainData {
                train: &parts.train,
                valid: &parts.valid,
                normalization,
            },
            &mut step,
            &mut |model: &S, epoch| {
                let arch = validation_path(&space, &streams, epoch);
                let evaluator = SupernetEvaluator::new(model, &space, path_data, settings, streams);
                Ok(evaluator.accuracy(&arch))
            },
        )?;
    let train_seconds = started.elapsed().as_secs_f64();
    write_json(&out.join("metrics.json"), &epochs)?;
    save_safetensors(&named_tensors(&supernet), &out.join("supernet.safetensors"))?;

    let started = Instant::now();
    let config_json = serde_json::to_string(config).expect("config serialises");
    let mut store = open_store(out, &config_json)?;
    let mut strategy = build(
        config.strategy.as_str(),
        Arc::new(space.clone()),
        Goal::maximize("accuracy"),
        &config.settings,
        streams.stream("strategy").next_u64(),
    )?;
    let evaluator = Faulty::new(
        SupernetEvaluator::new(&supernet, &space, path_data, settings, streams),
        config.fault.model,
        config.fault_draws,
        config.alpha(),
        streams,
    );
    let done = store.trials()?.len();
    let bar = options.progress(config.trials, done, "ftt search");
    drive(
        strategy.as_mut(),
        evaluator,
        Some(&mut store),
        config.trials,
        &mut |_| bar.inc(1),
    )?;
    bar.finish_and_clear();
    write_trials(out, &store)?;
    // A resumed run times only what it did itself.
    let timing = serde_json::json!({
        "train_seconds": train_seconds,
        "search_seconds": started.elapsed().as_secs_f64(),
    });
    write_json(&out.join("timing.json"), &timing)?;
    let best = strategy
        .best()
        .ok_or_else(|| NnError::Search(SearchError::Evaluation("no trial finished".into())))?;
    Ok((epochs, score(&space, best)?))
}

/// A finished trial's scores.
fn score(space: &dyn Space, trial: &TrialRecord) -> Result<FttScore, NnError> {
    let metric = |name: &str| {
        trial.metrics.get(name).copied().ok_or_else(|| {
            NnError::Search(SearchError::Evaluation(format!(
                "trial {} has no {name}",
                trial.id
            )))
        })
    };
    Ok(FttScore {
        arch: space.format(&trial.arch),
        reward: metric("accuracy")?,
        accuracy_clean: metric("accuracy_clean")?,
        accuracy_faulty: metric("accuracy_faulty")?,
        accuracy_faulty_sd: metric("accuracy_faulty_sd")?,
    })
}

/// Retrains `arch` from scratch into `out/retrain` with fault-tolerant training under the
/// search's faults, and tests it clean and under them.
fn retrain_pick(
    config: &FttConfig,
    retrain: &FttRetrain,
    arch: &str,
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
) -> Result<FttRetrained, NnError> {
    let run = TrainRunConfig {
        seed: config.seed,
        space: retrain
            .space
            .clone()
            .unwrap_or_else(|| config.space.clone()),
        arch: arch.to_string(),
        data: config.data.clone(),
        train: retrain.train.clone(),
        init_from: None,
        fault: Some(FaultTolerance {
            gamma: retrain.gamma,
            ..config.fault
        }),
    };
    let folder = out.join("retrain");
    let metrics = train_run(&run, data_dir, &folder, options)?;
    let trained = TrainedRun::load(&folder, data_dir, options)?;
    let faulty = trained.test_accuracy(config.fault.model, retrain.test_draws, "ftt/test");
    Ok(FttRetrained {
        parameters: metrics.parameters,
        test_accuracy: metrics.test_accuracy,
        test_accuracy_faulty: faulty,
    })
}
