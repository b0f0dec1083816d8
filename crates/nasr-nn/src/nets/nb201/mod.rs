//! The NAS-Bench-201 space's networks: the standalone network of one cell architecture
//! ([`network`]) and the supernet of all of them ([`supernet`]), around one macro skeleton.
//!
//! Stem (3x3 conv + BN), then three stages of N cells at C, 2C and 4C channels separated by
//! residual reduction blocks, then BN + ReLU, global average pooling and a linear classifier
//! (Dong & Yang 2020, `lib/models/cell_infers/tiny_network.py`). Parameter names are stable
//! and dotted, and name the op (`cells.3.edges.2.nor_conv_3x3.conv.weight`; in the supernet
//! `cells.3.edges.2.ops.nor_conv_3x3.conv.weight`); they are the safetensors keys.

pub mod network;
pub mod supernet;

pub use network::{Nb201Cell, Nb201Network};
pub use supernet::Nb201Supernet;

use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::AvgPool2dConfig;
use burn::nn::{BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use nasr_kernels::{AvgPool2d, BatchNorm, Conv2d};
use nasr_space::Arch;
use nasr_space::nb201::{NB201_EDGES, NB201_NODES};
use serde::{Deserialize, Serialize};

use crate::NnError;
use crate::ops::ReluConvBn;

/// Sizes of an NB201 network. The cell itself comes from the architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nb201NetworkConfig {
    /// Channels of the first stage (C); the others have 2C and 4C.
    pub channels: usize,
    /// Cells per stage (N).
    pub cells: usize,
    /// Channels of the input images (1 for MNIST, 3 for CIFAR).
    pub in_channels: usize,
    /// Number of classes.
    pub classes: usize,
}

impl Nb201NetworkConfig {
    /// Checks every size; the error names the field.
    pub fn validate(&self) -> Result<(), NnError> {
        let positive = |field: &'static str, value: usize| {
            if value == 0 {
                Err(NnError::Config {
                    field,
                    problem: "must be at least 1".into(),
                })
            } else {
                Ok(())
            }
        };
        positive("channels", self.channels)?;
        positive("cells", self.cells)?;
        positive("in_channels", self.in_channels)?;
        if self.classes < 2 {
            return Err(NnError::Config {
                field: "classes",
                problem: format!("must be at least 2, got {}", self.classes),
            });
        }
        Ok(())
    }

    /// Builds the network for `arch` (which must be an NB201 architecture).
    pub fn init(&self, arch: &Arch, device: &Device) -> Result<Nb201Network, NnError> {
        self.validate()?;
        nasr_space::Space::check(&nasr_space::Nb201Space::new(), arch)?;
        let skeleton = Skeleton::new(self, device);
        Ok(Nb201Network {
            stem_conv: skeleton.stem_conv,
            stem_bn: skeleton.stem_bn,
            cells: cell_widths(self)
                .map(|width| Nb201Cell::new(arch, width, device))
                .collect(),
            reductions: skeleton.reductions,
            head_bn: skeleton.head_bn,
            classifier: skeleton.classifier,
            cells_per_stage: self.cells,
        })
    }
}

/// The NB201 cell's dataflow: node j is the sum of `edge(k, node i)` over the edges k = (j <- i);
/// `edge` returns `None` for the zero op. The output is node 3.
pub(crate) fn cell_forward(
    x: Tensor<4>,
    mut edge: impl FnMut(usize, Tensor<4>) -> Option<Tensor<4>>,
) -> Tensor<4> {
    let mut nodes: Vec<Tensor<4>> = vec![x];
    for to in 1..NB201_NODES {
        let mut sum: Option<Tensor<4>> = None;
        for (k, &(edge_to, from)) in NB201_EDGES.iter().enumerate() {
            if edge_to != to {
                continue;
            }
            if let Some(out) = edge(k, nodes[from].clone()) {
                sum = crate::ops::accumulate(sum, out);
            }
        }
        // A node whose every input edge is `none` is all zeros.
        nodes.push(sum.unwrap_or_else(|| nodes[0].zeros_like()));
    }
    nodes.pop().expect("the cell has an output node")
}

