//! A study shared by worker processes: the claim, heartbeat and finish steps, written once
//! over the few row operations each backend gives ([`StudyRows`]). Backends: a PostgreSQL
//! database ([`super::PostgresStore`]), for workers on many machines, and an SQLite file
//! ([`super::SqliteStudy`]), for worker processes on one.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use crate::store::Store;
use crate::{Outcome, SearchError, Strategy, Trial, TrialId, TrialRecord, TrialState};

/// What became of a worker's tell.
#[derive(Debug, Clone, PartialEq)]
pub enum Told {
    /// Recorded: the trial as it now stands.
    Recorded(TrialRecord),
    /// Refused: the trial is no longer this worker's (it went stale and was asked again, or
    /// was told already). Nothing was written.
    Refused(TrialId),
}

/// What a claim gives a worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// A trial to evaluate.
    Trial(Trial),
    /// Nothing to ask now, but trials are running elsewhere: one may yet go stale.
    Wait,
    /// Every trial is asked and none is running: the study is finished.
    Done,
}

/// When a trial was asked and told, and by which worker: seconds since the Unix epoch by the
/// database's clock (PostgreSQL's server; SQLite's writing process).
#[derive(Debug, Clone, PartialEq)]
pub struct TrialTimes {
    /// The trial.
    pub id: TrialId,
    /// When it was asked.
    pub asked: f64,
    /// When it was told (complete or failed), if it was.
    pub told: Option<f64>,
    /// The worker that claimed it (none for a trial recorded by a single-process search).
    pub worker: Option<String>,
}

/// A study's strategy state and trials, read together.
#[derive(Debug, Clone, PartialEq)]
pub struct StudySnapshot {
    /// The strategy state, absent before the first step.
    pub state: Option<serde_json::Value>,
    /// Every trial, in id order.
    pub trials: Vec<TrialRecord>,
}

/// A study many worker processes share: each step (claim, tell) is one transaction under the
/// study's lock that loads the strategy's state and trials, applies the step to the strategy
/// and writes it back, so asks form one sequence whoever asks.
///
/// Guarantees, beyond [`Store`]'s, for many processes:
/// - **One holder.** A claimed trial is recorded with its worker; no other claim returns it.
/// - **Durable tells.** When [`SharedStudy::finish`] returns [`Told::Recorded`], the outcome
///   and the strategy state after it are committed and synced.
/// - **Readers** (another connection, `nasr study status`) see the study after some complete
///   step.
/// - **Dead workers.** A running trial whose heartbeat is older than the timeout becomes
///   [`TrialState::Stale`] at the next claim, and its architecture is asked again under a new
///   id (before any new proposal); the dead worker's late tell is [`Told::Refused`].
pub trait SharedStudy: Store + Send + Sync {
    /// Claims the next trial for `worker`: marks trials whose heartbeat is older than
    /// `timeout` stale, then asks a stale trial's architecture again or, while fewer than
    /// `queries` trials are asked (stale ones not counted), a new one. `strategy` is fresh or
    /// left over from an earlier step; it is loaded from the study first.
    fn claim(
        &self,
        strategy: &mut dyn Strategy,
        worker: &str,
        queries: usize,
        timeout: Duration,
    ) -> Result<Claim, SearchError>;

    /// Says that `worker` is still evaluating trial `id`; false when the trial is no longer
    /// its (stale, or told).
    fn heartbeat(&self, id: TrialId, worker: &str) -> Result<bool, SearchError>;

    /// Tells the outcome of trial `id`, which `worker` claimed. Refused, writing nothing, when
    /// the trial is no longer the worker's.
    fn finish(
        &self,
        strategy: &mut dyn Strategy,
        worker: &str,
        id: TrialId,
        outcome: Outcome,
    ) -> Result<Told, SearchError>;

    /// Gives up trial `id`, which `worker` holds and will not tell (it was asked to stop):
    /// the trial is stale at once, and the next claim asks its architecture again. False when
    /// the trial is no longer the worker's.
    fn release(&self, id: TrialId, worker: &str) -> Result<bool, SearchError>;

    /// The strategy state and every trial as one step left them (read under the study's
    /// lock): what `nasr study status` and `export` read, while workers go on.
    fn snapshot(&self) -> Result<StudySnapshot, SearchError>;

    /// When every trial was asked and told, in id order.
    fn timeline(&self) -> Result<Vec<TrialTimes>, SearchError>;

