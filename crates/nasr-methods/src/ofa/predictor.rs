//! OFA's accuracy predictor for a trained run (`nasr ofa predictor`): sub-networks drawn
//! evenly over the resolutions, each scored in the supernet (BatchNorm recalibrated, then
//! validated), an MLP ([`MlpPredictor`]) fitted to 80% of the (encoding, accuracy) pairs and
//! judged on the other 20% beside a FLOPs-only ranking.
//!
//! Folder `RUN/predictor/`: `pairs.jsonl` (one measured pair per line, appended as measured,
//! so a killed run resumes where it stopped), `predictor.json` (the fitted MLP), and
//! `quality.json` (held-out RMSE and Kendall tau).

use std::io::Write;
use std::path::Path;

use nasr_nn::NnError;
use nasr_search::predictor::{MlpPredictor, PredictorConfig};
use nasr_search::rank::kendall_tau;
use nasr_space::{Arch, SeedStreams, Space};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::TrainedSupernet;
use crate::run::{RunOptions, write_json};

/// How many pairs are measured and how the predictor is fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PredictorRunConfig {
    /// Sub-networks measured per resolution (OFA: 1,000).
    pub per_resolution: usize,
    /// Share of the pairs held out to judge the fit (OFA: 0.2).
    pub held_out: f64,
    /// The MLP and its training.
    pub predictor: PredictorConfig,
}

impl Default for PredictorRunConfig {
    fn default() -> Self {
        Self {
            per_resolution: 100,
            held_out: 0.2,
            predictor: PredictorConfig::default(),
        }
    }
}

/// One measured pair (a line of `pairs.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasuredPair {
    /// Canonical architecture string.
    pub arch: String,
    /// Validation accuracy in the supernet, in [0, 1].
    pub accuracy: f64,
}

/// How well the predictor ranks what it never saw (`quality.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictorQuality {
    /// Pairs fitted on.
    pub train_pairs: usize,
    /// Pairs held out.
    pub held_out_pairs: usize,
    /// Root mean square error on the held-out pairs, in accuracy points (percent).
    pub rmse_points: f64,
    /// Kendall tau between predicted and measured accuracy on the held-out pairs.
    pub kendall_tau: f64,
    /// Kendall tau between multiply-adds and measured accuracy on the same pairs.
    pub flops_kendall_tau: f64,
    /// Seconds to fit the MLP.
    pub fit_seconds: f64,
}

/// The fitted predictor as stored (`predictor.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPredictor {
    /// How it was fitted.
    pub config: PredictorRunConfig,
    /// The MLP.
    pub mlp: MlpPredictor,
}

impl StoredPredictor {
    /// Reads `RUN/predictor/predictor.json`, naming the command that writes it when missing.
    pub fn load(run: &Path) -> Result<Self, NnError> {
        let path = run.join("predictor").join("predictor.json");
        let text = std::fs::read_to_string(&path).map_err(|e| NnError::Checkpoint {
            path: path.clone(),
            problem: format!("{e}: fit the run's predictor first (nasr ofa predictor RUN)"),
        })?;
        serde_json::from_str(&text).map_err(|e| NnError::Checkpoint {
            path,
            problem: format!("not a predictor: {e}"),
        })
    }
}

