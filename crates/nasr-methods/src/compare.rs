//! Honest comparisons (Li & Talwalkar 2019): several search methods at the same search budget,
//! over several seeds, each method's chosen architecture retrained from scratch the same way,
//! and the mean and standard deviation of its test accuracy. Random search is always among them.
//!
//! The budget is counted in training epochs over the training set: a standalone trial of E
//! epochs costs E, an ASHA trial its rung's epochs, and RSWS spends the whole budget on
//! supernet training (its ranking passes, BN recalibration and validation, are not counted).
//! Folder: `<method>/seed-<s>/search/` and `<method>/seed-<s>/final/` (ordinary run folders,
//! with their configs, versions and data checksums), `compare.json`, `compare.md`.

use std::path::Path;
use std::sync::Arc;

use nasr_search::asha::Asha;
use nasr_search::bench::mean_std;
use nasr_search::registry::{StrategySettings, build};
use nasr_search::{Evaluator, Fidelity, Goal, Outcome, Search, Strategy};
use nasr_space::{Nb201Space, Space};
use serde::{Deserialize, Serialize};

use crate::multi_fidelity::StandaloneEvaluator;
use crate::rsws::{RswsConfig, rsws_run};
use crate::run::{RunOptions, TrainRunConfig, open_run_folder, train_run, write_json};
use crate::space::SpaceConfig;
use nasr_nn::NnError;

/// Everything that defines a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompareConfig {
    /// Methods: `rs` (always added if missing), `rea`, `reinforce`, `rsws`, `asha`, `hyperband`.
    pub methods: Vec<String>,
    /// Seeds; each method runs once per seed.
    pub seeds: Vec<u64>,
    /// Search budget per run, in training epochs.
    pub budget_epochs: usize,
    /// Epochs of one standalone trial (rs, rea, reinforce) and of ASHA's top rung.
    pub trial_epochs: usize,
    /// Epochs of the final retraining of each chosen architecture.
    pub final_epochs: usize,
    /// RSWS: candidates ranked after supernet training.
    pub candidates: usize,
    /// Data, network sizes and training settings shared by every training run.
    pub run: TrainRunConfig,
}

impl Default for CompareConfig {
    fn default() -> Self {
        Self {
            methods: vec!["rs".into(), "rsws".into(), "asha".into()],
            seeds: vec![0, 1, 2, 3, 4],
            budget_epochs: 8,
            trial_epochs: 2,
            final_epochs: 2,
            candidates: 20,
            run: TrainRunConfig::default(),
        }
    }
}

/// One method's results over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodResult {
    /// Method name.
    pub method: String,
    /// Chosen architecture per seed.
    pub archs: Vec<String>,
    /// Test accuracy of the retrained choice per seed, in [0, 1].
    pub test_accuracy: Vec<f64>,
    /// Mean of `test_accuracy`.
    pub mean: f64,
    /// Sample standard deviation of `test_accuracy`.
    pub std: f64,
}

/// Runs every method for every seed into `out`; returns one result per method.
pub fn compare(
    config: &CompareConfig,
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
) -> Result<Vec<MethodResult>, NnError> {
    config.run.space.nb201("compare")?;
    let mut methods = config.methods.clone();
    if !methods.iter().any(|m| m == "rs") {
        methods.insert(0, "rs".into());
    }
    if config.seeds.is_empty()
        || config.budget_epochs == 0
        || config.trial_epochs == 0
        || config.final_epochs == 0
    {
        return Err(NnError::Config {
            field: "compare",
            problem:
                "seeds must be given and budget_epochs, trial_epochs, final_epochs be at least 1"
                    .into(),
        });
    }
    open_run_folder(config, out)?;
    let mut results = Vec::with_capacity(methods.len());
    for method in &methods {
        let (mut archs, mut test_accuracy) = (Vec::new(), Vec::new());
        for &seed in &config.seeds {
            let folder = out.join(method).join(format!("seed-{seed}"));
            let arch = search(
                method,
                seed,
                config,
                data_dir,
                &folder.join("search"),
                options,
            )?;
            let mut final_run = config.run.clone();
            final_run.seed = seed;
            final_run.arch = arch.clone();
            final_run.train.epochs = config.final_epochs;
            let metrics = train_run(&final_run, data_dir, &folder.join("final"), options)?;
            archs.push(arch);
            test_accuracy.push(metrics.test_accuracy);
        }
        let (mean, std) = mean_std(&test_accuracy);
        results.push(MethodResult {
            method: method.clone(),
            archs,
            test_accuracy,
            mean,
            std,
        });
    }
    write_json(&out.join("compare.json"), &results)?;
    nasr_nn::params::write_atomically(
        &out.join("compare.md"),
        markdown(config, &results).as_bytes(),
    )?;
    Ok(results)
}

