//! The DARTS search supernet (mixed mode): every cell holds all eight ops on each of its 14
//! edges, and a forward pass sums them weighted by softmax(alpha). All normal cells share
//! alpha_normal and all reduction cells alpha_reduce, as in DARTS. In path mode (FTT-NAS's
//! weight-sharing search) a derived cell's ops alone run, each node summing its two inputs.

use burn::module::Module;
use burn::nn::{BatchNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use nasr_kernels::{BatchNorm, Conv2d};
use nasr_space::darts::{
    CellGenotype, DARTS_EDGES, DARTS_NODES, DARTS_OPS, DartsPrimitive, first_edge,
};
use nasr_space::{Arch, DartsSpace};

use super::{DartsNetConfig, Preprocess, cell_plan, stem_conv};
use crate::NnError;
use crate::ops::darts::DartsEdgeOp;
use crate::supernet::{EdgeMode, EdgeOp, MixedOp, MixedSupernet, MixedWeights, PathSupernet};

impl EdgeOp for DartsEdgeOp {
    fn apply(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        self.forward(x)
    }

    fn is_skip(&self) -> bool {
        self.primitive() == DartsPrimitive::SkipConnect
    }
}

/// Every op of one edge (`none` included, holding nothing), with the search supernet's
/// BatchNorm after pools.
fn mixed_edge(channels: usize, stride: usize, device: &Device) -> MixedOp<DartsEdgeOp> {
    MixedOp::new(
        DartsPrimitive::ALL
            .iter()
            .map(|&op| DartsEdgeOp::new(op, channels, stride, true, device))
            .collect(),
    )
}

/// A search cell: preprocessing of its two inputs, then 14 mixed edges.
#[derive(Module, Debug)]
pub struct SearchCell {
    /// Brings the cell two back to this cell's channels (and size, after a reduction).
    pub preprocess0: Preprocess,
    /// Brings the previous cell to this cell's channels.
    pub preprocess1: Preprocess,
    /// Edges in node order: node 2's two, node 3's three, ...
    pub edges: Vec<MixedOp<DartsEdgeOp>>,
    /// Whether this is a reduction cell.
    pub reduction: bool,
}

/// What one intermediate node of a search cell sums: per input node, the edge's mode.
type NodeInputs<'a> = Vec<(usize, EdgeMode<'a>)>;

impl SearchCell {
    /// The cell's output: the concatenation of its 4 intermediate nodes, `4 * channels` wide.
    /// Node `j` sums, over the inputs `inputs(j)` names, edge `first_edge(j) + input` run in
    /// that input's mode.
    fn forward<'a>(
        &self,
        s0: Tensor<4>,
        s1: Tensor<4>,
        inputs: impl Fn(usize) -> NodeInputs<'a>,
    ) -> Tensor<4> {
        let mut states = vec![self.preprocess0.forward(s0), self.preprocess1.forward(s1)];
        for node in 0..DARTS_NODES {
            let mut sum: Option<Tensor<4>> = None;
            for (input, mode) in inputs(node) {
                let edge = &self.edges[first_edge(node) + input];
                if let Some(out) = edge.forward(mode, states[input].clone()) {
                    sum = crate::ops::accumulate(sum, out);
                }
            }
            // A derived node's two ops are never `none`, and a mixed edge has non-zero ops.
            states.push(sum.expect("every node has a non-zero input"));
        }
        Tensor::cat(states.split_off(2), 1)
    }

    /// Every BatchNorm of the cell.
    fn batch_norms(&mut self) -> Vec<&mut BatchNorm> {
        let mut all = vec![self.preprocess0.batch_norm(), self.preprocess1.batch_norm()];
        for edge in &mut self.edges {
            all.extend(edge.ops.iter_mut().flat_map(DartsEdgeOp::batch_norms));
        }
        all
    }
}

/// Every input of node `node`, each edge weighted by its row of `weights`.
fn mixed_inputs(weights: MixedWeights<'_>, node: usize) -> NodeInputs<'_> {
    (0..node + 2)
        .map(|input| {
            let row = first_edge(node) + input;
            (input, EdgeMode::Mixed { weights, row })
        })
        .collect()
}

/// The two inputs of node `node` of a derived cell, each through its op alone.
fn path_inputs(cell: &CellGenotype, node: usize) -> NodeInputs<'static> {
    cell[node]
        .iter()
        .map(|&(op, input)| (input, EdgeMode::Path(op)))
        .collect()
}

