//! DNA (Li et al., CVPR 2020; code: `changlin31/DNA`): the student space's stages are blocks,
//! each a supernet of its layers' candidates trained to reproduce a teacher's features at the
//! block's boundaries ([`blocks`]); every candidate of every block is scored by its distance
//! to the teacher ([`scores`]); an exact branch-and-bound picks one candidate per block of
//! least summed score within a budget (`nasr_search::block_select`); the pick is retrained
//! from scratch.
//!
//! Folder: `config.toml`; `blocks/block<i>.safetensors` and `blocks/block<i>.json` (epoch
//! losses), each written when its block is done; `scores/block<i>.json` (every candidate's
//! score, best first); `retrain/` (a training run folder); `best.json`. Every part resumes:
//! a rerun with the same `--out` keeps the finished blocks, score tables and epochs.

pub mod blocks;
pub mod scores;
pub mod teacher;

use std::path::{Path, PathBuf};

use nasr_nn::NnError;
use nasr_nn::train::TrainConfig;
use nasr_search::block_select::{BlockCandidate, select_blocks};
use nasr_search::hardware_loss::{CostKind, LayerCosts};
use nasr_space::{Arch, MobileNetSpace, SeedStreams, Space};
use serde::{Deserialize, Serialize};

use crate::fairnas::MobileNetProblem;
use crate::run::{DataConfig, RunOptions, TrainRunConfig, open_run_folder, train_run, write_json};
use crate::space::{SpaceConfig, SpaceName};
use blocks::{BlockData, BlockTraining, load_block, save_block, steps_per_block, train_block};
use scores::{CandidateScore, Scoring, score_block};
use teacher::Teacher;

/// Everything that defines a DNA search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnaConfig {
    /// Run seed.
    pub seed: u64,
    /// Data selection.
    pub data: DataConfig,
    /// The student space (`[space.mobilenet]`; input size, channels and classes from the data).
    pub space: SpaceConfig,
    /// The teacher's run folder (`nasr train` of a MobileNet-space network with the student's
    /// stage boundaries, outside the student space).
    pub teacher: PathBuf,
    /// Block supernet training.
    pub blocks: BlockTraining,
    /// Candidate scoring.
    pub scoring: Scoring,
    /// Budget: multiply-adds per image (exactly one budget).
    pub max_flops: Option<u64>,
    /// Budget: parameters.
    pub max_params: Option<u64>,
    /// Budget: latency in ms from `latency_table`.
    pub max_latency_ms: Option<f64>,
    /// A table of `nasr latency measure` for the student space's layers.
    pub latency_table: Option<PathBuf>,
    /// Retraining of the pick from scratch.
    pub retrain: TrainConfig,
}

impl Default for DnaConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            data: DataConfig::default(),
            space: SpaceConfig::default_of(SpaceName::Mobilenet),
            teacher: PathBuf::new(),
            blocks: BlockTraining::default(),
            scoring: Scoring::default(),
            max_flops: None,
            max_params: None,
            max_latency_ms: None,
            latency_table: None,
            retrain: TrainConfig {
                eval_batch_size: 64,
                ..TrainConfig::default()
            },
        }
    }
}

impl DnaConfig {
    /// The one budget: what it counts, and its bound in that count's unit (latency in us).
    pub fn budget(&self) -> Result<(CostKind, f64), NnError> {
        let budgets = [
            self.max_flops.map(|n| (CostKind::Flops, n as f64)),
            self.max_params.map(|n| (CostKind::Params, n as f64)),
            self.max_latency_ms.map(|ms| (CostKind::Latency, ms * 1e3)),
        ];
        let mut given = budgets.into_iter().flatten();
        match (given.next(), given.next()) {
            (Some((kind, max)), None) => {
                if kind == CostKind::Latency && self.latency_table.is_none() {
                    return Err(NnError::Config {
                        field: "max_latency_ms",
                        problem: "needs latency_table (--latency-table FILE)".into(),
                    });
                }
                if !(max.is_finite() && max > 0.0) {
                    return Err(NnError::Config {
                        field: "budget",
                        problem: format!("must be positive, got {max}"),
                    });
                }
                Ok((kind, max))
            }
            (None, _) => Err(NnError::Config {
                field: "budget",
                problem: "is missing: give one of max_flops, max_params or max_latency_ms".into(),
            }),
            (Some(_), Some(_)) => Err(NnError::Config {
                field: "budget",
                problem: "takes one of max_flops, max_params and max_latency_ms, not several"
                    .into(),
            }),
        }
    }
}

