//! Multi-fidelity search with standalone training: ASHA or asynchronous Hyperband over random
//! NB201 architectures, each trial trained from scratch for its rung's epochs, in worker threads.
//!
//! Run folder: `config.toml`, `experiment.sqlite` (every trial and the strategy state; a rerun
//! resumes), `trials/<index>-e<epochs>/` (one training run folder per evaluation, itself
//! resumable), `trials.jsonl`, `best.json`, `summary.json`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nasr_search::asha::Asha;
use nasr_search::experiment::{open_store, pretty, write, write_trials};
use nasr_search::registry::StrategyName;
use nasr_search::store::{Store, drive_parallel};
use nasr_search::{Evaluator, Fidelity, Goal, Metrics, Search, SearchError, Strategy, TrialRecord};
use nasr_space::{Arch, Nb201Space, Space};
use serde::{Deserialize, Serialize};

use crate::run::{RunOptions, TrainRunConfig, open_run_folder, train_run};
use crate::space::{NetworkSize, SpaceConfig};
use nasr_nn::NnError;

/// Everything that defines a multi-fidelity search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultiFidelityConfig {
    /// `asha` or `hyperband`.
    pub strategy: StrategyName,
    /// Trials (evaluations at any rung) in all.
    pub queries: usize,
    /// Worker threads, each training one trial at a time.
    pub workers: usize,
    /// Epochs of the lowest rung.
    pub min_epochs: usize,
    /// Epochs of the top rung.
    pub max_epochs: usize,
    /// Reduction factor between rungs.
    pub eta: usize,
    /// Training of each trial (its `arch` and `train.epochs` are set per trial).
    pub run: TrainRunConfig,
}

impl Default for MultiFidelityConfig {
    fn default() -> Self {
        Self {
            strategy: StrategyName::Asha,
            queries: 100,
            workers: 1,
            min_epochs: 1,
            max_epochs: 4,
            eta: 2,
            run: TrainRunConfig {
                space: SpaceConfig::Nb201(NetworkSize {
                    channels: 8,
                    cells: 1,
                }),
                ..TrainRunConfig::default()
            },
        }
    }
}

/// `best.json`: the best architecture at the highest rung reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiFidelityBest {
    /// Canonical string.
    pub arch: String,
    /// NAS-Bench-201 index.
    pub index: usize,
    /// Epochs it was trained for.
    pub epochs: usize,
    /// Validation accuracy, in [0, 1] (what the search ranked by).
    pub valid_accuracy: f64,
    /// Test accuracy of the same run, in [0, 1].
    pub test_accuracy: f64,
}

/// `summary.json`: how much early stopping saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiFidelitySummary {
    /// Epochs of each rung.
    pub rung_epochs: Vec<usize>,
    /// Architectures started.
    pub started: usize,
    /// Architectures stopped before the top rung.
    pub stopped_early: usize,
    /// Epochs trained in all, over every trial.
    pub epochs_trained: usize,
    /// The winner.
    pub best: Option<MultiFidelityBest>,
}

/// Trains architectures of any space standalone (a [`train_run`] per evaluation): the fidelity
/// is the number of epochs. Metrics: `accuracy` (validation, in [0, 1]), `test_accuracy`,
/// `epochs`. Each evaluation writes the run folder `<trials_dir>/<key>-e<epochs>`, where `key`
/// is [`Space::key`] (the NB201 index on NB201).
#[derive(Clone)]
pub struct StandaloneEvaluator {
    space: Arc<dyn Space + Send + Sync>,
    template: TrainRunConfig,
    data_dir: PathBuf,
    trials_dir: PathBuf,
    options: RunOptions,
}

impl StandaloneEvaluator {
    /// Trains copies of `template` with each trial's architecture (of `space`, which must be
    /// the space `template.space` names) and epochs, reading data from `data_dir` and writing
    /// one run folder per evaluation under `trials_dir`.
    pub fn new(
        space: Arc<dyn Space + Send + Sync>,
        template: TrainRunConfig,
        data_dir: &Path,
        trials_dir: &Path,
        options: RunOptions,
    ) -> Self {
        Self {
            space,
            template,
            data_dir: data_dir.to_path_buf(),
            trials_dir: trials_dir.to_path_buf(),
            options,
        }
    }
}

