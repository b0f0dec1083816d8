//! The space a config names: [`SpaceName`] by name, and [`SpaceConfig`], the space with its
//! network sizes, written in TOML as one table named by the space:
//!
//! ```toml
//! [space.nb201]
//! channels = 8
//! cells = 1
//! ```
//!
//! `[space.mobilenet]` holds a [`MobileNetConfig`] and `[space.darts]` a [`DartsNetConfig`].
//! Configs written before this form (config format 1: `space = "nb201"` beside `[network]`,
//! `[mobilenet]` or `[darts_net]` tables) are refused by [`refuse_config_format_1`], which
//! says how to rewrite them.

use std::fmt;
use std::str::FromStr;

use nasr_nn::NnError;
use nasr_nn::nets::darts::DartsNetConfig;
use nasr_space::mobilenet::MobileNetConfig;
use nasr_space::ofa::OfaConfig;
use serde::{Deserialize, Serialize};

use crate::experiment::{ExperimentError, SearchStrategy, by_name};

/// A search space by name: the typed form of a config's `space` (serde and
/// [`FromStr`] names `nb201`, `mobilenet`, `darts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpaceName {
    /// NAS-Bench-201's cell: 6 edges x 5 ops, in three stages of N cells.
    Nb201,
    /// ProxylessNAS/FairNAS MBConv layers: kernel x expansion (FairNAS's space: no skip).
    Mobilenet,
    /// ProxylessNAS's MBConv layers scaled to MNIST: 13 layers, `skip` on the 8 residual ones
    /// ([`MobileNetConfig::proxyless`]).
    Proxyless,
    /// DARTS' normal and reduction cells: 14 edges x 8 ops each.
    Darts,
    /// Once-for-All's elastic MobileNetV3 ([`OfaConfig`]): resolution, per-unit depth,
    /// per-layer kernel and expansion.
    Ofa,
}

impl SpaceName {
    /// Every space.
    pub const ALL: [Self; 5] = [
        Self::Nb201,
        Self::Mobilenet,
        Self::Proxyless,
        Self::Darts,
        Self::Ofa,
    ];

    /// The name in configs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nb201 => "nb201",
            Self::Mobilenet => "mobilenet",
            Self::Proxyless => "proxyless",
            Self::Darts => "darts",
            Self::Ofa => "ofa",
        }
    }

    /// The strategies that search this space, in [`SearchStrategy::ALL`] order.
    pub fn strategies(self) -> Vec<SearchStrategy> {
        SearchStrategy::ALL
            .into_iter()
            .filter(|s| s.spaces().contains(&self))
            .collect()
    }

    /// Refuses a strategy that does not search this space, naming those that do.
    pub fn check(self, strategy: SearchStrategy) -> Result<(), ExperimentError> {
        if strategy.spaces().contains(&self) {
            Ok(())
        } else {
            Err(ExperimentError::Pair {
                space: self,
                strategy,
            })
        }
    }
}

impl fmt::Display for SpaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SpaceName {
    type Err = ExperimentError;

    fn from_str(name: &str) -> Result<Self, ExperimentError> {
        by_name("space", name, &Self::ALL, Self::as_str)
    }
}

/// Sizes of an NB201 network or supernet (its input channels and classes come from the data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSize {
    /// Channels of the first stage (C).
    pub channels: usize,
    /// Cells per stage (N).
    pub cells: usize,
}

impl Default for NetworkSize {
    fn default() -> Self {
        Self {
            channels: 16,
            cells: 5,
        }
    }
}

/// A space with the sizes of its networks: the one place a config says which space it trains
/// or searches in. Each space's table holds only its own fields, so no field can belong to a
/// space the config does not use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpaceConfig {
    /// NAS-Bench-201 cells: C channels, N cells per stage.
    Nb201(NetworkSize),
    /// MobileNet layers: stem, stages, head, kernel and expansion choices (the input size,
    /// channels and classes are taken from the data).
    Mobilenet(MobileNetConfig),
    /// MobileNet layers at ProxylessNAS's preset ([`MobileNetConfig::proxyless`]): the same
    /// fields as `[space.mobilenet]`, other defaults.
    Proxyless(MobileNetConfig),
    /// DARTS cells: C channels, the number of cells, auxiliary head and drop-path (the input
    /// channels and classes are taken from the data).
    Darts(DartsNetConfig),
    /// Once-for-All's elastic space: resolutions, units, depths, kernels, expansions (the input
    /// channels and classes are taken from the data).
    Ofa(OfaConfig),
}

impl SpaceConfig {
    /// The space at its default sizes.
    pub fn default_of(name: SpaceName) -> Self {
        match name {
            SpaceName::Nb201 => Self::Nb201(NetworkSize::default()),
            SpaceName::Mobilenet => Self::Mobilenet(MobileNetConfig::default()),
            SpaceName::Proxyless => Self::Proxyless(MobileNetConfig::proxyless()),
            SpaceName::Darts => Self::Darts(DartsNetConfig::default()),
            SpaceName::Ofa => Self::Ofa(OfaConfig::default()),
        }
    }