/// What a DNA search found (`best.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnaResult {
    /// The pick, canonical.
    pub arch: String,
    /// Its summed block score.
    pub score: f64,
    /// Each block's score of its pick.
    pub block_scores: Vec<f64>,
    /// What the budget counts.
    pub cost_kind: CostKind,
    /// The budget, in that count's unit (latency in us).
    pub budget: f64,
    /// The pick's cost in that unit.
    pub cost: f64,
    /// The pick's multiply-adds per image.
    pub flops: u64,
    /// The pick's parameters.
    pub params: u64,
    /// Mean loss of each block's epochs.
    pub block_losses: Vec<Vec<f64>>,
    /// The retrained pick's validation accuracy after its last epoch.
    pub valid_accuracy: f64,
    /// The retrained pick's test accuracy.
    pub test_accuracy: f64,
}

/// The trained blocks' score tables of one search, with its space.
pub struct BlockTables {
    /// The student space.
    pub space: MobileNetSpace,
    /// Each block's candidates, best first.
    pub tables: Vec<Vec<CandidateScore>>,
    /// Each block's epoch losses.
    pub losses: Vec<Vec<f64>>,
}

impl BlockTables {
    /// DNA's score of an architecture of the space: its blocks' scores summed.
    pub fn arch_score(&self, arch: &Arch) -> f64 {
        (0..self.tables.len())
            .map(|block| {
                let path = &arch.choices[self.space.stage_layers(block)];
                self.tables[block]
                    .iter()
                    .find(|c| c.path == path)
                    .map_or(f64::NAN, |c| c.score)
            })
            .sum()
    }
}

/// Runs a DNA search into `out`: teacher check, block training, scoring, selection,
/// retraining.
pub fn dna_run(
    config: &DnaConfig,
    data_dir: &Path,
    out: &Path,
    options: &RunOptions,
) -> Result<DnaResult, NnError> {
    let (kind, budget) = config.budget()?;
    config.retrain.validate()?;
    open_run_folder(config, out)?;
    let problem =
        MobileNetProblem::load(&config.space, &config.data, config.seed, data_dir, "dna")?;
    let costs = match kind {
        CostKind::Flops => LayerCosts::flops(&problem.space),
        CostKind::Params => LayerCosts::params(&problem.space),
        CostKind::Latency => {
            let path = config
                .latency_table
                .as_deref()
                .expect("checked by budget()");
            let table = crate::latency_table::load_run_table(path, &problem.space, out)?;
            LayerCosts::latency(&table, &problem.space).map_err(nasr_nn::latency::latency_error)?
        }
    };
    check_feasible(&costs, budget)?;
    let tables = train_and_score(config, &problem, out, options)?;
    let (arch, block_scores, cost) = select(&tables, &costs, budget)?;
    let arch_text = problem.space.format(&arch);
    let retrain = TrainRunConfig {
        seed: config.seed,
        space: config.space.clone(),
        arch: arch_text.clone(),
        data: config.data.clone(),
        train: config.retrain.clone(),
        init_from: None,
        fault: None,
    };
    let metrics = train_run(&retrain, data_dir, &out.join("retrain"), options)?;
    let model_cost = problem.space.cost(&arch);
    let result = DnaResult {
        arch: arch_text,
        score: block_scores.iter().sum(),
        block_scores,
        cost_kind: kind,
        budget,
        cost,
        flops: model_cost.flops,
        params: model_cost.params,
        block_losses: tables.losses,
        valid_accuracy: metrics.epochs.last().map_or(0.0, |e| e.valid_accuracy),
        test_accuracy: metrics.test_accuracy,
    };
    write_json(&out.join("best.json"), &result)?;
    Ok(result)
}

