//! A whole training run of one architecture, and the run folder it writes:
//!
//! - `config.toml`: the resolved configuration, seed included (rerun it with `--config`);
//! - `metrics.json`: per-epoch loss and accuracy, final test accuracy, parameter count, data
//!   checksums; deterministic, so the same config and seed give the same bytes;
//! - `timing.json`: wall times, kept apart because they are not deterministic;
//! - `model.safetensors`: the trained weights under their dotted names;
//! - `checkpoints/`: one checkpoint per epoch; a rerun into the same folder resumes from the last.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use nasr_data::{DatasetName, TrainTest};
use nasr_space::ofa::OfaSpace;
use nasr_space::{DartsSpace, MobileNetSpace, Nb201Space, SeedStreams, Space};
use serde::{Deserialize, Serialize};

use crate::run_network::{AnyNetwork, build_network};
use crate::space::{SpaceConfig, SpaceName};
use nasr_nn::NnError;
use nasr_nn::nets::darts::network::DropPath;
use nasr_nn::nets::darts::{DartsNetConfig, DartsNetwork};
use nasr_nn::params::{named_tensors, parameter_count, save_safetensors, write_atomically};
use nasr_nn::train::fault_tolerant::{fault_tolerant_loss, fault_tolerant_step};
use nasr_nn::train::{
    Classifier, EpochRecord, StepLogits, StepLoss, TrainConfig, TrainData, TrainStep, Trainer,
    plain_step,
};

/// Version of the `metrics.json` format; readers reject newer versions.
pub const METRICS_FORMAT: u32 = 1;

/// Which data a run uses and how it is split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Dataset name (`mnist`, `fashion-mnist`, `cifar10`, `cifar100`, `sklearn-digits`).
    pub name: DatasetName,
    /// Fraction of the training set held out for validation, drawn with the `split` stream.
    pub validation_fraction: f64,
    /// Use only the first this many training examples (before the split).
    pub train_subset: Option<usize>,
    /// Use only the first this many test examples.
    pub test_subset: Option<usize>,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            name: DatasetName::Mnist,
            validation_fraction: 0.1,
            train_subset: None,
            test_subset: None,
        }
    }
}

/// Everything that defines a training run. Written to `config.toml` as resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainRunConfig {
    /// The run seed: every random stream derives from it.
    pub seed: u64,
    /// The space and its network sizes (`[space.nb201]`, `[space.mobilenet]`,
    /// `[space.darts]`).
    pub space: SpaceConfig,
    /// The architecture, in the space's canonical string form.
    pub arch: String,
    /// Data selection.
    pub data: DataConfig,
    /// Training hyper-parameters.
    pub train: TrainConfig,
    /// A run folder whose `model.safetensors` the network starts from instead of a fresh draw
    /// (fine-tuning, e.g. a sub-network `nasr ofa extract` cut out of a supernet); its
    /// tensors must have the network's names and shapes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_from: Option<std::path::PathBuf>,
    /// FTT-NAS's fault-tolerant training: each step's loss mixes the clean and a faulty
    /// forward (`[fault]`: the fault model and gamma).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<nasr_nn::train::fault_tolerant::FaultTolerance>,
}

impl TrainRunConfig {
    /// The config of the finished `nasr train` run folder `folder` (its `config.toml`), and
    /// that file's path (for errors about what it holds).
    pub fn read_from(folder: &Path) -> Result<(Self, std::path::PathBuf), NnError> {
        let path = folder.join("config.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| NnError::io(&path, e))?;
        let config = toml::from_str(&text).map_err(|e| NnError::Checkpoint {
            path: path.clone(),
            problem: format!("not the config of a nasr train run: {e}"),
        })?;
        Ok((config, path))
    }
}

impl Default for TrainRunConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            space: SpaceConfig::default_of(SpaceName::Nb201),
            arch: String::new(),
            data: DataConfig::default(),
            train: TrainConfig::default(),
            init_from: None,
            fault: None,
        }
    }
}

