//! REINFORCE (Williams 1992) with a factorised categorical policy, as NAS-Bench-201 runs it:
//! one softmax per decision, a moving-average baseline, Adam on the policy logits.
//!
//! For a sampled architecture `a` with reward `R` (the goal's score), the gradient of
//! `log pi(a)` for decision `d` is `onehot(a_d) - softmax(theta_d)`, and the logits ascend
//! `(R - b) * grad`. The baseline is `b <- decay * b + (1 - decay) * R`. Failed and infeasible
//! trials get the lowest reward seen so far, so the policy moves away from them without a
//! scale-dependent penalty.

use nasr_space::{Arch, Space};
use rand::Rng;
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::{Fidelity, Policy, SearchError, TrialBook, TrialId};

/// REINFORCE's policy and optimiser state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reinforce {
    learning_rate: f64,
    baseline_decay: f64,
    /// Logits per decision (created at the first proposal, from the space's shape).
    logits: Vec<Vec<f64>>,
    adam_m: Vec<Vec<f64>>,
    adam_v: Vec<Vec<f64>>,
    adam_t: u32,
    baseline: Option<f64>,
    lowest_reward: Option<f64>,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const ADAM_EPS: f64 = 1e-8;

impl Reinforce {
    /// Adam learning rate for the logits, and the baseline's moving-average decay.
    pub fn new(learning_rate: f64, baseline_decay: f64) -> Result<Self, SearchError> {
        if !(learning_rate > 0.0 && learning_rate.is_finite()) {
            return Err(SearchError::Config {
                field: "learning_rate".into(),
                problem: format!("must be positive, got {learning_rate}"),
            });
        }
        if !(0.0..1.0).contains(&baseline_decay) {
            return Err(SearchError::Config {
                field: "baseline_decay".into(),
                problem: format!("must be in [0, 1), got {baseline_decay}"),
            });
        }
        Ok(Self {
            learning_rate,
            baseline_decay,
            logits: Vec::new(),
            adam_m: Vec::new(),
            adam_v: Vec::new(),
            adam_t: 0,
            baseline: None,
            lowest_reward: None,
        })
    }

    /// The policy's probabilities per decision.
    pub fn probabilities(&self) -> Vec<Vec<f64>> {
        self.logits.iter().map(|l| softmax(l)).collect()
    }

    fn ensure_shape(&mut self, space: &dyn Space) {
        if self.logits.is_empty() {
            let zeros: Vec<Vec<f64>> = space
                .decisions()
                .iter()
                .map(|d| vec![0.0; d.options.len()])
                .collect();
            self.logits = zeros.clone();
            self.adam_m = zeros.clone();
            self.adam_v = zeros;
        }
    }

    /// One Adam ascent step on `advantage * grad log pi(arch)`.
    fn update(&mut self, arch: &Arch, advantage: f64) {
        self.adam_t += 1;
        let t = i32::try_from(self.adam_t).unwrap_or(i32::MAX);
        let (correction1, correction2) = (1.0 - BETA1.powi(t), 1.0 - BETA2.powi(t));
        for (d, &choice) in arch.choices.iter().enumerate() {
            let probabilities = softmax(&self.logits[d]);
            for (k, p) in probabilities.iter().enumerate() {
                let grad = advantage * (f64::from(u8::from(k == choice)) - p);
                let m = &mut self.adam_m[d][k];
                let v = &mut self.adam_v[d][k];
                *m = BETA1 * *m + (1.0 - BETA1) * grad;
                *v = BETA2 * *v + (1.0 - BETA2) * grad * grad;
                let step = self.learning_rate * (*m / correction1)
                    / ((*v / correction2).sqrt() + ADAM_EPS);
                self.logits[d][k] += step;
            }
        }
    }
}

fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

impl Policy for Reinforce {
    const NAME: &'static str = "reinforce";

    fn propose(
        &mut self,
        space: &dyn Space,
        _book: &TrialBook,
        rng: &mut ChaCha12Rng,
    ) -> (Arch, Fidelity) {
        self.ensure_shape(space);
        let choices = self
            .logits
            .iter()
            .map(|logits| {
                let probabilities = softmax(logits);
                let mut u: f64 = rng.random();
                for (k, p) in probabilities.iter().enumerate() {
                    if u < *p {
                        return k;
                    }
                    u -= p;
                }
                probabilities.len() - 1
            })
            .collect();
        (Arch::new(choices), Fidelity::Full)
    }

    fn observe(&mut self, book: &TrialBook, finished: TrialId) {
        let Some(record) = book.get(finished) else {
            return;
        };
        if self.logits.len() != record.arch.choices.len() {
            return;
        }
        let reward = match book.score(record) {
            Some(score) => {
                self.lowest_reward = Some(self.lowest_reward.map_or(score, |low| low.min(score)));
                score
            }
            None => match self.lowest_reward {
                Some(low) => low,
                None => return,
            },
        };
        let baseline = *self.baseline.get_or_insert(reward);
        self.update(&record.arch, reward - baseline);
        self.baseline = Some(self.baseline_decay * baseline + (1.0 - self.baseline_decay) * reward);
    }
}
