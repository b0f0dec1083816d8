//! ProxylessNAS's binary gates (Cai, Zhu and Han, ICLR 2019; its `two` mode and `full_v2`
//! gradients): per layer, architecture parameters alpha with p = softmax(alpha), and gates g
//! that switch exactly one candidate on.
//!
//! An architecture step draws two distinct candidates from p ([`GatePair::draw`]), the active
//! one from q = softmax of their two alphas, and runs the supernet in [`Gates`] mode: the
//! active candidate's output times its gate (value 1), plus the other's output times its gate
//! (value 0). The loss's gradient with respect to the gates is then `<o_j, dL/dy>` for both,
//! and [`alpha_gradient`] turns it into alpha's: `dL/dalpha_i = sum_j dL/dg_j q_j (delta_ij -
//! q_i)` over the pair. [`rescale_pair`] then shifts the two updated alphas so that the
//! candidates outside the pair keep their share of p.
//!
//! As `full_v2` does, only the active candidate keeps activations for the backward pass: the
//! other runs on the detached input and its output is detached, so it costs one output map per
//! layer, not its intermediate activations (`full_v2` recomputes that output in its backward;
//! here it is computed in the forward and kept, the same values).

use burn::tensor::Tensor;
use rand::RngCore;

/// One layer's gates in an architecture step: two distinct options and which is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatePair {
    /// The two options drawn from p without replacement, in the order drawn.
    pub options: [usize; 2],
    /// Which of `options` is active (0 or 1), drawn from q.
    pub active: usize,
}

impl GatePair {
    /// ProxylessNAS's `two`-mode draw for a layer of architecture parameters `alpha` (one per
    /// option, at least two): two distinct options from softmax(alpha), then the active one
    /// from the softmax of their two alphas.
    pub fn draw(alpha: &[f32], rng: &mut dyn RngCore) -> Self {
        assert!(alpha.len() >= 2, "a gated layer needs two options");
        let options = draw_two(&softmax(alpha), rng);
        let q = softmax(&[alpha[options[0]], alpha[options[1]]]);
        let active = draw(&q, rng);
        Self { options, active }
    }

    /// The active option.
    pub fn active_option(&self) -> usize {
        self.options[self.active]
    }

    /// The other option of the pair.
    pub fn inactive_option(&self) -> usize {
        self.options[1 - self.active]
    }

    /// q: the softmax of the pair's two alphas, in `options` order.
    pub fn probabilities(&self, alpha: &[f32]) -> [f64; 2] {
        let q = softmax(&[alpha[self.options[0]], alpha[self.options[1]]]);
        [q[0], q[1]]
    }

    /// The gate values in `options` order: 1 for the active option, 0 for the other.
    pub fn values(&self) -> [f32; 2] {
        let mut values = [0.0; 2];
        values[self.active] = 1.0;
        values
    }
}

/// The supernet's gates in an architecture step.
#[derive(Debug, Clone, Copy)]
pub struct Gates<'a> {
    /// One pair per layer, in the space's layer order.
    pub pairs: &'a [GatePair],
    /// `[layers, 2]`: each pair's [`GatePair::values`], as a tensor that records gradients, so
    /// that the loss's gradient with respect to it is `<o_j, dL/dy>`.
    pub values: &'a Tensor<2>,
}

