//! The NAS-Bench-201 cell space (Dong & Yang, ICLR 2020).
//!
//! A cell is a DAG of four nodes; each of the six edges `j<-i` (i < j) carries one of five ops.
//! The canonical string lists the edges into node 1, 2 and 3, e.g.
//! `|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|`.

use std::sync::OnceLock;

use crate::{Arch, Decision, Space, SpaceError};

/// The five candidate ops, in NAS-Bench-201's order.
pub const NB201_OPS: [&str; 5] = [
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
];

/// One NB201 candidate op, as a type: option `k` of an edge decision is `Nb201Op::ALL[k]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nb201Op {
    /// The zero op: the edge contributes nothing.
    None,
    /// The identity.
    SkipConnect,
    /// ReLU-Conv1x1-BN.
    NorConv1x1,
    /// ReLU-Conv3x3-BN.
    NorConv3x3,
    /// 3x3 average pooling.
    AvgPool3x3,
}

impl Nb201Op {
    /// Every op, in [`NB201_OPS`] order.
    pub const ALL: [Nb201Op; 5] = [
        Nb201Op::None,
        Nb201Op::SkipConnect,
        Nb201Op::NorConv1x1,
        Nb201Op::NorConv3x3,
        Nb201Op::AvgPool3x3,
    ];

    /// The op of option `choice` of an edge decision.
    ///
    /// # Panics
    /// If `choice` is not below 5; a checked [`Arch`] never holds such a choice.
    pub fn from_choice(choice: usize) -> Self {
        Self::ALL[choice]
    }

    /// NAS-Bench-201's name of the op (`nor_conv_3x3`).
    pub fn name(self) -> &'static str {
        NB201_OPS[self as usize]
    }
}

/// Number of intermediate and output nodes of a cell (node 0 is the input).
pub const NB201_NODES: usize = 4;

/// The six edges `(to, from)`, in the order of the canonical string and of [`Arch::choices`].
pub const NB201_EDGES: [(usize, usize); 6] = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)];

/// Number of architectures: 5^6.
pub const NB201_SIZE: usize = 15_625;

/// NAS-Bench-201's own architecture order (see `scripts/gen_nb201_order.py`).
static ORDER: &[u8; 2 * NB201_SIZE] = include_bytes!("nb201_order.bin");

/// The NAS-Bench-201 space: 6 edges x 5 ops.
#[derive(Debug, Clone)]
pub struct Nb201Space {
    decisions: Vec<Decision>,
}

impl Default for Nb201Space {
    fn default() -> Self {
        let decisions = NB201_EDGES
            .iter()
            .map(|(to, from)| Decision {
                name: format!("edge_{to}<-{from}"),
                options: NB201_OPS.iter().map(|op| op.to_string()).collect(),
            })
            .collect();
        Self { decisions }
    }
}

impl Nb201Space {
    /// The space.
    pub fn new() -> Self {
        Self::default()
    }

    /// The architecture at NAS-Bench-201 index `index` (row `index` of the benchmark's tables).
    pub fn arch_at(&self, index: usize) -> Result<Arch, SpaceError> {
        if index >= NB201_SIZE {
            return Err(SpaceError::IndexOutOfRange {
                space: self.name().to_string(),
                index,
                size: NB201_SIZE,
            });
        }
        let code = u16::from_le_bytes([ORDER[2 * index], ORDER[2 * index + 1]]) as usize;
        Ok(decode(code))
    }

    /// The NAS-Bench-201 index of `arch`.
    pub fn index_of(&self, arch: &Arch) -> Result<usize, SpaceError> {
        self.check(arch)?;
        Ok(index_table()[encode(arch)] as usize)
    }
}

/// Base-5 code of an architecture, edge k weighted 5^k.
fn encode(arch: &Arch) -> usize {
    arch.choices.iter().rev().fold(0, |acc, &c| acc * 5 + c)
}

fn decode(mut code: usize) -> Arch {
    let choices = (0..NB201_EDGES.len())
        .map(|_| {
            let c = code % 5;
            code /= 5;
            c
        })
        .collect();
    Arch::new(choices)
}

/// Code -> index, the inverse of the shipped order, built once.
fn index_table() -> &'static [u16] {
    static TABLE: OnceLock<Vec<u16>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![0u16; NB201_SIZE];
        for (index, pair) in ORDER.chunks_exact(2).enumerate() {
            table[u16::from_le_bytes([pair[0], pair[1]]) as usize] = index as u16;
        }
        table
    })
}

impl Space for Nb201Space {
    fn name(&self) -> &str {
        "nb201"
    }

    /// The NAS-Bench-201 index (`11472`), or the choices for an architecture of another shape.
    fn key(&self, arch: &Arch) -> String {
        match self.index_of(arch) {
            Ok(index) => index.to_string(),
            Err(_) => arch.choices_key(),
        }
    }

    fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    fn format(&self, arch: &Arch) -> String {
        let mut out = String::from("|");
        for (k, (&(_, from), &choice)) in NB201_EDGES.iter().zip(&arch.choices).enumerate() {
            if k > 0 && from == 0 {
                out.push_str("+|");
            }
            out.push_str(&format!("{}~{from}|", NB201_OPS[choice]));
        }
        out
    }

    fn parse(&self, text: &str) -> Result<Arch, SpaceError> {
        let bad_shape = |problem: &str| SpaceError::BadShape {
            input: text.to_string(),
            problem: problem.to_string(),
        };
        let inner = text
            .strip_prefix('|')
            .and_then(|s| s.strip_suffix('|'))
            .ok_or_else(|| bad_shape("it must start and end with '|'"))?;
        let nodes: Vec<&str> = inner.split("|+|").collect();
        if nodes.len() != NB201_NODES - 1 {
            return Err(bad_shape(&format!(
                "expected 3 nodes separated by '+', found {}",
                nodes.len()
            )));
        }
        let mut choices = Vec::with_capacity(NB201_EDGES.len());
        let mut position = 1;
        for (node, edges) in nodes.iter().enumerate() {
            let tokens: Vec<&str> = edges.split('|').collect();
            if tokens.len() != node + 1 {
                return Err(bad_shape(&format!(
                    "node {} must have {} incoming edges, found {}",
                    node + 1,
                    node + 1,
                    tokens.len()
                )));
            }
            for (from, token) in tokens.iter().enumerate() {
                choices.push(parse_edge(text, token, position, from)?);
                position += token.len() + 1;
            }
            position += 2;
        }
        Ok(Arch::new(choices))
    }
}

/// One `op~from` token.
fn parse_edge(input: &str, token: &str, position: usize, from: usize) -> Result<usize, SpaceError> {
    let bad = |problem: String| SpaceError::BadToken {
        input: input.to_string(),
        token: token.to_string(),
        position,
        problem,
    };
    let (op, source) = token
        .split_once('~')
        .ok_or_else(|| bad("expected op~input".to_string()))?;
    let choice = NB201_OPS
        .iter()
        .position(|&known| known == op)
        .ok_or_else(|| bad(format!("unknown op {op:?}, expected one of {NB201_OPS:?}")))?;
    if source != from.to_string() {
        return Err(bad(format!("expected input node {from}, found {source:?}")));
    }
    Ok(choice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const BEST_CIFAR10: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

    #[test]
    fn every_arch_string_round_trips() {
        let space = Nb201Space::new();
        for code in 0..NB201_SIZE {
            let arch = decode(code);
            let text = space.format(&arch);
            assert_eq!(space.parse(&text).unwrap(), arch, "{text}");
        }
    }

    #[test]
    fn index_and_arch_are_inverse() {
        let space = Nb201Space::new();
        for index in 0..NB201_SIZE {
            let arch = space.arch_at(index).unwrap();
            assert_eq!(space.index_of(&arch).unwrap(), index);
        }
        assert!(space.arch_at(NB201_SIZE).is_err());
    }

    #[test]
    fn bad_token_is_named() {
        let space = Nb201Space::new();
        let text = BEST_CIFAR10.replace("skip_connect~0", "skip_conect~0");
        let err = space.parse(&text).unwrap_err();
        match &err {
            SpaceError::BadToken {
                token, position, ..
            } => {
                assert_eq!(token, "skip_conect~0");
                assert_eq!(&text[*position..*position + token.len()], token);
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(err.to_string().contains("unknown op \"skip_conect\""));
        let wrong_input = BEST_CIFAR10.replace(
            "nor_conv_3x3~1|nor_conv_3x3~2",
            "nor_conv_3x3~2|nor_conv_3x3~2",
        );
        assert!(
            space
                .parse(&wrong_input)
                .unwrap_err()
                .to_string()
                .contains("expected input node 1")
        );
        assert!(matches!(
            space.parse("|none~0|+|none~0|none~1|"),
            Err(SpaceError::BadShape { .. })
        ));
        assert!(matches!(
            space.parse("none~0"),
            Err(SpaceError::BadShape { .. })
        ));
    }

    #[test]
    fn mutation_changes_exactly_one_edge() {
        let space = Nb201Space::new();
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(0);
        for _ in 0..200 {
            let parent = space.sample(&mut rng);
            let child = space.mutate(&parent, &mut rng);
            let changed = parent
                .choices
                .iter()
                .zip(&child.choices)
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(changed, 1);
            space.check(&child).unwrap();
        }
    }

    #[test]
    fn uniform_sampling_covers_every_op_on_every_edge() {
        let space = Nb201Space::new();
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(1);
        let mut counts = [[0usize; 5]; 6];
        for _ in 0..5000 {
            for (edge, &c) in space.sample(&mut rng).choices.iter().enumerate() {
                counts[edge][c] += 1;
            }
        }
        for row in counts {
            for count in row {
                assert!((850..1150).contains(&count), "{counts:?}");
            }
        }
    }
}
