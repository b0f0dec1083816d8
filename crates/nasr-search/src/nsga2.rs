//! NSGA-II (Deb et al., IEEE TEC 2002): non-dominated sorting and crowding distance over two or
//! more objectives.
//!
//! Generations of N: the first N trials are random; then parents are picked by binary
//! tournament on (front rank, crowding distance), crossed over uniformly and mutated. When N
//! children have finished, parents and children are merged and the best N, front by front,
//! become the next parents. Feasibility follows Deb's constrained domination in its simplest
//! form: every feasible trial ranks before every infeasible or failed one.

use std::cmp::Ordering;

use nasr_space::{Arch, Space};
use rand::Rng;
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::{Fidelity, Metrics, Policy, SearchError, TrialBook, TrialId, TrialRecord};

/// One objective: a metric and its direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// Metric name.
    pub metric: String,
    /// Maximise (accuracy) or minimise (latency, FLOPs).
    pub maximize: bool,
}

impl Objective {
    /// Maximise `metric`.
    pub fn maximize(metric: &str) -> Self {
        Self {
            metric: metric.into(),
            maximize: true,
        }
    }

    /// Minimise `metric`.
    pub fn minimize(metric: &str) -> Self {
        Self {
            metric: metric.into(),
            maximize: false,
        }
    }
}

/// NSGA-II's policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Nsga2 {
    objectives: Vec<Objective>,
    population_size: usize,
    parents: Vec<TrialId>,
    children: Vec<TrialId>,
}

impl Nsga2 {
    /// NSGA-II over `objectives` (two or more) with population N.
    pub fn new(objectives: Vec<Objective>, population_size: usize) -> Result<Self, SearchError> {
        if objectives.len() < 2 {
            return Err(SearchError::Config {
                field: "objectives".into(),
                problem: format!("NSGA-II needs two or more, got {}", objectives.len()),
            });
        }
        if population_size < 4 {
            return Err(SearchError::Config {
                field: "population_size".into(),
                problem: format!("must be at least 4, got {population_size}"),
            });
        }
        Ok(Self {
            objectives,
            population_size,
            parents: Vec::new(),
            children: Vec::new(),
        })
    }

    /// The objectives.
    pub fn objectives(&self) -> &[Objective] {
        &self.objectives
    }

    /// Objective values turned to "larger is better", or `None` when infeasible or missing.
    fn values(&self, book: &TrialBook, record: &TrialRecord) -> Option<Vec<f64>> {
        book.score(record)?;
        oriented(&self.objectives, &record.metrics)
    }

    /// Front rank and crowding distance of each trial in `ids` (ranks from 0), with Deb's
    /// constrained domination: every feasible trial ranks before every infeasible one, and
    /// infeasible ones rank by how far they break the goal's bounds, so that a population
    /// with no feasible member is still pulled toward the bounds.
    fn rank(&self, book: &TrialBook, ids: &[TrialId]) -> Vec<(usize, f64)> {
        let values: Vec<Option<Vec<f64>>> = ids
            .iter()
            .map(|&id| book.get(id).and_then(|r| self.values(book, r)))
            .collect();
        let feasible: Vec<usize> = (0..ids.len()).filter(|&i| values[i].is_some()).collect();
        let points: Vec<Vec<f64>> = feasible
            .iter()
            .map(|&i| values[i].clone().unwrap_or_default())
            .collect();
        let fronts = non_dominated_fronts(&points);
        let mut ranking = vec![(fronts.len(), 0.0); ids.len()];
        for (rank, front) in fronts.iter().enumerate() {
            let distances = crowding_distances(&points, front);
            for (&member, distance) in front.iter().zip(distances) {
                ranking[feasible[member]] = (rank, distance);
            }
        }
        let violations: Vec<(usize, f64)> = (0..ids.len())
            .filter(|&i| values[i].is_none())
            .map(|i| (i, self.violation(book, ids[i])))
            .collect();
        let mut levels: Vec<f64> = violations.iter().map(|&(_, v)| v).collect();
        levels.sort_by(f64::total_cmp);
        levels.dedup();
        for (i, violation) in violations {
            let level = levels.partition_point(|&l| l < violation);
            ranking[i] = (fronts.len() + level, 0.0);
        }
        ranking
    }