/// The DARTS search network.
#[derive(Module, Debug)]
pub struct DartsSupernet {
    /// Stem convolution (3x3, to `stem_multiplier * C` channels).
    pub stem_conv: Conv2d,
    /// Stem BatchNorm.
    pub stem_bn: BatchNorm,
    /// The cells; reduction cells at 1/3 and 2/3 of the depth.
    pub cells: Vec<SearchCell>,
    /// Linear classifier after global average pooling.
    pub classifier: Linear,
}

impl DartsSupernet {
    /// The supernet of `config` (its auxiliary head and drop-path are not used in search).
    pub fn new(config: &DartsNetConfig, device: &Device) -> Result<Self, NnError> {
        config.validate()?;
        let (stem_channels, plan) = cell_plan(config);
        let cells = plan
            .iter()
            .map(|cell| SearchCell {
                preprocess0: Preprocess::new(
                    cell.c_prev_prev,
                    cell.channels,
                    cell.reduction_prev,
                    device,
                ),
                preprocess1: Preprocess::new(cell.c_prev, cell.channels, false, device),
                edges: (0..DARTS_NODES)
                    .flat_map(|node| (0..node + 2).map(move |input| (node, input)))
                    .map(|(_, input)| {
                        let stride = if cell.reduction && input < 2 { 2 } else { 1 };
                        mixed_edge(cell.channels, stride, device)
                    })
                    .collect(),
                reduction: cell.reduction,
            })
            .collect::<Vec<_>>();
        debug_assert!(cells.iter().all(|c| c.edges.len() == DARTS_EDGES));
        let c_last = plan.last().map_or(stem_channels, |c| 4 * c.channels);
        Ok(Self {
            stem_conv: stem_conv(config.in_channels, stem_channels, device),
            stem_bn: BatchNormConfig::new(stem_channels).init(device).into(),
            cells,
            classifier: LinearConfig::new(c_last, config.classes).init(device),
        })
    }

    /// Logits of the continuous relaxation. `weights` is `[28, 8]`: rows 0-13 weight the
    /// normal cells' edges, rows 14-27 the reduction cells' (DARTS passes softmax(alpha)).
    pub fn forward_mixed(&self, weights: &Tensor<2>, aux_skip: f64, x: Tensor<4>) -> Tensor<2> {
        let normal = weights.clone().slice([0..DARTS_EDGES, 0..DARTS_OPS.len()]);
        let reduce = weights
            .clone()
            .slice([DARTS_EDGES..2 * DARTS_EDGES, 0..DARTS_OPS.len()]);
        self.forward_cells(x, |reduction| {
            let weights = if reduction { &reduce } else { &normal };
            let weights = MixedWeights { weights, aux_skip };
            Box::new(move |node| mixed_inputs(weights, node))
        })
    }

    /// Logits of the path `arch` of the DARTS space: each node of each cell sums its two
    /// chosen inputs, each through its chosen op only (the search supernet's weights and
    /// BatchNorms, pools included).
    pub fn forward_path(&self, arch: &Arch, x: Tensor<4>) -> Tensor<2> {
        let [normal, reduce] = DartsSpace::new().genotype(arch);
        self.forward_cells(x, |reduction| {
            let cell = if reduction { &reduce } else { &normal };
            Box::new(move |node| path_inputs(cell, node))
        })
    }

    /// The stem, the cells (each run as `cell_inputs` says for its type: reduction or not)
    /// and the classifier.
    fn forward_cells<'a>(
        &self,
        x: Tensor<4>,
        cell_inputs: impl Fn(bool) -> CellInputs<'a>,
    ) -> Tensor<2> {
        let stem = self.stem_bn.forward(self.stem_conv.forward(x));
        let (mut s0, mut s1) = (stem.clone(), stem);
        for cell in &self.cells {
            let out = cell.forward(s0, s1.clone(), cell_inputs(cell.reduction));
            (s0, s1) = (s1, out);
        }
        self.classifier.forward(crate::ops::pooled_features(s1))
    }
}

/// What each node of a cell sums, by node.
type CellInputs<'a> = Box<dyn Fn(usize) -> NodeInputs<'a> + 'a>;

impl PathSupernet for DartsSupernet {
    fn forward_path(&self, arch: &Arch, x: Tensor<4>) -> Tensor<2> {
        DartsSupernet::forward_path(self, arch, x)
    }

    fn batch_norms(&mut self) -> Vec<&mut BatchNorm> {
        let mut all = vec![&mut self.stem_bn];
        for cell in &mut self.cells {
            all.extend(cell.batch_norms());
        }
        all
    }
}

impl MixedSupernet for DartsSupernet {
    fn forward_mixed(&self, weights: &Tensor<2>, aux_skip: f64, x: Tensor<4>) -> Tensor<2> {
        DartsSupernet::forward_mixed(self, weights, aux_skip, x)
    }
}
