//! Random search: every architecture drawn uniformly from the space (the baseline every NAS
//! method is compared with; Li & Talwalkar 2019).

use nasr_space::{Arch, Space};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::{Fidelity, Policy, TrialBook, TrialId};

/// Uniform sampling, with replacement.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RandomSearch;

impl Policy for RandomSearch {
    const NAME: &'static str = "rs";

    fn propose(
        &mut self,
        space: &dyn Space,
        _book: &TrialBook,
        rng: &mut ChaCha12Rng,
    ) -> (Arch, Fidelity) {
        (space.sample(rng), Fidelity::Full)
    }

    fn observe(&mut self, _book: &TrialBook, _finished: TrialId) {}
}

/// Uniform sampling without replacement: a draw already in the book is drawn again, so every
/// trial evaluates a new architecture (random search with weight sharing ranks K distinct
/// ones). Once the book holds the whole space, draws repeat.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DistinctRandomSearch;

impl Policy for DistinctRandomSearch {
    const NAME: &'static str = "rs-distinct";

    fn propose(
        &mut self,
        space: &dyn Space,
        book: &TrialBook,
        rng: &mut ChaCha12Rng,
    ) -> (Arch, Fidelity) {
        let seen: std::collections::BTreeSet<&Arch> =
            book.trials().iter().map(|trial| &trial.arch).collect();
        // Every architecture drawn already: sampling is uniform over the space, so a draw repeats.
        let exhausted = seen.len() >= space.size();
        loop {
            let arch = space.sample(rng);
            if exhausted || !seen.contains(&arch) {
                return (arch, Fidelity::Full);
            }
        }
    }

    fn observe(&mut self, _book: &TrialBook, _finished: TrialId) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Evaluator, Goal, Metrics, Search, SearchError, Strategy};
    use nasr_space::Decision;
    use std::sync::Arc;

    /// Two decisions of 3 and 2 options: 6 architectures.
    struct Six(Vec<Decision>);

    impl Space for Six {
        fn name(&self) -> &str {
            "six"
        }
        fn decisions(&self) -> &[Decision] {
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

    struct Constant;

    impl Evaluator for Constant {
        fn evaluate(&mut self, _arch: &Arch, _fidelity: Fidelity) -> Result<Metrics, SearchError> {
            Ok(Metrics::from([("accuracy".to_string(), 0.5)]))
        }
    }

    fn six() -> Arc<dyn Space + Send + Sync> {
        let decision = |name: &str, n: usize| Decision {
            name: name.into(),
            options: (0..n).map(|i| i.to_string()).collect(),
        };
        Arc::new(Six(vec![decision("a", 3), decision("b", 2)]))
    }

    #[test]
    fn distinct_random_search_draws_every_architecture_once_before_repeating() {
        let mut search = Search::new(six(), Goal::maximize("accuracy"), DistinctRandomSearch, 3);
        crate::store::drive(&mut search, Constant, None, 6, &mut |_| {}).unwrap();
        let mut archs: Vec<Arch> = search
            .book()
            .trials()
            .iter()
            .map(|t| t.arch.clone())
            .collect();
        archs.sort();
        archs.dedup();
        assert_eq!(archs.len(), 6, "six trials on a six-architecture space");
        // With replacement, six draws from six would repeat for this seed.
        let mut plain = Search::new(six(), Goal::maximize("accuracy"), RandomSearch, 3);
        crate::store::drive(&mut plain, Constant, None, 6, &mut |_| {}).unwrap();
        let mut drawn: Vec<Arch> = plain
            .book()
            .trials()
            .iter()
            .map(|t| t.arch.clone())
            .collect();
        drawn.sort();
        drawn.dedup();
        assert!(
            drawn.len() < 6,
            "seed 3 must draw a repeat with replacement"
        );
    }
}
