//! FairNAS's strict fairness (Chu et al., ICCV 2021, Section 3.2): in every supernet step, m
//! architectures are drawn so that every option of every decision appears exactly once; their
//! gradients are accumulated and applied in one update. Uniform single-path sampling trains
//! every option equally only in expectation; strict fairness does so at every step.

use nasr_space::{Arch, Space};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::SearchError;

/// Draws the m architectures of one strictly fair step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrictFairSampler {
    options: usize,
    decisions: usize,
}

impl StrictFairSampler {
    /// A sampler for `space`. Every decision must have the same number m of options: nasr does
    /// not pad shorter decisions (repeating options would train them more than once per step,
    /// which is what strict fairness forbids), so a space that mixes sizes is an error.
    pub fn new(space: &dyn Space) -> Result<Self, SearchError> {
        let sizes: Vec<usize> = space.decisions().iter().map(|d| d.options.len()).collect();
        let options = sizes.iter().copied().max().unwrap_or(0);
        if let Some(decision) = space
            .decisions()
            .iter()
            .find(|d| d.options.len() != options)
        {
            return Err(SearchError::Config {
                field: "space".into(),
                problem: format!(
                    "strict fairness needs every decision to have the same number of options; {} has {}, others {options}",
                    decision.name,
                    decision.options.len()
                ),
            });
        }
        Ok(Self {
            options,
            decisions: sizes.len(),
        })
    }

    /// m, the number of architectures per step.
    pub fn architectures_per_step(&self) -> usize {
        self.options
    }

    /// The m architectures of one step: an independent random permutation of the options for
    /// each decision; architecture k takes the k-th entry of every permutation.
    pub fn sample(&self, rng: &mut dyn rand::RngCore) -> Vec<Arch> {
        let permutations: Vec<Vec<usize>> = (0..self.decisions)
            .map(|_| {
                let mut order: Vec<usize> = (0..self.options).collect();
                order.shuffle(rng);
                order
            })
            .collect();
        (0..self.options)
            .map(|k| Arch::new(permutations.iter().map(|p| p[k]).collect()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nasr_space::Nb201Space;
    use rand::SeedableRng;

    /// Two decisions of different sizes, as a MobileNet layer with an optional skip would have.
    struct Uneven(Vec<nasr_space::Decision>);

    impl Space for Uneven {
        fn name(&self) -> &str {
            "uneven"
        }
        fn decisions(&self) -> &[nasr_space::Decision] {
            &self.0
        }
        fn format(&self, arch: &Arch) -> String {
            format!("{:?}", arch.choices)
        }
        fn parse(&self, text: &str) -> Result<Arch, nasr_space::SpaceError> {
            Err(nasr_space::SpaceError::BadShape {
                input: text.into(),
                problem: "this test space has no string form".into(),
            })
        }
    }

    #[test]
    fn decisions_of_different_sizes_are_refused_by_name() {
        let decision = |name: &str, n: usize| nasr_space::Decision {
            name: name.into(),
            options: (0..n).map(|i| i.to_string()).collect(),
        };
        let space = Uneven(vec![decision("layer0", 6), decision("layer1", 7)]);
        let err = StrictFairSampler::new(&space).unwrap_err();
        assert!(err.to_string().contains("layer0 has 6"), "{err}");
    }

    #[test]
    fn every_option_of_every_decision_is_trained_exactly_once_per_step() {
        let space = Nb201Space::new();
        let sampler = StrictFairSampler::new(&space).unwrap();
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(0);
        let mut counts = vec![vec![0usize; 5]; 6];
        for step in 1..=37 {
            let archs = sampler.sample(&mut rng);
            assert_eq!(archs.len(), 5);
            for arch in &archs {
                space.check(arch).unwrap();
                for (decision, &option) in arch.choices.iter().enumerate() {
                    counts[decision][option] += 1;
                }
            }
            // The paper's claim, after any number of steps: all counts equal the step count.
            assert!(counts.iter().flatten().all(|&c| c == step), "{counts:?}");
        }
    }
}
