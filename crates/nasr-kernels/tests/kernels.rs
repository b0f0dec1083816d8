//! nasr's kernels against burn's own modules on the same parameters and input: same outputs
//! and same gradients to float tolerance, on the autodiff and the plain CPU device.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

fn assert_close<const D: usize>(what: &str, expected: Tensor<D>, got: Tensor<D>) {
    let (e, g) = (
        expected.into_data().try_to_vec::<f32>().unwrap(),
        got.into_data().try_to_vec::<f32>().unwrap(),
    );
    assert_eq!(e.len(), g.len(), "{what}: lengths");
    let scale = e.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let worst = e
        .iter()
        .zip(&g)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-4 * scale,
        "{what}: largest difference {worst} (scale {scale})"
    );
}

fn input(shape: [usize; 4], device: &Device) -> Tensor<4> {
    uniform(shape, 1, device)
}

/// A `[shape]` tensor of values uniform in [-1, 1), the same for the same `seed`.
fn uniform(shape: [usize; 4], seed: u64, device: &Device) -> Tensor<4> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(seed);
    let values: Vec<f32> = (0..shape.iter().product())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    Tensor::from_data(burn::tensor::TensorData::new(values, shape), device)
}

/// Forward, input gradient and weight gradient of `conv` on `x`, both ways.
fn check_conv(what: &str, conv: Conv2d, x: Tensor<4>) {
    let probe = uniform(conv.forward(x.clone()).dims(), 2, &x.device());
    let run = |ours: bool| {
        let x = x.clone().detach().require_grad();
        let y = if ours {
            nasr_kernels::Conv2d::from(conv.clone()).forward(x.clone())
        } else {
            conv.forward(x.clone())
        };
        let grads = (y.clone() * probe.clone()).sum().backward();
        let dw = conv.weight.val().grad(&grads).expect("weight gradient");
        (y, x.grad(&grads).expect("input gradient"), dw)
    };
    let ((y0, dx0, dw0), (y1, dx1, dw1)) = (run(false), run(true));
    assert_close(&format!("{what} output"), y0.inner(), y1.inner());
    assert_close(&format!("{what} input gradient"), dx0, dx1);
    assert_close(&format!("{what} weight gradient"), dw0, dw1);
}

fn conv(c_in: usize, c_out: usize, kernel: usize) -> Conv2dConfig {
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_padding(PaddingConfig2d::Explicit(
            kernel / 2,
            kernel / 2,
            kernel / 2,
            kernel / 2,
        ))
        .with_bias(false)
}

#[test]
fn convolutions_match_burns_forward_and_gradients() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let x = input([5, 6, 9, 8], &device);
    let cases: Vec<(&str, Conv2d)> = vec![
        ("3x3", conv(6, 8, 3).init(&device)),
        ("1x1", conv(6, 4, 1).init(&device)),
        (
            "3x3 stride 2 with bias",
            conv(6, 8, 3)
                .with_stride([2, 2])
                .with_bias(true)
                .init(&device),
        ),
        (
            "dilated 5x5",
            conv(6, 6, 5)
                .with_dilation([2, 2])
                .with_padding(PaddingConfig2d::Explicit(4, 4, 4, 4))
                .init(&device),
        ),
        ("depthwise 3x3", conv(6, 6, 3).with_groups(6).init(&device)),
        (
            "depthwise 5x5 stride 2",
            conv(6, 6, 5)
                .with_groups(6)
                .with_stride([2, 2])
                .init(&device),
        ),
        ("grouped", conv(6, 4, 3).with_groups(2).init(&device)),
        (
            "same padding, even kernel",
            conv(6, 4, 2)
                .with_padding(PaddingConfig2d::Same)
                .init(&device),
        ),
        (
            "valid",
            conv(6, 4, 3)
                .with_padding(PaddingConfig2d::Valid)
                .init(&device),
        ),
    ];
    for (what, conv) in cases {
        check_conv(what, conv, x.clone());
    }
}

#[test]
fn a_convolution_without_autodiff_matches_burns() {
    let device = Device::flex();
    device.seed(4);
    let conv = conv(3, 5, 3).init(&device);
    let x = input([2, 3, 7, 7], &device);
    assert_close(
        "plain output",
        conv.forward(x.clone()),
        nasr_kernels::Conv2d::from(conv.clone()).forward(x),
    );
}

fn running_stats(bn: &BatchNorm) -> (Tensor<1>, Tensor<1>) {
    (bn.running_mean.value(), bn.running_var.value())
}

