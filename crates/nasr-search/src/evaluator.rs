use nasr_space::Arch;
use serde::{Deserialize, Serialize};

use crate::{Metrics, SearchError};

/// How much effort an evaluation may spend: the full budget, or a fraction of it (epochs for a
/// trained evaluator; tabular evaluators ignore it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Fidelity {
    /// The evaluator's full budget.
    Full,
    /// This many epochs.
    Epochs(usize),
}

impl Fidelity {
    /// Orders fidelities: more epochs rank higher, and the full budget highest of all.
    pub fn rank(self) -> usize {
        match self {
            Self::Full => usize::MAX,
            Self::Epochs(epochs) => epochs,
        }
    }
}

/// How good an architecture is: an architecture and a fidelity in, named metrics out.
pub trait Evaluator {
    /// Evaluates `arch`. A failed evaluation is an error, which a search records as a failed trial.
    fn evaluate(&mut self, arch: &Arch, fidelity: Fidelity) -> Result<Metrics, SearchError>;
}

impl<E: Evaluator + ?Sized> Evaluator for &mut E {
    fn evaluate(&mut self, arch: &Arch, fidelity: Fidelity) -> Result<Metrics, SearchError> {
        (**self).evaluate(arch, fidelity)
    }
}