/// The deterministic record of a run (`metrics.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// Format version ([`METRICS_FORMAT`]).
    pub format_version: u32,
    /// nasr version that made the run.
    pub nasr_version: String,
    /// Space name.
    pub space: String,
    /// Canonical architecture string.
    pub arch: String,
    /// NAS-Bench-201 index of the architecture (NB201 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch_index: Option<usize>,
    /// Trained parameters (BatchNorm statistics excluded).
    pub parameters: usize,
    /// Multiply-adds of one forward pass of one image (MobileNet only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flops: Option<u64>,
    /// Dataset name.
    pub dataset: String,
    /// Examples trained on, validated on and tested on.
    pub examples: SplitSizes,
    /// sha256 of the content of the train and test sets used.
    pub data_sha256: DataChecksums,
    /// One record per epoch.
    pub epochs: Vec<EpochRecord>,
    /// Accuracy on the test set after training, in [0, 1].
    pub test_accuracy: f64,
}

/// Number of examples in each part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitSizes {
    /// Training examples.
    pub train: usize,
    /// Validation examples.
    pub valid: usize,
    /// Test examples.
    pub test: usize,
}

/// Content checksums of the data a run read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataChecksums {
    /// Training set (before the validation split and subsetting).
    pub train: String,
    /// Test set (before subsetting).
    pub test: String,
}

/// Wall times of a run (`timing.json`), apart from the deterministic metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunTiming {
    /// Reading and preparing the data.
    pub data_seconds: f64,
    /// Training (all epochs run in this invocation, resumed ones excluded).
    pub train_seconds: f64,
    /// Final test evaluation.
    pub test_seconds: f64,
    /// The instruction-set route of nasr's kernels (`NASR_KERNELS`); routes round differently.
    #[serde(default)]
    pub kernel_route: String,
}

/// Options of a run that do not change its results.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Draw progress bars.
    pub show_progress: bool,
    /// Where to compute (the CPU by default).
    pub compute: nasr_nn::Compute,
}

impl RunOptions {
    /// A bar of `total` steps, `done` of them already done, labelled `prefix`; hidden unless
    /// progress is shown.
    pub fn progress(&self, total: usize, done: usize, prefix: &str) -> indicatif::ProgressBar {
        if !self.show_progress {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new(total as u64).with_position(done as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{prefix} {{bar:30}} {{pos}}/{{len}} {{eta}}"
            ))
            .expect("a valid template"),
        );
        bar
    }
}

/// Runs training as configured, reading data from `data_dir` and writing the run folder `out`.
/// A folder with checkpoints of the same config resumes from the last one.
pub fn train_run(
    config: &TrainRunConfig,
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
) -> Result<RunMetrics, NnError> {
    // Parse the architecture first, so that a bad string fails before anything is written.
    match &config.space {
        SpaceConfig::Nb201(_) => drop(Nb201Space::new().parse(&config.arch)?),
        SpaceConfig::Mobilenet(sizes) | SpaceConfig::Proxyless(sizes) => {
            drop(MobileNetSpace::new(sizes.clone())?.parse(&config.arch)?)
        }
        SpaceConfig::Darts(sizes) => {
            sizes.validate()?;
            drop(DartsSpace::new().parse(&config.arch)?)
        }
        SpaceConfig::Ofa(sizes) => drop(OfaSpace::new(sizes.clone())?.parse(&config.arch)?),
    }
    config.train.validate()?;
    if let Some(fault) = &config.fault {
        fault.validate()?;
    }
    open_run_folder(config, out)?;

    let started = Instant::now();
    let RunData {
        parts,
        normalization,
        checksums,
        streams,
    } = RunData::load(&config.data, config.seed, data_dir)?;
    let data_seconds = started.elapsed().as_secs_f64();
    let run = Prepared {
        config,
        parts: &parts,
        normalization: &normalization,
        streams,
        out,
        options,
    };
    let device = options.compute.train_device();
    let built = build_network(
        config,
        parts.train.shape,
        parts.train.classes,
        &device,
        &mut streams.stream("init"),
    )?;
    let trained = match built.network {
        AnyNetwork::Nb201(model) => run.train(model)?,
        AnyNetwork::Darts(model, network) => {
            let mut forward = darts_step(&network, config, streams);
            run.train_with(model, &mut forward)?
        }
        AnyNetwork::MobileNet(model) => run.train(model)?,
        AnyNetwork::Ofa(model) => run.train(model)?,
    };
    let (arch, arch_index, flops) = (built.arch, built.arch_index, built.flops);
    let metrics = RunMetrics {
        format_version: METRICS_FORMAT,
        nasr_version: env!("CARGO_PKG_VERSION").to_string(),
        space: config.space.name().to_string(),
        arch,
        arch_index,
        parameters: trained.parameters,
        flops,
        dataset: config.data.name.to_string(),
        examples: SplitSizes {
            train: parts.train.len(),
            valid: parts.valid.len(),
            test: parts.test.len(),
        },
        data_sha256: checksums,
        epochs: trained.epochs,
        test_accuracy: trained.test_accuracy,
    };
    write_json(&out.join("metrics.json"), &metrics)?;
    let timing = RunTiming {
        data_seconds,
        train_seconds: trained.train_seconds,
        test_seconds: trained.test_seconds,
        kernel_route: nasr_kernels::route::active().name().to_string(),
    };
    write_json(&out.join("timing.json"), &timing)?;
    Ok(metrics)
}

