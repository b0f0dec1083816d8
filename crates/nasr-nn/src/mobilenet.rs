//! Networks of the MobileNet space (`nasr_space::mobilenet`): the standalone network of one
//! architecture, and the single-path supernet that holds every candidate block of every layer
//! (`layers.3.k5_e6.depthwise.weight`).
//!
//! A block is MBConv as in ProxylessNAS and FairNAS: 1x1 expansion + BN + ReLU6, kxk depthwise
//! (strided) + BN + ReLU6, 1x1 projection + BN, plus the input when the layer is residual.

use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use nasr_kernels::{BatchNorm, Conv2d};
use nasr_space::mobilenet::{LayerChoice, LayerShape, MobileNetSpace};
use nasr_space::{Arch, Space};

use crate::NnError;

fn relu6(x: Tensor<4>) -> Tensor<4> {
    x.clamp(0.0, 6.0)
}

fn conv(
    c_in: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
        .with_groups(groups)
        .with_bias(false)
        .init(device)
        .into()
}

/// One inverted-residual block.
#[derive(Module, Debug)]
pub struct MbConv {
    /// 1x1 expansion (absent at ratio 1).
    pub expand: Option<Conv2d>,
    /// BatchNorm after the expansion.
    pub expand_bn: Option<BatchNorm>,
    /// kxk depthwise conv.
    pub depthwise: Conv2d,
    /// BatchNorm after it.
    pub depthwise_bn: BatchNorm,
    /// 1x1 projection.
    pub project: Conv2d,
    /// BatchNorm after it.
    pub project_bn: BatchNorm,
    /// Add the input to the output.
    pub residual: bool,
}

impl MbConv {
    /// The block of `kernel` and `expansion` for a layer of `shape`.
    pub fn new(shape: &LayerShape, kernel: usize, expansion: usize, device: &Device) -> Self {
        let hidden = shape.c_in * expansion;
        let expands = expansion != 1;
        Self {
            expand: expands.then(|| conv(shape.c_in, hidden, 1, 1, 1, device)),
            expand_bn: expands.then(|| BatchNormConfig::new(hidden).init(device).into()),
            depthwise: conv(hidden, hidden, kernel, shape.stride, hidden, device),
            depthwise_bn: BatchNormConfig::new(hidden).init(device).into(),
            project: conv(hidden, shape.c_out, 1, 1, 1, device),
            project_bn: BatchNormConfig::new(shape.c_out).init(device).into(),
            residual: shape.residual(),
        }
    }

    /// `[batch, c_in, s, s]` -> `[batch, c_out, ceil(s / stride), ...]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = x.clone();
        if let (Some(expand), Some(bn)) = (&self.expand, &self.expand_bn) {
            h = relu6(bn.forward(expand.forward(h)));
        }
        h = relu6(self.depthwise_bn.forward(self.depthwise.forward(h)));
        h = self.project_bn.forward(self.project.forward(h));
        if self.residual { h + x } else { h }
    }
}

/// Stem, head and classifier around the searchable layers (shared by network and supernet).
#[derive(Module, Debug)]
pub struct MobileNetSkeleton {
    /// 3x3 stem conv.
    pub stem_conv: Conv2d,
    /// Stem BatchNorm.
    pub stem_bn: BatchNorm,
    /// 1x1 head conv.
    pub head_conv: Conv2d,
    /// Head BatchNorm.
    pub head_bn: BatchNorm,
    /// Linear classifier.
    pub classifier: Linear,
}

impl MobileNetSkeleton {
    fn new(space: &MobileNetSpace, device: &Device) -> Self {
        let c = space.config();
        let last = space.layers().last().map_or(c.stem_channels, |l| l.c_out);
        Self {
            stem_conv: conv(c.in_channels, c.stem_channels, 3, c.stem_stride, 1, device),
            stem_bn: BatchNormConfig::new(c.stem_channels).init(device).into(),
            head_conv: conv(last, c.head_channels, 1, 1, 1, device),
            head_bn: BatchNormConfig::new(c.head_channels).init(device).into(),
            classifier: LinearConfig::new(c.head_channels, c.classes).init(device),
        }
    }

    /// Stem, then `layers(x)`, then head, pooling and classifier.
    fn forward(&self, x: Tensor<4>, layers: impl FnOnce(Tensor<4>) -> Tensor<4>) -> Tensor<2> {
        let x = relu6(self.stem_bn.forward(self.stem_conv.forward(x)));
        let x = layers(x);
        let x = relu6(self.head_bn.forward(self.head_conv.forward(x)));
        let [batch, channels, _, _] = x.dims();
        self.classifier
            .forward(x.mean_dims(&[2, 3]).reshape([batch, channels]))
    }
}

/// The standalone network of one architecture. Skipped layers hold nothing.
#[derive(Module, Debug)]
pub struct MobileNetNetwork {
    /// Stem, head and classifier.
    pub skeleton: MobileNetSkeleton,
    /// One block per searchable layer; `None` where the architecture skips it.
    pub layers: Vec<Option<MbConv>>,
}