    /// The space's name.
    pub fn name(&self) -> SpaceName {
        match self {
            Self::Nb201(_) => SpaceName::Nb201,
            Self::Mobilenet(_) => SpaceName::Mobilenet,
            Self::Proxyless(_) => SpaceName::Proxyless,
            Self::Darts(_) => SpaceName::Darts,
            Self::Ofa(_) => SpaceName::Ofa,
        }
    }

    /// The space `name`: this config if it already is that space (its sizes kept), else
    /// that space at its default sizes.
    pub fn with_name(self, name: SpaceName) -> Self {
        if self.name() == name {
            self
        } else {
            Self::default_of(name)
        }
    }

    /// The NB201 sizes; a config of another space is refused, naming the method that needs
    /// NB201.
    pub fn nb201(&self, method: &str) -> Result<NetworkSize, NnError> {
        match self {
            Self::Nb201(size) => Ok(*size),
            other => Err(other.refused(method, SpaceName::Nb201)),
        }
    }

    /// The MobileNet sizes (of `[space.mobilenet]` or `[space.proxyless]`); a config of
    /// another space is refused, naming the method.
    pub fn mobilenet(&self, method: &str) -> Result<&MobileNetConfig, NnError> {
        match self {
            Self::Mobilenet(config) | Self::Proxyless(config) => Ok(config),
            other => Err(other.refused(method, SpaceName::Mobilenet)),
        }
    }

    /// The OFA sizes; a config of another space is refused, naming the method.
    pub fn ofa(&self, method: &str) -> Result<&OfaConfig, NnError> {
        match self {
            Self::Ofa(config) => Ok(config),
            other => Err(other.refused(method, SpaceName::Ofa)),
        }
    }

    fn refused(&self, method: &str, wanted: SpaceName) -> NnError {
        NnError::Config {
            field: "space",
            problem: format!(
                "{method} runs on [space.{wanted}]; got [space.{}]",
                self.name()
            ),
        }
    }
}

/// Refuses a config table written in config format 1, where the space was a name
/// (`space = "nb201"`) and its sizes sat in `[network]`, `[mobilenet]` or `[darts_net]`
/// tables: read as today's format, those tables would be unknown fields, and the message
/// would not say why. Looks at the top level and at the tables that hold a method's config
/// within a study's (`[run]`: ASHA's trial template and compare's; `[supernet]`: rank-eval's
/// and sampling-rank's).
pub fn refuse_config_format_1(table: &toml::Table) -> Result<(), NnError> {
    let old_at = |table: &toml::Table| {
        matches!(table.get("space"), Some(toml::Value::String(_)))
            || ["network", "mobilenet", "darts_net"]
                .iter()
                .any(|key| table.contains_key(*key))
    };
    let nested = ["run", "supernet"]
        .iter()
        .filter_map(|key| table.get(*key).and_then(toml::Value::as_table));
    if old_at(table) || nested.into_iter().any(old_at) {
        return Err(NnError::Config {
            field: "space",
            problem: "is in config format 1 (nasr before typed spaces): write the space as one \
                      table named by it, [space.nb201] with channels and cells (was space = \
                      \"nb201\" and [network]), [space.mobilenet] with the old [mobilenet] \
                      fields, or [space.darts] with the old [darts_net] fields"
                .into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_1_is_recognised_at_the_top_and_in_a_studys_method_table() {
        let table = |text: &str| toml::from_str::<toml::Table>(text).unwrap();
        for old in [
            "space = \"nb201\"",
            "[network]\nchannels = 4",
            "[mobilenet]\nstem_channels = 8",
            "[run]\nspace = \"nb201\"",
            "[supernet]\nspace = \"nb201\"\n[supernet.network]\ncells = 1",
            "[supernet.mobilenet]\nstem_channels = 8",
        ] {
            let error = refuse_config_format_1(&table(old)).unwrap_err().to_string();
            assert!(error.contains("config format 1"), "{old}: {error}");
        }
        for new in [
            "[space.nb201]\ncells = 1",
            "[run.space.darts]",
            "[supernet.space.mobilenet]",
        ] {
            refuse_config_format_1(&table(new)).unwrap();
        }
    }

    #[test]
    fn a_space_table_reads_back_as_written_and_switches_to_defaults() {
        let config = SpaceConfig::Nb201(NetworkSize {
            channels: 4,
            cells: 2,
        });
        let text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<SpaceConfig>(&text).unwrap(), config);
        assert_eq!(config.clone().with_name(SpaceName::Nb201), config);
        assert_eq!(
            config.with_name(SpaceName::Darts),
            SpaceConfig::Darts(DartsNetConfig::default())
        );
        let refused = SpaceConfig::default_of(SpaceName::Darts).nb201("rsws");
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("rsws runs on [space.nb201]; got [space.darts]")
        );
    }
}
