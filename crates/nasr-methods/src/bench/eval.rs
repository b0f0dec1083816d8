//! Timed evaluation-mode forwards: inference on a random batch, and the evaluation pass over a
//! dataset that a test set, BatchNorm recalibration or supernet scoring runs.

use std::time::Instant;

use burn::module::Module;
use nasr_data::{Dataset, Normalization};

use nasr_nn::NnError;
use nasr_nn::eval::evaluate;
use nasr_nn::train::Classifier;

use super::memory::MemoryWatch;
use super::{BuiltNetwork, StepTimes, TrainStepBench, random_batch, wait_for};

/// Wall time of each timed inference (forward only, evaluation mode, no autodiff) of
/// `bench`'s network on a random batch of `bench.batch_size`.
pub fn time_inference(
    bench: &TrainStepBench,
    compute: nasr_nn::Compute,
) -> Result<StepTimes, NnError> {
    let device = compute.eval_device();
    let (images, _) = random_batch(bench, "infer", &device);
    match bench.build_network(&device)? {
        BuiltNetwork::Nb201(model) => timed_passes(&model, bench, &device, |m| {
            let _ = m.forward(images.clone()).into_data();
        }),
        BuiltNetwork::MobileNet(model) => timed_passes(&model, bench, &device, |m| {
            let _ = m.forward(images.clone()).into_data();
        }),
        BuiltNetwork::Ofa(model) => timed_passes(&model, bench, &device, |m| {
            let _ = m.forward(images.clone()).into_data();
        }),
    }
}

/// What a timed evaluation pass found: its times, and the accuracy of the (untrained) network,
/// which shows the pass saw every example.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationTimes {
    /// Wall time of each timed pass over the whole dataset.
    pub passes: StepTimes,
    /// Accuracy of the last pass.
    pub accuracy: f64,
}

/// Wall time of each timed evaluation pass of `bench`'s network over `dataset`, in batches of
/// `bench.batch_size`: what `nasr train` does with the test set ([`nasr_nn::eval::evaluate`]:
/// batching and normalising the images included). A network of another input shape than the
/// data's is refused.
pub fn time_evaluation(
    bench: &TrainStepBench,
    dataset: &Dataset,
    normalization: &Normalization,
    compute: nasr_nn::Compute,
) -> Result<EvaluationTimes, NnError> {
    let shape = dataset.shape;
    if [shape.channels, shape.height, shape.width]
        != [bench.in_channels, bench.resolution, bench.resolution]
    {
        return Err(NnError::Config {
            field: "bench",
            problem: format!(
                "the network takes {}x{}x{} images; {} has {}x{}x{}",
                bench.in_channels,
                bench.resolution,
                bench.resolution,
                dataset.name,
                shape.channels,
                shape.height,
                shape.width
            ),
        });
    }
    let device = compute.eval_device();
    let mut accuracy = 0.0;
    let size = bench.batch_size;
    let passes = match bench.build_network(&device)? {
        BuiltNetwork::Nb201(model) => timed_passes(&model, bench, &device, |m| {
            accuracy = evaluate(m, dataset, normalization, size, &device)
        }),
        BuiltNetwork::MobileNet(model) => timed_passes(&model, bench, &device, |m| {
            accuracy = evaluate(m, dataset, normalization, size, &device)
        }),
        BuiltNetwork::Ofa(model) => timed_passes(&model, bench, &device, |m| {
            accuracy = evaluate(m, dataset, normalization, size, &device)
        }),
    }?;
    Ok(EvaluationTimes { passes, accuracy })
}

/// Times `bench.steps` runs of `pass` after `bench.warmup` untimed ones.
fn timed_passes<M: Module>(
    model: &M,
    bench: &TrainStepBench,
    device: &burn::tensor::Device,
    mut pass: impl FnMut(&M),
) -> Result<StepTimes, NnError> {
    let mut times = Vec::with_capacity(bench.steps);
    let memory = MemoryWatch::start();
    for step in 0..bench.warmup + bench.steps {
        let started = Instant::now();
        pass(model);
        wait_for(device)?;
        if step >= bench.warmup {
            times.push(started.elapsed());
        }
    }
    Ok(StepTimes {
        times,
        memory_growth_mib: memory.growth_mib(),
        params: nasr_nn::params::parameter_count(model),
    })
}
