//! nasr's own compute kernels, behind burn's backend-extension mechanism: the same `Tensor` API,
//! faster code underneath on the CPU. This is the only nasr crate with `unsafe` code (SIMD
//! intrinsics and uninitialised buffers); every other crate forbids it.
//!
//! [`conv2d`], [`batch_norm`](fn@batch_norm) and [`avg_pool2d`] replace the `forward` of
//! burn's `Conv2d`, `BatchNorm` and `AvgPool2d` everywhere in nasr. On the `flex` CPU backend
//! (with or without autodiff) they run [`conv`]'s im2col + gemm and depthwise kernels,
//! [`batch_norm`](mod@batch_norm)'s two-pass kernels and [`pool`]'s, forward and backward.
//! burn's generic versions build a convolution's input gradient from a transposed convolution
//! and its weight gradient from a convolution over the batch axis, and BatchNorm from a dozen
//! tensor ops; they were 2 to 10 times slower than PyTorch (`nasr bench ops`). On other
//! backends (a GPU) burn's own ops run. [`route`] says which instruction-set route they take,
//! and `NASR_KERNELS` forces one.

#![deny(missing_docs)]

pub mod backend;
pub mod batch_norm;
mod buffers;
pub mod conv;
pub mod pool;
pub mod route;

use burn::backend::Dispatch;
use burn::nn::conv::Conv2d;
use burn::nn::pool::AvgPool2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use backend::NasrKernels;

/// Whether `x` lives on the flex CPU backend, where nasr's kernels run; elsewhere (a GPU) burn's
/// own ops do.
fn on_flex(x: &Tensor<4>) -> bool {
    x.device().inner() == Device::flex()
}

/// `conv.forward(x)`, computed by nasr's kernels: same parameters, same result to float
/// rounding.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    if !on_flex(&x) {
        return conv.forward(x);
    }
    let [_, channels, height, width] = x.dims();
    let [_, per_group, _, _] = conv.weight.dims();
    assert_eq!(
        channels,
        per_group * conv.groups,
        "a convolution of {} input channels given an input of shape {:?}",
        per_group * conv.groups,
        x.dims()
    );
    let options = ConvOptions::new_with_padding(
        conv.stride,
        padding_pairs(
            &conv.padding,
            [height, width],
            conv.kernel_size,
            conv.stride,
        ),
        conv.dilation,
        conv.groups,
    );
    let weight = conv.weight.val().into_dispatch();
    let y = Tensor::<4>::from_dispatch(<Dispatch as NasrKernels>::nasr_conv2d(
        x.into_dispatch(),
        weight,
        options,
    ));
    match &conv.bias {
        Some(bias) => y + bias.val().reshape([1, -1, 1, 1]),
        None => y,
    }
}

/// `bn.forward(x)` for `[batch, channels, h, w]`, computed by nasr's kernels: batch statistics
/// (and a running-statistics update) on an autodiff device with training enabled, the running
/// statistics otherwise, exactly as burn's `BatchNorm` decides.
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let [channels] = bn.gamma.dims();
    assert_eq!(
        x.dims()[1],
        channels,
        "BatchNorm of {channels} channels given an input of shape {:?}",
        x.dims()
    );
    let device = x.device();
    if !on_flex(&x) {
        return bn.forward(x);
    }
    if !(device.is_autodiff() && bn.training.is_enabled()) {
        let statistic = |running: Tensor<1>| running.to_device(&device).into_dispatch();
        return Tensor::from_dispatch(<Dispatch as NasrKernels>::nasr_batch_norm_eval(
            x.into_dispatch(),
            bn.gamma.val().into_dispatch(),
            bn.beta.val().into_dispatch(),
            statistic(bn.running_mean.value()),
            statistic(bn.running_var.value()),
            bn.epsilon,
        ));
    }
    let (y, mean, variance) = <Dispatch as NasrKernels>::nasr_batch_norm_train(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        bn.epsilon,
    );
    let update = |running: Tensor<1>, batch| {
        let batch = Tensor::<1>::from_dispatch(batch).detach();
        running
            .to_device(&device)
            .mul_scalar(1.0 - bn.momentum)
            .add(batch.mul_scalar(bn.momentum))
            .detach()
    };
    bn.running_mean
        .update(update(bn.running_mean.value_sync(), mean));
    bn.running_var
        .update(update(bn.running_var.value_sync(), variance));
    Tensor::from_dispatch(y)
}

/// `pool.forward(x)`, computed by nasr's kernels where the pool rounds its output size down
/// and pads both sides of an axis alike (every pool in nasr's spaces); by burn otherwise.
pub fn avg_pool2d(pool: &AvgPool2d, x: Tensor<4>) -> Tensor<4> {
    let [_, _, height, width] = x.dims();
    let [(top, bottom), (left, right)] = padding_pairs(
        &pool.padding,
        [height, width],
        pool.kernel_size,
        pool.stride,
    );
    if pool.ceil_mode || top != bottom || left != right || !on_flex(&x) {
        return pool.forward(x);
    }
    Tensor::from_dispatch(<Dispatch as NasrKernels>::nasr_avg_pool2d(
        x.into_dispatch(),
        pool.kernel_size,
        pool.stride,
        [top, left],
        pool.count_include_pad,
    ))
}

/// `(begin, end)` padding per axis, as burn's `Conv2d` computes it (`Same` pads the odd pixel at
/// the end).
fn padding_pairs(
    padding: &PaddingConfig2d,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
) -> [(usize, usize); 2] {
    match *padding {
        PaddingConfig2d::Valid => [(0, 0); 2],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        PaddingConfig2d::Same => [0, 1].map(|axis| {
            let out = input[axis].div_ceil(stride[axis]);
            let needed =
                ((out.max(1) - 1) * stride[axis] + kernel[axis]).saturating_sub(input[axis]);
            (needed / 2, needed - needed / 2)
        }),
    }
}

/// `len` deterministic pseudo-random values in [-1, 1], different per `seed`: test inputs for
/// the kernels' unit tests.
#[cfg(test)]
fn pseudo_random(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let h = (i as u32 ^ seed)
                .wrapping_mul(2_654_435_761)
                .rotate_left(13);
            (h % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}
