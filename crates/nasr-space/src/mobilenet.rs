//! The MobileNet space of ProxylessNAS and FairNAS: a stem, then searchable inverted-residual
//! (MBConv) layers grouped in stages of fixed width and stride, then a 1x1 head conv, global
//! pooling and a classifier. Each layer chooses a kernel (3/5/7) and an expansion ratio (3/6);
//! optionally, layers that can be residual (stride 1, same width in and out) may also choose
//! `skip`, as in ProxylessNAS. FairNAS's space has no skip, so that every layer has the same
//! number of options.
//!
//! The canonical string lists the layers' choices joined by `-`, e.g. `k3_e3-k5_e6-skip`.

use serde::{Deserialize, Serialize};

use crate::{Arch, Decision, Space, SpaceError};

/// One stage: `layers` searchable layers of `channels` output channels; the first has `stride`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// Output channels of every layer of the stage.
    pub channels: usize,
    /// Number of searchable layers.
    pub layers: usize,
    /// Stride of the stage's first layer (the others have stride 1).
    pub stride: usize,
}

/// Sizes of a MobileNet space. The defaults suit 28x28 MNIST on a CPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MobileNetConfig {
    /// Input height and width.
    pub input_size: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Classes.
    pub classes: usize,
    /// Channels of the 3x3 stem conv.
    pub stem_channels: usize,
    /// Stride of the stem conv.
    pub stem_stride: usize,
    /// The stages, in order.
    pub stages: Vec<Stage>,
    /// Channels of the 1x1 conv before pooling.
    pub head_channels: usize,
    /// Depthwise kernel sizes to choose from.
    pub kernels: Vec<usize>,
    /// Expansion ratios to choose from.
    pub expansions: Vec<usize>,
    /// Offer `skip` on layers that can be residual.
    pub allow_skip: bool,
}

impl Default for MobileNetConfig {
    fn default() -> Self {
        Self {
            input_size: 28,
            in_channels: 1,
            classes: 10,
            stem_channels: 8,
            stem_stride: 1,
            stages: vec![
                Stage {
                    channels: 8,
                    layers: 2,
                    stride: 1,
                },
                Stage {
                    channels: 16,
                    layers: 2,
                    stride: 2,
                },
                Stage {
                    channels: 32,
                    layers: 2,
                    stride: 2,
                },
            ],
            head_channels: 64,
            kernels: vec![3, 5, 7],
            expansions: vec![3, 6],
            allow_skip: false,
        }
    }
}

impl MobileNetConfig {
    /// The `proxyless` space: ProxylessNAS's layout scaled to 28x28 MNIST on a CPU. Five
    /// stages of widths 16, 24, 32, 48, 64 with 3, 3, 3, 3, 1 layers and first strides 2, 2, 1,
    /// 2, 1 (ProxylessNAS: 24 ... 320, 4, 4, 4, 4, 4, 1 layers, strides 2, 2, 2, 1, 2, 1), after
    /// an 8-channel stem at stride 1; 13 searchable layers, of which the 8 with an identity
    /// shortcut also offer `skip` (ProxylessNAS's Zero); head 128 channels.
    pub fn proxyless() -> Self {
        let stage = |channels, layers, stride| Stage {
            channels,
            layers,
            stride,
        };
        Self {
            stages: vec![
                stage(16, 3, 2),
                stage(24, 3, 2),
                stage(32, 3, 1),
                stage(48, 3, 2),
                stage(64, 1, 1),
            ],
            head_channels: 128,
            allow_skip: true,
            ..Self::default()
        }
    }
}

/// The choice of one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerChoice {
    /// An MBConv block with this depthwise kernel and expansion ratio.
    MbConv {
        /// Depthwise kernel size.
        kernel: usize,
        /// Expansion ratio of the hidden width.
        expansion: usize,
    },
    /// Identity (only on layers that can be residual).
    Skip,
}

/// One searchable layer's fixed shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerShape {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Stride.
    pub stride: usize,
    /// Input height and width.
    pub size_in: usize,
}

