//! The Once-for-All space (Cai et al., ICLR 2020; code: `ofa_mbv3.py`): OFA's elastic
//! MobileNetV3. A stem and one fixed MBConv of expansion 1, then units of up to `max_depth`
//! MBConv layers of fixed width and first stride, then a final 1x1 expansion, global pooling, a
//! 1x1 feature mix (no BatchNorm) and a classifier. A sub-network chooses the input
//! resolution, each unit's depth (it runs the unit's first d layers) and each active layer's
//! depthwise kernel and expansion ratio. Units use ReLU or h-swish and squeeze-excite where
//! OFA's do.
//!
//! The decisions are `resolution`, then per unit `unitU.depth` and `unitU.layerL` for every
//! layer slot. A layer past its unit's depth does not run, so its choice does not matter:
//! [`OfaSpace::canonical`] sets it to the first option, and every architecture this space
//! samples, mutates or parses is canonical, so one sub-network has one [`Arch`].
//!
//! The canonical string is the resolution, then each unit's active layers joined by `-`, units
//! separated by `|`: `r28|k3_e4-k5_e6|k7_e3-k3_e3-k5_e4|...` (the depth is the number of
//! layers listed). The JSON form is OFA's own (`{"r": 28, "d": [...], "ks": [...], "e": [...]}`,
//! one `ks` and `e` entry per layer slot): [`OfaSubnet`].

use serde::{Deserialize, Serialize};

use crate::mobilenet::{ModelCost, conv_bn};
use crate::{Arch, Decision, Space, SpaceError};

/// The nonlinearity of a unit's layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// ReLU.
    Relu,
    /// h-swish: `x * relu6(x + 3) / 6`.
    HSwish,
}

/// One unit: up to `max_depth` layers of `channels` outputs, the first with `stride`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfaUnit {
    /// Output channels of every layer of the unit.
    pub channels: usize,
    /// Stride of the unit's first layer.
    pub stride: usize,
    /// The layers' nonlinearity.
    pub activation: Activation,
    /// Squeeze-excite after each layer's depthwise convolution.
    pub squeeze_excite: bool,
}

/// Sizes of an OFA space. The defaults are OFA's MobileNetV3 scaled to MNIST (see
/// [`OfaConfig::default`]); [`OfaConfig::imagenet`] is OFA's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfaConfig {
    /// Input resolutions a sub-network may run at (the data is resized to it), ascending.
    pub resolutions: Vec<usize>,
    /// Input channels.
    pub in_channels: usize,
    /// Classes.
    pub classes: usize,
    /// Channels of the 3x3 stem conv (h-swish).
    pub stem_channels: usize,
    /// Stride of the stem conv.
    pub stem_stride: usize,
    /// Output channels of the fixed MBConv of expansion 1 after the stem (ReLU).
    pub first_block_channels: usize,
    /// The elastic units, in order.
    pub units: Vec<OfaUnit>,
    /// Layer slots per unit (the largest depth).
    pub max_depth: usize,
    /// Depths a unit may take.
    pub depths: Vec<usize>,
    /// Depthwise kernel sizes a layer may take.
    pub kernels: Vec<usize>,
    /// Expansion ratios a layer may take.
    pub expansions: Vec<usize>,
    /// Channels of the final 1x1 expansion (BN, h-swish) before pooling.
    pub final_expand_channels: usize,
    /// Channels of the 1x1 feature mix after pooling (no BN, h-swish).
    pub feature_mix_channels: usize,
}

impl Default for OfaConfig {
    /// OFA's MobileNetV3 for 28x28 MNIST on a CPU: resolutions 16, 20, 24, 28 (OFA: 128 to 224
    /// in steps of 4, the same 4/7 lower bound); stem 8 at stride 1 (OFA: 16 at 2), first block
    /// 8 (16); units of widths 16, 24, 32, 48, 64 (24, 40, 80, 112, 160) and first strides 2, 2,
    /// 1, 2, 1 (2, 2, 2, 1, 2), so a 28x28 input ends at 4x4 as the proxyless space does; final
    /// expansion 96 and feature mix 128 (960 and 1280). Depths, kernels, expansions, the
    /// activations and squeeze-excite placement are OFA's.
    fn default() -> Self {
        Self {
            resolutions: vec![16, 20, 24, 28],
            in_channels: 1,
            classes: 10,
            stem_channels: 8,
            stem_stride: 1,
            first_block_channels: 8,
            units: mobilenet_v3_units([16, 24, 32, 48, 64], [2, 2, 1, 2, 1]),
            max_depth: 4,
            depths: vec![2, 3, 4],
            kernels: vec![3, 5, 7],
            expansions: vec![3, 4, 6],
            final_expand_channels: 96,
            feature_mix_channels: 128,
        }
    }
}

/// OFA's five units with the given widths and strides: ReLU in the first two, h-swish after;
/// squeeze-excite in the second, fourth and fifth.
fn mobilenet_v3_units(channels: [usize; 5], strides: [usize; 5]) -> Vec<OfaUnit> {
    (0..5)
        .map(|u| OfaUnit {
            channels: channels[u],
            stride: strides[u],
            activation: if u < 2 {
                Activation::Relu
            } else {
                Activation::HSwish
            },
            squeeze_excite: matches!(u, 1 | 3 | 4),
        })
        .collect()
}

