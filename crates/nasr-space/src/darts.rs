//! The DARTS space (Liu et al., ICLR 2019): a normal and a reduction cell, each with two input
//! nodes (the outputs of the two previous cells) and four intermediate nodes. In the derived
//! form, every intermediate node takes exactly two earlier nodes, each through one non-zero op;
//! the cell's output concatenates the four intermediate nodes.
//!
//! As decisions, each node j (0..4) of each cell chooses its pair of distinct inputs among the
//! `C(j + 2, 2)` pairs of earlier nodes, and one op for each of the two. The canonical string
//! is the DARTS paper's genotype:
//! `Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])`,
//! each node's two entries with the smaller input first.

use crate::{Arch, Decision, Space, SpaceError};

/// The eight candidate ops of the DARTS space, in the paper's order.
pub const DARTS_OPS: [&str; 8] = [
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
];

/// One candidate op of the DARTS space, as a type: `DartsPrimitive::ALL[k]` is `DARTS_OPS[k]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DartsPrimitive {
    /// The zero op (search supernet only; a derived cell never holds it).
    None,
    /// 3x3 max pooling.
    MaxPool3x3,
    /// 3x3 average pooling, not counting the padding.
    AvgPool3x3,
    /// The identity (a factorized reduce at stride 2).
    SkipConnect,
    /// Two stacked depthwise-separable 3x3 convolutions.
    SepConv3x3,
    /// Two stacked depthwise-separable 5x5 convolutions.
    SepConv5x5,
    /// A dilated (2) depthwise-separable 3x3 convolution.
    DilConv3x3,
    /// A dilated (2) depthwise-separable 5x5 convolution.
    DilConv5x5,
}

impl DartsPrimitive {
    /// Every op, in [`DARTS_OPS`] order.
    pub const ALL: [DartsPrimitive; 8] = [
        DartsPrimitive::None,
        DartsPrimitive::MaxPool3x3,
        DartsPrimitive::AvgPool3x3,
        DartsPrimitive::SkipConnect,
        DartsPrimitive::SepConv3x3,
        DartsPrimitive::SepConv5x5,
        DartsPrimitive::DilConv3x3,
        DartsPrimitive::DilConv5x5,
    ];

    /// The op at index `index` of [`DARTS_OPS`] (a genotype's op index).
    ///
    /// # Panics
    /// If `index` is not below 8; a checked genotype never holds such an index.
    pub fn from_index(index: usize) -> Self {
        Self::ALL[index]
    }

    /// The DARTS code's name of the op (`sep_conv_3x3`).
    pub fn name(self) -> &'static str {
        DARTS_OPS[self as usize]
    }
}

/// Intermediate nodes per cell.
pub const DARTS_NODES: usize = 4;

/// Edges per cell in the search supernet: node j has j + 2 incoming edges, 14 in all.
pub const DARTS_EDGES: usize = 14;

/// The two cell types.
pub const CELL_TYPES: [&str; 2] = ["normal", "reduce"];

/// One derived cell: per intermediate node, two (op, input) pairs; op indexes [`DARTS_OPS`]
/// (never `none`), input 0 and 1 are the cell's inputs and 2.. the earlier intermediate nodes.
pub type CellGenotype = Vec<[(usize, usize); 2]>;

/// The index of the first incoming edge of intermediate node `node` in the supernet's edge
/// order (node 0: edges 0-1, node 1: 2-4, node 2: 5-8, node 3: 9-13).
pub fn first_edge(node: usize) -> usize {
    (0..node).map(|j| j + 2).sum()
}

/// The DARTS space.
#[derive(Debug, Clone)]
pub struct DartsSpace {
    decisions: Vec<Decision>,
}

impl Default for DartsSpace {
    fn default() -> Self {
        Self::new()
    }
}

/// The pairs of distinct inputs node `node` can take, in canonical order.
fn input_pairs(node: usize) -> Vec<(usize, usize)> {
    let inputs = node + 2;
    (0..inputs)
        .flat_map(|a| (a + 1..inputs).map(move |b| (a, b)))
        .collect()
}

