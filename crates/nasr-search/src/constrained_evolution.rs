//! Once-for-All's constrained evolution (`ofa/nas/search_algorithm/evolution.py`): a
//! population scored by a cheap model (an accuracy predictor), every member within a budget.
//!
//! Each generation keeps the best `parent_ratio` of the population as parents, adds
//! `mutation_ratio * population` mutants of random parents and as many crossovers of two
//! random parents as make up the rest; a candidate outside the budget is drawn again
//! (rejection resampling), so no member ever breaks it. Parents survive, so the best score
//! never falls.
//!
//! Not an ask/tell strategy: its 50,000 evaluations are predictions, not trials worth
//! recording one by one; the result keeps the best score of every generation instead.

use nasr_space::Arch;
use rand::Rng;
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::SearchError;

/// How a space's architectures are drawn, mutated and crossed.
pub trait Genetic {
    /// A uniformly drawn architecture.
    fn sample(&self, rng: &mut ChaCha12Rng) -> Arch;
    /// `arch` with each gene redrawn with its mutation probability.
    fn mutate(&self, arch: &Arch, rng: &mut ChaCha12Rng) -> Arch;
    /// Each gene from `a` or `b`, evenly.
    fn crossover(&self, a: &Arch, b: &Arch, rng: &mut ChaCha12Rng) -> Arch;
}

/// The evolution's sizes (OFA's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvolutionConfig {
    /// Members of the first generation (OFA: 100).
    pub population: usize,
    /// Generations (OFA: 500).
    pub generations: usize,
    /// Share of the population kept as parents (OFA: 0.25).
    pub parent_ratio: f64,
    /// Mutants per generation, as a share of the population (OFA: 0.5).
    pub mutation_ratio: f64,
    /// Draws a candidate may take to land within the budget before the search gives up.
    pub max_draws: usize,
}

impl Default for EvolutionConfig {
    fn default() -> Self {
        Self {
            population: 100,
            generations: 500,
            parent_ratio: 0.25,
            mutation_ratio: 0.5,
            max_draws: 10_000,
        }
    }
}

/// What an evolution found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evolved {
    /// The best member of the last generation.
    pub best: Arch,
    /// Its score.
    pub best_score: f64,
    /// The best score of each generation, the first population's first.
    pub best_per_generation: Vec<f64>,
    /// Candidates scored.
    pub scored: usize,
}

/// Evolves architectures of `genetic` that maximise `score` (a batch of candidates to one
/// score each) within `feasible`.
pub fn constrained_evolution(
    genetic: &dyn Genetic,
    feasible: &dyn Fn(&Arch) -> bool,
    score: &mut dyn FnMut(&[Arch]) -> Vec<f64>,
    config: &EvolutionConfig,
    rng: &mut ChaCha12Rng,
) -> Result<Evolved, SearchError> {
    check(config)?;
    let parents_size = ((config.parent_ratio * config.population as f64).round() as usize).max(1);
    let mutants = (config.mutation_ratio * config.population as f64).round() as usize;
    let crossovers = config.population.saturating_sub(mutants);
    let draw = |make: &mut dyn FnMut(&mut ChaCha12Rng) -> Arch, rng: &mut ChaCha12Rng| {
        within_budget(make, feasible, config.max_draws, rng)
    };
    let first = (0..config.population)
        .map(|_| draw(&mut |rng| genetic.sample(rng), rng))
        .collect::<Result<Vec<_>, _>>()?;
    let scores = score(&first);
    let mut population: Vec<(Arch, f64)> = first.into_iter().zip(scores).collect();
    let mut scored = population.len();
    let mut best_per_generation = vec![best_of(&population)];
    for _ in 0..config.generations {
        population.sort_by(|a, b| b.1.total_cmp(&a.1));
        population.truncate(parents_size);
        let parents: Vec<Arch> = population.iter().map(|(arch, _)| arch.clone()).collect();
        let mut children = Vec::with_capacity(mutants + crossovers);
        for _ in 0..mutants {
            let parent = &parents[rng.random_range(0..parents.len())];
            children.push(draw(&mut |rng| genetic.mutate(parent, rng), rng)?);
        }
        for _ in 0..crossovers {
            let mut cross = |rng: &mut ChaCha12Rng| {
                let a = &parents[rng.random_range(0..parents.len())];
                let b = &parents[rng.random_range(0..parents.len())];
                genetic.crossover(a, b, rng)
            };
            children.push(draw(&mut cross, rng)?);
        }
        let scores = score(&children);
        scored += children.len();
        population.extend(children.into_iter().zip(scores));
        best_per_generation.push(best_of(&population));
    }
    let (best, best_score) = population
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("a population");
    Ok(Evolved {
        best,
        best_score,
        best_per_generation,
        scored,
    })
}

/// OFA's operators on its space: a mutation redraws the resolution with probability 0.5 and
/// each unit's depth and each layer's kernel-and-expansion with probability 0.1; a crossover
/// takes each of them from either parent. The result is made canonical (layers past a unit's
/// depth at their first option), as every architecture of the space is.
impl Genetic for nasr_space::OfaSpace {
    fn sample(&self, rng: &mut ChaCha12Rng) -> Arch {
        nasr_space::Space::sample(self, rng)
    }

    fn mutate(&self, arch: &Arch, rng: &mut ChaCha12Rng) -> Arch {
        let decisions = nasr_space::Space::decisions(self);
        let mut next = arch.clone();
        for (gene, decision) in next.choices.iter_mut().zip(decisions) {
            let probability = if decision.name == "resolution" {
                0.5
            } else {
                0.1
            };
            if rng.random_bool(probability) {
                *gene = rng.random_range(0..decision.options.len());
            }
        }
        self.canonical(&next)
    }

