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