/// The parts of the NB201 macro network around the cells, shared by the network and the
/// supernet (which therefore name them alike).
pub(crate) struct Skeleton {
    pub(crate) stem_conv: Conv2d,
    pub(crate) stem_bn: BatchNorm,
    pub(crate) reductions: Vec<ResidualReduction>,
    pub(crate) head_bn: BatchNorm,
    pub(crate) classifier: Linear,
}

impl Skeleton {
    /// Stem, reductions and head for `config`.
    pub(crate) fn new(config: &Nb201NetworkConfig, device: &Device) -> Self {
        let c = config.channels;
        Self {
            stem_conv: Conv2dConfig::new([config.in_channels, c], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device)
                .into(),
            stem_bn: BatchNormConfig::new(c).init(device).into(),
            reductions: vec![
                ResidualReduction::new(c, 2 * c, device),
                ResidualReduction::new(2 * c, 4 * c, device),
            ],
            head_bn: BatchNormConfig::new(4 * c).init(device).into(),
            classifier: LinearConfig::new(4 * c, config.classes).init(device),
        }
    }
}

/// Channels of every cell, stage after stage: N at C, N at 2C, N at 4C.
pub(crate) fn cell_widths(config: &Nb201NetworkConfig) -> impl Iterator<Item = usize> + '_ {
    [1, 2, 4]
        .into_iter()
        .flat_map(move |factor| std::iter::repeat_n(factor * config.channels, config.cells))
}

/// The macro network's forward: stem, `cells` cells (`cell(i, x)`) with a reduction block
/// before each new stage, then BN + ReLU, global average pooling and the classifier.
#[allow(clippy::too_many_arguments)] // The parts of two module types, borrowed field by field.
pub(crate) fn macro_forward(
    x: Tensor<4>,
    stem: (&Conv2d, &BatchNorm),
    reductions: &[ResidualReduction],
    head: (&BatchNorm, &Linear),
    cells: usize,
    cells_per_stage: usize,
    mut cell: impl FnMut(usize, Tensor<4>) -> Tensor<4>,
) -> Tensor<2> {
    let mut x = stem.1.forward(stem.0.forward(x));
    for index in 0..cells {
        if index > 0 && index % cells_per_stage == 0 {
            x = reductions[index / cells_per_stage - 1].forward(x);
        }
        x = cell(index, x);
    }
    let x = relu(head.0.forward(x));
    head.1.forward(crate::ops::pooled_features(x))
}

/// NB201's `ResNetBasicblock` with stride 2: two ReLU-Conv-BN 3x3 (the first strided) plus a
/// shortcut of 2x2 average pooling and a 1x1 conv.
#[derive(Module, Debug)]
pub struct ResidualReduction {
    /// First 3x3 ReLU-Conv-BN, stride 2.
    pub conv_a: ReluConvBn,
    /// Second 3x3 ReLU-Conv-BN.
    pub conv_b: ReluConvBn,
    /// Shortcut pooling.
    pub shortcut_pool: AvgPool2d,
    /// Shortcut 1x1 conv, no bias.
    pub shortcut_conv: Conv2d,
}

impl ResidualReduction {
    /// From `c_in` to `c_out` channels, halving the resolution.
    pub fn new(c_in: usize, c_out: usize, device: &Device) -> Self {
        Self {
            conv_a: ReluConvBn::new(c_in, c_out, 3, 2, device),
            conv_b: ReluConvBn::new(c_out, c_out, 3, 1, device),
            // ceil_mode keeps the shortcut the same size as the strided conv on odd inputs (7x7
            // after two halvings of 28x28 MNIST); on even sizes it is NB201's plain pooling.
            shortcut_pool: AvgPool2dConfig::new([2, 2])
                .with_strides([2, 2])
                .with_ceil_mode(true)
                .with_count_include_pad(false)
                .init()
                .into(),
            shortcut_conv: Conv2dConfig::new([c_in, c_out], [1, 1])
                .with_bias(false)
                .init(device)
                .into(),
        }
    }

    /// `[batch, c_in, h, w]` -> `[batch, c_out, ceil(h/2), ceil(w/2)]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let shortcut = self
            .shortcut_conv
            .forward(self.shortcut_pool.forward(x.clone()));
        self.conv_b.forward(self.conv_a.forward(x)) + shortcut
    }
}
