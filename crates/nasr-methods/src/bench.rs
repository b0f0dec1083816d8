//! Timing of one training step (forward, backward, SGD update) of the NB201 network on random
//! data: the number `nasr bench train-step` reports and `bench/torch_train_step.py` matches in
//! PyTorch. Measurement only; no test depends on the times.

use std::time::{Duration, Instant};

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use nasr_space::{Nb201Space, SeedStreams, Space};
use rand::Rng;
use serde::{Deserialize, Serialize};

use nasr_nn::NnError;
use nasr_nn::nets::nb201::Nb201NetworkConfig;
use nasr_nn::train::optim::{Sgd, SgdConfig};

/// What to time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainStepBench {
    /// Architecture (canonical NB201 string).
    pub arch: String,
    /// Channels of the first stage (C).
    pub channels: usize,
    /// Cells per stage (N).
    pub cells: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Input height and width.
    pub resolution: usize,
    /// Classes.
    pub classes: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
}

impl Default for TrainStepBench {
    fn default() -> Self {
        Self {
            arch: "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
                .into(),
            channels: 16,
            cells: 5,
            batch_size: 64,
            in_channels: 3,
            resolution: 32,
            classes: 10,
            warmup: 3,
            steps: 20,
        }
    }
}

impl TrainStepBench {
    /// The NB201 network sizes of this benchmark.
    fn network(&self) -> Nb201NetworkConfig {
        Nb201NetworkConfig {
            channels: self.channels,
            cells: self.cells,
            in_channels: self.in_channels,
            classes: self.classes,
        }
    }
}

/// Wall time of each timed step, on `compute`.
pub fn time_train_steps(
    bench: &TrainStepBench,
    compute: nasr_nn::Compute,
) -> Result<Vec<Duration>, NnError> {
    let arch = Nb201Space::new().parse(&bench.arch)?;
    let network = bench.network();
    let device = compute.train_device();
    let streams = SeedStreams::new(0);
    let mut model =
        nasr_nn::init::seeded(&mut streams.stream("init"), || network.init(&arch, &device))?;
    let mut sgd = Sgd::new(SgdConfig::default());
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let (images, labels) = random_batch(bench, &streams, "train", &device);
    let mut times = Vec::with_capacity(bench.steps);
    for step in 0..bench.warmup + bench.steps {
        let started = Instant::now();
        let loss = loss_fn.forward(model.forward(images.clone()), labels.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = sgd.step(model, grads, 0.01).0;
        // The grad-norm read in `step` already waits for the backward pass; reading one
        // weight waits for the update too.
        let _ = model.classifier.weight.val().into_data();
        wait_for(&device)?;
        if step >= bench.warmup {
            times.push(started.elapsed());
        }
    }
    Ok(times)
}

/// The median of `times` (the mean of the middle two for an even count).
pub fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

/// How a supernet step runs, for [`time_supernet_steps`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupernetStepMode {
    /// One uniformly sampled path: forward, backward, SGD update (RSWS, SPOS).
    Path,
    /// The mixed op on every edge: forward, backward, SGD update (DARTS' weight step).
    Mixed,
    /// A whole first-order DARTS step: the alpha step on a second batch, then the weight step.
    DartsFirstOrder,
    /// A whole second-order DARTS step (unrolled alpha gradient), then the weight step.
    DartsSecondOrder,
}