impl LayerShape {
    /// Whether the layer can be residual (and so may be skipped).
    pub fn residual(&self) -> bool {
        self.stride == 1 && self.c_in == self.c_out
    }

    /// Output height and width ("same" padding: `ceil(size / stride)`).
    pub fn size_out(&self) -> usize {
        self.size_in.div_ceil(self.stride)
    }
}

/// Parameters (weights plus BatchNorm scale and shift) and multiply-adds of one forward pass
/// of one image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelCost {
    /// Trained parameters.
    pub params: u64,
    /// Multiply-adds.
    pub flops: u64,
}

impl std::ops::Add for ModelCost {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self {
            params: self.params + other.params,
            flops: self.flops + other.flops,
        }
    }
}

/// A conv of `k`x`k` from `c_in` to `c_out` channels in `groups` groups, without bias, followed
/// by BatchNorm, producing `size_out`x`size_out` outputs.
pub(crate) fn conv_bn(
    c_in: usize,
    c_out: usize,
    k: usize,
    groups: usize,
    size_out: usize,
) -> ModelCost {
    let weights = (k * k * (c_in / groups) * c_out) as u64;
    ModelCost {
        params: weights + 2 * c_out as u64,
        flops: weights * (size_out * size_out) as u64,
    }
}

/// The MobileNet space.
#[derive(Debug, Clone)]
pub struct MobileNetSpace {
    config: MobileNetConfig,
    layers: Vec<LayerShape>,
    decisions: Vec<Decision>,
}

impl MobileNetSpace {
    /// The space of `config`; sizes are checked and a bad one is named.
    pub fn new(config: MobileNetConfig) -> Result<Self, SpaceError> {
        let bad = |field: &str, problem: &str| SpaceError::BadConfig {
            space: "mobilenet".into(),
            field: field.into(),
            problem: problem.into(),
        };
        if config.input_size == 0 {
            return Err(bad("input_size", "must be positive"));
        }
        if config.in_channels == 0 {
            return Err(bad("in_channels", "must be positive"));
        }
        if config.classes < 2 {
            return Err(bad("classes", "must be at least 2"));
        }
        if config.stages.is_empty() {
            return Err(bad("stages", "must list at least one stage"));
        }
        if let Some(i) = config
            .stages
            .iter()
            .position(|s| s.layers == 0 || s.channels == 0 || s.stride == 0)
        {
            return Err(bad(
                &format!("stages[{i}]"),
                "needs positive channels, layers and stride",
            ));
        }
        if config.kernels.is_empty() || config.kernels.iter().any(|k| k % 2 == 0) {
            return Err(bad("kernels", "must be a non-empty list of odd sizes"));
        }
        if config.expansions.is_empty() {
            return Err(bad("expansions", "must not be empty"));
        }
        // Each (kernel, expansion) pair is one named block of a layer (`k5_e6`): a repeated
        // value would give two blocks one name.
        for (field, values) in [
            ("kernels", &config.kernels),
            ("expansions", &config.expansions),
        ] {
            if let Some(repeated) = values
                .iter()
                .enumerate()
                .find(|(i, v)| values[..*i].contains(v))
            {
                return Err(bad(field, &format!("lists {} twice", repeated.1)));
            }
        }
        let mut layers = Vec::new();
        let (mut c_in, mut size) = (
            config.stem_channels,
            config.input_size.div_ceil(config.stem_stride),
        );
        for stage in &config.stages {
            for layer in 0..stage.layers {
                let stride = if layer == 0 { stage.stride } else { 1 };
                let shape = LayerShape {
                    c_in,
                    c_out: stage.channels,
                    stride,
                    size_in: size,
                };
                layers.push(shape);
                c_in = stage.channels;
                size = shape.size_out();
            }
        }
        let decisions = layers
            .iter()
            .enumerate()
            .map(|(index, shape)| {
                let mut options: Vec<String> = config
                    .kernels
                    .iter()
                    .flat_map(|k| config.expansions.iter().map(move |e| format!("k{k}_e{e}")))
                    .collect();
                if config.allow_skip && shape.residual() {
                    options.push("skip".into());
                }
                Decision {
                    name: format!("layer{index}"),
                    options,
                }
            })
            .collect();
        Ok(Self {
            config,
            layers,
            decisions,
        })
    }

