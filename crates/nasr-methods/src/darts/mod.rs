//! DARTS (Liu et al., ICLR 2019): every edge's choice of op is relaxed to a softmax-weighted
//! sum of all ops (the supernet's mixed mode); the weights w learn on training batches and the
//! architecture parameters alpha on held-out batches, alternating one step each.
//!
//! The search reuses [`Trainer::fit_with`] for the weight side (SGD, cosine schedule,
//! checkpoints, resume): its forward first takes the alpha step on the next validation batch,
//! then returns the mixed logits under the updated, detached alpha, on which the trainer takes
//! the weight step. That is DARTS' order (`architect.step`, then the weight update).
//!
//! Run folder: `config.toml`, `checkpoints/` (weights, momentum, and `alphas-epoch-NNN.json`),
//! `metrics.json` (supernet epochs), `alphas.jsonl` (one record per epoch), `best.json`, and
//! `retrain/` (a training run of the derived architecture from scratch).

pub(crate) mod alpha;
mod derive;
pub mod hypergradient;

pub use alpha::{AlphaOptimizer, Alphas, argmax, entropy};
pub use derive::{Derived, MixedSpace, derive_darts, derive_nb201, derive_nb201_sigmoid};
pub use hypergradient::{AlphaGradient, Order, alpha_gradient};

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::Tensor;
use burn::tensor::activation::{sigmoid, softmax};
use nasr_data::{Batcher, Dataset, Normalization};
use nasr_search::nb201_table::{Nb201Dataset, Nb201Table};
use nasr_space::SeedStreams;
use serde::{Deserialize, Serialize};

use crate::experiment::DartsOrder;
use crate::run::{DataConfig, RunOptions, TrainRunConfig, train_run, write_json};
use crate::space::{NetworkSize, SpaceConfig};
use nasr_nn::NnError;
use nasr_nn::nets::darts::{DartsNetConfig, DartsSupernet};
use nasr_nn::nets::nb201::Nb201NetworkConfig;
use nasr_nn::nets::nb201::Nb201Supernet;
use nasr_nn::supernet::MixedSupernet;
use nasr_nn::train::optim::SgdConfig;
use nasr_nn::train::{TrainConfig, TrainData, TrainStep, Trainer, to_tensors};

/// How alpha becomes the weights of an edge's ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relaxation {
    /// DARTS: softmax over each edge's ops, so the ops compete for one unit of weight.
    Softmax,
    /// Fair DARTS (Chu et al., ECCV 2020): an independent sigmoid per op, so an op's weight does
    /// not shrink because another's grows; paired with the zero-one loss.
    Sigmoid,
}

impl Relaxation {
    /// The op weights of `alpha` (`[rows, ops]`).
    pub fn weights(self, alpha: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Softmax => softmax(alpha, 1),
            Self::Sigmoid => sigmoid(alpha),
        }
    }

    /// The op weights of `alphas`, as numbers.
    pub fn values(self, alphas: &Alphas) -> Vec<Vec<f64>> {
        match self {
            Self::Softmax => alphas.softmax(),
            Self::Sigmoid => alphas
                .values
                .chunks(alphas.ops)
                .map(|row| {
                    row.iter()
                        .map(|&a| 1.0 / (1.0 + (-f64::from(a)).exp()))
                        .collect()
                })
                .collect(),
        }
    }
}

/// Fair DARTS' zero-one loss, `-mean((sigmoid(alpha) - 0.5)^2)`: it pushes every weight
/// towards 0 or 1, so that the derived architecture is what the supernet actually used.
fn zero_one_loss(alpha: Tensor<2>) -> Tensor<1> {
    sigmoid(alpha).sub_scalar(0.5).powf_scalar(2.0).mean().neg()
}

