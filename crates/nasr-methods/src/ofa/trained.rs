//! A finished progressive-shrinking run read back: its config, its data split as it was
//! trained on, its space and its supernet, and how a sub-network of it is scored (BatchNorm
//! recalibrated along it on a fixed training subset, then validated).

use std::path::{Path, PathBuf};

use nasr_nn::NnError;
use nasr_nn::eval::supernet::{PathData, PathEvaluation};
use nasr_nn::nets::ofa::OfaSupernet;
use nasr_nn::supernet::{RecalBatches, recalibrate_bn};
use nasr_space::ofa::{OfaConfig, OfaSpace};
use nasr_space::{Arch, SeedStreams, Space};

use super::ProgressiveShrinkingConfig;
use crate::run::{Parts, RunData, RunOptions};

/// The space of a run of `config` on data whose training split is `parts.train`: the config's
/// sizes with the data's input channels and classes.
pub fn run_space(config: &ProgressiveShrinkingConfig, parts: &Parts) -> Result<OfaSpace, NnError> {
    Ok(OfaSpace::new(OfaConfig {
        in_channels: parts.train.shape.channels,
        classes: parts.train.classes,
        ..config.space.ofa("ofa")?.clone()
    })?)
}

/// How the sub-networks of a run are scored: recalibration batches from stream
/// `recal/<arch>` of the run seed (the same batches whenever an architecture is scored), then
/// the validation split.
#[derive(Clone, Copy)]
pub struct SubnetScoring<'a> {
    /// The run's space.
    pub space: &'a OfaSpace,
    /// Where to recalibrate and validate.
    pub data: PathData<'a>,
    /// Batch sizes, recalibration batches, device.
    pub evaluation: PathEvaluation,
    /// The run's streams.
    pub streams: SeedStreams,
}

impl<'a> SubnetScoring<'a> {
    /// The scoring of a run of `config` on `parts`.
    pub fn new(
        config: &ProgressiveShrinkingConfig,
        space: &'a OfaSpace,
        parts: &'a Parts,
        normalization: &'a nasr_data::Normalization,
        options: &RunOptions,
    ) -> Self {
        Self {
            space,
            data: PathData {
                train: &parts.train,
                valid: &parts.valid,
                normalization,
            },
            evaluation: PathEvaluation {
                batch_size: config.train.batch_size,
                recal_batches: config.recal_batches,
                eval_batch_size: config.train.eval_batch_size,
                compute: options.compute,
            },
            streams: SeedStreams::new(config.seed),
        }
    }

    /// Validation accuracy of `arch` in `supernet`, in [0, 1], after recalibration.
    pub fn accuracy(&self, supernet: &OfaSupernet, arch: &Arch) -> f64 {
        nasr_nn::eval::SupernetEvaluator::new(
            supernet,
            self.space,
            self.data,
            self.evaluation,
            self.streams,
        )
        .accuracy(arch)
    }

    /// `supernet` with the BatchNorm statistics of `arch` recomputed (the batches
    /// [`SubnetScoring::accuracy`] uses): only the channels `arch` runs are written.
    pub fn recalibrated(&self, supernet: &OfaSupernet, arch: &Arch) -> OfaSupernet {
        let stream = format!("recal/{}", self.space.format(arch));
        recalibrate_bn(
            supernet.clone(),
            arch,
            RecalBatches {
                dataset: self.data.train,
                normalization: self.data.normalization,
                batch_size: self.evaluation.batch_size,
                batches: self.evaluation.recal_batches,
            },
            &mut self.streams.stream(&stream),
            &self.evaluation.compute.train_device(),
        )
    }
}

/// A finished progressive-shrinking run.
pub struct TrainedSupernet {
    /// The run folder.
    pub folder: PathBuf,
    /// Its config.
    pub config: ProgressiveShrinkingConfig,
    /// Its data, split as it was trained on.
    pub data: RunData,
    /// Its space.
    pub space: OfaSpace,
    /// The trained supernet, on the training device.
    pub supernet: OfaSupernet,
}

impl TrainedSupernet {
    /// Reads the run in `folder` (`config.toml`, `supernet.safetensors`), its data from
    /// `data_dir`.
    pub fn load(folder: &Path, data_dir: &Path, options: &RunOptions) -> Result<Self, NnError> {
        let config_path = folder.join("config.toml");
        let text =
            std::fs::read_to_string(&config_path).map_err(|e| NnError::io(&config_path, e))?;
        let config: ProgressiveShrinkingConfig =
            toml::from_str(&text).map_err(|e| NnError::Checkpoint {
                path: config_path.clone(),
                problem: format!("not the config of an ofa run (nasr search --strategy ofa): {e}"),
            })?;
        let weights = folder.join("supernet.safetensors");
        if !weights.exists() {
            return Err(NnError::Checkpoint {
                path: weights,
                problem: "missing: the run has not finished progressive shrinking; rerun its \
                          nasr search with the same --out to resume it"
                    .into(),
            });
        }
        let data = RunData::load(&config.data, config.seed, data_dir)?;
        let space = run_space(&config, &data.parts)?;
        let fresh = OfaSupernet::new(&space, &options.compute.train_device());
        let tensors = nasr_nn::params::load_safetensors(&weights)?;
        let supernet = nasr_nn::params::load_named(fresh, &tensors, &weights)?;
        Ok(Self {
            folder: folder.to_path_buf(),
            config,
            data,
            space,
            supernet,
        })
    }

    /// How this run scores its sub-networks.
    pub fn scoring(&self, options: &RunOptions) -> SubnetScoring<'_> {
        SubnetScoring::new(
            &self.config,
            &self.space,
            &self.data.parts,
            &self.data.normalization,
            options,
        )
    }
}
