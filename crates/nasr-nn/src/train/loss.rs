//! What a training step returns: its loss. Cross-entropy over one or more architectures' logits
//! is one such step; distillation and feature-map losses (DNA's [`feature_mse`]) are others,
//! used by the methods that need them, with the [`Trainer`](super::Trainer) or a loop of
//! their own.

use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Int, Tensor};

/// The loss of one training step, and what the epoch record reports of it.
pub struct StepLoss {
    /// The scalar the step's gradient is taken of.
    pub loss: Tensor<1>,
    /// The loss value the epoch record averages (for cross-entropy: per architecture, before
    /// any auxiliary term). A non-finite value stops the run as diverged.
    pub reported: f32,
    /// Correct predictions among [`StepLoss::predicted`], for the training accuracy.
    pub correct: usize,
    /// Predictions the step made (examples times architectures run; 0 where a step predicts
    /// no labels, such as a feature-map loss).
    pub predicted: usize,
}

/// The logits of every architecture a step runs (their losses are summed), and optionally an
/// auxiliary head's logits with the weight of its loss (DARTS' evaluation network: 0.4).
/// Training accuracy counts the architectures' logits only.
pub struct StepLogits {
    /// One per architecture.
    pub paths: Vec<Tensor<2>>,
    /// Auxiliary logits and their loss weight.
    pub auxiliary: Option<(Tensor<2>, f64)>,
}

impl From<Vec<Tensor<2>>> for StepLogits {
    fn from(paths: Vec<Tensor<2>>) -> Self {
        Self {
            paths,
            auxiliary: None,
        }
    }
}

/// Cross-entropy with optional label smoothing: the classification step.
pub struct CrossEntropy {
    loss: CrossEntropyLoss,
}

impl CrossEntropy {
    /// Cross-entropy smoothing labels by `label_smoothing` (0 disables it).
    pub fn new(label_smoothing: f32, device: &Device) -> Self {
        let smoothing = (label_smoothing > 0.0).then_some(label_smoothing);
        Self {
            loss: CrossEntropyLossConfig::new()
                .with_smoothing(smoothing)
                .init(device),
        }
    }

    /// The step's loss: the sum of every architecture's cross-entropy (so its gradient is the
    /// sum of their gradients), plus the weighted auxiliary loss. Reports the mean over
    /// architectures, so that figures compare across sampling schemes.
    ///
    /// # Panics
    /// If `logits` holds no architecture.
    pub fn step(&self, logits: StepLogits, labels: &Tensor<1, Int>) -> StepLoss {
        let paths = logits.paths.len();
        let mut correct = 0;
        let mut predicted = 0;
        let mut loss: Option<Tensor<1>> = None;
        for path_logits in logits.paths {
            let [batch, _] = path_logits.dims();
            correct += count_correct(path_logits.clone(), labels.clone());
            predicted += batch;
            let path_loss = self.loss.forward(path_logits, labels.clone());
            loss = Some(match loss {
                Some(sum) => sum + path_loss,
                None => path_loss,
            });
        }
        let mut loss = loss.expect("a step runs at least one architecture");
        let reported: f32 = loss.clone().into_scalar::<f32>() / paths as f32;
        if let Some((auxiliary, weight)) = logits.auxiliary {
            loss = loss
                + self
                    .loss
                    .forward(auxiliary, labels.clone())
                    .mul_scalar(weight);
        }
        StepLoss {
            loss,
            reported,
            correct,
            predicted,
        }
    }
}

/// Knowledge distillation as Once-for-All trains its sub-networks (its `kd_type = 'ce'`, at
/// temperature 1): per student, cross-entropy with label smoothing plus `weight` times the
/// cross-entropy against the teacher's softmax, `mean_batch(-sum_c softmax(t)_c log_softmax(s)_c)`.
/// The teacher's logits carry no gradient.
pub struct Distillation {
    labels: CrossEntropy,
    weight: f64,
}

impl Distillation {
    /// Label smoothing `label_smoothing` on the hard labels, the soft term weighted `weight`
    /// (OFA: 0.1 and 1.0).
    pub fn new(label_smoothing: f32, weight: f64, device: &Device) -> Self {
        Self {
            labels: CrossEntropy::new(label_smoothing, device),
            weight,
        }
    }