/// Everything that defines a DARTS search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DartsConfig {
    /// Run seed.
    pub seed: u64,
    /// The space searched and its supernet's sizes: `[space.nb201]` or `[space.darts]` (input
    /// channels and classes come from the data).
    pub space: SpaceConfig,
    /// Data. DARTS holds out half of the training set for the architecture steps
    /// (`validation_fraction = 0.5`).
    pub data: DataConfig,
    /// Weight training (DARTS: SGD momentum 0.9, cosine lr from 0.025 to 0.001, weight decay
    /// 3e-4, gradient clipping at 5).
    pub train: TrainConfig,
    /// Alpha's optimiser.
    pub alpha: AlphaOptimizer,
    /// `1`: first-order architecture gradient; `2`: second order (unrolled).
    pub order: DartsOrder,
    /// Second order's virtual step size; by default each step's weight learning rate, as DARTS.
    pub xi: Option<f64>,
    /// DARTS- (Chu et al., ICLR 2021): the initial coefficient beta of an auxiliary skip
    /// connection added to every edge, decayed linearly to 0 over the search; 0 disables it.
    pub aux_skip_beta: f64,
    /// Softmax (DARTS) or sigmoid (Fair DARTS) op weights.
    pub relaxation: Relaxation,
    /// Fair DARTS: weight of the zero-one loss in the architecture objective (the paper's 10).
    pub zero_one_weight: f64,
    /// Retraining of the derived architecture from scratch; `None` skips it (written
    /// `retrain = false`, since TOML has no null and a missing table means the default).
    #[serde(with = "retrain_or_false")]
    pub retrain: Option<RetrainConfig>,
}

/// `retrain = false` for no retraining, a `[retrain]` table for a retraining config.
mod retrain_or_false {
    use std::fmt;

    use serde::de::value::MapAccessDeserializer;
    use serde::de::{Error, MapAccess, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::RetrainConfig;

    pub fn serialize<S: Serializer>(
        retrain: &Option<RetrainConfig>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match retrain {
            Some(config) => config.serialize(serializer),
            None => serializer.serialize_bool(false),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<RetrainConfig>, D::Error> {
        deserializer.deserialize_any(RetrainOrFalse)
    }

    struct RetrainOrFalse;

    impl<'de> Visitor<'de> for RetrainOrFalse {
        type Value = Option<RetrainConfig>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a [retrain] table, or false for no retraining")
        }

        fn visit_bool<E: Error>(self, value: bool) -> Result<Self::Value, E> {
            if value {
                Err(E::custom(
                    "retrain = true is not a retraining config: give a [retrain] table, or false",
                ))
            } else {
                Ok(None)
            }
        }

        // The table's own errors (an unknown or mistyped field) come through unchanged.
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            RetrainConfig::deserialize(MapAccessDeserializer::new(map)).map(Some)
        }
    }
}

impl Default for DartsConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            space: SpaceConfig::Nb201(NetworkSize {
                channels: 8,
                cells: 1,
            }),
            data: DataConfig {
                validation_fraction: 0.5,
                ..DataConfig::default()
            },
            train: TrainConfig {
                epochs: 1,
                lr: 0.025,
                lr_min: 0.001,
                sgd: SgdConfig {
                    momentum: 0.9,
                    nesterov: false,
                    weight_decay: 3e-4,
                    grad_clip: Some(5.0),
                },
                ..TrainConfig::default()
            },
            alpha: AlphaOptimizer::default(),
            order: DartsOrder::First,
            xi: None,
            aux_skip_beta: 0.0,
            relaxation: Relaxation::Softmax,
            zero_one_weight: 10.0,
            retrain: Some(RetrainConfig::default()),
        }
    }
}

/// How the derived architecture is retrained. The network is of the searched space, sized by
/// `network` (NB201) or `darts_net` (DARTS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrainConfig {
    /// Fraction of the training set held out for validation.
    pub validation_fraction: f64,
    /// Retrain on the first N training examples (default: the search's subset).
    pub train_subset: Option<usize>,
    /// NB201 network sizes.
    pub network: NetworkSize,
    /// DARTS evaluation network sizes, auxiliary head and drop-path.
    pub darts_net: DartsNetConfig,
    /// Training.
    pub train: TrainConfig,
}

