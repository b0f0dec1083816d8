//! The candidate ops of the DARTS space (Liu et al. 2019, `operations.py`): pools, identity or
//! factorized reduce, separable and dilated convolutions. Every op keeps the channel count and
//! divides the spatial size by its stride (rounding up).

use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::{AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use nasr_kernels::{AvgPool2d, BatchNorm, Conv2d};
use nasr_space::darts::DARTS_OPS;

fn conv(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    let pad = dilation * (kernel - 1) / 2;
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_dilation([dilation, dilation])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_groups(groups)
        .with_bias(false)
        .init(device)
        .into()
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

/// Halves the spatial size without losing pixels: ReLU, then two 1x1 stride-2 convs, one on
/// the input and one on the input shifted by one pixel, concatenated, then BatchNorm.
#[derive(Module, Debug)]
pub struct FactorizedReduce {
    /// Conv on the input.
    pub conv_a: Conv2d,
    /// Conv on the shifted input.
    pub conv_b: Conv2d,
    /// BatchNorm.
    pub bn: BatchNorm,
}

impl FactorizedReduce {
    /// From `c_in` to `c_out` (even) channels.
    pub fn new(c_in: usize, c_out: usize, device: &Device) -> Self {
        Self {
            conv_a: conv(c_in, c_out / 2, 1, 2, 1, 1, device),
            conv_b: conv(c_in, c_out - c_out / 2, 1, 2, 1, 1, device),
            bn: BatchNormConfig::new(c_out).init(device).into(),
        }
    }

    /// `[b, c_in, h, w]` -> `[b, c_out, ceil(h / 2), ceil(w / 2)]`. The shifted path pads one
    /// zero row and column at the far edges, so odd sizes work; on even sizes it equals DARTS'
    /// `x[:, :, 1:, 1:]`, whose padding a stride-2 1x1 conv never reads.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(x);
        let [_, _, h, w] = x.dims();
        let shifted = x
            .clone()
            .pad((0, 1, 0, 1), burn::tensor::ops::PadMode::Constant(0.0))
            .slice([0..x.dims()[0], 0..x.dims()[1], 1..h + 1, 1..w + 1]);
        let out = Tensor::cat(
            vec![self.conv_a.forward(x), self.conv_b.forward(shifted)],
            1,
        );
        self.bn.forward(out)
    }
}

/// One candidate op of the DARTS space, by its index in [`DARTS_OPS`], at a stride.
/// `none` holds nothing and contributes nothing.
#[derive(Module, Debug)]
pub struct DartsOp {
    /// Index into `DARTS_OPS`.
    pub kind: usize,
    /// The max pool (`max_pool_3x3`).
    pub max_pool: Option<MaxPool2d>,
    /// The average pool (`avg_pool_3x3`, not counting padding).
    pub avg_pool: Option<AvgPool2d>,
    /// BatchNorm after a pool: in the search supernet only, as in DARTS' `MixedOp`.
    pub pool_bn: Option<BatchNorm>,
    /// `skip_connect` at stride 2.
    pub reduce: Option<FactorizedReduce>,
    /// `sep_conv_3x3` / `sep_conv_5x5`.
    pub sep: Option<SepConv>,
    /// `dil_conv_3x3` / `dil_conv_5x5`.
    pub dil: Option<DilConv>,
}

impl DartsOp {
    /// Op `kind` on `channels` channels at `stride` (1, or 2 on a reduction cell's input edges);
    /// `pool_bn` adds the search supernet's BatchNorm after pools.
    pub fn new(
        kind: usize,
        channels: usize,
        stride: usize,
        pool_bn: bool,
        device: &Device,
    ) -> Self {
        let name = DARTS_OPS[kind];
        let pool = name.ends_with("pool_3x3");
        let pad = PaddingConfig2d::Explicit(1, 1, 1, 1);
        Self {
            kind,
            max_pool: (name == "max_pool_3x3").then(|| {
                MaxPool2dConfig::new([3, 3])
                    .with_strides([stride, stride])
                    .with_padding(pad.clone())
                    .init()
            }),
            avg_pool: (name == "avg_pool_3x3").then(|| {
                AvgPool2dConfig::new([3, 3])
                    .with_strides([stride, stride])
                    .with_padding(pad.clone())
                    .with_count_include_pad(false)
                    .init()
                    .into()
            }),
            pool_bn: (pool && pool_bn).then(|| BatchNormConfig::new(channels).init(device).into()),
            reduce: (name == "skip_connect" && stride == 2)
                .then(|| FactorizedReduce::new(channels, channels, device)),
            sep: match name {
                "sep_conv_3x3" => Some(SepConv::new(channels, 3, stride, device)),
                "sep_conv_5x5" => Some(SepConv::new(channels, 5, stride, device)),
                _ => None,
            },
            dil: match name {
                "dil_conv_3x3" => Some(DilConv::new(channels, 3, stride, 2, device)),
                "dil_conv_5x5" => Some(DilConv::new(channels, 5, stride, 2, device)),
                _ => None,
            },
        }
    }

    /// Whether the op is the identity (`skip_connect` at stride 1), which drop-path spares.
    pub fn is_identity(&self) -> bool {
        DARTS_OPS[self.kind] == "skip_connect" && self.reduce.is_none()
    }

    /// Applies the op; `None` for `none`.
    pub fn forward(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        let pooled = match (&self.max_pool, &self.avg_pool) {
            (Some(pool), _) => Some(pool.forward(x.clone())),
            (_, Some(pool)) => Some(pool.forward(x.clone())),
            _ => None,
        };
        if let Some(pooled) = pooled {
            return Some(match &self.pool_bn {
                Some(bn) => bn.forward(pooled),
                None => pooled,
            });
        }
        match (&self.reduce, &self.sep, &self.dil) {
            (Some(reduce), _, _) => Some(reduce.forward(x)),
            (_, Some(sep), _) => Some(sep.forward(x)),
            (_, _, Some(dil)) => Some(dil.forward(x)),
            _ if DARTS_OPS[self.kind] == "skip_connect" => Some(x),
            _ => None,
        }
    }
}
