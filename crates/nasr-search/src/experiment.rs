//! A query-based search on the NAS-Bench-201 table, recorded in a run folder:
//!
//! - `experiment.sqlite`: every trial and the strategy state, after every step (the store);
//! - `trials.jsonl`: one line per trial, in id order, written when the search ends;
//! - `best.json`: the best feasible architecture, its table index and metrics;
//! - `front.json`: the Pareto front, for multi-objective strategies (NSGA-II).
//!
//! A search killed at any point and rerun with the same folder and config resumes: no finished
//! trial is lost or repeated, running trials are evaluated again, and the result equals an
//! uninterrupted run's.

use std::path::Path;
use std::sync::Arc;

use nasr_space::{Nb201Space, Space};
use serde::{Deserialize, Serialize};

use crate::nb201_table::{Nb201Dataset, Nb201Evaluator, Nb201Table};
use crate::nsga2::{Objective, pareto_front};
use crate::registry::{StrategyName, StrategySettings, build};
use crate::store::{SqliteStore, Store, drive};
use crate::{Goal, SearchError, Strategy, TrialRecord};

/// Version of the run folder's JSON files.
pub const FORMAT_VERSION: u32 = 1;

/// Everything that defines a tabular search. Fields a config file leaves out take the
/// [`Default`] values: regularised evolution, 100 queries, CIFAR-10, no latency objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Root seed.
    pub seed: u64,
    /// Strategy (`rs`, `rea`, `reinforce`, `nsga2`).
    pub strategy: StrategyName,
    /// Finished trials to reach.
    pub queries: usize,
    /// Table dataset whose test accuracy is maximised.
    pub dataset: Nb201Dataset,
    /// Latency device setting (a column of the latency table), if latency matters.
    pub objective_device: Option<String>,
    /// Latency budget in ms on `objective_device`.
    pub max_latency_ms: Option<f64>,
    /// Strategy settings.
    pub settings: StrategySettings,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            strategy: StrategyName::Rea,
            queries: 100,
            dataset: Nb201Dataset::Cifar10,
            objective_device: None,
            max_latency_ms: None,
            settings: StrategySettings::default(),
        }
    }
}

/// What `best.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestRecord {
    /// Format version.
    pub format_version: u32,
    /// Canonical architecture string.
    pub arch: String,
    /// NAS-Bench-201 index.
    pub index: usize,
    /// The trial that found it.
    pub trial: u64,
    /// Its metrics.
    pub metrics: crate::Metrics,
}

/// Runs (or resumes) the search described by `config` into the run folder `out`.
/// `on_finished` sees each trial as it finishes.
pub fn run_table_search(
    config: &SearchConfig,
    table: &Nb201Table,
    out: &Path,
    on_finished: &mut (dyn FnMut(&TrialRecord) + Send),
) -> Result<Option<BestRecord>, SearchError> {
    let (mut strategy, mut evaluator) = table_search_parts(config, table)?;
    let config_json = serde_json::to_string(config).expect("config serialises");
    let mut store = open_store(out, &config_json)?;
    drive(
        strategy.as_mut(),
        &mut evaluator,
        Some(&mut store),
        config.queries,
        on_finished,
    )?;

    write_table_results(config, strategy.as_ref(), &store, out)
}

/// Writes a table search's results into the run folder `out` from its strategy and store:
/// `trials.jsonl`, `best.json` and, for NSGA-II, `front.json`. Returns the best trial.
pub fn write_table_results(
    config: &SearchConfig,
    strategy: &dyn Strategy,
    store: &dyn Store,
    out: &Path,
) -> Result<Option<BestRecord>, SearchError> {
    write_trials(out, store)?;
    let nb201 = Nb201Space::new();
    let best = strategy
        .best()
        .map(|record| -> Result<BestRecord, SearchError> {
            Ok(BestRecord {
                format_version: FORMAT_VERSION,
                arch: nb201.format(&record.arch),
                index: nb201.index_of(&record.arch)?,
                trial: record.id,
                metrics: record.metrics.clone(),
            })
        })
        .transpose()?;
    if let Some(best) = &best {
        write(out, "best.json", &pretty(best))?;
    }
    if config.strategy == StrategyName::Nsga2 {
        let mut objectives = vec![Objective::maximize("accuracy")];
        objectives.extend(
            config
                .settings
                .nsga2_minimize
                .iter()
                .map(|m| Objective::minimize(m)),
        );
        let front: Vec<BestRecord> = pareto_front(strategy.book(), &objectives)
            .into_iter()
            .map(|record| BestRecord {
                format_version: FORMAT_VERSION,
                arch: nb201.format(&record.arch),
                index: nb201.index_of(&record.arch).unwrap_or(usize::MAX),
                trial: record.id,
                metrics: record.metrics.clone(),
            })
            .collect();
        write(out, "front.json", &pretty(&front))?;
    }
    Ok(best)
}