    /// The sizes.
    pub fn config(&self) -> &MobileNetConfig {
        &self.config
    }

    /// The fixed shape of every searchable layer.
    pub fn layers(&self) -> &[LayerShape] {
        &self.layers
    }

    /// The searchable layers of stage `stage`, as indices into [`MobileNetSpace::layers`].
    ///
    /// # Panics
    /// If the space has no stage `stage`.
    pub fn stage_layers(&self, stage: usize) -> std::ops::Range<usize> {
        let start: usize = self.config.stages[..stage].iter().map(|s| s.layers).sum();
        start..start + self.config.stages[stage].layers
    }

    /// The feature shapes `[channels, height, width]` at the stage boundaries: the stem's
    /// output (stage 0's input), then each stage's output. DNA's blocks are the stages.
    pub fn stage_boundaries(&self) -> Vec<[usize; 3]> {
        let c = &self.config;
        let stem = c.input_size.div_ceil(c.stem_stride);
        let mut shapes = vec![[c.stem_channels, stem, stem]];
        for stage in 0..c.stages.len() {
            let last = &self.layers[self.stage_layers(stage).end - 1];
            shapes.push([last.c_out, last.size_out(), last.size_out()]);
        }
        shapes
    }

    /// An architecture that skips each layer offering skip with probability `skip_probability`
    /// and draws every other layer's block uniformly (a uniform draw skips one layer in seven:
    /// its networks are all about as deep).
    pub fn sample_with_skip(&self, skip_probability: f64, rng: &mut dyn rand::RngCore) -> Arch {
        use rand::Rng;
        let choices = self
            .decisions
            .iter()
            .enumerate()
            .map(|(layer, decision)| {
                let blocks: Vec<usize> = (0..decision.options.len())
                    .filter(|&option| self.choice(layer, option) != LayerChoice::Skip)
                    .collect();
                let offers_skip = blocks.len() < decision.options.len();
                if offers_skip && rng.random_bool(skip_probability.clamp(0.0, 1.0)) {
                    decision.options.len() - 1
                } else {
                    blocks[rng.random_range(0..blocks.len())]
                }
            })
            .collect();
        Arch::new(choices)
    }

    /// What layer `layer` does under option `option`.
    pub fn choice(&self, layer: usize, option: usize) -> LayerChoice {
        let per_kernel = self.config.expansions.len();
        match self.decisions[layer].options[option].as_str() {
            "skip" => LayerChoice::Skip,
            _ => LayerChoice::MbConv {
                kernel: self.config.kernels[option / per_kernel],
                expansion: self.config.expansions[option % per_kernel],
            },
        }
    }

    /// Parameters and multiply-adds of `arch` (which must be in the space).
    pub fn cost(&self, arch: &Arch) -> ModelCost {
        arch.choices
            .iter()
            .enumerate()
            .fold(self.fixed_cost(), |total, (layer, &option)| {
                total + self.block_cost(layer, option)
            })
    }

    /// What every architecture has: the stem, the head conv and the classifier.
    pub fn fixed_cost(&self) -> ModelCost {
        let c = &self.config;
        let stem_size = c.input_size.div_ceil(c.stem_stride);
        let stem = conv_bn(c.in_channels, c.stem_channels, 3, 1, stem_size);
        let last = self.layers.last().expect("a space has layers");
        let head = conv_bn(last.c_out, c.head_channels, 1, 1, last.size_out());
        let classifier = (c.head_channels * c.classes) as u64;
        stem + head
            + ModelCost {
                params: classifier + c.classes as u64,
                flops: classifier,
            }
    }

    /// Parameters and multiply-adds of option `option` of layer `layer` (0 for skip).
    pub fn block_cost(&self, layer: usize, option: usize) -> ModelCost {
        self.layer_cost(&self.layers[layer], self.choice(layer, option))
    }

