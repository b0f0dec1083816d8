//! The DARTS search supernet (mixed mode): every cell holds all eight ops on each of its 14
//! edges, and a forward pass sums them weighted by softmax(alpha). All normal cells share
//! alpha_normal and all reduction cells alpha_reduce, as in DARTS.

use burn::module::Module;
use burn::nn::{BatchNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use nasr_kernels::{BatchNorm, Conv2d};
use nasr_space::darts::{DARTS_EDGES, DARTS_NODES, DARTS_OPS};

use super::ops::DartsOp;
use super::{DartsNetConfig, Preprocess, cell_plan, stem_conv};
use crate::NnError;

/// Every op of one edge (`none` included, holding nothing).
#[derive(Module, Debug)]
pub struct MixedEdge {
    /// In `DARTS_OPS` order.
    pub ops: Vec<DartsOp>,
}

impl MixedEdge {
    fn new(channels: usize, stride: usize, device: &Device) -> Self {
        Self {
            ops: (0..DARTS_OPS.len())
                .map(|kind| DartsOp::new(kind, channels, stride, true, device))
                .collect(),
        }
    }

    /// Sum over ops of `weights[row, op] * op(x)`, plus `aux_skip` times the skip op's output
    /// (DARTS-'s auxiliary skip connection).
    fn forward(&self, weights: &Tensor<2>, row: usize, aux_skip: f64, x: Tensor<4>) -> Tensor<4> {
        let mut sum: Option<Tensor<4>> = None;
        for (kind, op) in self.ops.iter().enumerate() {
            let Some(out) = op.forward(x.clone()) else {
                continue;
            };
            let mut weight = weights
                .clone()
                .slice([row..row + 1, kind..kind + 1])
                .reshape([1, 1, 1, 1]);
            if aux_skip > 0.0 && DARTS_OPS[kind] == "skip_connect" {
                weight = weight.add_scalar(aux_skip);
            }
            let weighted = out * weight;
            sum = crate::ops::accumulate(sum, weighted);
        }
        sum.expect("an edge has non-zero ops")
    }
}

/// A search cell: preprocessing of its two inputs, then 14 mixed edges.
#[derive(Module, Debug)]
pub struct SearchCell {
    /// Brings the cell two back to this cell's channels (and size, after a reduction).
    pub preprocess0: Preprocess,
    /// Brings the previous cell to this cell's channels.
    pub preprocess1: Preprocess,
    /// Edges in node order: node 2's two, node 3's three, ...
    pub edges: Vec<MixedEdge>,
    /// Whether this is a reduction cell.
    pub reduction: bool,
}

impl SearchCell {
    /// The cell's output: the concatenation of its 4 intermediate nodes, `4 * channels` wide.
    fn forward(
        &self,
        s0: Tensor<4>,
        s1: Tensor<4>,
        weights: &Tensor<2>,
        aux_skip: f64,
    ) -> Tensor<4> {
        let mut states = vec![self.preprocess0.forward(s0), self.preprocess1.forward(s1)];
        let mut edge = 0;
        for _ in 0..DARTS_NODES {
            let mut node: Option<Tensor<4>> = None;
            for state in &states {
                let out = self.edges[edge].forward(weights, edge, aux_skip, state.clone());
                node = crate::ops::accumulate(node, out);
                edge += 1;
            }
            states.push(node.expect("every node has inputs"));
        }
        Tensor::cat(states.split_off(2), 1)
    }
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
                        MixedEdge::new(cell.channels, stride, device)
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
        let stem = self.stem_bn.forward(self.stem_conv.forward(x));
        let (mut s0, mut s1) = (stem.clone(), stem);
        for cell in &self.cells {
            let weights = if cell.reduction { &reduce } else { &normal };
            let out = cell.forward(s0, s1.clone(), weights, aux_skip);
            (s0, s1) = (s1, out);
        }
        let [batch, channels, _, _] = s1.dims();
        self.classifier
            .forward(s1.mean_dims(&[2, 3]).reshape([batch, channels]))
    }
}