/// The strategy and the table evaluator of `config`: what a table search drives, in one
/// process or in every worker of a shared study.
pub fn table_search_parts<'a>(
    config: &SearchConfig,
    table: &'a Nb201Table,
) -> Result<(Box<dyn Strategy>, Nb201Evaluator<'a>), SearchError> {
    let device = config
        .objective_device
        .as_deref()
        .map(|d| table.device(d))
        .transpose()?;
    let strategy = table_strategy(config)?;
    Ok((strategy, Nb201Evaluator::new(table, config.dataset, device)))
}

/// The strategy of `config`, fresh, ranking trials by its goal (accuracy, under the latency
/// bound if one is set); it needs no table, so a study's records can be read without one.
pub fn table_strategy(config: &SearchConfig) -> Result<Box<dyn Strategy>, SearchError> {
    if config.max_latency_ms.is_some() && config.objective_device.is_none() {
        return Err(SearchError::Config {
            field: "max_latency_ms".into(),
            problem: "needs objective_device (the device whose latency is bounded)".into(),
        });
    }
    let mut goal = Goal::maximize("accuracy");
    if let Some(max) = config.max_latency_ms {
        goal = goal.with_bound("latency_ms", max);
    }
    let space: Arc<dyn Space + Send + Sync> = Arc::new(Nb201Space::new());
    build(
        config.strategy.as_str(),
        space,
        goal,
        &config.settings,
        config.seed,
    )
}

/// Opens `out/experiment.sqlite`, storing `config_json` on first use and refusing a folder
/// made with another config.
pub fn open_store(out: &Path, config_json: &str) -> Result<SqliteStore, SearchError> {
    std::fs::create_dir_all(out).map_err(|e| io_error(out, e))?;
    let mut store = SqliteStore::open(&out.join("experiment.sqlite"))?;
    match store.meta("config")? {
        None => store.set_meta("config", config_json)?,
        Some(stored) if stored == config_json => {}
        Some(stored) => {
            return Err(SearchError::Config {
                field: "out".into(),
                problem: format!(
                    "{} holds a search with another config ({stored}); use a new folder to start a different search",
                    out.display()
                ),
            });
        }
    }
    Ok(store)
}

/// Writes `out/trials.jsonl` from the store: one trial per line, in id order.
pub fn write_trials(out: &Path, store: &dyn Store) -> Result<(), SearchError> {
    let lines: String = store
        .trials()?
        .iter()
        .map(|t| serde_json::to_string(t).expect("trials serialise") + "\n")
        .collect();
    write(out, "trials.jsonl", lines.as_bytes())
}

/// Pretty JSON with a final newline.
pub fn pretty<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("records serialise");
    bytes.push(b'\n');
    bytes
}

fn io_error(path: &Path, e: std::io::Error) -> SearchError {
    SearchError::File {
        path: path.to_path_buf(),
        problem: e.to_string(),
    }
}

/// Writes `out/name` through a temporary file and a rename.
pub fn write(out: &Path, name: &str, bytes: &[u8]) -> Result<(), SearchError> {
    let path = out.join(name);
    let partial = out.join(format!(".{name}.partial"));
    std::fs::write(&partial, bytes)
        .and_then(|_| std::fs::rename(&partial, &path))
        .map_err(|e| io_error(&path, e))
}
