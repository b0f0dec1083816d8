//! Does strict fairness rank better? (FairNAS, Chu et al., ICCV 2021, Section 4.3.) Trains the
//! MobileNet supernet once per seed with strictly fair and once with uniform path sampling,
//! scores the same M architectures on every supernet, and correlates each supernet's ranking
//! with the ranking of the M trained standalone.
//!
//! **Matched budgets.** A strictly fair step trains each option of each layer exactly once; a
//! uniform step trains one option per layer, so an option is trained once every m steps in
//! expectation. The uniform supernet therefore runs m times the fair epochs: both supernets
//! then give every option's weights the same number of updates (exactly for fair, in
//! expectation for uniform) and run the same number of path forward/backward passes. Shared
//! layers (stem, head) get m times as many updates under uniform sampling, each from one path
//! rather than the sum of m.
//!
//! Folder: `standalone/<k>/` (one training run per architecture), `supernet/<sampling>-<seed>/`
//! (checkpoints and `metrics.json` of each supernet), `sampling_rank.json`. Every part resumes.

use std::path::Path;

use nasr_search::bench::mean_std;
use nasr_space::{SeedStreams, Space};
use serde::{Deserialize, Serialize};

use crate::fairnas::{FairNasConfig, MobileNetProblem, PathSampling};
use crate::rank_eval::Correlation;
use crate::rsws::distinct_candidates;
use crate::run::{RunOptions, TrainRunConfig, open_run_folder, train_run, write_json};
use nasr_nn::NnError;
use nasr_nn::train::TrainConfig;

/// Everything that defines the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingRankConfig {
    /// Supernet seeds; each trains one fair and one uniform supernet.
    pub seeds: Vec<u64>,
    /// Architectures scored (M), drawn from the `rank-archs` stream of `supernet.seed`.
    pub archs: usize,
    /// The fair supernet: data, space, training (its `epochs` are the fair epochs) and BN
    /// recalibration. Its `seed` also fixes the data split, the M architectures and their
    /// standalone training; `sampling`, `queries` and `population` are not used.
    pub supernet: FairNasConfig,
    /// Standalone training of each architecture (the ground-truth ranking).
    pub standalone: TrainConfig,
}

impl Default for SamplingRankConfig {
    fn default() -> Self {
        Self {
            seeds: vec![0, 1, 2],
            archs: 10,
            supernet: FairNasConfig::default(),
            standalone: TrainConfig::default(),
        }
    }
}

/// One architecture's standalone result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandaloneScore {
    /// Canonical string.
    pub arch: String,
    /// Validation accuracy after the standalone epochs.
    pub valid_accuracy: f64,
    /// Multiply-adds per image.
    pub flops: u64,
}

/// One supernet's ranking of the M architectures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupernetRanking {
    /// How its paths were sampled.
    pub sampling: PathSampling,
    /// Its seed.
    pub seed: u64,
    /// Its training epochs.
    pub epochs: usize,
    /// Supernet validation accuracy of each architecture, in the order of `standalone`.
    pub supernet_valid_accuracy: Vec<f64>,
    /// Against the standalone ranking.
    pub vs_standalone: Correlation,
}

/// Mean and standard deviation over seeds of one sampling's correlations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingSummary {
    /// The sampling.
    pub sampling: PathSampling,
    /// Mean Kendall tau over seeds.
    pub kendall_tau_mean: f64,
    /// Its standard deviation (n - 1).
    pub kendall_tau_sd: f64,
    /// Mean Spearman rho over seeds.
    pub spearman_rho_mean: f64,
    /// Its standard deviation (n - 1).
    pub spearman_rho_sd: f64,
}

/// The outcome (`sampling_rank.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingRankResult {
    /// m: options per layer, so architectures per fair step.
    pub options_per_layer: usize,
    /// The M architectures, trained standalone.
    pub standalone: Vec<StandaloneScore>,
    /// Every supernet, fair ones first, then uniform, each in seed order.
    pub supernets: Vec<SupernetRanking>,
    /// Fair, then uniform.
    pub summary: Vec<SamplingSummary>,
}

