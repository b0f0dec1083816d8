use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::SpaceError;

/// One named categorical decision of a space, e.g. the op on edge `2<-1` of a cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Stable name of the decision, used in logs and encodings.
    pub name: String,
    /// The options, by name, in the space's canonical order.
    pub options: Vec<String>,
}

/// A point of a space: the chosen option index for each decision, in the space's decision order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Arch {
    /// Option index per decision.
    pub choices: Vec<usize>,
}

impl Arch {
    /// An architecture from its option indices.
    pub fn new(choices: Vec<usize>) -> Self {
        Self { choices }
    }

    /// The choices joined by `-` (`3-0-4-1`): the default [`Space::key`].
    pub fn choices_key(&self) -> String {
        let choices: Vec<String> = self.choices.iter().map(usize::to_string).collect();
        choices.join("-")
    }
}

/// What can be chosen: a product of named categorical decisions with a canonical string form.
///
/// Strategies work only through this trait, so they run on any space. Implementations provide
/// the decisions and the string form; sampling, mutation and checks come for free.
pub trait Space {
    /// Short name of the space (`nb201`, ...).
    fn name(&self) -> &str;

    /// The decisions, in the order of [`Arch::choices`].
    fn decisions(&self) -> &[Decision];

    /// The canonical string of an architecture (which must be in the space).
    fn format(&self, arch: &Arch) -> String;

    /// Parses a canonical string; the error names the offending token.
    fn parse(&self, text: &str) -> Result<Arch, SpaceError>;

    /// Checks that `arch` has one in-range choice per decision.
    fn check(&self, arch: &Arch) -> Result<(), SpaceError> {
        let decisions = self.decisions();
        let not_in_space = |problem: String| SpaceError::NotInSpace {
            space: self.name().to_string(),
            choices: arch.choices.clone(),
            problem,
        };
        if arch.choices.len() != decisions.len() {
            return Err(not_in_space(format!(
                "expected {} choices, got {}",
                decisions.len(),
                arch.choices.len()
            )));
        }
        for (decision, &choice) in decisions.iter().zip(&arch.choices) {
            if choice >= decision.options.len() {
                return Err(not_in_space(format!(
                    "decision {} has {} options, choice {choice} is out of range",
                    decision.name,
                    decision.options.len()
                )));
            }
        }
        Ok(())
    }

    /// A short name of `arch` that is safe as a file name, the same in every process: where a
    /// method keeps one folder per architecture. By default the architecture's choices joined
    /// by `-` (`3-0-4-1`); a space with a catalogue index names it by that.
    fn key(&self, arch: &Arch) -> String {
        arch.choices_key()
    }

    /// Number of architectures in the space.
    fn size(&self) -> usize {
        self.decisions().iter().map(|d| d.options.len()).product()
    }

    /// An architecture drawn uniformly at random.
    fn sample(&self, rng: &mut dyn rand::RngCore) -> Arch {
        let choices = self
            .decisions()
            .iter()
            .map(|d| rng.random_range(0..d.options.len()))
            .collect();
        Arch::new(choices)
    }

    /// A neighbour of `arch`: one decision, drawn uniformly, moved to a different option
    /// (the mutation of regularised evolution, Real et al. 2019). Decisions with a single option
    /// are never drawn; a space where every decision has one option returns `arch` unchanged.
    fn mutate(&self, arch: &Arch, rng: &mut dyn rand::RngCore) -> Arch {
        let mutable: Vec<usize> = (0..self.decisions().len())
            .filter(|&i| self.decisions()[i].options.len() > 1)
            .collect();
        let mut child = arch.clone();
        if mutable.is_empty() {
            return child;
        }
        let which = mutable[rng.random_range(0..mutable.len())];
        let options = self.decisions()[which].options.len();
        // Draw from the other options only, so the child always differs from its parent.
        let offset = rng.random_range(1..options);
        child.choices[which] = (arch.choices[which] + offset) % options;
        child
    }
}
