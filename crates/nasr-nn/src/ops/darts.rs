//! The candidate ops of the DARTS space (Liu et al. 2019, `operations.py`): pools, identity or
//! factorized reduce, separable and dilated convolutions. Every op keeps the channel count and
//! divides the spatial size by its stride (rounding up).

use burn::module::Module;
use burn::nn::pool::{AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use nasr_kernels::{AvgPool2d, BatchNorm, Conv2d};
use nasr_space::darts::DartsPrimitive;

use super::{CandidateOp, ConvShape, Identity, Zero};

fn conv(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    let shape = ConvShape {
        stride,
        dilation,
        groups,
    };
    super::conv(c_in, c_out, kernel, shape, device)
}

/// ReLU, depthwise `kernel`x`kernel` (dilated), pointwise 1x1, BatchNorm: DARTS' `DilConv`.
#[derive(Module, Debug)]
pub struct DilConv {
    /// Depthwise convolution.
    pub depthwise: Conv2d,
    /// Pointwise convolution.
    pub pointwise: Conv2d,
    /// BatchNorm.
    pub bn: BatchNorm,
}

impl DilConv {
    /// The op on `channels` channels.
    pub fn new(
        channels: usize,
        kernel: usize,
        stride: usize,
        dilation: usize,
        device: &Device,
    ) -> Self {
        Self {
            depthwise: conv(
                channels, channels, kernel, stride, dilation, channels, device,
            ),
            pointwise: conv(channels, channels, 1, 1, 1, 1, device),
            bn: BatchNormConfig::new(channels).init(device).into(),
        }
    }

    /// `[b, c, h, w]` -> `[b, c, ceil(h / stride), ceil(w / stride)]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let depthwise = self.depthwise.forward(relu(x));
        self.bn.forward(self.pointwise.forward(depthwise))
    }
}

/// Two [`DilConv`]s of dilation 1, the first strided: DARTS' `SepConv`.
#[derive(Module, Debug)]
pub struct SepConv {
    /// The first (strided) half.
    pub first: DilConv,
    /// The second half.
    pub second: DilConv,
}

impl SepConv {
    /// The op on `channels` channels.
    pub fn new(channels: usize, kernel: usize, stride: usize, device: &Device) -> Self {
        Self {
            first: DilConv::new(channels, kernel, stride, 1, device),
            second: DilConv::new(channels, kernel, 1, 1, device),
        }
    }

    /// `[b, c, h, w]` -> `[b, c, ceil(h / stride), ceil(w / stride)]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.second.forward(self.first.forward(x))
    }
}

/// Halves the spatial size without losing pixels: ReLU, then a 1x1 stride-2 conv on the input
/// and a 1x1 conv on its odd pixels (DARTS' stride-2 conv of `x[:, :, 1:, 1:]`),
/// concatenated, then BatchNorm.
#[derive(Module, Debug)]
pub struct FactorizedReduce {
    /// Stride-2 conv on the input.
    pub conv_a: Conv2d,
    /// Conv on the odd pixels.
    pub conv_b: Conv2d,
    /// BatchNorm.
    pub bn: BatchNorm,
}

impl FactorizedReduce {
    /// From `c_in` to `c_out` (even) channels.
    pub fn new(c_in: usize, c_out: usize, device: &Device) -> Self {
        Self {
            conv_a: conv(c_in, c_out / 2, 1, 2, 1, 1, device),
            conv_b: conv(c_in, c_out - c_out / 2, 1, 1, 1, 1, device),
            bn: BatchNormConfig::new(c_out).init(device).into(),
        }
    }

    /// `[b, c_in, h, w]` -> `[b, c_out, ceil(h / 2), ceil(w / 2)]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(x);
        let odd = odd_pixels(x.clone());
        let out = Tensor::cat(vec![self.conv_a.forward(x), self.conv_b.forward(odd)], 1);
        self.bn.forward(out)
    }
}

