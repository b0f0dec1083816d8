//! Regularised ("aging") evolution (Real et al., AAAI 2019, Algorithm 1).
//!
//! The first P finished trials are random. After that, each proposal samples S members of the
//! population (with replacement), mutates the best of them, and every finished child joins the
//! population while its oldest member leaves. Failed and infeasible trials score worst.

use std::collections::VecDeque;

use nasr_space::{Arch, Space};
use rand::Rng;
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::{Fidelity, Policy, SearchError, TrialBook, TrialId};

/// Regularised evolution's policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegularizedEvolution {
    population_size: usize,
    tournament_size: usize,
    /// Finished trials in age order, oldest first.
    population: VecDeque<TrialId>,
}

impl RegularizedEvolution {
    /// Population P and tournament (sample) size S; NAS-Bench-201 used P = 10, S = 3.
    pub fn new(population_size: usize, tournament_size: usize) -> Result<Self, SearchError> {
        if population_size < 2 {
            return Err(SearchError::Config {
                field: "population_size".into(),
                problem: format!("must be at least 2, got {population_size}"),
            });
        }
        if tournament_size == 0 || tournament_size > population_size {
            return Err(SearchError::Config {
                field: "tournament_size".into(),
                problem: format!("must be in 1..={population_size}, got {tournament_size}"),
            });
        }
        Ok(Self {
            population_size,
            tournament_size,
            population: VecDeque::new(),
        })
    }
}

impl Policy for RegularizedEvolution {
    const NAME: &'static str = "rea";

    fn propose(
        &mut self,
        space: &dyn Space,
        book: &TrialBook,
        rng: &mut ChaCha12Rng,
    ) -> (Arch, Fidelity) {
        if self.population.len() < self.population_size {
            return (space.sample(rng), Fidelity::Full);
        }
        let fitness = |id: TrialId| {
            book.get(id)
                .and_then(|record| book.score(record))
                .unwrap_or(f64::NEG_INFINITY)
        };
        let mut parent = self.population[rng.random_range(0..self.population.len())];
        for _ in 1..self.tournament_size {
            let contender = self.population[rng.random_range(0..self.population.len())];
            if fitness(contender) > fitness(parent) {
                parent = contender;
            }
        }
        let parent_arch = &book
            .get(parent)
            .expect("population members are trials")
            .arch;
        (space.mutate(parent_arch, rng), Fidelity::Full)
    }

    fn observe(&mut self, _book: &TrialBook, finished: TrialId) {
        self.population.push_back(finished);
        if self.population.len() > self.population_size {
            // Aging: the oldest member dies, whatever its fitness.
            self.population.pop_front();
        }
    }
}