impl DartsSpace {
    /// The space: 2 cells x 4 nodes x (input pair, op of the first, op of the second).
    pub fn new() -> Self {
        let ops: Vec<String> = DARTS_OPS[1..].iter().map(|s| s.to_string()).collect();
        let mut decisions = Vec::new();
        for cell in CELL_TYPES {
            for node in 0..DARTS_NODES {
                let pairs = input_pairs(node)
                    .into_iter()
                    .map(|(a, b)| format!("{a},{b}"))
                    .collect();
                decisions.push(Decision {
                    name: format!("{cell}.node{}.inputs", node + 2),
                    options: pairs,
                });
                for side in ["first", "second"] {
                    decisions.push(Decision {
                        name: format!("{cell}.node{}.{side}_op", node + 2),
                        options: ops.clone(),
                    });
                }
            }
        }
        Self { decisions }
    }

    /// The two cells of `arch` (normal, reduce), which must be in the space.
    pub fn genotype(&self, arch: &Arch) -> [CellGenotype; 2] {
        let per_cell = 3 * DARTS_NODES;
        [0, 1].map(|cell| {
            (0..DARTS_NODES)
                .map(|node| {
                    let base = cell * per_cell + 3 * node;
                    let (a, b) = input_pairs(node)[arch.choices[base]];
                    // Decisions skip `none`: option k is DARTS_OPS[k + 1].
                    [
                        (arch.choices[base + 1] + 1, a),
                        (arch.choices[base + 2] + 1, b),
                    ]
                })
                .collect()
        })
    }

    /// The architecture of two derived cells. Errors name the node whose inputs are not two
    /// distinct earlier nodes, or whose op is `none` or unknown.
    pub fn from_genotype(&self, cells: &[CellGenotype; 2]) -> Result<Arch, SpaceError> {
        let mut choices = Vec::with_capacity(self.decisions.len());
        for (cell, genotype) in CELL_TYPES.iter().zip(cells) {
            if genotype.len() != DARTS_NODES {
                return Err(shape_error(format!(
                    "{cell} has {} nodes, expected {DARTS_NODES}",
                    genotype.len()
                )));
            }
            for (node, pair) in genotype.iter().enumerate() {
                let mut pair = *pair;
                pair.sort_by_key(|&(_, input)| input);
                let [(op_a, a), (op_b, b)] = pair;
                let bad =
                    |problem: String| shape_error(format!("{cell} node {}: {problem}", node + 2));
                let position = input_pairs(node)
                    .iter()
                    .position(|&p| p == (a, b))
                    .ok_or_else(|| {
                        bad(format!(
                            "inputs {a} and {b} must be two different nodes below {}",
                            node + 2
                        ))
                    })?;
                for op in [op_a, op_b] {
                    if op == 0 || op >= DARTS_OPS.len() {
                        return Err(bad(format!(
                            "op index {op} is not one of the seven non-zero ops"
                        )));
                    }
                }
                choices.extend([position, op_a - 1, op_b - 1]);
            }
        }
        Ok(Arch::new(choices))
    }
}

fn shape_error(problem: String) -> SpaceError {
    SpaceError::BadShape {
        input: String::new(),
        problem,
    }
}

