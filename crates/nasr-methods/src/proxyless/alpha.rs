//! ProxylessNAS's architecture parameters: one vector of alpha per layer (layers that offer
//! skip have one more option), each with its own Adam state, as ProxylessNAS keeps one
//! parameter per mixed edge: a layer that takes no step (its active candidate was Zero) leaves
//! its moments and step count alone. Plain numbers between steps, saved to JSON exactly, so a
//! resumed search is bit-identical.

use nasr_nn::supernet::GatePair;
use nasr_nn::supernet::gated::{rescale_pair, softmax};
use nasr_nn::train::optim::{Adam, AdamConfig};
use nasr_space::Arch;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::darts::alpha::standard_normal;

/// Alpha of every layer, with Adam's moments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerAlphas {
    /// `values[layer][option]`, in the space's option order.
    pub values: Vec<Vec<f32>>,
    /// One Adam state per layer.
    adam: Vec<Adam>,
}

impl LayerAlphas {
    /// ProxylessNAS's initialisation: 1e-3 times standard normal draws from `rng`, for layers
    /// of `options[layer]` options.
    pub fn new(options: &[usize], rng: &mut dyn RngCore) -> Self {
        Self {
            values: options
                .iter()
                .map(|&n| {
                    (0..n)
                        .map(|_| (1e-3 * standard_normal(rng)) as f32)
                        .collect()
                })
                .collect(),
            adam: options.iter().map(|&n| Adam::new(n)).collect(),
        }
    }

    /// softmax(alpha) of every layer.
    pub fn probabilities(&self) -> Vec<Vec<f64>> {
        self.values.iter().map(|row| softmax(row)).collect()
    }

    /// ProxylessNAS's derived network: the most probable option of every layer (the first on
    /// ties).
    pub fn derive(&self) -> Arch {
        Arch::new(
            self.values
                .iter()
                .map(|row| {
                    crate::darts::argmax(&row.iter().map(|&a| f64::from(a)).collect::<Vec<_>>())
                })
                .collect(),
        )
    }

    /// One `two`-mode update of `layer`: Adam along `gradient` on the pair (zero on the other
    /// options, which Adam with beta1 = 0 and no weight decay leaves where they are), then the
    /// rescale that keeps the other options' probabilities.
    pub fn step_pair(
        &mut self,
        layer: usize,
        pair: &GatePair,
        gradient: [f64; 2],
        adam: &AdamConfig,
    ) {
        let row = &mut self.values[layer];
        let old = row.clone();
        let mut full = vec![0f32; row.len()];
        for (slot, &option) in pair.options.iter().enumerate() {
            full[option] = gradient[slot] as f32;
        }
        self.adam[layer].step(row, &full, adam);
        rescale_pair(&old, row, pair.options);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_pair_step_moves_the_pair_and_keeps_the_others_probabilities() {
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(0);
        let mut alphas = LayerAlphas::new(&[6, 7], &mut rng);
        let adam = AdamConfig {
            lr: 0.1,
            beta1: 0.0,
            beta2: 0.999,
            weight_decay: 0.0,
            eps: 1e-8,
        };
        let pair = GatePair {
            options: [4, 1],
            active: 0,
        };
        let before = alphas.probabilities();
        // A negative gradient on option 4 raises it against option 1.
        alphas.step_pair(1, &pair, [-0.5, 0.5], &adam);
        let after = alphas.probabilities();
        assert_eq!(before[0], after[0], "another layer is untouched");
        for option in [0, 2, 3, 5, 6] {
            assert!((before[1][option] - after[1][option]).abs() < 1e-6);
        }
        assert!(after[1][4] > before[1][4] && after[1][1] < before[1][1]);
        assert_eq!(alphas.derive().choices[1], 4);
    }
}
