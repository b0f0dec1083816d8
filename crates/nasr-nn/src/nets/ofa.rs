//! Once-for-All's elastic supernet over the `ofa` space (`nasr_space::ofa`; OFA's
//! `OFAMobileNetV3`): every sub-network runs through one set of weights. The stem (3x3 conv,
//! BN, h-swish) and the fixed first MBConv of expansion 1 (3x3 depthwise, BN, ReLU, 1x1
//! projection, BN) run for every sub-network; then each unit runs its first d
//! [`ElasticMbConv`] slots with their chosen kernel and expansion; then the final 1x1 expansion
//! (BN, h-swish), global pooling, the 1x1 feature mix (no BN, h-swish) and the classifier. The
//! input is resized (bilinear) to the sub-network's resolution.
//!
//! [`OfaNet`] is one sub-network as a network of its own, fresh (`nasr train`) or cut out of a
//! trained supernet ([`OfaNet::extract`], OFA's `get_active_subnet`).
//!
//! Not modelled: OFA's dropout (0.1) before the classifier: burn draws its masks from the
//! backend's process-wide generator, which would break reproducibility.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::Module;
use burn::nn::{BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};
use nasr_kernels::{BatchNorm, Conv2d};
use nasr_space::ofa::{LayerSetting, OfaConfig, OfaSpace, OfaUnit, SlotShape};
use nasr_space::{Arch, Space};

use crate::NnError;
use crate::ops::elastic::{ElasticMbConv, hswish};
use crate::ops::mbconv::conv;
use crate::params::{NamedTensor, load_named, named_tensors};
use crate::supernet::PathSupernet;
use crate::train::Classifier;

/// The stem and the fixed first block, which every sub-network runs.
#[derive(Module, Debug)]
pub struct OfaStem {
    /// 3x3 stem conv.
    pub conv: Conv2d,
    /// Its BatchNorm.
    pub bn: BatchNorm,
    /// The first block's 3x3 depthwise conv.
    pub first_depthwise: Conv2d,
    /// Its BatchNorm.
    pub first_depthwise_bn: BatchNorm,
    /// The first block's 1x1 projection.
    pub first_project: Conv2d,
    /// Its BatchNorm.
    pub first_project_bn: BatchNorm,
    /// Whether the first block adds its input (same width in and out).
    pub first_residual: bool,
}

impl OfaStem {
    /// The stem of a space of sizes `c`.
    pub fn new(c: &OfaConfig, device: &Device) -> Self {
        let (stem, first) = (c.stem_channels, c.first_block_channels);
        Self {
            conv: conv(c.in_channels, stem, 3, c.stem_stride, 1, device),
            bn: batch_norm(stem, device),
            first_depthwise: conv(stem, stem, 3, 1, stem, device),
            first_depthwise_bn: batch_norm(stem, device),
            first_project: conv(stem, first, 1, 1, 1, device),
            first_project_bn: batch_norm(first, device),
            first_residual: stem == first,
        }
    }

    /// Stem conv, BN, h-swish, then the first block.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = hswish(self.bn.forward(self.conv.forward(x)));
        let first = relu(
            self.first_depthwise_bn
                .forward(self.first_depthwise.forward(h.clone())),
        );
        let first = self
            .first_project_bn
            .forward(self.first_project.forward(first));
        if self.first_residual {
            first + h
        } else {
            first
        }
    }

    fn batch_norms(&mut self) -> [&mut BatchNorm; 3] {
        [
            &mut self.bn,
            &mut self.first_depthwise_bn,
            &mut self.first_project_bn,
        ]
    }
}

/// The final expansion, pooling, feature mix and classifier, which every sub-network runs.
#[derive(Module, Debug)]
pub struct OfaHead {
    /// The final 1x1 expansion.
    pub final_expand: Conv2d,
    /// Its BatchNorm.
    pub final_expand_bn: BatchNorm,
    /// The 1x1 feature mix after pooling (no BatchNorm).
    pub feature_mix: Conv2d,
    /// Linear classifier.
    pub classifier: Linear,
}

impl OfaHead {
    /// The head of a space of sizes `c`.
    pub fn new(c: &OfaConfig, device: &Device) -> Self {
        let last = c.units.last().expect("a space has units").channels;
        let (expand, mix) = (c.final_expand_channels, c.feature_mix_channels);
        Self {
            final_expand: conv(last, expand, 1, 1, 1, device),
            final_expand_bn: batch_norm(expand, device),
            feature_mix: conv(expand, mix, 1, 1, 1, device),
            classifier: LinearConfig::new(mix, c.classes).init(device),
        }
    }