/// A run's data and settings, ready to train any network.
struct Prepared<'a> {
    config: &'a TrainRunConfig,
    parts: &'a Parts,
    normalization: &'a nasr_data::Normalization,
    streams: SeedStreams,
    out: &'a Path,
    options: &'a RunOptions,
}

/// What training one network produced.
struct Trained {
    parameters: usize,
    epochs: Vec<EpochRecord>,
    test_accuracy: f64,
    train_seconds: f64,
    test_seconds: f64,
}

/// The training step of a DARTS evaluation network: drop-path at `drop_path * epoch /
/// epochs` (DARTS' linear ramp), masks from stream `drop-path/<epoch>`, and the auxiliary
/// head's logits with their loss weight; with the run's fault model, fault-tolerant (both
/// forwards draw their masks from the epoch's stream).
fn darts_step<'a>(
    network: &DartsNetConfig,
    config: &'a TrainRunConfig,
    streams: SeedStreams,
) -> impl FnMut(&DartsNetwork, &TrainStep<'_>) -> StepLoss + 'a {
    let network = *network;
    let epochs = config.train.epochs;
    let mut masks = nasr_space::EpochStream::new(streams, "drop-path");
    move |model, step| {
        let rng = masks.at(step.epoch);
        let prob = network.drop_path * step.epoch as f64 / epochs as f64;
        let mut forward = || {
            let drop = DropPath {
                prob,
                rng: &mut *rng,
            };
            let (logits, auxiliary) = model.forward_train(step.images.clone(), Some(drop));
            StepLogits {
                paths: vec![logits],
                auxiliary: auxiliary.map(|a| (a, network.auxiliary_weight)),
            }
        };
        match &config.fault {
            Some(tolerance) => fault_tolerant_loss(step, tolerance, &streams, &mut forward),
            None => step.cross_entropy(forward()),
        }
    }
}

impl Prepared<'_> {
    /// Trains `model` (resuming from the folder's checkpoints), tests it and saves its weights.
    /// With a fault model, the step is fault-tolerant (faults from the run's streams).
    fn train<M: Classifier>(&self, model: M) -> Result<Trained, NnError> {
        match &self.config.fault {
            Some(tolerance) => {
                let streams = self.streams;
                self.train_with(model, &mut |m: &M, step: &TrainStep<'_>| {
                    fault_tolerant_step(m, step, tolerance, &streams)
                })
            }
            None => self.train_with(model, &mut plain_step),
        }
    }

    /// [`Prepared::train`] with a training step of its own (validation and test use the
    /// model's plain forward).
    fn train_with<M: Classifier>(
        &self,
        model: M,
        step: &mut dyn FnMut(&M, &TrainStep<'_>) -> StepLoss,
    ) -> Result<Trained, NnError> {
        let model = match &self.config.init_from {
            Some(folder) => initial_weights(model, folder)?,
            None => model,
        };
        let parameters = parameter_count(&model);
        let started = Instant::now();
        let train_data = TrainData {
            train: &self.parts.train,
            valid: &self.parts.valid,
            normalization: self.normalization,
        };
        let (model, epochs) = Trainer::new(&self.config.train, self.streams)
            .on(self.options.compute)
            .with_checkpoints(self.out.join("checkpoints"))
            .with_progress(self.options.show_progress)
            .fit_step(model, train_data, step)?;
        let train_seconds = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let test_accuracy = nasr_nn::eval::evaluate(
            &model,
            &self.parts.test,
            self.normalization,
            self.config.train.eval_batch_size,
            &self.options.compute.eval_device(),
        );
        let test_seconds = started.elapsed().as_secs_f64();
        save_safetensors(&named_tensors(&model), &self.out.join("model.safetensors"))?;
        Ok(Trained {
            parameters,
            epochs,
            test_accuracy,
            train_seconds,
            test_seconds,
        })
    }
}