/// The sub-networks the pairs are measured on: `per_resolution` draws of the whole space at
/// each resolution in turn, from stream `predictor/archs`.
pub fn pair_archs(trained: &TrainedSupernet, per_resolution: usize) -> Vec<Arch> {
    let space = &trained.space;
    let mut rng = SeedStreams::new(trained.config.seed).stream("predictor/archs");
    let everything = space.everything();
    (0..space.config().resolutions.len())
        .flat_map(|resolution| {
            (0..per_resolution)
                .map(|_| {
                    let mut arch = space.sample_within(&everything, &mut rng);
                    arch.choices[0] = resolution;
                    arch
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Measures the pairs (resuming `pairs.jsonl`), fits the predictor, judges it and writes the
/// three files.
pub fn fit_predictor(
    trained: &TrainedSupernet,
    config: &PredictorRunConfig,
    options: &RunOptions,
) -> Result<PredictorQuality, NnError> {
    if !(config.held_out > 0.0 && config.held_out < 1.0) || config.per_resolution == 0 {
        return Err(NnError::Config {
            field: "predictor",
            problem: format!(
                "needs at least 1 sub-network per resolution and a held-out share in (0, 1), \
                 got {} and {}",
                config.per_resolution, config.held_out
            ),
        });
    }
    let folder = trained.folder.join("predictor");
    std::fs::create_dir_all(&folder).map_err(|e| NnError::io(&folder, e))?;
    let pairs = measure_pairs(
        trained,
        &pair_archs(trained, config.per_resolution),
        options,
    )?;
    let space = &trained.space;
    let archs: Vec<Arch> = pairs
        .iter()
        .map(|p| space.parse(&p.arch))
        .collect::<Result<_, _>>()?;
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    let streams = SeedStreams::new(trained.config.seed);
    order.shuffle(&mut streams.stream("predictor/split"));
    let held = ((pairs.len() as f64 * config.held_out).round() as usize).clamp(1, pairs.len() - 1);
    let (test, train) = order.split_at(held);
    let encode = |indices: &[usize]| -> Vec<Vec<f32>> {
        indices.iter().map(|&i| space.encode(&archs[i])).collect()
    };
    let accuracies =
        |indices: &[usize]| -> Vec<f64> { indices.iter().map(|&i| pairs[i].accuracy).collect() };
    let started = std::time::Instant::now();
    let mlp = MlpPredictor::fit(
        &encode(train),
        &accuracies(train),
        &config.predictor,
        &mut streams.stream("predictor/fit"),
    )
    .map_err(|e| NnError::Config {
        field: "predictor",
        problem: e.to_string(),
    })?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let (predicted, measured) = (mlp.predict(&encode(test)), accuracies(test));
    let flops: Vec<f64> = test
        .iter()
        .map(|&i| space.cost(&archs[i]).flops as f64)
        .collect();
    let squared: f64 = predicted
        .iter()
        .zip(&measured)
        .map(|(p, m)| (p - m).powi(2))
        .sum();
    let quality = PredictorQuality {
        train_pairs: train.len(),
        held_out_pairs: test.len(),
        rmse_points: 100.0 * (squared / test.len() as f64).sqrt(),
        kendall_tau: kendall_tau(&predicted, &measured),
        flops_kendall_tau: kendall_tau(&flops, &measured),
        fit_seconds,
    };
    let stored = StoredPredictor {
        config: config.clone(),
        mlp,
    };
    write_json(&folder.join("predictor.json"), &stored)?;
    write_json(&folder.join("quality.json"), &quality)?;
    Ok(quality)
}

/// The pairs of `archs`, those in `pairs.jsonl` read back and the rest measured and appended
/// one line at a time.
fn measure_pairs(
    trained: &TrainedSupernet,
    archs: &[Arch],
    options: &RunOptions,
) -> Result<Vec<MeasuredPair>, NnError> {
    let path = trained.folder.join("predictor").join("pairs.jsonl");
    let space = &trained.space;
    let mut pairs: Vec<MeasuredPair> = match std::fs::read_to_string(&path) {
        // A line cut by a kill is dropped and measured again.
        Ok(text) => text
            .lines()
            .map_while(|line| serde_json::from_str(line).ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    pairs.truncate(archs.len());
    for (pair, arch) in pairs.iter().zip(archs) {
        if pair.arch != space.format(arch) {
            return Err(NnError::Checkpoint {
                path,
                problem: format!(
                    "holds {} where this run draws {}: it belongs to another run",
                    pair.arch,
                    space.format(arch)
                ),
            });
        }
    }
    let mut file = rewrite(&path, &pairs)?;
    let scoring = trained.scoring(options);
    let bar = options.progress(archs.len(), pairs.len(), "measuring sub-networks");
    for arch in &archs[pairs.len()..] {
        let pair = MeasuredPair {
            arch: space.format(arch),
            accuracy: scoring.accuracy(&trained.supernet, arch),
        };
        let line = serde_json::to_string(&pair).expect("a pair serialises") + "\n";
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| NnError::io(&path, e))?;
        pairs.push(pair);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(pairs)
}

/// `pairs.jsonl` holding exactly `pairs`, open for appending.
fn rewrite(path: &Path, pairs: &[MeasuredPair]) -> Result<std::fs::File, NnError> {
    let text: String = pairs
        .iter()
        .map(|p| serde_json::to_string(p).expect("a pair serialises") + "\n")
        .collect();
    nasr_nn::params::write_atomically(path, text.as_bytes())?;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| NnError::io(path, e))
}