    /// `[batch, last unit's width, s, s]` -> logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let h = hswish(self.final_expand_bn.forward(self.final_expand.forward(x)));
        let pooled = crate::ops::global_average_pool(h);
        let mixed = hswish(self.feature_mix.forward(pooled));
        self.classifier.forward(crate::ops::pooled_features(mixed))
    }
}

fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device).into()
}

/// A layer slot as a network starts it: a residual slot as the identity
/// ([`ElasticMbConv::with_zero_last_gamma`]).
pub fn slot_layer(
    slot: &SlotShape,
    unit: &OfaUnit,
    kernels: &[usize],
    expansions: &[usize],
    device: &Device,
) -> ElasticMbConv {
    let layer = ElasticMbConv::new(slot, unit, kernels, expansions, device);
    if slot.residual() {
        layer.with_zero_last_gamma()
    } else {
        layer
    }
}

/// The elastic supernet of an [`OfaSpace`].
#[derive(Module, Debug)]
pub struct OfaSupernet {
    /// Stem and first block.
    pub stem: OfaStem,
    /// Every unit's layer slots, `units[u][position]`.
    pub units: Vec<Vec<ElasticMbConv>>,
    /// Final expansion, pooling, feature mix, classifier.
    pub head: OfaHead,
    /// The space whose sub-networks it runs.
    #[module(skip)]
    pub space: OfaSpace,
}

impl OfaSupernet {
    /// The supernet of `space`, every slot at its largest kernel and expansion; residual slots
    /// start as the identity.
    pub fn new(space: &OfaSpace, device: &Device) -> Self {
        let c = space.config();
        let units = (0..c.units.len())
            .map(|u| {
                space.slots()[u * c.max_depth..(u + 1) * c.max_depth]
                    .iter()
                    .map(|slot| slot_layer(slot, &c.units[u], &c.kernels, &c.expansions, device))
                    .collect()
            })
            .collect();
        Self {
            stem: OfaStem::new(c, device),
            units,
            head: OfaHead::new(c, device),
            space: space.clone(),
        }
    }

    /// Logits of sub-network `arch` on `x`, resized to its resolution.
    pub fn forward(&self, arch: &Arch, x: Tensor<4>) -> Result<Tensor<2>, NnError> {
        let space = &self.space;
        check(space, arch)?;
        let mut h = self.stem.forward(resize(x, space.resolution(arch)));
        for (unit, layers) in space.active_layers(arch).into_iter().enumerate() {
            for (position, setting) in layers.into_iter().enumerate() {
                h = self.units[unit][position].forward(h, setting)?;
            }
        }
        Ok(self.head.forward(h))
    }

    /// Every elastic layer with its middle channels sorted by importance (OFA, at the start of
    /// each expand phase); the full network computes the same function.
    pub fn reorganize_middle(mut self) -> Self {
        self.units = self
            .units
            .into_iter()
            .map(|unit| {
                unit.into_iter()
                    .map(ElasticMbConv::reorganize_middle)
                    .collect()
            })
            .collect();
        self
    }
}

fn check(space: &OfaSpace, arch: &Arch) -> Result<(), NnError> {
    space.check(arch).map_err(|e| NnError::Config {
        field: "architecture",
        problem: e.to_string(),
    })
}

impl PathSupernet for OfaSupernet {
    /// # Panics
    /// If `arch` is not a sub-network of the supernet's space.
    fn forward_path(&self, arch: &Arch, x: Tensor<4>) -> Tensor<2> {
        self.forward(arch, x)
            .unwrap_or_else(|e| panic!("a sub-network of the ofa space: {e}"))
    }

    fn batch_norms(&mut self) -> Vec<&mut BatchNorm> {
        let mut all: Vec<&mut BatchNorm> = self.stem.batch_norms().into();
        for layer in self.units.iter_mut().flatten() {
            all.extend([
                &mut layer.expand_bn,
                &mut layer.depthwise_bn,
                &mut layer.project_bn,
            ]);
        }
        all.push(&mut self.head.final_expand_bn);
        all
    }
}

