//! The NAS-Bench-201 supernet in single-path mode (DESIGN.md: `Path(arch)`) and in DARTS'
//! mixed mode (`Mixed`).
//!
//! One weight set holds every candidate op of every edge
//! (`cells.3.edges.2.nor_conv_3x3.conv.weight`); a forward pass runs only the ops that the given
//! architecture selects, so a step costs, in time and memory, one network's step. The rest of the
//! network (stem, reductions, head) is shared by all paths and named as in [`Nb201Network`], so a
//! path's weights copy out into a standalone network of that architecture.

use nasr_kernels::{AvgPool2d, BatchNorm, Conv2d};
use std::collections::BTreeMap;

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};
use nasr_data::{Batcher, Dataset, Normalization};
use nasr_space::Arch;
use nasr_space::nb201::{NB201_EDGES, NB201_OPS};

use crate::NnError;
use crate::nb201::{
    Nb201Network, Nb201NetworkConfig, ResidualReduction, Skeleton, cell_forward, cell_widths,
    macro_forward,
};
use crate::ops::{ReluConvBn, avg_pool_3x3};
use crate::params::{NamedTensor, load_named, named_tensors};

/// Every candidate op of one edge. `none` and `skip_connect` hold nothing.
#[derive(Module, Debug)]
pub struct SuperEdge {
    /// ReLU-Conv1x1-BN.
    pub nor_conv_1x1: ReluConvBn,
    /// ReLU-Conv3x3-BN.
    pub nor_conv_3x3: ReluConvBn,
    /// 3x3 average pool.
    pub avg_pool_3x3: AvgPool2d,
}

impl SuperEdge {
    fn new(channels: usize, device: &Device) -> Self {
        Self {
            nor_conv_1x1: ReluConvBn::new(channels, channels, 1, 1, device),
            nor_conv_3x3: ReluConvBn::new(channels, channels, 3, 1, device),
            avg_pool_3x3: avg_pool_3x3(),
        }
    }

    /// Runs only op `kind`; `None` for the zero op.
    fn forward(&self, kind: usize, x: Tensor<4>) -> Option<Tensor<4>> {
        match NB201_OPS[kind] {
            "none" => None,
            "skip_connect" => Some(x),
            "nor_conv_1x1" => Some(self.nor_conv_1x1.forward(x)),
            "nor_conv_3x3" => Some(self.nor_conv_3x3.forward(x)),
            _ => Some(self.avg_pool_3x3.forward(x)),
        }
    }

    /// DARTS' mixed op: the sum of every op's output weighted by row `edge` of `weights`
    /// (the zero op adds nothing), plus `aux_skip * x` (DARTS-'s auxiliary skip; 0 for none).
    fn forward_mixed(
        &self,
        weights: &Tensor<2>,
        edge: usize,
        aux_skip: f64,
        x: Tensor<4>,
    ) -> Option<Tensor<4>> {
        let mut sum = (aux_skip > 0.0).then(|| x.clone().mul_scalar(aux_skip));
        for kind in 0..NB201_OPS.len() {
            if let Some(out) = self.forward(kind, x.clone()) {
                let weighted = out * scalar_at(weights, edge, kind);
                sum = crate::ops::accumulate(sum, weighted);
            }
        }
        sum
    }

    fn batch_norms(&mut self) -> [&mut BatchNorm; 2] {
        [&mut self.nor_conv_1x1.bn, &mut self.nor_conv_3x3.bn]
    }
}

/// `weights[row, column]` as a `[1, 1, 1, 1]` tensor that broadcasts over feature maps.
fn scalar_at(weights: &Tensor<2>, row: usize, column: usize) -> Tensor<4> {
    weights
        .clone()
        .slice([row..row + 1, column..column + 1])
        .reshape([1, 1, 1, 1])
}

/// A cell holding every op on each of its six edges.
#[derive(Module, Debug)]
pub struct SuperCell {
    /// Edges in `NB201_EDGES` order.
    pub edges: Vec<SuperEdge>,
}

