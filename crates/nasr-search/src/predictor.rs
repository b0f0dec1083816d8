//! An accuracy predictor: a small multi-layer perceptron from an architecture's encoding to
//! its accuracy, fitted to measured pairs (Once-for-All's `AccuracyPredictor`: hidden layers
//! with ReLU, a linear output, plus a constant base at the mean target; Adam at 1e-3 on the
//! squared error).
//!
//! Plain Rust, no tensor library (this crate never touches tensors): the inputs are one-hot
//! encodings, so each layer skips the zero entries of its input, which makes a prediction a
//! few tens of thousands of multiply-adds and lets an evolution score 50,000 candidates in a
//! fraction of a second.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::SearchError;

/// How a predictor is built and fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PredictorConfig {
    /// Hidden layer widths (OFA: 400, 400, 400).
    pub hidden: Vec<usize>,
    /// Passes over the training pairs.
    pub epochs: usize,
    /// Pairs per Adam step.
    pub batch_size: usize,
    /// Adam's learning rate (OFA: 1e-3).
    pub lr: f64,
}

impl Default for PredictorConfig {
    /// Three hidden layers of 128, scaled from OFA's 400 so that the 50,000 predictions of one
    /// evolution fit in well under a second on a laptop CPU (at 400 they take ~10x as long).
    fn default() -> Self {
        Self {
            hidden: vec![128, 128, 128],
            epochs: 300,
            batch_size: 32,
            lr: 1e-3,
        }
    }
}

/// One fully connected layer, `weight[i * outputs + o]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Dense {
    inputs: usize,
    outputs: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Dense {
    /// PyTorch's `nn.Linear` draw: weights and biases uniform in +-1/sqrt(inputs).
    fn new(inputs: usize, outputs: usize, rng: &mut ChaCha12Rng) -> Self {
        let bound = 1.0 / (inputs as f32).sqrt();
        let mut draw = |n| (0..n).map(|_| rng.random_range(-bound..bound)).collect();
        Self {
            inputs,
            outputs,
            weight: draw(inputs * outputs),
            bias: draw(outputs),
        }
    }

    /// `x W + b` for one input, skipping its zero entries.
    fn forward(&self, x: &[f32]) -> Vec<f32> {
        let mut y = self.bias.clone();
        for (i, &xi) in x.iter().enumerate() {
            if xi != 0.0 {
                let row = &self.weight[i * self.outputs..(i + 1) * self.outputs];
                y.iter_mut().zip(row).for_each(|(y, w)| *y += xi * w);
            }
        }
        y
    }
}

/// A fitted accuracy predictor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpPredictor {
    layers: Vec<Dense>,
    /// Added to the network's output: the mean training target (OFA's `base_acc`).
    base: f64,
}

impl MlpPredictor {
    /// Fits a predictor of `targets` (accuracies in [0, 1]) from `inputs` (encodings of one
    /// length), drawing its weights and batches from `rng`.
    pub fn fit(
        inputs: &[Vec<f32>],
        targets: &[f64],
        config: &PredictorConfig,
        rng: &mut ChaCha12Rng,
    ) -> Result<Self, SearchError> {
        check_pairs(inputs, targets, config)?;
        let mut widths = vec![inputs[0].len()];
        widths.extend(&config.hidden);
        widths.push(1);
        let layers = widths
            .windows(2)
            .map(|w| Dense::new(w[0], w[1], rng))
            .collect();
        let base = targets.iter().sum::<f64>() / targets.len() as f64;
        let mut predictor = Self { layers, base };
        let mut adam = Adam::new(&predictor.layers, config.lr);
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        for _ in 0..config.epochs {
            order.shuffle(rng);
            for batch in order.chunks(config.batch_size) {
                let grads = predictor.gradients(inputs, targets, batch);
                adam.step(&mut predictor.layers, &grads);
            }
        }
        Ok(predictor)
    }