impl OfaConfig {
    /// OFA's ImageNet space (`OFAMobileNetV3` at width 1.0): 25 resolutions 128..=224 in steps
    /// of 4, stem 16 at stride 2, first block 16, units 24, 40, 80, 112, 160 at strides 2, 2,
    /// 2, 1, 2, final expansion 960, feature mix 1280, 1000 classes.
    pub fn imagenet() -> Self {
        Self {
            resolutions: (128..=224).step_by(4).collect(),
            in_channels: 3,
            classes: 1000,
            stem_channels: 16,
            stem_stride: 2,
            first_block_channels: 16,
            units: mobilenet_v3_units([24, 40, 80, 112, 160], [2, 2, 2, 1, 2]),
            final_expand_channels: 960,
            feature_mix_channels: 1280,
            ..Self::default()
        }
    }
}

/// OFA's `make_divisible(v, 8)`: `v` rounded to the nearest multiple of 8 (at least 8), one
/// step up where rounding down would lose more than a tenth.
pub fn make_divisible(value: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let rounded = (((value + d / 2.0) / d).floor() * d).max(d);
    let rounded = if rounded < 0.9 * value {
        rounded + d
    } else {
        rounded
    };
    rounded as usize
}

/// Middle (expanded) channels of a layer: OFA's `make_divisible(round(c_in * e), 8)`.
pub fn middle_channels(c_in: usize, expansion: usize) -> usize {
    make_divisible((c_in * expansion) as f64, 8)
}

/// Reduced channels of squeeze-excite on `middle` channels: `make_divisible(middle // 4, 8)`.
pub fn squeeze_channels(middle: usize) -> usize {
    make_divisible((middle / 4) as f64, 8)
}

/// One elastic layer slot's fixed shape at the largest resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotShape {
    /// Unit index.
    pub unit: usize,
    /// Position in the unit (0 = first).
    pub position: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Stride.
    pub stride: usize,
}

impl SlotShape {
    /// Whether the layer has an identity shortcut (stride 1, same width).
    pub fn residual(&self) -> bool {
        self.stride == 1 && self.c_in == self.c_out
    }
}

/// What one active layer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSetting {
    /// Depthwise kernel size.
    pub kernel: usize,
    /// Expansion ratio.
    pub expansion: usize,
}

/// A sub-network in OFA's own JSON form: one kernel and expansion per layer slot (those past a
/// unit's depth are carried but unused), a depth per unit, the resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfaSubnet {
    /// Depthwise kernel per layer slot.
    pub ks: Vec<usize>,
    /// Expansion ratio per layer slot.
    pub e: Vec<usize>,
    /// Depth per unit.
    pub d: Vec<usize>,
    /// Input resolution.
    pub r: usize,
}

/// The part of the space a progressive-shrinking phase samples from: subsets of the kernels,
/// expansions and depths (OFA's kernel phase: every kernel, expansion 6, depth 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Elastic {
    /// Kernels a layer may take.
    pub kernels: Vec<usize>,
    /// Expansions a layer may take.
    pub expansions: Vec<usize>,
    /// Depths a unit may take.
    pub depths: Vec<usize>,
}

/// The OFA space.
#[derive(Debug, Clone)]
pub struct OfaSpace {
    config: OfaConfig,
    slots: Vec<SlotShape>,
    decisions: Vec<Decision>,
}

/// Index of the resolution decision.
const RESOLUTION: usize = 0;

impl OfaSpace {
    /// The space of `config`; sizes are checked and a bad one is named.
    pub fn new(config: OfaConfig) -> Result<Self, SpaceError> {
        check_config(&config)?;
        let mut slots = Vec::new();
        let mut c_in = config.first_block_channels;
        for (unit, spec) in config.units.iter().enumerate() {
            for position in 0..config.max_depth {
                slots.push(SlotShape {
                    unit,
                    position,
                    c_in,
                    c_out: spec.channels,
                    stride: if position == 0 { spec.stride } else { 1 },
                });
                c_in = spec.channels;
            }
        }
        let layer_options: Vec<String> = config
            .kernels
            .iter()
            .flat_map(|k| config.expansions.iter().map(move |e| format!("k{k}_e{e}")))
            .collect();
        let mut decisions = vec![Decision {
            name: "resolution".into(),
            options: config.resolutions.iter().map(|r| format!("r{r}")).collect(),
        }];
        for unit in 0..config.units.len() {
            decisions.push(Decision {
                name: format!("unit{unit}.depth"),
                options: config.depths.iter().map(|d| format!("d{d}")).collect(),
            });
            decisions.extend((0..config.max_depth).map(|layer| Decision {
                name: format!("unit{unit}.layer{layer}"),
                options: layer_options.clone(),
            }));
        }
        Ok(Self {
            config,
            slots,
            decisions,
        })
    }

    /// The sizes.
    pub fn config(&self) -> &OfaConfig {
        &self.config
    }

