//! Successive halving with asynchronous promotions: ASHA (Li et al., MLSys 2020), and
//! asynchronous Hyperband as several ASHA brackets (the same paper, Section 3.3).
//!
//! Rung k trains for `min_epochs * eta^k` epochs (the last rung: `max_epochs`). Whenever a
//! trial is requested, the highest rung holding a finished, not yet promoted trial in the top
//! `1/eta` of that rung's finished trials promotes it: the same architecture is trained again,
//! from scratch, for the next rung's epochs. If nothing can be promoted, a new random
//! architecture starts at the bracket's lowest rung. Nothing waits for a rung to fill, so
//! workers never idle. Hyperband runs brackets that start at rung 0, 1, ..., each new
//! architecture going to the next bracket in turn.

use std::collections::{BTreeMap, BTreeSet};

use nasr_space::{Arch, Space};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use crate::{Fidelity, Policy, SearchError, TrialBook, TrialId};

/// ASHA / async Hyperband's policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Asha {
    eta: usize,
    /// Epochs of each rung, lowest first.
    rung_epochs: Vec<usize>,
    /// Lowest rung of each bracket (`[0]` for ASHA).
    bracket_starts: Vec<usize>,
    /// Bracket that the next new architecture joins.
    next_bracket: usize,
    /// Bracket and rung of every trial.
    placement: BTreeMap<TrialId, (usize, usize)>,
    /// Finished trials, indexed by bracket, then rung.
    finished: Vec<Vec<Vec<TrialId>>>,
    /// Trials already promoted out of their rung.
    promoted: BTreeSet<TrialId>,
}

impl Asha {
    /// The multi-fidelity policy named `name` (`asha` or `hyperband`): the one place a method
    /// turns a strategy name into an ASHA. Any other name is refused, naming the two.
    pub fn named(
        name: &str,
        min_epochs: usize,
        max_epochs: usize,
        eta: usize,
    ) -> Result<Self, SearchError> {
        match name {
            "asha" => Self::single_bracket(min_epochs, max_epochs, eta),
            "hyperband" => Self::hyperband(min_epochs, max_epochs, eta),
            other => Err(SearchError::Config {
                field: "strategy".into(),
                problem: format!("{other:?} is not multi-fidelity; use asha or hyperband"),
            }),
        }
    }

    /// ASHA: one bracket from `min_epochs` to `max_epochs`, reduction factor `eta`.
    pub fn single_bracket(
        min_epochs: usize,
        max_epochs: usize,
        eta: usize,
    ) -> Result<Self, SearchError> {
        Self::new(min_epochs, max_epochs, eta, 1)
    }

    /// Asynchronous Hyperband: one bracket per possible starting rung.
    pub fn hyperband(
        min_epochs: usize,
        max_epochs: usize,
        eta: usize,
    ) -> Result<Self, SearchError> {
        let rungs = Self::rungs(min_epochs, max_epochs, eta)?.len();
        Self::new(min_epochs, max_epochs, eta, rungs)
    }

    fn new(
        min_epochs: usize,
        max_epochs: usize,
        eta: usize,
        brackets: usize,
    ) -> Result<Self, SearchError> {
        let rung_epochs = Self::rungs(min_epochs, max_epochs, eta)?;
        let brackets = brackets.min(rung_epochs.len());
        Ok(Self {
            eta,
            bracket_starts: (0..brackets).collect(),
            finished: vec![vec![Vec::new(); rung_epochs.len()]; brackets],
            rung_epochs,
            next_bracket: 0,
            placement: BTreeMap::new(),
            promoted: BTreeSet::new(),
        })
    }

    /// `min, min*eta, min*eta^2, ...` below `max`, then `max`.
    fn rungs(min_epochs: usize, max_epochs: usize, eta: usize) -> Result<Vec<usize>, SearchError> {
        let bad = |field: &str, problem: String| {
            Err(SearchError::Config {
                field: field.into(),
                problem,
            })
        };
        if eta < 2 {
            return bad("eta", format!("must be at least 2, got {eta}"));
        }
        if min_epochs == 0 || min_epochs > max_epochs {
            return bad(
                "min_epochs",
                format!("must be in 1..={max_epochs} (max_epochs), got {min_epochs}"),
            );
        }
        let mut rungs = vec![min_epochs];
        while rungs[rungs.len() - 1] * eta < max_epochs {
            rungs.push(rungs[rungs.len() - 1] * eta);
        }
        if rungs[rungs.len() - 1] < max_epochs {
            rungs.push(max_epochs);
        }
        Ok(rungs)
    }

    /// Epochs of each rung.
    pub fn rung_epochs(&self) -> &[usize] {
        &self.rung_epochs
    }

