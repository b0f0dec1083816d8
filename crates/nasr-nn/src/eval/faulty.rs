//! Accuracy under faults (FTT-NAS): a network's, or any evaluator's, accuracy with a fault
//! model injected into every convolution, averaged over R independent draws, and FTT-NAS's
//! reward `(1 - alpha) * acc_clean + alpha * acc_faulty`.

use nasr_data::{Dataset, Normalization};
use nasr_search::{Evaluator, Fidelity, Metrics, SearchError};
use nasr_space::{Arch, SeedStreams};
use serde::{Deserialize, Serialize};

use crate::faults::{FaultInjector, FaultModel};
use crate::train::Classifier;

/// Accuracy over fault draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultyAccuracy {
    /// Each draw's accuracy, in [0, 1].
    pub draws: Vec<f64>,
    /// Their mean.
    pub mean: f64,
    /// Their standard deviation (n - 1; 0 for one draw).
    pub sd: f64,
}

impl FaultyAccuracy {
    fn of(draws: Vec<f64>) -> Self {
        let n = draws.len() as f64;
        let mean = draws.iter().sum::<f64>() / n;
        let sd = if draws.len() > 1 {
            (draws.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Self { draws, mean, sd }
    }
}

/// FTT-NAS's reward: `(1 - alpha) * clean + alpha * faulty` (aw_nas: alpha 0.5 under MiBB, 0.2
/// under adSAF).
pub fn ftt_reward(clean: f64, faulty: f64, alpha: f64) -> f64 {
    (1.0 - alpha) * clean + alpha * faulty
}

/// The test-time accuracy of `model` on `dataset` under `faults`, for each of `draws` draws
/// from streams `<name>/<draw>` of `streams`.
pub fn faulty_accuracy<M: Classifier>(
    model: &M,
    data: (&Dataset, &Normalization),
    batch_size: usize,
    device: &burn::tensor::Device,
    faults: FaultModel,
    draws: usize,
    streams: (&SeedStreams, &str),
) -> FaultyAccuracy {
    let (dataset, normalization) = data;
    let (streams, name) = streams;
    let accuracies = (0..draws.max(1))
        .map(|draw| {
            let injector = FaultInjector::new(faults, streams.stream(&format!("{name}/{draw}")));
            injector
                .run(|| super::evaluate(model, dataset, normalization, batch_size, device))
                .0
        })
        .collect();
    FaultyAccuracy::of(accuracies)
}

/// `Faulty<E>`: an evaluator's metrics with its accuracy measured again under a fault model
/// over `draws` draws (streams `faults/<arch>/<draw>`, so an architecture's faults depend only
/// on the seed and the architecture): metrics `accuracy_clean`, `accuracy_faulty` (the mean),
/// `accuracy_faulty_sd`, and `accuracy` := the reward, which the strategy maximises. Every
/// forward of the faulty evaluations runs under faults, BatchNorm recalibration included.
pub struct Faulty<E> {
    inner: E,
    faults: FaultModel,
    draws: usize,
    alpha: f64,
    streams: SeedStreams,
}

impl<E: Evaluator> Faulty<E> {
    /// `inner` under `faults`, `draws` draws per architecture, reward weight `alpha`.
    pub fn new(
        inner: E,
        faults: FaultModel,
        draws: usize,
        alpha: f64,
        streams: SeedStreams,
    ) -> Self {
        Self {
            inner,
            faults,
            draws: draws.max(1),
            alpha,
            streams,
        }
    }
}

impl<E: Evaluator> Evaluator for Faulty<E> {
    fn evaluate(&mut self, arch: &Arch, fidelity: Fidelity) -> Result<Metrics, SearchError> {
        let mut metrics = self.inner.evaluate(arch, fidelity)?;
        let clean = accuracy(&metrics)?;
        let mut faulty = Vec::with_capacity(self.draws);
        let name: Vec<String> = arch.choices.iter().map(usize::to_string).collect();
        for draw in 0..self.draws {
            let rng = self
                .streams
                .stream(&format!("faults/{}/{draw}", name.join("-")));
            let inner = &mut self.inner;
            let (result, _) =
                FaultInjector::new(self.faults, rng).run(|| inner.evaluate(arch, fidelity));
            faulty.push(accuracy(&result?)?);
        }
        let faulty = FaultyAccuracy::of(faulty);
        metrics.insert("accuracy_clean".into(), clean);
        metrics.insert("accuracy_faulty".into(), faulty.mean);
        metrics.insert("accuracy_faulty_sd".into(), faulty.sd);
        metrics.insert(
            "accuracy".into(),
            ftt_reward(clean, faulty.mean, self.alpha),
        );
        Ok(metrics)
    }
}

fn accuracy(metrics: &Metrics) -> Result<f64, SearchError> {
    metrics
        .get("accuracy")
        .copied()
        .ok_or_else(|| SearchError::Config {
            field: "evaluator".into(),
            problem: "reports no accuracy, so Faulty has nothing to measure under faults".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{FaultRate, FeatureFault};
    use burn::tensor::Tensor;

    /// An evaluator whose accuracy is the fraction of one convolution's 400 outputs that equal
    /// their clean values: 1 clean, about 1 - p under MiBB at rate p.
    struct OneConv {
        conv: nasr_kernels::Conv2d,
        x: Tensor<4>,
        clean: Vec<f32>,
    }

    impl OneConv {
        fn new() -> Self {
            let device = crate::Compute::Cpu.eval_device();
            let conv: nasr_kernels::Conv2d = burn::nn::conv::Conv2dConfig::new([1, 4], [1, 1])
                .init(&device)
                .into();
            let x = crate::init::normal_tensor(
                [1, 1, 10, 10],
                &mut SeedStreams::new(1).stream("x"),
                &device,
            );
            let clean = conv
                .forward(x.clone())
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            Self { conv, x, clean }
        }
    }

    impl Evaluator for OneConv {
        fn evaluate(&mut self, _: &Arch, _: Fidelity) -> Result<Metrics, SearchError> {
            let y = self
                .conv
                .forward(self.x.clone())
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            let same = y.iter().zip(&self.clean).filter(|(a, b)| a == b).count();
            Ok(Metrics::from([(
                "accuracy".to_string(),
                same as f64 / y.len() as f64,
            )]))
        }
    }

    fn mibb(p: f64) -> FaultModel {
        FaultModel {
            feature: Some(FeatureFault::Mibb {
                rate: FaultRate::PerElement(p),
            }),
            weight: None,
        }
    }

    /// The reward is the clean accuracy at alpha 0 and the faulty one at 1; faulty accuracy
    /// falls by about the fault rate, repeats for the same seed, and equals clean at rate 0.
    #[test]
    fn faulty_measures_under_faults_and_the_reward_interpolates() {
        let arch = Arch::new(vec![0]);
        let run = |p, alpha| {
            Faulty::new(OneConv::new(), mibb(p), 5, alpha, SeedStreams::new(3))
                .evaluate(&arch, Fidelity::Full)
                .unwrap()
        };
        let m = run(0.3, 0.5);
        assert_eq!(m["accuracy_clean"], 1.0);
        let faulty = m["accuracy_faulty"];
        // 5 draws of 400 elements at p = 0.3 (a fault clamped back to its value counts clean).
        assert!((faulty - 0.7).abs() < 0.05, "{faulty}");
        assert!(m["accuracy_faulty_sd"] > 0.0);
        assert!((m["accuracy"] - (1.0 + faulty) / 2.0).abs() < 1e-12);
        assert_eq!(run(0.3, 0.0)["accuracy"], 1.0);
        assert_eq!(run(0.3, 1.0)["accuracy"], faulty);
        assert_eq!(run(0.3, 0.5), m);
        assert_eq!(run(0.0, 0.5)["accuracy_faulty"], 1.0);
        assert!((ftt_reward(0.8, 0.4, 0.25) - 0.7).abs() < 1e-12);
    }
}
