//! The typed names that experiment configs are made of: [`SpaceName`] (a config's `space`),
//! [`SearchStrategy`] (what `nasr search --strategy` runs, and which spaces it searches) and
//! [`DartsOrder`]. Their serde names are the strings (and, for the order, the numbers) that
//! configs held before they were typed, so the `config.toml` of an existing run folder reads
//! the same.

use std::fmt;
use std::str::FromStr;

use nasr_search::registry::StrategyName;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A name that is not known, a config value that does not fit, or a space a strategy does
/// not search.
#[derive(Debug, Error)]
pub enum ExperimentError {
    /// The space is not searched by the strategy; names the strategies that search it.
    #[error("space {space} searches with strategy {}; got {strategy}", choices(&space.strategies()))]
    Pair {
        /// The space asked for.
        space: SpaceName,
        /// The strategy asked for.
        strategy: SearchStrategy,
    },
    /// A name (space, strategy) is not one nasr knows; lists those it knows.
    #[error("unknown {kind} {name:?}; known: {known}")]
    Unknown {
        /// What was named (`space`, `strategy`).
        kind: &'static str,
        /// The name given.
        name: String,
        /// The names known, comma-separated.
        known: String,
    },
    /// A config value does not fit the experiment; names the field.
    #[error("invalid experiment config: {field} {problem}")]
    Config {
        /// The field.
        field: &'static str,
        /// What was wrong with it, and what was expected.
        problem: String,
    },
}

/// `a`, `a or b`, `a, b or c`.
fn choices<T: fmt::Display>(items: &[T]) -> String {
    let names: Vec<String> = items.iter().map(T::to_string).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// A search space by name: the typed form of a config's `space` (serde and
/// [`FromStr`] names `nb201`, `mobilenet`, `darts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpaceName {
    /// NAS-Bench-201's cell: 6 edges x 5 ops, in three stages of N cells.
    Nb201,
    /// ProxylessNAS/FairNAS MBConv layers: kernel x expansion, plus skip.
    Mobilenet,
    /// DARTS' normal and reduction cells: 14 edges x 8 ops each.
    Darts,
}

impl SpaceName {
    /// Every space.
    pub const ALL: [Self; 3] = [Self::Nb201, Self::Mobilenet, Self::Darts];

    /// The name in configs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nb201 => "nb201",
            Self::Mobilenet => "mobilenet",
            Self::Darts => "darts",
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
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| ExperimentError::Unknown {
                kind: "space",
                name: name.to_string(),
                known: Self::ALL.map(Self::as_str).join(", "),
            })
    }
}

/// A strategy `nasr search` runs: an ask/tell strategy on the NAS-Bench-201 table, or a
/// method that trains on data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchStrategy {
    /// Random search on the table.
    Rs,
    /// Regularised evolution on the table.
    Rea,
    /// REINFORCE on the table.
    Reinforce,
    /// NSGA-II on the table: accuracy against latency.
    Nsga2,
    /// Random search with weight sharing: train the NB201 supernet, rank sampled paths.
    Rsws,
    /// ASHA: random architectures trained from scratch, stopped early by successive halving.
    Asha,
    /// Asynchronous Hyperband: ASHA brackets from every starting rung.
    Hyperband,
    /// FairNAS: strictly fair supernet training, then NSGA-II over it.
    Fairnas,
    /// SPOS: uniform single-path supernet training, then NSGA-II over it.
    Spos,
    /// DARTS: differentiable search, derivation, retraining.
    Darts,
}

impl SearchStrategy {
    /// Every strategy.
    pub const ALL: [Self; 10] = [
        Self::Rs,
        Self::Rea,
        Self::Reinforce,
        Self::Nsga2,
        Self::Rsws,
        Self::Asha,
        Self::Hyperband,
        Self::Fairnas,
        Self::Spos,
        Self::Darts,
    ];