fn format_cell(cell: &CellGenotype) -> String {
    cell.iter()
        .flatten()
        .map(|&(op, input)| format!("('{}', {input})", DARTS_OPS[op]))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Space for DartsSpace {
    fn name(&self) -> &str {
        "darts"
    }

    fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    fn format(&self, arch: &Arch) -> String {
        let [normal, reduce] = self.genotype(arch);
        format!(
            "Genotype(normal=[{}], normal_concat=[2, 3, 4, 5], reduce=[{}], reduce_concat=[2, 3, 4, 5])",
            format_cell(&normal),
            format_cell(&reduce)
        )
    }

    fn parse(&self, text: &str) -> Result<Arch, SpaceError> {
        let with_input = |mut error: SpaceError| {
            if let SpaceError::BadShape { input, .. } = &mut error {
                *input = text.to_string();
            }
            error
        };
        let cells = [parse_cell(text, "normal")?, parse_cell(text, "reduce")?];
        self.from_genotype(&cells).map_err(with_input)
    }
}

/// The (op, input) list after `name=[` in a genotype string.
fn parse_cell(text: &str, name: &str) -> Result<CellGenotype, SpaceError> {
    let key = format!("{name}=[");
    let start = text.find(&key).ok_or_else(|| SpaceError::BadShape {
        input: text.into(),
        problem: format!("no `{key}` list; expected the DARTS form Genotype(normal=[('op', input), ...], ..., reduce=[...], ...)"),
    })? + key.len();
    let end = start
        + text[start..]
            .find(']')
            .ok_or_else(|| SpaceError::BadShape {
                input: text.into(),
                problem: format!("the `{name}` list is not closed with ']'"),
            })?;
    let body = &text[start..end];
    let mut entries = Vec::new();
    let mut offset = start;
    for raw in body.split(')') {
        let token = raw.trim_start_matches([',', ' ']).trim();
        let position = offset + (raw.len() - raw.trim_start_matches([',', ' ']).len());
        offset += raw.len() + 1;
        if token.is_empty() {
            continue;
        }
        let bad = |problem: String| SpaceError::BadToken {
            input: text.into(),
            token: token.to_string(),
            position,
            problem,
        };
        let inner = token
            .strip_prefix('(')
            .ok_or_else(|| bad("expected ('op', input)".into()))?;
        let (op, input) = inner
            .split_once(',')
            .ok_or_else(|| bad("expected ('op', input)".into()))?;
        let op = op.trim().trim_matches(['\'', '"']);
        let op = DARTS_OPS
            .iter()
            .position(|&o| o == op)
            .ok_or_else(|| bad(format!("unknown op {op:?}; ops are {:?}", &DARTS_OPS[1..])))?;
        let input: usize = input
            .trim()
            .parse()
            .map_err(|_| bad("the input must be a node number".into()))?;
        entries.push((op, input));
    }
    if entries.len() != 2 * DARTS_NODES {
        return Err(SpaceError::BadShape {
            input: text.into(),
            problem: format!(
                "the `{name}` list has {} entries, expected {} (two per node)",
                entries.len(),
                2 * DARTS_NODES
            ),
        });
    }
    Ok(entries.chunks(2).map(|pair| [pair[0], pair[1]]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DARTS_V2, the second-order cell of the DARTS paper (its genotypes.py).
    const DARTS_V2: &str = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

    #[test]
    fn the_papers_genotype_parses_and_formats_in_canonical_order() {
        let space = DartsSpace::new();
        let arch = space.parse(DARTS_V2).unwrap();
        let text = space.format(&arch);
        assert!(text.starts_with("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1)"), "{text}");
        assert_eq!(space.parse(&text).unwrap(), arch);
        let [normal, reduce] = space.genotype(&arch);
        assert_eq!(normal[3], [(3, 0), (6, 2)]);
        assert_eq!(reduce[1], [(1, 1), (3, 2)]);
    }

    #[test]
    fn decisions_and_size_follow_the_cell_shape() {
        let space = DartsSpace::new();
        assert_eq!(space.decisions().len(), 24);
        let pairs: usize = 3 * 6 * 10;
        let per_cell = pairs * 7usize.pow(8);
        assert_eq!(space.size(), per_cell * per_cell);
        assert_eq!(first_edge(3) + 5, DARTS_EDGES);
    }

    #[test]
    fn every_sample_round_trips_through_its_string() {
        let space = DartsSpace::new();
        let mut rng = crate::SeedStreams::new(3).stream("test");
        for _ in 0..50 {
            let arch = space.sample(&mut rng);
            assert_eq!(space.parse(&space.format(&arch)).unwrap(), arch);
        }
    }

    #[test]
    fn bad_genotypes_are_named() {
        let space = DartsSpace::new();
        let unknown = DARTS_V2.replacen("sep_conv_3x3", "sep_conv_9x9", 1);
        let error = space.parse(&unknown).unwrap_err().to_string();
        assert!(error.contains("sep_conv_9x9"), "{error}");
        let same_input = DARTS_V2.replacen("('sep_conv_3x3', 1)", "('sep_conv_3x3', 0)", 1);
        let error = space.parse(&same_input).unwrap_err().to_string();
        assert!(error.contains("normal node 2"), "{error}");
        let zero = DARTS_V2.replacen("'skip_connect', 0", "'none', 0", 1);
        let error = space.parse(&zero).unwrap_err().to_string();
        assert!(error.contains("non-zero"), "{error}");
        assert!(space.parse("|nor_conv_3x3~0|").is_err());
    }
}
