//! FairNAS supernet training (Chu et al., ICCV 2021): every step runs the m architectures of
//! a [`StrictFairSampler`] draw on the same batch, and one update applies the sum of their
//! gradients, so every op of every edge is trained exactly once per step.
//!
//! The m losses are summed and differentiated once; by linearity that gradient is the sum of
//! the m single-path gradients (a test checks it), at the cost of keeping m paths' activations.
//!
//! On the NB201 cell, "trained once" means sampled once: an op whose node does not reach the
//! cell output on its path (every later edge `none`) receives no gradient there. FairNAS's own
//! chain-structured space (MobileNet layers) has no such dead branches.

use burn::tensor::Tensor;
use nasr_search::fair::StrictFairSampler;
use nasr_space::SeedStreams;

use crate::supernet::Nb201Supernet;

/// The training forward of FairNAS for [`crate::train::Trainer::fit_with`]: the logits of the
/// m architectures of one strictly fair draw, taken from stream `fair/<epoch>`.
pub fn strict_fair_forward(
    sampler: &StrictFairSampler,
    streams: SeedStreams,
) -> impl FnMut(&Nb201Supernet, Tensor<4>, usize, usize) -> Vec<Tensor<2>> + '_ {
    let mut epoch_rng: Option<(usize, rand_chacha::ChaCha12Rng)> = None;
    move |model, images, epoch, _step| {
        if epoch_rng.as_ref().is_none_or(|(e, _)| *e != epoch) {
            epoch_rng = Some((epoch, streams.stream(&format!("fair/{epoch}"))));
        }
        let (_, rng) = epoch_rng.as_mut().expect("set above");
        sampler
            .sample(rng)
            .iter()
            .map(|arch| model.forward_path(arch, images.clone()))
            .collect()
    }
}
