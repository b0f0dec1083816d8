//! Training: a [`Trainer`] runs SGD on mini-batches with a per-step cosine schedule, calls a
//! step that returns its loss ([`loss`]), validates after each epoch, writes a safetensors
//! checkpoint after each epoch and resumes from the last one. [`optim`] holds SGD and Adam,
//! [`schedule`] the learning-rate schedule.
//!
//! Randomness comes only from named streams of the run seed: `data-order/<epoch>` shuffles,
//! `augment/<epoch>` draws crops and flips. Each epoch's streams are rebuilt from the seed, so a
//! resumed run sees exactly the numbers an uninterrupted one would.

use std::path::{Path, PathBuf};

pub mod fault_tolerant;
pub mod loss;
pub mod optim;
pub mod schedule;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nasr_data::{Augmentation, Batch, Batcher, Dataset, Normalization};
use nasr_space::SeedStreams;
use serde::{Deserialize, Serialize};

use crate::NnError;
use crate::params::{
    load_named, load_safetensors, named_tensors, save_safetensors, write_atomically,
};
pub use loss::{CrossEntropy, Distillation, StepLogits, StepLoss};
use optim::{Sgd, SgdConfig};
use schedule::CosineSchedule;

/// A network that maps images `[batch, c, h, w]` to logits `[batch, classes]`.
pub trait Classifier: Module {
    /// Forward pass.
    fn forward(&self, images: Tensor<4>) -> Tensor<2>;
}

/// Training hyper-parameters. Defaults follow NAS-Bench-201's training recipe, except the
/// batch size, which suits a 2-core CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per SGD step.
    pub batch_size: usize,
    /// Initial learning rate (cosine-annealed per step).
    pub lr: f64,
    /// Final learning rate.
    pub lr_min: f64,
    /// Optimiser settings.
    pub sgd: SgdConfig,
    /// Label smoothing factor in [0, 1) (0 disables it).
    pub label_smoothing: f32,
    /// Training-time augmentation.
    pub augmentation: Augmentation,
    /// Examples per evaluation batch.
    pub eval_batch_size: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 64,
            lr: 0.1,
            lr_min: 0.0,
            sgd: SgdConfig::default(),
            label_smoothing: 0.0,
            augmentation: Augmentation::default(),
            eval_batch_size: 500,
        }
    }
}

impl TrainConfig {
    /// Checks every field; the error names it.
    pub fn validate(&self) -> Result<(), NnError> {
        let bad = |field: &'static str, problem: String| Err(NnError::Config { field, problem });
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.batch_size == 0 || self.eval_batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", format!("must be a positive number, got {}", self.lr));
        }
        if !(0.0..=self.lr).contains(&self.lr_min) {
            return bad("lr_min", format!("must be in [0, lr], got {}", self.lr_min));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad(
                "label_smoothing",
                format!("must be in [0, 1), got {}", self.label_smoothing),
            );
        }
        if !(0.0..1.0).contains(&self.sgd.momentum) {
            return bad(
                "sgd.momentum",
                format!("must be in [0, 1), got {}", self.sgd.momentum),
            );
        }
        if self.sgd.weight_decay < 0.0 {
            return bad("sgd.weight_decay", "must not be negative".into());
        }
        if self.sgd.grad_clip.is_some_and(|c| c.is_nan() || c <= 0.0) {
            return bad("sgd.grad_clip", "must be positive".into());
        }
        Ok(())
    }
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Training accuracy over the epoch, in [0, 1] (on augmented batches, before each update).
    pub train_accuracy: f64,
    /// Validation accuracy after the epoch, in [0, 1].
    pub valid_accuracy: f64,
    /// Learning rate of the epoch's last step.
    pub lr: f64,
}

/// The data a training run uses.
#[derive(Debug, Clone, Copy)]
pub struct TrainData<'a> {
    /// Examples to train on.
    pub train: &'a Dataset,
    /// Examples to validate on after each epoch.
    pub valid: &'a Dataset,
    /// Normalisation applied to every batch (computed on the training set).
    pub normalization: &'a Normalization,
}