    /// One MBConv: 1x1 expansion + BN, kxk depthwise (strided) + BN, 1x1 projection + BN; the
    /// expansion is omitted at ratio 1. Skip costs nothing.
    fn layer_cost(&self, shape: &LayerShape, choice: LayerChoice) -> ModelCost {
        let LayerChoice::MbConv { kernel, expansion } = choice else {
            return ModelCost::default();
        };
        let hidden = shape.c_in * expansion;
        let expand = if expansion == 1 {
            ModelCost::default()
        } else {
            conv_bn(shape.c_in, hidden, 1, 1, shape.size_in)
        };
        expand
            + conv_bn(hidden, hidden, kernel, hidden, shape.size_out())
            + conv_bn(hidden, shape.c_out, 1, 1, shape.size_out())
    }
}

impl Space for MobileNetSpace {
    fn name(&self) -> &str {
        "mobilenet"
    }

    fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    fn format(&self, arch: &Arch) -> String {
        arch.choices
            .iter()
            .zip(&self.decisions)
            .map(|(&choice, decision)| decision.options[choice].as_str())
            .collect::<Vec<_>>()
            .join("-")
    }

    fn parse(&self, text: &str) -> Result<Arch, SpaceError> {
        let tokens: Vec<&str> = text.split('-').collect();
        if tokens.len() != self.decisions.len() {
            return Err(SpaceError::BadShape {
                input: text.into(),
                problem: format!(
                    "expected {} layers separated by '-', found {}",
                    self.decisions.len(),
                    tokens.len()
                ),
            });
        }
        let mut position = 0;
        let mut choices = Vec::with_capacity(tokens.len());
        for (token, decision) in tokens.iter().zip(&self.decisions) {
            let choice = decision
                .options
                .iter()
                .position(|o| o == token)
                .ok_or_else(|| SpaceError::BadToken {
                    input: text.into(),
                    token: token.to_string(),
                    position,
                    problem: format!("{} takes one of {:?}", decision.name, decision.options),
                })?;
            choices.push(choice);
            position += token.len() + 1;
        }
        Ok(Arch::new(choices))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 8x8x1 input, stem 4 channels, one stage of two layers at 8 channels, stride 2 then 1.
    #[test]
    fn sampling_at_a_skip_probability_sets_the_depth() {
        let space = tiny(true);
        let mut rng = <rand_chacha::ChaCha12Rng as rand::SeedableRng>::seed_from_u64(3);
        let skips = |arch: &Arch| {
            (0..arch.choices.len())
                .filter(|&l| space.choice(l, arch.choices[l]) == LayerChoice::Skip)
                .count()
        };
        for _ in 0..20 {
            assert_eq!(skips(&space.sample_with_skip(0.0, &mut rng)), 0);
            let all = space.sample_with_skip(1.0, &mut rng);
            let offering = (0..all.choices.len())
                .filter(|&l| space.decisions()[l].options.iter().any(|o| o == "skip"))
                .count();
            assert_eq!(skips(&all), offering);
            space.check(&all).unwrap();
        }
    }

    fn tiny(allow_skip: bool) -> MobileNetSpace {
        MobileNetSpace::new(MobileNetConfig {
            input_size: 8,
            in_channels: 1,
            classes: 10,
            stem_channels: 4,
            stem_stride: 1,
            stages: vec![Stage {
                channels: 8,
                layers: 2,
                stride: 2,
            }],
            head_channels: 16,
            kernels: vec![3, 5, 7],
            expansions: vec![3, 6],
            allow_skip,
        })
        .unwrap()
    }

    #[test]
    fn costs_match_a_hand_count() {
        let space = tiny(false);
        let arch = space.parse("k3_e3-k5_e6").unwrap();
        // Stem: 3x3x1x4 weights + 2x4 BN, on 8x8 outputs.
        let stem = (36 + 8, 36 * 64);
        // Layer 0: 4 -> 8, k3, e3 (hidden 12), stride 2, 8x8 -> 4x4.
        //   expand 1x1: 4*12 = 48 weights + 24 BN, on 8x8: 48*64 MACs
        //   depthwise 3x3: 9*12 = 108 + 24, on 4x4: 108*16
        //   project: 12*8 = 96 + 16, on 4x4: 96*16
        let layer0 = (48 + 24 + 108 + 24 + 96 + 16, 48 * 64 + 108 * 16 + 96 * 16);
        // Layer 1: 8 -> 8, k5, e6 (hidden 48), stride 1, 4x4.
        //   expand: 8*48 = 384 + 96; depthwise: 25*48 = 1200 + 96; project: 48*8 = 384 + 16
        let layer1 = (384 + 96 + 1200 + 96 + 384 + 16, (384 + 1200 + 384) * 16);
        // Head 1x1 8 -> 16 + BN on 4x4; classifier 16 -> 10 with bias.
        let head = (128 + 32 + 160 + 10, 128 * 16 + 160);
        let expected = ModelCost {
            params: (stem.0 + layer0.0 + layer1.0 + head.0) as u64,
            flops: (stem.1 + layer0.1 + layer1.1 + head.1) as u64,
        };
        assert_eq!(space.cost(&arch), expected);
    }

    #[test]
    fn skip_is_offered_only_where_a_layer_can_be_residual_and_costs_nothing() {
        let space = tiny(true);
        assert_eq!(
            space.decisions()[0].options.len(),
            6,
            "layer 0 changes width and stride"
        );
        assert_eq!(space.decisions()[1].options.len(), 7);
        let with = space.cost(&space.parse("k3_e3-k3_e3").unwrap());
        let without = space.cost(&space.parse("k3_e3-skip").unwrap());
        // k3_e3 on 8 -> 8 (hidden 24): expand 8*24 + 2*24, depthwise 9*24 + 2*24, project 24*8 + 2*8.
        assert_eq!(with.params - without.params, 192 + 48 + 216 + 48 + 192 + 16);
        assert!(with.flops > without.flops);
    }

    #[test]
    fn the_proxyless_preset_has_at_least_12_layers_and_skip_where_they_are_residual() {
        let space = MobileNetSpace::new(MobileNetConfig::proxyless()).unwrap();
        let options: Vec<usize> = space.decisions().iter().map(|d| d.options.len()).collect();
        assert_eq!(options.len(), 13);
        assert_eq!(
            options.iter().filter(|&&n| n == 7).count(),
            8,
            "{options:?}"
        );
        assert_eq!(space.layers().last().unwrap().size_out(), 4);
    }

    #[test]
    fn a_bad_config_is_refused_with_the_field_named() {
        let mut config = MobileNetConfig::default();
        config.stages[1].layers = 0;
        let err = MobileNetSpace::new(config).err().unwrap();
        assert!(matches!(&err, SpaceError::BadConfig { field, .. } if field == "stages[1]"));
        assert!(
            err.to_string()
                .contains("mobilenet space config: stages[1]"),
            "{err}"
        );
        let config = MobileNetConfig {
            kernels: vec![3, 4],
            ..MobileNetConfig::default()
        };
        let err = MobileNetSpace::new(config).err().unwrap();
        assert!(err.to_string().contains("kernels"), "{err}");
        // A repeated value would give two blocks of a layer one parameter name (`k3_e6`).
        let config = MobileNetConfig {
            expansions: vec![3, 6, 3],
            ..MobileNetConfig::default()
        };
        let err = MobileNetSpace::new(config).err().unwrap();
        assert!(
            err.to_string().contains("expansions lists 3 twice"),
            "{err}"
        );
    }

    #[test]
    fn strings_round_trip_and_bad_tokens_are_named() {
        let space = MobileNetSpace::new(MobileNetConfig::default()).unwrap();
        let mut rng = <rand_chacha::ChaCha12Rng as rand::SeedableRng>::seed_from_u64(0);
        for _ in 0..100 {
            let arch = space.sample(&mut rng);
            assert_eq!(space.parse(&space.format(&arch)).unwrap(), arch);
        }
        let err = space
            .parse("k3_e3-k4_e3-k3_e3-k3_e3-k3_e3-k3_e3")
            .unwrap_err();
        assert!(
            err.to_string().contains("\"k4_e3\"") && err.to_string().contains("layer1"),
            "{err}"
        );
        assert!(space.parse("k3_e3").is_err());
    }
}