#[test]
fn batch_norm_matches_burns_output_gradients_and_running_statistics() {
    let device = Device::flex().autodiff();
    device.seed(5);
    let x = input([6, 4, 5, 7], &device).mul_scalar(3.0).add_scalar(1.5);
    let make = || {
        let bn: BatchNorm = BatchNormConfig::new(4).init(&device);
        // Gamma and beta away from 1 and 0, so their role shows in the gradients.
        let gamma = Tensor::<1>::from_floats([0.5, 1.5, -1.0, 2.0], &device);
        let beta = Tensor::<1>::from_floats([0.1, -0.2, 0.3, 0.0], &device);
        BatchNorm {
            gamma: bn.gamma.map(|_| gamma.clone().require_grad()),
            beta: bn.beta.map(|_| beta.clone().require_grad()),
            ..bn
        }
    };
    let probe = input([6, 4, 5, 7], &device);
    let run = |ours: bool| {
        let bn = make();
        let x = x.clone().detach().require_grad();
        // Two steps, so the running statistics are updated from a non-initial value.
        let _ = if ours {
            nasr_kernels::BatchNorm::from(bn.clone()).forward(x.clone())
        } else {
            bn.forward(x.clone())
        };
        let y = if ours {
            nasr_kernels::BatchNorm::from(bn.clone()).forward(x.clone())
        } else {
            bn.forward(x.clone())
        };
        let grads = (y.clone() * probe.clone()).sum().backward();
        let dgamma = bn.gamma.val().grad(&grads).expect("gamma gradient");
        let dbeta = bn.beta.val().grad(&grads).expect("beta gradient");
        let eval = bn.clone().valid();
        // Evaluation mode on the plain device: the running statistics normalise.
        let evaluated = if ours {
            nasr_kernels::BatchNorm::from(eval.clone()).forward(x.clone().inner())
        } else {
            eval.forward(x.clone().inner())
        };
        (
            y.inner(),
            x.grad(&grads).expect("input gradient"),
            dgamma,
            dbeta,
            running_stats(&bn),
            evaluated,
        )
    };
    let (burn, ours) = (run(false), run(true));
    assert_close("output", burn.0, ours.0);
    assert_close("input gradient", burn.1, ours.1);
    assert_close("gamma gradient", burn.2, ours.2);
    assert_close("beta gradient", burn.3, ours.3);
    assert_close("running mean", burn.4.0, ours.4.0);
    assert_close("running variance", burn.4.1, ours.4.1);
    assert_close("evaluation output", burn.5, ours.5);
}

/// BatchNorm with its ReLU6 fused (one pass, the clamp's gradient in BatchNorm's backward)
/// against burn's BatchNorm followed by burn's clamp.
#[test]
fn batch_norm_with_a_fused_relu6_matches_burns_batch_norm_then_clamp() {
    use nasr_kernels::Clamp;

    let device = Device::flex().autodiff();
    device.seed(6);
    let x = input([6, 4, 5, 7], &device).mul_scalar(3.0).add_scalar(1.5);
    let probe = input([6, 4, 5, 7], &device);
    // Scales up to 4, so that outputs are clipped at both 0 and 6.
    let gamma = Tensor::<1>::from_floats([0.5, 4.0, -1.0, 3.0], &device);
    let beta = Tensor::<1>::from_floats([0.1, 2.0, 0.3, -0.5], &device);
    let run = |ours: bool| {
        let bn: BatchNorm = BatchNormConfig::new(4).init(&device);
        let bn = BatchNorm {
            gamma: bn.gamma.map(|_| gamma.clone().require_grad()),
            beta: bn.beta.map(|_| beta.clone().require_grad()),
            ..bn
        };
        let x = x.clone().detach().require_grad();
        let forward = |bn: &BatchNorm, x: Tensor<4>| {
            if ours {
                nasr_kernels::BatchNorm::from(bn.clone()).forward_clamped(x, Some(Clamp::RELU6))
            } else {
                bn.forward(x).clamp(0.0, 6.0)
            }
        };
        let y = forward(&bn, x.clone());
        let grads = (y.clone() * probe.clone()).sum().backward();
        let evaluated = forward(&bn.clone().valid(), x.clone().inner());
        (
            y.inner(),
            x.grad(&grads).expect("input gradient"),
            bn.gamma.val().grad(&grads).expect("gamma gradient"),
            bn.beta.val().grad(&grads).expect("beta gradient"),
            evaluated,
        )
    };
    let (burn, ours) = (run(false), run(true));
    let clipped = burn
        .0
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
        .iter()
        .fold([0, 0], |[low, high], &v| {
            [low + (v == 0.0) as usize, high + (v == 6.0) as usize]
        });
    assert!(
        clipped[0] > 0 && clipped[1] > 0,
        "clipped at 0 and 6: {clipped:?}"
    );
    assert_close("output", burn.0, ours.0);
    assert_close("input gradient", burn.1, ours.1);
    assert_close("gamma gradient", burn.2, ours.2);
    assert_close("beta gradient", burn.3, ours.3);
    assert_close("evaluation output", burn.4, ours.4);
}