    /// How far a trial breaks the goal's bounds; infinite for a failed trial, one missing a
    /// metric, or one that meets the bounds but lacks an objective.
    fn violation(&self, book: &TrialBook, id: TrialId) -> f64 {
        book.get(id)
            .filter(|r| r.state == crate::TrialState::Complete)
            .filter(|r| oriented(&self.objectives, &r.metrics).is_some())
            .and_then(|r| book.goal().violation(&r.metrics))
            .filter(|&v| v > 0.0)
            .unwrap_or(f64::INFINITY)
    }

    /// Binary tournament: lower rank wins, then larger crowding distance.
    fn tournament(&self, ranking: &[(usize, f64)], rng: &mut ChaCha12Rng) -> usize {
        let (a, b) = (
            rng.random_range(0..ranking.len()),
            rng.random_range(0..ranking.len()),
        );
        if better(ranking[a], ranking[b]) { a } else { b }
    }

    fn select_next_parents(&mut self, book: &TrialBook) {
        let pool: Vec<TrialId> = self.parents.iter().chain(&self.children).copied().collect();
        let ranking = self.rank(book, &pool);
        let mut order: Vec<usize> = (0..pool.len()).collect();
        order.sort_by(|&a, &b| compare(ranking[a], ranking[b]).then(pool[a].cmp(&pool[b])));
        self.parents = order
            .iter()
            .take(self.population_size)
            .map(|&i| pool[i])
            .collect();
        self.children.clear();
    }
}

fn better(a: (usize, f64), b: (usize, f64)) -> bool {
    compare(a, b) == Ordering::Less
}

/// Lower rank first, then larger crowding distance.
fn compare(a: (usize, f64), b: (usize, f64)) -> Ordering {
    a.0.cmp(&b.0).then(b.1.total_cmp(&a.1))
}

/// The objective values of `metrics`, negated where minimised, or `None` if one is missing.
pub fn oriented(objectives: &[Objective], metrics: &Metrics) -> Option<Vec<f64>> {
    objectives
        .iter()
        .map(|o| {
            metrics
                .get(&o.metric)
                .map(|&v| if o.maximize { v } else { -v })
        })
        .collect()
}

/// Whether `a` dominates `b` (all values larger is better): no worse anywhere, better somewhere.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x >= y) && a.iter().zip(b).any(|(x, y)| x > y)
}

