//! An experiment as one value: [`ExperimentConfig`] names a method by its `method` tag and
//! holds that method's config; [`ExperimentConfig::validate`] checks once that the space can be
//! searched with the strategy, and [`ExperimentConfig::run`] calls the method's run function.
//! `nasr search -c FILE.toml` reads one ([`ExperimentConfig::from_toml`]); a library user (or a
//! Python package) can build the same value.
//!
//! In TOML the tag sits beside the method's own fields, which are those of its config struct:
//!
//! | `method` | config | strategies, spaces |
//! |---|---|---|
//! | `table` | [`SearchConfig`] | rs, rea, reinforce, nsga2 on the NAS-Bench-201 table (nb201) |
//! | `rsws` | [`RswsConfig`] | random search with weight sharing (nb201) |
//! | `asha`, `hyperband` | [`MultiFidelityConfig`] (`strategy` implied) | standalone training (nb201) |
//! | `fairnas`, `spos` | [`FairNasConfig`] (`sampling` implied) | supernet + NSGA-II (mobilenet) |
//! | `darts` | [`DartsConfig`] | differentiable search (nb201, darts) |
//! | `proxyless` | [`ProxylessConfig`] | binary-gated path search with a latency loss (proxyless, mobilenet) |
//! | `ofa` | [`ProgressiveShrinkingConfig`] | Once-for-All's elastic supernet by progressive shrinking (ofa) |
//! | `dna` | [`DnaConfig`] | blocks distilled from a teacher, exact selection within a budget (mobilenet) |
//! | `ftt` | [`FttConfig`] | FTT-NAS: a fault-tolerant supernet, REINFORCE or REA rewarded under faults (nb201, darts) |
//! | `train` | [`TrainRunConfig`] | one architecture from scratch (any space) |
//!
//! ```
//! use nasr_methods::experiment::{ExperimentConfig, SearchStrategy};
//! use nasr_methods::space::SpaceName;
//!
//! let text = r#"
//! method = "rsws"
//! candidates = 20
//! [data]
//! name = "mnist"
//! train_subset = 10000
//! [train]
//! epochs = 2
//! "#;
//! let experiment = ExperimentConfig::from_toml(text, None).unwrap();
//! assert_eq!(experiment.strategy(), Some(SearchStrategy::Rsws));
//! assert_eq!(experiment.space(), SpaceName::Nb201);
//!
//! // The darts space is searched by DARTS only; the error names it.
//! let error = ExperimentConfig::from_toml("method = \"rsws\"\n[space.darts]", None);
//! let message = error.unwrap_err().to_string();
//! assert!(message.contains("space darts searches with strategy darts or ftt; got rsws"), "{message}");
//! ```
//!
//! Fields a file leaves out take the defaults of the method's config struct (its `Default`).
//! A run folder's `config.toml` is the method's config without the tag: read it with the
//! strategy that wrote it (`from_toml(text, Some(strategy))`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use nasr_nn::NnError;
use nasr_search::experiment::{BestRecord, SearchConfig, run_table_search};
use nasr_search::nb201_table::{Nb201Dataset, Nb201Table};
use nasr_search::registry::StrategyName;
use nasr_search::{SearchError, TrialRecord};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

use crate::darts::{DartsConfig, DartsResult, darts_run};
use crate::dna::{DnaConfig, DnaResult, dna_run};
use crate::fairnas::{FairNasConfig, FairNasResult, PathSampling, fairnas_run};
use crate::ftt::{FttConfig, FttResult, ftt_run};
use crate::multi_fidelity::{MultiFidelityConfig, MultiFidelitySummary, run_multi_fidelity};
use crate::ofa::{OfaResult, ProgressiveShrinkingConfig, progressive_shrinking_run};
use crate::proxyless::{ProxylessConfig, ProxylessResult, proxyless_run};
use crate::rsws::{RswsConfig, RswsResult, rsws_run};
use crate::run::{RunMetrics, RunOptions, TrainRunConfig, train_run};
use crate::space::{SpaceConfig, SpaceName, refuse_config_format_1};

