//! Does strict fairness rank better (FairNAS, Chu et al., ICCV 2021, Section 4.3), and does
//! DNA's block-wise distillation rank better still (Li et al., CVPR 2020)? Trains the
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
//! **DNA** (optional, `methods` holding `dna`): per seed, block supernets distilled from a
//! teacher ([`crate::dna`]) score each architecture by its summed block scores (negated, so
//! that higher ranks higher). Its budget is stated beside the others': forward/backward passes
//! of one block each, block after block, plus the teacher's forwards.
//!
//! Folder: `standalone/<k>/` (one training run per architecture), `supernet/<sampling>-<seed>/`
//! (checkpoints and `metrics.json` of each supernet), `dna/<seed>/` (a DNA search's blocks and
//! score tables), `sampling_rank.json`. Every part resumes.

use std::path::Path;

use nasr_search::bench::mean_std;
use nasr_space::{SeedStreams, Space};
use serde::{Deserialize, Serialize};

use crate::dna::blocks::BlockTraining;
use crate::dna::scores::Scoring;
use crate::dna::{DnaConfig, train_and_score};
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
    /// The rankers compared, in this order.
    pub methods: Vec<RankMethod>,
    /// DNA's teacher and block training, when `methods` holds `dna`.
    pub dna: Option<DnaRanker>,
}

impl Default for SamplingRankConfig {
    fn default() -> Self {
        Self {
            seeds: vec![0, 1, 2],
            archs: 10,
            supernet: FairNasConfig::default(),
            standalone: TrainConfig::default(),
            methods: vec![RankMethod::Fair, RankMethod::Uniform],
            dna: None,
        }
    }
}

/// A way of ranking the M architectures without training them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankMethod {
    /// A strictly fair supernet's validation accuracy.
    Fair,
    /// A uniformly sampled supernet's validation accuracy (m times the fair epochs).
    Uniform,
    /// DNA's summed block scores against a teacher (negated).
    Dna,
}

impl RankMethod {
    /// Its name in flags and tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fair => "fair",
            Self::Uniform => "uniform",
            Self::Dna => "dna",
        }
    }

    /// The supernet sampling it trains with, for the supernet methods.
    fn sampling(self) -> Option<PathSampling> {
        match self {
            Self::Fair => Some(PathSampling::StrictFair),
            Self::Uniform => Some(PathSampling::Uniform),
            Self::Dna => None,
        }
    }
}

/// DNA's side of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnaRanker {
    /// The teacher's run folder.
    pub teacher: std::path::PathBuf,
    /// Block supernet training.
    pub blocks: BlockTraining,
    /// Candidate scoring.
    pub scoring: Scoring,
}

impl Default for DnaRanker {
    fn default() -> Self {
        Self {
            teacher: std::path::PathBuf::new(),
            blocks: BlockTraining::default(),
            scoring: Scoring::default(),
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
    /// Path forward/backward passes of its training (steps times paths per step).
    pub passes: u64,
    /// Supernet validation accuracy of each architecture, in the order of `standalone`.
    pub supernet_valid_accuracy: Vec<f64>,
    /// Against the standalone ranking.
    pub vs_standalone: Correlation,
}

/// DNA's ranking of the M architectures for one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnaRanking {
    /// Its seed.
    pub seed: u64,
    /// Epochs of each block.
    pub block_epochs: usize,
    /// Block forward/backward passes, all blocks together (each also runs the teacher).
    pub passes: u64,
    /// Each architecture's summed block score, in the order of `standalone` (lower is better).
    pub summed_scores: Vec<f64>,
    /// The negated scores against the standalone ranking.
    pub vs_standalone: Correlation,
}

/// Mean and standard deviation over seeds of one method's correlations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingSummary {
    /// The method.
    pub method: RankMethod,
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
    /// Every supernet, in the order of `methods`, each in seed order.
    pub supernets: Vec<SupernetRanking>,
    /// DNA's ranking per seed, when compared.
    pub dna: Vec<DnaRanking>,
    /// One per method, in the order of `methods`.
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