/// One sub-network of the `ofa` space as a network of its own (OFA's `get_active_subnet`):
/// each unit's first d layers, each storing only its kernel and middle width. Its tensors are
/// named as the supernet's, so [`OfaNet::extract`] cuts it out of a trained supernet by name.
#[derive(Module, Debug)]
pub struct OfaNet {
    /// Stem and first block.
    pub stem: OfaStem,
    /// Each unit's active layers, `units[u][position]`.
    pub units: Vec<Vec<ElasticMbConv>>,
    /// Final expansion, pooling, feature mix, classifier.
    pub head: OfaHead,
    /// Each active layer's kernel and expansion, as `units`.
    #[module(skip)]
    pub settings: Vec<Vec<LayerSetting>>,
    /// The input resolution.
    #[module(skip)]
    pub resolution: usize,
}

impl OfaNet {
    /// Sub-network `arch` of `space`, freshly drawn (residual layers start as the identity).
    pub fn new(space: &OfaSpace, arch: &Arch, device: &Device) -> Result<Self, NnError> {
        check(space, arch)?;
        let c = space.config();
        let settings = space.active_layers(arch);
        let units = settings
            .iter()
            .enumerate()
            .map(|(u, layers)| {
                layers
                    .iter()
                    .enumerate()
                    .map(|(p, s)| {
                        let slot = &space.slots()[u * c.max_depth + p];
                        slot_layer(slot, &c.units[u], &[s.kernel], &[s.expansion], device)
                    })
                    .collect()
            })
            .collect();
        Ok(Self {
            stem: OfaStem::new(c, device),
            units,
            head: OfaHead::new(c, device),
            settings,
            resolution: space.resolution(arch),
        })
    }

    /// Sub-network `arch` cut out of `supernet`: every tensor the leading block of the
    /// supernet's tensor of the same name (weights, BatchNorm scales, shifts and running
    /// statistics, squeeze-excite), each depthwise kernel as the supernet computes it (centre
    /// crop through the kernel transforms). Its output equals the supernet's for `arch`.
    pub fn extract(supernet: &OfaSupernet, arch: &Arch) -> Result<Self, NnError> {
        let device = supernet.head.classifier.weight.device();
        let net = Self::new(&supernet.space, arch, &device)?;
        let source = named_tensors(supernet);
        let mut tensors = BTreeMap::new();
        for (name, wanted) in named_tensors(&net) {
            let stored = &source[&name];
            let tensor = match depthwise_slot(&name) {
                Some((u, p)) => {
                    let setting = net.settings[u][p];
                    let middle = wanted.shape[0];
                    let kernel = supernet.units[u][p]
                        .depthwise
                        .kernel_weight(setting.kernel, middle)?;
                    NamedTensor::from_data(kernel.into_data())
                }
                None => leading_block(stored, &wanted.shape),
            };
            tensors.insert(name, tensor);
        }
        load_named(net, &tensors, Path::new("<ofa supernet>"))
    }
}

impl Classifier for OfaNet {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut h = self.stem.forward(resize(images, self.resolution));
        for (layers, settings) in self.units.iter().zip(&self.settings) {
            for (layer, &setting) in layers.iter().zip(settings) {
                h = layer
                    .forward(h, setting)
                    .expect("each layer stores exactly its setting");
            }
        }
        self.head.forward(h)
    }
}

/// `(unit, position)` of a tensor named `units.U.P.depthwise.weight`.
fn depthwise_slot(name: &str) -> Option<(usize, usize)> {
    let rest = name
        .strip_prefix("units.")?
        .strip_suffix(".depthwise.weight")?;
    let (unit, position) = rest.split_once('.')?;
    Some((unit.parse().ok()?, position.parse().ok()?))
}

/// The block of `tensor` at index 0 along every axis with extent `shape` (OFA's weight
/// prefixes `[:out, :in]`, BatchNorm `[:C]`).
fn leading_block(tensor: &NamedTensor, shape: &[usize]) -> NamedTensor {
    let strides: Vec<usize> = (0..tensor.shape.len())
        .map(|axis| tensor.shape[axis + 1..].iter().product())
        .collect();
    let count: usize = shape.iter().product();
    let values = (0..count)
        .map(|flat| {
            let mut rest = flat;
            let mut offset = 0;
            for axis in (0..shape.len()).rev() {
                offset += (rest % shape[axis]) * strides[axis];
                rest /= shape[axis];
            }
            tensor.values[offset]
        })
        .collect();
    NamedTensor {
        shape: shape.to_vec(),
        values,
    }
}

