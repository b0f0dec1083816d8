//! Weight-sharing evaluation: an architecture's score is the validation accuracy of its path
//! through a trained supernet, after BatchNorm has been recalibrated along that path.

use nasr_data::{Dataset, Normalization};
use nasr_search::{CostModel, Evaluator, Fidelity, Metrics, SearchError};
use nasr_space::{Arch, SeedStreams, Space};

use crate::supernet::{PathSupernet, RecalBatches, path_accuracy, recalibrate_bn};

/// Where a [`SupernetEvaluator`] recalibrates and validates.
#[derive(Debug, Clone, Copy)]
pub struct PathData<'a> {
    /// The training split: BatchNorm statistics are recomputed on its batches.
    pub train: &'a Dataset,
    /// The validation split: the score is the accuracy on it.
    pub valid: &'a Dataset,
    /// Normalisation of every batch.
    pub normalization: &'a Normalization,
}

/// How a [`SupernetEvaluator`] recalibrates and validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathEvaluation {
    /// Examples per recalibration batch (the training batch size).
    pub batch_size: usize,
    /// Training batches BatchNorm statistics are recomputed from.
    pub recal_batches: usize,
    /// Examples per validation batch.
    pub eval_batch_size: usize,
    /// Where to compute.
    pub compute: crate::Compute,
}

/// Scores supernet paths: metric `accuracy` (validation accuracy in [0, 1] after BN
/// recalibration) and, given a cost model, `flops`, `params` and `latency_ms` (those it
/// knows).
///
/// The recalibration batches of an architecture come from stream `recal/<arch>` of the run
/// seed: they depend only on the seed and the architecture, so evaluating an architecture twice
/// gives the same number, whatever was evaluated before.
pub struct SupernetEvaluator<'a, S> {
    supernet: &'a S,
    space: &'a (dyn Space + Sync),
    data: PathData<'a>,
    settings: PathEvaluation,
    streams: SeedStreams,
    costs: Option<&'a (dyn CostModel + Sync)>,
}

impl<'a, S: PathSupernet> SupernetEvaluator<'a, S> {
    /// An evaluator of paths of `supernet` (a supernet of `space`) for the run of `streams`.
    pub fn new(
        supernet: &'a S,
        space: &'a (dyn Space + Sync),
        data: PathData<'a>,
        settings: PathEvaluation,
        streams: SeedStreams,
    ) -> Self {
        Self {
            supernet,
            space,
            data,
            settings,
            streams,
            costs: None,
        }
    }

    /// Also report the `flops`, `params` and `latency_ms` that `costs` gives.
    pub fn with_costs(mut self, costs: &'a (dyn CostModel + Sync)) -> Self {
        self.costs = Some(costs);
        self
    }

    /// The validation accuracy of path `arch` after BN recalibration, in [0, 1].
    pub fn accuracy(&self, arch: &Arch) -> f64 {
        let stream = format!("recal/{}", self.space.format(arch));
        let recalibrated = recalibrate_bn(
            self.supernet.clone(),
            arch,
            RecalBatches {
                dataset: self.data.train,
                normalization: self.data.normalization,
                batch_size: self.settings.batch_size,
                batches: self.settings.recal_batches,
            },
            &mut self.streams.stream(&stream),
            &self.settings.compute.train_device(),
        );
        path_accuracy(
            &recalibrated,
            arch,
            self.data.valid,
            self.data.normalization,
            self.settings.eval_batch_size,
            &self.settings.compute.eval_device(),
        )
    }
}

impl<S: PathSupernet> Evaluator for SupernetEvaluator<'_, S> {
    fn evaluate(&mut self, arch: &Arch, _fidelity: Fidelity) -> Result<Metrics, SearchError> {
        let mut metrics = Metrics::from([("accuracy".to_string(), self.accuracy(arch))]);
        if let Some(costs) = self.costs {
            let cost = costs.cost(arch);
            if let Some(flops) = cost.flops {
                metrics.insert("flops".into(), flops as f64);
            }
            if let Some(params) = cost.params {
                metrics.insert("params".into(), params as f64);
            }
            if let Some(latency) = cost.latency_ms {
                metrics.insert("latency_ms".into(), latency);
            }
        }
        Ok(metrics)
    }
}