/// Trains every block (or loads the finished ones from `out/blocks`) and scores every
/// candidate (or loads the finished tables from `out/scores`).
pub(crate) fn train_and_score(
    config: &DnaConfig,
    problem: &MobileNetProblem,
    out: &Path,
    options: &RunOptions,
) -> Result<BlockTables, NnError> {
    let space = &problem.space;
    let blocks = space.config().stages.len();
    config.blocks.validate(blocks)?;
    let (eval_device, train_device) = (
        options.compute.eval_device(),
        options.compute.train_device(),
    );
    let teacher = Teacher::load(&config.teacher, space, &eval_device)?;
    let data = BlockData {
        train: &problem.parts.train,
        valid: &problem.parts.valid,
        normalization: &problem.normalization,
        teacher: &teacher,
        eval_device: &eval_device,
        train_device: &train_device,
    };
    let streams = SeedStreams::new(config.seed);
    for dir in ["blocks", "scores"] {
        std::fs::create_dir_all(out.join(dir)).map_err(|e| NnError::io(out.join(dir), e))?;
    }
    let (mut tables, mut losses) = (Vec::new(), Vec::new());
    for block in 0..blocks {
        let weights = out.join("blocks").join(format!("block{block}.safetensors"));
        let loss_path = out.join("blocks").join(format!("block{block}.json"));
        let table_path = out.join("scores").join(format!("block{block}.json"));
        let model = if weights.exists() && loss_path.exists() {
            losses.push(read_json(&loss_path)?);
            load_block(space, block, &weights, &train_device)?
        } else {
            let steps = steps_per_block(data.train, &config.blocks);
            let bar = options.progress(steps as usize, 0, &format!("block {block}"));
            let (model, epoch_losses) =
                train_block(space, block, &data, &config.blocks, &streams, &bar)?;
            bar.finish_and_clear();
            save_block(&model, &weights)?;
            write_json(&loss_path, &epoch_losses)?;
            losses.push(epoch_losses);
            model
        };
        if table_path.exists() {
            tables.push(read_json(&table_path)?);
            continue;
        }
        let candidates: usize = model.options.iter().product();
        let bar = options.progress(candidates, 0, &format!("scoring block {block}"));
        let mut table = score_block(model, space, block, &data, &config.scoring, &streams, &bar);
        bar.finish_and_clear();
        table.sort_by(|a, b| a.score.total_cmp(&b.score));
        write_json(&table_path, &table)?;
        tables.push(table);
    }
    Ok(BlockTables {
        space: space.clone(),
        tables,
        losses,
    })
}

/// The architecture of least summed block score within `budget` of `costs` (what every
/// architecture pays counts against it), its blocks' scores and its cost.
pub(crate) fn select(
    tables: &BlockTables,
    costs: &LayerCosts,
    budget: f64,
) -> Result<(Arch, Vec<f64>, f64), NnError> {
    let space = &tables.space;
    let candidates: Vec<Vec<BlockCandidate>> = tables
        .tables
        .iter()
        .enumerate()
        .map(|(block, table)| {
            let layers = space.stage_layers(block);
            table
                .iter()
                .map(|c| BlockCandidate {
                    score: c.score,
                    cost: layers
                        .clone()
                        .zip(&c.path)
                        .map(|(layer, &option)| costs.options[layer][option])
                        .sum(),
                })
                .collect()
        })
        .collect();
    let selection =
        select_blocks(&candidates, budget - costs.fixed).map_err(|_| infeasible(costs, budget))?;
    let mut choices = Vec::new();
    let mut block_scores = Vec::new();
    for (block, &pick) in selection.picks.iter().enumerate() {
        let candidate = &tables.tables[block][pick];
        choices.extend_from_slice(&candidate.path);
        block_scores.push(candidate.score);
    }
    Ok((
        Arch::new(choices),
        block_scores,
        selection.cost + costs.fixed,
    ))
}

/// Checks that some architecture meets `budget` under `costs` (before any training).
fn check_feasible(costs: &LayerCosts, budget: f64) -> Result<(), NnError> {
    if cheapest(costs) > budget {
        return Err(infeasible(costs, budget));
    }
    Ok(())
}