/// softmax of `values`, in f64.
pub fn softmax(values: &[f32]) -> Vec<f64> {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = values.iter().map(|&a| f64::from(a - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// An index drawn from `probabilities` (which sum to 1), by one uniform draw from `rng`.
pub fn draw(probabilities: &[f64], rng: &mut dyn RngCore) -> usize {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut cumulative = 0.0;
    for (i, &p) in probabilities.iter().enumerate() {
        cumulative += p;
        if u < cumulative {
            return i;
        }
    }
    // Rounding can leave the sum a hair below u: the last option with any mass.
    probabilities
        .iter()
        .rposition(|&p| p > 0.0)
        .expect("a distribution with mass")
}

/// Two distinct indices drawn from `probabilities` without replacement (as
/// `torch.multinomial(p, 2, replacement=False)`): the first from p, the second from p with the
/// first removed.
pub fn draw_two(probabilities: &[f64], rng: &mut dyn RngCore) -> [usize; 2] {
    let first = draw(probabilities, rng);
    let rest = 1.0 - probabilities[first];
    let without: Vec<f64> = probabilities
        .iter()
        .enumerate()
        .map(|(i, &p)| if i == first { 0.0 } else { p / rest })
        .collect();
    [first, draw(&without, rng)]
}

/// The architecture gradient of binary gates: `dL/dalpha_i = sum_j dL/dg_j p_j (delta_ij -
/// p_i)`, for the probabilities `p` of the gated options (q over the pair in `two` mode) and
/// the gates' gradients, in the same order.
pub fn alpha_gradient(probabilities: &[f64], gate_gradients: &[f64]) -> Vec<f64> {
    assert_eq!(
        probabilities.len(),
        gate_gradients.len(),
        "one gate per option"
    );
    let weighted: f64 = probabilities
        .iter()
        .zip(gate_gradients)
        .map(|(p, g)| p * g)
        .sum();
    // sum_j g_j p_j (delta_ij - p_i) = p_i g_i - p_i sum_j g_j p_j.
    probabilities
        .iter()
        .zip(gate_gradients)
        .map(|(p, g)| p * g - p * weighted)
        .collect()
}

/// ProxylessNAS's rescale after an update of the pair's alphas from `old` to `new` (one
/// layer's values; only the pair's differ): both pair values are shifted by `log(sum_pair
/// exp(new) / sum_pair exp(old))`, so that the pair's total of exp(alpha), and with it every
/// other option's probability, is what it was before the step.
pub fn rescale_pair(old: &[f32], new: &mut [f32], pair: [usize; 2]) {
    let log_sum = |values: &[f32]| {
        let [a, b] = pair.map(|i| f64::from(values[i]));
        let max = a.max(b);
        max + ((a - max).exp() + (b - max).exp()).ln()
    };
    let offset = log_sum(new) - log_sum(old);
    for i in pair {
        new[i] = (f64::from(new[i]) - offset) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> rand_chacha::ChaCha12Rng {
        rand_chacha::ChaCha12Rng::seed_from_u64(seed)
    }

    #[test]
    fn two_mode_draws_two_distinct_options_one_hot_gates_and_an_active_one_in_the_pair() {
        let alpha = [0.3, -1.0, 2.0, 0.0, 0.5, -0.2, 1.1];
        let mut rng = rng(0);
        let mut counts = [0usize; 7];
        for _ in 0..4000 {
            let pair = GatePair::draw(&alpha, &mut rng);
            assert_ne!(pair.options[0], pair.options[1]);
            assert!(pair.options.iter().all(|&o| o < alpha.len()));
            assert_eq!(pair.values().iter().sum::<f32>(), 1.0);
            assert_eq!(pair.values()[pair.active], 1.0);
            assert!(pair.options.contains(&pair.active_option()));
            assert_ne!(pair.active_option(), pair.inactive_option());
            counts[pair.options[0]] += 1;
        }
        // The first draw follows p: the largest alpha is drawn most often.
        let p = softmax(&alpha);
        let most = (0..7).max_by_key(|&i| counts[i]).unwrap();
        assert_eq!(most, 2, "{counts:?} against p = {p:?}");
        let share = counts[2] as f64 / 4000.0;
        assert!((share - p[2]).abs() < 0.03, "{share} against {}", p[2]);
    }

    #[test]
    fn the_alpha_gradient_sums_to_zero_and_is_p_k_times_e_k_minus_p_for_a_unit_gate_gradient() {
        let p = softmax(&[0.1, 0.7, -0.4, 0.0]);
        let gradient = alpha_gradient(&p, &[0.3, -1.2, 2.5, 0.4]);
        assert!(gradient.iter().sum::<f64>().abs() < 1e-12, "{gradient:?}");
        for k in 0..4 {
            let unit: Vec<f64> = (0..4).map(|j| if j == k { 1.0 } else { 0.0 }).collect();
            let gradient = alpha_gradient(&p, &unit);
            for i in 0..4 {
                let expected = p[k] * (unit[i] - p[i]);
                assert!((gradient[i] - expected).abs() < 1e-12, "k {k} i {i}");
            }
        }
    }

    #[test]
    fn the_rescale_keeps_the_probability_mass_of_the_unsampled_options() {
        let old = [0.3f32, -1.0, 2.0, 0.0, 0.5, -0.2, 1.1];
        let mut new = old;
        let pair = [2, 5];
        new[2] += 0.37;
        new[5] -= 0.81;
        rescale_pair(&old, &mut new, pair);
        let (before, after) = (softmax(&old), softmax(&new));
        for i in (0..7).filter(|i| !pair.contains(i)) {
            assert!((before[i] - after[i]).abs() < 1e-6, "option {i}");
        }
        // The step itself survives: the pair's relative odds moved as updated.
        let odds = |p: &[f64]| (p[2] / p[5]).ln();
        assert!((odds(&after) - odds(&before) - (0.37 + 0.81)).abs() < 1e-5);
    }
}
