//! DNA's constrained selection (Li et al., CVPR 2020; `process_potential.py`): one candidate
//! per block, minimising the summed block scores subject to the summed cost staying within a
//! budget. The official code walks nested loops over the score-sorted lists with bounds shared
//! across prefixes, a heuristic; this is an exact branch-and-bound over the same sorted lists.

use crate::SearchError;

/// One candidate of one block: its score (lower is better) and its cost (multiply-adds,
/// parameters or milliseconds; the same unit in every block).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockCandidate {
    /// The block score (DNA's normalised distance to the teacher).
    pub score: f64,
    /// What the candidate adds to the network's cost.
    pub cost: f64,
}

/// The chosen candidate of every block.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Index of the chosen candidate in each block's list, as given.
    pub picks: Vec<usize>,
    /// Summed score of the picks.
    pub score: f64,
    /// Summed cost of the picks.
    pub cost: f64,
}

/// The combination of one candidate per block of least summed score whose summed cost is at
/// most `budget` (ties: any of them). An empty block, a score or cost that is not a number,
/// or a budget no combination meets is an error; the last names the cheapest combination's
/// cost.
pub fn select_blocks(
    blocks: &[Vec<BlockCandidate>],
    budget: f64,
) -> Result<Selection, SearchError> {
    check(blocks)?;
    let cheapest: f64 = blocks.iter().map(|b| min_of(b, |c| c.cost)).sum();
    if cheapest > budget {
        return Err(SearchError::Config {
            field: "budget".into(),
            problem: format!("is met by no combination of blocks: the cheapest costs {cheapest}"),
        });
    }
    // Each block's candidates in ascending score, so that a prefix's first too-good-to-beat
    // failure ends the block's loop.
    let sorted: Vec<Vec<usize>> = blocks
        .iter()
        .map(|block| {
            let mut order: Vec<usize> = (0..block.len()).collect();
            order.sort_by(|&a, &b| block[a].score.total_cmp(&block[b].score));
            order
        })
        .collect();
    let suffix = |f: fn(&BlockCandidate) -> f64| -> Vec<f64> {
        let mut sums = vec![0.0; blocks.len() + 1];
        for i in (0..blocks.len()).rev() {
            sums[i] = sums[i + 1] + min_of(&blocks[i], f);
        }
        sums
    };
    let mut search = BranchAndBound {
        blocks,
        sorted: &sorted,
        budget,
        least_score_after: suffix(|c| c.score),
        least_cost_after: suffix(|c| c.cost),
        path: Vec::with_capacity(blocks.len()),
        best: None,
    };
    search.descend(0, 0.0, 0.0);
    let (picks, score) = search.best.expect("the cheapest combination is feasible");
    let cost = picks.iter().zip(blocks).map(|(&p, b)| b[p].cost).sum();
    Ok(Selection { picks, score, cost })
}

fn check(blocks: &[Vec<BlockCandidate>]) -> Result<(), SearchError> {
    if blocks.is_empty() {
        return Err(SearchError::Config {
            field: "blocks".into(),
            problem: "must list at least one block".into(),
        });
    }
    for (i, block) in blocks.iter().enumerate() {
        if block.is_empty() {
            return Err(SearchError::Config {
                field: format!("block {i}"),
                problem: "has no candidates".into(),
            });
        }
        if let Some(j) = block
            .iter()
            .position(|c| !c.score.is_finite() || !c.cost.is_finite())
        {
            return Err(SearchError::Config {
                field: format!("block {i} candidate {j}"),
                problem: format!(
                    "has score {} and cost {}; both must be numbers",
                    block[j].score, block[j].cost
                ),
            });
        }
    }
    Ok(())
}

fn min_of(block: &[BlockCandidate], f: fn(&BlockCandidate) -> f64) -> f64 {
    block.iter().map(f).fold(f64::INFINITY, f64::min)
}

struct BranchAndBound<'a> {
    blocks: &'a [Vec<BlockCandidate>],
    sorted: &'a [Vec<usize>],
    budget: f64,
    /// Least possible summed score of blocks `i..`.
    least_score_after: Vec<f64>,
    /// Least possible summed cost of blocks `i..`.
    least_cost_after: Vec<f64>,
    path: Vec<usize>,
    best: Option<(Vec<usize>, f64)>,
}

