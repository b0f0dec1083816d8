//! Networks of the MobileNet space (`nasr_space::mobilenet`): the standalone network of one
//! architecture ([`network`]: `layers.3.k5_e6.depthwise.weight`), and the single-path supernet
//! that holds every candidate block of every layer ([`supernet`]:
//! `layers.3.ops.k5_e6.depthwise.weight`), around one skeleton (stem, head, classifier), and
//! the supernet of one stage alone ([`block`]: DNA's block supernets, `layers.1.ops.k5_e6...`,
//! no skeleton). A block is an [`MbConv`](crate::ops::mbconv::MbConv).

pub mod block;
pub mod network;
pub mod supernet;

pub use block::BlockSupernet;
pub use network::MobileNetNetwork;
pub use supernet::MobileNetSupernet;

use burn::module::Module;
use burn::nn::{BatchNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use nasr_kernels::{BatchNorm, Conv2d};
use nasr_space::mobilenet::MobileNetSpace;

use crate::ops::mbconv::{conv, conv_bn_relu6};

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
    pub(crate) fn new(space: &MobileNetSpace, device: &Device) -> Self {
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
    pub(crate) fn forward(
        &self,
        x: Tensor<4>,
        layers: impl FnOnce(Tensor<4>) -> Tensor<4>,
    ) -> Tensor<2> {
        self.logits(self.head(layers(self.stem(x))))
    }

    /// The stem: 3x3 conv, BatchNorm, ReLU6.
    pub(crate) fn stem(&self, x: Tensor<4>) -> Tensor<4> {
        conv_bn_relu6(&self.stem_conv, &self.stem_bn, x)
    }

    /// The head: 1x1 conv, BatchNorm, ReLU6.
    pub(crate) fn head(&self, x: Tensor<4>) -> Tensor<4> {
        conv_bn_relu6(&self.head_conv, &self.head_bn, x)
    }

    /// Global average pooling and the classifier.
    pub(crate) fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.classifier.forward(crate::ops::pooled_features(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::mobilenet::BlockSupernet;
    use crate::params::parameter_count;
    use nasr_space::mobilenet::{MobileNetConfig, Stage};
    use nasr_space::{Arch, SeedStreams, Space};

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

    /// Seeding redraws weights but keeps BatchNorm's built constants: the supernet's residual
    /// blocks still start as the identity (scale 0 on their last BatchNorm), the others at 1.
    #[test]
    fn a_seeded_supernet_keeps_its_residual_blocks_zero_gamma() {
        let device = crate::Compute::Cpu.eval_device();
        let space = space(true);
        let supernet = crate::init::seeded(&mut SeedStreams::new(3).stream("init"), || {
            Ok::<_, crate::NnError>(MobileNetSupernet::new(&space, &device))
        })
        .unwrap();
        for (layer, shape) in space.layers().iter().enumerate() {
            for block in supernet.layers[layer].ops.iter() {
                let gamma: Vec<f32> = block
                    .project_bn
                    .gamma
                    .val()
                    .into_data()
                    .try_to_vec()
                    .unwrap();
                let expected = if shape.residual() { 0.0 } else { 1.0 };
                assert!(
                    gamma.iter().all(|&g| g == expected),
                    "layer {layer}: {gamma:?}"
                );
            }
        }
    }

    #[test]
    fn the_network_has_the_parameters_the_space_counts() {
        let device = crate::Compute::Cpu.eval_device();
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

    /// The stage features have the space's boundary shapes, and they chain: the last one
    /// through the head and classifier gives the network's logits, so each is the network's
    /// own feature at that boundary.
    #[test]
    fn stage_features_have_the_boundary_shapes_and_chain_to_the_logits() {
        let device = crate::Compute::Cpu.eval_device();
        let space = space(false);
        let arch = Arch::new(vec![1, 4, 2, 5]);
        let net = crate::init::seeded(&mut SeedStreams::new(8).stream("init"), || {
            MobileNetNetwork::new(&space, &arch, &device)
        })
        .unwrap();
        let x =
            crate::init::normal_tensor([2, 1, 9, 9], &mut SeedStreams::new(9).stream("x"), &device);
        let features = net.stage_features(&space, x.clone());
        let shapes: Vec<[usize; 3]> = features
            .iter()
            .map(|f| {
                let [_, c, h, w] = f.dims();
                [c, h, w]
            })
            .collect();
        assert_eq!(shapes, space.stage_boundaries());
        assert_eq!(shapes, vec![[8, 9, 9], [8, 9, 9], [12, 5, 5]]);
        let last = features.last().unwrap().clone();
        let from_features: Vec<f32> = net
            .skeleton
            .logits(net.skeleton.head(last))
            .into_data()
            .try_to_vec()
            .unwrap();
        let logits: Vec<f32> = net.forward(x).into_data().try_to_vec().unwrap();
        assert_eq!(from_features, logits);
    }

    /// A stage's block supernet enumerates every path once (6^L), maps the stage's input
    /// shape to its output shape, and its path equals the whole supernet's stage layers.
    #[test]
    fn a_block_supernet_has_every_path_once_and_the_stage_shapes() {
        let device = crate::Compute::Cpu.eval_device();
        let mut config = space(false).config().clone();
        config.stages[1].layers = 3;
        let space = MobileNetSpace::new(config).unwrap();
        let boundaries = space.stage_boundaries();
        for stage in 0..2 {
            let block = BlockSupernet::new(&space, stage, &device).unwrap();
            let paths = block.paths();
            let layers = space.stage_layers(stage).len();
            assert_eq!(paths.len(), 6usize.pow(layers as u32));
            let unique: std::collections::BTreeSet<_> = paths.iter().collect();
            assert_eq!(unique.len(), paths.len());
            let [c, h, w] = boundaries[stage];
            let x = crate::init::normal_tensor(
                [2, c, h, w],
                &mut SeedStreams::new(2).stream("x"),
                &device,
            );
            let [_, c2, h2, w2] = block.forward(&paths[7], x).dims();
            assert_eq!([c2, h2, w2], boundaries[stage + 1]);
        }
        assert!(BlockSupernet::new(&space, 2, &device).is_err());
    }

    #[test]
    fn parameters_are_named_by_their_block() {
        let device = crate::Compute::Cpu.eval_device();
        let space = space(false);
        let supernet: Vec<String> =
            crate::params::named_tensors(&MobileNetSupernet::new(&space, &device))
                .into_keys()
                .collect();
        let first = space.decisions()[0].options[0].clone();
        let in_supernet = format!("layers.0.ops.{first}.depthwise.weight");
        assert!(supernet.contains(&in_supernet), "{supernet:?}");
        let arch = Arch::new(vec![0; space.layers().len()]);
        let network: Vec<String> =
            crate::params::named_tensors(&MobileNetNetwork::new(&space, &arch, &device).unwrap())
                .into_keys()
                .collect();
        let in_network = format!("layers.0.{first}.depthwise.weight");
        assert!(network.contains(&in_network), "{network:?}");
    }

    #[test]
    fn copied_out_weights_give_the_supernet_paths_outputs() {
        let device = crate::Compute::Cpu.eval_device();
        let space = space(true);
        let supernet =
            crate::init::seeded(&mut nasr_space::SeedStreams::new(4).stream("init"), || {
                Ok::<_, crate::NnError>(MobileNetSupernet::new(&space, &device))
            })
            .unwrap();
        let x = crate::init::normal_tensor(
            [2, 1, 9, 9],
            &mut nasr_space::SeedStreams::new(5).stream("input"),
            &device,
        );
        let mut rng = <rand_chacha::ChaCha12Rng as rand::SeedableRng>::seed_from_u64(6);
        let skip = |layer: usize| space.decisions()[layer].options.len() - 1;
        // Sampled paths, and one that skips layers 1 and 3 (the skip option is the last).
        let mut archs: Vec<Arch> = (0..3).map(|_| space.sample(&mut rng)).collect();
        archs.push(Arch::new(vec![0, skip(1), 1, skip(3)]));
        for arch in archs {
            let standalone = supernet.extract(&space, &arch, &device).unwrap();
            let from_supernet: Vec<f32> = supernet
                .forward_path(&arch, x.clone())
                .into_data()
                .try_to_vec()
                .unwrap();
            let from_standalone: Vec<f32> = standalone
                .forward(x.clone())
                .into_data()
                .try_to_vec()
                .unwrap();
            assert_eq!(from_supernet, from_standalone, "{}", space.format(&arch));
        }
    }

    /// ProxylessNAS's `full_v2` gate gradients (the active op with autodiff, the other's
    /// output detached) equal the `full` ones: every op of every layer run with autodiff,
    /// weighted by one-hot gates (the mixed mode).
    #[test]
    fn full_v2_gate_gradients_equal_full_gate_gradients() {
        use crate::supernet::{GatePair, GatedSupernet, Gates, MixedSupernet};
        use burn::nn::loss::CrossEntropyLossConfig;
        use burn::tensor::{Int, TensorData};

        let device = crate::Compute::Cpu.train_device();
        let space = space(true);
        let mut supernet = crate::init::seeded(&mut SeedStreams::new(7).stream("init"), || {
            Ok::<_, crate::NnError>(MobileNetSupernet::new(&space, &device))
        })
        .unwrap()
        .no_grad();
        // Residual blocks at full scale (a fresh supernet starts them at zero, where their gate
        // gradients would be zero in both modes and the comparison empty).
        for layer in &mut supernet.layers {
            for block in layer.ops.iter_mut() {
                let gamma = block.project_bn.gamma.val().ones_like();
                block.project_bn.gamma = burn::module::Param::from_tensor(gamma);
            }
        }
        let x = crate::init::normal_tensor(
            [4, 1, 9, 9],
            &mut SeedStreams::new(8).stream("input"),
            &device,
        );
        let labels =
            Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 4, 7, 2], [4]), &device);
        let loss = CrossEntropyLossConfig::new().init(&device);
        let options = |layer: usize| space.decisions()[layer].options.len();
        let columns = (0..space.layers().len()).map(options).max().unwrap();
        let mut rng = <rand_chacha::ChaCha12Rng as rand::SeedableRng>::seed_from_u64(9);
        for round in 0..4 {
            let pairs: Vec<GatePair> = (0..space.layers().len())
                .map(|layer| {
                    let alpha: Vec<f32> = (0..options(layer))
                        .map(|i| (i as f32 * 0.3).sin())
                        .collect();
                    GatePair::draw(&alpha, &mut rng)
                })
                .collect();
            let values: Vec<f32> = pairs.iter().flat_map(|p| p.values()).collect();
            let gates = Tensor::<2>::from_data(TensorData::new(values, [pairs.len(), 2]), &device)
                .require_grad();
            let gated = loss.forward(
                supernet.forward_gated(
                    Gates {
                        pairs: &pairs,
                        values: &gates,
                    },
                    x.clone(),
                ),
                labels.clone(),
            );
            let gated_grads: Vec<f32> = gates
                .grad(&gated.backward())
                .unwrap()
                .into_data()
                .try_to_vec()
                .unwrap();

            let mut one_hot = vec![0f32; pairs.len() * columns];
            for (layer, pair) in pairs.iter().enumerate() {
                one_hot[layer * columns + pair.active_option()] = 1.0;
            }
            let weights =
                Tensor::<2>::from_data(TensorData::new(one_hot, [pairs.len(), columns]), &device)
                    .require_grad();
            let full = loss.forward(
                supernet.forward_mixed(&weights, 0.0, x.clone()),
                labels.clone(),
            );
            assert_eq!(
                gated.clone().into_scalar::<f32>(),
                full.clone().into_scalar::<f32>(),
                "round {round}: the same forward"
            );
            let full_grads: Vec<f32> = weights
                .grad(&full.backward())
                .unwrap()
                .into_data()
                .try_to_vec()
                .unwrap();
            for (layer, pair) in pairs.iter().enumerate() {
                for slot in 0..2 {
                    let option = pair.options[slot];
                    let is_skip = space.decisions()[layer].options[option] == "skip";
                    // Zero's output is 0, and so is its gate's gradient.
                    let expected = if is_skip {
                        0.0
                    } else {
                        full_grads[layer * columns + option]
                    };
                    let got = gated_grads[layer * 2 + slot];
                    assert!(
                        (got - expected).abs() <= 1e-5 * expected.abs().max(1e-3),
                        "round {round} layer {layer} option {option}: {got} against {expected}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_supernet_path_runs_every_choice_including_skip() {
        let device = crate::Compute::Cpu.eval_device();
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