    /// Every layer slot's fixed shape, unit by unit.
    pub fn slots(&self) -> &[SlotShape] {
        &self.slots
    }

    /// Index in [`Arch::choices`] of a unit's depth decision.
    fn depth_decision(&self, unit: usize) -> usize {
        1 + unit * (1 + self.config.max_depth)
    }

    /// Index in [`Arch::choices`] of a layer slot's decision.
    fn layer_decision(&self, unit: usize, position: usize) -> usize {
        self.depth_decision(unit) + 1 + position
    }

    /// The input resolution of `arch`.
    pub fn resolution(&self, arch: &Arch) -> usize {
        self.config.resolutions[arch.choices[RESOLUTION]]
    }

    /// The depth of each unit of `arch`.
    pub fn depths(&self, arch: &Arch) -> Vec<usize> {
        (0..self.config.units.len())
            .map(|u| self.config.depths[arch.choices[self.depth_decision(u)]])
            .collect()
    }

    /// The setting of layer slot `position` of `unit` in `arch` (whether or not it runs).
    pub fn layer(&self, arch: &Arch, unit: usize, position: usize) -> LayerSetting {
        let option = arch.choices[self.layer_decision(unit, position)];
        let per_kernel = self.config.expansions.len();
        LayerSetting {
            kernel: self.config.kernels[option / per_kernel],
            expansion: self.config.expansions[option % per_kernel],
        }
    }

    /// The layers `arch` runs, unit by unit: the first d slots of each.
    pub fn active_layers(&self, arch: &Arch) -> Vec<Vec<LayerSetting>> {
        self.depths(arch)
            .iter()
            .enumerate()
            .map(|(unit, &depth)| (0..depth).map(|p| self.layer(arch, unit, p)).collect())
            .collect()
    }

    /// `arch` with every layer past its unit's depth set to the first option: the one
    /// [`Arch`] of its sub-network.
    pub fn canonical(&self, arch: &Arch) -> Arch {
        let mut canonical = arch.clone();
        for (unit, depth) in self.depths(arch).into_iter().enumerate() {
            for position in depth..self.config.max_depth {
                canonical.choices[self.layer_decision(unit, position)] = 0;
            }
        }
        canonical
    }

    /// The decisions that change `arch`'s sub-network: the resolution, the depths and the
    /// active layers.
    fn live_decisions(&self, arch: &Arch) -> Vec<usize> {
        let mut live = vec![RESOLUTION];
        for (unit, depth) in self.depths(arch).into_iter().enumerate() {
            live.push(self.depth_decision(unit));
            live.extend((0..depth).map(|p| self.layer_decision(unit, p)));
        }
        live
    }

    /// Everything the space offers.
    pub fn everything(&self) -> Elastic {
        Elastic {
            kernels: self.config.kernels.clone(),
            expansions: self.config.expansions.clone(),
            depths: self.config.depths.clone(),
        }
    }

    /// Refuses a part that names a value the space does not offer, naming the field.
    pub fn check_within(&self, within: &Elastic) -> Result<(), SpaceError> {
        for (field, chosen, offered) in [
            ("kernels", &within.kernels, &self.config.kernels),
            ("expansions", &within.expansions, &self.config.expansions),
            ("depths", &within.depths, &self.config.depths),
        ] {
            if chosen.is_empty() || chosen.iter().any(|v| !offered.contains(v)) {
                return Err(SpaceError::BadConfig {
                    space: "ofa".into(),
                    field: field.into(),
                    problem: format!("{chosen:?} must be a non-empty subset of {offered:?}"),
                });
            }
        }
        Ok(())
    }

    /// A sub-network drawn uniformly from `within` (each unit's depth, each active layer's
    /// kernel and expansion, and the resolution independently), canonical.
    pub fn sample_within(&self, within: &Elastic, rng: &mut dyn rand::RngCore) -> Arch {
        use rand::Rng;
        let mut pick = |values: &[usize], offered: &[usize]| {
            let value = values[rng.random_range(0..values.len())];
            offered
                .iter()
                .position(|&v| v == value)
                .expect("checked subset")
        };
        let c = &self.config;
        let mut choices = vec![0; self.decisions.len()];
        choices[RESOLUTION] = pick(&c.resolutions, &c.resolutions);
        for unit in 0..c.units.len() {
            choices[self.depth_decision(unit)] = pick(&within.depths, &c.depths);
            for position in 0..c.max_depth {
                let k = pick(&within.kernels, &c.kernels);
                let e = pick(&within.expansions, &c.expansions);
                choices[self.layer_decision(unit, position)] = k * c.expansions.len() + e;
            }
        }
        self.canonical(&Arch::new(choices))
    }

    /// The sub-network of `within`'s largest (or smallest) kernel, expansion and depth
    /// everywhere, at resolution `resolution` (an index into the config's list).
    pub fn extreme(&self, within: &Elastic, largest: bool, resolution: usize) -> Arch {
        let pick = |values: &[usize], offered: &[usize]| {
            let value = if largest {
                values.iter().max()
            } else {
                values.iter().min()
            };
            let value = *value.expect("a non-empty subset");
            offered
                .iter()
                .position(|&v| v == value)
                .expect("checked subset")
        };
        let c = &self.config;
        let layer = pick(&within.kernels, &c.kernels) * c.expansions.len()
            + pick(&within.expansions, &c.expansions);
        let mut choices = vec![layer; self.decisions.len()];
        choices[RESOLUTION] = resolution;
        for unit in 0..c.units.len() {
            choices[self.depth_decision(unit)] = pick(&within.depths, &c.depths);
        }
        self.canonical(&Arch::new(choices))
    }