impl BranchAndBound<'_> {
    fn descend(&mut self, block: usize, score: f64, cost: f64) {
        if block == self.blocks.len() {
            if self.best.as_ref().is_none_or(|(_, best)| score < *best) {
                self.best = Some((self.path.clone(), score));
            }
            return;
        }
        for &index in &self.sorted[block] {
            let candidate = self.blocks[block][index];
            let bound = score + candidate.score + self.least_score_after[block + 1];
            if self.best.as_ref().is_some_and(|(_, best)| bound >= *best) {
                // Later candidates of this block score no lower.
                break;
            }
            if cost + candidate.cost + self.least_cost_after[block + 1] > self.budget {
                continue;
            }
            self.path.push(index);
            self.descend(block + 1, score + candidate.score, cost + candidate.cost);
            self.path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random_blocks(rng: &mut impl Rng) -> Vec<Vec<BlockCandidate>> {
        let blocks = rng.random_range(1..=4);
        (0..blocks)
            .map(|_| {
                (0..rng.random_range(1..=6))
                    .map(|_| BlockCandidate {
                        score: rng.random_range(0.0..1.0),
                        cost: f64::from(rng.random_range(1..20u32)),
                    })
                    .collect()
            })
            .collect()
    }

    /// Every combination's (score, cost), by brute force.
    fn all_combinations(blocks: &[Vec<BlockCandidate>]) -> Vec<(Vec<usize>, f64, f64)> {
        blocks
            .iter()
            .fold(vec![(Vec::new(), 0.0, 0.0)], |partial, block| {
                partial
                    .into_iter()
                    .flat_map(|(picks, score, cost)| {
                        block.iter().enumerate().map(move |(i, c)| {
                            let mut picks = picks.clone();
                            picks.push(i);
                            (picks, score + c.score, cost + c.cost)
                        })
                    })
                    .collect()
            })
    }

    /// On random small tables and budgets the selector finds brute force's least score, never
    /// goes over budget, and reports infeasibility exactly when brute force finds nothing.
    #[test]
    fn the_selector_equals_brute_force_and_respects_the_budget() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (mut feasible, mut infeasible) = (0, 0);
        for _ in 0..500 {
            let blocks = random_blocks(&mut rng);
            let budget = f64::from(rng.random_range(1..60u32));
            let best = all_combinations(&blocks)
                .into_iter()
                .filter(|(_, _, cost)| *cost <= budget)
                .map(|(_, score, _)| score)
                .fold(f64::INFINITY, f64::min);
            match select_blocks(&blocks, budget) {
                Ok(selection) => {
                    feasible += 1;
                    assert!(selection.cost <= budget, "{} > {budget}", selection.cost);
                    assert!(
                        (selection.score - best).abs() < 1e-12,
                        "{} vs {best}",
                        selection.score
                    );
                    let recomputed: f64 = selection
                        .picks
                        .iter()
                        .zip(&blocks)
                        .map(|(&p, b)| b[p].score)
                        .sum();
                    assert!((recomputed - selection.score).abs() < 1e-12);
                }
                Err(error) => {
                    infeasible += 1;
                    assert!(best.is_infinite(), "brute force found {best}: {error}");
                    assert!(error.to_string().contains("the cheapest costs"), "{error}");
                }
            }
        }
        assert!(
            feasible > 100 && infeasible > 20,
            "{feasible} / {infeasible}"
        );
    }

    #[test]
    fn an_infeasible_budget_names_the_cheapest_cost() {
        let block = |costs: &[f64]| -> Vec<BlockCandidate> {
            costs
                .iter()
                .map(|&cost| BlockCandidate {
                    score: 1.0 / cost,
                    cost,
                })
                .collect()
        };
        let blocks = vec![block(&[3.0, 5.0]), block(&[2.0, 9.0])];
        let error = select_blocks(&blocks, 4.0).unwrap_err().to_string();
        assert!(
            error.contains("budget is met by no combination of blocks: the cheapest costs 5"),
            "{error}"
        );
        // At the cheapest cost exactly, the cheapest combination is chosen.
        assert_eq!(select_blocks(&blocks, 5.0).unwrap().picks, vec![0, 0]);
        // A loose budget takes the best scores.
        assert_eq!(select_blocks(&blocks, 100.0).unwrap().picks, vec![1, 1]);
        let nan = vec![vec![BlockCandidate {
            score: f64::NAN,
            cost: 1.0,
        }]];
        assert!(
            select_blocks(&nan, 10.0)
                .unwrap_err()
                .to_string()
                .contains("block 0 candidate 0")
        );
    }
}
