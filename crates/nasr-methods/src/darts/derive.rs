//! Reading a discrete architecture out of softmax(alpha), per space.

use nasr_space::darts::{CellGenotype, DARTS_EDGES, DARTS_NODES, DARTS_OPS, first_edge};
use nasr_space::nb201::{NB201_EDGES, NB201_OPS};
use nasr_space::{Arch, DartsSpace, Nb201Space, Space};
use serde::{Deserialize, Serialize};

use super::Relaxation;
use super::alpha::argmax;
use nasr_nn::NnError;

use crate::space::SpaceConfig;

/// The spaces DARTS searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MixedSpace {
    /// NAS-Bench-201's cell: 6 edges x 5 ops, shared by all cells.
    Nb201,
    /// The DARTS space: normal and reduction cells of 14 edges x 8 ops.
    Darts,
}

impl MixedSpace {
    /// The space a config searches: `nb201` or `darts`.
    pub fn of(space: &SpaceConfig) -> Result<Self, NnError> {
        match space {
            SpaceConfig::Nb201(_) => Ok(Self::Nb201),
            SpaceConfig::Darts(_) => Ok(Self::Darts),
            SpaceConfig::Mobilenet(_) | SpaceConfig::Proxyless(_) | SpaceConfig::Ofa(_) => {
                Err(Self::refused(space))
            }
        }
    }

    /// The error for a space DARTS does not search.
    pub fn refused(space: &SpaceConfig) -> NnError {
        NnError::Config {
            field: "space",
            problem: format!("DARTS searches nb201 or darts, not {}", space.name()),
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Nb201 => "nb201",
            Self::Darts => "darts",
        }
    }

    /// Rows (edges) and columns (ops) of alpha: `[6, 5]`, or `[28, 8]` (normal rows first).
    pub fn alpha_shape(self) -> (usize, usize) {
        match self {
            Self::Nb201 => (NB201_EDGES.len(), NB201_OPS.len()),
            Self::Darts => (2 * DARTS_EDGES, DARTS_OPS.len()),
        }
    }

    /// The names of alpha's columns.
    pub fn ops(self) -> &'static [&'static str] {
        match self {
            Self::Nb201 => &NB201_OPS,
            Self::Darts => &DARTS_OPS,
        }
    }

    /// The architecture derived from the op weights (rows of `weights`) of `relaxation`.
    pub fn derive(self, weights: &[Vec<f64>], relaxation: Relaxation) -> Derived {
        match self {
            Self::Nb201 => {
                let space = Nb201Space::new();
                let arch = match relaxation {
                    Relaxation::Softmax => derive_nb201(weights),
                    Relaxation::Sigmoid => derive_nb201_sigmoid(weights),
                };
                let skip = NB201_OPS.iter().position(|&op| op == "skip_connect");
                Derived {
                    arch: space.format(&arch),
                    index: space.index_of(&arch).ok(),
                    skip_count: arch.choices.iter().filter(|&&c| Some(c) == skip).count(),
                }
            }
            Self::Darts => {
                let space = DartsSpace::new();
                let cells = derive_darts(weights);
                let skip = DARTS_OPS.iter().position(|&op| op == "skip_connect");
                let arch = space
                    .from_genotype(&cells)
                    .expect("derivation picks two distinct inputs and non-zero ops");
                Derived {
                    arch: space.format(&arch),
                    index: None,
                    skip_count: cells[0]
                        .iter()
                        .flatten()
                        .filter(|&&(op, _)| Some(op) == skip)
                        .count(),
                }
            }
        }
    }
}

/// A derived architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    /// Canonical string.
    pub arch: String,
    /// NAS-Bench-201 index (NB201 only).
    pub index: Option<usize>,
    /// Skip connections (NB201: in the cell; DARTS: in the normal cell, as DARTS+ counts them).
    pub skip_count: usize,
}

/// NB201 (as in the NAS-Bench-201 paper's DARTS runs): per edge, the op of largest weight,
/// `none` included.
pub fn derive_nb201(weights: &[Vec<f64>]) -> Arch {
    Arch::new(weights.iter().map(|row| argmax(row)).collect())
}

