//! Typed ops: the candidate ops of every space, each a burn module built from the space's own
//! op type (`Nb201Op`, `DartsPrimitive`, `LayerChoice`), never from an index.
//!
//! - [`named`]: the containers that name an op in the parameter path by what it is;
//! - [`nb201`]: NAS-Bench-201's edge ops;
//! - [`darts`]: the DARTS space's pools, separable and dilated convolutions, factorized reduce;
//! - [`mbconv`]: the inverted-residual block of MobileNet-style spaces;
//! - [`elastic`]: Once-for-All's elastic layers (kernel and width chosen per forward).
//!
//! This file holds the parts they share: ReLU-Conv-BN, a plain convolution, the stateless
//! [`Zero`] and [`Identity`].

pub mod darts;
pub mod elastic;
pub mod mbconv;
pub mod named;
pub mod nb201;

pub use named::{CandidateOp, CandidateOps, Chosen};

use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::AvgPool2dConfig;
use burn::nn::{BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use nasr_kernels::{AvgPool2d, BatchNorm, Conv2d};

/// ReLU, then a bias-free convolution, then BatchNorm: NB201's `ReLUConvBN`.
#[derive(Module, Debug)]
pub struct ReluConvBn {
    /// The convolution.
    pub conv: Conv2d,
    /// The BatchNorm after it.
    pub bn: BatchNorm,
}

impl ReluConvBn {
    /// A `kernel`x`kernel` (odd) conv from `c_in` to `c_out` channels with the given stride and
    /// "same" padding (`kernel / 2`).
    pub fn new(c_in: usize, c_out: usize, kernel: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv: conv(c_in, c_out, kernel, ConvShape::strided(stride), device),
            bn: BatchNormConfig::new(c_out).init(device).into(),
        }
    }

    /// `[batch, c_in, h, w]` -> `[batch, c_out, h / stride, w / stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.bn.forward(self.conv.forward(relu(x)))
    }
}

/// A bias-free `kernel`x`kernel` convolution with "same" padding (`dilation * (kernel - 1) / 2`)
/// for odd kernels, as every space's ops use.
pub fn conv(c_in: usize, c_out: usize, kernel: usize, shape: ConvShape, device: &Device) -> Conv2d {
    let pad = shape.dilation * (kernel - 1) / 2;
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([shape.stride, shape.stride])
        .with_dilation([shape.dilation, shape.dilation])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_groups(shape.groups)
        .with_bias(false)
        .init(device)
        .into()
}

/// Stride, dilation and groups of a [`conv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Stride.
    pub stride: usize,
    /// Dilation.
    pub dilation: usize,
    /// Groups (the channel count for a depthwise convolution).
    pub groups: usize,
}

impl ConvShape {
    /// A dense convolution at `stride`.
    pub fn strided(stride: usize) -> Self {
        Self {
            stride,
            dilation: 1,
            groups: 1,
        }
    }
}

/// The zero op: contributes nothing to the sum at a node. Holds no parameters.
#[derive(Module, Debug, Default)]
pub struct Zero;

/// The identity op. Holds no parameters.
#[derive(Module, Debug, Default)]
pub struct Identity;

/// `sum + x`, where an empty sum is zero: how a node adds up the outputs of its incoming edges.
pub fn accumulate(sum: Option<Tensor<4>>, x: Tensor<4>) -> Option<Tensor<4>> {
    Some(match sum {
        Some(acc) => acc + x,
        None => x,
    })
}

/// Global average pooling, `[batch, c, h, w]` -> `[batch, c, 1, 1]`: the mean over rows,
/// then over columns (`mean_dims(&[2, 3])`), written as `sum_dim` and a division, which is
/// what burn computes for `mean_dim`, to the bit, forward and backward. burn-onnx 0.22's
/// exporter lowers `sum_dim` but not `mean_dim`. The result stays 4-d: the exporter takes an
/// axis reshaped out of a dynamic batch axis for a dynamic one.
pub fn global_average_pool(x: Tensor<4>) -> Tensor<4> {
    mean_over(x, [2, 3])
}

/// The mean of `x` over the two axes `axes`, in that order, as [`global_average_pool`]
/// writes it.
pub fn mean_over(x: Tensor<4>, axes: [usize; 2]) -> Tensor<4> {
    let dims = x.dims();
    axes.iter()
        .fold(x, |x, &axis| x.sum_dim(axis).div_scalar(dims[axis] as f32))
}

/// [`global_average_pool`] as features, `[batch, c]`: what a classifier head reads.
pub fn pooled_features(x: Tensor<4>) -> Tensor<2> {
    let [batch, channels, _, _] = x.dims();
    global_average_pool(x).reshape([batch, channels])
}

/// NB201's 3x3 average pool, stride 1, padding 1, not counting the padding.
pub fn avg_pool_3x3() -> AvgPool2d {
    AvgPool2dConfig::new([3, 3])
        .with_strides([1, 1])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_count_include_pad(false)
        .init()
        .into()
}

/// A tensor's values as bits, for tests that compare two computations exactly.
#[cfg(test)]
pub(crate) fn bits(t: Tensor<4>) -> Vec<u32> {
    let values = t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    values.into_iter().map(f32::to_bits).collect()
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tensor};

    use super::*;

    /// The exporter's pooling moves no result: it is burn's mean, forward and backward.
    #[test]
    fn pooling_as_a_sum_is_burns_mean_to_the_bit_forward_and_backward() {
        let device = Device::flex().autodiff();
        for shape in [[3, 5, 7, 7], [2, 4, 6, 5]] {
            let x =
                Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device).require_grad();
            let ours = global_average_pool(x.clone());
            let burns = x.clone().mean_dims(&[2, 3]);
            assert_eq!(bits(ours.clone()), bits(burns.clone()));
            let (a, b) = (
                ours.mul_scalar(0.7).sum().backward(),
                burns.mul_scalar(0.7).sum().backward(),
            );
            assert_eq!(bits(x.grad(&a).unwrap()), bits(x.grad(&b).unwrap()));
            let columns_first = mean_over(x.clone(), [3, 2]);
            assert_eq!(bits(columns_first), bits(x.clone().mean_dim(3).mean_dim(2)));
        }
    }
}
