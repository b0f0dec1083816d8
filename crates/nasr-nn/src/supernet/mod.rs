//! Supernets: one weight set holding every candidate op of a space, run in one of its modes.
//!
//! - [`Mode::Path`]: single-path, one architecture's ops only (SPOS, RSWS, FairNAS); a step
//!   costs, in time and memory, one network's step.
//! - [`Mode::Mixed`]: DARTS' continuous relaxation, every op of an edge weighted by its row of
//!   the architecture weights.
//! - Gated ([`gated`]): ProxylessNAS's binary gates, per layer the active op of a pair of
//!   candidates with its gate, the other computed only for its gate's gradient; a step costs
//!   about one path's memory. Chain-structured spaces only ([`GatedSupernet`]).
//!
//! Every edge or layer is a [`MixedOp`], which runs in each mode ([`EdgeMode`]); a space's
//! supernet (in `nets/`) maps the [`Mode`] onto its edges. [`bn`] recalibrates BatchNorm along a
//! path, the evaluation step of every weight-sharing method; [`extract`] copies a path's weights
//! out under a standalone network's names.

pub mod bn;
pub mod extract;
pub mod gated;

use burn::module::Module;
use burn::tensor::Tensor;
use nasr_kernels::BatchNorm;
use nasr_space::Arch;

use crate::ops::{CandidateOp, CandidateOps};

pub use bn::{RecalBatches, cumulative_statistics, path_accuracy, recalibrate_bn};
pub use gated::{GatePair, Gates};

/// How a supernet runs.
#[derive(Debug, Clone, Copy)]
pub enum Mode<'a> {
    /// Only the ops that the architecture selects.
    Path(&'a Arch),
    /// Every op of every edge, weighted.
    Mixed(MixedWeights<'a>),
}

/// The weights of [`Mode::Mixed`].
#[derive(Debug, Clone, Copy)]
pub struct MixedWeights<'a> {
    /// `[edges, ops]`, one row per edge in the space's edge order, columns in its op order
    /// (DARTS passes softmax(alpha)).
    pub weights: &'a Tensor<2>,
    /// DARTS-'s auxiliary skip connection: added to the skip op's weight on every edge
    /// (0 disables it).
    pub aux_skip: f64,
}

/// What one edge (or layer) runs: option `k` alone, every option weighted by row `row`, or a
/// gated pair.
#[derive(Debug, Clone, Copy)]
pub enum EdgeMode<'a> {
    /// Option `k` of the edge's decision alone.
    Path(usize),
    /// Every option, weighted by row `row` of the mixed weights.
    Mixed {
        /// The weights.
        weights: MixedWeights<'a>,
        /// The edge's row.
        row: usize,
    },
    /// The active option of `pair` times its gate, plus the other's output (computed without
    /// autodiff) times its gate; the gates are row `row` of `values`.
    Gated {
        /// The layer's pair.
        pair: GatePair,
        /// `[layers, 2]` gate values.
        values: &'a Tensor<2>,
        /// The layer's row.
        row: usize,
    },
}

/// A candidate op that can sit on a supernet edge.
pub trait EdgeOp: CandidateOp {
    /// Applies the op; `None` for the zero op. For a block with an identity shortcut (MBConv)
    /// this is the block's own branch, without the shortcut: the supernet adds the shortcut
    /// around the mixed op, as ProxylessNAS's `MobileInvertedResidualBlock` does, so that
    /// weights and gates scale the branch only, and skipping a layer leaves the shortcut.
    fn apply(&self, x: Tensor<4>) -> Option<Tensor<4>>;
    /// Whether the op is the space's `skip_connect` (at any stride), which DARTS-'s auxiliary
    /// skip weights up.
    fn is_skip(&self) -> bool;
}

/// Every candidate op of one edge, run in either mode.
#[derive(Module, Debug)]
pub struct MixedOp<O: EdgeOp> {
    /// The candidates, in the space's option order.
    pub ops: CandidateOps<O>,
}

impl<O: EdgeOp> MixedOp<O> {
    /// The edge of these candidates.
    pub fn new(ops: Vec<O>) -> Self {
        Self {
            ops: CandidateOps::new(ops),
        }
    }

