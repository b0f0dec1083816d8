//! The supernet of a MobileNet space: every candidate block of every layer, run one path at a
//! time, mixed (every block of a layer weighted, DARTS-style) or gated (ProxylessNAS). Each
//! layer's blocks contribute their branch; a residual layer adds its input around the mixed
//! op, so that `skip` (no block) leaves the identity.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use nasr_kernels::BatchNorm;
use nasr_space::mobilenet::{LayerChoice, LayerShape, MobileNetSpace};
use nasr_space::{Arch, Space};

use super::{MobileNetNetwork, MobileNetSkeleton};
use crate::NnError;
use crate::ops::mbconv::MbConv;
use crate::params::{load_named, named_tensors};
use crate::supernet::extract::path_tensors;
use crate::supernet::{
    EdgeMode, EdgeOp, GatedSupernet, Gates, MixedOp, MixedSupernet, MixedWeights, PathSupernet,
};

impl EdgeOp for MbConv {
    /// The branch: the layer adds the shortcut (see [`EdgeOp::apply`]).
    fn apply(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        Some(self.branch(x))
    }

    fn is_skip(&self) -> bool {
        false
    }
}

/// Every candidate block of layer `index` (of shape `shape`) of `space`, in its option order,
/// skip holding none; a residual layer's blocks start as the identity
/// ([`MbConv::with_zero_last_gamma`]).
pub fn layer_candidates(
    space: &MobileNetSpace,
    index: usize,
    shape: &LayerShape,
    device: &Device,
) -> MixedOp<MbConv> {
    MixedOp::new(
        (0..space.decisions()[index].options.len())
            .filter_map(|option| match space.choice(index, option) {
                LayerChoice::MbConv { kernel, expansion } => {
                    let block = MbConv::new(shape, kernel, expansion, device);
                    Some(if shape.residual() {
                        block.with_zero_last_gamma()
                    } else {
                        block
                    })
                }
                LayerChoice::Skip => None,
            })
            .collect(),
    )
}

/// The single-path supernet of a MobileNet space.
#[derive(Module, Debug)]
pub struct MobileNetSupernet {
    /// Stem, head and classifier, shared by every path.
    pub skeleton: MobileNetSkeleton,
    /// Every candidate block of each searchable layer, in the layer's option order; a skip
    /// option (always the last) holds none.
    pub layers: Vec<MixedOp<MbConv>>,
    /// Whether each layer adds its input to its output (stride 1, same width).
    pub residual: Vec<bool>,
}

impl MobileNetSupernet {
    /// The supernet of `space`; its residual blocks start as the identity
    /// ([`MbConv::with_zero_last_gamma`]).
    pub fn new(space: &MobileNetSpace, device: &Device) -> Self {
        let layers = space
            .layers()
            .iter()
            .enumerate()
            .map(|(index, shape)| layer_candidates(space, index, shape, device))
            .collect();
        Self {
            skeleton: MobileNetSkeleton::new(space, device),
            layers,
            residual: space
                .layers()
                .iter()
                .map(|shape| shape.residual())
                .collect(),
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
        self.forward(|layer| EdgeMode::Path(arch.choices[layer]), x)
    }

    /// Logits with each layer in the mode `mode(layer)`: its mixed op's output, plus the
    /// layer's input where it is residual.
    fn forward<'a>(&self, mode: impl Fn(usize) -> EdgeMode<'a>, x: Tensor<4>) -> Tensor<2> {
        self.skeleton.forward(x, |mut x| {
            for (index, (layer, &residual)) in self.layers.iter().zip(&self.residual).enumerate() {
                let branch = layer.forward(mode(index), x.clone());
                x = match branch {
                    Some(out) if residual => out + x,
                    Some(out) => out,
                    // Only a residual layer offers skip.
                    None => x,
                };
            }
            x
        })
    }
}

impl MixedSupernet for MobileNetSupernet {
    /// `weights`: `[layers, options]`, columns in each layer's option order (a layer with fewer
    /// options ignores the extra columns; skip's column adds nothing). `aux_skip` does nothing
    /// here: skip is the shortcut, which every residual layer adds anyway.
    fn forward_mixed(&self, weights: &Tensor<2>, aux_skip: f64, x: Tensor<4>) -> Tensor<2> {
        let weights = MixedWeights { weights, aux_skip };
        self.forward(|row| EdgeMode::Mixed { weights, row }, x)
    }
}

impl GatedSupernet for MobileNetSupernet {
    fn forward_gated(&self, gates: Gates<'_>, x: Tensor<4>) -> Tensor<2> {
        let values = gates.values;
        self.forward(
            |row| EdgeMode::Gated {
                pair: gates.pairs[row],
                values,
                row,
            },
            x,
        )
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