/// Runs the comparison into `out`.
pub fn sampling_rank(
    config: &SamplingRankConfig,
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
) -> Result<SamplingRankResult, NnError> {
    validate(config)?;
    open_run_folder(config, out)?;
    let problem = MobileNetProblem::prepare(&config.supernet, data_dir)?;
    let m = problem.space.decisions()[0].options.len();
    let archs = distinct_candidates(
        &problem.space,
        config.archs,
        &mut SeedStreams::new(config.supernet.seed).stream("rank-archs"),
    );
    let standalone = train_standalone(config, &problem, &archs, data_dir, out, options)?;
    let truth: Vec<f64> = standalone.iter().map(|s| s.valid_accuracy).collect();

    let mut supernets = Vec::new();
    for (sampling, epochs) in [
        (PathSampling::StrictFair, config.supernet.train.epochs),
        (PathSampling::Uniform, config.supernet.train.epochs * m),
    ] {
        for &seed in &config.seeds {
            let run = FairNasConfig {
                seed,
                sampling,
                train: TrainConfig {
                    epochs,
                    ..config.supernet.train.clone()
                },
                ..config.supernet.clone()
            };
            let folder = out
                .join("supernet")
                .join(format!("{}-{seed}", name(sampling)));
            let (supernet, records) = problem.train_supernet(&run, &folder, options)?;
            write_json(&folder.join("metrics.json"), &records)?;
            let scores: Vec<f64> = archs
                .iter()
                .map(|arch| {
                    problem
                        .evaluator(&supernet, &run, options.compute)
                        .accuracy(arch)
                })
                .collect();
            supernets.push(SupernetRanking {
                sampling,
                seed,
                epochs,
                vs_standalone: Correlation::between(&scores, &truth),
                supernet_valid_accuracy: scores,
            });
        }
    }
    let summary = [PathSampling::StrictFair, PathSampling::Uniform]
        .into_iter()
        .map(|sampling| summarise(sampling, &supernets))
        .collect();
    let result = SamplingRankResult {
        options_per_layer: m,
        standalone,
        supernets,
        summary,
    };
    write_json(&out.join("sampling_rank.json"), &result)?;
    Ok(result)
}

/// The name of a sampling in folder names and tables.
pub fn name(sampling: PathSampling) -> &'static str {
    match sampling {
        PathSampling::StrictFair => "fair",
        PathSampling::Uniform => "uniform",
    }
}

fn validate(config: &SamplingRankConfig) -> Result<(), NnError> {
    let problem = if config.seeds.is_empty() {
        Some(("seeds", "needs at least one seed".to_string()))
    } else if config.archs < 3 {
        Some((
            "archs",
            format!(
                "needs at least 3 architectures to rank, got {}",
                config.archs
            ),
        ))
    } else {
        None
    };
    if let Some((field, problem)) = problem {
        return Err(NnError::Config { field, problem });
    }
    config.supernet.train.validate()?;
    config.standalone.validate()
}

fn train_standalone(
    config: &SamplingRankConfig,
    problem: &MobileNetProblem,
    archs: &[nasr_space::Arch],
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
) -> Result<Vec<StandaloneScore>, NnError> {
    archs
        .iter()
        .enumerate()
        .map(|(k, arch)| {
            let run = TrainRunConfig {
                init_from: None,
                seed: config.supernet.seed,
                space: config.supernet.space.clone(),
                arch: problem.space.format(arch),
                data: config.supernet.data.clone(),
                train: config.standalone.clone(),
            };
            let metrics = train_run(
                &run,
                data_dir,
                &out.join("standalone").join(k.to_string()),
                options,
            )?;
            Ok(StandaloneScore {
                arch: run.arch,
                valid_accuracy: metrics.epochs.last().map_or(0.0, |e| e.valid_accuracy),
                flops: problem.space.cost(arch).flops,
            })
        })
        .collect()
}

fn summarise(sampling: PathSampling, supernets: &[SupernetRanking]) -> SamplingSummary {
    let of = |f: fn(&SupernetRanking) -> f64| {
        let values: Vec<f64> = supernets
            .iter()
            .filter(|s| s.sampling == sampling)
            .map(f)
            .collect();
        mean_std(&values)
    };
    let (kendall_tau_mean, kendall_tau_sd) = of(|s| s.vs_standalone.kendall_tau);
    let (spearman_rho_mean, spearman_rho_sd) = of(|s| s.vs_standalone.spearman_rho);
    SamplingSummary {
        sampling,
        kendall_tau_mean,
        kendall_tau_sd,
        spearman_rho_mean,
        spearman_rho_sd,
    }
}