    /// OFA's predictor encoding (`ofa/nas/accuracy_predictor`): per layer slot a one-hot of its
    /// kernel and one of its expansion, all zeros for a slot past its unit's depth (so depth is
    /// implicit), then a one-hot of the resolution: `slots * (kernels + expansions) +
    /// resolutions` values, e.g. 20 * 6 + 4 = 124 here.
    pub fn encode(&self, arch: &Arch) -> Vec<f32> {
        let c = &self.config;
        let (kernels, expansions) = (c.kernels.len(), c.expansions.len());
        let mut code = vec![0.0; self.encoding_len()];
        let depths = self.depths(arch);
        for (slot, shape) in self.slots.iter().enumerate() {
            if shape.position >= depths[shape.unit] {
                continue;
            }
            let option = arch.choices[self.layer_decision(shape.unit, shape.position)];
            let base = slot * (kernels + expansions);
            code[base + option / expansions] = 1.0;
            code[base + kernels + option % expansions] = 1.0;
        }
        code[self.slots.len() * (kernels + expansions) + arch.choices[RESOLUTION]] = 1.0;
        code
    }

    /// Length of [`OfaSpace::encode`]'s vectors.
    pub fn encoding_len(&self) -> usize {
        let c = &self.config;
        self.slots.len() * (c.kernels.len() + c.expansions.len()) + c.resolutions.len()
    }

    /// Distinct sub-networks at one resolution: the product over units of the sum over depths
    /// d of (kernels x expansions)^d (OFA's (9^2 + 9^3 + 9^4)^5).
    pub fn subnets_per_resolution(&self) -> u128 {
        let per_layer = (self.config.kernels.len() * self.config.expansions.len()) as u128;
        let per_unit: u128 = self
            .config
            .depths
            .iter()
            .map(|&d| per_layer.pow(d as u32))
            .sum();
        per_unit.pow(self.config.units.len() as u32)
    }

    /// Distinct sub-networks over every resolution.
    pub fn subnets(&self) -> u128 {
        self.subnets_per_resolution() * self.config.resolutions.len() as u128
    }

    /// `arch` in OFA's JSON form.
    pub fn to_subnet(&self, arch: &Arch) -> OfaSubnet {
        let units = self.config.units.len();
        let settings: Vec<LayerSetting> = (0..units)
            .flat_map(|u| (0..self.config.max_depth).map(move |p| (u, p)))
            .map(|(u, p)| self.layer(arch, u, p))
            .collect();
        OfaSubnet {
            ks: settings.iter().map(|s| s.kernel).collect(),
            e: settings.iter().map(|s| s.expansion).collect(),
            d: self.depths(arch),
            r: self.resolution(arch),
        }
    }

    /// The canonical architecture of OFA's JSON form; a value the space does not offer is named
    /// with its field and slot.
    pub fn from_subnet(&self, subnet: &OfaSubnet) -> Result<Arch, SpaceError> {
        let slots = self.slots.len();
        let bad = |problem: String| SpaceError::BadShape {
            input: format!("{subnet:?}"),
            problem,
        };
        if subnet.ks.len() != slots || subnet.e.len() != slots {
            return Err(bad(format!(
                "ks and e need one entry per layer slot ({slots}), got {} and {}",
                subnet.ks.len(),
                subnet.e.len()
            )));
        }
        if subnet.d.len() != self.config.units.len() {
            return Err(bad(format!(
                "d needs one depth per unit ({}), got {}",
                self.config.units.len(),
                subnet.d.len()
            )));
        }
        let index_of = |values: &[usize], value: usize, field: &str| {
            values
                .iter()
                .position(|&v| v == value)
                .ok_or_else(|| bad(format!("{field} {value} is not one of {values:?}")))
        };
        let mut choices = vec![index_of(&self.config.resolutions, subnet.r, "r")?];
        for unit in 0..self.config.units.len() {
            choices.push(index_of(&self.config.depths, subnet.d[unit], "d")?);
            for position in 0..self.config.max_depth {
                let slot = unit * self.config.max_depth + position;
                let k = index_of(
                    &self.config.kernels,
                    subnet.ks[slot],
                    &format!("ks[{slot}]"),
                )?;
                let e = index_of(
                    &self.config.expansions,
                    subnet.e[slot],
                    &format!("e[{slot}]"),
                )?;
                choices.push(k * self.config.expansions.len() + e);
            }
        }
        Ok(self.canonical(&Arch::new(choices)))
    }

