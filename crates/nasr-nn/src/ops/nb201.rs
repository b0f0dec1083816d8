//! The NAS-Bench-201 candidate ops (Dong & Yang 2020, `lib/models/cell_operations.py`).

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use nasr_kernels::AvgPool2d;
use nasr_space::nb201::Nb201Op;

use super::{CandidateOp, Identity, ReluConvBn, Zero, avg_pool_3x3};

/// One NB201 op on a cell edge, on `channels` channels at stride 1. Only the convolutions hold
/// parameters.
#[derive(Module, Debug)]
pub enum Nb201EdgeOp {
    /// `none`.
    Zero(Zero),
    /// `skip_connect`.
    Skip(Identity),
    /// `nor_conv_1x1`: ReLU-Conv1x1-BN.
    NorConv1x1(ReluConvBn),
    /// `nor_conv_3x3`: ReLU-Conv3x3-BN.
    NorConv3x3(ReluConvBn),
    /// `avg_pool_3x3`.
    AvgPool3x3(AvgPool2d),
}

impl Nb201EdgeOp {
    /// The op `op` on `channels` channels.
    pub fn new(op: Nb201Op, channels: usize, device: &Device) -> Self {
        match op {
            Nb201Op::None => Self::Zero(Zero),
            Nb201Op::SkipConnect => Self::Skip(Identity),
            Nb201Op::NorConv1x1 => {
                Self::NorConv1x1(ReluConvBn::new(channels, channels, 1, 1, device))
            }
            Nb201Op::NorConv3x3 => {
                Self::NorConv3x3(ReluConvBn::new(channels, channels, 3, 1, device))
            }
            Nb201Op::AvgPool3x3 => Self::AvgPool3x3(avg_pool_3x3()),
        }
    }

    /// Which op this is.
    pub fn op(&self) -> Nb201Op {
        match self {
            Self::Zero(_) => Nb201Op::None,
            Self::Skip(_) => Nb201Op::SkipConnect,
            Self::NorConv1x1(_) => Nb201Op::NorConv1x1,
            Self::NorConv3x3(_) => Nb201Op::NorConv3x3,
            Self::AvgPool3x3(_) => Nb201Op::AvgPool3x3,
        }
    }

    /// Applies the op; `None` for the zero op, which contributes nothing to the sum at a node.
    /// Shape is preserved: `[batch, c, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        match self {
            Self::Zero(_) => None,
            Self::Skip(_) => Some(x),
            Self::NorConv1x1(conv) | Self::NorConv3x3(conv) => Some(conv.forward(x)),
            Self::AvgPool3x3(pool) => Some(pool.forward(x)),
        }
    }

    /// The BatchNorms the op holds.
    pub fn batch_norms(&mut self) -> Vec<&mut nasr_kernels::BatchNorm> {
        match self {
            Self::NorConv1x1(conv) | Self::NorConv3x3(conv) => vec![&mut conv.bn],
            _ => Vec::new(),
        }
    }
}

impl CandidateOp for Nb201EdgeOp {
    fn name(&self) -> String {
        self.op().name().to_string()
    }
}
