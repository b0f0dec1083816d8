//! DNA's block training (`distill_train.py`): block i of the student, a supernet of its
//! stage's candidates, takes the teacher's features of boundary i and is trained towards the
//! teacher's features of boundary i + 1 by their mean squared error, one uniformly sampled
//! candidate per layer per step, with Adam at a per-block learning rate decayed per epoch.
//! Blocks are independent: each is trained on its own streams and saved when done, so an
//! interrupted search keeps every finished block and retrains only the one it was in.

use std::path::Path;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use nasr_data::{Batcher, Dataset, Normalization};
use nasr_nn::NnError;
use nasr_nn::nets::mobilenet::BlockSupernet;
use nasr_nn::train::loss::feature_mse;
use nasr_nn::train::optim::{AdamConfig, WeightAdam};
use nasr_space::{MobileNetSpace, SeedStreams};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::teacher::Teacher;

/// How each block supernet is trained. DNA: 20 epochs per block, Adam, learning rates
/// [2, 5, 5, 5, 5, 2] x 1e-3 over its six blocks, decay 0.9 per epoch, weight decay 1e-4,
/// batch 64 per GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockTraining {
    /// Passes over the training set per block.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Learning rate of each block; empty: DNA's rule (2e-3 for the first and last block,
    /// 5e-3 between).
    pub lr: Vec<f64>,
    /// Factor on the learning rate after each epoch.
    pub lr_decay: f64,
    /// Adam's L2 weight decay.
    pub weight_decay: f64,
}

impl Default for BlockTraining {
    fn default() -> Self {
        Self {
            epochs: 2,
            batch_size: 64,
            lr: Vec::new(),
            lr_decay: 0.9,
            weight_decay: 1e-4,
        }
    }
}

impl BlockTraining {
    /// The learning rate of block `block` of `blocks`.
    pub fn block_lr(&self, block: usize, blocks: usize) -> Result<f64, NnError> {
        if self.lr.is_empty() {
            return Ok(if block == 0 || block + 1 == blocks {
                2e-3
            } else {
                5e-3
            });
        }
        if self.lr.len() != blocks {
            return Err(NnError::Config {
                field: "blocks.lr",
                problem: format!(
                    "lists {} rates; the space has {blocks} blocks",
                    self.lr.len()
                ),
            });
        }
        Ok(self.lr[block])
    }

    /// Checks every field; the error names it.
    pub fn validate(&self, blocks: usize) -> Result<(), NnError> {
        let bad = |field, problem: &str| {
            Err(NnError::Config {
                field,
                problem: problem.into(),
            })
        };
        if self.epochs == 0 {
            return bad("blocks.epochs", "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("blocks.batch_size", "must be at least 1");
        }
        if !(self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            return bad("blocks.lr_decay", "must be in (0, 1]");
        }
        for block in 0..blocks {
            let lr = self.block_lr(block, blocks)?;
            if !(lr.is_finite() && lr > 0.0) {
                return bad("blocks.lr", "must hold positive numbers");
            }
        }
        Ok(())
    }
}

/// One option per layer, each uniform over that layer's `options` (DNA samples one candidate
/// per layer per step).
pub fn uniform_path(options: &[usize], rng: &mut impl Rng) -> Vec<usize> {
    options.iter().map(|&n| rng.random_range(0..n)).collect()
}

/// The data a block trains on, and where.
pub struct BlockData<'a> {
    /// The training split.
    pub train: &'a Dataset,
    /// The validation split (candidates are scored on it).
    pub valid: &'a Dataset,
    /// The normalisation of both.
    pub normalization: &'a Normalization,
    /// The teacher, on `eval_device`.
    pub teacher: &'a Teacher,
    /// Where the teacher runs.
    pub eval_device: &'a Device,
    /// Where the block trains (with autodiff).
    pub train_device: &'a Device,
}