impl Evaluator for StandaloneEvaluator {
    fn evaluate(&mut self, arch: &Arch, fidelity: Fidelity) -> Result<Metrics, SearchError> {
        if self.space.name() != self.template.space.name().as_str() {
            return Err(SearchError::Config {
                field: "space".into(),
                problem: format!(
                    "the search runs over {} but the trials train {} networks",
                    self.space.name(),
                    self.template.space.name()
                ),
            });
        }
        let epochs = match fidelity {
            Fidelity::Full => self.template.train.epochs,
            Fidelity::Epochs(epochs) => epochs,
        };
        let mut config = self.template.clone();
        config.arch = self.space.format(arch);
        config.train.epochs = epochs;
        let folder = self
            .trials_dir
            .join(format!("{}-e{epochs}", self.space.key(arch)));
        let metrics = train_run(&config, &self.data_dir, &folder, &self.options)
            .map_err(|e| SearchError::Evaluation(e.to_string()))?;
        let valid = metrics.epochs.last().map_or(0.0, |e| e.valid_accuracy);
        Ok(Metrics::from([
            ("accuracy".into(), valid),
            ("test_accuracy".into(), metrics.test_accuracy),
            ("epochs".into(), epochs as f64),
        ]))
    }
}

/// The search `config` describes, fresh (seeded with `config.run.seed`), its settings checked:
/// what a run drives, in one process or in every worker of a shared study.
pub fn multi_fidelity_search(config: &MultiFidelityConfig) -> Result<Search<Asha>, NnError> {
    let policy = Asha::named(
        config.strategy.as_str(),
        config.min_epochs,
        config.max_epochs,
        config.eta,
    )?;
    if config.workers == 0 {
        return Err(NnError::Config {
            field: "workers",
            problem: "must be at least 1".into(),
        });
    }
    config.run.train.validate()?;
    config.run.space.nb201(config.strategy.as_str())?;
    Ok(Search::new(
        Arc::new(Nb201Space::new()),
        Goal::maximize("accuracy"),
        policy,
        config.run.seed,
    ))
}

/// Runs (or resumes) the search into `out`. `on_finished` sees each trial as it finishes.
pub fn run_multi_fidelity(
    config: &MultiFidelityConfig,
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
    on_finished: &mut (dyn FnMut(&TrialRecord) + Send),
) -> Result<MultiFidelitySummary, NnError> {
    let mut search = multi_fidelity_search(config)?;
    let space: Arc<dyn Space + Send + Sync> = Arc::new(Nb201Space::new());
    open_run_folder(config, out)?;
    let mut store = open_store(
        out,
        &serde_json::to_string(config).expect("config serialises"),
    )?;
    // Progress bars of concurrent trainings would garble each other: one worker may draw.
    let evaluators = (0..config.workers)
        .map(|worker| {
            let options = RunOptions {
                show_progress: options.show_progress && config.workers == 1 && worker == 0,
                compute: options.compute,
            };
            StandaloneEvaluator::new(
                space.clone(),
                config.run.clone(),
                data_dir,
                &out.join("trials"),
                options,
            )
        })
        .collect();
    drive_parallel(
        &mut search,
        evaluators,
        Some(&mut store),
        config.queries,
        on_finished,
    )?;
    write_multi_fidelity_results(&search, &store, out)
}

/// Writes a multi-fidelity search's results into the run folder `out` from its search and
/// store: `trials.jsonl`, `best.json` and `summary.json`. Returns the summary.
pub fn write_multi_fidelity_results(
    search: &Search<Asha>,
    store: &dyn Store,
    out: &Path,
) -> Result<MultiFidelitySummary, NnError> {
    write_trials(out, store)?;
    let nb201 = Nb201Space::new();
    let best = search.best().map(|record| MultiFidelityBest {
        arch: nb201.format(&record.arch),
        index: nb201.index_of(&record.arch).unwrap_or(usize::MAX),
        epochs: record.fidelity.rank(),
        valid_accuracy: record.metrics["accuracy"],
        test_accuracy: record.metrics["test_accuracy"],
    });
    let (started, stopped_early) = search.policy().started_and_stopped_early(search.book());
    let summary = MultiFidelitySummary {
        rung_epochs: search.policy().rung_epochs().to_vec(),
        started,
        stopped_early,
        epochs_trained: search
            .book()
            .trials()
            .iter()
            .map(|t| t.fidelity.rank())
            .sum(),
        best,
    };
    if let Some(best) = &summary.best {
        write(out, "best.json", &pretty(best))?;
    }
    write(out, "summary.json", &pretty(&summary))?;
    Ok(summary)
}