impl Default for RetrainConfig {
    fn default() -> Self {
        Self {
            validation_fraction: 0.1,
            train_subset: None,
            network: NetworkSize {
                channels: 8,
                cells: 1,
            },
            darts_net: DartsNetConfig {
                auxiliary_weight: 0.4,
                drop_path: 0.2,
                ..DartsNetConfig::default()
            },
            train: TrainConfig {
                epochs: 1,
                ..TrainConfig::default()
            },
        }
    }
}

impl RetrainConfig {
    /// The retrained network's space: the searched one, at the retraining's sizes.
    pub fn space_of(&self, searched: &SpaceConfig) -> SpaceConfig {
        match searched {
            SpaceConfig::Darts(_) => SpaceConfig::Darts(self.darts_net),
            SpaceConfig::Nb201(_)
            | SpaceConfig::Mobilenet(_)
            | SpaceConfig::Proxyless(_)
            | SpaceConfig::Ofa(_) => SpaceConfig::Nb201(self.network),
        }
    }
}

/// One epoch of the search (a line of `alphas.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlphaRecord {
    /// Epoch, from 1.
    pub epoch: usize,
    /// The op weights per edge, softmax(alpha) or sigmoid(alpha) (NB201: rows in `NB201_EDGES` order, columns in `NB201_OPS`
    /// order; DARTS: the normal cell's 14 edges, then the reduction cell's, columns in
    /// `DARTS_OPS` order).
    pub weights: Vec<Vec<f64>>,
    /// Entropy of each row normalised to sum to 1, in nats (ln 5 = 1.609 when uniform).
    pub entropy: Vec<f64>,
    /// The derived architecture.
    pub derived: String,
    /// Its number of skip connections (DARTS space: in the normal cell).
    pub skip_count: usize,
    /// Mean validation loss of the epoch's architecture steps.
    pub alpha_val_loss: f64,
    /// The auxiliary skip coefficient at the epoch's end (DARTS-; 0 when off).
    pub aux_skip_beta: f64,
}

type AlphaCheckpoint = crate::alpha_checkpoint::AlphaCheckpoint<Alphas, AlphaRecord>;

/// The outcome of a search (`best.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DartsResult {
    /// The space searched.
    pub space: String,
    /// The derived architecture.
    pub arch: String,
    /// Its NAS-Bench-201 index (NB201 only).
    pub index: Option<usize>,
    /// Its number of skip connections (DARTS space: in the normal cell).
    pub skip_count: usize,
    /// Mixed-supernet validation accuracy after the last epoch.
    pub supernet_valid_accuracy: f64,
    /// Test accuracy of the retrained architecture (when retrained).
    pub retrain_test_accuracy: Option<f64>,
    /// Its trained parameters (when retrained).
    pub retrain_parameters: Option<usize>,
    /// NAS-Bench-201's CIFAR-10 test accuracy (%) of the derived cell, for orientation (when the
    /// table was given).
    pub nb201_cifar10: Option<f64>,
}

