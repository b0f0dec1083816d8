//! The inverted-residual block (MBConv) of MobileNetV2, as ProxylessNAS and FairNAS search it:
//! 1x1 expansion + BN + ReLU6, kxk depthwise (strided) + BN + ReLU6, 1x1 projection + BN, plus
//! the input when the layer is residual.

use burn::module::{Module, Param};
use burn::nn::BatchNormConfig;
use burn::tensor::{Device, Tensor};
use nasr_kernels::{BatchNorm, Clamp, Conv2d, conv_batch_norm};
use nasr_space::mobilenet::LayerShape;

use super::{CandidateOp, ConvShape};

/// ReLU6 (`min(max(x, 0), 6)`) of `bn(conv(x))`: in training computed in BatchNorm's own pass
/// (forward and backward), in evaluation with BatchNorm and the clamp folded into the
/// convolution ([`conv_batch_norm`]). Every ReLU6 of the MobileNet space follows a
/// convolution and its BatchNorm.
pub fn conv_bn_relu6(conv: &Conv2d, bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    conv_batch_norm(conv, bn, x, Some(Clamp::RELU6))
}

/// `bn` with its scale at 0: the block it ends outputs 0, so a residual one starts as the
/// identity.
pub(crate) fn zero_scale(mut bn: BatchNorm) -> BatchNorm {
    let gamma = bn.gamma.val();
    bn.gamma = Param::from_tensor(gamma.zeros_like());
    bn
}

/// A bias-free `k`x`k` (odd) convolution with "same" padding.
pub(crate) fn conv(
    c_in: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    let shape = ConvShape {
        stride,
        dilation: 1,
        groups,
    };
    super::conv(c_in, c_out, k, shape, device)
}

/// One inverted-residual block.
#[derive(Module, Debug)]
pub struct MbConv {
    /// 1x1 expansion (absent at ratio 1).
    pub expand: Option<Conv2d>,
    /// BatchNorm after the expansion.
    pub expand_bn: Option<BatchNorm>,
    /// kxk depthwise conv.
    pub depthwise: Conv2d,
    /// BatchNorm after it.
    pub depthwise_bn: BatchNorm,
    /// 1x1 projection.
    pub project: Conv2d,
    /// BatchNorm after it.
    pub project_bn: BatchNorm,
    /// Add the input to the output.
    pub residual: bool,
    /// Depthwise kernel size.
    pub kernel: usize,
    /// Expansion ratio.
    pub expansion: usize,
}

impl MbConv {
    /// The block of `kernel` and `expansion` for a layer of `shape`.
    pub fn new(shape: &LayerShape, kernel: usize, expansion: usize, device: &Device) -> Self {
        let hidden = shape.c_in * expansion;
        let expands = expansion != 1;
        Self {
            expand: expands.then(|| conv(shape.c_in, hidden, 1, 1, 1, device)),
            expand_bn: expands.then(|| BatchNormConfig::new(hidden).init(device).into()),
            depthwise: conv(hidden, hidden, kernel, shape.stride, hidden, device),
            depthwise_bn: BatchNormConfig::new(hidden).init(device).into(),
            project: conv(hidden, shape.c_out, 1, 1, 1, device),
            project_bn: BatchNormConfig::new(shape.c_out).init(device).into(),
            residual: shape.residual(),
            kernel,
            expansion,
        }
    }

    /// The block with its projection BatchNorm's scale at 0 (Goyal et al.'s "zero gamma"), so
    /// that a residual block starts as the identity. A supernet's residual blocks start so:
    /// with every block at full scale, each step's random path is a different deep network
    /// and single-path training barely moves (measured on the proxyless space, nasr and
    /// PyTorch alike: 17-18% training accuracy after 200 steps on MNIST, 25-26% with it).
    pub fn with_zero_last_gamma(mut self) -> Self {
        self.project_bn = zero_scale(self.project_bn);
        self
    }

    /// `[batch, c_in, s, s]` -> `[batch, c_out, ceil(s / stride), ...]`: the branch, plus the
    /// input where the block is residual.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if self.residual {
            self.branch(x.clone()) + x
        } else {
            self.branch(x)
        }
    }

    /// The block without its shortcut: expansion, depthwise, projection.
    pub fn branch(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = x;
        if let (Some(expand), Some(bn)) = (&self.expand, &self.expand_bn) {
            h = conv_bn_relu6(expand, bn, h);
        }
        h = conv_bn_relu6(&self.depthwise, &self.depthwise_bn, h);
        conv_batch_norm(&self.project, &self.project_bn, h, None)
    }
}

impl CandidateOp for MbConv {
    /// `k5_e6`, as the MobileNet space writes a layer choice.
    fn name(&self) -> String {
        format!("k{}_e{}", self.kernel, self.expansion)
    }
}

impl MbConv {
    /// The BatchNorms of the block.
    pub fn batch_norms(&mut self) -> Vec<&mut BatchNorm> {
        let mut all: Vec<&mut BatchNorm> = self.expand_bn.as_mut().into_iter().collect();
        all.push(&mut self.depthwise_bn);
        all.push(&mut self.project_bn);
        all
    }
}
