//! The ask/tell rules hold for every strategy, and a saved state resumes exactly.

use std::sync::Arc;

use nasr_search::registry::{STRATEGIES, StrategySettings, build};
use nasr_search::{Goal, Metrics, Outcome, SearchError, Strategy, TrialState};
use nasr_space::{Arch, Nb201Space, Space};

fn space() -> Arc<dyn Space + Send + Sync> {
    Arc::new(Nb201Space::new())
}

/// A synthetic landscape: accuracy grows with the number of 3x3 convs, latency with all convs.
fn measure(arch: &Arch) -> Metrics {
    let convs3 = arch.choices.iter().filter(|&&c| c == 3).count() as f64;
    let convs = arch.choices.iter().filter(|&&c| c == 2 || c == 3).count() as f64;
    let jitter = arch
        .choices
        .iter()
        .enumerate()
        .map(|(i, &c)| ((i * 7 + c * 3) % 5) as f64 * 0.01)
        .sum::<f64>();
    Metrics::from([
        ("accuracy".into(), 80.0 + 2.0 * convs3 + jitter),
        ("latency_ms".into(), 1.0 + convs),
    ])
}

fn strategy(name: &str, seed: u64) -> Box<dyn Strategy> {
    build(
        name,
        space(),
        Goal::maximize("accuracy"),
        &StrategySettings::default(),
        seed,
    )
    .unwrap()
}

#[test]
fn only_a_running_trial_can_be_told() {
    for name in STRATEGIES {
        let mut s = strategy(name, 0);
        let trial = s.ask();
        assert_eq!(trial.id, 0);
        s.tell(trial.id, Outcome::Complete(measure(&trial.arch)))
            .unwrap();
        assert!(matches!(
            s.tell(trial.id, Outcome::Failed("again".into())),
            Err(SearchError::NotRunning(0))
        ));
        assert!(matches!(
            s.tell(42, Outcome::Failed("unknown".into())),
            Err(SearchError::NotRunning(42))
        ));
    }
}

#[test]
fn nan_fails_the_trial_and_failed_or_infeasible_trials_are_never_best() {
    let goal = Goal::maximize("accuracy").with_bound("latency_ms", 2.0);
    let mut s = build("rs", space(), goal, &StrategySettings::default(), 0).unwrap();
    let (a, b, c, d) = (s.ask(), s.ask(), s.ask(), s.ask());
    let metrics = |accuracy: f64, latency: f64| {
        Metrics::from([
            ("accuracy".into(), accuracy),
            ("latency_ms".into(), latency),
        ])
    };
    s.tell(a.id, Outcome::Complete(metrics(f64::NAN, 1.0)))
        .unwrap();
    s.tell(b.id, Outcome::Complete(metrics(99.0, 5.0))).unwrap();
    s.tell(c.id, Outcome::Failed("out of memory".into()))
        .unwrap();
    s.tell(d.id, Outcome::Complete(metrics(70.0, 1.5))).unwrap();
    let book = s.book();
    assert_eq!(book.get(a.id).unwrap().state, TrialState::Failed);
    assert!(
        book.get(a.id)
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .contains("NaN")
    );
    assert_eq!(book.get(c.id).unwrap().state, TrialState::Failed);
    // 99% is over the latency budget: the 70% trial is the best.
    assert_eq!(s.best().unwrap().id, d.id);
}

/// Asks two at a time and tells them in reverse order, `steps` times.
fn advance(s: &mut dyn Strategy, steps: usize) {
    for _ in 0..steps {
        let (x, y) = (s.ask(), s.ask());
        s.tell(y.id, Outcome::Complete(measure(&y.arch))).unwrap();
        s.tell(x.id, Outcome::Complete(measure(&x.arch))).unwrap();
    }
}

#[test]
fn a_saved_state_resumes_exactly_with_running_trials() {
    for name in STRATEGIES {
        let mut whole = strategy(name, 5);
        advance(whole.as_mut(), 40);

        let mut first = strategy(name, 5);
        advance(first.as_mut(), 20);
        let running = first.ask();
        let saved = first.state().to_string();
        let trials = first.book().trials().to_vec();
        drop(first);

        let mut resumed = strategy(name, 99);
        resumed
            .load_state(serde_json::from_str(&saved).unwrap(), trials)
            .unwrap();
        assert_eq!(resumed.running(), vec![running.clone()]);
        // Finish the running trial as the uninterrupted run did: it was asked first of a pair.
        let partner = resumed.ask();
        resumed
            .tell(partner.id, Outcome::Complete(measure(&partner.arch)))
            .unwrap();
        resumed
            .tell(running.id, Outcome::Complete(measure(&running.arch)))
            .unwrap();
        advance(resumed.as_mut(), 19);
        assert_eq!(
            resumed.state(),
            whole.state(),
            "{name} did not resume exactly"
        );
        assert_eq!(resumed.book(), whole.book(), "{name}: trials differ");
    }
}

#[test]
fn a_state_of_another_strategy_is_refused() {
    let rs = strategy("rs", 0);
    let mut rea = strategy("rea", 0);
    let err = rea.load_state(rs.state(), Vec::new()).unwrap_err();
    assert!(err.to_string().contains("strategy rs"), "{err}");
}

#[test]
fn bad_settings_name_the_field() {
    let settings = StrategySettings {
        rea_tournament: 20,
        ..StrategySettings::default()
    };
    let err = build("rea", space(), Goal::maximize("accuracy"), &settings, 0)
        .err()
        .unwrap();
    assert!(err.to_string().contains("tournament_size"), "{err}");
    let err = build(
        "bogus",
        space(),
        Goal::maximize("accuracy"),
        &StrategySettings::default(),
        0,
    )
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("known: rs, rea, reinforce, nsga2"),
        "{err}"
    );
}
