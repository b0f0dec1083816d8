//! One sub-network cut out of a trained OFA supernet into an ordinary training run folder
//! (`nasr ofa extract`): BatchNorm recalibrated along it on the run's fixed training subset
//! (the batches its validation score uses), its weights copied out ([`OfaNet::extract`]),
//! then tested as it is, without retraining.
//!
//! The folder: `config.toml` (a `nasr train` config of the sub-network: the run's seed, data
//! and training settings, the full network's epochs and learning rate), `model.safetensors`,
//! `metrics.json` (no epochs; the test accuracy of the weights as cut out) and `extract.json`
//! (where it came from, with its validation accuracy). `nasr train --config DIR/config.toml
//! --init-from DIR --out NEW` fine-tunes it; without `--init-from` the same command trains the
//! architecture from scratch.

use std::path::{Path, PathBuf};

use nasr_nn::NnError;
use nasr_nn::nets::ofa::OfaNet;
use nasr_nn::params::{named_tensors, parameter_count, save_safetensors};
use nasr_nn::train::TrainConfig;
use nasr_space::Space;
use serde::{Deserialize, Serialize};

use super::TrainedSupernet;
use crate::run::{RunMetrics, RunOptions, SplitSizes, TrainRunConfig, open_run_folder, write_json};
use crate::space::SpaceConfig;

/// What an extraction measured (`extract.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractResult {
    /// The progressive-shrinking run it was cut out of.
    pub source: PathBuf,
    /// Canonical architecture string.
    pub arch: String,
    /// Validation accuracy, in [0, 1] (the run's score of the sub-network).
    pub valid_accuracy: f64,
    /// Test accuracy of the weights as cut out, in [0, 1].
    pub test_accuracy: f64,
    /// Multiply-adds per image.
    pub flops: u64,
    /// Parameters.
    pub params: u64,
}

/// Cuts sub-network `arch` out of the trained supernet of run folder `run` into the run
/// folder `out`.
pub fn extract_subnet(
    run: &Path,
    arch: &str,
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
) -> Result<ExtractResult, NnError> {
    let trained = TrainedSupernet::load(run, data_dir, options)?;
    let space = &trained.space;
    let arch = space.parse(arch)?;
    let full = &trained.config.phases[0];
    let config = TrainRunConfig {
        seed: trained.config.seed,
        space: SpaceConfig::Ofa(space.config().clone()),
        arch: space.format(&arch),
        data: trained.config.data.clone(),
        train: TrainConfig {
            epochs: full.epochs,
            lr: full.lr,
            ..trained.config.train.clone()
        },
        init_from: None,
        fault: None,
    };
    open_run_folder(&config, out)?;
    let scoring = trained.scoring(options);
    let recalibrated = scoring.recalibrated(&trained.supernet, &arch);
    let network = OfaNet::extract(&recalibrated, &arch)?;
    let parts = &trained.data.parts;
    let accuracy = |dataset| {
        nasr_nn::eval::evaluate(
            &network,
            dataset,
            &trained.data.normalization,
            trained.config.train.eval_batch_size,
            &options.compute.eval_device(),
        )
    };
    let (valid_accuracy, test_accuracy) = (accuracy(&parts.valid), accuracy(&parts.test));
    save_safetensors(&named_tensors(&network), &out.join("model.safetensors"))?;
    let cost = space.cost(&arch);
    let metrics = RunMetrics {
        format_version: crate::run::METRICS_FORMAT,
        nasr_version: env!("CARGO_PKG_VERSION").to_string(),
        space: "ofa".into(),
        arch: config.arch.clone(),
        arch_index: None,
        parameters: parameter_count(&network),
        flops: Some(cost.flops),
        dataset: config.data.name.to_string(),
        examples: SplitSizes {
            train: parts.train.len(),
            valid: parts.valid.len(),
            test: parts.test.len(),
        },
        data_sha256: trained.data.checksums.clone(),
        epochs: Vec::new(),
        test_accuracy,
    };
    write_json(&out.join("metrics.json"), &metrics)?;
    let result = ExtractResult {
        source: run.to_path_buf(),
        arch: config.arch,
        valid_accuracy,
        test_accuracy,
        flops: cost.flops,
        params: cost.params,
    };
    write_json(&out.join("extract.json"), &result)?;
    Ok(result)
}
