//! Timed training steps: forward, cross-entropy, backward and SGD update of one network, and
//! of a supernet in each of its training modes.

use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor};
use nasr_search::fair::StrictFairSampler;
use nasr_space::{SeedStreams, Space};
use serde::{Deserialize, Serialize};

use nasr_nn::NnError;
use nasr_nn::nets::nb201::Nb201Supernet;
use nasr_nn::supernet::PathSupernet;
use nasr_nn::train::Classifier;
use nasr_nn::train::optim::{Sgd, SgdConfig};

use super::memory::MemoryWatch;
use super::{BuiltNetwork, BuiltSupernet, StepTimes, TrainStepBench, random_batch, wait_for};

/// Wall time of each timed training step (forward, cross-entropy, backward, SGD update) of
/// `bench`'s network on a random batch, on `compute`.
pub fn time_train_steps(
    bench: &TrainStepBench,
    compute: nasr_nn::Compute,
) -> Result<StepTimes, NnError> {
    let device = compute.train_device();
    let (images, labels) = random_batch(bench, "train", &device);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let loss = |logits: Tensor<2>| loss_fn.forward(logits, labels.clone());
    match bench.build_network(&device)? {
        BuiltNetwork::Nb201(model) => timed_steps(model, bench, &device, |m, _| {
            loss(m.forward(images.clone()))
        }),
        BuiltNetwork::MobileNet(model) => timed_steps(model, bench, &device, |m, _| {
            loss(m.forward(images.clone()))
        }),
        BuiltNetwork::Ofa(model) => timed_steps(model, bench, &device, |m, _| {
            loss(m.forward(images.clone()))
        }),
    }
}

/// How a supernet step runs, for [`time_supernet_steps`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupernetStepMode {
    /// One uniformly sampled path: forward, backward, SGD update (RSWS, SPOS).
    Path,
    /// FairNAS's strictly fair step: the m paths of one fair draw, their summed loss, one
    /// backward and one SGD update.
    StrictFair,
    /// The mixed op on every edge: forward, backward, SGD update (DARTS' weight step).
    Mixed,
    /// A whole first-order DARTS step: the alpha step on a second batch, then the weight step.
    DartsFirstOrder,
    /// A whole second-order DARTS step (unrolled alpha gradient), then the weight step.
    DartsSecondOrder,
    /// ProxylessNAS's architecture step (`two` mode, `full_v2` gate gradients, the alpha
    /// update) on a MobileNet supernet; the weights are not updated.
    Gated,
}

impl SupernetStepMode {
    /// The name `nasr bench supernet-step --mode` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::StrictFair => "fair",
            Self::Mixed => "mixed",
            Self::DartsFirstOrder => "darts1",
            Self::DartsSecondOrder => "darts2",
            Self::Gated => "gated",
        }
    }

    /// Every mode, in [`SupernetStepMode::name`] order.
    pub const ALL: [Self; 6] = [
        Self::Path,
        Self::StrictFair,
        Self::Mixed,
        Self::DartsFirstOrder,
        Self::DartsSecondOrder,
        Self::Gated,
    ];
}

/// Wall time of each timed step of the supernet of `bench`'s space in `mode` (the network's
/// `arch` is not used: paths are sampled, or all ops run). The path modes run on NB201's and
/// MobileNet's supernets, the mixed mode on NB201's and MobileNet's, the DARTS modes on NB201's,
/// the gated mode on MobileNet's; the OFA supernet runs the path mode (one uniformly sampled
/// sub-network through the elastic layers, a progressive-shrinking step of one sample).
pub fn time_supernet_steps(
    bench: &TrainStepBench,
    mode: SupernetStepMode,
    compute: nasr_nn::Compute,
) -> Result<StepTimes, NnError> {
    let device = compute.train_device();
    let path_mode = matches!(mode, SupernetStepMode::Path | SupernetStepMode::StrictFair);
    match bench.build_supernet(&device)? {
        BuiltSupernet::Nb201(model, space) if path_mode => {
            time_path_steps(model, &space, mode, bench, &device)
        }
        BuiltSupernet::MobileNet(model, space) if path_mode => {
            time_path_steps(model, &space, mode, bench, &device)
        }
        BuiltSupernet::Ofa(model, space) if mode == SupernetStepMode::Path => {
            time_path_steps(model, &space, mode, bench, &device)
        }
        BuiltSupernet::Ofa(..) => Err(NnError::Config {
            field: "mode",
            problem: format!(
                "{} does not run on the ofa supernet; it runs mode path",
                mode.name()
            ),
        }),
        BuiltSupernet::Nb201(_, _) if mode == SupernetStepMode::Gated => Err(NnError::Config {
            field: "mode",
            problem: "gated runs on the mobilenet supernet (ProxylessNAS's layers)".into(),
        }),
        BuiltSupernet::Nb201(model, _) => time_mixed_steps(model, mode, bench, &device),
        BuiltSupernet::MobileNet(model, space) if mode == SupernetStepMode::Mixed => {
            time_mobilenet_mixed_steps(model, &space, bench, &device)
        }
        BuiltSupernet::MobileNet(model, space) if mode == SupernetStepMode::Gated => {
            time_gated_steps(model, &space, bench, &device)
        }
        BuiltSupernet::MobileNet(..) => Err(NnError::Config {
            field: "mode",
            problem: format!(
                "{} runs on the nb201 supernet only; the mobilenet supernet runs modes path, \
                 fair, mixed and gated",
                mode.name()
            ),
        }),
    }
}

