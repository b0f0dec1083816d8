//! How well does a weight-sharing supernet rank architectures? Train M architectures standalone
//! for E epochs, evaluate the same M with the supernet, and correlate the two rankings (Kendall
//! tau, Spearman rho); for NB201, also against the table's CIFAR-10 accuracy.
//!
//! The M architectures are the RSWS candidates of the same seed, and both sides validate on the
//! same held-out split. Folder: `supernet/` (an RSWS run), `standalone/<index>/` (one training
//! run each, resumable), `rank_eval.json`.

use std::path::Path;

use nasr_search::nb201_table::{Nb201Dataset, Nb201Table};
use nasr_search::rank::{kendall_tau, spearman_rho};
use serde::{Deserialize, Serialize};

use crate::rsws::{RswsConfig, rsws_run};
use crate::run::{RunOptions, TrainRunConfig, open_run_folder, train_run, write_json};
use nasr_nn::NnError;
use nasr_nn::train::TrainConfig;

/// Everything that defines a ranking evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RankEvalConfig {
    /// The supernet side: data, sizes, supernet training, and `candidates` = M.
    pub supernet: RswsConfig,
    /// Standalone training of each of the M architectures (its `epochs` is E).
    pub standalone: TrainConfig,
}

impl Default for RankEvalConfig {
    fn default() -> Self {
        Self {
            supernet: RswsConfig {
                candidates: 8,
                ..RswsConfig::default()
            },
            standalone: TrainConfig::default(),
        }
    }
}

/// One architecture scored both ways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredArch {
    /// Canonical string.
    pub arch: String,
    /// NAS-Bench-201 index.
    pub index: usize,
    /// Supernet path validation accuracy after BN recalibration.
    pub supernet_valid_accuracy: f64,
    /// Standalone validation accuracy after E epochs.
    pub standalone_valid_accuracy: f64,
    /// Standalone test accuracy after E epochs.
    pub standalone_test_accuracy: f64,
    /// NAS-Bench-201 CIFAR-10 test accuracy (%), when the table was given.
    pub nb201_cifar10: Option<f64>,
}

/// Kendall tau and Spearman rho of two rankings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    /// Kendall's tau-b.
    pub kendall_tau: f64,
    /// Spearman's rho.
    pub spearman_rho: f64,
}

impl Correlation {
    pub(crate) fn between(a: &[f64], b: &[f64]) -> Self {
        Self {
            kendall_tau: kendall_tau(a, b),
            spearman_rho: spearman_rho(a, b),
        }
    }
}

/// The outcome (`rank_eval.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankEvalResult {
    /// M.
    pub archs: usize,
    /// E.
    pub standalone_epochs: usize,
    /// Supernet training epochs.
    pub supernet_epochs: usize,
    /// Supernet ranking vs standalone validation ranking.
    pub supernet_vs_standalone: Correlation,
    /// Supernet ranking vs the table's CIFAR-10 ranking (NB201 with the table only).
    pub supernet_vs_table: Option<Correlation>,
    /// Standalone ranking vs the table's CIFAR-10 ranking (NB201 with the table only).
    pub standalone_vs_table: Option<Correlation>,
    /// Every architecture, in the supernet's order (best first).
    pub scored: Vec<ScoredArch>,
}

/// Runs the evaluation into `out`; `table` adds the NAS-Bench-201 comparisons.
pub fn rank_eval(
    config: &RankEvalConfig,
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
    table: Option<&Nb201Table>,
) -> Result<RankEvalResult, NnError> {
    open_run_folder(config, out)?;
    let supernet = rsws_run(&config.supernet, data_dir, &out.join("supernet"), options)?;
    let mut scored = Vec::with_capacity(supernet.ranking.len());
    for ranked in &supernet.ranking {
        let run = TrainRunConfig {
            init_from: None,
            fault: None,
            seed: config.supernet.seed,
            space: config.supernet.space.clone(),
            arch: ranked.arch.clone(),
            data: config.supernet.data.clone(),
            train: config.standalone.clone(),
        };
        let folder = out.join("standalone").join(ranked.index.to_string());
        let metrics = train_run(&run, data_dir, &folder, options)?;
        let last = metrics.epochs.last().map_or(0.0, |e| e.valid_accuracy);
        scored.push(ScoredArch {
            arch: ranked.arch.clone(),
            index: ranked.index,
            supernet_valid_accuracy: ranked.supernet_valid_accuracy,
            standalone_valid_accuracy: last,
            standalone_test_accuracy: metrics.test_accuracy,
            nb201_cifar10: table.map(|t| t.accuracy(ranked.index, Nb201Dataset::Cifar10)),
        });
    }
    let column = |f: fn(&ScoredArch) -> f64| scored.iter().map(f).collect::<Vec<f64>>();
    let supernet_scores = column(|s| s.supernet_valid_accuracy);
    let standalone_scores = column(|s| s.standalone_valid_accuracy);
    let table_scores = table.map(|_| column(|s| s.nb201_cifar10.unwrap_or(f64::NAN)));
    let result = RankEvalResult {
        archs: scored.len(),
        standalone_epochs: config.standalone.epochs,
        supernet_epochs: config.supernet.train.epochs,
        supernet_vs_standalone: Correlation::between(&supernet_scores, &standalone_scores),
        supernet_vs_table: table_scores
            .as_ref()
            .map(|t| Correlation::between(&supernet_scores, t)),
        standalone_vs_table: table_scores
            .as_ref()
            .map(|t| Correlation::between(&standalone_scores, t)),
        scored,
    };
    write_json(&out.join("rank_eval.json"), &result)?;
    Ok(result)
}
