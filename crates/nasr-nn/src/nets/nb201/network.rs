//! The NAS-Bench-201 network of one cell architecture.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};
use nasr_kernels::{BatchNorm, Conv2d};
use nasr_space::Arch;
use nasr_space::nb201::Nb201Op;

use super::{ResidualReduction, cell_forward, macro_forward};
use crate::ops::Chosen;
use crate::ops::nb201::Nb201EdgeOp;

/// One NB201 cell: node j is the sum over i < j of `op(i -> j)(node i)`; node 3 is the output.
#[derive(Module, Debug)]
pub struct Nb201Cell {
    /// One op per edge, in `NB201_EDGES` order.
    pub edges: Vec<Chosen<Nb201EdgeOp>>,
}

impl Nb201Cell {
    /// The cell of `arch` on `channels` channels.
    pub fn new(arch: &Arch, channels: usize, device: &Device) -> Self {
        Self {
            edges: arch
                .choices
                .iter()
                .map(|&choice| {
                    Chosen::new(Nb201EdgeOp::new(
                        Nb201Op::from_choice(choice),
                        channels,
                        device,
                    ))
                })
                .collect(),
        }
    }

    /// `[batch, c, h, w]` -> `[batch, c, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        cell_forward(x, |edge, input| self.edges[edge].op.forward(input))
    }
}

/// The NAS-Bench-201 network for one cell architecture.
#[derive(Module, Debug)]
pub struct Nb201Network {
    /// Stem convolution.
    pub stem_conv: Conv2d,
    /// Stem BatchNorm.
    pub stem_bn: BatchNorm,
    /// All 3N cells, stage after stage.
    pub cells: Vec<Nb201Cell>,
    /// The two reduction blocks between the stages.
    pub reductions: Vec<ResidualReduction>,
    /// BatchNorm before the final ReLU.
    pub head_bn: BatchNorm,
    /// Linear classifier.
    pub classifier: Linear,
    /// Cells per stage (N).
    pub cells_per_stage: usize,
}

impl Nb201Network {
    /// Images `[batch, in_channels, h, w]` -> logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        macro_forward(
            x,
            (&self.stem_conv, &self.stem_bn),
            &self.reductions,
            (&self.head_bn, &self.classifier),
            self.cells.len(),
            self.cells_per_stage,
            |index, x| self.cells[index].forward(x),
        )
    }
}

impl crate::train::Classifier for Nb201Network {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        Nb201Network::forward(self, images)
    }
}
