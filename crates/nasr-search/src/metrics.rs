use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Named measurements of one architecture (`accuracy`, `latency_ms`, ...), in a stable order.
pub type Metrics = BTreeMap<String, f64>;

/// What an evaluation produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// Metrics were measured.
    Complete(Metrics),
    /// The evaluation failed; the reason is kept for the record.
    Failed(String),
}

/// What a search optimises: one metric to maximise, and optional upper bounds on others.
///
/// An architecture that breaks a bound (or lacks a bounded metric) is infeasible: it is
/// recorded, but it never counts as the best, and strategies treat it as the worst score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    /// The metric to maximise.
    pub maximize: String,
    /// Upper bounds: `(metric, max)`, e.g. `("latency_ms", 5.0)`.
    pub bounds: Vec<(String, f64)>,
}

impl Goal {
    /// Maximise `metric` without constraints.
    pub fn maximize(metric: &str) -> Self {
        Self {
            maximize: metric.to_string(),
            bounds: Vec::new(),
        }
    }

    /// Adds the constraint `metric <= max`.
    pub fn with_bound(mut self, metric: &str, max: f64) -> Self {
        self.bounds.push((metric.to_string(), max));
        self
    }

    /// Whether `metrics` satisfy every bound.
    pub fn feasible(&self, metrics: &Metrics) -> bool {
        self.bounds
            .iter()
            .all(|(name, max)| metrics.get(name).is_some_and(|v| v <= max))
    }

    /// How far `metrics` break the bounds: the sum of each bound's relative excess
    /// (`(value - max) / |max|` where positive), 0 when feasible, `None` when a bounded metric
    /// is missing.
    pub fn violation(&self, metrics: &Metrics) -> Option<f64> {
        self.bounds
            .iter()
            .map(|(name, max)| {
                let value = metrics.get(name)?;
                Some(((value - max) / max.abs().max(f64::MIN_POSITIVE)).max(0.0))
            })
            .sum()
    }

    /// The score to maximise, or `None` when the metrics are infeasible or lack the objective.
    pub fn score(&self, metrics: &Metrics) -> Option<f64> {
        if self.feasible(metrics) {
            metrics.get(&self.maximize).copied()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_make_architectures_infeasible() {
        let goal = Goal::maximize("accuracy").with_bound("latency_ms", 5.0);
        let fast = Metrics::from([("accuracy".into(), 90.0), ("latency_ms".into(), 4.0)]);
        let slow = Metrics::from([("accuracy".into(), 94.0), ("latency_ms".into(), 6.0)]);
        assert_eq!(goal.score(&fast), Some(90.0));
        assert_eq!(goal.score(&slow), None);
        assert_eq!(
            goal.score(&Metrics::from([("accuracy".into(), 94.0)])),
            None
        );
    }
}
