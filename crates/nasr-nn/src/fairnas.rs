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

use burn::tensor::Tensor;
use nasr_search::fair::StrictFairSampler;
use nasr_space::SeedStreams;

use crate::supernet::PathSupernet;

/// The training forward of FairNAS for [`crate::train::Trainer::fit_with`]: the logits of the
/// m architectures of one strictly fair draw, taken from stream `fair/<epoch>`.
pub fn strict_fair_forward<S: PathSupernet>(
    sampler: &StrictFairSampler,
    streams: SeedStreams,
) -> impl FnMut(&S, Tensor<4>, usize, usize) -> Vec<Tensor<2>> + '_ {
    let mut epoch_rng: Option<(usize, rand_chacha::ChaCha12Rng)> = None;
    move |model, images, epoch, _step| {
        if epoch_rng.as_ref().is_none_or(|(e, _)| *e != epoch) {
            epoch_rng = Some((epoch, streams.stream(&format!("fair/{epoch}"))));
        }
        let (_, rng) = epoch_rng.as_mut().expect("set above");
        sampler
            .sample(rng)
            .iter()
            .map(|arch| model.forward_path(arch, images.clone()))
            .collect()
    }
}

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
    /// Space sizes (input size, channels and classes are taken from the data).
    pub mobilenet: nasr_space::mobilenet::MobileNetConfig,
    /// Supernet training.
    pub train: crate::train::TrainConfig,
    /// Path sampling during training.
    pub sampling: PathSampling,
    /// Architectures NSGA-II evaluates on the trained supernet.
    pub queries: usize,
    /// NSGA-II population.
    pub population: usize,
    /// Training batches that recalibrate BatchNorm before each evaluation.
    pub recal_batches: usize,
}

impl Default for FairNasConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            data: crate::run::DataConfig::default(),
            mobilenet: nasr_space::mobilenet::MobileNetConfig::default(),
            train: crate::train::TrainConfig::default(),
            sampling: PathSampling::StrictFair,
            queries: 60,
            population: 12,
            recal_batches: 4,
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
}

/// Evaluates MobileNet paths on a trained supernet: BN recalibration, then validation accuracy;
/// metrics `accuracy`, `flops`, `params`.
struct SupernetEvaluator<'a> {
    supernet: crate::mobilenet::MobileNetSupernet,
    space: &'a nasr_space::MobileNetSpace,
    train: &'a nasr_data::Dataset,
    valid: &'a nasr_data::Dataset,
    normalization: &'a nasr_data::Normalization,
    config: &'a FairNasConfig,
    streams: SeedStreams,
}

impl nasr_search::Evaluator for SupernetEvaluator<'_> {
    fn evaluate(
        &mut self,
        arch: &nasr_space::Arch,
        _fidelity: nasr_search::Fidelity,
    ) -> Result<nasr_search::Metrics, nasr_search::SearchError> {
        use nasr_space::Space;
        // The recalibration batches depend only on the architecture, so a re-evaluation agrees.
        let stream = format!("recal/{}", self.space.format(arch));
        let recalibrated = crate::supernet::recalibrate_bn(
            self.supernet.clone(),
            arch,
            self.train,
            self.normalization,
            self.config.train.batch_size,
            self.config.recal_batches,
            &mut self.streams.stream(&stream),
        );
        let accuracy = crate::supernet::path_accuracy(
            &recalibrated,
            arch,
            self.valid,
            self.normalization,
            self.config.train.eval_batch_size,
        );
        let cost = self.space.cost(arch);
        Ok(nasr_search::Metrics::from([
            ("accuracy".into(), accuracy),
            ("flops".into(), cost.flops as f64),
            ("params".into(), cost.params as f64),
        ]))
    }
}