impl MobileNetNetwork {
    /// The network of `arch` in `space`.
    pub fn new(space: &MobileNetSpace, arch: &Arch, device: &Device) -> Result<Self, NnError> {
        space.check(arch)?;
        let layers = space
            .layers()
            .iter()
            .enumerate()
            .map(
                |(index, shape)| match space.choice(index, arch.choices[index]) {
                    LayerChoice::MbConv { kernel, expansion } => {
                        Some(MbConv::new(shape, kernel, expansion, device))
                    }
                    LayerChoice::Skip => None,
                },
            )
            .collect();
        Ok(Self {
            skeleton: MobileNetSkeleton::new(space, device),
            layers,
        })
    }

    /// Images `[batch, in_channels, s, s]` -> logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.skeleton.forward(x, |mut x| {
            for block in self.layers.iter().flatten() {
                x = block.forward(x);
            }
            x
        })
    }
}

impl crate::train::Classifier for MobileNetNetwork {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        MobileNetNetwork::forward(self, images)
    }
}

/// Every candidate block of one layer, in the layer's option order (a skip option holds none).
#[derive(Module, Debug)]
pub struct SuperLayer {
    /// Candidate blocks.
    pub blocks: Vec<MbConv>,
}

/// The single-path supernet of a MobileNet space.
#[derive(Module, Debug)]
pub struct MobileNetSupernet {
    /// Stem, head and classifier, shared by every path.
    pub skeleton: MobileNetSkeleton,
    /// One [`SuperLayer`] per searchable layer.
    pub layers: Vec<SuperLayer>,
}

impl MobileNetSupernet {
    /// The supernet of `space`.
    pub fn new(space: &MobileNetSpace, device: &Device) -> Self {
        let layers = space
            .layers()
            .iter()
            .enumerate()
            .map(|(index, shape)| SuperLayer {
                blocks: (0..space.decisions()[index].options.len())
                    .filter_map(|option| match space.choice(index, option) {
                        LayerChoice::MbConv { kernel, expansion } => {
                            Some(MbConv::new(shape, kernel, expansion, device))
                        }
                        LayerChoice::Skip => None,
                    })
                    .collect(),
            })
            .collect();
        Self {
            skeleton: MobileNetSkeleton::new(space, device),
            layers,
        }
    }

    /// Logits of the path `arch`; a skip option (always the last) passes the input through.
    pub fn forward_path(&self, arch: &Arch, x: Tensor<4>) -> Tensor<2> {
        self.skeleton.forward(x, |mut x| {
            for (layer, &option) in self.layers.iter().zip(&arch.choices) {
                if let Some(block) = layer.blocks.get(option) {
                    x = block.forward(x);
                }
            }
            x
        })
    }
}

impl crate::supernet::PathSupernet for MobileNetSupernet {
    fn forward_path(&self, arch: &Arch, x: Tensor<4>) -> Tensor<2> {
        MobileNetSupernet::forward_path(self, arch, x)
    }

    fn batch_norms(&mut self) -> Vec<&mut BatchNorm> {
        let skeleton = &mut self.skeleton;
        let mut all = vec![&mut skeleton.stem_bn, &mut skeleton.head_bn];
        for block in self
            .layers
            .iter_mut()
            .flat_map(|layer| layer.blocks.iter_mut())
        {
            all.extend(block.expand_bn.as_mut());
            all.push(&mut block.depthwise_bn);
            all.push(&mut block.project_bn);
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::parameter_count;
    use nasr_space::mobilenet::{MobileNetConfig, Stage};

    fn space(allow_skip: bool) -> MobileNetSpace {
        MobileNetSpace::new(MobileNetConfig {
            input_size: 9,
            stages: vec![
                Stage {
                    channels: 8,
                    layers: 2,
                    stride: 1,
                },
                Stage {
                    channels: 12,
                    layers: 2,
                    stride: 2,
                },
            ],
            allow_skip,
            ..MobileNetConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn the_network_has_the_parameters_the_space_counts() {
        let device = crate::eval_device();
        for allow_skip in [false, true] {
            let space = space(allow_skip);
            let mut rng = <rand_chacha::ChaCha12Rng as rand::SeedableRng>::seed_from_u64(3);
            for _ in 0..5 {
                let arch = space.sample(&mut rng);
                let net = MobileNetNetwork::new(&space, &arch, &device).unwrap();
                assert_eq!(
                    parameter_count(&net) as u64,
                    space.cost(&arch).params,
                    "{}",
                    space.format(&arch)
                );
                let x = crate::init::normal_tensor(
                    [2, 1, 9, 9],
                    &mut nasr_space::SeedStreams::new(1).stream("input"),
                    &device,
                );
                assert_eq!(net.forward(x).dims(), [2, 10]);
            }
        }
    }

    #[test]
    fn a_supernet_path_runs_every_choice_including_skip() {
        let device = crate::eval_device();
        let space = space(true);
        let net = MobileNetSupernet::new(&space, &device);
        let last = |layer: usize| space.decisions()[layer].options.len() - 1;
        let arch = Arch::new((0..space.layers().len()).map(last).collect());
        let x = crate::init::normal_tensor(
            [2, 1, 9, 9],
            &mut nasr_space::SeedStreams::new(2).stream("input"),
            &device,
        );
        assert_eq!(net.forward_path(&arch, x).dims(), [2, 10]);
    }
}
