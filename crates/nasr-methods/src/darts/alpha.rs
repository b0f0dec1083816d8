//! The architecture parameters of DARTS and their optimiser. Alpha is small (one row per
//! edge, one column per op), so it lives as plain numbers between steps: Adam runs on them in
//! f64 and the state saves to JSON exactly, which makes a resumed search bit-identical.

use burn::tensor::{Tensor, TensorData};
use nasr_nn::train::optim::{Adam, AdamConfig};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Adam's settings for alpha (DARTS: lr 3e-4, betas (0.5, 0.999), weight decay 1e-3, the
/// defaults of [`AdamConfig`]).
pub type AlphaOptimizer = AdamConfig;

/// Alpha, `rows x ops` (row-major), with Adam's moments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alphas {
    /// Rows (edges).
    pub rows: usize,
    /// Columns (candidate ops).
    pub ops: usize,
    /// The values, row-major.
    pub values: Vec<f32>,
    /// Adam's moments (flattened, so the JSON keeps the keys `first_moment`, `second_moment`
    /// and `steps`).
    #[serde(flatten)]
    adam: Adam,
}

impl Alphas {
    /// DARTS' initialisation: 1e-3 times standard normal draws from `rng`.
    pub fn new(rows: usize, ops: usize, rng: &mut dyn RngCore) -> Self {
        let values = (0..rows * ops)
            .map(|_| (1e-3 * standard_normal(rng)) as f32)
            .collect();
        Self {
            rows,
            ops,
            values,
            adam: Adam::new(rows * ops),
        }
    }

    /// Alpha as a tensor on `device`.
    pub fn tensor(&self, device: &burn::tensor::Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.values.clone(), [self.rows, self.ops]),
            device,
        )
    }

    /// One Adam step along `grad` (shaped like alpha).
    pub fn step(&mut self, grad: Tensor<2>, adam: &AlphaOptimizer) {
        let grad: Vec<f32> = grad.into_data().try_to_vec().expect("f32 gradient");
        self.adam.step(&mut self.values, &grad, adam);
    }

    /// softmax(alpha) of each row.
    pub fn softmax(&self) -> Vec<Vec<f64>> {
        self.values
            .chunks(self.ops)
            .map(|row| {
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let exps: Vec<f64> = row.iter().map(|&a| f64::from(a - max).exp()).collect();
                let sum: f64 = exps.iter().sum();
                exps.into_iter().map(|e| e / sum).collect()
            })
            .collect()
    }
}

/// Entropy (nats) of a probability vector: ln(ops) when uniform, 0 when one-hot.
pub fn entropy(probabilities: &[f64]) -> f64 {
    -probabilities
        .iter()
        .filter(|&&p| p > 0.0)
        .map(|&p| p * p.ln())
        .sum::<f64>()
}

/// Index of the largest value; the first on ties.
pub fn argmax(values: &[f64]) -> usize {
    values
        .iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > values[best] { i } else { best })
}

/// A standard normal draw (Box-Muller), so that alpha's start depends only on the stream.
pub(crate) fn standard_normal(rng: &mut dyn RngCore) -> f64 {
    let uniform = |rng: &mut dyn RngCore| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let u1 = uniform(rng).max(f64::MIN_POSITIVE);
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