/// The `method` tags of [`ExperimentConfig`], in its order.
pub const METHODS: [&str; 12] = [
    "table",
    "rsws",
    "asha",
    "hyperband",
    "fairnas",
    "spos",
    "darts",
    "proxyless",
    "ofa",
    "dna",
    "ftt",
    "train",
];

/// What can go wrong building or running an experiment.
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
    /// The TOML text is not an experiment config (syntax, an unknown field, a wrong type).
    #[error("{0}")]
    Toml(String),
    /// Training failed or a run folder could not be written.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// The table search, its store or the NAS-Bench-201 table failed.
    #[error(transparent)]
    Search(#[from] SearchError),
}

/// The member of `all` that `as_str` names `name`; else an error listing the names of `kind`.
pub(crate) fn by_name<T: Copy>(
    kind: &'static str,
    name: &str,
    all: &[T],
    as_str: fn(T) -> &'static str,
) -> Result<T, ExperimentError> {
    all.iter()
        .copied()
        .find(|&item| as_str(item) == name)
        .ok_or_else(|| ExperimentError::Unknown {
            kind,
            name: name.to_string(),
            known: all
                .iter()
                .map(|&item| as_str(item))
                .collect::<Vec<_>>()
                .join(", "),
        })
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
    /// ProxylessNAS: binary-gated path search with a latency loss, derivation, retraining.
    Proxyless,
    /// Once-for-All: the elastic supernet trained by progressive shrinking.
    Ofa,
    /// DNA: block supernets distilled from a teacher's features, exact selection, retraining.
    Dna,
    /// FTT-NAS: a fault-tolerantly trained supernet, a strategy rewarded clean and under
    /// faults, fault-tolerant retraining.
    Ftt,
}

impl SearchStrategy {
    /// Every strategy.
    pub const ALL: [Self; 14] = [
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
        Self::Proxyless,
        Self::Ofa,
        Self::Dna,
        Self::Ftt,
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
            Self::Proxyless => "proxyless",
            Self::Ofa => "ofa",
            Self::Dna => "dna",
            Self::Ftt => "ftt",
        }
    }

    /// The spaces it searches; the first is the one it searches when none is named.
    pub fn spaces(self) -> &'static [SpaceName] {
        match self {
            // FairNAS's own space is chain-structured; its trainer and NSGA-II stage are
            // written for the MobileNet layers.
            Self::Fairnas | Self::Spos => &[SpaceName::Mobilenet],
            Self::Darts | Self::Ftt => &[SpaceName::Nb201, SpaceName::Darts],
            Self::Proxyless => &[SpaceName::Proxyless, SpaceName::Mobilenet],
            Self::Ofa => &[SpaceName::Ofa],
            Self::Dna => &[SpaceName::Mobilenet],
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

    /// The `method` tag of the experiment that runs it.
    pub fn method(self) -> &'static str {
        if self.table_strategy().is_some() {
            "table"
        } else {
            self.as_str()
        }
    }

    /// The field of the method's config that this strategy fixes, and its value.
    fn implied_field(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Rs | Self::Rea | Self::Reinforce | Self::Nsga2 | Self::Asha | Self::Hyperband => {
                Some(("strategy", self.as_str()))
            }
            Self::Fairnas => Some(("sampling", "strict_fair")),
            Self::Spos => Some(("sampling", "uniform")),
            Self::Rsws | Self::Darts | Self::Proxyless | Self::Ofa | Self::Dna | Self::Ftt => None,
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
        by_name("strategy", name, &Self::ALL, Self::as_str)
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

/// A whole experiment: the method, by its `method` tag, and that method's config. Where two
/// tags share a config, the tag fixes one of its fields (`strategy` for `asha` and
/// `hyperband`, `sampling` for `fairnas` and `spos`); a file may leave that field out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "lowercase")]
// Built once per run and moved a handful of times: boxing the larger configs buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum ExperimentConfig {
    /// A query-based search on the NAS-Bench-201 table (`strategy`: rs, rea, reinforce, nsga2).
    Table(SearchConfig),
    /// Random search with weight sharing on the NB201 supernet.
    Rsws(RswsConfig),
    /// ASHA over standalone training of NB201 architectures.
    Asha(MultiFidelityConfig),
    /// Asynchronous Hyperband over standalone training of NB201 architectures.
    Hyperband(MultiFidelityConfig),
    /// FairNAS on the MobileNet space: strictly fair supernet training, then NSGA-II.
    Fairnas(FairNasConfig),
    /// SPOS on the MobileNet space: uniform path sampling, then NSGA-II.
    Spos(FairNasConfig),
    /// DARTS on the NB201 or DARTS space.
    Darts(DartsConfig),
    /// ProxylessNAS on a MobileNet space.
    Proxyless(ProxylessConfig),
    /// Once-for-All's progressive shrinking on the ofa space.
    Ofa(ProgressiveShrinkingConfig),
    /// DNA on the MobileNet space.
    Dna(DnaConfig),
    /// FTT-NAS on the NB201 or DARTS space.
    Ftt(FttConfig),
    /// One architecture trained from scratch.
    Train(TrainRunConfig),
}

