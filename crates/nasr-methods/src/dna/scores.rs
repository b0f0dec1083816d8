//! DNA's per-block scoring (`_potential`): every candidate of a block (one option per layer,
//! 6^L of them) runs on the same fixed validation batches after its BatchNorm statistics are
//! re-estimated on training batches, and scores DNA's normalised distance to the teacher,
//! `mean|S - T| / std(T)`, so that scores add up across blocks.

use burn::module::Module;
use burn::tensor::Tensor;
use nasr_data::Batcher;
use nasr_nn::eval::feature_distance::FeatureDistance;
use nasr_nn::nets::mobilenet::BlockSupernet;
use nasr_nn::supernet::cumulative_statistics;
use nasr_space::{MobileNetSpace, SeedStreams, Space};
use serde::{Deserialize, Serialize};

use super::blocks::BlockData;

/// How candidates are scored. DNA: 19 validation batches, BatchNorm re-estimated on one
/// training batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scoring {
    /// Validation batches every candidate is scored on (the same for all; fewer where the
    /// split has fewer).
    pub valid_batches: usize,
    /// Training batches that re-estimate a candidate's BatchNorm statistics first.
    pub recal_batches: usize,
    /// Examples per batch.
    pub batch_size: usize,
}

impl Default for Scoring {
    fn default() -> Self {
        Self {
            valid_batches: 8,
            recal_batches: 1,
            batch_size: 64,
        }
    }
}

/// One candidate of one block with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateScore {
    /// Its layers' options, in the space's names (`k3_e6`).
    pub layers: Vec<String>,
    /// Its layers' option indices.
    pub path: Vec<usize>,
    /// DNA's normalised distance to the teacher (lower is better).
    pub score: f64,
}

/// Every candidate of block `block`'s trained supernet `model` (on the training device),
/// scored on `data`'s validation split against its teacher; recalibration
/// batches come from stream `recal/block<block>` of `streams`.
pub fn score_block(
    model: BlockSupernet,
    space: &MobileNetSpace,
    block: usize,
    data: &BlockData<'_>,
    scoring: &Scoring,
    streams: &SeedStreams,
    progress: &indicatif::ProgressBar,
) -> Vec<CandidateScore> {
    let mut recal = streams.stream(&format!("recal/block{block}"));
    let recal_batcher = Batcher::shuffled(
        data.train,
        data.normalization,
        scoring.batch_size,
        &mut recal,
    );
    let recal_inputs: Vec<Tensor<4>> = (0..scoring.recal_batches.min(recal_batcher.len()))
        .map(|i| {
            data.teacher
                .batch_io(data.train, &recal_batcher, i, block, data.eval_device)
                .0
        })
        .map(Tensor::from_inner)
        .collect();
    let valid = data.valid;
    let valid_batcher = Batcher::sequential(valid, data.normalization, scoring.batch_size);
    let valid_pairs: Vec<(Tensor<4>, Tensor<4>)> =
        (0..scoring.valid_batches.min(valid_batcher.len()))
            .map(|i| {
                data.teacher
                    .batch_io(valid, &valid_batcher, i, block, data.eval_device)
            })
            .collect();
    let layers = space.stage_layers(block);
    let mut model = model.train().no_grad();
    let mut scores = Vec::new();
    for path in model.paths() {
        model = recalibrate(model, &path, &recal_inputs);
        let evaluated = model.valid();
        let mut distance = FeatureDistance::default();
        for (input, target) in &valid_pairs {
            distance.add(evaluated.forward(&path, input.clone()), target.clone());
        }
        scores.push(CandidateScore {
            layers: layers
                .clone()
                .zip(&path)
                .map(|(layer, &option)| space.decisions()[layer].options[option].clone())
                .collect(),
            path,
            score: distance.score(),
        });
        progress.inc(1);
    }
    scores
}

/// The BatchNorm statistics along `path` re-estimated from `inputs` as their cumulative
/// average (PyTorch's `momentum=None`; the first batch replaces the old statistics).
fn recalibrate(model: BlockSupernet, path: &[usize], inputs: &[Tensor<4>]) -> BlockSupernet {
    cumulative_statistics(
        model,
        BlockSupernet::batch_norms,
        inputs.len(),
        |model, k| {
            let _ = model.forward(path, inputs[k].clone());
        },
    )
}
