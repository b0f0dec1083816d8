//! The DARTS evaluation network of one genotype (DARTS' `NetworkCIFAR`): stacked cells whose
//! nodes each add two ops of two earlier nodes, an optional auxiliary head after the second
//! reduction, and drop-path on every non-identity op during training.

use burn::module::Module;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use nasr_kernels::{BatchNorm, Conv2d};
use nasr_space::darts::CellGenotype;
use rand::Rng;

use super::{DartsNetConfig, Preprocess, cell_plan, stem_conv};
use crate::NnError;
use crate::ops::Chosen;
use crate::ops::darts::DartsEdgeOp;
use nasr_space::darts::DartsPrimitive;

/// Drop-path during training: each non-identity op's output is zeroed per example with
/// probability `prob` and the survivors scaled by `1 / (1 - prob)`; masks come from `rng`.
pub struct DropPath<'a> {
    /// Probability of dropping.
    pub prob: f64,
    /// The stream the masks are drawn from.
    pub rng: &'a mut dyn rand::RngCore,
}

impl DropPath<'_> {
    fn apply(&mut self, x: Tensor<4>) -> Tensor<4> {
        if self.prob <= 0.0 {
            return x;
        }
        let [batch, _, _, _] = x.dims();
        let keep = 1.0 - self.prob;
        let mask: Vec<f32> = (0..batch)
            .map(|_| {
                if self.rng.random_bool(keep) {
                    (1.0 / keep) as f32
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::<4>::from_data(TensorData::new(mask, [batch, 1, 1, 1]), &x.device());
        x * mask
    }
}

/// One cell of a genotype.
#[derive(Module, Debug)]
pub struct EvalCell {
    /// Preprocessing of the cell two back.
    pub preprocess0: Preprocess,
    /// Preprocessing of the previous cell.
    pub preprocess1: Preprocess,
    /// Two ops per intermediate node, in node order.
    pub ops: Vec<Chosen<DartsEdgeOp>>,
    /// The input node of each op.
    pub inputs: Vec<usize>,
}

impl EvalCell {
    fn forward(&self, s0: Tensor<4>, s1: Tensor<4>, drop: &mut Option<DropPath<'_>>) -> Tensor<4> {
        let mut states = vec![self.preprocess0.forward(s0), self.preprocess1.forward(s1)];
        for pair in 0..self.ops.len() / 2 {
            let mut node: Option<Tensor<4>> = None;
            for k in [2 * pair, 2 * pair + 1] {
                let op = &self.ops[k].op;
                let mut out = op
                    .forward(states[self.inputs[k]].clone())
                    .expect("a genotype has no zero op");
                if let Some(drop) = drop.as_mut()
                    && !op.is_identity()
                {
                    out = drop.apply(out);
                }
                node = crate::ops::accumulate(node, out);
            }
            states.push(node.expect("two ops per node"));
        }
        Tensor::cat(states.split_off(2), 1)
    }
}

/// DARTS' auxiliary classifier: ReLU, average pooling to 2x2, Conv1x1 to 128 + BN + ReLU,
/// Conv2x2 to 768 + BN + ReLU, linear. (DARTS pools 8x8 CIFAR maps with a 5x5 window of
/// stride 3 to 2x2; the adaptive pool gives 2x2 from any size, such as MNIST's 7x7.)
#[derive(Module, Debug)]
pub struct AuxiliaryHead {
    /// Pool to 2x2.
    pub pool: AdaptiveAvgPool2d,
    /// 1x1 conv.
    pub conv1: Conv2d,
    /// Its BatchNorm.
    pub bn1: BatchNorm,
    /// 2x2 conv.
    pub conv2: Conv2d,
    /// Its BatchNorm.
    pub bn2: BatchNorm,
    /// Classifier.
    pub classifier: Linear,
}

impl AuxiliaryHead {
    fn new(channels: usize, classes: usize, device: &Device) -> Self {
        let conv = |c_in, c_out, k| {
            burn::nn::conv::Conv2dConfig::new([c_in, c_out], [k, k])
                .with_bias(false)
                .init(device)
                .into()
        };
        Self {
            pool: AdaptiveAvgPool2dConfig::new([2, 2]).init(),
            conv1: conv(channels, 128, 1),
            bn1: BatchNormConfig::new(128).init(device).into(),
            conv2: conv(128, 768, 2),
            bn2: BatchNormConfig::new(768).init(device).into(),
            classifier: LinearConfig::new(768, classes).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(x));
        let x = relu(self.bn1.forward(self.conv1.forward(x)));
        let x = relu(self.bn2.forward(self.conv2.forward(x)));
        let [batch, channels, _, _] = x.dims();
        self.classifier.forward(x.reshape([batch, channels]))
    }
}

/// The evaluation network of a genotype.
#[derive(Module, Debug)]
pub struct DartsNetwork {
    /// Stem convolution.
    pub stem_conv: Conv2d,
    /// Stem BatchNorm.
    pub stem_bn: BatchNorm,
    /// The cells.
    pub cells: Vec<EvalCell>,
    /// Auxiliary head after the second reduction cell (training only).
    pub auxiliary: Option<AuxiliaryHead>,
    /// Index of the cell the auxiliary head reads.
    pub auxiliary_after: usize,
    /// Linear classifier after global average pooling.
    pub classifier: Linear,
}

impl DartsNetwork {
    /// The network of the two cells `genotype` (normal, reduce) at the sizes of `config`.
    pub fn new(
        config: &DartsNetConfig,
        genotype: &[CellGenotype; 2],
        device: &Device,
    ) -> Result<Self, NnError> {
        config.validate()?;
        let (stem_channels, plan) = cell_plan(config);
        let cells: Vec<EvalCell> = plan
            .iter()
            .map(|cell| {
                let nodes = &genotype[usize::from(cell.reduction)];
                let (ops, inputs) = nodes
                    .iter()
                    .flatten()
                    .map(|&(op, input)| {
                        let stride = if cell.reduction && input < 2 { 2 } else { 1 };
                        let primitive = DartsPrimitive::from_index(op);
                        let op = DartsEdgeOp::new(primitive, cell.channels, stride, false, device);
                        (Chosen::new(op), input)
                    })
                    .unzip();
                EvalCell {
                    preprocess0: Preprocess::new(
                        cell.c_prev_prev,
                        cell.channels,
                        cell.reduction_prev,
                        device,
                    ),
                    preprocess1: Preprocess::new(cell.c_prev, cell.channels, false, device),
                    ops,
                    inputs,
                }
            })
            .collect();
        let auxiliary_after = 2 * config.layers / 3;
        let c_aux = 4 * plan[auxiliary_after].channels;
        let c_last = 4 * plan.last().expect("at least 3 cells").channels;
        Ok(Self {
            stem_conv: stem_conv(config.in_channels, stem_channels, device),
            stem_bn: BatchNormConfig::new(stem_channels).init(device).into(),
            cells,
            auxiliary: (config.auxiliary_weight > 0.0)
                .then(|| AuxiliaryHead::new(c_aux, config.classes, device)),
            auxiliary_after,
            classifier: LinearConfig::new(c_last, config.classes).init(device),
        })
    }

    /// Logits, without drop-path or the auxiliary head (evaluation).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_train(x, None).0
    }

    /// Logits and, when the network has an auxiliary head, its logits; with drop-path when
    /// `drop` is given.
    pub fn forward_train(
        &self,
        x: Tensor<4>,
        mut drop: Option<DropPath<'_>>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        let stem = self.stem_bn.forward(self.stem_conv.forward(x));
        let (mut s0, mut s1) = (stem.clone(), stem);
        let mut auxiliary = None;
        for (index, cell) in self.cells.iter().enumerate() {
            let out = cell.forward(s0, s1.clone(), &mut drop);
            (s0, s1) = (s1, out);
            if index == self.auxiliary_after {
                auxiliary = self.auxiliary.as_ref().map(|head| head.forward(s1.clone()));
            }
        }
        let logits = self.classifier.forward(crate::ops::pooled_features(s1));
        (logits, auxiliary)
    }
}

impl crate::train::Classifier for DartsNetwork {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        DartsNetwork::forward(self, images)
    }
}
