//! Strategies by name, with their settings, so that configs and the CLI can pick one.

use std::sync::Arc;

use nasr_space::Space;
use serde::{Deserialize, Serialize};

use crate::asha::Asha;
use crate::evolution::RegularizedEvolution;
use crate::nsga2::{Nsga2, Objective};
use crate::random::RandomSearch;
use crate::reinforce::Reinforce;
use crate::{Goal, Search, SearchError, Strategy};

/// Settings of every strategy; each uses its own part. Defaults follow NAS-Bench-201's baselines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StrategySettings {
    /// Regularised evolution: population size P.
    pub rea_population: usize,
    /// Regularised evolution: tournament size S.
    pub rea_tournament: usize,
    /// REINFORCE: Adam learning rate of the policy logits.
    pub reinforce_lr: f64,
    /// REINFORCE: decay of the moving-average baseline.
    pub reinforce_baseline_decay: f64,
    /// NSGA-II: population size.
    pub nsga2_population: usize,
    /// NSGA-II: the objectives besides the goal's maximised metric, minimised (`latency_ms`).
    pub nsga2_minimize: Vec<String>,
    /// ASHA / Hyperband: epochs of the lowest rung.
    pub min_epochs: usize,
    /// ASHA / Hyperband: epochs of the top rung.
    pub max_epochs: usize,
    /// ASHA / Hyperband: reduction factor between rungs.
    pub eta: usize,
}

impl Default for StrategySettings {
    fn default() -> Self {
        Self {
            rea_population: 10,
            rea_tournament: 3,
            reinforce_lr: 0.05,
            reinforce_baseline_decay: 0.9,
            nsga2_population: 20,
            nsga2_minimize: vec!["latency_ms".into()],
            min_epochs: 1,
            max_epochs: 4,
            eta: 2,
        }
    }
}

/// Names of the strategies [`build`] knows.
pub const STRATEGIES: [&str; 6] = ["rs", "rea", "reinforce", "nsga2", "asha", "hyperband"];

/// An ask/tell strategy [`build`] knows, by name: the typed form of a config's `strategy`.
/// Its serde and [`FromStr`](std::str::FromStr) names are [`STRATEGIES`], so configs written
/// with the names as strings read the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyName {
    /// Random search.
    Rs,
    /// Regularised evolution (Real et al., 2019).
    Rea,
    /// REINFORCE over independent categorical choices (Williams, 1992).
    Reinforce,
    /// NSGA-II (Deb et al., 2002): the Pareto front of several objectives.
    Nsga2,
    /// ASHA (Li et al., 2020): one bracket of asynchronous successive halving.
    Asha,
    /// Asynchronous Hyperband: ASHA brackets from every starting rung.
    Hyperband,
}

impl StrategyName {
    /// Every strategy, in the order of [`STRATEGIES`].
    pub const ALL: [Self; 6] = [
        Self::Rs,
        Self::Rea,
        Self::Reinforce,
        Self::Nsga2,
        Self::Asha,
        Self::Hyperband,
    ];

    /// The name in configs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs => "rs",
            Self::Rea => "rea",
            Self::Reinforce => "reinforce",
            Self::Nsga2 => "nsga2",
            Self::Asha => "asha",
            Self::Hyperband => "hyperband",
        }
    }
}

impl std::fmt::Display for StrategyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for StrategyName {
    type Err = SearchError;

    fn from_str(name: &str) -> Result<Self, SearchError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| SearchError::Config {
                field: "strategy".into(),
                problem: format!(
                    "unknown strategy {name:?}; known: {}",
                    STRATEGIES.join(", ")
                ),
            })
    }
}

/// The strategy `name` over `space`, toward `goal`, seeded with `seed`.
pub fn build(
    name: &str,
    space: Arc<dyn Space + Send + Sync>,
    goal: Goal,
    settings: &StrategySettings,
    seed: u64,
) -> Result<Box<dyn Strategy>, SearchError> {
    Ok(match name {
        "rs" => Box::new(Search::new(space, goal, RandomSearch, seed)),
        "rea" => {
            let policy =
                RegularizedEvolution::new(settings.rea_population, settings.rea_tournament)?;
            Box::new(Search::new(space, goal, policy, seed))
        }
        "reinforce" => {
            let policy = Reinforce::new(settings.reinforce_lr, settings.reinforce_baseline_decay)?;
            Box::new(Search::new(space, goal, policy, seed))
        }
        "nsga2" => {
            let mut objectives = vec![Objective::maximize(&goal.maximize)];
            objectives.extend(
                settings
                    .nsga2_minimize
                    .iter()
                    .map(|m| Objective::minimize(m)),
            );
            let policy = Nsga2::new(objectives, settings.nsga2_population)?;
            Box::new(Search::new(space, goal, policy, seed))
        }
        "asha" | "hyperband" => {
            let policy = Asha::named(name, settings.min_epochs, settings.max_epochs, settings.eta)?;
            Box::new(Search::new(space, goal, policy, seed))
        }
        other => {
            return Err(SearchError::Config {
                field: "strategy".into(),
                problem: format!(
                    "unknown strategy {other:?}; known: {}",
                    STRATEGIES.join(", ")
                ),
            });
        }
    })
}