/// Reads an experiment from any serde format through [`ExperimentConfig::from_table`], the one
/// reader, so that the implied fields and the key paths of errors are handled in one place.
impl<'de> Deserialize<'de> for ExperimentConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let table = toml::Table::deserialize(deserializer)?;
        Self::from_table(table).map_err(D::Error::custom)
    }
}

/// One method's config from its table, laid over the config's default ([`overlay`]); toml's
/// error names the key path of a field that fails to read (`in train.epochs`).
fn read_table<T: DeserializeOwned + Serialize + Default>(
    table: toml::Table,
) -> Result<T, ExperimentError> {
    let mut config = match toml::Value::try_from(T::default()) {
        Ok(toml::Value::Table(defaults)) => defaults,
        _ => toml::Table::new(),
    };
    // A space the file names lays its fields over that space's own defaults (`[space.proxyless]`
    // over ProxylessNAS's preset), whichever space the method defaults to.
    let named_space = match table.get("space") {
        Some(toml::Value::Table(space)) if space.len() == 1 => space.keys().next(),
        _ => None,
    };
    if let Some(name) = named_space.and_then(|name| name.parse::<SpaceName>().ok())
        && let Ok(space) = toml::Value::try_from(SpaceConfig::default_of(name))
    {
        config.insert("space".into(), space);
    }
    overlay(&mut config, table);
    toml::Value::Table(config)
        .try_into()
        .map_err(|e: toml::de::Error| {
            ExperimentError::Toml(e.to_string().trim_end().replace('\n', " "))
        })
}

/// `file` laid over `defaults` key by key, nested tables merged, so that a `[train]` table
/// setting only `epochs` keeps the method's other training defaults (ProxylessNAS's Nesterov
/// and label smoothing), not those of a bare `TrainConfig`. A table naming another variant of
/// an enum than the default's (`[space.mobilenet]` over `[space.proxyless]`, `[loss.add_linear]`
/// over `[loss.mul_log]`: one key each, different) replaces it.
fn overlay(defaults: &mut toml::Table, file: toml::Table) {
    for (key, value) in file {
        match (defaults.get_mut(&key), value) {
            (Some(toml::Value::Table(base)), toml::Value::Table(given))
                if !(base.len() == 1 && given.len() == 1 && base.keys().ne(given.keys())) =>
            {
                overlay(base, given)
            }
            (_, value) => {
                defaults.insert(key, value);
            }
        }
    }
}

/// Options of a run that do not change its results.
#[derive(Debug, Clone, Default)]
pub struct ExperimentOptions {
    /// Folder holding one sub-folder per dataset (and `nas-bench-201/`).
    pub data_dir: PathBuf,
    /// Draw progress bars.
    pub show_progress: bool,
    /// Where to compute.
    pub compute: nasr_nn::Compute,
}

