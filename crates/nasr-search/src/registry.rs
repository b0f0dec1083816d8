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
