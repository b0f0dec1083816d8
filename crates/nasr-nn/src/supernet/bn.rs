//! BatchNorm recalibration along one path, and a path's accuracy: how weight-sharing methods
//! evaluate an architecture on a supernet.

use burn::tensor::{Device, Tensor};
use nasr_data::{Batcher, Dataset, Normalization};
use nasr_kernels::BatchNorm;
use nasr_space::Arch;

use super::PathSupernet;

/// The training batches BatchNorm statistics are recomputed from.
#[derive(Debug, Clone, Copy)]
pub struct RecalBatches<'a> {
    /// The training split.
    pub dataset: &'a Dataset,
    /// Normalisation of every batch.
    pub normalization: &'a Normalization,
    /// Examples per batch.
    pub batch_size: usize,
    /// Batches (fewer where the split has fewer).
    pub batches: usize,
}

/// Recomputes the running statistics of the BatchNorms along `arch` from scratch, as the
/// cumulative average over `recal.batches` training batches (weight-sharing evaluation needs
/// statistics of the path it evaluates, not of the mixture it was trained on). Only what the
/// path normalises is written: BatchNorms off the path, and the channels past an elastic
/// layer's active width (Once-for-All's `set_running_statistics` writes `[:C]`), keep their
/// statistics. The first batch enters with weight 1, so nothing of the old statistics
/// survives where the path writes. Weights do not change. Batches are drawn in order from
/// `rng`'s shuffle of the dataset; `device` is the training device (with autodiff).
pub fn recalibrate_bn<S: PathSupernet>(
    supernet: S,
    arch: &Arch,
    recal: RecalBatches<'_>,
    rng: &mut dyn rand::RngCore,
    device: &Device,
) -> S {
    let RecalBatches {
        dataset,
        normalization,
        batch_size,
        batches,
    } = recal;
    // Training mode on the autodiff device (BatchNorm updates its statistics only there), but
    // without gradient tracking: nothing is recorded, so no activations are kept for a backward
    // pass that never comes.
    let model = supernet.train().no_grad();
    let batcher = Batcher::shuffled(dataset, normalization, batch_size, rng);
    let shape = dataset.shape;
    cumulative_statistics(
        model,
        S::batch_norms,
        batches.min(batcher.len()),
        |model, index| {
            let batch = batcher.plain_batch(index);
            let dims = [batch.len, shape.channels, shape.height, shape.width];
            let images =
                Tensor::<4>::from_data(burn::tensor::TensorData::new(batch.images, dims), device);
            let _ = model.forward_path(arch, images.detach());
        },
    )
}

/// Runs `forward(model, k)` for batches k in `0..batches` with the momentum of every
/// BatchNorm `batch_norms` lists at `1 / (k + 1)`, so that the running statistics become the
/// cumulative average of the batches (PyTorch's `momentum=None`; the first batch replaces the
/// old statistics wherever it writes), then restores the momenta. The model must be in
/// training mode for its BatchNorms to update.
pub fn cumulative_statistics<M>(
    mut model: M,
    batch_norms: fn(&mut M) -> Vec<&mut BatchNorm>,
    batches: usize,
    mut forward: impl FnMut(&M, usize),
) -> M {
    let momenta: Vec<f64> = batch_norms(&mut model)
        .iter()
        .map(|bn| bn.momentum)
        .collect();
    for index in 0..batches {
        for bn in batch_norms(&mut model) {
            bn.momentum = 1.0 / (index + 1) as f64;
        }
        forward(&model, index);
    }
    for (bn, momentum) in batch_norms(&mut model).into_iter().zip(momenta) {
        bn.momentum = momentum;
    }
    model
}

/// Accuracy of the supernet path `arch` on `dataset` in evaluation mode, in [0, 1].
pub fn path_accuracy<S: PathSupernet>(
    supernet: &S,
    arch: &Arch,
    dataset: &Dataset,
    normalization: &Normalization,
    batch_size: usize,
    device: &Device,
) -> f64 {
    let model = supernet.valid();
    crate::eval::accuracy(dataset, normalization, batch_size, device, |images| {
        model.forward_path(arch, images)
    })
}