/// One training step's batch, handed to the step of [`Trainer::fit_with`].
pub struct TrainStep<'a> {
    /// Augmented, normalised images `[batch, c, h, w]` on the training device.
    pub images: Tensor<4>,
    /// Their labels.
    pub labels: Tensor<1, Int>,
    /// Epoch, from 0.
    pub epoch: usize,
    /// Step within the epoch, from 0.
    pub step: usize,
    /// The learning rate of this step's weight update.
    pub lr: f64,
    /// Cross-entropy with the configured label smoothing, applied by
    /// [`TrainStep::cross_entropy`].
    classification: &'a CrossEntropy,
}

impl TrainStep<'_> {
    /// The classification step's loss of `logits` on this batch's labels.
    pub fn cross_entropy(&self, logits: StepLogits) -> StepLoss {
        self.classification.step(logits, &self.labels)
    }
}

/// The classification step of a plain network: cross-entropy of its logits.
pub fn plain_step<M: Classifier>(model: &M, step: &TrainStep<'_>) -> StepLoss {
    step.cross_entropy(vec![model.forward(step.images.clone())].into())
}

/// Checkpoint bookkeeping, written last so that its presence means the epoch's files are complete.
#[derive(Debug, Serialize, Deserialize)]
struct Progress {
    format_version: u32,
    config: TrainConfig,
    seed: u64,
    completed_epochs: usize,
    history: Vec<EpochRecord>,
}

/// Format 2: parameters named by their op (`edges.2.nor_conv_3x3...`); format 1 named them by
/// position (`edges.2.op...`), so its tensors cannot be loaded into today's networks.
const CHECKPOINT_FORMAT: u32 = 2;

/// Runs training for a model, checkpointing into a folder when given one.
pub struct Trainer<'a> {
    config: &'a TrainConfig,
    compute: crate::Compute,
    streams: SeedStreams,
    checkpoints: Option<PathBuf>,
    show_progress: bool,
}

impl<'a> Trainer<'a> {
    /// A trainer with `config`, drawing randomness from `streams`.
    pub fn new(config: &'a TrainConfig, streams: SeedStreams) -> Self {
        Self {
            config,
            compute: crate::Compute::Cpu,
            streams,
            checkpoints: None,
            show_progress: false,
        }
    }

    /// Train and validate on `compute` (the CPU unless told otherwise).
    pub fn on(mut self, compute: crate::Compute) -> Self {
        self.compute = compute;
        self
    }

    /// Write a checkpoint into `dir` after every epoch, and resume from the last one there.
    pub fn with_checkpoints(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoints = Some(dir.into());
        self
    }

    /// Draw a progress bar on the terminal (it stays hidden when stderr is not a terminal).
    pub fn with_progress(mut self, show: bool) -> Self {
        self.show_progress = show;
        self
    }

    /// Trains `model` for the configured epochs, resuming from the checkpoint folder if it holds
    /// completed epochs. Returns the trained model and one record per epoch.
    pub fn fit<M: Classifier>(
        &self,
        model: M,
        data: TrainData<'_>,
    ) -> Result<(M, Vec<EpochRecord>), NnError> {
        self.fit_step(model, data, &mut plain_step)
    }