    /// The step's loss: the sum over students of their hard and soft terms (so its gradient is
    /// the sum of their gradients). Reports the mean over students of the whole loss.
    ///
    /// # Panics
    /// If `students` is empty.
    pub fn step(
        &self,
        students: Vec<Tensor<2>>,
        teacher: Tensor<2>,
        labels: &Tensor<1, Int>,
    ) -> StepLoss {
        let count = students.len();
        let soft = softmax(teacher.detach(), 1);
        let mut soft_loss: Option<Tensor<1>> = None;
        for student in &students {
            let [batch, _] = student.dims();
            let term = (soft.clone().neg() * log_softmax(student.clone(), 1))
                .sum()
                .div_scalar(batch as f64);
            soft_loss = Some(match soft_loss {
                Some(sum) => sum + term,
                None => term,
            });
        }
        let hard = self.labels.step(students.into(), labels);
        let loss = hard.loss
            + soft_loss
                .expect("a step runs at least one student")
                .mul_scalar(self.weight);
        let reported = loss.clone().into_scalar::<f32>() / count as f32;
        StepLoss {
            loss,
            reported,
            correct: hard.correct,
            predicted: hard.predicted,
        }
    }
}

/// Examples whose largest logit is at their label.
pub(crate) fn count_correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> usize {
    let [batch, _] = logits.dims();
    let predicted = logits.argmax(1).reshape([batch]);
    predicted.equal(labels).int().sum().into_scalar::<i64>() as usize
}

/// Mean squared error over every element of `student` and `teacher` (same shape): DNA's
/// block-training loss (a student block towards a teacher's features).
pub fn feature_mse(student: Tensor<4>, teacher: Tensor<4>) -> Tensor<1> {
    (student - teacher).square().mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;
    use nasr_space::SeedStreams;

    #[test]
    fn distillation_adds_the_soft_cross_entropy_to_the_smoothed_hard_one() {
        let device = crate::Compute::Cpu.train_device();
        let logits =
            |values: Vec<f32>| Tensor::<2>::from_data(TensorData::new(values, [2, 3]), &device);
        let student = logits(vec![1.0, 0.0, -1.0, 0.5, 0.5, 2.0]);
        let teacher = logits(vec![2.0, 1.0, 0.0, 0.0, 0.0, 3.0]);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2], [2]), &device);
        let step = Distillation::new(0.1, 1.0, &device).step(
            vec![student.clone()],
            teacher.clone(),
            &labels,
        );
        // By hand: softmax of the teacher against log-softmax of the student, per row.
        let soft = |row: [f32; 3], target: [f32; 3]| {
            let lse = |r: [f32; 3]| r.iter().map(|v| v.exp()).sum::<f32>().ln();
            let (ls, lt) = (lse(row), lse(target));
            -(0..3)
                .map(|c| (target[c] - lt).exp() * (row[c] - ls))
                .sum::<f32>()
        };
        let expected_soft = (soft([1.0, 0.0, -1.0], [2.0, 1.0, 0.0])
            + soft([0.5, 0.5, 2.0], [0.0, 0.0, 3.0]))
            / 2.0;
        let hard = CrossEntropy::new(0.1, &device)
            .step(vec![student].into(), &labels)
            .reported;
        assert!(
            (step.reported - (hard + expected_soft)).abs() < 1e-5,
            "{}",
            step.reported
        );
        assert_eq!((step.correct, step.predicted), (2, 2));
        // At weight 0 it is the smoothed cross-entropy alone.
        let plain = Distillation::new(0.1, 0.0, &device).step(
            vec![logits(vec![1.0, 0.0, -1.0, 0.5, 0.5, 2.0])],
            teacher,
            &labels,
        );
        assert!((plain.reported - hard).abs() < 1e-6);
    }

    fn normal_features(seed: u64) -> Tensor<4> {
        crate::init::normal_tensor(
            [2, 3, 4, 4],
            &mut SeedStreams::new(seed).stream("x"),
            &crate::Compute::Cpu.eval_device(),
        )
    }

    #[test]
    fn feature_mse_is_the_mean_squared_difference() {
        let (s, t) = (normal_features(3), normal_features(4));
        let expected: f32 = {
            let (a, b): (Vec<f32>, Vec<f32>) = (
                s.clone().into_data().try_to_vec().unwrap(),
                t.clone().into_data().try_to_vec().unwrap(),
            );
            a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum::<f32>() / a.len() as f32
        };
        let got = super::feature_mse(s, t).into_scalar::<f32>();
        assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
    }
}
