//! What a training step returns: its loss. Cross-entropy over one or more architectures' logits
//! is one such step; distillation and feature-map losses are others, written by the method that
//! needs them and handed to the same [`Trainer`](super::Trainer).

use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
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

/// Examples whose largest logit is at their label.
pub(crate) fn count_correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> usize {
    let [batch, _] = logits.dims();
    let predicted = logits.argmax(1).reshape([batch]);
    predicted.equal(labels).int().sum().into_scalar::<i64>() as usize
}