    /// Parameters and multiply-adds of `arch` at its resolution.
    pub fn cost(&self, arch: &Arch) -> ModelCost {
        let c = &self.config;
        let mut size = self.resolution(arch).div_ceil(c.stem_stride);
        let mut total = conv_bn(c.in_channels, c.stem_channels, 3, 1, size)
            + conv_bn(c.stem_channels, c.stem_channels, 3, c.stem_channels, size)
            + conv_bn(c.stem_channels, c.first_block_channels, 1, 1, size);
        for (unit, layers) in self.active_layers(arch).iter().enumerate() {
            for (position, setting) in layers.iter().enumerate() {
                let shape = self.slots[unit * c.max_depth + position];
                let size_out = size.div_ceil(shape.stride);
                total = total + self.layer_cost(&shape, *setting, size, size_out);
                size = size_out;
            }
        }
        let last = c.units.last().expect("a space has units").channels;
        let head = conv_bn(last, c.final_expand_channels, 1, 1, size);
        let mix = (c.final_expand_channels * c.feature_mix_channels) as u64;
        let classifier = (c.feature_mix_channels * c.classes) as u64;
        total
            + head
            + ModelCost {
                params: mix + classifier + c.classes as u64,
                flops: mix + classifier,
            }
    }

    /// One elastic MBConv: 1x1 expansion + BN, kxk depthwise + BN, squeeze-excite (two 1x1
    /// convs with bias on the pooled map) where the unit has it, 1x1 projection + BN.
    fn layer_cost(
        &self,
        shape: &SlotShape,
        setting: LayerSetting,
        size_in: usize,
        size_out: usize,
    ) -> ModelCost {
        let middle = middle_channels(shape.c_in, setting.expansion);
        let mut cost = conv_bn(shape.c_in, middle, 1, 1, size_in)
            + conv_bn(middle, middle, setting.kernel, middle, size_out)
            + conv_bn(middle, shape.c_out, 1, 1, size_out);
        if self.config.units[shape.unit].squeeze_excite {
            let squeeze = squeeze_channels(middle);
            let weights = (2 * middle * squeeze) as u64;
            cost = cost
                + ModelCost {
                    params: weights + (middle + squeeze) as u64,
                    flops: weights,
                };
        }
        cost
    }
}

fn check_config(config: &OfaConfig) -> Result<(), SpaceError> {
    let bad = |field: &str, problem: &str| SpaceError::BadConfig {
        space: "ofa".into(),
        field: field.into(),
        problem: problem.into(),
    };
    if config.resolutions.is_empty() || config.resolutions.contains(&0) {
        return Err(bad("resolutions", "must list positive sizes"));
    }
    if !config.resolutions.windows(2).all(|w| w[0] < w[1]) {
        return Err(bad("resolutions", "must be ascending, without repeats"));
    }
    for (field, value) in [
        ("in_channels", config.in_channels),
        ("stem_channels", config.stem_channels),
        ("stem_stride", config.stem_stride),
        ("first_block_channels", config.first_block_channels),
        ("final_expand_channels", config.final_expand_channels),
        ("feature_mix_channels", config.feature_mix_channels),
    ] {
        if value == 0 {
            return Err(bad(field, "must be positive"));
        }
    }
    if config.classes < 2 {
        return Err(bad("classes", "must be at least 2"));
    }
    if config.units.is_empty() {
        return Err(bad("units", "must list at least one unit"));
    }
    if let Some(i) = config
        .units
        .iter()
        .position(|u| u.channels == 0 || u.stride == 0)
    {
        return Err(bad(
            &format!("units[{i}]"),
            "needs positive channels and stride",
        ));
    }
    if config.depths.is_empty()
        || config
            .depths
            .iter()
            .any(|&d| d == 0 || d > config.max_depth)
    {
        return Err(bad(
            "depths",
            &format!(
                "must list depths from 1 to max_depth ({})",
                config.max_depth
            ),
        ));
    }
    if config.kernels.is_empty() || config.kernels.iter().any(|k| k % 2 == 0) {
        return Err(bad("kernels", "must be a non-empty list of odd sizes"));
    }
    if config.expansions.is_empty() || config.expansions.contains(&0) {
        return Err(bad("expansions", "must list positive ratios"));
    }
    for (field, values) in [
        ("depths", &config.depths),
        ("kernels", &config.kernels),
        ("expansions", &config.expansions),
    ] {
        if let Some(i) = (1..values.len()).find(|&i| values[..i].contains(&values[i])) {
            return Err(bad(field, &format!("lists {} twice", values[i])));
        }
    }
    Ok(())
}

impl Space for OfaSpace {
    fn name(&self) -> &str {
        "ofa"
    }

    fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    fn format(&self, arch: &Arch) -> String {
        let units: Vec<String> = self
            .active_layers(arch)
            .iter()
            .map(|layers| {
                let names: Vec<String> = layers
                    .iter()
                    .map(|s| format!("k{}_e{}", s.kernel, s.expansion))
                    .collect();
                names.join("-")
            })
            .collect();
        format!("r{}|{}", self.resolution(arch), units.join("|"))
    }

