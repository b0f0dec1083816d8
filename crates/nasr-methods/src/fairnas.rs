//! FairNAS supernet training (Chu et al., ICCV 2021): every step runs the m architectures of
//! a [`StrictFairSampler`] draw on the same batch, and one update applies the sum of their
//! gradients, so every op of every edge is trained exactly once per step.
//!
//! The m losses are summed and differentiated once; by linearity that gradient is the sum of
//! the m single-path gradients (a test checks it), at the cost of keeping m paths' activations.
//!
//! On the NB201 cell, "trained once" means sampled once: an op whose node does not reach the
//! cell output on its path (every later edge `none`) receives no gradient there. FairNAS's own
//! chain-structured space (MobileNet layers) has no such dead branches.

use nasr_search::fair::StrictFairSampler;
use nasr_space::SeedStreams;

use crate::path_steps::{strict_fair_step, uniform_path_step, validation_path};

/// How the supernet picks paths during training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathSampling {
    /// FairNAS: m architectures per step, every option once.
    StrictFair,
    /// SPOS: one uniformly sampled architecture per step.
    Uniform,
}

/// Everything that defines a FairNAS search on the MobileNet space.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FairNasConfig {
    /// Run seed.
    pub seed: u64,
    /// Data selection.
    pub data: crate::run::DataConfig,
    /// The space and its sizes (`[space.mobilenet]`, the one space FairNAS searches; input
    /// size, channels and classes are taken from the data).
    pub space: crate::space::SpaceConfig,
    /// Supernet training.
    pub train: nasr_nn::train::TrainConfig,
    /// Path sampling during training.
    pub sampling: PathSampling,
    /// Architectures NSGA-II evaluates on the trained supernet.
    pub queries: usize,
    /// NSGA-II population.
    pub population: usize,
    /// Training batches that recalibrate BatchNorm before each evaluation.
    pub recal_batches: usize,
    /// A table measured by `nasr latency measure` for this space's layers: NSGA-II then
    /// minimises the table's predicted latency (metric `latency_ms`) instead of multiply-adds.
    pub latency_table: Option<std::path::PathBuf>,
    /// A latency budget in ms (needs `latency_table`): slower architectures are infeasible, and
    /// the most accurate one within it is the run's pick (`best.json`).
    pub max_latency_ms: Option<f64>,
}

impl Default for FairNasConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            data: crate::run::DataConfig::default(),
            space: crate::space::SpaceConfig::default_of(crate::space::SpaceName::Mobilenet),
            // burn's flex backend lowers depthwise convs to matrices whose size grows with the
            // batch (gigabytes at 500 images of 28x28 with wide 7x7 layers): evaluate in
            // training-sized batches.
            train: nasr_nn::train::TrainConfig {
                eval_batch_size: 64,
                ..nasr_nn::train::TrainConfig::default()
            },
            sampling: PathSampling::StrictFair,
            queries: 100,
            population: 12,
            recal_batches: 8,
            latency_table: None,
            max_latency_ms: None,
        }
    }
}

/// One architecture of the Pareto front (`front.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FrontMember {
    /// Canonical string (retrain it with `nasr train --space mobilenet --arch ...`).
    pub arch: String,
    /// Supernet validation accuracy after BN recalibration, in [0, 1].
    pub supernet_valid_accuracy: f64,
    /// Multiply-adds per image.
    pub flops: u64,
    /// Trained parameters.
    pub params: u64,
    /// The latency table's prediction in ms (when the run has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// The outcome of a FairNAS or SPOS run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FairNasResult {
    /// The Pareto front of accuracy against multiply-adds, or latency with a table.
    pub front: Vec<FrontMember>,
    /// With a latency budget, the most accurate architecture evaluated within it (`best.json`).
    pub pick: Option<BudgetPick>,
}

/// The most accurate architecture within a latency budget.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BudgetPick {
    /// The architecture, its supernet accuracy and its costs.
    #[serde(flatten)]
    pub member: FrontMember,
    /// The budget, in ms.
    pub max_latency_ms: f64,
    /// Its latency measured end to end here with the table's protocol, in ms.
    pub measured_latency_ms: f64,
}

/// The data and space of a MobileNet supernet run, prepared from a [`FairNasConfig`].
pub(crate) struct MobileNetProblem {
    /// The space, with input size, channels and classes taken from the data.
    pub space: nasr_space::MobileNetSpace,
    /// Train / validation / test splits.
    pub parts: crate::run::Parts,
    /// Per-channel statistics of the training split.
    pub normalization: nasr_data::Normalization,
}

impl MobileNetProblem {
    /// Loads and splits the data of `config`, and sizes its space to fit the data.
    pub fn prepare(
        config: &FairNasConfig,
        data_dir: &std::path::Path,
    ) -> Result<Self, nasr_nn::NnError> {
        Self::load(
            &config.space,
            &config.data,
            config.seed,
            data_dir,
            "fairnas",
        )
    }