/// NB201 under Fair DARTS' sigmoid weights: the zero op multiplies nothing, so its weight
/// carries no evidence. Each edge keeps its strongest other op if that op's weight is at least
/// 0.5 (where the zero-one loss splits "used" from "unused"), and is `none` otherwise.
pub fn derive_nb201_sigmoid(weights: &[Vec<f64>]) -> Arch {
    let none = NB201_OPS
        .iter()
        .position(|&op| op == "none")
        .expect("NB201 has none");
    Arch::new(
        weights
            .iter()
            .map(|row| {
                let masked: Vec<f64> = row
                    .iter()
                    .enumerate()
                    .map(|(k, &w)| if k == none { f64::NEG_INFINITY } else { w })
                    .collect();
                let best = argmax(&masked);
                if masked[best] >= 0.5 { best } else { none }
            })
            .collect(),
    )
}

/// DARTS (its `genotype()`): per intermediate node, the two incoming edges whose strongest
/// non-zero op weighs most, each with that op. `weights` has the normal cell's 14 rows, then
/// the reduction cell's.
pub fn derive_darts(weights: &[Vec<f64>]) -> [CellGenotype; 2] {
    [0, 1].map(|cell| {
        let rows = &weights[cell * DARTS_EDGES..(cell + 1) * DARTS_EDGES];
        (0..DARTS_NODES)
            .map(|node| {
                let mut candidates: Vec<(f64, usize, usize)> = (0..node + 2)
                    .map(|input| {
                        let row = &rows[first_edge(node) + input];
                        let op = 1 + argmax(&row[1..]);
                        (row[op], op, input)
                    })
                    .collect();
                // Strongest first; on ties the earlier input, so derivation is deterministic.
                candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)));
                [
                    (candidates[0].1, candidates[0].2),
                    (candidates[1].1, candidates[1].2),
                ]
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_derivation_ignores_the_zero_op_and_drops_unused_edges() {
        // Edge 0: none's weight is largest but carries no evidence; conv 3x3 (0.7) is kept.
        // Edge 1: nothing reaches 0.5, so the edge is dropped (none).
        let mut weights = vec![vec![0.1, 0.1, 0.1, 0.6, 0.1]; 6];
        weights[0] = vec![0.99, 0.2, 0.1, 0.7, 0.3];
        weights[1] = vec![0.9, 0.4, 0.3, 0.2, 0.45];
        let arch = derive_nb201_sigmoid(&weights);
        assert_eq!(arch.choices, vec![3, 0, 3, 3, 3, 3]);
    }

    #[test]
    fn darts_derivation_keeps_the_two_strongest_non_zero_edges_per_node() {
        // Uniform everywhere except: node 2 prefers sep_conv_3x3 from input 1 and none from 0;
        // node 5 (edges 9-13) prefers dil_conv_5x5 from node 4 and skip from input 0.
        let mut weights = vec![vec![0.125; 8]; 28];
        weights[0] = vec![0.9, 0.02, 0.02, 0.02, 0.02, 0.02, 0.0, 0.0];
        weights[1] = vec![0.0, 0.0, 0.0, 0.0, 0.6, 0.1, 0.2, 0.1];
        weights[13] = vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.9];
        weights[9] = vec![0.0, 0.0, 0.0, 0.5, 0.1, 0.1, 0.2, 0.1];
        let [normal, _] = derive_darts(&weights);
        // Input 0's strongest non-zero op weighs 0.02, input 1's 0.6: both kept (two edges).
        assert_eq!(normal[0], [(4, 1), (1, 0)]);
        assert_eq!(normal[3], [(7, 4), (3, 0)]);
        let derived = MixedSpace::Darts.derive(&weights, Relaxation::Softmax);
        assert_eq!(derived.skip_count, 1);
        assert!(
            derived
                .arch
                .starts_with("Genotype(normal=[('max_pool_3x3', 0), ('sep_conv_3x3', 1)"),
            "{}",
            derived.arch
        );
    }
}