    /// The predicted accuracy of each of `inputs`.
    pub fn predict(&self, inputs: &[Vec<f32>]) -> Vec<f64> {
        inputs.iter().map(|x| self.predict_one(x)).collect()
    }

    fn predict_one(&self, x: &[f32]) -> f64 {
        let mut h = x.to_vec();
        for (index, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h);
            if index + 1 < self.layers.len() {
                h.iter_mut().for_each(|v| *v = v.max(0.0));
            }
        }
        h[0] as f64 + self.base
    }

    /// Gradients of the mean squared error over `batch` (indices into the pairs), one
    /// `(weight, bias)` pair per layer.
    fn gradients(
        &self,
        inputs: &[Vec<f32>],
        targets: &[f64],
        batch: &[usize],
    ) -> Vec<(Vec<f32>, Vec<f32>)> {
        let mut grads: Vec<(Vec<f32>, Vec<f32>)> = self
            .layers
            .iter()
            .map(|l| (vec![0.0; l.weight.len()], vec![0.0; l.bias.len()]))
            .collect();
        let scale = 2.0 / batch.len() as f32;
        for &index in batch {
            // Forward, keeping every layer's input (ReLU applied).
            let mut activations = vec![inputs[index].clone()];
            for (l, layer) in self.layers.iter().enumerate() {
                let mut h = layer.forward(activations.last().expect("an input"));
                if l + 1 < self.layers.len() {
                    h.iter_mut().for_each(|v| *v = v.max(0.0));
                }
                activations.push(h);
            }
            let prediction = activations.last().expect("an output")[0] as f64 + self.base;
            let mut delta = vec![scale * (prediction - targets[index]) as f32];
            for (l, layer) in self.layers.iter().enumerate().rev() {
                let x = &activations[l];
                let (dw, db) = &mut grads[l];
                db.iter_mut().zip(&delta).for_each(|(g, d)| *g += d);
                let mut dx = vec![0.0f32; layer.inputs];
                for (i, &xi) in x.iter().enumerate() {
                    let row = i * layer.outputs..(i + 1) * layer.outputs;
                    if xi != 0.0 {
                        dw[row.clone()]
                            .iter_mut()
                            .zip(&delta)
                            .for_each(|(g, d)| *g += xi * d);
                    }
                    dx[i] = layer.weight[row]
                        .iter()
                        .zip(&delta)
                        .map(|(w, d)| w * d)
                        .sum();
                }
                if l > 0 {
                    // Through the ReLU that made this layer's input.
                    dx.iter_mut()
                        .zip(x)
                        .for_each(|(g, &xi)| *g = if xi > 0.0 { *g } else { 0.0 });
                }
                delta = dx;
            }
        }
        grads
    }
}

fn check_pairs(
    inputs: &[Vec<f32>],
    targets: &[f64],
    config: &PredictorConfig,
) -> Result<(), SearchError> {
    let bad = |field: &str, problem: String| {
        Err(SearchError::Config {
            field: field.into(),
            problem,
        })
    };
    if inputs.len() < 2 || inputs.len() != targets.len() {
        return bad(
            "predictor pairs",
            format!(
                "need at least 2 (encoding, accuracy) pairs of equal count, got {} encodings \
                 and {} accuracies",
                inputs.len(),
                targets.len()
            ),
        );
    }
    if let Some(row) = inputs.iter().position(|x| x.len() != inputs[0].len()) {
        return bad(
            "predictor pairs",
            format!(
                "encoding {row} has {} entries, the first {}",
                inputs[row].len(),
                inputs[0].len()
            ),
        );
    }
    if let Some(t) = targets.iter().find(|t| !(0.0..=1.0).contains(*t)) {
        return bad(
            "predictor pairs",
            format!("accuracies lie in [0, 1]; got {t}"),
        );
    }
    if config.epochs == 0 || config.batch_size == 0 || config.hidden.contains(&0) {
        return bad(
            "predictor",
            "epochs, batch size and hidden widths must be at least 1".into(),
        );
    }
    Ok(())
}

