//! Latency tables of the `ofa` space (`nasr latency measure --space ofa`): a
//! [`LatencyTable`] of [`OfaConfig`] whose keys are the stem (with the fixed first block) and
//! the head at each resolution, and every layer slot's kernel and expansion at its input size
//! under each resolution. As OFA's `LatencyEstimator`, a layer's key adds its middle width,
//! squeeze-excite and h-swish to ProxylessNAS's:
//! `expanded_conv-input:14x14x16-output:14x14x16-expand:4-kernel:5-stride:1-idskip:1-mid:64-se:0-hs:0`.
//! A sub-network's latency is its stem, its active layers and its head summed, plus the fitted
//! overheads.

use std::collections::BTreeMap;

use nasr_space::ofa::{Activation, LayerSetting, OfaConfig, OfaSpace, middle_channels};
use nasr_space::{Arch, Space};

use crate::SearchError;
use crate::latency::LatencyTable;

/// What one key of the table times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfaBlock {
    /// The stem conv and the fixed first block on an input of `resolution`.
    Stem {
        /// Input side.
        resolution: usize,
    },
    /// Layer slot `slot` (unit-major) at `setting` on an input of side `size_in`.
    Layer {
        /// Index into [`OfaSpace::slots`].
        slot: usize,
        /// Kernel and expansion.
        setting: LayerSetting,
        /// Input side.
        size_in: usize,
    },
    /// The final expansion, pooling, feature mix and classifier on an input of side `size`.
    Head {
        /// Input side.
        size: usize,
    },
}

/// The key of `block` in a table of `space`.
pub fn block_key(space: &OfaSpace, block: &OfaBlock) -> String {
    let c = space.config();
    match *block {
        OfaBlock::Stem { resolution: r } => {
            let s = r.div_ceil(c.stem_stride);
            format!(
                "Stem-input:{r}x{r}x{}-output:{s}x{s}x{}",
                c.in_channels, c.first_block_channels
            )
        }
        OfaBlock::Layer {
            slot,
            setting,
            size_in: i,
        } => {
            let shape = space.slots()[slot];
            let unit = &c.units[shape.unit];
            let o = i.div_ceil(shape.stride);
            format!(
                "expanded_conv-input:{i}x{i}x{}-output:{o}x{o}x{}-expand:{}-kernel:{}-stride:{}-idskip:{}-mid:{}-se:{}-hs:{}",
                shape.c_in,
                shape.c_out,
                setting.expansion,
                setting.kernel,
                shape.stride,
                u8::from(shape.residual()),
                middle_channels(shape.c_in, setting.expansion),
                u8::from(unit.squeeze_excite),
                u8::from(unit.activation == Activation::HSwish),
            )
        }
        OfaBlock::Head { size: s } => {
            let last = c.units.last().expect("a space has units").channels;
            format!("Head-input:{s}x{s}x{last}-output:{}", c.classes)
        }
    }
}

/// The input side of each layer slot, and of the head, at resolution `r`.
fn sizes(space: &OfaSpace, r: usize) -> (Vec<usize>, usize) {
    let mut size = r.div_ceil(space.config().stem_stride);
    let ins = space
        .slots()
        .iter()
        .map(|shape| {
            let size_in = size;
            size = size.div_ceil(shape.stride);
            size_in
        })
        .collect();
    (ins, size)
}

/// The blocks sub-network `arch` runs: its stem, its active layers, its head.
pub fn blocks_of(space: &OfaSpace, arch: &Arch) -> Vec<OfaBlock> {
    let resolution = space.resolution(arch);
    let (ins, head) = sizes(space, resolution);
    let max_depth = space.config().max_depth;
    let mut blocks = vec![OfaBlock::Stem { resolution }];
    for (unit, layers) in space.active_layers(arch).into_iter().enumerate() {
        for (position, setting) in layers.into_iter().enumerate() {
            let slot = unit * max_depth + position;
            blocks.push(OfaBlock::Layer {
                slot,
                setting,
                size_in: ins[slot],
            });
        }
    }
    blocks.push(OfaBlock::Head { size: head });
    blocks
}