    fn parse(&self, text: &str) -> Result<Arch, SpaceError> {
        let parts: Vec<&str> = text.split('|').collect();
        let units = self.config.units.len();
        if parts.len() != 1 + units {
            return Err(SpaceError::BadShape {
                input: text.into(),
                problem: format!(
                    "expected a resolution and {units} units separated by '|', found {} parts",
                    parts.len()
                ),
            });
        }
        let token_error = |token: &str, position: usize, problem: String| SpaceError::BadToken {
            input: text.into(),
            token: token.into(),
            position,
            problem,
        };
        let resolution_options = &self.decisions[RESOLUTION].options;
        let resolution = resolution_options
            .iter()
            .position(|o| o == parts[0])
            .ok_or_else(|| {
                token_error(
                    parts[0],
                    0,
                    format!("the resolution is one of {resolution_options:?}"),
                )
            })?;
        let mut choices = vec![resolution];
        let mut unit_start = parts[0].len() + 1;
        for (unit, part) in parts[1..].iter().enumerate() {
            let layers: Vec<&str> = part.split('-').collect();
            let depth = self
                .config
                .depths
                .iter()
                .position(|&d| d == layers.len())
                .ok_or_else(|| {
                    token_error(
                        part,
                        unit_start,
                        format!(
                            "unit{unit} lists {} layers; its depth is one of {:?}",
                            layers.len(),
                            self.config.depths
                        ),
                    )
                })?;
            choices.push(depth);
            let mut position = unit_start;
            for slot in 0..self.config.max_depth {
                let Some(token) = layers.get(slot) else {
                    choices.push(0);
                    continue;
                };
                let decision = &self.decisions[self.layer_decision(unit, slot)];
                let option = decision
                    .options
                    .iter()
                    .position(|o| o == token)
                    .ok_or_else(|| {
                        token_error(
                            token,
                            position,
                            format!("{} takes one of {:?}", decision.name, decision.options),
                        )
                    })?;
                choices.push(option);
                position += token.len() + 1;
            }
            unit_start += part.len() + 1;
        }
        Ok(Arch::new(choices))
    }

    /// Distinct sub-networks, saturating at `usize::MAX` (OFA's spaces have ~10^19 and more).
    fn size(&self) -> usize {
        usize::try_from(self.subnets()).unwrap_or(usize::MAX)
    }

    /// Each decision drawn uniformly (OFA's sampling: resolution, depths, kernels and
    /// expansions independently), then made canonical.
    fn sample(&self, rng: &mut dyn rand::RngCore) -> Arch {
        use rand::Rng;
        let choices = self
            .decisions
            .iter()
            .map(|d| rng.random_range(0..d.options.len()))
            .collect();
        self.canonical(&Arch::new(choices))
    }