    fn crossover(&self, a: &Arch, b: &Arch, rng: &mut ChaCha12Rng) -> Arch {
        let choices = a
            .choices
            .iter()
            .zip(&b.choices)
            .map(|(x, y)| if rng.random_bool(0.5) { *x } else { *y })
            .collect();
        self.canonical(&Arch::new(choices))
    }
}

fn best_of(population: &[(Arch, f64)]) -> f64 {
    population
        .iter()
        .map(|(_, s)| *s)
        .fold(f64::NEG_INFINITY, f64::max)
}

/// The first of `make`'s draws that is `feasible`, within `max_draws`.
fn within_budget(
    make: &mut dyn FnMut(&mut ChaCha12Rng) -> Arch,
    feasible: &dyn Fn(&Arch) -> bool,
    max_draws: usize,
    rng: &mut ChaCha12Rng,
) -> Result<Arch, SearchError> {
    for _ in 0..max_draws {
        let arch = make(rng);
        if feasible(&arch) {
            return Ok(arch);
        }
    }
    Err(SearchError::Config {
        field: "budget".into(),
        problem: format!(
            "admits no candidate in {max_draws} draws: it admits too small a part of the \
             space; loosen it"
        ),
    })
}

fn check(config: &EvolutionConfig) -> Result<(), SearchError> {
    let ratios_ok =
        (0.0..=1.0).contains(&config.parent_ratio) && (0.0..=1.0).contains(&config.mutation_ratio);
    if config.population < 2 || config.max_draws == 0 || !ratios_ok {
        return Err(SearchError::Config {
            field: "evolution".into(),
            problem: format!(
                "needs a population of at least 2, at least 1 draw and ratios in [0, 1]; got \
                 {config:?}"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Eight genes of 0..4; the score is their sum, the budget caps the sum of the first four.
    struct Genes;

    impl Genetic for Genes {
        fn sample(&self, rng: &mut ChaCha12Rng) -> Arch {
            Arch::new((0..8).map(|_| rng.random_range(0..4)).collect())
        }
        fn mutate(&self, arch: &Arch, rng: &mut ChaCha12Rng) -> Arch {
            let mut next = arch.clone();
            for gene in &mut next.choices {
                if rng.random_bool(0.1) {
                    *gene = rng.random_range(0..4);
                }
            }
            next
        }
        fn crossover(&self, a: &Arch, b: &Arch, rng: &mut ChaCha12Rng) -> Arch {
            Arch::new(
                a.choices
                    .iter()
                    .zip(&b.choices)
                    .map(|(x, y)| if rng.random_bool(0.5) { *x } else { *y })
                    .collect(),
            )
        }
    }

    fn cost(arch: &Arch) -> usize {
        arch.choices[..4].iter().sum()
    }

    #[test]
    fn every_member_is_within_budget_and_the_best_never_falls() {
        let feasible = |arch: &Arch| cost(arch) <= 4;
        let mut seen_outside = 0;
        let mut score = |archs: &[Arch]| {
            seen_outside += archs.iter().filter(|a| !feasible(a)).count();
            archs
                .iter()
                .map(|a| a.choices.iter().sum::<usize>() as f64)
                .collect()
        };
        let config = EvolutionConfig {
            generations: 60,
            ..EvolutionConfig::default()
        };
        let mut rng = ChaCha12Rng::seed_from_u64(3);
        let evolved =
            constrained_evolution(&Genes, &feasible, &mut score, &config, &mut rng).unwrap();
        assert_eq!(seen_outside, 0);
        assert!(evolved.best_per_generation.windows(2).all(|w| w[1] >= w[0]));
        // The optimum: the last four genes at 3, the first four summing to the budget.
        assert_eq!(evolved.best_score, 16.0);
        assert_eq!(cost(&evolved.best), 4);
        assert_eq!(evolved.scored, 100 + 60 * 100);
        assert!(
            evolved.best_per_generation[0] < 16.0,
            "the first draw was not already best"
        );
    }

    /// OFA's operators keep architectures canonical; a crossover's genes come from its
    /// parents; a mutation redraws the resolution about half the time.
    #[test]
    fn ofa_mutation_and_crossover_stay_in_the_space() {
        use nasr_space::Space;
        let space = nasr_space::OfaSpace::new(nasr_space::ofa::OfaConfig::default()).unwrap();
        let mut rng = ChaCha12Rng::seed_from_u64(1);
        let mut resolution_changes = 0;
        for _ in 0..200 {
            let (a, b) = (
                Genetic::sample(&space, &mut rng),
                Genetic::sample(&space, &mut rng),
            );
            let child = space.crossover(&a, &b, &mut rng);
            assert_eq!(space.canonical(&child), child);
            space.check(&child).unwrap();
            // Live genes (depths, resolution) come from a parent.
            assert!(child.choices[0] == a.choices[0] || child.choices[0] == b.choices[0]);
            let mutant = Genetic::mutate(&space, &a, &mut rng);
            assert_eq!(space.canonical(&mutant), mutant);
            resolution_changes += usize::from(mutant.choices[0] != a.choices[0]);
        }
        // Redrawn with probability 0.5 among 4 resolutions: changed 3/8 of the time.
        assert!(
            (50..=100).contains(&resolution_changes),
            "{resolution_changes}"
        );
    }

    #[test]
    fn a_budget_nothing_meets_is_an_error() {
        let mut score = |archs: &[Arch]| vec![0.0; archs.len()];
        let config = EvolutionConfig {
            max_draws: 50,
            ..EvolutionConfig::default()
        };
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let err = constrained_evolution(&Genes, &|_| false, &mut score, &config, &mut rng)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("budget admits no candidate in 50 draws"),
            "{err}"
        );
    }
}