/// `x` resized (bilinear) to `size` x `size`, unchanged where it already is.
pub fn resize(x: Tensor<4>, size: usize) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    if h == size && w == size {
        return x;
    }
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([size, size]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::parameter_count;
    use nasr_space::SeedStreams;
    use nasr_space::ofa::OfaConfig;

    fn space() -> OfaSpace {
        OfaSpace::new(OfaConfig::default()).unwrap()
    }

    fn supernet(space: &OfaSpace, device: &Device) -> OfaSupernet {
        crate::init::seeded(&mut SeedStreams::new(1).stream("init"), || {
            Ok::<_, NnError>(OfaSupernet::new(space, device))
        })
        .unwrap()
        .train()
    }

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec().unwrap()
    }

    /// The supernet stores the largest sub-network and, per slot, the two kernel transforms.
    #[test]
    fn the_supernet_holds_the_largest_subnetwork_and_the_kernel_transforms() {
        let space = space();
        let device = crate::Compute::Cpu.eval_device();
        let net = supernet(&space, &device);
        let largest = space
            .parse("r28|k7_e6-k7_e6-k7_e6-k7_e6|k7_e6-k7_e6-k7_e6-k7_e6|k7_e6-k7_e6-k7_e6-k7_e6|k7_e6-k7_e6-k7_e6-k7_e6|k7_e6-k7_e6-k7_e6-k7_e6")
            .unwrap();
        let transforms = space.slots().len() * (25 * 25 + 9 * 9);
        assert_eq!(
            parameter_count(&net) as u64,
            space.cost(&largest).params + transforms as u64
        );
    }

    /// Depth d runs exactly the first d slots of a unit: the later slots' weights do not
    /// reach the output, the d-th one's do; every resolution gives logits of the classes.
    #[test]
    fn depth_d_runs_exactly_the_first_d_slots() {
        let space = space();
        // Batch statistics: a fresh network's running ones (mean 0, variance 1) shrink the
        // signal by ~50x per layer, to logits that no longer depend on the input.
        let device = crate::Compute::Cpu.train_device();
        let net = supernet(&space, &device);
        let arch = space
            .parse(
                "r20|k3_e4-k5_e6|k7_e3-k3_e3-k5_e4|k3_e6-k3_e6|k5_e3-k5_e3-k5_e3-k5_e3|k7_e6-k7_e4",
            )
            .unwrap();
        let x = crate::init::normal_tensor(
            [2, 1, 28, 28],
            &mut SeedStreams::new(2).stream("x"),
            &device,
        );
        let logits = net.forward(&arch, x.clone()).unwrap();
        assert_eq!(logits.dims(), [2, 10]);
        let reference = values(logits);
        assert_ne!(reference[..10], reference[10..], "the two images differ");
        let scaled = |mut net: OfaSupernet, unit: usize, position: usize| {
            let layer = &mut net.units[unit][position];
            layer.project.weight = layer.project.weight.clone().map(|w| w.mul_scalar(3.0));
            layer.expand.weight = layer.expand.weight.clone().map(|w| w.mul_scalar(-2.0));
            // A residual slot starts as the identity (scale 0): give it a scale to show.
            let ones = layer.project_bn.gamma.val().ones_like();
            layer.project_bn.gamma = burn::module::Param::from_tensor(ones);
            net
        };
        // Unit 0 runs 2 slots: the third and fourth do not matter, the second does.
        for position in [2, 3] {
            let changed = scaled(supernet(&space, &device), 0, position);
            assert_eq!(
                values(changed.forward(&arch, x.clone()).unwrap()),
                reference
            );
        }
        let changed = scaled(supernet(&space, &device), 0, 1);
        assert_ne!(
            values(changed.forward(&arch, x.clone()).unwrap()),
            reference
        );
        for resolution in [16, 24, 28] {
            let mut other = arch.clone();
            other.choices[0] = space
                .config()
                .resolutions
                .iter()
                .position(|&r| r == resolution)
                .unwrap();
            assert_eq!(net.forward(&other, x.clone()).unwrap().dims(), [2, 10]);
        }
    }
}