/// The cheapest architecture's cost: every layer at its cheapest option.
fn cheapest(costs: &LayerCosts) -> f64 {
    costs.fixed
        + costs
            .options
            .iter()
            .map(|layer| layer.iter().copied().fold(f64::INFINITY, f64::min))
            .sum::<f64>()
}

fn infeasible(costs: &LayerCosts, budget: f64) -> NnError {
    let unit = costs.kind.unit();
    NnError::Config {
        field: "budget",
        problem: format!(
            "of {budget} {unit} is met by no architecture: the cheapest costs {} {unit} ({} of \
             it the stem, head and classifier)",
            cheapest(costs),
            costs.fixed
        ),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, NnError> {
    let text = std::fs::read_to_string(path).map_err(|e| NnError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| NnError::Checkpoint {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(space: &MobileNetSpace, score: impl Fn(usize, &[usize]) -> f64) -> BlockTables {
        let device = nasr_nn::Compute::Cpu.eval_device();
        let tables = (0..space.config().stages.len())
            .map(|block| {
                nasr_nn::nets::mobilenet::BlockSupernet::new(space, block, &device)
                    .unwrap()
                    .paths()
                    .into_iter()
                    .map(|path| CandidateScore {
                        layers: Vec::new(),
                        score: score(block, &path),
                        path,
                    })
                    .collect()
            })
            .collect();
        BlockTables {
            space: space.clone(),
            tables,
            losses: Vec::new(),
        }
    }

    /// An op's cost depends on its layer's position (input size, widths, stride) and on the
    /// op; the selection prices a pick as the space counts the whole network.
    #[test]
    fn costs_depend_on_position_and_op_and_the_pick_is_priced_as_the_network() {
        let space = MobileNetSpace::new(Default::default()).unwrap();
        let costs = LayerCosts::flops(&space);
        // k3_e3 (option 0) at the first layer, the first strided layer and the last layer.
        let k3_e3: Vec<f64> = [0, 2, 5].iter().map(|&l| costs.options[l][0]).collect();
        assert!(k3_e3[0] != k3_e3[1] && k3_e3[1] != k3_e3[2], "{k3_e3:?}");
        assert!(
            costs.options[0].windows(2).all(|w| w[0] != w[1]),
            "{:?}",
            costs.options[0]
        );
        // Scores that favour big ops: the budget decides.
        let tables = tables(&space, |_, path| -(path.iter().sum::<usize>() as f64));
        let largest = space.cost(&Arch::new(vec![5; 6])).flops as f64;
        for budget in [0.3 * largest, 0.6 * largest, largest] {
            let (arch, scores, cost) = select(&tables, &costs, budget).unwrap();
            assert!(cost <= budget);
            assert_eq!(cost, space.cost(&arch).flops as f64);
            assert_eq!(tables.arch_score(&arch), scores.iter().sum::<f64>());
        }
        let (arch, _, _) = select(&tables, &costs, largest).unwrap();
        assert_eq!(arch.choices, vec![5; 6]);
        let err = select(&tables, &costs, 1000.0).unwrap_err().to_string();
        assert!(
            err.contains("budget of 1000 multiply-adds is met by no architecture"),
            "{err}"
        );
    }

    #[test]
    fn exactly_one_budget_is_taken() {
        let none = DnaConfig::default();
        assert!(
            none.budget()
                .unwrap_err()
                .to_string()
                .contains("budget is missing")
        );
        let two = DnaConfig {
            max_flops: Some(10),
            max_params: Some(10),
            ..DnaConfig::default()
        };
        assert!(
            two.budget()
                .unwrap_err()
                .to_string()
                .contains("not several")
        );
        let latency = DnaConfig {
            max_latency_ms: Some(1.0),
            ..DnaConfig::default()
        };
        assert!(
            latency
                .budget()
                .unwrap_err()
                .to_string()
                .contains("needs latency_table")
        );
        let flops = DnaConfig {
            max_flops: Some(10),
            ..DnaConfig::default()
        };
        assert_eq!(flops.budget().unwrap(), (CostKind::Flops, 10.0));
    }
}
