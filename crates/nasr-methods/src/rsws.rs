//! Random search with weight sharing (Li & Talwalkar, UAI 2019).
//!
//! Train the NB201 supernet with one uniformly sampled path per step (single-path one-shot
//! training, as SPOS), then sample K distinct architectures, recalibrate BatchNorm along each,
//! rank them by supernet validation accuracy and keep the best. The run folder holds
//! `config.toml`, `metrics.json` (supernet training), `supernet.safetensors`, `ranking.json`
//! (all K, best first), `best.json` and `timing.json`.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use nasr_data::{Dataset, Normalization};
use nasr_space::{Arch, SeedStreams, Space};
use serde::{Deserialize, Serialize};

use crate::experiment::SpaceName;
use crate::run::{
    DataConfig, NetworkSize, RunData, RunOptions, check_space, open_run_folder, write_json,
};
use nasr_nn::NnError;
use nasr_nn::nb201::Nb201NetworkConfig;
use nasr_nn::params::{named_tensors, save_safetensors};
use nasr_nn::supernet::{Nb201Supernet, path_accuracy, recalibrate_bn};
use nasr_nn::train::{EpochRecord, TrainConfig, TrainData, TrainStep, Trainer};

/// Everything that defines an RSWS run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RswsConfig {
    /// Run seed.
    pub seed: u64,
    /// Search space (`nb201`).
    pub space: SpaceName,
    /// Data selection.
    pub data: DataConfig,
    /// Supernet sizes.
    pub network: NetworkSize,
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
            space: SpaceName::Nb201,
            data: DataConfig::default(),
            network: NetworkSize {
                channels: 8,
                cells: 1,
            },
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
    let space = check_space(config.space.as_str())?;
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
        channels: config.network.channels,
        cells: config.network.cells,
        in_channels: parts.train.shape.channels,
        classes: parts.train.classes,
    };
    let device = nasr_nn::train_device();
    let supernet = nasr_nn::init::seeded(&mut streams.stream("init"), || {
        Nb201Supernet::new(&network, &device)
    })?;

    let started = Instant::now();
    let ranker = Ranker {
        train: &parts.train,
        valid: &parts.valid,
        normalization: &normalization,
        config,
    };
    let mut paths = nasr_space::EpochStream::new(streams, "path");
    let (supernet, epochs) = Trainer::new(&config.train, streams)
        .with_checkpoints(out.join("checkpoints"))
        .with_progress(options.show_progress)
        .fit_with(
            supernet,
            TrainData {
                train: &parts.train,
                valid: &parts.valid,
                normalization: &normalization,
            },
            // Uniform single-path sampling: one fresh path per step, from stream `path/<epoch>`.
            &mut |model: &Nb201Supernet, step: &TrainStep| {
                let arch = space.sample(paths.at(step.epoch));
                vec![model.forward_path(&arch, step.images.clone())].into()
            },
            &mut |model: &Nb201Supernet, epoch| {
                let arch = space.sample(&mut streams.stream(&format!("valid-path/{epoch}")));
                Ok(ranker.accuracy(
                    model.clone(),
                    &arch,
                    &streams,
                    &format!("valid-recal/{epoch}"),
                ))
            },
        )?;
    let train_seconds = started.elapsed().as_secs_f64();
    save_safetensors(&named_tensors(&supernet), &out.join("supernet.safetensors"))?;

    let started = Instant::now();
    let candidates =
        distinct_candidates(&space, config.candidates, &mut streams.stream("candidates"));
    let mut ranking: Vec<RankedArch> = Vec::with_capacity(candidates.len());
    for (k, arch) in candidates.iter().enumerate() {
        let accuracy = ranker.accuracy(supernet.clone(), arch, &streams, &format!("recal/{k}"));
        ranking.push(RankedArch {
            arch: space.format(arch),
            index: space.index_of(arch)?,
            supernet_valid_accuracy: accuracy,
        });
    }
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

/// Evaluates supernet paths: BN recalibration on training batches, then validation accuracy.
struct Ranker<'a> {
    train: &'a Dataset,
    valid: &'a Dataset,
    normalization: &'a Normalization,
    config: &'a RswsConfig,
}

impl Ranker<'_> {
    fn accuracy(
        &self,
        supernet: Nb201Supernet,
        arch: &Arch,
        streams: &SeedStreams,
        recal_stream: &str,
    ) -> f64 {
        let recalibrated = recalibrate_bn(
            supernet,
            arch,
            self.train,
            self.normalization,
            self.config.train.batch_size,
            self.config.recal_batches,
            &mut streams.stream(recal_stream),
        );
        path_accuracy(
            &recalibrated,
            arch,
            self.valid,
            self.normalization,
            self.config.train.eval_batch_size,
        )
    }
}