    /// Where the study lives (`postgresql://...` with its password redacted, `sqlite:PATH`).
    fn location(&self) -> &str;

    /// The study's name.
    fn name(&self) -> &str;
}

/// Why a step failed: the database (`E`, retried where it says so), or the strategy (a state
/// that does not load, a tell it refuses), which is not retried.
pub(super) enum StepError<E> {
    /// The database.
    Db(E),
    /// The strategy or a corrupt row.
    Search(SearchError),
}

impl<E> From<SearchError> for StepError<E> {
    fn from(e: SearchError) -> Self {
        Self::Search(e)
    }
}

/// The row operations of one step, inside a transaction that holds the study's lock.
pub(super) trait StudyRows {
    /// The backend's error.
    type Error;
    /// Marks running trials without a heartbeat for `timeout` stale.
    fn mark_stale(&mut self, timeout: Duration) -> Result<(), StepError<Self::Error>>;
    /// The strategy state and every trial.
    fn load(&mut self) -> Result<StudySnapshot, StepError<Self::Error>>;
    /// The oldest stale trial not yet asked again.
    fn next_redo(&mut self) -> Result<Option<TrialId>, StepError<Self::Error>>;
    /// Inserts a trial just claimed by `worker` (its heartbeat now), asked again for `redo_of`.
    fn insert_claimed(
        &mut self,
        record: &TrialRecord,
        worker: &str,
        redo_of: Option<TrialId>,
    ) -> Result<(), StepError<Self::Error>>;
    /// Whether trial `id` is running and held by `worker`.
    fn holds(&mut self, id: TrialId, worker: &str) -> Result<bool, StepError<Self::Error>>;
    /// Marks trial `id`, running and held by `worker`, stale; whether it was.
    fn release(&mut self, id: TrialId, worker: &str) -> Result<bool, StepError<Self::Error>>;
    /// Writes the heartbeat of trial `id`, running and held by `worker`; whether it was.
    fn beat(&mut self, id: TrialId, worker: &str) -> Result<bool, StepError<Self::Error>>;
    /// Writes `record`'s row, a new trial or one told (with when it was told); a claimed
    /// trial's worker, heartbeat and `redo_of` are left as they are.
    fn upsert_trial(&mut self, record: &TrialRecord) -> Result<(), StepError<Self::Error>>;
    /// Stores `value` under `key` in the study's meta.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StepError<Self::Error>>;
    /// Writes the strategy state.
    fn write_state(&mut self, state: &serde_json::Value) -> Result<(), StepError<Self::Error>>;
}

/// The rows of one step, whatever the backend.
pub(super) type Rows<'a, E> = dyn StudyRows<Error = E> + 'a;

