//! Evaluation: the accuracy of a network or of a supernet path on a dataset, and the
//! [`Evaluator`](nasr_search::Evaluator)s built on it.
//!
//! - [`accuracy`] and [`evaluate`]: a forward's accuracy over a dataset, in evaluation mode;
//! - [`supernet`]: [`SupernetEvaluator`], weight-sharing evaluation of one path (BatchNorm
//!   recalibration, validation accuracy, costs), for every method that ranks supernet paths;
//! - [`feature_distance`]: DNA's distance of a block's features to a teacher's;
//! - [`faulty`]: accuracy under a fault model over draws, and `Faulty<E>`, any evaluator
//!   under faults with FTT-NAS's reward.

pub mod faulty;
pub mod feature_distance;
pub mod supernet;

pub use supernet::SupernetEvaluator;

use burn::tensor::{Device, Tensor};
use nasr_data::{Batcher, Dataset, Normalization};

use crate::train::Classifier;
use crate::train::loss::count_correct;
use crate::train::to_tensors;

/// Accuracy of `model` on `dataset`, in [0, 1], in evaluation mode (BatchNorm running
/// statistics, no autodiff).
pub fn evaluate<M: Classifier>(
    model: &M,
    dataset: &Dataset,
    normalization: &Normalization,
    batch_size: usize,
    device: &Device,
) -> f64 {
    let model = model.valid();
    accuracy(dataset, normalization, batch_size, device, |images| {
        model.forward(images)
    })
}

/// The most images one evaluation forward takes, whatever the batch size: an evaluation-mode
/// forward treats every image on its own (BatchNorm uses its running statistics), so splitting
/// a batch changes no prediction, and at 64 images a layer's activations stay in cache and
/// below the size the allocator maps fresh pages for. (The MobileNet space's default network
/// on the 10,000 MNIST test images: 9.0 s in forwards of 500, 4.5 s in forwards of 64.)
pub const EVAL_FORWARD_IMAGES: usize = 64;

/// Accuracy of `forward` (images on `device` -> logits) on `dataset`, in [0, 1], in forwards
/// of `batch_size` images, or of [`EVAL_FORWARD_IMAGES`] where that is fewer.
pub fn accuracy(
    dataset: &Dataset,
    normalization: &Normalization,
    batch_size: usize,
    device: &Device,
    forward: impl Fn(Tensor<4>) -> Tensor<2>,
) -> f64 {
    if dataset.is_empty() {
        return 0.0;
    }
    let batcher = Batcher::sequential(
        dataset,
        normalization,
        batch_size.clamp(1, EVAL_FORWARD_IMAGES),
    );
    let mut correct = 0;
    for index in 0..batcher.len() {
        let batch = batcher.plain_batch(index);
        let (images, labels) = to_tensors(&batch, dataset, device);
        correct += count_correct(forward(images), labels);
    }
    correct as f64 / dataset.len() as f64
}
