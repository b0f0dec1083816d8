//! Checking strategies against the NAS-Bench-201 table: many independent runs of a fixed number
//! of queries, and statistics of the best architecture each run found.

use std::sync::Arc;

use nasr_space::{Nb201Space, SeedStreams};
use serde::{Deserialize, Serialize};

use crate::nb201_table::{Nb201Dataset, Nb201Evaluator, Nb201Table};
use crate::registry::{StrategySettings, build};
use crate::store::drive;
use crate::{Goal, SearchError};

/// One benchmark setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchConfig {
    /// Strategy name.
    pub strategy: String,
    /// Trials per run.
    pub queries: usize,
    /// Independent runs.
    pub runs: usize,
    /// Root seed; run r of strategy s draws its seed from stream `bench/<s>/<r>`.
    pub seed: u64,
    /// Table dataset.
    pub dataset: Nb201Dataset,
    /// Latency constraint: device column and budget (ms).
    pub latency_budget: Option<(usize, f64)>,
    /// Strategy settings.
    pub settings: StrategySettings,
}

/// The outcome of all runs of one strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// Strategy name.
    pub strategy: String,
    /// Test accuracy (%) of each run's best feasible architecture (`None`: nothing feasible).
    pub final_accuracy: Vec<Option<f64>>,
    /// Per run, best feasible accuracy so far after each query (`None` until one is found).
    pub curves: Vec<Vec<Option<f64>>>,
}

impl BenchResult {
    /// Accuracies of the runs that found a feasible architecture.
    pub fn found(&self) -> Vec<f64> {
        self.final_accuracy.iter().flatten().copied().collect()
    }

    /// Mean and sample standard deviation of the final accuracies found.
    pub fn mean_std(&self) -> (f64, f64) {
        mean_std(&self.found())
    }

    /// Mean and standard deviation of best-so-far accuracy after each query, over the runs that
    /// had found a feasible architecture by then.
    pub fn curve_mean_std(&self) -> Vec<(f64, f64)> {
        let queries = self.curves.first().map_or(0, Vec::len);
        (0..queries)
            .map(|q| mean_std(&self.curves.iter().filter_map(|c| c[q]).collect::<Vec<_>>()))
            .collect()
    }
}

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, variance.sqrt())
}

/// Runs `config.runs` independent searches of `config.queries` trials each on the table.
pub fn run_nb201_bench(
    table: &Nb201Table,
    config: &BenchConfig,
) -> Result<BenchResult, SearchError> {
    let space: Arc<dyn nasr_space::Space + Send + Sync> = Arc::new(Nb201Space::new());
    let mut goal = Goal::maximize("accuracy");
    if let Some((_, budget)) = config.latency_budget {
        goal = goal.with_bound("latency_ms", budget);
    }
    let device = config.latency_budget.map(|(device, _)| device);
    let streams = SeedStreams::new(config.seed);
    let mut result = BenchResult {
        strategy: config.strategy.clone(),
        final_accuracy: Vec::with_capacity(config.runs),
        curves: Vec::with_capacity(config.runs),
    };
    for run in 0..config.runs {
        let seed = rand::RngCore::next_u64(
            &mut streams.stream(&format!("bench/{}/{run}", config.strategy)),
        );
        let mut strategy = build(
            &config.strategy,
            space.clone(),
            goal.clone(),
            &config.settings,
            seed,
        )?;
        let mut evaluator = Nb201Evaluator::new(table, config.dataset, device);
        let mut curve = Vec::with_capacity(config.queries);
        let mut best: Option<f64> = None;
        drive(
            strategy.as_mut(),
            &mut evaluator,
            None,
            config.queries,
            &mut |record| {
                if let Some(score) = goal
                    .score(&record.metrics)
                    .filter(|_| record.state == crate::TrialState::Complete)
                {
                    best = Some(best.map_or(score, |b: f64| b.max(score)));
                }
                curve.push(best);
            },
        )?;
        result.final_accuracy.push(best);
        result.curves.push(curve);
    }
    Ok(result)
}