/// Runs the search, derives the architecture, retrains it (when configured) and writes the run
/// folder `out`. `table` adds the derived cell's CIFAR-10 accuracy from NAS-Bench-201.
pub fn darts_run(
    config: &DartsConfig,
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
    table: Option<&Nb201Table>,
) -> Result<DartsResult, NnError> {
    validate(config)?;
    let space = MixedSpace::of(&config.space)?;
    crate::run::open_run_folder(config, out)?;
    let crate::run::RunData {
        parts,
        normalization,
        streams,
        ..
    } = crate::run::RunData::load(&config.data, config.seed, data_dir)?;
    let device = options.compute.train_device();
    let search = Search::new(
        config,
        space,
        &parts.valid,
        &normalization,
        streams,
        out,
        options.compute,
    );
    let data = TrainData {
        train: &parts.train,
        valid: &parts.valid,
        normalization: &normalization,
    };
    let (in_channels, classes) = (parts.train.shape.channels, parts.train.classes);
    let (search, epochs) = match &config.space {
        SpaceConfig::Nb201(size) => {
            let network = Nb201NetworkConfig {
                channels: size.channels,
                cells: size.cells,
                in_channels,
                classes,
            };
            let supernet = nasr_nn::init::seeded(&mut streams.stream("init"), || {
                Nb201Supernet::new(&network, &device)
            })?;
            search.run(supernet, data, options)?
        }
        SpaceConfig::Darts(sizes) => {
            let network = DartsNetConfig {
                in_channels,
                classes,
                ..*sizes
            };
            let supernet = nasr_nn::init::seeded(&mut streams.stream("init"), || {
                DartsSupernet::new(&network, &device)
            })?;
            search.run(supernet, data, options)?
        }
        SpaceConfig::Mobilenet(_) | SpaceConfig::Proxyless(_) | SpaceConfig::Ofa(_) => {
            return Err(MixedSpace::refused(&config.space));
        }
    };
    write_json(&out.join("metrics.json"), &epochs)?;
    crate::alpha_checkpoint::write_json_lines(&out.join("alphas.jsonl"), &search.log)?;
    let derived = space.derive(&config.relaxation.values(&search.alphas), config.relaxation);
    let mut result = DartsResult {
        space: space.name().into(),
        arch: derived.arch,
        index: derived.index,
        skip_count: derived.skip_count,
        supernet_valid_accuracy: epochs.last().map_or(0.0, |e| e.valid_accuracy),
        retrain_test_accuracy: None,
        retrain_parameters: None,
        nb201_cifar10: table
            .zip(derived.index)
            .map(|(t, index)| t.accuracy(index, Nb201Dataset::Cifar10)),
    };
    if let Some(retrain) = &config.retrain {
        let run = TrainRunConfig {
            init_from: None,
            fault: None,
            seed: config.seed,
            space: retrain.space_of(&config.space),
            arch: result.arch.clone(),
            data: DataConfig {
                validation_fraction: retrain.validation_fraction,
                train_subset: retrain.train_subset.or(config.data.train_subset),
                ..config.data.clone()
            },
            train: retrain.train.clone(),
        };
        let metrics = train_run(&run, data_dir, &out.join("retrain"), options)?;
        result.retrain_test_accuracy = Some(metrics.test_accuracy);
        result.retrain_parameters = Some(metrics.parameters);
    }
    write_json(&out.join("best.json"), &result)?;
    Ok(result)
}

fn validate(config: &DartsConfig) -> Result<(), NnError> {
    let bad = |field, problem: String| Err(NnError::Config { field, problem });
    if config.xi.is_some_and(|xi| xi.is_nan() || xi <= 0.0) {
        return bad("xi", "must be positive".into());
    }
    if config.aux_skip_beta.is_nan() || config.aux_skip_beta < 0.0 {
        return bad("aux_skip_beta", "must not be negative".into());
    }
    if config.zero_one_weight.is_nan() || config.zero_one_weight < 0.0 {
        return bad("zero_one_weight", "must not be negative".into());
    }
    if config.alpha.lr.is_nan() || config.alpha.lr <= 0.0 {
        return bad("alpha.lr", "must be positive".into());
    }
    config.train.validate()?;
    if let SpaceConfig::Darts(sizes) = &config.space {
        sizes.validate()?;
    }
    match &config.retrain {
        Some(retrain) => {
            if let SpaceConfig::Darts(sizes) = retrain.space_of(&config.space) {
                sizes.validate()?;
            }
            retrain.train.validate()
        }
        None => Ok(()),
    }
}

/// The architecture side of a running search.
struct Search<'a> {
    config: &'a DartsConfig,
    space: MixedSpace,
    valid: &'a Dataset,
    normalization: &'a Normalization,
    streams: SeedStreams,
    compute: nasr_nn::Compute,
    checkpoints: PathBuf,
    /// Fresh, or loaded by [`Search::resume`] from the epoch the trainer resumes at.
    alphas: Alphas,
    log: Vec<AlphaRecord>,
    val_batches: Option<(usize, Batcher<'a>)>,
    val_loss_sum: f64,
    val_steps: usize,
}