    let steps = problem
        .parts
        .train
        .len()
        .div_ceil(config.supernet.train.batch_size) as u64;
    let mut supernets = Vec::new();
    for sampling in config.methods.iter().filter_map(|m| m.sampling()) {
        let (epochs, paths) = match sampling {
            PathSampling::StrictFair => (config.supernet.train.epochs, m as u64),
            PathSampling::Uniform => (config.supernet.train.epochs * m, 1),
        };
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
                passes: epochs as u64 * steps * paths,
                vs_standalone: Correlation::between(&scores, &truth),
                supernet_valid_accuracy: scores,
            });
        }
    }
    let dna = match (config.methods.contains(&RankMethod::Dna), &config.dna) {
        (true, Some(ranker)) => {
            dna_rankings(config, ranker, &problem, &archs, &truth, out, options)?
        }
        _ => Vec::new(),
    };
    let summary = config
        .methods
        .iter()
        .map(|&method| summarise(method, &supernets, &dna))
        .collect();
    let result = SamplingRankResult {
        options_per_layer: m,
        standalone,
        supernets,
        dna,
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
    } else if config.methods.is_empty() {
        Some((
            "methods",
            "needs at least one of fair, uniform and dna".to_string(),
        ))
    } else if config.methods.contains(&RankMethod::Dna) && config.dna.is_none() {
        Some((
            "methods",
            "holds dna, which needs its teacher (the dna table; --teacher RUN)".to_string(),
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
                fault: None,
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

/// Per seed, DNA's blocks trained and scored into `out/dna/<seed>`, and the M architectures'
/// summed block scores against the standalone ranking.
fn dna_rankings(
    config: &SamplingRankConfig,
    ranker: &DnaRanker,
    problem: &MobileNetProblem,
    archs: &[nasr_space::Arch],
    truth: &[f64],
    out: &Path,
    options: &RunOptions,
) -> Result<Vec<DnaRanking>, NnError> {
    let blocks = problem.space.config().stages.len() as u64;
    let steps = problem.parts.train.len().div_ceil(ranker.blocks.batch_size) as u64;
    config
        .seeds
        .iter()
        .map(|&seed| {
            let search = DnaConfig {
                seed,
                data: config.supernet.data.clone(),
                space: config.supernet.space.clone(),
                teacher: ranker.teacher.clone(),
                blocks: ranker.blocks.clone(),
                scoring: ranker.scoring.clone(),
                ..DnaConfig::default()
            };
            let folder = out.join("dna").join(seed.to_string());
            let tables = train_and_score(&search, problem, &folder, options)?;
            let summed_scores: Vec<f64> = archs.iter().map(|a| tables.arch_score(a)).collect();
            let negated: Vec<f64> = summed_scores.iter().map(|s| -s).collect();
            Ok(DnaRanking {
                seed,
                block_epochs: ranker.blocks.epochs,
                passes: blocks * ranker.blocks.epochs as u64 * steps,
                vs_standalone: Correlation::between(&negated, truth),
                summed_scores,
            })
        })
        .collect()
}

fn summarise(
    method: RankMethod,
    supernets: &[SupernetRanking],
    dna: &[DnaRanking],
) -> SamplingSummary {
    let correlations: Vec<Correlation> = match method.sampling() {
        Some(sampling) => supernets
            .iter()
            .filter(|s| s.sampling == sampling)
            .map(|s| s.vs_standalone)
            .collect(),
        None => dna.iter().map(|d| d.vs_standalone).collect(),
    };
    let of = |f: fn(&Correlation) -> f64| mean_std(&correlations.iter().map(f).collect::<Vec<_>>());
    let (kendall_tau_mean, kendall_tau_sd) = of(|c| c.kendall_tau);
    let (spearman_rho_mean, spearman_rho_sd) = of(|c| c.spearman_rho);
    SamplingSummary {
        method,
        kendall_tau_mean,
        kendall_tau_sd,
        spearman_rho_mean,
        spearman_rho_sd,
    }
}