    /// Like [`Trainer::fit`], with a training step of its own (drop-path, auxiliary heads);
    /// validation uses the model's plain forward.
    pub fn fit_step<M: Classifier>(
        &self,
        model: M,
        data: TrainData<'_>,
        step: &mut dyn FnMut(&M, &TrainStep<'_>) -> StepLoss,
    ) -> Result<(M, Vec<EpochRecord>), NnError> {
        let batch_size = self.config.eval_batch_size;
        let device = self.compute.eval_device();
        self.fit_with(model, data, step, &mut |model: &M, _| {
            Ok(crate::eval::evaluate(
                model,
                data.valid,
                data.normalization,
                batch_size,
                &device,
            ))
        })
    }

    /// Like [`Trainer::fit`], for any model and any loss, such as a supernet running sampled
    /// paths. `step(model, batch)` returns the step's loss: cross-entropy of the logits of
    /// every architecture the step runs ([`TrainStep::cross_entropy`]; one for a plain network
    /// or single-path sampling, m for FairNAS), or a loss of the method's own. `validate(model,
    /// epoch)` gives the validation accuracy after an epoch; its error stops the run before the
    /// epoch's checkpoint is saved.
    pub fn fit_with<M: Module>(
        &self,
        model: M,
        data: TrainData<'_>,
        step: &mut dyn FnMut(&M, &TrainStep<'_>) -> StepLoss,
        validate: &mut dyn FnMut(&M, usize) -> Result<f64, NnError>,
    ) -> Result<(M, Vec<EpochRecord>), NnError> {
        self.config.validate()?;
        let (mut model, mut sgd, mut history) = self.resume(model)?;
        let steps_per_epoch = data.train.len().div_ceil(self.config.batch_size);
        let schedule = CosineSchedule {
            lr_max: self.config.lr,
            lr_min: self.config.lr_min,
            total_steps: steps_per_epoch * self.config.epochs,
        };
        for epoch in history.len()..self.config.epochs {
            let (trained, mut record) =
                self.train_epoch(model, &mut sgd, data, epoch, &schedule, step)?;
            model = trained;
            record.valid_accuracy = validate(&model, epoch)?;
            history.push(record);
            self.save_checkpoint(&model, &sgd, &history)?;
        }
        Ok((model, history))
    }

    /// One pass over the training set. The record's validation accuracy is left at 0 for
    /// `fit_with` to fill.
    fn train_epoch<M: Module>(
        &self,
        mut model: M,
        sgd: &mut Sgd,
        data: TrainData<'_>,
        epoch: usize,
        schedule: &CosineSchedule,
        train_step: &mut dyn FnMut(&M, &TrainStep<'_>) -> StepLoss,
    ) -> Result<(M, EpochRecord), NnError> {
        let device = self.compute.train_device();
        let mut order_rng = self.streams.stream(&format!("data-order/{epoch}"));
        let mut augment_rng = self.streams.stream(&format!("augment/{epoch}"));
        let batcher = Batcher::shuffled(
            data.train,
            data.normalization,
            self.config.batch_size,
            &mut order_rng,
        );
        let cross_entropy = CrossEntropy::new(self.config.label_smoothing, &device);
        let bar = self.progress_bar(
            batcher.len(),
            &format!("epoch {}/{}", epoch + 1, self.config.epochs),
        );
        let (mut loss_sum, mut correct, mut seen, mut predicted, mut lr) =
            (0.0f64, 0usize, 0usize, 0usize, self.config.lr);
        model = model.train();
        for step in 0..batcher.len() {
            let batch = batcher.batch(step, &self.config.augmentation, &mut augment_rng);
            let (images, labels) = to_tensors(&batch, data.train, &device);
            lr = schedule.lr(epoch * batcher.len() + step);
            let input = TrainStep {
                images,
                labels,
                epoch,
                step,
                lr,
                classification: &cross_entropy,
            };
            let StepLoss {
                loss,
                reported: loss_value,
                correct: step_correct,
                predicted: step_predicted,
            } = train_step(&model, &input);
            if !loss_value.is_finite() {
                return Err(NnError::Diverged {
                    epoch,
                    step,
                    loss: loss_value,
                });
            }
            correct += step_correct;
            predicted += step_predicted;
            loss_sum += f64::from(loss_value) * batch.len as f64;
            seen += batch.len;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = sgd.step(model, grads, lr).0;
            bar.inc(1);
            bar.set_message(format!(
                "loss {:.4} acc {:.4}",
                loss_sum / seen as f64,
                correct as f64 / predicted as f64
            ));
        }
        bar.finish_and_clear();
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct as f64 / predicted.max(1) as f64,
            valid_accuracy: 0.0,
            lr,
        };
        Ok((model, record))
    }

    fn progress_bar(&self, steps: usize, prefix: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stderr());
        if !self.show_progress {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        let style =
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}<{eta})")
                .expect("valid template")
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(prefix.to_string());
        bar
    }

    fn progress_path(dir: &Path) -> PathBuf {
        dir.join("progress.json")
    }

    fn epoch_paths(dir: &Path, epoch: usize) -> (PathBuf, PathBuf) {
        (
            dir.join(format!("epoch-{epoch:03}.safetensors")),
            dir.join(format!("epoch-{epoch:03}.sgd.safetensors")),
        )
    }