    /// One live decision (the resolution, a depth or an active layer) moved to another option,
    /// so the child is always another sub-network.
    fn mutate(&self, arch: &Arch, rng: &mut dyn rand::RngCore) -> Arch {
        use rand::Rng;
        let live: Vec<usize> = self
            .live_decisions(arch)
            .into_iter()
            .filter(|&i| self.decisions[i].options.len() > 1)
            .collect();
        let mut child = arch.clone();
        if live.is_empty() {
            return child;
        }
        let which = live[rng.random_range(0..live.len())];
        let options = self.decisions[which].options.len();
        child.choices[which] = (arch.choices[which] + rng.random_range(1..options)) % options;
        self.canonical(&child)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn space() -> OfaSpace {
        OfaSpace::new(OfaConfig::default()).unwrap()
    }

    #[test]
    fn the_count_is_ofas_formula_and_imagenet_has_25_resolutions() {
        let imagenet = OfaSpace::new(OfaConfig::imagenet()).unwrap();
        assert_eq!(imagenet.config().resolutions.len(), 25);
        assert_eq!(
            imagenet.subnets_per_resolution(),
            (81u128 + 729 + 6561).pow(5)
        );
        // About 2.2e19 per resolution, as OFA's paper says.
        let per = imagenet.subnets_per_resolution() as f64;
        assert!((2.1e19..2.3e19).contains(&per), "{per}");
        assert_eq!(imagenet.subnets(), 25 * imagenet.subnets_per_resolution());
        assert_eq!(imagenet.size(), usize::MAX, "saturates");
        // 20 layer slots, 5 depth decisions and the resolution.
        assert_eq!(imagenet.decisions().len(), 26);
    }

    #[test]
    fn the_count_matches_an_enumeration_of_a_small_space() {
        let small = OfaSpace::new(OfaConfig {
            resolutions: vec![8, 12],
            units: OfaConfig::default().units[..2].to_vec(),
            max_depth: 2,
            depths: vec![1, 2],
            kernels: vec![3, 5],
            expansions: vec![3],
            ..OfaConfig::default()
        })
        .unwrap();
        // Every decision vector, made canonical: distinct sub-networks.
        let sizes: Vec<usize> = small.decisions().iter().map(|d| d.options.len()).collect();
        let mut distinct = std::collections::BTreeSet::new();
        let total: usize = sizes.iter().product();
        for mut index in 0..total {
            let choices = sizes
                .iter()
                .map(|&n| {
                    let c = index % n;
                    index /= n;
                    c
                })
                .collect();
            distinct.insert(small.canonical(&Arch::new(choices)));
        }
        // (2 + 2^2)^2 per resolution, 2 resolutions.
        assert_eq!(distinct.len() as u128, small.subnets());
        assert_eq!(small.subnets(), 72);
    }

    #[test]
    fn strings_and_ofa_json_round_trip_and_the_depth_is_the_number_of_layers() {
        let space = space();
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(0);
        for _ in 0..100 {
            let arch = space.sample(&mut rng);
            assert_eq!(arch, space.canonical(&arch));
            let text = space.format(&arch);
            assert_eq!(space.parse(&text).unwrap(), arch, "{text}");
            let json = serde_json::to_string(&space.to_subnet(&arch)).unwrap();
            let subnet: OfaSubnet = serde_json::from_str(&json).unwrap();
            assert_eq!(space.from_subnet(&subnet).unwrap(), arch, "{json}");
            let depths = space.depths(&arch);
            for (unit, part) in text.split('|').skip(1).enumerate() {
                assert_eq!(part.split('-').count(), depths[unit], "{text}");
            }
        }
        let arch = space
            .parse(
                "r24|k3_e4-k5_e6|k7_e3-k3_e3-k5_e4|k3_e6-k3_e6|k5_e3-k5_e3-k5_e3-k5_e3|k7_e6-k7_e4",
            )
            .unwrap();
        assert_eq!(space.resolution(&arch), 24);
        assert_eq!(space.depths(&arch), vec![2, 3, 2, 4, 2]);
        let json = serde_json::to_string(&space.to_subnet(&arch)).unwrap();
        assert!(
            json.starts_with(r#"{"ks":[3,5,3,3,7,3,5,3,"#)
                && json.ends_with(r#""d":[2,3,2,4,2],"r":24}"#),
            "{json}"
        );
        assert_eq!(
            space.layer(&arch, 1, 2),
            LayerSetting {
                kernel: 5,
                expansion: 4
            }
        );
    }

    #[test]
    fn bad_strings_and_json_are_refused_with_the_part_named() {
        let space = space();
        let err = space.parse("r30|k3_e4-k5_e6|k3_e4-k5_e6|k3_e4-k5_e6|k3_e4-k5_e6|k3_e4-k5_e6");
        assert!(err.unwrap_err().to_string().contains("\"r30\""));
        let err = space
            .parse("r28|k3_e4|k3_e4-k5_e6|k3_e4-k5_e6|k3_e4-k5_e6|k3_e4-k5_e6")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unit0 lists 1 layers"), "{err}");
        let err = space
            .parse("r28|k3_e4-k5_e5|k3_e4-k5_e6|k3_e4-k5_e6|k3_e4-k5_e6|k3_e4-k5_e6")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"k5_e5\"") && err.contains("unit0.layer1"),
            "{err}"
        );
        assert!(space.parse("r28|k3_e4-k5_e6").is_err());
        let mut subnet =
            space.to_subnet(&space.sample(&mut rand_chacha::ChaCha12Rng::seed_from_u64(1)));
        subnet.ks[7] = 4;
        let err = space.from_subnet(&subnet).unwrap_err().to_string();
        assert!(err.contains("ks[7] 4"), "{err}");
    }

    #[test]
    fn mutation_always_changes_the_subnetwork_and_keeps_it_canonical() {
        let space = space();
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(2);
        for _ in 0..200 {
            let parent = space.sample(&mut rng);
            let child = space.mutate(&parent, &mut rng);
            assert_ne!(space.format(&child), space.format(&parent));
            assert_eq!(child, space.canonical(&child));
        }
    }

    #[test]
    fn a_phase_samples_only_within_its_part_and_its_extremes_bound_it() {
        let space = space();
        let kernel_phase = Elastic {
            kernels: vec![3, 5, 7],
            expansions: vec![6],
            depths: vec![4],
        };
        space.check_within(&kernel_phase).unwrap();
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(4);
        let mut kernels = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let arch = space.sample_within(&kernel_phase, &mut rng);
            assert_eq!(arch, space.canonical(&arch));
            assert!(space.depths(&arch).iter().all(|&d| d == 4));
            for layers in space.active_layers(&arch) {
                for setting in layers {
                    assert_eq!(setting.expansion, 6);
                    kernels.insert(setting.kernel);
                }
            }
        }
        assert_eq!(kernels.len(), 3);
        let everything = space.everything();
        let smallest = space.extreme(&everything, false, 0);
        let largest = space.extreme(&everything, true, 3);
        assert!(space.format(&smallest).starts_with("r16|k3_e3-k3_e3|"));
        assert!(
            space
                .format(&largest)
                .starts_with("r28|k7_e6-k7_e6-k7_e6-k7_e6|")
        );
        assert!(space.cost(&smallest).flops < space.cost(&largest).flops);
        let err = space
            .check_within(&Elastic {
                expansions: vec![5],
                ..kernel_phase
            })
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("expansions [5] must be a non-empty subset of [3, 4, 6]"),
            "{err}"
        );
    }

    #[test]
    fn the_encoding_has_two_bits_per_active_layer_and_one_for_the_resolution() {
        let space = space();
        assert_eq!(space.encoding_len(), 20 * 6 + 4);
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(5);
        for _ in 0..50 {
            let arch = space.sample(&mut rng);
            let code = space.encode(&arch);
            let active: usize = space.depths(&arch).iter().sum();
            assert_eq!(code.iter().filter(|&&v| v == 1.0).count(), 2 * active + 1);
            assert_eq!(code.iter().filter(|&&v| v != 0.0 && v != 1.0).count(), 0);
            // Each active slot: one kernel bit among 3, one expansion bit among 3.
            for (slot, shape) in space.slots().iter().enumerate() {
                let bits = &code[slot * 6..slot * 6 + 6];
                let on = usize::from(shape.position < space.depths(&arch)[shape.unit]);
                assert_eq!(bits[..3].iter().sum::<f32>() as usize, on);
                assert_eq!(bits[3..].iter().sum::<f32>() as usize, on);
            }
            let resolution = &code[120..];
            let index = space
                .config()
                .resolutions
                .iter()
                .position(|&r| r == space.resolution(&arch));
            assert_eq!(resolution.iter().position(|&v| v == 1.0), index);
        }
        // Distinct sub-networks, distinct codes.
        let a = space
            .parse("r28|k3_e4-k5_e6|k7_e3-k3_e3|k3_e6-k3_e6|k5_e3-k5_e3|k7_e6-k7_e4")
            .unwrap();
        let b = space
            .parse("r28|k3_e4-k5_e6|k7_e3-k3_e3|k3_e6-k3_e6|k5_e3-k5_e3|k7_e6-k7_e6")
            .unwrap();
        assert_ne!(space.encode(&a), space.encode(&b));
    }

    #[test]
    fn make_divisible_is_ofas() {
        // OFA: make_divisible(16 * 3, 8) = 48; (24 * 4) = 96; 20 -> 24; 3 -> 8; 44 -> 48.
        assert_eq!(make_divisible(48.0, 8), 48);
        assert_eq!(make_divisible(96.0, 8), 96);
        assert_eq!(make_divisible(20.0, 8), 24);
        assert_eq!(make_divisible(3.0, 8), 8);
        assert_eq!(make_divisible(44.0, 8), 48);
        assert_eq!(make_divisible(35.0, 8), 32);
        assert_eq!(make_divisible(17.0, 8), 16);
        // 120 // 4 = 30 -> 32 (squeeze-excite of 120 middle channels, as in OFA's unit 2).
        assert_eq!(squeeze_channels(120), 32);
    }

    #[test]
    fn costs_match_a_hand_count_and_grow_with_resolution() {
        let space = OfaSpace::new(OfaConfig {
            resolutions: vec![8, 16],
            in_channels: 1,
            classes: 10,
            stem_channels: 8,
            stem_stride: 1,
            first_block_channels: 8,
            units: vec![OfaUnit {
                channels: 8,
                stride: 2,
                activation: Activation::Relu,
                squeeze_excite: true,
            }],
            max_depth: 2,
            depths: vec![1, 2],
            kernels: vec![3],
            expansions: vec![3],
            final_expand_channels: 16,
            feature_mix_channels: 16,
        })
        .unwrap();
        let arch = space.parse("r8|k3_e3").unwrap();
        // Stem 3x3 1 -> 8 on 8x8; first block: depthwise 3x3 on 8 + project 8 -> 8.
        let stem = (9 * 8 + 16, 9 * 8 * 64);
        let first = (9 * 8 + 16 + 64 + 16, (9 * 8 + 64) * 64);
        // Layer: middle 24; expand 8 -> 24 on 8x8; depthwise 3x3 on 4x4; SE 24 -> 8 -> 24 with
        // bias; project 24 -> 8 on 4x4.
        let layer = (
            192 + 48 + 216 + 48 + 2 * 24 * 8 + 32 + 192 + 16,
            192 * 64 + 216 * 16 + 2 * 24 * 8 + 192 * 16,
        );
        // Final expand 8 -> 16 + BN on 4x4; mix 16 -> 16; classifier 16 -> 10 + bias.
        let head = (128 + 32 + 256 + 160 + 10, 128 * 16 + 256 + 160);
        assert_eq!(
            space.cost(&arch),
            ModelCost {
                params: (stem.0 + first.0 + layer.0 + head.0) as u64,
                flops: (stem.1 + first.1 + layer.1 + head.1) as u64,
            }
        );
        let large = space.parse("r16|k3_e3").unwrap();
        assert_eq!(space.cost(&large).params, space.cost(&arch).params);
        assert!(space.cost(&large).flops > 3 * space.cost(&arch).flops);
    }

    #[test]
    fn a_bad_config_is_refused_with_the_field_named() {
        let config = OfaConfig {
            depths: vec![2, 5],
            ..OfaConfig::default()
        };
        let err = OfaSpace::new(config).err().unwrap().to_string();
        assert!(err.contains("ofa space config: depths"), "{err}");
        let config = OfaConfig {
            resolutions: vec![28, 24],
            ..OfaConfig::default()
        };
        let err = OfaSpace::new(config).err().unwrap().to_string();
        assert!(err.contains("resolutions must be ascending"), "{err}");
    }
}