/// The pixels at odd rows and columns, `[b, c, ceil(h / 2), ceil(w / 2)]`, zero past an odd
/// size's far edge: what a stride-2 1x1 conv of `x[:, :, 1:, 1:]` reads, so that the odd sizes
/// DARTS cannot take work too. Gathered with `select` rather than sliced, because burn-onnx's
/// exporter rejects any slice of a tensor with a dynamic batch axis.
fn odd_pixels(x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let device = x.device();
    let padded = if h % 2 == 1 || w % 2 == 1 {
        x.pad(
            (0, w % 2, 0, h % 2),
            burn::tensor::ops::PadMode::Constant(0.0),
        )
    } else {
        x
    };
    let odd = |size: usize| {
        let indices: Vec<i64> = (1..=size).step_by(2).map(|i| i as i64).collect();
        let len = indices.len();
        Tensor::<1, Int>::from_data(TensorData::new(indices, [len]), &device)
    };
    padded.select(2, odd(h)).select(3, odd(w))
}

/// A 3x3 pool at a stride, followed in the search supernet by a BatchNorm (DARTS' `MixedOp`
/// adds one after each pool; the evaluation network does not).
#[derive(Module, Debug)]
pub struct PoolBn<P> {
    /// The pool.
    pub pool: P,
    /// The BatchNorm after it (search supernet only).
    pub bn: Option<BatchNorm>,
}

impl<P> PoolBn<P> {
    fn with_bn(pool: P, channels: usize, pool_bn: bool, device: &Device) -> Self {
        Self {
            pool,
            bn: pool_bn.then(|| BatchNormConfig::new(channels).init(device).into()),
        }
    }

    fn finish(&self, pooled: Tensor<4>) -> Tensor<4> {
        match &self.bn {
            Some(bn) => bn.forward(pooled),
            None => pooled,
        }
    }
}

/// One candidate op of the DARTS space on `channels` channels at a stride (1, or 2 on a
/// reduction cell's input edges).
#[derive(Module, Debug)]
pub enum DartsEdgeOp {
    /// `none`: holds nothing and contributes nothing.
    Zero(Zero),
    /// `max_pool_3x3`.
    MaxPool3x3(PoolBn<MaxPool2d>),
    /// `avg_pool_3x3`, not counting padding.
    AvgPool3x3(PoolBn<AvgPool2d>),
    /// `skip_connect` at stride 1.
    Skip(Identity),
    /// `skip_connect` at stride 2: a factorized reduce.
    SkipReduce(FactorizedReduce),
    /// `sep_conv_3x3`.
    SepConv3x3(SepConv),
    /// `sep_conv_5x5`.
    SepConv5x5(SepConv),
    /// `dil_conv_3x3`.
    DilConv3x3(DilConv),
    /// `dil_conv_5x5`.
    DilConv5x5(DilConv),
}

impl DartsEdgeOp {
    /// Op `op` on `channels` channels at `stride`; `pool_bn` adds the search supernet's
    /// BatchNorm after pools.
    pub fn new(
        op: DartsPrimitive,
        channels: usize,
        stride: usize,
        pool_bn: bool,
        device: &Device,
    ) -> Self {
        let pad = PaddingConfig2d::Explicit(1, 1, 1, 1);
        match op {
            DartsPrimitive::None => Self::Zero(Zero),
            DartsPrimitive::MaxPool3x3 => {
                let pool = MaxPool2dConfig::new([3, 3])
                    .with_strides([stride, stride])
                    .with_padding(pad)
                    .init();
                Self::MaxPool3x3(PoolBn::with_bn(pool, channels, pool_bn, device))
            }
            DartsPrimitive::AvgPool3x3 => {
                let pool = AvgPool2dConfig::new([3, 3])
                    .with_strides([stride, stride])
                    .with_padding(pad)
                    .with_count_include_pad(false)
                    .init()
                    .into();
                Self::AvgPool3x3(PoolBn::with_bn(pool, channels, pool_bn, device))
            }
            DartsPrimitive::SkipConnect if stride == 1 => Self::Skip(Identity),
            DartsPrimitive::SkipConnect => {
                Self::SkipReduce(FactorizedReduce::new(channels, channels, device))
            }
            DartsPrimitive::SepConv3x3 => {
                Self::SepConv3x3(SepConv::new(channels, 3, stride, device))
            }
            DartsPrimitive::SepConv5x5 => {
                Self::SepConv5x5(SepConv::new(channels, 5, stride, device))
            }
            DartsPrimitive::DilConv3x3 => {
                Self::DilConv3x3(DilConv::new(channels, 3, stride, 2, device))
            }
            DartsPrimitive::DilConv5x5 => {
                Self::DilConv5x5(DilConv::new(channels, 5, stride, 2, device))
            }
        }
    }

