//! Random search with weight sharing (Li & Talwalkar, UAI 2019).
//!
//! Train the NB201 supernet with one uniformly sampled path per step (single-path one-shot
//! training, as SPOS), then run random search (K distinct architectures) with the
//! [`SupernetEvaluator`] (BatchNorm recalibrated along each path, then validation accuracy),
//! rank them and keep the best. The run folder holds
//! `config.toml`, `metrics.json` (supernet training), `supernet.safetensors`, `ranking.json`
//! (all K, best first), `best.json` and `timing.json`.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use nasr_space::{Arch, Nb201Space, Space};
use serde::{Deserialize, Serialize};

use nasr_nn::eval::SupernetEvaluator;
use nasr_nn::eval::supernet::{PathData, PathEvaluation};
use nasr_search::random::DistinctRandomSearch;
use nasr_search::store::drive;
use nasr_search::{Goal, Search, SearchError, Strategy};
use rand::RngCore;
use std::sync::Arc;

use crate::path_steps::{uniform_path_step, validation_path};
use crate::run::{DataConfig, RunData, RunOptions, open_run_folder, write_json};
use crate::space::{NetworkSize, SpaceConfig};
use nasr_nn::NnError;
use nasr_nn::nets::nb201::Nb201NetworkConfig;
use nasr_nn::nets::nb201::Nb201Supernet;
use nasr_nn::params::{named_tensors, save_safetensors};
use nasr_nn::train::{EpochRecord, TrainConfig, TrainData, Trainer};

/// Everything that defines an RSWS run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RswsConfig {
    /// Run seed.
    pub seed: u64,
    /// The space and its supernet's sizes (`[space.nb201]`, the one space RSWS searches).
    pub space: SpaceConfig,
    /// Data selection.
    pub data: DataConfig,
    /// Supernet training.
    pub train: TrainConfig,
    /// Architectures sampled and ranked after training (K).
    pub candidates: usize,
    /// Training batches used to recalibrate BatchNorm before each evaluation.
    pub recal_batches: usize,
}

impl Default for RswsConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            space: SpaceConfig::Nb201(NetworkSize {
                channels: 8,
                cells: 1,
            }),
            data: DataConfig::default(),
            train: TrainConfig::default(),
            candidates: 50,
            recal_batches: 8,
        }
    }
}

/// One ranked candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedArch {
    /// Canonical architecture string.
    pub arch: String,
    /// NAS-Bench-201 index.
    pub index: usize,
    /// Validation accuracy of the supernet path after BN recalibration, in [0, 1].
    pub supernet_valid_accuracy: f64,
}

/// The outcome of an RSWS run (`best.json` is its `best`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RswsResult {
    /// Format version of the files.
    pub format_version: u32,
    /// The winner.
    pub best: RankedArch,
    /// Candidates ranked.
    pub candidates: usize,
    /// Supernet training, per epoch (validation: one random path after recalibration).
    pub epochs: Vec<EpochRecord>,
    /// All candidates, best first (written to `ranking.json`, not to `metrics.json`).
    #[serde(skip)]
    pub ranking: Vec<RankedArch>,
}

