//! Specialising a trained OFA run for a budget without training again (`nasr ofa
//! specialize`): OFA's constrained evolution ([`constrained_evolution`]) over the run's
//! accuracy predictor, every candidate within the budget by the space's own multiply-add and
//! parameter counts; then the chosen sub-network is scored in the supernet (BatchNorm
//! recalibrated, validated), apart from the timed search.

use nasr_nn::NnError;
use nasr_search::constrained_evolution::{EvolutionConfig, constrained_evolution};
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
    evolution: &EvolutionConfig,
    options: &RunOptions,
) -> Result<Specialized, NnError> {
    let space = &trained.space;
    let refuse = |problem: String| NnError::Config {
        field: "budget",
        problem,
    };
    if budget.max_flops.is_none() && budget.max_params.is_none() {
        return Err(refuse("give --max-flops or --max-params".into()));
    }
    let smallest = space.cost(&space.extreme(&space.everything(), false, 0));
    if !budget.admits(smallest) {
        return Err(refuse(format!(
            "no sub-network meets it: the smallest costs {} multiply-adds and {} parameters",
            smallest.flops, smallest.params
        )));
    }
    let predictor = StoredPredictor::load(&trained.folder)?.mlp;
    let feasible = |arch: &Arch| budget.admits(space.cost(arch));
    let mut score = |archs: &[Arch]| {
        let encodings: Vec<Vec<f32>> = archs.iter().map(|a| space.encode(a)).collect();
        predictor.predict(&encodings)
    };
    let mut rng = SeedStreams::new(trained.config.seed).stream("specialize");
    let started = std::time::Instant::now();
    let evolved = constrained_evolution(space, &feasible, &mut score, evolution, &mut rng)
        .map_err(|e| refuse(e.to_string()))?;
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
        evolution_seconds,
        scored: evolved.scored,
        best_per_generation: evolved.best_per_generation,
    })
}