    /// The name in configs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs => "rs",
            Self::Rea => "rea",
            Self::Reinforce => "reinforce",
            Self::Nsga2 => "nsga2",
            Self::Rsws => "rsws",
            Self::Asha => "asha",
            Self::Hyperband => "hyperband",
            Self::Fairnas => "fairnas",
            Self::Spos => "spos",
            Self::Darts => "darts",
        }
    }

    /// The spaces it searches; the first is the one it searches when none is named.
    pub fn spaces(self) -> &'static [SpaceName] {
        match self {
            // FairNAS's own space is chain-structured; its trainer and NSGA-II stage are
            // written for the MobileNet layers.
            Self::Fairnas | Self::Spos => &[SpaceName::Mobilenet],
            Self::Darts => &[SpaceName::Nb201, SpaceName::Darts],
            // The table covers NB201 only, and RSWS and ASHA train NB201 networks.
            _ => &[SpaceName::Nb201],
        }
    }

    /// The space it searches when none is named.
    pub fn default_space(self) -> SpaceName {
        self.spaces()[0]
    }

    /// The table strategy, for those that query the NAS-Bench-201 table.
    pub fn table_strategy(self) -> Option<StrategyName> {
        match self {
            Self::Rs => Some(StrategyName::Rs),
            Self::Rea => Some(StrategyName::Rea),
            Self::Reinforce => Some(StrategyName::Reinforce),
            Self::Nsga2 => Some(StrategyName::Nsga2),
            _ => None,
        }
    }
}

impl From<StrategyName> for SearchStrategy {
    fn from(name: StrategyName) -> Self {
        match name {
            StrategyName::Rs => Self::Rs,
            StrategyName::Rea => Self::Rea,
            StrategyName::Reinforce => Self::Reinforce,
            StrategyName::Nsga2 => Self::Nsga2,
            StrategyName::Asha => Self::Asha,
            StrategyName::Hyperband => Self::Hyperband,
        }
    }
}

impl fmt::Display for SearchStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SearchStrategy {
    type Err = ExperimentError;

    fn from_str(name: &str) -> Result<Self, ExperimentError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| ExperimentError::Unknown {
                kind: "strategy",
                name: name.to_string(),
                known: Self::ALL.map(Self::as_str).join(", "),
            })
    }
}

/// DARTS' architecture gradient: first order, or second order through one unrolled weight
/// step. Written as `1` or `2` in configs, as before it was typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum DartsOrder {
    /// grad_alpha L_val(w, alpha) at the current weights.
    First,
    /// Through one virtual SGD step of the weights (DARTS' eq. 7).
    Second,
}

impl From<DartsOrder> for u8 {
    fn from(order: DartsOrder) -> Self {
        match order {
            DartsOrder::First => 1,
            DartsOrder::Second => 2,
        }
    }
}

impl TryFrom<u8> for DartsOrder {
    type Error = ExperimentError;

    fn try_from(order: u8) -> Result<Self, ExperimentError> {
        match order {
            1 => Ok(Self::First),
            2 => Ok(Self::Second),
            other => Err(ExperimentError::Config {
                field: "order",
                problem: format!("must be 1 (first order) or 2 (second order), got {other}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_space_names_the_strategies_that_search_it() {
        let message = |space: SpaceName, strategy| space.check(strategy).unwrap_err().to_string();
        assert_eq!(
            message(SpaceName::Mobilenet, SearchStrategy::Rea),
            "space mobilenet searches with strategy fairnas or spos; got rea"
        );
        assert_eq!(
            message(SpaceName::Darts, SearchStrategy::Rsws),
            "space darts searches with strategy darts; got rsws"
        );
        assert_eq!(
            message(SpaceName::Nb201, SearchStrategy::Spos),
            "space nb201 searches with strategy rs, rea, reinforce, nsga2, rsws, asha, \
             hyperband or darts; got spos"
        );
    }

    #[test]
    fn names_read_as_the_strings_configs_held_before_they_were_typed() {
        for space in SpaceName::ALL {
            assert_eq!(space.as_str().parse::<SpaceName>().unwrap(), space);
            assert_eq!(
                serde_json::to_string(&space).unwrap(),
                format!("\"{space}\"")
            );
        }
        for strategy in SearchStrategy::ALL {
            assert_eq!(
                strategy.as_str().parse::<SearchStrategy>().unwrap(),
                strategy
            );
        }
        assert!(
            "bohb"
                .parse::<SearchStrategy>()
                .unwrap_err()
                .to_string()
                .contains("known: rs, rea, reinforce, nsga2, rsws")
        );
        assert_eq!(serde_json::to_string(&DartsOrder::Second).unwrap(), "2");
        let error = serde_json::from_str::<DartsOrder>("3")
            .unwrap_err()
            .to_string();
        assert!(error.contains("must be 1 (first order) or 2"), "{error}");
    }
}
