//! FTT-NAS's fault-tolerant training step (Ning et al.; aw_nas's FTT loss): the batch runs
//! once clean and once with the fault model injected into every convolution, and the loss is
//! `(1 - gamma) * CE_clean + gamma * CE_faulty`. Each step's faults come from its own named
//! stream (`faults/<epoch>/<step>`), so a resumed run draws the same faults.

use nasr_space::SeedStreams;
use serde::{Deserialize, Serialize};

use super::loss::{StepLogits, StepLoss};
use super::{Classifier, TrainStep};
use crate::NnError;
use crate::faults::{FaultInjector, FaultModel};

/// A fault model and the weight of the faulty loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultTolerance {
    /// The faults of the faulty forward.
    pub model: FaultModel,
    /// Weight of the faulty cross-entropy, in [0, 1] (aw_nas's final training: 0.7).
    pub gamma: f64,
}

impl FaultTolerance {
    /// Checks the fault model and gamma; the error names the field.
    pub fn validate(&self) -> Result<(), NnError> {
        self.model.validate()?;
        if !(0.0..=1.0).contains(&self.gamma) {
            return Err(NnError::Config {
                field: "fault gamma",
                problem: format!("must be in [0, 1], got {}", self.gamma),
            });
        }
        Ok(())
    }
}

/// The fault-tolerant step of a plain network, its faults drawn from `streams`. The reported
/// loss is the same mixture; the training accuracy counts the clean forward. At gamma 0 the
/// faulty forward is skipped, at gamma 1 the clean one only predicts.
pub fn fault_tolerant_step<M: Classifier>(
    model: &M,
    step: &TrainStep<'_>,
    tolerance: &FaultTolerance,
    streams: &SeedStreams,
) -> StepLoss {
    fault_tolerant_loss(step, tolerance, streams, &mut || {
        vec![model.forward(step.images.clone())].into()
    })
}

/// The fault-tolerant loss of any step's forward (`forward` runs once clean and once under
/// the step's faults): a supernet path, a DARTS network with its auxiliary head. As
/// [`fault_tolerant_step`].
pub fn fault_tolerant_loss(
    step: &TrainStep<'_>,
    tolerance: &FaultTolerance,
    streams: &SeedStreams,
    forward: &mut dyn FnMut() -> StepLogits,
) -> StepLoss {
    let clean = step.cross_entropy(forward());
    if tolerance.gamma == 0.0 {
        return clean;
    }
    let rng = streams.stream(&format!("faults/{}/{}", step.epoch, step.step));
    let (logits, _) = FaultInjector::new(tolerance.model, rng).run(forward);
    let faulty = step.cross_entropy(logits);
    let gamma = tolerance.gamma;
    StepLoss {
        loss: clean.loss.mul_scalar(1.0 - gamma) + faulty.loss.mul_scalar(gamma),
        reported: ((1.0 - gamma) * f64::from(clean.reported) + gamma * f64::from(faulty.reported))
            as f32,
        correct: clean.correct,
        predicted: clean.predicted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{FaultRate, FeatureFault};
    use crate::nets::nb201::Nb201NetworkConfig;
    use crate::train::loss::CrossEntropy;
    use burn::tensor::{Int, Tensor, TensorData};
    use nasr_space::Space;

    /// At gamma 0 the loss is the clean cross-entropy, at 1 the faulty one (the faults of the
    /// step's stream), and between them their mixture.
    #[test]
    fn the_loss_interpolates_between_clean_and_faulty() {
        let device = crate::Compute::Cpu.train_device();
        let space = nasr_space::Nb201Space::new();
        let arch = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|").unwrap();
        let network = Nb201NetworkConfig {
            channels: 4,
            cells: 1,
            in_channels: 1,
            classes: 3,
        };
        let model = crate::init::seeded(&mut SeedStreams::new(1).stream("init"), || {
            network.init(&arch, &device)
        })
        .unwrap();
        let images =
            crate::init::normal_tensor([4, 1, 8, 8], &mut SeedStreams::new(2).stream("x"), &device);
        let labels =
            Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 2, 1], [4]), &device);
        let classification = CrossEntropy::new(0.0, &device);
        let step = TrainStep {
            images,
            labels,
            epoch: 0,
            step: 3,
            lr: 0.1,
            classification: &classification,
        };
        let streams = SeedStreams::new(9);
        let model_faults = FaultModel {
            feature: Some(FeatureFault::Mibb {
                rate: FaultRate::PerElement(0.2),
            }),
            weight: None,
        };
        let loss = |gamma| {
            let tolerance = FaultTolerance {
                model: model_faults,
                gamma,
            };
            fault_tolerant_step(&model, &step, &tolerance, &streams).reported
        };
        let clean = step
            .cross_entropy(vec![model.forward(step.images.clone())].into())
            .reported;
        let (faulty_logits, injector) =
            FaultInjector::new(model_faults, streams.stream("faults/0/3"))
                .run(|| model.forward(step.images.clone()));
        assert!(injector.faulty_elements > 0);
        let faulty = step.cross_entropy(vec![faulty_logits].into()).reported;
        assert_ne!(clean, faulty);
        assert_eq!(loss(0.0), clean);
        assert!(
            (loss(1.0) - faulty).abs() < 1e-6,
            "{} vs {faulty}",
            loss(1.0)
        );
        assert!((loss(0.5) - (clean + faulty) / 2.0).abs() < 1e-6);
        let bad = FaultTolerance {
            model: model_faults,
            gamma: 1.5,
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("fault gamma must be in [0, 1]")
        );
    }
}
