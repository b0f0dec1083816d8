//! A stateless worker on a shared study: claim a trial, evaluate it while a second
//! connection beats its heartbeat, tell it; again until the study is finished, this worker's
//! `max_trials` are done, or it is asked to stop. Everything it needs is in the study, so any
//! number of workers on any machines can start and die at any time.
//!
//! Asked to stop between trials, a worker returns; asked while it evaluates a trial, it
//! releases the trial (stale at once, so another worker takes it up without waiting for the
//! timeout) and says so through `on_release`, which may end the process there rather than
//! wait for an evaluation whose result would be refused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use crate::store::{Claim, SharedStudy, Told};
use crate::{Evaluator, Outcome, SearchError, Strategy, TrialId};

/// How long a worker with nothing to claim first waits before it asks again; the wait doubles
/// up to the heartbeat interval. Short, because the trial it waits for (the study's last, on
/// another worker) may be told in a moment; growing, so that idle workers do not load the
/// study many times a second while a long training runs.
const FIRST_WAIT: Duration = Duration::from_millis(10);

/// Sleeps for `duration`, waking early when `stop` is set.
fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) {
    let slice = Duration::from_millis(50);
    let mut slept = Duration::ZERO;
    while slept < duration && !stop.load(Ordering::SeqCst) {
        let now = slice.min(duration - slept);
        std::thread::sleep(now);
        slept += now;
    }
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Its name in the study (unique among live workers: host and process id, say).
    pub name: String,
    /// The trials the study completes.
    pub queries: usize,
    /// Stop after this many trials of this worker's.
    pub max_trials: Option<usize>,
    /// How often the heartbeat is written while a trial is evaluated.
    pub heartbeat: Duration,
    /// How long a running trial may go without a heartbeat before it is stale.
    pub timeout: Duration,
}

/// What a worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Trials it evaluated and told.
    pub told: usize,
    /// Tells refused because the trial had gone stale meanwhile.
    pub refused: usize,
    /// The trial it released when asked to stop, if it was evaluating one.
    pub released: Option<TrialId>,
}

/// Runs a worker on `store`'s study; `beat` is a second connection to it, for the heartbeat.
/// `strategy` is the study's strategy, built from its config (its state comes from the study).
/// Returns when the study is finished, `max_trials` are done, or `stop` is set. `on_release`
/// is called (on the heartbeat thread) with the trial released when `stop` is set during its
/// evaluation.
pub fn run_worker(
    store: &dyn SharedStudy,
    beat: &dyn SharedStudy,
    strategy: &mut dyn Strategy,
    evaluator: &mut dyn Evaluator,
    config: &WorkerConfig,
    stop: &AtomicBool,
    on_release: &(dyn Fn(TrialId) + Sync),
) -> Result<WorkerReport, SearchError> {
    let mut report = WorkerReport::default();
    let mut wait = FIRST_WAIT;
    while !stop.load(Ordering::SeqCst)
        && config
            .max_trials
            .is_none_or(|max| report.told + report.refused < max)
    {
        let trial = match store.claim(strategy, &config.name, config.queries, config.timeout)? {
            Claim::Trial(trial) => trial,
            Claim::Wait => {
                sleep_unless_stopped(wait, stop);
                wait = (wait * 2).min(config.heartbeat);
                continue;
            }
            Claim::Done => break,
        };
        wait = FIRST_WAIT;
        let (outcome, released) =
            evaluate_beating(beat, evaluator, &trial, config, stop, on_release);
        if released {
            report.released = Some(trial.id);
            break;
        }
        match store.finish(strategy, &config.name, trial.id, outcome)? {
            Told::Recorded(_) => report.told += 1,
            Told::Refused(_) => report.refused += 1,
        }
    }
    Ok(report)
}

/// The outcome of `trial`, with its heartbeat written every `config.heartbeat` meanwhile, and
/// whether the trial was released because `stop` was set during the evaluation.
fn evaluate_beating(
    beat: &dyn SharedStudy,
    evaluator: &mut dyn Evaluator,
    trial: &crate::Trial,
    config: &WorkerConfig,
    stop: &AtomicBool,
    on_release: &(dyn Fn(TrialId) + Sync),
) -> (Outcome, bool) {
    // Dropping `done` wakes the heartbeat thread at once: a fast evaluation (a table lookup)
    // never waits for the thread's next tick.
    let (done, finished) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let beating = scope.spawn(move || -> bool {
            let tick = Duration::from_millis(20).min(config.heartbeat);
            let mut waited = Duration::ZERO;
            let mut release_tried = false;
            while let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(tick) {
                // Tried once: a release that fails (the database out of reach) leaves the
                // trial held, and the evaluation goes on to be told, as between trials.
                if stop.load(Ordering::SeqCst) && !release_tried {
                    release_tried = true;
                    if matches!(beat.release(trial.id, &config.name), Ok(true)) {
                        on_release(trial.id);
                        return true;
                    }
                }
                waited += tick;
                if waited >= config.heartbeat {
                    waited = Duration::ZERO;
                    // A heartbeat that fails is tried again at the next interval; if the
                    // database stays out of reach past the timeout, the trial goes stale and
                    // its tell is refused, which is the protocol's answer to a lost worker.
                    let _ = beat.heartbeat(trial.id, &config.name);
                }
            }
            false
        });
        let outcome = match evaluator.evaluate(&trial.arch, trial.fidelity) {
            Ok(metrics) => Outcome::Complete(metrics),
            Err(error) => Outcome::Failed(error.to_string()),
        };
        drop(done);
        let released = beating.join().expect("the heartbeat thread does not panic");
        (outcome, released)
    })
}