impl SuperCell {
    /// The cell's output along `arch`: `[batch, c, h, w]` -> `[batch, c, h, w]`.
    fn forward(&self, arch: &Arch, x: Tensor<4>) -> Tensor<4> {
        cell_forward(x, |edge, input| {
            self.edges[edge].forward(arch.choices[edge], input)
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
        let cells = cell_widths(config)
            .map(|width| SuperCell {
                edges: (0..NB201_EDGES.len())
                    .map(|_| SuperEdge::new(width, device))
                    .collect(),
            })
            .collect();
        Ok(Self {
            stem_conv: skeleton.stem_conv,
            stem_bn: skeleton.stem_bn,
            cells,
            reductions: skeleton.reductions,
            head_bn: skeleton.head_bn,
            classifier: skeleton.classifier,
            cells_per_stage: config.cells,
        })
    }

    /// Logits of the path `arch`: images `[batch, in_channels, h, w]` -> `[batch, classes]`.
    pub fn forward_path(&self, arch: &Arch, x: Tensor<4>) -> Tensor<2> {
        self.forward_cells(x, |index, x| self.cells[index].forward(arch, x))
    }

    /// Logits of DARTS' continuous relaxation: every edge of every cell is the mixed op weighted
    /// by its row of `weights` (`[6, 5]`, rows in `NB201_EDGES` order, columns in `NB201_OPS`
    /// order; DARTS passes softmax(alpha)). All cells share the weights, as in NB201's DARTS.
    /// `aux_skip` adds DARTS-'s auxiliary skip connection to every edge (0 disables it).
    pub fn forward_mixed(&self, weights: &Tensor<2>, aux_skip: f64, x: Tensor<4>) -> Tensor<2> {
        self.forward_cells(x, |index, x| {
            cell_forward(x, |edge, input| {
                self.cells[index].edges[edge].forward_mixed(weights, edge, aux_skip, input)
            })
        })
    }

    /// The macro network around the cells, with `cell(index, x)` running cell `index`.
    fn forward_cells(
        &self,
        x: Tensor<4>,
        cell: impl FnMut(usize, Tensor<4>) -> Tensor<4>,
    ) -> Tensor<2> {
        macro_forward(
            x,
            (&self.stem_conv, &self.stem_bn),
            &self.reductions,
            (&self.head_bn, &self.classifier),
            self.cells.len(),
            self.cells_per_stage,
            cell,
        )
    }

    /// Every BatchNorm of the supernet.
    fn batch_norms(&mut self) -> Vec<&mut BatchNorm> {
        let mut all = vec![&mut self.stem_bn, &mut self.head_bn];
        for cell in &mut self.cells {
            for edge in &mut cell.edges {
                all.extend(edge.batch_norms());
            }
        }
        for reduction in &mut self.reductions {
            all.push(&mut reduction.conv_a.bn);
            all.push(&mut reduction.conv_b.bn);
        }
        all
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

/// A supernet run one path at a time: what weight-sharing evaluation needs of it.
pub trait PathSupernet: Module {
    /// Logits of the path `arch`: images `[batch, c, h, w]` -> `[batch, classes]`.
    fn forward_path(&self, arch: &Arch, x: Tensor<4>) -> Tensor<2>;
    /// Every BatchNorm, so that recalibration can set their momentum.
    fn batch_norms(&mut self) -> Vec<&mut BatchNorm>;
}

impl PathSupernet for Nb201Supernet {
    fn forward_path(&self, arch: &Arch, x: Tensor<4>) -> Tensor<2> {
        Nb201Supernet::forward_path(self, arch, x)
    }

    fn batch_norms(&mut self) -> Vec<&mut BatchNorm> {
        Nb201Supernet::batch_norms(self)
    }
}

/// Recomputes every BatchNorm's running statistics from scratch along `arch`, as the
/// cumulative average over `batches` training batches (weight-sharing evaluation needs
/// statistics of the path it evaluates, not of the mixture it was trained on). Weights do not
/// change. Batches are drawn in order from `rng`'s shuffle of `dataset`.
pub fn recalibrate_bn<S: PathSupernet>(
    supernet: S,
    arch: &Arch,
    dataset: &Dataset,
    normalization: &Normalization,
    batch_size: usize,
    batches: usize,
    rng: &mut dyn rand::RngCore,
) -> S {
    let device = crate::train_device();
    // Training mode on the autodiff device (BatchNorm updates its statistics only there), but
    // without gradient tracking: nothing is recorded, so no activations are kept for a backward
    // pass that never comes.
    let mut model = reset_running_stats(supernet).train().no_grad();
    let momenta: Vec<f64> = model.batch_norms().iter().map(|bn| bn.momentum).collect();
    let batcher = Batcher::shuffled(dataset, normalization, batch_size, rng);
    let shape = dataset.shape;
    for index in 0..batches.min(batcher.len()) {
        // PyTorch's `momentum=None`: batch k enters the running average with weight 1/k.
        for bn in model.batch_norms() {
            bn.momentum = 1.0 / (index + 1) as f64;
        }
        let batch = batcher.plain_batch(index);
        let dims = [batch.len, shape.channels, shape.height, shape.width];
        let images =
            Tensor::<4>::from_data(burn::tensor::TensorData::new(batch.images, dims), &device);
        let _ = model.forward_path(arch, images.detach());
    }
    for (bn, momentum) in model.batch_norms().into_iter().zip(momenta) {
        bn.momentum = momentum;
    }
    model
}

/// Accuracy of the supernet path `arch` on `dataset` in evaluation mode, in [0, 1].
pub fn path_accuracy<S: PathSupernet>(
    supernet: &S,
    arch: &Arch,
    dataset: &Dataset,
    normalization: &Normalization,
    batch_size: usize,
) -> f64 {
    let model = supernet.valid();
    crate::train::accuracy(dataset, normalization, batch_size, |images| {
        model.forward_path(arch, images)
    })
}

/// Sets every running mean to 0 and running variance to 1.
fn reset_running_stats<M: Module>(model: M) -> M {
    let tensors: BTreeMap<String, NamedTensor> = named_tensors(&model)
        .into_iter()
        .map(|(name, mut tensor)| {
            if name.ends_with("running_mean") {
                tensor.values.iter_mut().for_each(|v| *v = 0.0);
            } else if name.ends_with("running_var") {
                tensor.values.iter_mut().for_each(|v| *v = 1.0);
            }
            (name, tensor)
        })
        .collect();
    load_named(model, &tensors, std::path::Path::new("<supernet>"))
        .expect("same module, same names")
}

/// The supernet's tensors renamed to a standalone network's names along `arch`:
/// `cells.i.edges.j.<op>.x` becomes `cells.i.edges.j.op.x` for the op that `arch` selects on
/// edge j; tensors of unselected ops are dropped.
pub fn path_tensors(
    supernet: &BTreeMap<String, NamedTensor>,
    arch: &Arch,
) -> BTreeMap<String, NamedTensor> {
    supernet
        .iter()
        .filter_map(|(name, tensor)| {
            let parts: Vec<&str> = name.split('.').collect();
            if parts.len() > 4 && parts[0] == "cells" && parts[2] == "edges" {
                let edge: usize = parts[3].parse().ok()?;
                if parts[4] != NB201_OPS[arch.choices[edge]] {
                    return None;
                }
                let renamed = [&parts[..4], &["op"], &parts[5..]].concat().join(".");
                Some((renamed, tensor.clone()))
            } else {
                Some((name.clone(), tensor.clone()))
            }
        })
        .collect()
}