#[test]
fn average_pools_match_burns_output_and_gradient() {
    use burn::nn::pool::AvgPool2dConfig;
    let device = Device::flex().autodiff();
    device.seed(6);
    let x = input([3, 4, 9, 8], &device);
    let pools = [
        (
            "3x3 stride 1, padding not counted",
            AvgPool2dConfig::new([3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_count_include_pad(false),
        ),
        (
            "3x3 stride 2, padding counted",
            AvgPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
        ),
        (
            "3x3 stride 2, padding not counted",
            AvgPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_count_include_pad(false),
        ),
        (
            "2x2 stride 2",
            AvgPool2dConfig::new([2, 2]).with_strides([2, 2]),
        ),
    ];
    for (what, config) in pools {
        let pool = config.init();
        let probe = input(pool.forward(x.clone()).dims(), &device);
        let run = |ours: bool| {
            let x = x.clone().detach().require_grad();
            let y = if ours {
                nasr_kernels::AvgPool2d::from(pool.clone()).forward(x.clone())
            } else {
                pool.forward(x.clone())
            };
            let grads = (y.clone() * probe.clone()).sum().backward();
            (y.inner(), x.grad(&grads).expect("input gradient"))
        };
        let (burn, ours) = (run(false), run(true));
        assert_close(&format!("{what} output"), burn.0, ours.0);
        assert_close(&format!("{what} input gradient"), burn.1, ours.1);
    }
}

/// In evaluation, BatchNorm (and a clamp) folded into the preceding convolution gives what the
/// convolution, then BatchNorm with its running statistics, then the clamp give: for the
/// depthwise, im2col (1x1, strided 3x3 with a bias) and Winograd (3x3 stride 1) routes.
#[test]
fn batch_norm_folded_into_a_convolution_matches_the_unfolded_layers() {
    use nasr_kernels::{Clamp, conv_batch_norm};

    let device = Device::flex();
    device.seed(7);
    let depthwise = conv(16, 16, 5).with_groups(16);
    let strided = conv(16, 8, 3).with_stride([2, 2]).with_bias(true);
    for (what, config) in [
        ("depthwise 5x5", depthwise),
        ("pointwise", conv(16, 24, 1)),
        ("strided 3x3 with bias", strided),
        ("3x3", conv(16, 16, 3)),
    ] {
        let conv = nasr_kernels::Conv2d::from(config.init(&device));
        let [c_out, _, _, _] = conv.weight.dims();
        let bn: BatchNorm = BatchNormConfig::new(c_out).init(&device);
        // Running statistics and affine parameters away from their initial values.
        let per_channel = |seed: u64, scale: f32, offset: f32| {
            uniform([1, 1, 1, c_out], seed, &device)
                .reshape([c_out])
                .mul_scalar(scale)
                .add_scalar(offset)
        };
        let bn = nasr_kernels::BatchNorm::from(BatchNorm {
            gamma: bn.gamma.map(|_| per_channel(11, 2.0, 0.5)),
            beta: bn.beta.map(|_| per_channel(12, 1.0, 1.0)),
            running_mean: burn::module::RunningState::new(per_channel(13, 0.5, 0.0)),
            running_var: burn::module::RunningState::new(per_channel(14, 0.4, 0.6)),
            ..bn
        });
        let x = input([3, 16, 9, 9], &device).mul_scalar(2.0);
        for clamp in [None, Some(Clamp::RELU6)] {
            let unfolded = bn.forward_clamped(conv.forward(x.clone()), clamp);
            let folded = conv_batch_norm(&conv, &bn, x.clone(), clamp);
            assert_close(&format!("{what}, clamp {clamp:?}"), unfolded, folded);
        }
    }
}