/// The path modes: one uniform path, or the m paths of a strictly fair draw, per step.
fn time_path_steps<S: PathSupernet>(
    model: S,
    space: &dyn Space,
    mode: SupernetStepMode,
    bench: &TrainStepBench,
    device: &Device,
) -> Result<StepTimes, NnError> {
    let (images, labels) = random_batch(bench, "train", device);
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let fair =
        match mode {
            SupernetStepMode::StrictFair => Some(StrictFairSampler::new(space).map_err(
                |error| NnError::Config {
                    field: "mode",
                    problem: error.to_string(),
                },
            )?),
            _ => None,
        };
    let mut paths = SeedStreams::new(0).stream("path");
    timed_steps(model, bench, device, |model, _| {
        let archs = match &fair {
            Some(sampler) => sampler.sample(&mut paths),
            None => vec![space.sample(&mut paths)],
        };
        summed_loss(
            &loss_fn,
            &labels,
            archs
                .iter()
                .map(|arch| model.forward_path(arch, images.clone())),
        )
    })
}

/// The NB201 supernet's mixed modes: DARTS' weight step, after its alpha step in the DARTS
/// modes.
fn time_mixed_steps(
    model: Nb201Supernet,
    mode: SupernetStepMode,
    bench: &TrainStepBench,
    device: &Device,
) -> Result<StepTimes, NnError> {
    use burn::tensor::activation::softmax;

    use crate::darts::{AlphaOptimizer, Alphas, Order, alpha_gradient};

    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let (images, labels) = random_batch(bench, "train", device);
    let (val_images, val_labels) = random_batch(bench, "valid", device);
    let mut alphas = Alphas::new(6, 5, &mut SeedStreams::new(0).stream("alpha-init"));
    let order = match mode {
        SupernetStepMode::DartsFirstOrder => Some(Order::First),
        SupernetStepMode::DartsSecondOrder => Some(Order::Second { xi: 0.01 }),
        _ => None,
    };
    timed_steps(model, bench, device, |model, _| {
        if let Some(order) = order {
            let train_loss = |m: &Nb201Supernet, a: Tensor<2>| {
                let logits = m.forward_mixed(&softmax(a, 1), 0.0, images.clone());
                loss_fn.forward(logits, labels.clone())
            };
            let val_loss = |m: &Nb201Supernet, a: Tensor<2>| {
                let logits = m.forward_mixed(&softmax(a, 1), 0.0, val_images.clone());
                loss_fn.forward(logits, val_labels.clone())
            };
            let gradient =
                alpha_gradient(model, &alphas.tensor(device), &train_loss, &val_loss, order);
            alphas.step(gradient.grad, &AlphaOptimizer::default());
        }
        let weights = softmax(alphas.tensor(device), 1);
        loss_fn.forward(
            model.forward_mixed(&weights, 0.0, images.clone()),
            labels.clone(),
        )
    })
}