impl<'a> Search<'a> {
    fn new(
        config: &'a DartsConfig,
        space: MixedSpace,
        valid: &'a Dataset,
        normalization: &'a Normalization,
        streams: SeedStreams,
        out: &Path,
        compute: nasr_nn::Compute,
    ) -> Self {
        let (rows, ops) = space.alpha_shape();
        Self {
            config,
            space,
            valid,
            normalization,
            streams,
            compute,
            alphas: Alphas::new(rows, ops, &mut streams.stream("alpha-init")),
            checkpoints: out.join("checkpoints"),
            log: Vec::new(),
            val_batches: None,
            val_loss_sum: 0.0,
            val_steps: 0,
        }
    }

    /// Trains `supernet` and alpha together (resuming from the folder's checkpoints); returns
    /// the finished search and the supernet's epoch records.
    fn run<S: MixedSupernet>(
        mut self,
        supernet: S,
        data: TrainData<'_>,
        options: &RunOptions,
    ) -> Result<(Self, Vec<nasr_nn::train::EpochRecord>), NnError> {
        let config = self.config;
        let steps = data.train.len().div_ceil(config.train.batch_size) * config.train.epochs;
        let trainer = Trainer::new(&config.train, self.streams)
            .on(self.compute)
            .with_checkpoints(&self.checkpoints)
            .with_progress(options.show_progress);
        self.resume(trainer.completed_epochs()?)?;
        let state = RefCell::new(self);
        let (_, epochs) = trainer.fit_with(
            supernet,
            data,
            &mut |model: &S, step: &TrainStep<'_>| {
                let logits = state.borrow_mut().step(model, step, steps);
                step.cross_entropy(vec![logits].into())
            },
            &mut |model: &S, epoch| {
                state
                    .borrow_mut()
                    .end_epoch(model, epoch, steps, options.show_progress)
            },
        )?;
        Ok((state.into_inner(), epochs))
    }

    /// Continues from the alpha checkpoint of `epochs` completed epochs (none at 0).
    fn resume(&mut self, epochs: usize) -> Result<(), NnError> {
        if let Some(checkpoint) = AlphaCheckpoint::load(&self.checkpoints, epochs)? {
            self.alphas = checkpoint.alphas;
            self.log = checkpoint.log;
        }
        Ok(())
    }

    /// DARTS- decays beta linearly from its start to 0 over all steps.
    fn aux_skip(&self, global_step: usize, total_steps: usize) -> f64 {
        self.config.aux_skip_beta * (1.0 - global_step as f64 / total_steps as f64)
    }

    /// One architecture step on the next validation batch, then the mixed logits of the
    /// training batch for the trainer's weight step.
    fn step<S: MixedSupernet>(
        &mut self,
        model: &S,
        step: &TrainStep,
        total_steps: usize,
    ) -> Tensor<2> {
        let device = step.images.device();
        let global_step = step.epoch * total_steps / self.config.train.epochs + step.step;
        let beta = self.aux_skip(global_step, total_steps);
        let (val_images, val_labels) = self.val_batch(step.epoch, step.step, &device);
        let loss_fn = CrossEntropyLossConfig::new().init(&device);
        let relaxation = self.config.relaxation;
        let train_loss = |m: &S, alpha: Tensor<2>| {
            let logits = m.forward_mixed(&relaxation.weights(alpha), beta, step.images.clone());
            loss_fn.forward(logits, step.labels.clone())
        };
        let val_loss = |m: &S, alpha: Tensor<2>| {
            let weights = relaxation.weights(alpha.clone());
            let logits = m.forward_mixed(&weights, beta, val_images.clone());
            let loss = loss_fn.forward(logits, val_labels.clone());
            match relaxation {
                Relaxation::Softmax => loss,
                Relaxation::Sigmoid => {
                    loss + zero_one_loss(alpha).mul_scalar(self.config.zero_one_weight)
                }
            }
        };
        let order = match self.config.order {
            DartsOrder::First => Order::First,
            DartsOrder::Second => Order::Second {
                xi: self.config.xi.unwrap_or(step.lr),
            },
        };
        let alphas = &mut self.alphas;
        let gradient = alpha_gradient(
            model,
            &alphas.tensor(&device),
            &train_loss,
            &val_loss,
            order,
        );
        alphas.step(gradient.grad, &self.config.alpha);
        self.val_loss_sum += gradient.val_loss;
        self.val_steps += 1;
        let weights = relaxation.weights(alphas.tensor(&device));
        model.forward_mixed(&weights, beta, step.images.clone())
    }

    /// Validation batch `step` of the epoch's shuffle (stream `darts-valid/<epoch>`), cycling
    /// when the validation split has fewer batches than the training split.
    fn val_batch(
        &mut self,
        epoch: usize,
        step: usize,
        device: &burn::tensor::Device,
    ) -> (Tensor<4>, Tensor<1, burn::tensor::Int>) {
        if self.val_batches.as_ref().is_none_or(|(e, _)| *e != epoch) {
            let batcher = Batcher::shuffled(
                self.valid,
                self.normalization,
                self.config.train.batch_size,
                &mut self.streams.stream(&format!("darts-valid/{epoch}")),
            );
            self.val_batches = Some((epoch, batcher));
        }
        let (_, batcher) = self.val_batches.as_ref().expect("set above");
        let batch = batcher.plain_batch(step % batcher.len());
        to_tensors(&batch, self.valid, device)
    }

    /// Logs the epoch, saves the alpha checkpoint (before the trainer saves the weights, so a
    /// resumed run always finds it), and returns the mixed supernet's validation accuracy.
    fn end_epoch<S: MixedSupernet>(
        &mut self,
        model: &S,
        epoch: usize,
        total_steps: usize,
        show_progress: bool,
    ) -> Result<f64, NnError> {
        let alphas = &self.alphas;
        let weights = self.config.relaxation.values(alphas);
        let derived = self.space.derive(&weights, self.config.relaxation);
        let record = AlphaRecord {
            epoch: epoch + 1,
            entropy: weights.iter().map(|row| normalised_entropy(row)).collect(),
            derived: derived.arch,
            skip_count: derived.skip_count,
            alpha_val_loss: self.val_loss_sum / self.val_steps.max(1) as f64,
            aux_skip_beta: self.aux_skip(
                (epoch + 1) * total_steps / self.config.train.epochs,
                total_steps,
            ),
            weights,
        };
        self.val_loss_sum = 0.0;
        self.val_steps = 0;
        if show_progress {
            eprintln!(
                "epoch {}: derived {} ({} skip), mean entropy {:.3}",
                record.epoch,
                record.derived,
                record.skip_count,
                record.entropy.iter().sum::<f64>() / record.entropy.len() as f64
            );
        }
        self.log.push(record);
        let checkpoint = AlphaCheckpoint {
            alphas: alphas.clone(),
            log: self.log.clone(),
        };
        checkpoint.save(&self.checkpoints, epoch + 1)?;
        Ok(self.accuracy(model, alphas))
    }

    /// Accuracy of the mixed supernet on the validation split.
    fn accuracy<S: MixedSupernet>(&self, model: &S, alphas: &Alphas) -> f64 {
        let device = self.compute.eval_device();
        let weights = self.config.relaxation.weights(alphas.tensor(&device));
        let model = model.valid();
        nasr_nn::eval::accuracy(
            self.valid,
            self.normalization,
            self.config.train.eval_batch_size,
            &device,
            |images| model.forward_mixed(&weights, 0.0, images),
        )
    }
}

/// Entropy of `weights` scaled to sum to 1 (softmax rows already do; sigmoid rows do not).
fn normalised_entropy(weights: &[f64]) -> f64 {
    let total: f64 = weights.iter().sum();
    entropy(&weights.iter().map(|w| w / total).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_without_retraining_survives_a_write_and_a_read() {
        for retrain in [None, Some(RetrainConfig::default())] {
            let config = DartsConfig {
                retrain,
                ..DartsConfig::default()
            };
            let text = toml::to_string(&config).unwrap();
            let back: DartsConfig = toml::from_str(&text).unwrap();
            assert_eq!(back, config, "{text}");
        }
        let err = toml::from_str::<DartsConfig>("[retrain]\nepochz = 2\n").unwrap_err();
        assert!(err.to_string().contains("epochz"), "{err}");
    }
}
