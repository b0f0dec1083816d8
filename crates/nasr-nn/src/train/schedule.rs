//! Learning-rate schedules.

use serde::{Deserialize, Serialize};

/// Cosine annealing per step (Loshchilov & Hutter 2017, without restarts), as NAS-Bench-201
/// and DARTS train: `lr_t = lr_min + (lr_max - lr_min) * (1 + cos(pi * t / T)) / 2`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CosineSchedule {
    /// Learning rate at step 0.
    pub lr_max: f64,
    /// Learning rate reached at the last step.
    pub lr_min: f64,
    /// Total number of steps T.
    pub total_steps: usize,
}

impl CosineSchedule {
    /// The learning rate at `step` (clamped to the last step).
    pub fn lr(&self, step: usize) -> f64 {
        if self.total_steps <= 1 {
            return self.lr_max;
        }
        let progress = step.min(self.total_steps - 1) as f64 / (self.total_steps - 1) as f64;
        self.lr_min
            + (self.lr_max - self.lr_min) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_max_ends_at_min_and_halves_in_the_middle() {
        let s = CosineSchedule {
            lr_max: 0.1,
            lr_min: 0.0,
            total_steps: 101,
        };
        assert!((s.lr(0) - 0.1).abs() < 1e-12);
        assert!((s.lr(50) - 0.05).abs() < 1e-12);
        assert!(s.lr(100).abs() < 1e-12);
        assert!(s.lr(30) > s.lr(31));
    }
}