/// What a run returns, by method (the run folder holds the same in its files).
#[derive(Debug, Clone, PartialEq)]
pub enum ExperimentResult {
    /// The best feasible architecture of a table search, if any was found.
    Table(Option<BestRecord>),
    /// RSWS's ranking, with the NAS-Bench-201 CIFAR-10 accuracy (%) of its winner when the
    /// table is in the data folder (for orientation: the search ran on other data).
    Rsws {
        /// The run's result.
        result: RswsResult,
        /// NAS-Bench-201's CIFAR-10 test accuracy of the winning cell, in percent.
        nb201_cifar10: Option<f64>,
    },
    /// ASHA's or Hyperband's summary, best trial included.
    MultiFidelity(MultiFidelitySummary),
    /// FairNAS's or SPOS's Pareto front (supernet accuracy against multiply-adds).
    FairNas(FairNasResult),
    /// DARTS's derived architecture and its retraining.
    Darts(DartsResult),
    /// ProxylessNAS's derived network: latency predicted and measured, its retraining.
    Proxyless(ProxylessResult),
    /// Once-for-All's trained supernet: its smallest and largest sub-networks' accuracy.
    Ofa(OfaResult),
    /// DNA's pick within the budget and its retraining.
    Dna(DnaResult),
    /// FTT-NAS's pick, its scores and its fault-tolerant retraining.
    Ftt(FttResult),
    /// A training run's metrics.
    Train(RunMetrics),
}

impl ExperimentConfig {
    /// The experiment of `strategy` on `space` (default: the strategy's own), its other
    /// settings at the method config's defaults; refuses a space the strategy does not search.
    pub fn new(
        strategy: SearchStrategy,
        space: Option<SpaceName>,
    ) -> Result<Self, ExperimentError> {
        let space = space.unwrap_or(strategy.default_space());
        space.check(strategy)?;
        let mut config = match strategy {
            SearchStrategy::Rs
            | SearchStrategy::Rea
            | SearchStrategy::Reinforce
            | SearchStrategy::Nsga2 => Self::Table(SearchConfig::default()),
            SearchStrategy::Rsws => Self::Rsws(RswsConfig::default()),
            SearchStrategy::Asha | SearchStrategy::Hyperband => {
                Self::Asha(MultiFidelityConfig::default())
            }
            SearchStrategy::Fairnas | SearchStrategy::Spos => {
                Self::Fairnas(FairNasConfig::default())
            }
            SearchStrategy::Darts => Self::Darts(DartsConfig::default()),
            SearchStrategy::Proxyless => Self::Proxyless(ProxylessConfig::default()),
            SearchStrategy::Ofa => Self::Ofa(ProgressiveShrinkingConfig::default()),
            SearchStrategy::Dna => Self::Dna(DnaConfig::default()),
            SearchStrategy::Ftt => Self::Ftt(FttConfig::default()),
        }
        .with_strategy(strategy)?;
        config.set_space(space)?;
        Ok(config)
    }

