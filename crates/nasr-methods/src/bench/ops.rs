//! Forward + backward of single ops on random input: where a training step's time goes.

use std::time::{Duration, Instant};

use burn::tensor::{Tensor, TensorData};
use nasr_space::SeedStreams;
use rand::Rng;

use nasr_nn::NnError;

use super::{median, wait_for};

/// The ops [`time_op`] can time, each at `[batch, channels, size, size]`, forward and backward:
/// NB201's (3x3 and 1x1 convolutions, BatchNorm, ReLU, pooling, adds) and MBConv's (depthwise
/// 3x3/5x5/7x7 at stride 1, 3x3 at stride 2, BatchNorm with ReLU6).
pub const BENCH_OPS: [&str; 11] = [
    "conv3x3",
    "conv1x1",
    "depthwise3x3",
    "depthwise5x5",
    "depthwise7x7",
    "depthwise3x3s2",
    "batchnorm",
    "relu",
    "batchnorm_relu6",
    "avg_pool3x3",
    "add",
];

/// A bias-free `kernel`x`kernel` convolution of `channels` to `channels` with "same" padding.
fn conv(
    channels: usize,
    kernel: usize,
    groups: usize,
    stride: usize,
    device: &burn::tensor::Device,
) -> nasr_kernels::Conv2d {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;

    let pad = kernel / 2;
    Conv2dConfig::new([channels, channels], [kernel, kernel])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_bias(false)
        .init(device)
        .into()
}

/// The forward of `op` at `channels`.
fn op_forward(
    op: &str,
    channels: usize,
    device: &burn::tensor::Device,
) -> Result<Box<dyn Fn(Tensor<4>) -> Tensor<4>>, NnError> {
    let conv_op = |kernel, groups, stride| -> Box<dyn Fn(Tensor<4>) -> Tensor<4>> {
        let c = conv(channels, kernel, groups, stride, device);
        Box::new(move |x| c.forward(x))
    };
    Ok(match op {
        "conv3x3" => conv_op(3, 1, 1),
        "conv1x1" => conv_op(1, 1, 1),
        "depthwise3x3" => conv_op(3, channels, 1),
        "depthwise5x5" => conv_op(5, channels, 1),
        "depthwise7x7" => conv_op(7, channels, 1),
        "depthwise3x3s2" => conv_op(3, channels, 2),
        "batchnorm" => {
            let bn = nasr_kernels::BatchNorm::from(
                burn::nn::BatchNormConfig::new(channels).init(device),
            );
            Box::new(move |x| bn.forward(x))
        }
        "relu" => Box::new(burn::tensor::activation::relu),
        "batchnorm_relu6" => {
            let bn = nasr_kernels::BatchNorm::from(
                burn::nn::BatchNormConfig::new(channels).init(device),
            );
            Box::new(move |x| bn.forward_clamped(x, Some(nasr_kernels::Clamp::RELU6)))
        }
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
    })
}

/// Median wall time of forward + backward of one op (see [`BENCH_OPS`]) on random input of
/// `[batch, channels, size, size]`, over `steps` timed runs after `warmup` untimed ones.
pub fn time_op(
    op: &str,
    [batch, channels, size]: [usize; 3],
    warmup: usize,
    steps: usize,
    compute: nasr_nn::Compute,
) -> Result<Duration, NnError> {
    let device = compute.train_device();
    let forward = op_forward(op, channels, &device)?;
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
