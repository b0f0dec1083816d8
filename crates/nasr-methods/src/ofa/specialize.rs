//! Specialising a trained OFA run for a budget without training again (`nasr ofa
//! specialize`): OFA's constrained evolution ([`constrained_evolution`]) over the run's
//! accuracy predictor, every candidate within the budget by the space's own multiply-add and
//! parameter counts and, where a latency bound is given, a latency model's prediction; then the
//! chosen sub-network is scored in the supernet (BatchNorm recalibrated, validated), apart from
//! the timed search.
//!
//! [`help_latency`] builds such a model for devices nasr cannot reach: HELP's published latencies of
//! OFA's ImageNet sub-networks. nasr's space shares OFA's (kernel, expansion, depth) layout but
//! not its widths or resolutions, so the model prices a sub-network through that layout, its
//! resolution scaled so that the space's largest is OFA's 224: a proxy, not a measurement.

use nasr_nn::NnError;
use nasr_search::constrained_evolution::{EvolutionConfig, constrained_evolution};
use nasr_search::help_latency::{DeviceLatencyModel, HelpTable};
use nasr_space::ofa::{OfaConfig, OfaSpace};
use nasr_space::{Arch, SeedStreams, Space};
use serde::{Deserialize, Serialize};

use super::TrainedSupernet;
use super::predictor::StoredPredictor;
use crate::run::RunOptions;

/// The most a sub-network may cost; at least one bound.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Budget {
    /// Multiply-adds per image.
    pub max_flops: Option<u64>,
    /// Parameters.
    pub max_params: Option<u64>,
}

impl Budget {
    fn admits(&self, cost: nasr_space::mobilenet::ModelCost) -> bool {
        self.max_flops.is_none_or(|max| cost.flops <= max)
            && self.max_params.is_none_or(|max| cost.params <= max)
    }
}

/// A latency bound: a model of a sub-network's latency and the most it may take.
pub struct LatencyBound<'a> {
    /// Milliseconds of a sub-network.
    pub model: &'a dyn Fn(&Arch) -> f64,
    /// The most milliseconds a sub-network may take.
    pub max_ms: f64,
}

/// A latency model of `space`'s sub-networks from HELP's measurements of column `device` of
/// `table` (e.g. `titan_rtx_1`), with its held-out quality; a space of another layout than
/// OFA's 5 units of up to 4 layers is refused.
pub fn help_latency<'a>(
    space: &'a OfaSpace,
    table: &HelpTable,
    device: &str,
) -> Result<(DeviceLatencyModel, impl Fn(&Arch) -> f64 + use<'a>), NnError> {
    let c = space.config();
    let ofa = OfaConfig::imagenet();
    if c.units.len() != ofa.units.len() || c.max_depth != ofa.max_depth {
        return Err(NnError::Config {
            field: "latency device",
            problem: format!(
                "HELP's table prices OFA's {} units of up to {} layers; this space has {} of {}",
                ofa.units.len(),
                ofa.max_depth,
                c.units.len(),
                c.max_depth
            ),
        });
    }
    let model = DeviceLatencyModel::fit(table, device).map_err(|e| NnError::Config {
        field: "latency device",
        problem: e.to_string(),
    })?;
    let largest = c.resolutions.iter().copied().max().expect("resolutions") as f64;
    let priced = model.clone();
    let predict = move |arch: &Arch| {
        let mut subnet = space.to_subnet(arch);
        subnet.r = (224.0 * subnet.r as f64 / largest).round() as usize;
        priced.predict(&subnet)
    };
    Ok((model, predict))
}

/// What a specialisation found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Specialized {
    /// The budget.
    pub budget: Budget,
    /// The chosen sub-network, canonical string.
    pub arch: String,
    /// Its predicted accuracy, in [0, 1].
    pub predicted_accuracy: f64,
    /// Its validation accuracy in the supernet, measured after the search.
    pub valid_accuracy: f64,
    /// Multiply-adds per image.
    pub flops: u64,
    /// Parameters.
    pub params: u64,
    /// Its latency by the bound's model, in milliseconds, where one was given.
    pub latency_ms: Option<f64>,
    /// Wall time of the evolution alone.
    pub evolution_seconds: f64,
    /// Candidates the evolution scored.
    pub scored: usize,
    /// The best predicted accuracy of each generation.
    pub best_per_generation: Vec<f64>,
}

/// Evolves the best sub-network of `trained` within `budget` by its predictor.
pub fn specialize(
    trained: &TrainedSupernet,
    budget: Budget,
    latency: Option<&LatencyBound<'_>>,
    evolution: &EvolutionConfig,
    options: &RunOptions,
) -> Result<Specialized, NnError> {
    let space = &trained.space;
    let refuse = |problem: String| NnError::Config {
        field: "budget",
        problem,
    };
    if budget.max_flops.is_none() && budget.max_params.is_none() && latency.is_none() {
        return Err(refuse(
            "give --max-flops, --max-params or --max-latency".into(),
        ));
    }
    let smallest_arch = space.extreme(&space.everything(), false, 0);
    let smallest = space.cost(&smallest_arch);
    let fastest = latency.map(|bound| (bound.model)(&smallest_arch));
    let within_latency =
        |arch: &Arch| latency.is_none_or(|bound| (bound.model)(arch) <= bound.max_ms);
    if !budget.admits(smallest) || !within_latency(&smallest_arch) {
        let ms = fastest.map_or(String::new(), |ms| format!(" and takes {ms:.3} ms"));
        return Err(refuse(format!(
            "is met by no sub-network: the smallest costs {} multiply-adds and {} parameters{ms}",
            smallest.flops, smallest.params
        )));
    }
    let predictor = StoredPredictor::load(&trained.folder)?.mlp;
    let feasible = |arch: &Arch| budget.admits(space.cost(arch)) && within_latency(arch);
    let mut score = |archs: &[Arch]| {
        let encodings: Vec<Vec<f32>> = archs.iter().map(|a| space.encode(a)).collect();
        predictor.predict(&encodings)
    };
    let mut rng = SeedStreams::new(trained.config.seed).stream("specialize");
    let started = std::time::Instant::now();
    let evolved = constrained_evolution(space, &feasible, &mut score, evolution, &mut rng)?;
    let evolution_seconds = started.elapsed().as_secs_f64();
    let cost = space.cost(&evolved.best);
    Ok(Specialized {
        budget,
        arch: space.format(&evolved.best),
        predicted_accuracy: evolved.best_score,
        valid_accuracy: trained
            .scoring(options)
            .accuracy(&trained.supernet, &evolved.best),
        flops: cost.flops,
        params: cost.params,
        latency_ms: latency.map(|bound| (bound.model)(&evolved.best)),
        evolution_seconds,
        scored: evolved.scored,
        best_per_generation: evolved.best_per_generation,
    })
}
