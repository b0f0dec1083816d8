//! DNA's score of a student block against a teacher's features (Li et al., CVPR 2020; the
//! official code's `cl_loss`): `mean|S - T| / std(T)`, which compares across blocks of
//! different widths and scales.

use burn::tensor::Tensor;

/// DNA's score of one candidate, accumulated over validation batches: the mean absolute
/// difference between student and teacher features over every element seen, divided by the
/// standard deviation of the teacher's (population, over the same elements). Lower is better;
/// scaling both S and T by one factor leaves it unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeatureDistance {
    absolute: f64,
    teacher_sum: f64,
    teacher_squares: f64,
    count: f64,
}

impl FeatureDistance {
    /// Adds one batch of student and teacher features (same shape).
    pub fn add(&mut self, student: Tensor<4>, teacher: Tensor<4>) {
        let count = teacher.shape().num_elements() as f64;
        let scalar = |t: Tensor<1>| f64::from(t.into_scalar::<f32>());
        self.absolute += scalar((student - teacher.clone()).abs().sum());
        self.teacher_sum += scalar(teacher.clone().sum());
        self.teacher_squares += scalar(teacher.square().sum());
        self.count += count;
    }

    /// `mean|S - T| / std(T)`; infinite when the teacher's features are constant, NaN before
    /// any batch.
    pub fn score(&self) -> f64 {
        let mean = self.teacher_sum / self.count;
        let variance = (self.teacher_squares / self.count - mean * mean).max(0.0);
        (self.absolute / self.count) / variance.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nasr_space::SeedStreams;

    fn normal(seed: u64) -> Tensor<4> {
        crate::init::normal_tensor(
            [2, 3, 4, 4],
            &mut SeedStreams::new(seed).stream("x"),
            &crate::Compute::Cpu.eval_device(),
        )
    }

    /// A common scale of S and T leaves the score unchanged; a student closer to the teacher
    /// scores lower; a student equal to the teacher scores 0.
    #[test]
    fn the_score_is_invariant_to_a_common_scale() {
        let (s, t) = (normal(1), normal(2).mul_scalar(2.0).add_scalar(1.0));
        let score = |s: Tensor<4>, t: Tensor<4>| {
            let mut d = FeatureDistance::default();
            d.add(s, t);
            d.score()
        };
        let base = score(s.clone(), t.clone());
        for factor in [0.01, 3.0, 250.0] {
            let scaled = score(s.clone().mul_scalar(factor), t.clone().mul_scalar(factor));
            assert!(
                (scaled - base).abs() < 1e-4 * base,
                "{factor}: {scaled} vs {base}"
            );
        }
        let closer = t.clone().mul_scalar(0.9) + s.clone().mul_scalar(0.1);
        assert!(score(closer, t.clone()) < base);
        assert_eq!(score(t.clone(), t.clone()), 0.0);
        // Two batches accumulate as one batch of both.
        let mut two = FeatureDistance::default();
        two.add(s.clone(), t.clone());
        two.add(s.clone(), t.clone());
        assert!((two.score() - base).abs() < 1e-9 * base.max(1.0));
    }
}