/// `model` with the weights of run folder `folder` (its `model.safetensors`).
fn initial_weights<M: Module>(model: M, folder: &Path) -> Result<M, NnError> {
    let path = folder.join("model.safetensors");
    let tensors = nasr_nn::params::load_safetensors(&path)?;
    nasr_nn::params::load_named(model, &tensors, &path)
}

/// Creates the run folder `out` and writes `config` as its `config.toml`, refusing a folder
/// that holds another config: the first step of every method's run.
pub fn open_run_folder<T: Serialize>(config: &T, out: &Path) -> Result<(), NnError> {
    std::fs::create_dir_all(out).map_err(|e| NnError::io(out, e))?;
    write_config(config, &out.join("config.toml"))
}

/// A run's data, as every method starts from it: loaded, subset, split with the run's `split`
/// stream, with the training split's channel statistics and the content checksums.
pub struct RunData {
    /// Train, validation and test sets.
    pub parts: Parts,
    /// Per-channel statistics of the training split, for normalising every batch.
    pub normalization: nasr_data::Normalization,
    /// Content checksums of the training and test sets, before splitting and subsetting.
    pub checksums: DataChecksums,
    /// The run's random streams.
    pub streams: SeedStreams,
}

impl RunData {
    /// Loads the dataset of `config` from `data_dir` and splits it with the streams of `seed`.
    pub fn load(config: &DataConfig, seed: u64, data_dir: &Path) -> Result<Self, NnError> {
        let data = nasr_data::load(config.name, data_dir)?;
        let checksums = DataChecksums {
            train: data.train.content_sha256(),
            test: data.test.content_sha256(),
        };
        let streams = SeedStreams::new(seed);
        let parts = prepare(config, data, &streams)?;
        let normalization = parts.train.channel_stats();
        Ok(Self {
            parts,
            normalization,
            checksums,
            streams,
        })
    }
}

/// The three parts of a run's data.
pub struct Parts {
    /// Training set (validation split off).
    pub train: nasr_data::Dataset,
    /// Validation set.
    pub valid: nasr_data::Dataset,
    /// Test set.
    pub test: nasr_data::Dataset,
}

/// Subsets, then splits validation off the training set with the `split` stream.
pub(crate) fn prepare(
    config: &DataConfig,
    data: TrainTest,
    streams: &SeedStreams,
) -> Result<Parts, NnError> {
    if !(config.validation_fraction > 0.0 && config.validation_fraction < 1.0) {
        return Err(NnError::Config {
            field: "data.validation_fraction",
            problem: format!("must be in (0, 1), got {}", config.validation_fraction),
        });
    }
    let train = match config.train_subset {
        Some(n) => data.train.take(n),
        None => data.train,
    };
    let test = match config.test_subset {
        Some(n) => data.test.take(n),
        None => data.test,
    };
    let validation = ((train.len() as f64) * config.validation_fraction)
        .round()
        .max(1.0) as usize;
    let (train, valid) = train.split(validation, &mut streams.stream("split"))?;
    Ok(Parts { train, valid, test })
}

/// Writes a run folder's `config.toml`. A folder that already holds another config is refused:
/// its checkpoints would be resumed as if they belonged to this run, mixing the two.
pub(crate) fn write_config<T: Serialize>(config: &T, path: &Path) -> Result<(), NnError> {
    let text = toml::to_string_pretty(config).map_err(|e| NnError::Config {
        field: "config",
        problem: e.to_string(),
    })?;
    if let Ok(stored) = std::fs::read_to_string(path)
        && stored != text
    {
        // A folder of an older nasr is named as such, not as a run of another config.
        let old_format = toml::from_str::<toml::Table>(&stored)
            .ok()
            .and_then(|table| crate::space::refuse_config_format_1(&table).err());
        return Err(NnError::Checkpoint {
            path: path.to_path_buf(),
            problem: match old_format {
                Some(error) => format!("was written by an older nasr: {error}; use a new --out"),
                None => "the folder holds a run with another config; use a new --out".into(),
            },
        });
    }
    write_atomically(path, text.as_bytes())
}

pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), NnError> {
    let mut json = serde_json::to_vec_pretty(value).expect("metrics serialise");
    json.push(b'\n');
    write_atomically(path, &json)
}