/// Trains the supernet as configured (resuming from `out/checkpoints`), ranks K candidates and
/// writes the run folder.
pub fn rsws_run(
    config: &RswsConfig,
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
) -> Result<RswsResult, NnError> {
    let size = config.space.nb201("rsws")?;
    let space = Nb201Space::new();
    config.train.validate()?;
    if config.candidates == 0 || config.candidates > space.size() || config.recal_batches == 0 {
        return Err(NnError::Config {
            field: "candidates",
            problem: format!(
                "candidates must be in 1..={} and recal_batches at least 1 (got {} and {})",
                space.size(),
                config.candidates,
                config.recal_batches
            ),
        });
    }
    open_run_folder(config, out)?;
    let RunData {
        parts,
        normalization,
        streams,
        ..
    } = RunData::load(&config.data, config.seed, data_dir)?;
    let network = Nb201NetworkConfig {
        channels: size.channels,
        cells: size.cells,
        in_channels: parts.train.shape.channels,
        classes: parts.train.classes,
    };
    let device = options.compute.train_device();
    let supernet = nasr_nn::init::seeded(&mut streams.stream("init"), || {
        Nb201Supernet::new(&network, &device)
    })?;

    let started = Instant::now();
    let path_data = PathData {
        train: &parts.train,
        valid: &parts.valid,
        normalization: &normalization,
    };
    let settings = PathEvaluation {
        batch_size: config.train.batch_size,
        recal_batches: config.recal_batches,
        eval_batch_size: config.train.eval_batch_size,
        compute: options.compute,
    };
    let mut train_step = uniform_path_step(&space, streams);
    let (supernet, epochs) = Trainer::new(&config.train, streams)
        .on(options.compute)
        .with_checkpoints(out.join("checkpoints"))
        .with_progress(options.show_progress)
        .fit_with(
            supernet,
            TrainData {
                train: &parts.train,
                valid: &parts.valid,
                normalization: &normalization,
            },
            &mut train_step,
            &mut |model: &Nb201Supernet, epoch| {
                let arch = validation_path(&space, &streams, epoch);
                let evaluator = SupernetEvaluator::new(model, &space, path_data, settings, streams);
                Ok(evaluator.accuracy(&arch))
            },
        )?;
    let train_seconds = started.elapsed().as_secs_f64();
    save_safetensors(&named_tensors(&supernet), &out.join("supernet.safetensors"))?;

    let started = Instant::now();
    let mut search = Search::new(
        Arc::new(space.clone()),
        Goal::maximize("accuracy"),
        DistinctRandomSearch,
        streams.stream("candidates").next_u64(),
    );
    let evaluator = SupernetEvaluator::new(&supernet, &space, path_data, settings, streams);
    drive(&mut search, evaluator, None, config.candidates, &mut |_| {})?;
    let mut ranking = search
        .book()
        .trials()
        .iter()
        .map(|trial| {
            let accuracy = trial.metrics.get("accuracy").copied().ok_or_else(|| {
                NnError::Search(SearchError::Evaluation(format!(
                    "trial {} has no accuracy",
                    trial.id
                )))
            })?;
            Ok(RankedArch {
                arch: space.format(&trial.arch),
                index: space.index_of(&trial.arch)?,
                supernet_valid_accuracy: accuracy,
            })
        })
        .collect::<Result<Vec<_>, NnError>>()?;
    // Best first; among equals, the earlier candidate.
    ranking.sort_by(|a, b| {
        b.supernet_valid_accuracy
            .total_cmp(&a.supernet_valid_accuracy)
    });
    let rank_seconds = started.elapsed().as_secs_f64();
    let result = RswsResult {
        format_version: 1,
        best: ranking[0].clone(),
        candidates: ranking.len(),
        epochs,
        ranking,
    };
    write_json(&out.join("ranking.json"), &result.ranking)?;
    write_json(&out.join("best.json"), &result.best)?;
    write_json(&out.join("metrics.json"), &result)?;
    let timing = serde_json::json!({"train_seconds": train_seconds, "rank_seconds": rank_seconds});
    write_json(&out.join("timing.json"), &timing)?;
    Ok(result)
}

/// `count` distinct architectures drawn uniformly, in draw order.
pub(crate) fn distinct_candidates(
    space: &dyn Space,
    count: usize,
    rng: &mut dyn rand::RngCore,
) -> Vec<Arch> {
    // A space smaller than `count` gives all of its architectures rather than looping forever.
    let count = count.min(space.size());
    let mut seen = BTreeSet::new();
    let mut candidates = Vec::with_capacity(count);
    while candidates.len() < count {
        let arch = space.sample(rng);
        if seen.insert(arch.clone()) {
            candidates.push(arch);
        }
    }
    candidates
}