/// The MobileNet supernet's mixed weight step: every block of every layer, weighted by the
/// softmax of fixed random alphas (what a DARTS-style search of the space would run).
fn time_mobilenet_mixed_steps(
    model: nasr_nn::nets::mobilenet::MobileNetSupernet,
    space: &nasr_space::MobileNetSpace,
    bench: &TrainStepBench,
    device: &Device,
) -> Result<StepTimes, NnError> {
    use nasr_nn::supernet::MixedSupernet;

    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let (images, labels) = random_batch(bench, "train", device);
    let columns = space
        .decisions()
        .iter()
        .map(|d| d.options.len())
        .max()
        .unwrap_or(1);
    let weights = burn::tensor::activation::softmax(
        crate::darts::Alphas::new(
            space.decisions().len(),
            columns,
            &mut SeedStreams::new(0).stream("alpha-init"),
        )
        .tensor(device),
        1,
    );
    timed_steps(model, bench, device, |model, _| {
        loss_fn.forward(
            model.forward_mixed(&weights, 0.0, images.clone()),
            labels.clone(),
        )
    })
}

/// ProxylessNAS's architecture steps on the MobileNet supernet, with their memory.
fn time_gated_steps(
    model: nasr_nn::nets::mobilenet::MobileNetSupernet,
    space: &nasr_space::MobileNetSpace,
    bench: &TrainStepBench,
    device: &Device,
) -> Result<StepTimes, NnError> {
    use crate::proxyless::{LayerAlphas, arch_step};

    let (images, labels) = random_batch(bench, "valid", device);
    let options: Vec<usize> = space.decisions().iter().map(|d| d.options.len()).collect();
    let mut alphas = LayerAlphas::new(&options, &mut SeedStreams::new(0).stream("alpha-init"));
    let adam = crate::proxyless::ProxylessConfig::default().alpha;
    let mut gates = SeedStreams::new(0).stream("gates");
    let (times, memory_growth_mib) = timed(bench, device, |_| {
        arch_step(
            &model,
            space,
            &mut alphas,
            None,
            &adam,
            images.clone(),
            labels.clone(),
            &mut gates,
        );
        Ok(())
    })?;
    Ok(StepTimes {
        times,
        memory_growth_mib,
        params: nasr_nn::params::parameter_count(&model),
    })
}

/// The sum of the cross-entropies of `logits`.
fn summed_loss(
    loss_fn: &CrossEntropyLoss,
    labels: &Tensor<1, Int>,
    logits: impl Iterator<Item = Tensor<2>>,
) -> Tensor<1> {
    logits
        .map(|logits| loss_fn.forward(logits, labels.clone()))
        .reduce(|sum, loss| sum + loss)
        .expect("a step runs at least one path")
}

/// Times `bench.steps` steps after `bench.warmup` untimed ones: each takes the loss of
/// `loss_of(model, step)`, its gradients, and an SGD update at lr 0.01.
fn timed_steps<M: Module>(
    model: M,
    bench: &TrainStepBench,
    device: &Device,
    mut loss_of: impl FnMut(&M, usize) -> Tensor<1>,
) -> Result<StepTimes, NnError> {
    let mut sgd = Sgd::new(SgdConfig::default());
    let mut current = Some(model);
    let (times, memory_growth_mib) = timed(bench, device, |step| {
        let model = current.take().expect("put back every step");
        let loss = loss_of(&model, step);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        // The grad-norm read in `step` waits for the backward pass; on the eager CPU backend
        // the update is done when it returns, and `wait_for` covers queued GPU work.
        current = Some(sgd.step(model, grads, 0.01).0);
        Ok(())
    })?;
    let model = current.expect("put back every step");
    Ok(StepTimes {
        times,
        memory_growth_mib,
        params: nasr_nn::params::parameter_count(&model),
    })
}

/// Runs `step(i)` for `bench.warmup` untimed steps, then `bench.steps` timed ones, each
/// waiting for `device`; returns the timed steps' wall times and the memory they all added.
fn timed(
    bench: &TrainStepBench,
    device: &Device,
    mut step: impl FnMut(usize) -> Result<(), NnError>,
) -> Result<(Vec<std::time::Duration>, Option<f64>), NnError> {
    let mut times = Vec::with_capacity(bench.steps);
    let memory = MemoryWatch::start();
    for i in 0..bench.warmup + bench.steps {
        let started = Instant::now();
        step(i)?;
        wait_for(device)?;
        if i >= bench.warmup {
            times.push(started.elapsed());
        }
    }
    Ok((times, memory.growth_mib()))
}