    fn save_checkpoint<M: Module>(
        &self,
        model: &M,
        sgd: &Sgd,
        history: &[EpochRecord],
    ) -> Result<(), NnError> {
        let Some(dir) = &self.checkpoints else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).map_err(|e| NnError::io(dir, e))?;
        let (model_path, sgd_path) = Self::epoch_paths(dir, history.len());
        save_safetensors(&named_tensors(model), &model_path)?;
        save_safetensors(&sgd.state(), &sgd_path)?;
        let progress = Progress {
            format_version: CHECKPOINT_FORMAT,
            config: self.config.clone(),
            seed: self.streams.seed(),
            completed_epochs: history.len(),
            history: history.to_vec(),
        };
        let json = serde_json::to_vec_pretty(&progress).expect("progress serialises");
        write_atomically(&Self::progress_path(dir), &json)
    }

    /// Epochs a previous run into this trainer's checkpoint folder completed (0 without one).
    /// Errors as resuming would: an unreadable, newer or foreign checkpoint.
    pub fn completed_epochs(&self) -> Result<usize, NnError> {
        Ok(self.progress()?.map_or(0, |p| p.completed_epochs))
    }

    fn progress(&self) -> Result<Option<Progress>, NnError> {
        let Some(dir) = &self.checkpoints else {
            return Ok(None);
        };
        let path = Self::progress_path(dir);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read(&path).map_err(|e| NnError::io(&path, e))?;
        let bad = |problem: String| NnError::Checkpoint {
            path: path.clone(),
            problem,
        };
        let progress: Progress = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        if progress.format_version > CHECKPOINT_FORMAT {
            return Err(bad(format!(
                "checkpoint format {} is newer than this nasr reads ({CHECKPOINT_FORMAT})",
                progress.format_version
            )));
        }
        if progress.format_version < CHECKPOINT_FORMAT {
            return Err(bad(format!(
                "checkpoint format {} was written by an older nasr, whose parameter names this \
                 nasr (format {CHECKPOINT_FORMAT}) does not read; use a new output folder",
                progress.format_version
            )));
        }
        if progress.seed != self.streams.seed() || progress.config != *self.config {
            return Err(bad(
                "the checkpoint was made with another seed or training config; use a new output folder".into(),
            ));
        }
        Ok(Some(progress))
    }

    fn resume<M: Module>(&self, model: M) -> Result<(M, Sgd, Vec<EpochRecord>), NnError> {
        let fresh = || Sgd::new(self.config.sgd);
        let (Some(dir), Some(progress)) = (&self.checkpoints, self.progress()?) else {
            return Ok((model, fresh(), Vec::new()));
        };
        let (model_path, sgd_path) = Self::epoch_paths(dir, progress.completed_epochs);
        let model = load_named(model, &load_safetensors(&model_path)?, &model_path)?;
        let mut sgd = fresh();
        sgd.load_state(&load_safetensors(&sgd_path)?, &self.compute.eval_device());
        Ok((model, sgd, progress.history))
    }
}

/// Turns a batch into an image tensor and a label tensor on `device`.
pub fn to_tensors(
    batch: &Batch,
    dataset: &Dataset,
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let shape = dataset.shape;
    let images = TensorData::new(
        batch.images.clone(),
        [batch.len, shape.channels, shape.height, shape.width],
    );
    let labels = TensorData::new(batch.labels.clone(), [batch.len]);
    (
        Tensor::<4>::from_data(images, device),
        Tensor::<1, Int>::from_data(labels, device),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_of_the_older_format_is_refused_naming_its_version() {
        let dir = std::env::temp_dir().join(format!("nasr-old-checkpoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = TrainConfig::default();
        let progress = serde_json::json!({
            "format_version": 1,
            "config": config,
            "seed": 7,
            "completed_epochs": 1,
            "history": [],
        });
        std::fs::write(dir.join("progress.json"), progress.to_string()).unwrap();
        let trainer = Trainer::new(&config, SeedStreams::new(7)).with_checkpoints(&dir);
        let err = trainer.completed_epochs().unwrap_err().to_string();
        assert!(err.contains("checkpoint format 1"), "{err}");
        assert!(err.contains("older nasr"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