/// Wall time of each timed step of the NB201 supernet in `mode`, with `bench`'s sizes (its
/// `arch` is not used: paths are sampled, or all ops run).
pub fn time_supernet_steps(
    bench: &TrainStepBench,
    mode: SupernetStepMode,
    compute: nasr_nn::Compute,
) -> Result<Vec<Duration>, NnError> {
    use burn::tensor::activation::softmax;

    use crate::darts::{Alphas, Order, alpha_gradient};
    use nasr_nn::nets::nb201::Nb201Supernet;

    let network = bench.network();
    let device = compute.train_device();
    let streams = SeedStreams::new(0);
    let mut model = nasr_nn::init::seeded(&mut streams.stream("init"), || {
        Nb201Supernet::new(&network, &device)
    })?;
    let space = Nb201Space::new();
    let mut alphas = Alphas::new(6, 5, &mut streams.stream("alpha-init"));
    let mut sgd = Sgd::new(SgdConfig::default());
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let (images, labels) = random_batch(bench, &streams, "train", &device);
    let (val_images, val_labels) = random_batch(bench, &streams, "valid", &device);
    let mut path_rng = streams.stream("path");
    let mut times = Vec::with_capacity(bench.steps);
    for step in 0..bench.warmup + bench.steps {
        let started = Instant::now();
        let order = match mode {
            SupernetStepMode::DartsFirstOrder => Some(Order::First),
            SupernetStepMode::DartsSecondOrder => Some(Order::Second { xi: 0.01 }),
            _ => None,
        };
        if let Some(order) = order {
            let train_loss = |m: &Nb201Supernet, a: Tensor<2>| {
                let logits = m.forward_mixed(&softmax(a, 1), 0.0, images.clone());
                loss_fn.forward(logits, labels.clone())
            };
            let val_loss = |m: &Nb201Supernet, a: Tensor<2>| {
                let logits = m.forward_mixed(&softmax(a, 1), 0.0, val_images.clone());
                loss_fn.forward(logits, val_labels.clone())
            };
            let gradient = alpha_gradient(
                &model,
                &alphas.tensor(&device),
                &train_loss,
                &val_loss,
                order,
            );
            alphas.step(gradient.grad, &crate::darts::AlphaOptimizer::default());
        }
        let logits = match mode {
            SupernetStepMode::Path => {
                model.forward_path(&space.sample(&mut path_rng), images.clone())
            }
            _ => model.forward_mixed(&softmax(alphas.tensor(&device), 1), 0.0, images.clone()),
        };
        let loss = loss_fn.forward(logits, labels.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = sgd.step(model, grads, 0.01).0;
        let _ = model.classifier.weight.val().into_data();
        wait_for(&device)?;
        if step >= bench.warmup {
            times.push(started.elapsed());
        }
    }
    Ok(times)
}

/// Normal images and uniform labels from stream `name`.
fn random_batch(
    bench: &TrainStepBench,
    streams: &SeedStreams,
    name: &str,
    device: &burn::tensor::Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let mut rng = streams.stream(name);
    let shape = [
        bench.batch_size,
        bench.in_channels,
        bench.resolution,
        bench.resolution,
    ];
    let pixels: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let labels: Vec<i64> = (0..bench.batch_size)
        .map(|_| rng.random_range(0..bench.classes as i64))
        .collect();
    (
        Tensor::<4>::from_data(TensorData::new(pixels, shape), device),
        Tensor::<1, Int>::from_data(TensorData::new(labels, [bench.batch_size]), device),
    )
}

/// The ops [`time_op`] can time, each at `[batch, channels, size, size]`, forward and backward.
pub const BENCH_OPS: [&str; 7] = [
    "conv3x3",
    "conv1x1",
    "depthwise3x3",
    "batchnorm",
    "relu",
    "avg_pool3x3",
    "add",
];

/// Blocks until `device` has finished all queued work, so a timed step ends when its work does:
/// GPU backends run asynchronously; on the eager CPU backend this returns at once.
fn wait_for(device: &Device) -> Result<(), NnError> {
    device.sync().map_err(|error| NnError::Device {
        problem: format!("{error:?}"),
    })
}

/// Median wall time of forward + backward of one op (see [`BENCH_OPS`]) on random input of
/// `[batch, channels, size, size]`, over `steps` timed runs after `warmup` untimed ones: where a
/// training step's time goes, op by op.
pub fn time_op(
    op: &str,
    [batch, channels, size]: [usize; 3],
    warmup: usize,
    steps: usize,
    compute: nasr_nn::Compute,
) -> Result<Duration, NnError> {
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::{BatchNormConfig, PaddingConfig2d};

    let device = compute.train_device();
    let conv = |kernel: usize, groups: usize| -> nasr_kernels::Conv2d {
        Conv2dConfig::new([channels, channels], [kernel, kernel])
            .with_padding(PaddingConfig2d::Explicit(
                kernel / 2,
                kernel / 2,
                kernel / 2,
                kernel / 2,
            ))
            .with_groups(groups)
            .with_bias(false)
            .init(&device)
            .into()
    };
    let forward: Box<dyn Fn(Tensor<4>) -> Tensor<4>> = match op {
        "conv3x3" => {
            let c = conv(3, 1);
            Box::new(move |x| c.forward(x))
        }
        "conv1x1" => {
            let c = conv(1, 1);
            Box::new(move |x| c.forward(x))
        }
        "depthwise3x3" => {
            let c = conv(3, channels);
            Box::new(move |x| c.forward(x))
        }
        "batchnorm" => {
            let bn = nasr_kernels::BatchNorm::from(BatchNormConfig::new(channels).init(&device));
            Box::new(move |x| bn.forward(x))
        }
        "relu" => Box::new(burn::tensor::activation::relu),
        "avg_pool3x3" => {
            let pool = nasr_nn::ops::avg_pool_3x3();
            Box::new(move |x| pool.forward(x))
        }
        "add" => Box::new(|x: Tensor<4>| x.clone() + x),
        other => {
            return Err(NnError::Config {
                field: "op",
                problem: format!("unknown op {other:?}; known: {BENCH_OPS:?}"),
            });
        }
    };
    let mut rng = SeedStreams::new(0).stream("op");
    let shape = [batch, channels, size, size];
    let pixels: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let input = Tensor::<4>::from_data(TensorData::new(pixels, shape), &device);
    let mut times = Vec::with_capacity(steps);
    for step in 0..warmup + steps.max(1) {
        let x = input.clone().detach().require_grad();
        let started = Instant::now();
        // flex runs eagerly: when backward returns, the gradients are computed.
        let grads = forward(x.clone()).sum().backward();
        let _ = x.grad(&grads);
        wait_for(&device)?;
        if step >= warmup {
            times.push(started.elapsed());
        }
    }
    Ok(median(&times))
}

/// Wall time of each timed inference (forward only, evaluation mode, no autodiff) of the NB201
/// network of `bench` on a random batch of `bench.batch_size`.
pub fn time_inference(
    bench: &TrainStepBench,
    compute: nasr_nn::Compute,
) -> Result<Vec<Duration>, NnError> {
    let arch = Nb201Space::new().parse(&bench.arch)?;
    let network = bench.network();
    let device = compute.eval_device();
    let streams = SeedStreams::new(0);
    let model =
        nasr_nn::init::seeded(&mut streams.stream("init"), || network.init(&arch, &device))?;
    let (images, _) = random_batch(bench, &streams, "infer", &device);
    let mut times = Vec::with_capacity(bench.steps);
    for step in 0..bench.warmup + bench.steps {
        let started = Instant::now();
        let _ = model.forward(images.clone()).into_data();
        wait_for(&device)?;
        if step >= bench.warmup {
            times.push(started.elapsed());
        }
    }
    Ok(times)
}