    /// The edge's output in `mode`; `None` where nothing contributes (a zero op alone, or a
    /// skip option of a MobileNet layer, which holds no op).
    pub fn forward(&self, mode: EdgeMode<'_>, x: Tensor<4>) -> Option<Tensor<4>> {
        match mode {
            EdgeMode::Path(option) => self.ops.get(option)?.apply(x),
            EdgeMode::Mixed { weights, row } => self.forward_mixed(weights, row, x),
            EdgeMode::Gated { pair, values, row } => self.forward_gated(pair, values, row, x),
        }
    }

    /// ProxylessNAS's gated op (`full_v2`): `g_a * o_a(x) + g_k * o_k`, with `o_k` the other
    /// option's output on the detached input, itself detached, so that its activations are not
    /// kept and no gradient reaches `x` or the weights through it; `dL/dg_k = <o_k, dL/dy>`
    /// all the same. A skip option (no op) has a zero output.
    fn forward_gated(
        &self,
        pair: GatePair,
        values: &Tensor<2>,
        row: usize,
        x: Tensor<4>,
    ) -> Option<Tensor<4>> {
        let gate = |slot: usize| scalar_at(values, row, slot);
        let active = self
            .ops
            .get(pair.active_option())
            .and_then(|op| op.apply(x.clone()))
            .map(|out| out * gate(pair.active));
        let inactive = self
            .ops
            .get(pair.inactive_option())
            .and_then(|op| op.apply(x.detach()))
            .map(|out| out.detach() * gate(1 - pair.active));
        match (active, inactive) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        }
    }

    /// DARTS' mixed op: the sum over ops of `weights[row, op] * op(x)` (the zero op adds
    /// nothing), the skip op's weight raised by the auxiliary skip.
    fn forward_mixed(
        &self,
        weights: MixedWeights<'_>,
        row: usize,
        x: Tensor<4>,
    ) -> Option<Tensor<4>> {
        let mut sum: Option<Tensor<4>> = None;
        for (column, op) in self.ops.iter().enumerate() {
            let Some(out) = op.apply(x.clone()) else {
                continue;
            };
            let mut weight = scalar_at(weights.weights, row, column);
            if weights.aux_skip > 0.0 && op.is_skip() {
                weight = weight.add_scalar(weights.aux_skip);
            }
            sum = crate::ops::accumulate(sum, out * weight);
        }
        sum
    }
}

/// `weights[row, column]` as a `[1, 1, 1, 1]` tensor that broadcasts over feature maps.
fn scalar_at(weights: &Tensor<2>, row: usize, column: usize) -> Tensor<4> {
    weights
        .clone()
        .slice([row..row + 1, column..column + 1])
        .reshape([1, 1, 1, 1])
}

/// A supernet run in DARTS' continuous relaxation: what differentiable search needs of it.
pub trait MixedSupernet: Module {
    /// Logits with every edge a weighted sum of its ops: `weights` has alpha's shape (one row
    /// per edge); `aux_skip` adds DARTS-'s auxiliary skip to every edge (0 disables it).
    fn forward_mixed(&self, weights: &Tensor<2>, aux_skip: f64, x: Tensor<4>) -> Tensor<2>;
}

/// A supernet run with ProxylessNAS's binary gates: what its architecture step needs.
pub trait GatedSupernet: PathSupernet {
    /// Logits with every layer gated by its pair in `gates` (one pair per layer).
    fn forward_gated(&self, gates: Gates<'_>, x: Tensor<4>) -> Tensor<2>;
}

/// A supernet run one path at a time: what weight-sharing evaluation needs of it.
pub trait PathSupernet: Module {
    /// Logits of the path `arch`: images `[batch, c, h, w]` -> `[batch, classes]`.
    fn forward_path(&self, arch: &Arch, x: Tensor<4>) -> Tensor<2>;
    /// Every BatchNorm, so that recalibration can set their momentum.
    fn batch_norms(&mut self) -> Vec<&mut BatchNorm>;
}
