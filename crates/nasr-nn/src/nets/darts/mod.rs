//! Networks of the DARTS space (`nasr_space::darts`): the search supernet (mixed mode,
//! [`supernet`]) and the evaluation network of one genotype ([`network`]) (stacked cells, reductions at 1/3 and 2/3 of the depth,
//! optional auxiliary head and drop-path), both after DARTS' `model_search.py` and `model.py`.

pub mod network;
pub mod supernet;

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Device, Tensor};
use nasr_kernels::{BatchNorm, Conv2d};
use serde::{Deserialize, Serialize};

use crate::NnError;
use crate::ops::ReluConvBn;
use crate::ops::darts::FactorizedReduce;

pub use network::DartsNetwork;
pub use supernet::DartsSupernet;

/// Sizes of a DARTS network. The search network of the paper is C=16, 8 cells; the CIFAR-10
/// evaluation network C=36, 20 cells, auxiliary weight 0.4, drop-path 0.2, cutout 16.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DartsNetConfig {
    /// Channels of the first cells (C); doubled at each reduction.
    pub channels: usize,
    /// Number of cells.
    pub layers: usize,
    /// The stem's channels are this times C.
    pub stem_multiplier: usize,
    /// Input channels (from the data).
    pub in_channels: usize,
    /// Classes (from the data).
    pub classes: usize,
    /// Weight of the auxiliary head's loss (0: no auxiliary head). Evaluation network only.
    pub auxiliary_weight: f64,
    /// Drop-path probability at the last epoch, ramped up linearly from 0. Evaluation network
    /// only.
    pub drop_path: f64,
}

impl Default for DartsNetConfig {
    fn default() -> Self {
        Self {
            channels: 8,
            layers: 5,
            stem_multiplier: 3,
            in_channels: 1,
            classes: 10,
            auxiliary_weight: 0.0,
            drop_path: 0.0,
        }
    }
}

impl DartsNetConfig {
    /// Checks every size; the error names the field.
    pub fn validate(&self) -> Result<(), NnError> {
        let bad = |field, problem: &str| {
            Err(NnError::Config {
                field,
                problem: problem.to_string(),
            })
        };
        if self.channels < 2 || !self.channels.is_multiple_of(2) {
            return bad(
                "channels",
                "of a DARTS network must be an even number of at least 2 (factorized reduce \
                 halves it)",
            );
        }
        if self.layers < 3 {
            return bad(
                "layers",
                "of a DARTS network must be at least 3 (two of them are reduction cells)",
            );
        }
        if self.stem_multiplier == 0 || self.in_channels == 0 || self.classes < 2 {
            return bad(
                "stem_multiplier",
                "of a DARTS network, in_channels and classes must be positive (classes at \
                 least 2)",
            );
        }
        if !(0.0..1.0).contains(&self.drop_path) {
            return bad("drop_path", "of a DARTS network must be in [0, 1)");
        }
        if self.auxiliary_weight.is_nan() || self.auxiliary_weight < 0.0 {
            return bad(
                "auxiliary_weight",
                "of a DARTS network must not be negative",
            );
        }
        Ok(())
    }
}

/// Channels and kind of one cell of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CellSpec {
    pub c_prev_prev: usize,
    pub c_prev: usize,
    pub channels: usize,
    pub reduction: bool,
    pub reduction_prev: bool,
}

/// The stem's width and every cell's channels: reductions at `layers / 3` and `2 * layers / 3`,
/// each doubling C; a cell outputs 4 C channels.
pub(crate) fn cell_plan(config: &DartsNetConfig) -> (usize, Vec<CellSpec>) {
    let stem = config.stem_multiplier * config.channels;
    let (mut c_prev_prev, mut c_prev, mut channels) = (stem, stem, config.channels);
    let mut reduction_prev = false;
    let plan = (0..config.layers)
        .map(|i| {
            let reduction = i == config.layers / 3 || i == 2 * config.layers / 3;
            if reduction {
                channels *= 2;
            }
            let spec = CellSpec {
                c_prev_prev,
                c_prev,
                channels,
                reduction,
                reduction_prev,
            };
            (c_prev_prev, c_prev, reduction_prev) = (c_prev, 4 * channels, reduction);
            spec
        })
        .collect();
    (stem, plan)
}

pub(crate) fn stem_conv(in_channels: usize, out: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([in_channels, out], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(device)
        .into()
}

/// A cell's input preprocessing: factorized reduce when the input is one reduction behind
/// (the cell two back, after a reduction cell), else ReLU-Conv1x1-BN.
#[derive(Module, Debug)]
pub struct Preprocess {
    /// ReLU-Conv1x1-BN.
    pub conv: Option<ReluConvBn>,
    /// Factorized reduce.
    pub reduce: Option<FactorizedReduce>,
}

impl Preprocess {
    pub(crate) fn new(c_in: usize, c_out: usize, reduce: bool, device: &Device) -> Self {
        Self {
            conv: (!reduce).then(|| ReluConvBn::new(c_in, c_out, 1, 1, device)),
            reduce: reduce.then(|| FactorizedReduce::new(c_in, c_out, device)),
        }
    }

    /// Its BatchNorm.
    pub fn batch_norm(&mut self) -> &mut BatchNorm {
        match (&mut self.conv, &mut self.reduce) {
            (Some(conv), _) => &mut conv.bn,
            (_, Some(reduce)) => &mut reduce.bn,
            _ => unreachable!("one of the two is set"),
        }
    }

    /// `[b, c_in, h, w]` -> `[b, c_out, h', w']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match (&self.conv, &self.reduce) {
            (Some(conv), _) => conv.forward(x),
            (_, Some(reduce)) => reduce.forward(x),
            _ => unreachable!("one of the two is set"),
        }
    }
}
