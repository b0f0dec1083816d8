//! The single-path supernet of a MobileNet space: every candidate block of every layer.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use nasr_kernels::BatchNorm;
use nasr_space::mobilenet::{LayerChoice, MobileNetSpace};
use nasr_space::{Arch, Space};

use super::{MobileNetNetwork, MobileNetSkeleton};
use crate::NnError;
use crate::ops::mbconv::MbConv;
use crate::params::{load_named, named_tensors};
use crate::supernet::extract::path_tensors;
use crate::supernet::{EdgeMode, EdgeOp, MixedOp, PathSupernet};

impl EdgeOp for MbConv {
    fn apply(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        Some(self.forward(x))
    }

    fn is_skip(&self) -> bool {
        false
    }
}

/// The single-path supernet of a MobileNet space.
#[derive(Module, Debug)]
pub struct MobileNetSupernet {
    /// Stem, head and classifier, shared by every path.
    pub skeleton: MobileNetSkeleton,
    /// Every candidate block of each searchable layer, in the layer's option order; a skip
    /// option (always the last) holds none.
    pub layers: Vec<MixedOp<MbConv>>,
}

impl MobileNetSupernet {
    /// The supernet of `space`.
    pub fn new(space: &MobileNetSpace, device: &Device) -> Self {
        let layers = space
            .layers()
            .iter()
            .enumerate()
            .map(|(index, shape)| {
                MixedOp::new(
                    (0..space.decisions()[index].options.len())
                        .filter_map(|option| match space.choice(index, option) {
                            LayerChoice::MbConv { kernel, expansion } => {
                                Some(MbConv::new(shape, kernel, expansion, device))
                            }
                            LayerChoice::Skip => None,
                        })
                        .collect(),
                )
            })
            .collect();
        Self {
            skeleton: MobileNetSkeleton::new(space, device),
            layers,
        }
    }

    /// A standalone network of `arch` (of `space`, the space this supernet was built for)
    /// holding this supernet's weights for that path.
    pub fn extract(
        &self,
        space: &MobileNetSpace,
        arch: &Arch,
        device: &Device,
    ) -> Result<MobileNetNetwork, NnError> {
        let standalone = MobileNetNetwork::new(space, arch, device)?;
        let tensors = path_tensors(&named_tensors(self), |prefix| {
            // `layers.<i>`; a skipped layer keeps nothing.
            let layer: usize = prefix.strip_prefix("layers.")?.parse().ok()?;
            let option = *arch.choices.get(layer)?;
            match space.choice(layer, option) {
                LayerChoice::MbConv { .. } => {
                    Some(space.decisions()[layer].options[option].clone())
                }
                LayerChoice::Skip => None,
            }
        });
        load_named(standalone, &tensors, std::path::Path::new("<supernet>"))
    }

    /// Logits of the path `arch`; a skip option passes the input through.
    pub fn forward_path(&self, arch: &Arch, x: Tensor<4>) -> Tensor<2> {
        self.skeleton.forward(x, |mut x| {
            for (layer, &option) in self.layers.iter().zip(&arch.choices) {
                if let Some(out) = layer.forward(EdgeMode::Path(option), x.clone()) {
                    x = out;
                }
            }
            x
        })
    }
}

impl PathSupernet for MobileNetSupernet {
    fn forward_path(&self, arch: &Arch, x: Tensor<4>) -> Tensor<2> {
        MobileNetSupernet::forward_path(self, arch, x)
    }

    fn batch_norms(&mut self) -> Vec<&mut BatchNorm> {
        let skeleton = &mut self.skeleton;
        let mut all = vec![&mut skeleton.stem_bn, &mut skeleton.head_bn];
        for layer in &mut self.layers {
            all.extend(layer.ops.iter_mut().flat_map(MbConv::batch_norms));
        }
        all
    }
}
