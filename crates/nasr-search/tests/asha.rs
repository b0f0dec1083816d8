//! ASHA and asynchronous Hyperband promote only the top 1/eta of each rung, stop most
//! architectures early, and report the best at the highest rung.

use std::sync::Arc;

use nasr_search::asha::Asha;
use nasr_search::nb201_table::{Nb201Dataset, Nb201Table};
use nasr_search::store::{MemoryStore, Store, drive_parallel};
use nasr_search::{Evaluator, Fidelity, Goal, Metrics, Search, SearchError, Strategy};
use nasr_space::{Arch, Nb201Space, Space};

/// Accuracy after `epochs`: the table's CIFAR-10 accuracy, discounted by a learning curve.
struct Curve<'a> {
    table: &'a Nb201Table,
}

impl Evaluator for Curve<'_> {
    fn evaluate(&mut self, arch: &Arch, fidelity: Fidelity) -> Result<Metrics, SearchError> {
        let Fidelity::Epochs(epochs) = fidelity else {
            panic!("ASHA always names the epochs");
        };
        let index = Nb201Space::new().index_of(arch)?;
        let final_accuracy = self.table.accuracy(index, Nb201Dataset::Cifar10);
        let accuracy = final_accuracy * (1.0 - 0.5f64.powi(epochs as i32));
        Ok(Metrics::from([("accuracy".into(), accuracy)]))
    }
}

fn table() -> Nb201Table {
    Nb201Table::load(&nasr_data::test_data_dir(&["nas-bench-201"])).unwrap()
}

fn space() -> Arc<dyn Space + Send + Sync> {
    Arc::new(Nb201Space::new())
}

#[test]
fn asha_promotes_the_top_of_each_rung_and_stops_most_architectures_early() {
    let table = table();
    let policy = Asha::single_bracket(1, 9, 3).unwrap();
    let mut search = Search::new(space(), Goal::maximize("accuracy"), policy, 0);
    let mut store = MemoryStore::new();
    drive_parallel(
        &mut search,
        vec![Curve { table: &table }],
        Some(&mut store),
        60,
        &mut |_| {},
    )
    .unwrap();
    let trials = search.book().trials();
    assert_eq!(trials.len(), 60);
    let count = |epochs| {
        trials
            .iter()
            .filter(|t| t.fidelity == Fidelity::Epochs(epochs))
            .count()
    };
    let (rung0, rung1, rung2) = (count(1), count(3), count(9));
    assert_eq!(rung0 + rung1 + rung2, 60);
    // Each rung holds far fewer trials than the one below. (ASHA may promote a little more
    // than a third over time: an architecture that enters a rung's top third later is promoted
    // too, though earlier promotions stay.)
    assert!(
        rung1 < rung0 / 2 && rung2 < rung1 / 2,
        "{rung0} {rung1} {rung2}"
    );
    assert!(rung2 >= 1);
    // Every promoted architecture was among the best third of its rung when promoted, so it
    // beats the rung's median.
    let rung_scores = |epochs| -> Vec<(&Arch, f64)> {
        trials
            .iter()
            .filter(|t| t.fidelity == Fidelity::Epochs(epochs))
            .map(|t| (&t.arch, t.metrics["accuracy"]))
            .collect()
    };
    let lower = rung_scores(1);
    let mut sorted: Vec<f64> = lower.iter().map(|(_, s)| *s).collect();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    for (arch, _) in rung_scores(3) {
        let (_, score) = lower.iter().find(|(a, _)| *a == arch).unwrap();
        assert!(*score >= median);
    }
    let (started, stopped) = search.policy().started_and_stopped_early(search.book());
    assert_eq!(started, rung0);
    assert!(stopped > started / 2, "{stopped} of {started}");
    assert_eq!(search.best().unwrap().fidelity, Fidelity::Epochs(9));
    assert_eq!(Store::trials(&store).unwrap().len(), 60);
}

#[test]
fn hyperband_starts_architectures_in_every_bracket() {
    let table = table();
    let policy = Asha::hyperband(1, 4, 2).unwrap();
    let mut search = Search::new(space(), Goal::maximize("accuracy"), policy, 1);
    drive_parallel(
        &mut search,
        vec![Curve { table: &table }, Curve { table: &table }],
        None,
        40,
        &mut |_| {},
    )
    .unwrap();
    let trials = search.book().trials();
    for epochs in [1, 2, 4] {
        assert!(
            trials
                .iter()
                .any(|t| t.fidelity == Fidelity::Epochs(epochs)),
            "no trial of {epochs} epochs"
        );
    }
    // Bracket 2 starts architectures directly at the top rung.
    let first_top = trials
        .iter()
        .position(|t| t.fidelity == Fidelity::Epochs(4))
        .unwrap();
    assert!(
        first_top <= 2,
        "the third new architecture goes straight to 4 epochs"
    );
}