/// The comparison as a Markdown table.
pub fn markdown(config: &CompareConfig, results: &[MethodResult]) -> String {
    let network = match &config.run.space {
        SpaceConfig::Nb201(size) => format!("C={}, N={}", size.channels, size.cells),
        other => other.name().to_string(),
    };
    let mut text = format!(
        "Search budget {} training epochs per run; chosen architectures retrained for {} epochs; \
         {} seeds; {} ({network}).\n\n| method | test accuracy (mean ± std) | per seed |\n|---|---|---|\n",
        config.budget_epochs,
        config.final_epochs,
        config.seeds.len(),
        config.run.data.name,
    );
    for r in results {
        let per_seed: Vec<String> = r.test_accuracy.iter().map(|a| format!("{a:.4}")).collect();
        text.push_str(&format!(
            "| {} | {:.4} ± {:.4} | {} |\n",
            r.method,
            r.mean,
            r.std,
            per_seed.join(", ")
        ));
    }
    text
}

/// One search of `method` within the budget; returns the chosen architecture's string.
fn search(
    method: &str,
    seed: u64,
    config: &CompareConfig,
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
) -> Result<String, NnError> {
    let mut run = config.run.clone();
    run.seed = seed;
    if method == "rsws" {
        let mut train = run.train.clone();
        train.epochs = config.budget_epochs;
        let rsws = RswsConfig {
            seed,
            space: run.space.clone(),
            data: run.data.clone(),
            train,
            candidates: config.candidates,
            ..RswsConfig::default()
        };
        return Ok(rsws_run(&rsws, data_dir, out, options)?.best.arch);
    }
    let space: Arc<dyn Space + Send + Sync> = Arc::new(Nb201Space::new());
    let goal = Goal::maximize("accuracy");
    let mut strategy: Box<dyn Strategy> = match method {
        "asha" | "hyperband" => {
            let (min, max) = (1, config.trial_epochs);
            let policy = Asha::named(method, min, max, 2)?;
            Box::new(Search::new(space.clone(), goal, policy, seed))
        }
        other => build(
            other,
            space.clone(),
            goal,
            &StrategySettings::default(),
            seed,
        )?,
    };
    run.train.epochs = config.trial_epochs;
    let mut evaluator =
        StandaloneEvaluator::new(space, run, data_dir, &out.join("trials"), options.clone());
    let mut spent = 0;
    while spent < config.budget_epochs {
        let trial = strategy.ask();
        let epochs = match trial.fidelity {
            Fidelity::Full => config.trial_epochs,
            Fidelity::Epochs(epochs) => epochs,
        };
        spent += epochs;
        let outcome = match evaluator.evaluate(&trial.arch, trial.fidelity) {
            Ok(metrics) => Outcome::Complete(metrics),
            Err(error) => Outcome::Failed(error.to_string()),
        };
        strategy.tell(trial.id, outcome)?;
    }
    let best = strategy.best().ok_or_else(|| NnError::Config {
        field: "budget_epochs",
        problem: format!("{method} finished no trial within the budget"),
    })?;
    Ok(Nb201Space::new().format(&best.arch))
}