/// Every key a table of `space` holds, with the block it times.
pub fn table_blocks(space: &OfaSpace) -> BTreeMap<String, OfaBlock> {
    let c = space.config();
    let mut all = BTreeMap::new();
    for &resolution in &c.resolutions {
        let (ins, head) = sizes(space, resolution);
        let mut add = |block: OfaBlock| {
            all.entry(block_key(space, &block)).or_insert(block);
        };
        add(OfaBlock::Stem { resolution });
        for (slot, &size_in) in ins.iter().enumerate() {
            for &kernel in &c.kernels {
                for &expansion in &c.expansions {
                    let setting = LayerSetting { kernel, expansion };
                    add(OfaBlock::Layer {
                        slot,
                        setting,
                        size_in,
                    });
                }
            }
        }
        add(OfaBlock::Head { size: head });
    }
    all
}

impl LatencyTable<OfaConfig> {
    /// Whether the table was measured for the sizes `space`.
    pub fn measured_for(&self, space: &OfaConfig) -> bool {
        self.space == *space
    }

    /// The predicted latency of `arch`: its blocks' entries plus the fitted overheads (per
    /// network, and per layer).
    pub fn predict(&self, space: &OfaSpace, arch: &Arch) -> Result<f64, SearchError> {
        space.check(arch)?;
        let blocks = blocks_of(space, arch);
        let mut total = self.overhead_ms;
        for block in &blocks {
            total += self.entry(&block_key(space, block))?;
        }
        Ok(total + self.block_overhead_ms * Self::blocks(space, arch) as f64)
    }

    /// The layers `arch` runs.
    pub fn blocks(space: &OfaSpace, arch: &Arch) -> usize {
        space.depths(arch).iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_add_the_middle_width_squeeze_excite_and_h_swish() {
        let space = OfaSpace::new(OfaConfig::default()).unwrap();
        let arch = space
            .parse(
                "r20|k3_e4-k5_e6|k7_e3-k3_e3-k5_e4|k3_e6-k3_e6|k5_e3-k5_e3-k5_e3-k5_e3|k7_e6-k7_e4",
            )
            .unwrap();
        let keys: Vec<String> = blocks_of(&space, &arch)
            .iter()
            .map(|b| block_key(&space, b))
            .collect();
        assert_eq!(keys.len(), 1 + 13 + 1);
        assert_eq!(keys[0], "Stem-input:20x20x1-output:20x20x8");
        // Unit 0's first layer: 8 -> 16 at stride 2, expansion 4: 32 middle channels, ReLU.
        assert_eq!(
            keys[1],
            "expanded_conv-input:20x20x8-output:10x10x16-expand:4-kernel:3-stride:2-idskip:0-mid:32-se:0-hs:0"
        );
        // Unit 1 (squeeze-excite) second layer, residual at 5x5.
        assert_eq!(
            keys[4],
            "expanded_conv-input:5x5x24-output:5x5x24-expand:3-kernel:3-stride:1-idskip:1-mid:72-se:1-hs:0"
        );
        assert_eq!(keys[14], "Head-input:3x3x64-output:10");
        // The table holds every key any sub-network needs, each once.
        let all = table_blocks(&space);
        assert!(keys.iter().all(|k| all.contains_key(k)));
        // Per resolution: stem, head, and 9 settings at 2 input shapes per unit; a shape two
        // resolutions share is one key (at 20 and 24 the head sees 3x3 either way).
        assert!(all.len() < 4 * (2 + 5 * 2 * 9) && all.len() > 3 * (2 + 5 * 2 * 9));
        let mut other = arch.clone();
        other.choices[0] = 2;
        assert_eq!(space.resolution(&other), 24);
        let other_head = block_key(&space, blocks_of(&space, &other).last().unwrap());
        assert_eq!(other_head, keys[14]);
    }
}