/// Block `block`'s supernet of `space`, trained as `config` says; the mean loss of each epoch
/// comes with it. Every draw comes from `streams` (its init, data order and paths streams are
/// named by the block).
pub fn train_block(
    space: &MobileNetSpace,
    block: usize,
    data: &BlockData<'_>,
    config: &BlockTraining,
    streams: &SeedStreams,
    progress: &indicatif::ProgressBar,
) -> Result<(BlockSupernet, Vec<f64>), NnError> {
    let blocks = space.config().stages.len();
    let base_lr = config.block_lr(block, blocks)?;
    let mut model =
        nasr_nn::init::seeded(&mut streams.stream(&format!("init/block{block}")), || {
            BlockSupernet::new(space, block, data.train_device)
        })?
        .train();
    let options = model.options.clone();
    let mut paths = streams.stream(&format!("paths/block{block}"));
    let mut adam = WeightAdam::new(AdamConfig {
        lr: base_lr,
        beta1: 0.9,
        beta2: 0.999,
        weight_decay: config.weight_decay,
        eps: 1e-8,
    });
    let mut losses = Vec::with_capacity(config.epochs);
    for epoch in 0..config.epochs {
        let lr = base_lr * config.lr_decay.powi(epoch as i32);
        let mut order = streams.stream(&format!("data-order/block{block}/{epoch}"));
        let batcher = Batcher::shuffled(
            data.train,
            data.normalization,
            config.batch_size,
            &mut order,
        );
        let mut total = 0.0;
        for index in 0..batcher.len() {
            let (input, target) =
                data.teacher
                    .batch_io(data.train, &batcher, index, block, data.eval_device);
            // The teacher ran without autodiff: its features enter the block's graph as leaves.
            let (input, target) = (Tensor::from_inner(input), Tensor::from_inner(target));
            let path = uniform_path(&options, &mut paths);
            let loss = feature_mse(model.forward(&path, input), target);
            total += f64::from(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = adam.step(model, grads, lr);
            progress.inc(1);
        }
        losses.push(total / batcher.len() as f64);
    }
    Ok((model, losses))
}

/// Steps of one block's training, for a progress bar.
pub fn steps_per_block(train: &Dataset, config: &BlockTraining) -> u64 {
    (train.len().div_ceil(config.batch_size) * config.epochs) as u64
}

/// Saves a trained block as `path` (safetensors, atomically).
pub fn save_block(model: &BlockSupernet, path: &Path) -> Result<(), NnError> {
    nasr_nn::params::save_safetensors(&nasr_nn::params::named_tensors(model), path)
}

/// Block `block` of `space` with the weights saved at `path`.
pub fn load_block(
    space: &MobileNetSpace,
    block: usize,
    path: &Path,
    device: &Device,
) -> Result<BlockSupernet, NnError> {
    let fresh = BlockSupernet::new(space, block, device)?;
    let tensors = nasr_nn::params::load_safetensors(path)?;
    nasr_nn::params::load_named(fresh, &tensors, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Pearson's chi-square statistic of `counts` against a uniform expectation.
    fn chi_square(counts: &[usize]) -> f64 {
        let total: usize = counts.iter().sum();
        let expected = total as f64 / counts.len() as f64;
        counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum()
    }

    /// Each layer's option, and each pair of the two layers' options, is uniform: chi-square
    /// below the 0.999 quantile (5 degrees of freedom: 20.5; 35: 66.6), and a biased sampler
    /// fails the same test.
    #[test]
    fn paths_are_uniform_per_layer_and_jointly() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let draws = 36_000;
        let (mut first, mut second, mut joint) = (vec![0; 6], vec![0; 6], vec![0; 36]);
        for _ in 0..draws {
            let path = uniform_path(&[6, 6], &mut rng);
            first[path[0]] += 1;
            second[path[1]] += 1;
            joint[path[0] * 6 + path[1]] += 1;
        }
        assert!(chi_square(&first) < 20.5, "{first:?}");
        assert!(chi_square(&second) < 20.5, "{second:?}");
        assert!(chi_square(&joint) < 66.6, "{joint:?}");
        let mut biased = vec![0; 6];
        for _ in 0..draws {
            biased[uniform_path(&[7], &mut rng)[0].min(5)] += 1;
        }
        assert!(chi_square(&biased) > 20.5, "{biased:?}");
    }

    #[test]
    fn learning_rates_follow_dna_or_the_config_and_a_wrong_count_is_refused() {
        let default = BlockTraining::default();
        let rates: Vec<f64> = (0..4).map(|b| default.block_lr(b, 4).unwrap()).collect();
        assert_eq!(rates, vec![2e-3, 5e-3, 5e-3, 2e-3]);
        let two = BlockTraining {
            lr: vec![1e-3, 2e-3],
            ..default
        };
        assert_eq!(two.block_lr(1, 2).unwrap(), 2e-3);
        let err = two.validate(3).unwrap_err().to_string();
        assert!(
            err.contains("blocks.lr lists 2 rates; the space has 3 blocks"),
            "{err}"
        );
    }
}