/// Adam (beta 0.9, 0.999, eps 1e-8) over every layer's weights and biases.
struct Adam {
    lr: f64,
    t: i32,
    moments: Vec<[Vec<f32>; 4]>,
}

impl Adam {
    fn new(layers: &[Dense], lr: f64) -> Self {
        let zeros = |l: &Dense| {
            [
                vec![0.0; l.weight.len()],
                vec![0.0; l.weight.len()],
                vec![0.0; l.bias.len()],
                vec![0.0; l.bias.len()],
            ]
        };
        Self {
            lr,
            t: 0,
            moments: layers.iter().map(zeros).collect(),
        }
    }

    fn step(&mut self, layers: &mut [Dense], grads: &[(Vec<f32>, Vec<f32>)]) {
        self.t += 1;
        let (b1, b2) = (0.9f64, 0.999f64);
        let lr = (self.lr * (1.0 - b2.powi(self.t)).sqrt() / (1.0 - b1.powi(self.t))) as f32;
        let update = |values: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]| {
            for (((p, g), m), v) in values.iter_mut().zip(grad).zip(m).zip(v) {
                *m = 0.9 * *m + 0.1 * g;
                *v = 0.999 * *v + 0.001 * g * g;
                *p -= lr * *m / (v.sqrt() + 1e-8);
            }
        };
        for ((layer, (dw, db)), [mw, vw, mb, vb]) in
            layers.iter_mut().zip(grads).zip(&mut self.moments)
        {
            update(&mut layer.weight, dw, mw, vw);
            update(&mut layer.bias, db, mb, vb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A target the encoding determines: the predictor fits it and generalises to pairs it
    /// never saw, far better than the constant mean.
    #[test]
    fn the_predictor_learns_a_function_of_one_hot_encodings() {
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let weights: Vec<f64> = (0..12).map(|_| rng.random_range(0.0..0.05)).collect();
        let mut pair = || {
            let mut x = vec![0.0f32; 12];
            for group in 0..4 {
                x[group * 3 + rng.random_range(0..3)] = 1.0;
            }
            let t = 0.5
                + x.iter()
                    .zip(&weights)
                    .map(|(a, w)| *a as f64 * w)
                    .sum::<f64>();
            (x, t)
        };
        let (train_x, train_t): (Vec<_>, Vec<_>) = (0..200).map(|_| pair()).unzip();
        let (test_x, test_t): (Vec<_>, Vec<_>) = (0..50).map(|_| pair()).unzip();
        let config = PredictorConfig {
            hidden: vec![32, 32],
            epochs: 200,
            ..PredictorConfig::default()
        };
        let predictor = MlpPredictor::fit(&train_x, &train_t, &config, &mut rng).unwrap();
        let rmse = |p: &[f64], t: &[f64]| {
            (p.iter().zip(t).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / t.len() as f64).sqrt()
        };
        let mean = train_t.iter().sum::<f64>() / train_t.len() as f64;
        let constant = rmse(&vec![mean; test_t.len()], &test_t);
        let fitted = rmse(&predictor.predict(&test_x), &test_t);
        assert!(
            fitted < constant / 4.0,
            "rmse {fitted} vs mean's {constant}"
        );
    }

    #[test]
    fn bad_pairs_are_refused_by_name() {
        let mut rng = ChaCha12Rng::seed_from_u64(0);
        let config = PredictorConfig::default();
        let err = MlpPredictor::fit(&[vec![1.0], vec![0.0]], &[0.5, 1.5], &config, &mut rng)
            .unwrap_err()
            .to_string();
        assert!(err.contains("[0, 1]"), "{err}");
        let err = MlpPredictor::fit(&[vec![1.0], vec![0.0, 1.0]], &[0.5, 0.5], &config, &mut rng)
            .unwrap_err()
            .to_string();
        assert!(err.contains("encoding 1 has 2 entries"), "{err}");
    }
}
