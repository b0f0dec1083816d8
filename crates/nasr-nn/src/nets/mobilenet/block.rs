//! The supernet of one stage of a MobileNet space alone (DNA's block supernet): every
//! candidate block of each of the stage's layers, no stem, head or classifier. It maps the
//! stage's input features to its output features, one path at a time, so that a teacher's
//! features at the stage boundaries can supervise it.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use nasr_kernels::BatchNorm;
use nasr_space::mobilenet::MobileNetSpace;
use nasr_space::{Arch, Space};

use super::supernet::layer_candidates;
use crate::NnError;
use crate::ops::mbconv::MbConv;
use crate::supernet::{EdgeMode, MixedOp};

/// Every candidate block of every layer of one stage.
#[derive(Module, Debug)]
pub struct BlockSupernet {
    /// The stage's layers, each with its candidate blocks in the space's option order (a skip
    /// option holds none).
    pub layers: Vec<MixedOp<MbConv>>,
    /// Whether each layer adds its input to its output.
    pub residual: Vec<bool>,
    /// Options of each layer (the blocks plus skip where offered).
    #[module(skip)]
    pub options: Vec<usize>,
}

impl BlockSupernet {
    /// The supernet of stage `stage` of `space`; residual blocks start as the identity, as in
    /// the whole-network supernet.
    pub fn new(space: &MobileNetSpace, stage: usize, device: &Device) -> Result<Self, NnError> {
        let stages = space.config().stages.len();
        if stage >= stages {
            return Err(NnError::Config {
                field: "block",
                problem: format!("{stage} is not a stage of a space of {stages}"),
            });
        }
        let layers = space.stage_layers(stage);
        let shapes = &space.layers()[layers.clone()];
        let blocks = layers
            .clone()
            .zip(shapes)
            .map(|(index, shape)| layer_candidates(space, index, shape, device))
            .collect();
        Ok(Self {
            layers: blocks,
            residual: shapes.iter().map(|s| s.residual()).collect(),
            options: layers
                .map(|index| space.decisions()[index].options.len())
                .collect(),
        })
    }

    /// The stage's output features for the path `choices` (one option per layer of the stage).
    ///
    /// # Panics
    /// If `choices` does not have one valid option per layer.
    pub fn forward(&self, choices: &[usize], x: Tensor<4>) -> Tensor<4> {
        assert_eq!(choices.len(), self.layers.len(), "one choice per layer");
        let mut h = x;
        for (layer, &option) in choices.iter().enumerate() {
            assert!(
                option < self.options[layer],
                "layer {layer} has no option {option}"
            );
            h = match self.layers[layer].forward(EdgeMode::Path(option), h.clone()) {
                Some(out) if self.residual[layer] => out + h,
                Some(out) => out,
                None => h,
            };
        }
        h
    }

    /// Every path of the block: the Cartesian product of the layers' options, the first layer
    /// varying slowest (`prod(options)` paths, 6^L for DNA's six ops).
    pub fn paths(&self) -> Vec<Vec<usize>> {
        self.options.iter().fold(vec![Vec::new()], |paths, &count| {
            paths
                .into_iter()
                .flat_map(|path| {
                    (0..count).map(move |option| {
                        let mut longer = path.clone();
                        longer.push(option);
                        longer
                    })
                })
                .collect()
        })
    }

    /// Every BatchNorm of every candidate, for recalibration.
    pub fn batch_norms(&mut self) -> Vec<&mut BatchNorm> {
        self.layers
            .iter_mut()
            .flat_map(|layer| layer.ops.iter_mut().flat_map(MbConv::batch_norms))
            .collect()
    }
}

/// The choices of `arch` for stage `stage` of `space`.
pub fn stage_choices(space: &MobileNetSpace, arch: &Arch, stage: usize) -> Vec<usize> {
    arch.choices[space.stage_layers(stage)].to_vec()
}