    /// Which op this is.
    pub fn primitive(&self) -> DartsPrimitive {
        match self {
            Self::Zero(_) => DartsPrimitive::None,
            Self::MaxPool3x3(_) => DartsPrimitive::MaxPool3x3,
            Self::AvgPool3x3(_) => DartsPrimitive::AvgPool3x3,
            Self::Skip(_) | Self::SkipReduce(_) => DartsPrimitive::SkipConnect,
            Self::SepConv3x3(_) => DartsPrimitive::SepConv3x3,
            Self::SepConv5x5(_) => DartsPrimitive::SepConv5x5,
            Self::DilConv3x3(_) => DartsPrimitive::DilConv3x3,
            Self::DilConv5x5(_) => DartsPrimitive::DilConv5x5,
        }
    }

    /// Whether the op is the identity (`skip_connect` at stride 1), which drop-path spares.
    pub fn is_identity(&self) -> bool {
        matches!(self, Self::Skip(_))
    }

    /// The BatchNorms the op holds (a pool's only in the search supernet).
    pub fn batch_norms(&mut self) -> Vec<&mut BatchNorm> {
        match self {
            Self::Zero(_) | Self::Skip(_) => Vec::new(),
            Self::MaxPool3x3(op) => op.bn.iter_mut().collect(),
            Self::AvgPool3x3(op) => op.bn.iter_mut().collect(),
            Self::SkipReduce(reduce) => vec![&mut reduce.bn],
            Self::SepConv3x3(sep) | Self::SepConv5x5(sep) => {
                vec![&mut sep.first.bn, &mut sep.second.bn]
            }
            Self::DilConv3x3(dil) | Self::DilConv5x5(dil) => vec![&mut dil.bn],
        }
    }

    /// Applies the op; `None` for `none`.
    pub fn forward(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        Some(match self {
            Self::Zero(_) => return None,
            Self::MaxPool3x3(op) => op.finish(op.pool.forward(x)),
            Self::AvgPool3x3(op) => op.finish(op.pool.forward(x)),
            Self::Skip(_) => x,
            Self::SkipReduce(reduce) => reduce.forward(x),
            Self::SepConv3x3(sep) | Self::SepConv5x5(sep) => sep.forward(x),
            Self::DilConv3x3(dil) | Self::DilConv5x5(dil) => dil.forward(x),
        })
    }
}

impl CandidateOp for DartsEdgeOp {
    fn name(&self) -> String {
        self.primitive().name().to_string()
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;
    use crate::ops::bits;

    /// Gathering the odd pixels for a 1x1 conv (for the exporter) is DARTS' stride-2 conv of
    /// the shifted input to the bit, forward and backward, on even and odd sizes.
    #[test]
    fn factorized_reduce_by_gather_is_the_shifted_strided_conv_to_the_bit() {
        let device = Device::flex().autodiff();
        for (h, w) in [(8, 8), (7, 7), (5, 6)] {
            let reduce = FactorizedReduce::new(6, 8, &device);
            let mut strided = conv(6, 4, 1, 2, 1, 1, &device);
            strided.weight = reduce.conv_b.weight.clone();
            let x = Tensor::<4>::random([3, 6, h, w], Distribution::Normal(0.0, 1.0), &device)
                .require_grad();
            let ours = reduce.forward(x.clone());
            let r = relu(x.clone());
            let shifted = r
                .clone()
                .pad((0, 1, 0, 1), burn::tensor::ops::PadMode::Constant(0.0))
                .slice([0..3, 0..6, 1..h + 1, 1..w + 1]);
            let darts = reduce.bn.forward(Tensor::cat(
                vec![reduce.conv_a.forward(r), strided.forward(shifted)],
                1,
            ));
            assert_eq!(bits(ours.clone()), bits(darts.clone()), "{h}x{w}");
            let (a, b) = (ours.sum().backward(), darts.sum().backward());
            assert_eq!(
                bits(x.grad(&a).unwrap()),
                bits(x.grad(&b).unwrap()),
                "{h}x{w}"
            );
        }
    }
}
