//! The standalone network of one MobileNet-space architecture.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use nasr_space::mobilenet::{LayerChoice, MobileNetSpace};
use nasr_space::{Arch, Space};

use super::MobileNetSkeleton;
use crate::NnError;
use crate::ops::Chosen;
use crate::ops::mbconv::MbConv;

/// The standalone network of one architecture. Skipped layers hold nothing.
#[derive(Module, Debug)]
pub struct MobileNetNetwork {
    /// Stem, head and classifier.
    pub skeleton: MobileNetSkeleton,
    /// One block per searchable layer; `None` where the architecture skips it.
    pub layers: Vec<Option<Chosen<MbConv>>>,
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
                        Some(Chosen::new(MbConv::new(shape, kernel, expansion, device)))
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

    /// The features at `space`'s stage boundaries (DNA's block outputs): the stem's output,
    /// then each stage's, shaped as [`MobileNetSpace::stage_boundaries`] says.
    pub fn stage_features(&self, space: &MobileNetSpace, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut h = self.skeleton.stem(x);
        let mut features = vec![h.clone()];
        for stage in 0..space.config().stages.len() {
            for block in self.layers[space.stage_layers(stage)].iter().flatten() {
                h = block.op.forward(h);
            }
            features.push(h.clone());
        }
        features
    }

    /// Images `[batch, in_channels, s, s]` -> logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.skeleton.forward(x, |mut x| {
            for block in self.layers.iter().flatten() {
                x = block.op.forward(x);
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