    /// Architectures started (at a bracket's lowest rung) and how many of them never reached
    /// the top rung: those were stopped early.
    pub fn started_and_stopped_early(&self, book: &TrialBook) -> (usize, usize) {
        let top = self.rung_epochs.len() - 1;
        let started: Vec<&Arch> = self
            .placement
            .iter()
            .filter(|(_, (bracket, rung))| *rung == self.bracket_starts[*bracket])
            .filter_map(|(id, _)| book.get(*id).map(|r| &r.arch))
            .collect();
        let reached_top: BTreeSet<&Arch> = self
            .placement
            .iter()
            .filter(|(_, (_, rung))| *rung == top)
            .filter_map(|(id, _)| book.get(*id).map(|r| &r.arch))
            .collect();
        let stopped = started.iter().filter(|a| !reached_top.contains(*a)).count();
        (started.len(), stopped)
    }

    /// A finished trial of some rung below the top that is in its rung's top `1/eta` and not
    /// yet promoted, highest rung first; with its bracket and rung.
    fn promotable(&self, book: &TrialBook) -> Option<(TrialId, usize, usize)> {
        let score = |id: &TrialId| {
            book.get(*id)
                .and_then(|r| book.score(r))
                .unwrap_or(f64::NEG_INFINITY)
        };
        for rung in (0..self.rung_epochs.len() - 1).rev() {
            for bracket in 0..self.bracket_starts.len() {
                let mut ranked = self.finished[bracket][rung].clone();
                // Best first; among equals, the earlier trial.
                ranked.sort_by(|a, b| score(b).total_cmp(&score(a)).then(a.cmp(b)));
                let top = ranked.len() / self.eta;
                if let Some(&id) = ranked[..top]
                    .iter()
                    .find(|id| !self.promoted.contains(id) && score(id).is_finite())
                {
                    return Some((id, bracket, rung));
                }
            }
        }
        None
    }
}

impl Policy for Asha {
    const NAME: &'static str = "asha";

    fn propose(
        &mut self,
        space: &dyn Space,
        book: &TrialBook,
        rng: &mut ChaCha12Rng,
    ) -> (Arch, Fidelity) {
        let next_id = book.trials().len() as TrialId;
        if let Some((id, bracket, rung)) = self.promotable(book) {
            self.promoted.insert(id);
            self.placement.insert(next_id, (bracket, rung + 1));
            let arch = book
                .get(id)
                .expect("promoted trials are in the book")
                .arch
                .clone();
            return (arch, Fidelity::Epochs(self.rung_epochs[rung + 1]));
        }
        let bracket = self.next_bracket;
        self.next_bracket = (self.next_bracket + 1) % self.bracket_starts.len();
        let rung = self.bracket_starts[bracket];
        self.placement.insert(next_id, (bracket, rung));
        (space.sample(rng), Fidelity::Epochs(self.rung_epochs[rung]))
    }

    fn observe(&mut self, _book: &TrialBook, finished: TrialId) {
        if let Some(&(bracket, rung)) = self.placement.get(&finished) {
            self.finished[bracket][rung].push(finished);
        }
    }

    /// The trial asked again takes the stale trial's place in its bracket and rung, so that
    /// its result counts there (and a promotion lost with a dead worker still happens).
    fn asked_again(&mut self, old: TrialId, new: TrialId) {
        if let Some(&place) = self.placement.get(&old) {
            self.placement.insert(new, place);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Goal, Metrics, Outcome, Search, Strategy};

    fn accuracy(value: f64) -> Outcome {
        Outcome::Complete(Metrics::from([("accuracy".to_string(), value)]))
    }

    #[test]
    fn a_trial_asked_again_counts_in_the_stale_trials_rung() {
        let space = std::sync::Arc::new(nasr_space::Nb201Space::new());
        let policy = Asha::single_bracket(1, 2, 2).unwrap();
        let mut search = Search::new(space, Goal::maximize("accuracy"), policy, 5);
        let first = search.ask();
        let lost = search.ask();
        search.tell(first.id, accuracy(0.90)).unwrap();
        // The worker of `lost` dies; its architecture is asked again and does better.
        search.abandon(lost.id).unwrap();
        let again = search.ask_again(&lost);
        assert_eq!(
            (again.arch.clone(), again.fidelity),
            (lost.arch.clone(), Fidelity::Epochs(1))
        );
        search.tell(again.id, accuracy(0.95)).unwrap();
        // Two trials told at rung 0: the top half is the one asked again, promoted next.
        let promoted = search.ask();
        assert_eq!(promoted.fidelity, Fidelity::Epochs(2));
        assert_eq!(promoted.arch, lost.arch);
    }

    #[test]
    fn rungs_grow_by_eta_and_end_at_max() {
        assert_eq!(Asha::rungs(1, 9, 3).unwrap(), vec![1, 3, 9]);
        assert_eq!(Asha::rungs(1, 10, 3).unwrap(), vec![1, 3, 9, 10]);
        assert_eq!(Asha::rungs(2, 2, 2).unwrap(), vec![2]);
        assert!(Asha::rungs(0, 4, 2).is_err() && Asha::rungs(1, 4, 1).is_err());
        assert_eq!(
            Asha::hyperband(1, 4, 2).unwrap().bracket_starts,
            vec![0, 1, 2]
        );
    }
}
