//! The NAS-Bench-201 supernet: the macro network of [`Nb201Network`] whose every edge is a
//! [`MixedOp`] of the five ops, run in single-path or mixed mode.
//!
//! One weight set holds every candidate op of every edge
//! (`cells.3.edges.2.ops.nor_conv_3x3.conv.weight`). The rest of the network (stem, reductions,
//! head) is shared by all paths and named as in [`Nb201Network`], so a path's weights copy out
//! into a standalone network of that architecture ([`Nb201Supernet::extract`]).

use std::collections::BTreeMap;

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};
use nasr_kernels::{BatchNorm, Conv2d};
use nasr_space::Arch;
use nasr_space::nb201::{NB201_EDGES, Nb201Op};

use super::{
    Nb201Network, Nb201NetworkConfig, ResidualReduction, Skeleton, cell_forward, cell_widths,
    macro_forward,
};
use crate::NnError;
use crate::ops::nb201::Nb201EdgeOp;
use crate::params::{NamedTensor, load_named, named_tensors};
use crate::supernet::{EdgeMode, EdgeOp, MixedOp, MixedSupernet, MixedWeights, Mode, PathSupernet};

impl EdgeOp for Nb201EdgeOp {
    fn apply(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        self.forward(x)
    }

    fn is_skip(&self) -> bool {
        self.op() == Nb201Op::SkipConnect
    }
}

/// A cell holding every op on each of its six edges.
#[derive(Module, Debug)]
pub struct SuperCell {
    /// Edges in `NB201_EDGES` order.
    pub edges: Vec<MixedOp<Nb201EdgeOp>>,
}

impl SuperCell {
    fn new(channels: usize, device: &Device) -> Self {
        let edge = || {
            MixedOp::new(
                Nb201Op::ALL
                    .iter()
                    .map(|&op| Nb201EdgeOp::new(op, channels, device))
                    .collect(),
            )
        };
        Self {
            edges: (0..NB201_EDGES.len()).map(|_| edge()).collect(),
        }
    }

    /// The cell's output in `mode`: `[batch, c, h, w]` -> `[batch, c, h, w]`.
    fn forward(&self, mode: Mode<'_>, x: Tensor<4>) -> Tensor<4> {
        cell_forward(x, |edge, input| {
            let edge_mode = match mode {
                Mode::Path(arch) => EdgeMode::Path(arch.choices[edge]),
                // All cells share the weights, as in NB201's DARTS: row `edge`.
                Mode::Mixed(weights) => EdgeMode::Mixed { weights, row: edge },
            };
            self.edges[edge].forward(edge_mode, input)
        })
    }
}

/// The NB201 supernet: the macro network of [`Nb201Network`] with [`SuperCell`]s.
#[derive(Module, Debug)]
pub struct Nb201Supernet {
    /// Stem convolution.
    pub stem_conv: Conv2d,
    /// Stem BatchNorm.
    pub stem_bn: BatchNorm,
    /// All 3N cells.
    pub cells: Vec<SuperCell>,
    /// The two reduction blocks.
    pub reductions: Vec<ResidualReduction>,
    /// BatchNorm before the final ReLU.
    pub head_bn: BatchNorm,
    /// Linear classifier.
    pub classifier: Linear,
    /// Cells per stage (N).
    pub cells_per_stage: usize,
}

impl Nb201Supernet {
    /// The supernet of the given sizes.
    pub fn new(config: &Nb201NetworkConfig, device: &Device) -> Result<Self, NnError> {
        config.validate()?;
        let skeleton = Skeleton::new(config, device);
        Ok(Self {
            stem_conv: skeleton.stem_conv,
            stem_bn: skeleton.stem_bn,
            cells: cell_widths(config)
                .map(|width| SuperCell::new(width, device))
                .collect(),
            reductions: skeleton.reductions,
            head_bn: skeleton.head_bn,
            classifier: skeleton.classifier,
            cells_per_stage: config.cells,
        })
    }

    /// Logits in `mode`: images `[batch, in_channels, h, w]` -> `[batch, classes]`. In mixed
    /// mode the weights are `[6, 5]`, rows in `NB201_EDGES` order, columns in `NB201_OPS` order.
    pub fn forward(&self, mode: Mode<'_>, x: Tensor<4>) -> Tensor<2> {
        macro_forward(
            x,
            (&self.stem_conv, &self.stem_bn),
            &self.reductions,
            (&self.head_bn, &self.classifier),
            self.cells.len(),
            self.cells_per_stage,
            |index, x| self.cells[index].forward(mode, x),
        )
    }

    /// Logits of the path `arch`.
    pub fn forward_path(&self, arch: &Arch, x: Tensor<4>) -> Tensor<2> {
        self.forward(Mode::Path(arch), x)
    }

    /// Logits of DARTS' continuous relaxation with `weights` (`[6, 5]`) and DARTS-'s auxiliary
    /// skip `aux_skip` (0 disables it).
    pub fn forward_mixed(&self, weights: &Tensor<2>, aux_skip: f64, x: Tensor<4>) -> Tensor<2> {
        self.forward(Mode::Mixed(MixedWeights { weights, aux_skip }), x)
    }

    /// A standalone network of `arch` holding this supernet's weights for that path.
    pub fn extract(
        &self,
        arch: &Arch,
        config: &Nb201NetworkConfig,
        device: &Device,
    ) -> Result<Nb201Network, NnError> {
        let standalone = config.init(arch, device)?;
        let tensors = path_tensors(&named_tensors(self), arch);
        load_named(standalone, &tensors, std::path::Path::new("<supernet>"))
    }
}

impl MixedSupernet for Nb201Supernet {
    fn forward_mixed(&self, weights: &Tensor<2>, aux_skip: f64, x: Tensor<4>) -> Tensor<2> {
        Nb201Supernet::forward_mixed(self, weights, aux_skip, x)
    }
}

impl PathSupernet for Nb201Supernet {
    fn forward_path(&self, arch: &Arch, x: Tensor<4>) -> Tensor<2> {
        Nb201Supernet::forward_path(self, arch, x)
    }

    fn batch_norms(&mut self) -> Vec<&mut BatchNorm> {
        let mut all = vec![&mut self.stem_bn, &mut self.head_bn];
        for cell in &mut self.cells {
            for edge in &mut cell.edges {
                all.extend(edge.ops.iter_mut().flat_map(Nb201EdgeOp::batch_norms));
            }
        }
        for reduction in &mut self.reductions {
            all.push(&mut reduction.conv_a.bn);
            all.push(&mut reduction.conv_b.bn);
        }
        all
    }
}

/// The supernet's tensors renamed to a standalone network's names along `arch`:
/// `cells.i.edges.j.ops.<op>.x` becomes `cells.i.edges.j.<op>.x` for the op that `arch` selects
/// on edge j; tensors of unselected ops are dropped.
pub fn path_tensors(
    supernet: &BTreeMap<String, NamedTensor>,
    arch: &Arch,
) -> BTreeMap<String, NamedTensor> {
    crate::supernet::extract::path_tensors(supernet, |prefix| {
        // `cells.<i>.edges.<j>`
        let edge: usize = prefix.rsplit('.').next()?.parse().ok()?;
        let choice = *arch.choices.get(edge)?;
        Some(Nb201Op::from_choice(choice).name().to_string())
    })
}