/// A step on a study's rows.
pub(super) type Step<'a, E> = &'a dyn Fn(&mut Rows<'_, E>) -> Result<(), StepError<E>>;

/// What a database gives for a [`SharedStudy`]: steps run in one transaction each, tried
/// again where the database says a retry may succeed (PostgreSQL: a serialization failure, a
/// deadlock, a dropped connection; SQLite: the file's lock held past the busy timeout); the
/// protocol itself is written once, over its rows.
pub(super) trait StudyBackend: Store + Send + Sync {
    /// The backend's error.
    type Error;
    /// Runs `step` holding the study's lock, so that it orders with every other locked step.
    fn locked(&self, step: Step<'_, Self::Error>) -> Result<(), SearchError>;
    /// Runs `step`, a write of one row that orders with nothing else (a heartbeat), with no
    /// more locking than the backend needs.
    fn unlocked(&self, step: Step<'_, Self::Error>) -> Result<(), SearchError>;
    /// [`SharedStudy::timeline`].
    fn timeline(&self) -> Result<Vec<TrialTimes>, SearchError>;
    /// [`SharedStudy::location`].
    fn location(&self) -> &str;
    /// [`SharedStudy::name`].
    fn name(&self) -> &str;
}

impl<B: StudyBackend> SharedStudy for B {
    fn claim(
        &self,
        strategy: &mut dyn Strategy,
        worker: &str,
        queries: usize,
        timeout: Duration,
    ) -> Result<Claim, SearchError> {
        let claimed = RefCell::new(Claim::Done);
        let before = Snapshot::of(strategy);
        let strategy = RefCell::new(strategy);
        self.locked(&|rows| {
            let mut strategy = strategy.borrow_mut();
            *claimed.borrow_mut() = claim_step(rows, *strategy, &before, worker, queries, timeout)?;
            Ok(())
        })?;
        Ok(claimed.into_inner())
    }

    fn heartbeat(&self, id: TrialId, worker: &str) -> Result<bool, SearchError> {
        let beaten = Cell::new(false);
        self.unlocked(&|rows| {
            beaten.set(rows.beat(id, worker)?);
            Ok(())
        })?;
        Ok(beaten.get())
    }

    fn finish(
        &self,
        strategy: &mut dyn Strategy,
        worker: &str,
        id: TrialId,
        outcome: Outcome,
    ) -> Result<Told, SearchError> {
        let told = RefCell::new(Told::Refused(id));
        let before = Snapshot::of(strategy);
        let strategy = RefCell::new(strategy);
        self.locked(&|rows| {
            let mut strategy = strategy.borrow_mut();
            // A retried attempt tells the same outcome again. (Where the connection dropped
            // during a commit that the server made, the retry finds the trial told and says
            // Refused: the outcome is recorded all the same.)
            *told.borrow_mut() = finish_step(rows, *strategy, &before, worker, id, &outcome)?;
            Ok(())
        })?;
        Ok(told.into_inner())
    }

    fn release(&self, id: TrialId, worker: &str) -> Result<bool, SearchError> {
        let released = Cell::new(false);
        self.locked(&|rows| {
            released.set(rows.release(id, worker)?);
            Ok(())
        })?;
        Ok(released.get())
    }

    fn snapshot(&self) -> Result<StudySnapshot, SearchError> {
        let snapshot = RefCell::new(None);
        self.locked(&|rows| {
            *snapshot.borrow_mut() = Some(rows.load()?);
            Ok(())
        })?;
        Ok(snapshot.into_inner().expect("the step ran"))
    }

    fn timeline(&self) -> Result<Vec<TrialTimes>, SearchError> {
        StudyBackend::timeline(self)
    }

    fn location(&self) -> &str {
        StudyBackend::location(self)
    }

    fn name(&self) -> &str {
        StudyBackend::name(self)
    }
}

/// [`Store::record_ask`] and [`Store::record_tell`] on `runner`'s study: `record` and the
/// strategy `state` in one locked step.
pub(super) fn record<R: StudyBackend>(
    runner: &R,
    record: &TrialRecord,
    state: &serde_json::Value,
) -> Result<(), SearchError> {
    runner.locked(&|rows| {
        rows.upsert_trial(record)?;
        rows.write_state(state)
    })
}

/// [`Store::set_meta`] on `runner`'s study.
pub(super) fn set_meta<R: StudyBackend>(
    runner: &R,
    key: &str,
    value: &str,
) -> Result<(), SearchError> {
    runner.locked(&|rows| rows.set_meta(key, value))
}

/// A fresh strategy's state, taken before a step, to start each attempt of the study's first
/// step from (later steps start from the study's own state).
struct Snapshot(Option<serde_json::Value>);

impl Snapshot {
    /// The state of `strategy` if it is fresh (no trials): only a fresh strategy can meet a
    /// study without a state. Taken only then, since a state is the policy's whole size.
    fn of(strategy: &dyn Strategy) -> Self {
        Self(
            strategy
                .book()
                .trials()
                .is_empty()
                .then(|| strategy.state()),
        )
    }
}

/// Loads the study's state into `strategy`, or, before the study's first step, the fresh
/// state `before`: an attempt that failed after the strategy asked must not leave its ask
/// behind for the retry.
fn load_study<E>(
    strategy: &mut dyn Strategy,
    loaded: StudySnapshot,
    before: &Snapshot,
) -> Result<(), StepError<E>> {
    match (loaded.state, &before.0) {
        (Some(state), _) => strategy.load_state(state, loaded.trials)?,
        (None, Some(fresh)) => strategy.load_state(fresh.clone(), Vec::new())?,
        (None, None) => {
            return Err(StepError::Search(SearchError::State(
                "the study has no strategy state, but this worker's strategy has trials: \
                 was the study deleted and made again under it?"
                    .into(),
            )));
        }
    }
    Ok(())
}

/// A claim on `rows`: stale trials marked, the study loaded into `strategy`, a trial asked.
fn claim_step<E>(
    rows: &mut Rows<'_, E>,
    strategy: &mut dyn Strategy,
    before: &Snapshot,
    worker: &str,
    queries: usize,
    timeout: Duration,
) -> Result<Claim, StepError<E>> {
    // The trials of dead workers go stale; the book loaded next sees them so.
    rows.mark_stale(timeout)?;
    let loaded = rows.load()?;
    let asked = loaded
        .trials
        .iter()
        .filter(|t| t.state != TrialState::Stale)
        .count();
    let running = loaded.trials.iter().any(|t| t.state == TrialState::Running);
    let redo = match rows.next_redo()? {
        Some(id) => {
            let old = loaded.trials.iter().find(|t| t.id == id).ok_or_else(|| {
                SearchError::State(format!("stale trial {id} is not among the loaded trials"))
            })?;
            Some(Trial {
                id: old.id,
                arch: old.arch.clone(),
                fidelity: old.fidelity,
            })
        }
        None => None,
    };
    load_study(strategy, loaded, before)?;
    let (trial, redo_of) = match redo {
        Some(old) => (strategy.ask_again(&old), Some(old.id)),
        None if asked < queries => (strategy.ask(), None),
        None if running => return Ok(Claim::Wait),
        None => return Ok(Claim::Done),
    };
    rows.insert_claimed(&TrialRecord::running(&trial), worker, redo_of)?;
    rows.write_state(&strategy.state())?;
    Ok(Claim::Trial(trial))
}

/// A tell on `rows`: refused unless `worker` holds trial `id`; else the study loaded into
/// `strategy`, told, and written back.
fn finish_step<E>(
    rows: &mut Rows<'_, E>,
    strategy: &mut dyn Strategy,
    before: &Snapshot,
    worker: &str,
    id: TrialId,
    outcome: &Outcome,
) -> Result<Told, StepError<E>> {
    if !rows.holds(id, worker)? {
        return Ok(Told::Refused(id));
    }
    let loaded = rows.load()?;
    load_study(strategy, loaded, before)?;
    strategy.tell(id, outcome.clone())?;
    let record = strategy.book().get(id).expect("told").clone();
    rows.upsert_trial(&record)?;
    rows.write_state(&strategy.state())?;
    Ok(Told::Recorded(record))
}

/// A trial as the text columns both backends store (JSON, as the run folder's store writes
/// them): `arch, fidelity, state, metrics`.
pub(super) struct TrialColumns {
    /// The trial's id.
    pub id: i64,
    /// JSON of the architecture.
    pub arch: String,
    /// JSON of the fidelity.
    pub fidelity: String,
    /// JSON of the state.
    pub state: String,
    /// JSON of the metrics.
    pub metrics: String,
    /// Why it failed.
    pub error: Option<String>,
}

impl TrialColumns {
    /// The columns of `record`.
    pub fn of(record: &TrialRecord) -> Self {
        Self {
            id: record.id as i64,
            arch: to_json(&record.arch),
            fidelity: to_json(&record.fidelity),
            state: to_json(&record.state),
            metrics: to_json(&record.metrics),
            error: record.error.clone(),
        }
    }

    /// The record these columns hold.
    pub fn record(self) -> Result<TrialRecord, SearchError> {
        self.decode().map_err(SearchError::State)
    }

    /// The record these columns hold, or what is corrupt in them.
    pub fn decode(self) -> Result<TrialRecord, String> {
        let corrupt = |e: serde_json::Error| format!("corrupt row of trial {}: {e}", self.id);
        Ok(TrialRecord {
            id: self.id as u64,
            arch: serde_json::from_str(&self.arch).map_err(corrupt)?,
            fidelity: serde_json::from_str(&self.fidelity).map_err(corrupt)?,
            state: serde_json::from_str(&self.state).map_err(corrupt)?,
            metrics: serde_json::from_str(&self.metrics).map_err(corrupt)?,
            error: self.error,
        })
    }
}

/// Where a study that already existed records other values than `create` was given: the
/// reason to refuse loading it, naming the first key that differs.
pub(super) fn differing_meta(
    study: &dyn Store,
    meta: &[(&str, &str)],
) -> Result<Option<String>, SearchError> {
    for (key, value) in meta {
        if let Some(stored) = study.meta(key)?
            && stored != *value
        {
            return Ok(Some(format!(
                "the study exists with another {key} ({stored}); give it another name, or \
                 delete it"
            )));
        }
    }
    Ok(None)
}

/// JSON of a trial state, as the `state` column holds it.
pub(super) fn state_json(state: TrialState) -> String {
    to_json(&state)
}

/// A stored strategy state, parsed.
pub(super) fn parse_state(text: Option<String>) -> Result<Option<serde_json::Value>, SearchError> {
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| SearchError::State(format!("corrupt strategy state: {e}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("store values serialise")
}