    /// Reads an experiment from TOML and validates it. A text without `method` (a run folder's
    /// `config.toml`) is read as the experiment of `strategy`; with `method`, a given
    /// `strategy` replaces the file's within its method ([`Self::with_strategy`]).
    pub fn from_toml(
        text: &str,
        strategy: Option<SearchStrategy>,
    ) -> Result<Self, ExperimentError> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| ExperimentError::Toml(e.to_string()))?;
        if !table.contains_key("method") {
            let Some(strategy) = strategy else {
                return Err(ExperimentError::Config {
                    field: "method",
                    problem: format!(
                        "is missing: expected one of {} (a run folder's config.toml has none; \
                         name the strategy that wrote it)",
                        METHODS.join(", ")
                    ),
                });
            };
            table.insert("method".into(), strategy.method().into());
            if let Some((key, value)) = strategy.implied_field() {
                table.insert(key.into(), value.into());
            }
        }
        let config = Self::from_table(table)?;
        let config = match strategy {
            Some(strategy) => config.with_strategy(strategy)?,
            None => config,
        };
        config.validate()?;
        Ok(config)
    }

    /// Reads a parsed file with its `method` tag. Each method's config is read on its own, so
    /// that an error names the failing field (`... in train.epochs`); through serde's tagged
    /// enum the field's path is lost.
    fn from_table(mut table: toml::Table) -> Result<Self, ExperimentError> {
        refuse_config_format_1(&table)?;
        let method = match table.remove("method") {
            Some(toml::Value::String(method)) => method,
            other => {
                return Err(ExperimentError::Config {
                    field: "method",
                    problem: format!(
                        "must be one of {}; got {}",
                        METHODS.join(", "),
                        other.map_or("nothing".into(), |v| v.to_string())
                    ),
                });
            }
        };
        // The tags asha, hyperband, fairnas and spos name a strategy, which fixes one field.
        let implied = method
            .parse::<SearchStrategy>()
            .ok()
            .and_then(|s| s.implied_field().map(|field| (s, field)));
        if let Some((strategy, (key, value))) = implied {
            match table.get(key) {
                None => {
                    table.insert(key.into(), value.into());
                }
                Some(toml::Value::String(given)) if given == value => {}
                Some(given) => {
                    return Err(ExperimentError::Toml(format!(
                        "method {strategy} has {key} = \"{value}\" (or leave {key} out); got \
                         {key} = {given}"
                    )));
                }
            }
        }
        Ok(match method.as_str() {
            "table" => Self::Table(read_table(table)?),
            "rsws" => Self::Rsws(read_table(table)?),
            "asha" => Self::Asha(read_table(table)?),
            "hyperband" => Self::Hyperband(read_table(table)?),
            "fairnas" => Self::Fairnas(read_table(table)?),
            "spos" => Self::Spos(read_table(table)?),
            "darts" => Self::Darts(read_table(table)?),
            "proxyless" => Self::Proxyless(read_table(table)?),
            "ofa" => Self::Ofa(read_table(table)?),
            "dna" => Self::Dna(read_table(table)?),
            "ftt" => Self::Ftt(read_table(table)?),
            "train" => Self::Train(read_table(table)?),
            other => {
                return Err(ExperimentError::Config {
                    field: "method",
                    problem: format!("must be one of {}; got {other:?}", METHODS.join(", ")),
                });
            }
        })
    }

    /// The `method` tag.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Table(_) => "table",
            Self::Rsws(_) => "rsws",
            Self::Asha(_) => "asha",
            Self::Hyperband(_) => "hyperband",
            Self::Fairnas(_) => "fairnas",
            Self::Spos(_) => "spos",
            Self::Darts(_) => "darts",
            Self::Proxyless(_) => "proxyless",
            Self::Ofa(_) => "ofa",
            Self::Dna(_) => "dna",
            Self::Ftt(_) => "ftt",
            Self::Train(_) => "train",
        }
    }

    /// The strategy it runs (`None` for a training run, which searches nothing).
    pub fn strategy(&self) -> Option<SearchStrategy> {
        Some(match self {
            Self::Table(c) => c.strategy.into(),
            Self::Rsws(_) => SearchStrategy::Rsws,
            Self::Asha(_) => SearchStrategy::Asha,
            Self::Hyperband(_) => SearchStrategy::Hyperband,
            Self::Fairnas(_) => SearchStrategy::Fairnas,
            Self::Spos(_) => SearchStrategy::Spos,
            Self::Darts(_) => SearchStrategy::Darts,
            Self::Proxyless(_) => SearchStrategy::Proxyless,
            Self::Ofa(_) => SearchStrategy::Ofa,
            Self::Dna(_) => SearchStrategy::Dna,
            Self::Ftt(_) => SearchStrategy::Ftt,
            Self::Train(_) => return None,
        })
    }

    /// The space it searches (or trains in).
    pub fn space(&self) -> SpaceName {
        match self {
            Self::Table(_) => SpaceName::Nb201,
            Self::Rsws(c) => c.space.name(),
            Self::Asha(c) | Self::Hyperband(c) => c.run.space.name(),
            Self::Fairnas(c) | Self::Spos(c) => c.space.name(),
            Self::Darts(c) => c.space.name(),
            Self::Proxyless(c) => c.space.name(),
            Self::Ofa(c) => c.space.name(),
            Self::Dna(c) => c.space.name(),
            Self::Ftt(c) => c.space.name(),
            Self::Train(c) => c.space.name(),
        }
    }

    /// The same experiment with another strategy of its method (a table strategy for another,
    /// ASHA for Hyperband, FairNAS for SPOS and back); refuses one another method runs.
    pub fn with_strategy(self, strategy: SearchStrategy) -> Result<Self, ExperimentError> {
        let method = self.method();
        let other = || ExperimentError::Config {
            field: "method",
            problem: format!(
                "is {method}, which does not run strategy {strategy}; that is method = \"{}\" \
                 with its own settings",
                strategy.method()
            ),
        };
        Ok(match (self, strategy) {
            (Self::Table(mut c), s) => {
                c.strategy = s.table_strategy().ok_or_else(other)?;
                Self::Table(c)
            }
            (Self::Asha(mut c) | Self::Hyperband(mut c), SearchStrategy::Asha) => {
                c.strategy = StrategyName::Asha;
                Self::Asha(c)
            }
            (Self::Asha(mut c) | Self::Hyperband(mut c), SearchStrategy::Hyperband) => {
                c.strategy = StrategyName::Hyperband;
                Self::Hyperband(c)
            }
            (Self::Fairnas(mut c) | Self::Spos(mut c), SearchStrategy::Fairnas) => {
                c.sampling = PathSampling::StrictFair;
                Self::Fairnas(c)
            }
            (Self::Fairnas(mut c) | Self::Spos(mut c), SearchStrategy::Spos) => {
                c.sampling = PathSampling::Uniform;
                Self::Spos(c)
            }
            (config @ Self::Rsws(_), SearchStrategy::Rsws)
            | (config @ Self::Darts(_), SearchStrategy::Darts)
            | (config @ Self::Proxyless(_), SearchStrategy::Proxyless)
            | (config @ Self::Ofa(_), SearchStrategy::Ofa)
            | (config @ Self::Dna(_), SearchStrategy::Dna)
            | (config @ Self::Ftt(_), SearchStrategy::Ftt) => config,
            _ => return Err(other()),
        })
    }

    /// Sets the space searched: its sizes are kept when it is the space already set, else they
    /// are the new space's defaults. Refuses a space the strategy does not search, naming
    /// those it does.
    pub fn set_space(&mut self, space: SpaceName) -> Result<(), ExperimentError> {
        if let Some(strategy) = self.strategy() {
            space.check(strategy)?;
        }
        let retyped = |config: &mut SpaceConfig| *config = config.clone().with_name(space);
        match self {
            Self::Rsws(c) => retyped(&mut c.space),
            Self::Asha(c) | Self::Hyperband(c) => retyped(&mut c.run.space),
            Self::Fairnas(c) | Self::Spos(c) => retyped(&mut c.space),
            Self::Darts(c) => retyped(&mut c.space),
            Self::Proxyless(c) => retyped(&mut c.space),
            Self::Ofa(c) => retyped(&mut c.space),
            Self::Dna(c) => retyped(&mut c.space),
            Self::Ftt(c) => retyped(&mut c.space),
            Self::Train(c) => retyped(&mut c.space),
            // The table is NB201's, checked above.
            Self::Table(_) => {}
        }
        Ok(())
    }

    /// Checks that the space can be searched with the strategy, and that the fields a tag
    /// fixes agree with it; the error names the valid choices.
    pub fn validate(&self) -> Result<(), ExperimentError> {
        let mismatch = |field, expected: &str, got: String| ExperimentError::Config {
            field,
            problem: format!("of method {} must be {expected}; got {got}", self.method()),
        };
        match self {
            Self::Table(c) if SearchStrategy::from(c.strategy).table_strategy().is_none() => {
                return Err(mismatch(
                    "strategy",
                    "rs, rea, reinforce or nsga2 (the table's strategies; \
                     asha and hyperband train on data, as method = \"asha\" or \"hyperband\")",
                    c.strategy.to_string(),
                ));
            }
            Self::Asha(c) if c.strategy != StrategyName::Asha => {
                return Err(mismatch("strategy", "asha", c.strategy.to_string()));
            }
            Self::Hyperband(c) if c.strategy != StrategyName::Hyperband => {
                return Err(mismatch("strategy", "hyperband", c.strategy.to_string()));
            }
            Self::Fairnas(c) if c.sampling != PathSampling::StrictFair => {
                return Err(mismatch(
                    "sampling",
                    "strict_fair",
                    format!("{:?}", c.sampling),
                ));
            }
            Self::Spos(c) if c.sampling != PathSampling::Uniform => {
                return Err(mismatch("sampling", "uniform", format!("{:?}", c.sampling)));
            }
            _ => {}
        }
        match self.strategy() {
            Some(strategy) => self.space().check(strategy),
            None => Ok(()),
        }
    }

    /// Validates, then runs the method into the run folder `out` (a rerun into the same folder
    /// resumes).
    pub fn run(
        &self,
        out: &Path,
        options: &ExperimentOptions,
    ) -> Result<ExperimentResult, ExperimentError> {
        self.run_observed(out, options, &mut |_| {})
    }

    /// [`Self::run`], with `on_trial` seeing each finished trial of the methods that record
    /// trials (table, asha, hyperband).
    pub fn run_observed(
        &self,
        out: &Path,
        options: &ExperimentOptions,
        on_trial: &mut (dyn FnMut(&TrialRecord) + Send),
    ) -> Result<ExperimentResult, ExperimentError> {
        self.validate()?;
        // A device this build lacks would otherwise fall back to the CPU without a word.
        options.compute.check_built()?;
        let data_dir = options.data_dir.as_path();
        let run = RunOptions {
            show_progress: options.show_progress,
            compute: options.compute,
        };
        Ok(match self {
            Self::Table(config) => {
                let table = Nb201Table::load(data_dir)?;
                ExperimentResult::Table(run_table_search(config, &table, out, on_trial)?)
            }
            Self::Rsws(config) => {
                let result = rsws_run(config, data_dir, out, &run)?;
                let nb201_cifar10 = Nb201Table::load(data_dir)
                    .ok()
                    .map(|table| table.accuracy(result.best.index, Nb201Dataset::Cifar10));
                ExperimentResult::Rsws {
                    result,
                    nb201_cifar10,
                }
            }
            Self::Asha(config) | Self::Hyperband(config) => ExperimentResult::MultiFidelity(
                run_multi_fidelity(config, data_dir, out, &run, on_trial)?,
            ),
            Self::Fairnas(config) | Self::Spos(config) => {
                ExperimentResult::FairNas(fairnas_run(config, data_dir, out, &run)?)
            }
            Self::Darts(config) => {
                let table = Nb201Table::load(data_dir).ok();
                ExperimentResult::Darts(darts_run(config, data_dir, out, &run, table.as_ref())?)
            }
            Self::Proxyless(config) => {
                ExperimentResult::Proxyless(proxyless_run(config, data_dir, out, &run)?)
            }
            Self::Ofa(config) => {
                ExperimentResult::Ofa(progressive_shrinking_run(config, data_dir, out, &run)?)
            }
            Self::Dna(config) => ExperimentResult::Dna(dna_run(config, data_dir, out, &run)?),
            Self::Ftt(config) => ExperimentResult::Ftt(ftt_run(config, data_dir, out, &run)?),
            Self::Train(config) => ExperimentResult::Train(train_run(config, data_dir, out, &run)?),
        })
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
            "space mobilenet searches with strategy fairnas, spos, proxyless or dna; got rea"
        );
        assert_eq!(
            message(SpaceName::Darts, SearchStrategy::Rsws),
            "space darts searches with strategy darts or ftt; got rsws"
        );
        assert_eq!(
            message(SpaceName::Nb201, SearchStrategy::Spos),
            "space nb201 searches with strategy rs, rea, reinforce, nsga2, rsws, asha, \
             hyperband, darts or ftt; got spos"
        );
        for strategy in SearchStrategy::ALL {
            for &space in strategy.spaces() {
                let config = ExperimentConfig::new(strategy, Some(space)).unwrap();
                assert_eq!((config.strategy(), config.space()), (Some(strategy), space));
                config.validate().unwrap();
            }
        }
    }

    #[test]
    fn a_partial_nested_table_keeps_the_methods_own_defaults_and_another_variant_replaces() {
        let text = "method = \"proxyless\"\n[train]\nepochs = 5\n[loss.add_linear]\nlambda = 2.0\n\
                    [space.proxyless]\nallow_skip = false\n";
        let ExperimentConfig::Proxyless(config) = ExperimentConfig::from_toml(text, None).unwrap()
        else {
            panic!("a proxyless config");
        };
        let defaults = ProxylessConfig::default();
        assert_eq!(config.train.epochs, 5);
        // ProxylessNAS's training settings, not a bare TrainConfig's.
        assert_eq!(
            config.train,
            nasr_nn::train::TrainConfig {
                epochs: 5,
                ..defaults.train
            }
        );
        assert_eq!(
            config.loss,
            nasr_search::hardware_loss::CostLoss::AddLinear { lambda: 2.0 }
        );
        let layout = config.space.mobilenet("proxyless").unwrap();
        assert!(!layout.allow_skip);
        assert_eq!(
            layout.stages,
            defaults.space.mobilenet("proxyless").unwrap().stages
        );
        // A training run defaults to NB201; naming the proxyless space gives its preset.
        let text = "method = \"train\"\narch = \"x\"\n[space.proxyless]\nhead_channels = 96\n";
        let ExperimentConfig::Train(config) = ExperimentConfig::from_toml(text, None).unwrap()
        else {
            panic!("a training config");
        };
        assert_eq!(
            config.space,
            SpaceConfig::Proxyless(nasr_space::mobilenet::MobileNetConfig {
                head_channels: 96,
                ..nasr_space::mobilenet::MobileNetConfig::proxyless()
            })
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

    #[test]
    fn a_tag_fills_in_the_field_it_fixes_and_refuses_another_value() {
        let hyperband = ExperimentConfig::from_toml("method = \"hyperband\"", None).unwrap();
        assert!(
            matches!(&hyperband, ExperimentConfig::Hyperband(c) if c.strategy == StrategyName::Hyperband)
        );
        let spos = ExperimentConfig::from_toml("method = \"spos\"\nqueries = 7", None).unwrap();
        assert!(
            matches!(&spos, ExperimentConfig::Spos(c) if c.sampling == PathSampling::Uniform && c.queries == 7)
        );
        let error =
            ExperimentConfig::from_toml("method = \"asha\"\nstrategy = \"hyperband\"", None)
                .unwrap_err()
                .to_string();
        assert!(
            error.contains("method asha has strategy = \"asha\""),
            "{error}"
        );
        // Serialised and read back, every tag gives the same experiment.
        for strategy in SearchStrategy::ALL {
            let config = ExperimentConfig::new(strategy, None).unwrap();
            let text = toml::to_string(&config).unwrap();
            assert_eq!(
                ExperimentConfig::from_toml(&text, None).unwrap(),
                config,
                "{text}"
            );
        }
    }

    #[test]
    fn serde_reads_an_experiment_as_the_file_reader_does() {
        // Through serde (here JSON, as a Python package would hand it over) the tag fills in
        // the field it fixes, refuses another value, and a written experiment reads back.
        let asha: ExperimentConfig = serde_json::from_str(r#"{"method": "hyperband"}"#).unwrap();
        assert_eq!(asha.strategy(), Some(SearchStrategy::Hyperband));
        let err = serde_json::from_str::<ExperimentConfig>(
            r#"{"method": "fairnas", "sampling": "uniform"}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("method fairnas has sampling"),
            "{err}"
        );
        let spos = ExperimentConfig::new(SearchStrategy::Spos, None).unwrap();
        let text = toml::to_string(&spos).unwrap();
        assert_eq!(toml::from_str::<ExperimentConfig>(&text).unwrap(), spos);
    }

    #[test]
    fn a_run_folder_config_reads_with_the_strategy_that_wrote_it() {
        let rsws = RswsConfig {
            candidates: 7,
            ..RswsConfig::default()
        };
        let text = toml::to_string_pretty(&rsws).unwrap();
        assert_eq!(
            ExperimentConfig::from_toml(&text, Some(SearchStrategy::Rsws)).unwrap(),
            ExperimentConfig::Rsws(rsws)
        );
        let error = ExperimentConfig::from_toml(&text, None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("method is missing: expected one of table, rsws"),
            "{error}"
        );
        let error = ExperimentConfig::from_toml(&text, Some(SearchStrategy::Darts))
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `candidates`"), "{error}");
        let table = ExperimentConfig::from_toml("method = \"table\"", Some(SearchStrategy::Nsga2));
        assert!(
            matches!(table, Ok(ExperimentConfig::Table(c)) if c.strategy == StrategyName::Nsga2)
        );
        let error = ExperimentConfig::from_toml("method = \"rsws\"", Some(SearchStrategy::Rea))
            .unwrap_err()
            .to_string();
        assert!(error.contains("method = \"table\""), "{error}");
    }
}