/// Trains the MobileNet supernet (strictly fair or uniform), then runs NSGA-II over it for
/// accuracy and multiply-adds, and writes `config.toml`, `metrics.json` (supernet epochs),
/// `supernet.safetensors`, `trials.jsonl` and `front.json` into `out`. Returns the front.
pub fn fairnas_run(
    config: &FairNasConfig,
    data_dir: &std::path::Path,
    out: &std::path::Path,
    options: &crate::run::RunOptions,
) -> Result<Vec<FrontMember>, crate::NnError> {
    use nasr_search::Strategy;
    use nasr_space::Space;

    let search_error = |e: nasr_search::SearchError| crate::NnError::Config {
        field: "search",
        problem: e.to_string(),
    };
    config.train.validate()?;
    std::fs::create_dir_all(out).map_err(|e| crate::NnError::io(out, e))?;
    crate::run::write_config(config, &out.join("config.toml"))?;
    let streams = SeedStreams::new(config.seed);
    let data = nasr_data::load(config.data.name, data_dir)?;
    let parts = crate::run::prepare(&config.data, data, &streams)?;
    let normalization = parts.train.channel_stats();
    let shape = parts.train.shape;
    let space = nasr_space::MobileNetSpace::new(nasr_space::mobilenet::MobileNetConfig {
        input_size: shape.height,
        in_channels: shape.channels,
        classes: parts.train.classes,
        ..config.mobilenet.clone()
    })?;
    let sampler = StrictFairSampler::new(&space).map_err(search_error)?;
    let device = crate::train_device();
    let supernet = crate::init::seeded(&device, &mut streams.stream("init"), || {
        Ok::<_, crate::NnError>(crate::mobilenet::MobileNetSupernet::new(&space, &device))
    })?;

    let mut fair = strict_fair_forward(&sampler, streams);
    let mut uniform_rng: Option<(usize, rand_chacha::ChaCha12Rng)> = None;
    let mut forward = |model: &crate::mobilenet::MobileNetSupernet,
                       images: Tensor<4>,
                       epoch: usize,
                       step: usize| {
        match config.sampling {
            PathSampling::StrictFair => fair(model, images, epoch, step),
            PathSampling::Uniform => {
                if uniform_rng.as_ref().is_none_or(|(e, _)| *e != epoch) {
                    uniform_rng = Some((epoch, streams.stream(&format!("path/{epoch}"))));
                }
                let (_, rng) = uniform_rng.as_mut().expect("set above");
                vec![model.forward_path(&space.sample(rng), images)]
            }
        }
    };
    let evaluator = |supernet: &crate::mobilenet::MobileNetSupernet| SupernetEvaluator {
        supernet: supernet.clone(),
        space: &space,
        train: &parts.train,
        valid: &parts.valid,
        normalization: &normalization,
        config,
        streams,
    };
    let mut validate = |model: &crate::mobilenet::MobileNetSupernet, epoch: usize| {
        let arch = space.sample(&mut streams.stream(&format!("valid-path/{epoch}")));
        let metrics = nasr_search::Evaluator::evaluate(
            &mut evaluator(model),
            &arch,
            nasr_search::Fidelity::Full,
        );
        metrics.map_or(0.0, |m| m["accuracy"])
    };
    let (supernet, epochs) = crate::train::Trainer::new(&config.train, streams)
        .with_checkpoints(out.join("checkpoints"))
        .with_progress(options.show_progress)
        .fit_with(
            supernet,
            crate::train::TrainData {
                train: &parts.train,
                valid: &parts.valid,
                normalization: &normalization,
            },
            &mut forward,
            &mut validate,
        )?;
    crate::params::save_safetensors(
        &crate::params::named_tensors(&supernet),
        &out.join("supernet.safetensors"),
    )?;
    crate::run::write_json(&out.join("metrics.json"), &epochs)?;

    let objectives = vec![
        nasr_search::nsga2::Objective::maximize("accuracy"),
        nasr_search::nsga2::Objective::minimize("flops"),
    ];
    let policy = nasr_search::nsga2::Nsga2::new(objectives.clone(), config.population)
        .map_err(search_error)?;
    let shared_space: std::sync::Arc<dyn Space + Send + Sync> = std::sync::Arc::new(space.clone());
    let mut search = nasr_search::Search::new(
        shared_space,
        nasr_search::Goal::maximize("accuracy"),
        policy,
        rand::RngCore::next_u64(&mut streams.stream("nsga2")),
    );
    nasr_search::store::drive(
        &mut search,
        evaluator(&supernet),
        None,
        config.queries,
        &mut |_| {},
    )
    .map_err(search_error)?;
    let trials: String = search
        .book()
        .trials()
        .iter()
        .map(|t| serde_json::to_string(t).expect("trials serialise") + "\n")
        .collect();
    crate::params::write_atomically(&out.join("trials.jsonl"), trials.as_bytes())?;
    let front: Vec<FrontMember> = nasr_search::nsga2::pareto_front(search.book(), &objectives)
        .into_iter()
        .map(|record| FrontMember {
            arch: space.format(&record.arch),
            supernet_valid_accuracy: record.metrics["accuracy"],
            flops: record.metrics["flops"] as u64,
            params: record.metrics["params"] as u64,
        })
        .collect();
    crate::run::write_json(&out.join("front.json"), &front)?;
    Ok(front)
}
