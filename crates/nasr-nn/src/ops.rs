//! The NAS-Bench-201 candidate ops (Dong & Yang 2020, `lib/models/cell_operations.py`).

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
    /// A `kernel`x`kernel` conv from `c_in` to `c_out` channels with the given stride and
    /// "same" padding (`kernel / 2`).
    pub fn new(c_in: usize, c_out: usize, kernel: usize, stride: usize, device: &Device) -> Self {
        let pad = kernel / 2;
        Self {
            conv: Conv2dConfig::new([c_in, c_out], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(false)
                .init(device)
                .into(),
            bn: BatchNormConfig::new(c_out).init(device).into(),
        }
    }

    /// `[batch, c_in, h, w]` -> `[batch, c_out, h / stride, w / stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.bn.forward(self.conv.forward(relu(x)))
    }
}

/// `sum + x`, where an empty sum is zero: how a node adds up the outputs of its incoming edges.
pub(crate) fn accumulate(sum: Option<Tensor<4>>, x: Tensor<4>) -> Option<Tensor<4>> {
    Some(match sum {
        Some(acc) => acc + x,
        None => x,
    })
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

/// One candidate op on a cell edge, by its NB201 index (see `nasr_space::nb201::NB201_OPS`).
/// Only the convolutions hold parameters.
#[derive(Module, Debug)]
pub struct EdgeOp {
    /// Index into `NB201_OPS`.
    pub kind: usize,
    /// The ReLU-Conv-BN for `nor_conv_1x1` / `nor_conv_3x3`.
    pub op: Option<ReluConvBn>,
    /// The pool for `avg_pool_3x3`.
    pub pool: Option<AvgPool2d>,
}

impl EdgeOp {
    /// The op `kind` on `channels` channels, stride 1.
    pub fn new(kind: usize, channels: usize, device: &Device) -> Self {
        let op = match kind {
            2 => Some(ReluConvBn::new(channels, channels, 1, 1, device)),
            3 => Some(ReluConvBn::new(channels, channels, 3, 1, device)),
            _ => None,
        };
        Self {
            kind,
            op,
            pool: (kind == 4).then(avg_pool_3x3),
        }
    }

    /// Applies the op; `None` for the zero op, which contributes nothing to the sum at a node.
    /// Shape is preserved: `[batch, c, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        match (self.kind, &self.op, &self.pool) {
            (0, _, _) => None,
            (_, Some(conv), _) => Some(conv.forward(x)),
            (_, _, Some(pool)) => Some(pool.forward(x)),
            _ => Some(x),
        }
    }
}