    /// Loads and splits `data` with the run seed `seed`, and sizes `space` (a MobileNet space
    /// of `method`) to fit the data.
    pub fn load(
        space: &crate::space::SpaceConfig,
        data: &crate::run::DataConfig,
        seed: u64,
        data_dir: &std::path::Path,
        method: &str,
    ) -> Result<Self, nasr_nn::NnError> {
        let sizes = space.mobilenet(method)?;
        let crate::run::RunData {
            parts,
            normalization,
            ..
        } = crate::run::RunData::load(data, seed, data_dir)?;
        let shape = parts.train.shape;
        let space = nasr_space::MobileNetSpace::new(nasr_space::mobilenet::MobileNetConfig {
            input_size: shape.height,
            in_channels: shape.channels,
            classes: parts.train.classes,
            ..sizes.clone()
        })?;
        Ok(Self {
            space,
            parts,
            normalization,
        })
    }

    /// The weight-sharing evaluator of paths of `supernet`: validation accuracy after
    /// recalibrating BatchNorm on `recal_batches` training batches, and the space's costs.
    pub fn evaluator<'a>(
        &'a self,
        supernet: &'a nasr_nn::nets::mobilenet::MobileNetSupernet,
        config: &FairNasConfig,
        compute: nasr_nn::Compute,
    ) -> nasr_nn::eval::SupernetEvaluator<'a, nasr_nn::nets::mobilenet::MobileNetSupernet> {
        self.path_evaluator(
            supernet,
            nasr_nn::eval::supernet::PathEvaluation {
                batch_size: config.train.batch_size,
                recal_batches: config.recal_batches,
                eval_batch_size: config.train.eval_batch_size,
                compute,
            },
            config.seed,
        )
    }

    /// The weight-sharing evaluator of paths of `supernet` under `evaluation`, drawing its
    /// recalibration batches from the run seed `seed`'s streams.
    pub fn path_evaluator<'a>(
        &'a self,
        supernet: &'a nasr_nn::nets::mobilenet::MobileNetSupernet,
        evaluation: nasr_nn::eval::supernet::PathEvaluation,
        seed: u64,
    ) -> nasr_nn::eval::SupernetEvaluator<'a, nasr_nn::nets::mobilenet::MobileNetSupernet> {
        nasr_nn::eval::SupernetEvaluator::new(
            supernet,
            &self.space,
            nasr_nn::eval::supernet::PathData {
                train: &self.parts.train,
                valid: &self.parts.valid,
                normalization: &self.normalization,
            },
            evaluation,
            SeedStreams::new(seed),
        )
        .with_costs(&self.space)
    }

    /// Trains the supernet of `config` (strictly fair or uniform path sampling) with
    /// per-epoch checkpoints under `out/checkpoints`, so an interrupted run resumes; each
    /// epoch validates one random path. Returns the supernet and its epoch records.
    pub fn train_supernet(
        &self,
        config: &FairNasConfig,
        out: &std::path::Path,
        options: &crate::run::RunOptions,
    ) -> Result<
        (
            nasr_nn::nets::mobilenet::MobileNetSupernet,
            Vec<nasr_nn::train::EpochRecord>,
        ),
        nasr_nn::NnError,
    > {
        config.train.validate()?;
        let streams = SeedStreams::new(config.seed);
        let sampler = StrictFairSampler::new(&self.space)?;
        let device = options.compute.train_device();
        let supernet = nasr_nn::init::seeded(&mut streams.stream("init"), || {
            Ok::<_, nasr_nn::NnError>(nasr_nn::nets::mobilenet::MobileNetSupernet::new(
                &self.space,
                &device,
            ))
        })?;
        let mut fair = strict_fair_step(&sampler, streams);
        let mut uniform = uniform_path_step(&self.space, streams);
        let mut train_step = |model: &nasr_nn::nets::mobilenet::MobileNetSupernet,
                              step: &nasr_nn::train::TrainStep<'_>| {
            match config.sampling {
                PathSampling::StrictFair => fair(model, step),
                PathSampling::Uniform => uniform(model, step),
            }
        };
        let mut validate = |model: &nasr_nn::nets::mobilenet::MobileNetSupernet, epoch: usize| {
            let arch = validation_path(&self.space, &streams, epoch);
            Ok(self
                .evaluator(model, config, options.compute)
                .accuracy(&arch))
        };
        nasr_nn::train::Trainer::new(&config.train, streams)
            .on(options.compute)
            .with_checkpoints(out.join("checkpoints"))
            .with_progress(options.show_progress)
            .fit_with(
                supernet,
                nasr_nn::train::TrainData {
                    train: &self.parts.train,
                    valid: &self.parts.valid,
                    normalization: &self.normalization,
                },
                &mut train_step,
                &mut validate,
            )
    }
}

