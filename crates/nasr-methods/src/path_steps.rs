//! The training steps of single-path supernet training, and the path an epoch validates: which
//! architectures a step trains, drawn from the run's per-epoch streams. RSWS and SPOS train one
//! uniform path per step, FTT-NAS the same on its fault-tolerant loss, FairNAS the m paths of
//! a strictly fair draw.

use nasr_search::fair::StrictFairSampler;
use nasr_space::{Arch, EpochStream, SeedStreams, Space};

use nasr_nn::supernet::PathSupernet;
use nasr_nn::train::fault_tolerant::{FaultTolerance, fault_tolerant_loss};
use nasr_nn::train::{StepLoss, TrainStep};

/// The training step of uniform single-path sampling (SPOS, RSWS): one fresh path per step,
/// from stream `path/<epoch>`, and its cross-entropy.
pub fn uniform_path_step<'a, S: PathSupernet>(
    space: &'a dyn Space,
    streams: SeedStreams,
) -> impl FnMut(&S, &TrainStep<'_>) -> StepLoss + 'a {
    let mut paths = EpochStream::new(streams, "path");
    move |model, step| {
        let arch = space.sample(paths.at(step.epoch));
        step.cross_entropy(vec![model.forward_path(&arch, step.images.clone())].into())
    }
}

/// FTT-NAS's supernet step: one uniform path per step (as [`uniform_path_step`], stream
/// `path/<epoch>`) trained on the fault-tolerant loss `(1 - gamma) CE_clean + gamma
/// CE_faulty`, the step's faults from stream `faults/<epoch>/<step>`.
pub fn fault_tolerant_path_step<'a, S: PathSupernet>(
    space: &'a dyn Space,
    streams: SeedStreams,
    tolerance: FaultTolerance,
) -> impl FnMut(&S, &TrainStep<'_>) -> StepLoss + 'a {
    let mut paths = EpochStream::new(streams, "path");
    move |model, step| {
        let arch = space.sample(paths.at(step.epoch));
        fault_tolerant_loss(step, &tolerance, &streams, &mut || {
            vec![model.forward_path(&arch, step.images.clone())].into()
        })
    }
}

/// The training step of FairNAS for [`nasr_nn::train::Trainer::fit_with`]: the summed
/// cross-entropy of the m architectures of one strictly fair draw, taken from stream
/// `fair/<epoch>`.
pub fn strict_fair_step<S: PathSupernet>(
    sampler: &StrictFairSampler,
    streams: SeedStreams,
) -> impl FnMut(&S, &TrainStep<'_>) -> StepLoss + '_ {
    let mut draws = EpochStream::new(streams, "fair");
    move |model, step| {
        let logits: Vec<_> = sampler
            .sample(draws.at(step.epoch))
            .iter()
            .map(|arch| model.forward_path(arch, step.images.clone()))
            .collect();
        step.cross_entropy(logits.into())
    }
}

/// The random path a supernet validates after epoch `epoch`, from stream `valid-path/<epoch>`.
pub fn validation_path(space: &dyn Space, streams: &SeedStreams, epoch: usize) -> Arch {
    space.sample(&mut streams.stream(&format!("valid-path/{epoch}")))
}