/// Fast non-dominated sort: the indices of `points` grouped into fronts, best front first.
pub fn non_dominated_fronts(points: &[Vec<f64>]) -> Vec<Vec<usize>> {
    let n = points.len();
    let mut dominated_by_count = vec![0usize; n];
    let mut dominates_list: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in 0..n {
            if i != j && dominates(&points[i], &points[j]) {
                dominates_list[i].push(j);
            } else if i != j && dominates(&points[j], &points[i]) {
                dominated_by_count[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| dominated_by_count[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominates_list[i] {
                dominated_by_count[j] -= 1;
                if dominated_by_count[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(current);
        current = next;
    }
    fronts
}

/// Crowding distance of each member of `front` (same order); boundary points are infinite.
#[allow(clippy::needless_range_loop)] // `m` indexes an objective inside every point.
pub fn crowding_distances(points: &[Vec<f64>], front: &[usize]) -> Vec<f64> {
    let mut distance = vec![0.0; front.len()];
    let objectives = front.first().map_or(0, |&i| points[i].len());
    for m in 0..objectives {
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| points[front[a]][m].total_cmp(&points[front[b]][m]));
        let (first, last) = (order[0], order[order.len() - 1]);
        let span = points[front[last]][m] - points[front[first]][m];
        distance[first] = f64::INFINITY;
        distance[last] = f64::INFINITY;
        if span > 0.0 {
            for w in order.windows(3) {
                distance[w[1]] += (points[front[w[2]]][m] - points[front[w[0]]][m]) / span;
            }
        }
    }
    distance
}

/// The feasible, complete trials that no other such trial dominates, in id order. An
/// architecture evaluated several times appears once, as its first trial.
pub fn pareto_front<'a>(book: &'a TrialBook, objectives: &[Objective]) -> Vec<&'a TrialRecord> {
    let mut seen = std::collections::HashSet::new();
    let candidates: Vec<(&TrialRecord, Vec<f64>)> = book
        .trials()
        .iter()
        .filter(|r| book.score(r).is_some() && seen.insert(&r.arch))
        .filter_map(|r| oriented(objectives, &r.metrics).map(|v| (r, v)))
        .collect();
    candidates
        .iter()
        .filter(|(_, v)| !candidates.iter().any(|(_, w)| dominates(w, v)))
        .map(|(r, _)| *r)
        .collect()
}

impl Policy for Nsga2 {
    const NAME: &'static str = "nsga2";

    fn propose(
        &mut self,
        space: &dyn Space,
        book: &TrialBook,
        rng: &mut ChaCha12Rng,
    ) -> (Arch, Fidelity) {
        if self.parents.is_empty() {
            return (space.sample(rng), Fidelity::Full);
        }
        let ranking = self.rank(book, &self.parents);
        let pick = |rng: &mut ChaCha12Rng| {
            let id = self.parents[self.tournament(&ranking, rng)];
            book.get(id).expect("parents are trials").arch.clone()
        };
        let (mother, father) = (pick(rng), pick(rng));
        // Uniform crossover, then one mutation so that every child differs from its parents'
        // mix at least somewhere.
        let choices = mother
            .choices
            .iter()
            .zip(&father.choices)
            .map(|(&m, &f)| if rng.random_bool(0.5) { m } else { f })
            .collect();
        (space.mutate(&Arch::new(choices), rng), Fidelity::Full)
    }

    fn observe(&mut self, book: &TrialBook, finished: TrialId) {
        if self.parents.is_empty() {
            // The random first generation: once N trials have finished, they are the parents.
            if book.finished() >= self.population_size {
                let first: Vec<TrialId> = book
                    .trials()
                    .iter()
                    .filter(|r| r.is_told())
                    .map(|r| r.id)
                    .collect();
                self.children = first;
                self.select_next_parents(book);
            }
            return;
        }
        self.children.push(finished);
        if self.children.len() >= self.population_size {
            self.select_next_parents(book);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fronts_and_crowding_match_a_hand_example() {
        // Maximise both: (3,1), (1,3), (2,2) are mutually non-dominated; (1,1) is behind them.
        let points = vec![
            vec![3.0, 1.0],
            vec![1.0, 3.0],
            vec![2.0, 2.0],
            vec![1.0, 1.0],
        ];
        let fronts = non_dominated_fronts(&points);
        assert_eq!(fronts, vec![vec![0, 1, 2], vec![3]]);
        let d = crowding_distances(&points, &fronts[0]);
        assert!(d[0].is_infinite() && d[1].is_infinite());
        assert!((d[2] - 2.0).abs() < 1e-12);
    }

    #[test]
    fn infeasible_trials_rank_after_feasible_ones_by_how_far_they_break_the_bound() {
        let goal = crate::Goal::maximize("accuracy").with_bound("latency_ms", 2.0);
        // (accuracy, latency): one feasible, three over the bound by 50%, 100% and 25%.
        let trials: Vec<TrialRecord> = [(0.1, 1.5), (0.9, 3.0), (0.8, 4.0), (0.7, 2.5)]
            .into_iter()
            .enumerate()
            .map(|(i, (accuracy, latency))| TrialRecord {
                id: i as TrialId,
                arch: nasr_space::Arch::new(vec![i]),
                fidelity: Fidelity::Full,
                state: crate::TrialState::Complete,
                metrics: Metrics::from([
                    ("accuracy".to_string(), accuracy),
                    ("latency_ms".to_string(), latency),
                ]),
                error: None,
            })
            .collect();
        let ids: Vec<TrialId> = trials.iter().map(|t| t.id).collect();
        let book = TrialBook::from_trials(goal, trials).unwrap();
        let nsga2 = Nsga2::new(
            vec![
                Objective::maximize("accuracy"),
                Objective::minimize("latency_ms"),
            ],
            4,
        )
        .unwrap();
        let ranks: Vec<usize> = nsga2.rank(&book, &ids).iter().map(|r| r.0).collect();
        assert_eq!(ranks, vec![0, 2, 3, 1]);
    }
}