/// Trains the MobileNet supernet (strictly fair or uniform), then runs NSGA-II over it for
/// accuracy and multiply-adds (or, with a latency table, the table's latency, optionally
/// bounded), and writes `config.toml`, `metrics.json` (supernet epochs),
/// `supernet.safetensors`, `trials.jsonl`, `front.json` and, with a budget, `best.json` into
/// `out`.
pub fn fairnas_run(
    config: &FairNasConfig,
    data_dir: &std::path::Path,
    out: &std::path::Path,
    options: &crate::run::RunOptions,
) -> Result<FairNasResult, nasr_nn::NnError> {
    use nasr_search::Strategy;
    use nasr_space::Space;

    validate(config)?;
    crate::run::open_run_folder(config, out)?;
    let problem = MobileNetProblem::prepare(config, data_dir)?;
    let table = config
        .latency_table
        .as_deref()
        .map(|path| crate::latency_table::load_run_table(path, &problem.space, out))
        .transpose()?;
    let table_costs = table
        .as_ref()
        .map(|table| nasr_search::latency::TableCosts::new(&problem.space, table))
        .transpose()
        .map_err(nasr_nn::latency::latency_error)?;
    let (supernet, epochs) = problem.train_supernet(config, out, options)?;
    nasr_nn::params::save_safetensors(
        &nasr_nn::params::named_tensors(&supernet),
        &out.join("supernet.safetensors"),
    )?;
    crate::run::write_json(&out.join("metrics.json"), &epochs)?;

    let cost_metric = if table.is_some() {
        "latency_ms"
    } else {
        "flops"
    };
    let objectives = vec![
        nasr_search::nsga2::Objective::maximize("accuracy"),
        nasr_search::nsga2::Objective::minimize(cost_metric),
    ];
    let mut goal = nasr_search::Goal::maximize("accuracy");
    if let Some(max) = config.max_latency_ms {
        goal = goal.with_bound("latency_ms", max);
    }
    let policy = nasr_search::nsga2::Nsga2::new(objectives.clone(), config.population)?;
    let shared_space: std::sync::Arc<dyn Space + Send + Sync> =
        std::sync::Arc::new(problem.space.clone());
    let streams = SeedStreams::new(config.seed);
    let mut search = nasr_search::Search::new(
        shared_space,
        goal,
        policy,
        rand::RngCore::next_u64(&mut streams.stream("nsga2")),
    );
    let evaluator = problem.evaluator(&supernet, config, options.compute);
    let evaluator = match &table_costs {
        Some(costs) => evaluator.with_costs(costs),
        None => evaluator,
    };
    nasr_search::store::drive(&mut search, evaluator, None, config.queries, &mut |_| {})?;
    let trials: String = search
        .book()
        .trials()
        .iter()
        .map(|t| serde_json::to_string(t).expect("trials serialise") + "\n")
        .collect();
    nasr_nn::params::write_atomically(&out.join("trials.jsonl"), trials.as_bytes())?;
    let member = |record: &nasr_search::TrialRecord| FrontMember {
        arch: problem.space.format(&record.arch),
        supernet_valid_accuracy: record.metrics["accuracy"],
        flops: record.metrics["flops"] as u64,
        params: record.metrics["params"] as u64,
        latency_ms: record.metrics.get("latency_ms").copied(),
    };
    let front: Vec<FrontMember> = nasr_search::nsga2::pareto_front(search.book(), &objectives)
        .into_iter()
        .map(member)
        .collect();
    crate::run::write_json(&out.join("front.json"), &front)?;
    let pick = match (&table, config.max_latency_ms, search.book().best()) {
        (Some(table), Some(max_latency_ms), Some(best)) => {
            let measured_latency_ms =
                crate::latency_table::measure_like(table, &problem.space, &best.arch, options)?;
            let pick = BudgetPick {
                member: member(best),
                max_latency_ms,
                measured_latency_ms,
            };
            crate::run::write_json(&out.join("best.json"), &pick)?;
            Some(pick)
        }
        _ => None,
    };
    Ok(FairNasResult { front, pick })
}

fn validate(config: &FairNasConfig) -> Result<(), nasr_nn::NnError> {
    config.train.validate()?;
    match config.max_latency_ms {
        Some(_) if config.latency_table.is_none() => Err(nasr_nn::NnError::Config {
            field: "max_latency_ms",
            problem: "needs latency_table (--latency-table), the table that prices latency".into(),
        }),
        Some(max) if !(max.is_finite() && max > 0.0) => Err(nasr_nn::NnError::Config {
            field: "max_latency_ms",
            problem: format!("must be a positive number of milliseconds, got {max}"),
        }),
        _ => Ok(()),
    }
}
