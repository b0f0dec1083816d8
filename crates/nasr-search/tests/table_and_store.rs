//! The NAS-Bench-201 table reads with its published values; bad files are named; the SQLite
//! store keeps what it was given across reopening.

use std::path::PathBuf;

use nasr_search::nb201_table::{ACCURACY_FILE, LATENCY_FILE, Nb201Dataset, Nb201Table};
use nasr_search::store::{SqliteStore, Store};
use nasr_search::{Fidelity, Metrics, Trial, TrialRecord, TrialState};
use nasr_space::Arch;

fn data_dir() -> PathBuf {
    nasr_data::test_data_dir(&["nas-bench-201"])
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nasr-search-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("nas-bench-201")).unwrap();
    dir
}

#[test]
fn the_table_has_the_published_optima() {
    let table = Nb201Table::load(&data_dir()).unwrap();
    let (index, accuracy) = table.optimum(Nb201Dataset::Cifar10, None).unwrap();
    assert_eq!(index, 6111);
    assert!((accuracy - 94.37).abs() < 0.005);
    let (_, accuracy) = table.optimum(Nb201Dataset::Cifar100, None).unwrap();
    assert!((accuracy - 73.51).abs() < 0.005);
    let (index, accuracy) = table.optimum(Nb201Dataset::ImageNet16, None).unwrap();
    assert_eq!(index, 857);
    assert!((accuracy - 47.31).abs() < 0.005);
    assert_eq!(table.devices().len(), 27);
    let err = table.device("pixel9").unwrap_err();
    assert!(err.to_string().contains("pixel3"), "{err}");
}

#[test]
fn a_missing_table_file_is_named() {
    let dir = scratch("missing");
    let err = Nb201Table::load(&dir).unwrap_err();
    assert!(
        err.to_string()
            .contains("nats_bench_tss_test_acc_200ep.csv"),
        "{err}"
    );
}

#[test]
fn a_malformed_row_is_named() {
    let dir = scratch("malformed");
    let text = std::fs::read_to_string(data_dir().join(ACCURACY_FILE)).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[3] = lines[3].replacen(',', ",x", 1);
    std::fs::write(dir.join(ACCURACY_FILE), lines.join("\n")).unwrap();
    std::fs::copy(data_dir().join(LATENCY_FILE), dir.join(LATENCY_FILE)).unwrap();
    let err = Nb201Table::load(&dir).unwrap_err();
    assert!(
        err.to_string().contains("row 3") && err.to_string().contains("not a number"),
        "{err}"
    );
    // Rows swapped: the arch string no longer matches the index.
    lines = text.lines().map(String::from).collect();
    lines.swap(1, 2);
    std::fs::write(dir.join(ACCURACY_FILE), lines.join("\n")).unwrap();
    let err = Nb201Table::load(&dir).unwrap_err();
    assert!(
        err.to_string()
            .contains("is not NAS-Bench-201 architecture 0"),
        "{err}"
    );
}

#[test]
fn the_sqlite_store_keeps_trials_and_state_across_reopening() {
    let dir = scratch("store");
    let path = dir.join("experiment.sqlite");
    let trial = Trial {
        id: 0,
        arch: Arch::new(vec![1, 2, 3, 4, 0, 1]),
        fidelity: Fidelity::Epochs(2),
    };
    let done = TrialRecord {
        id: 0,
        arch: trial.arch.clone(),
        fidelity: Fidelity::Epochs(2),
        state: TrialState::Complete,
        metrics: Metrics::from([("accuracy".into(), 91.5)]),
        error: None,
    };
    {
        let mut store = SqliteStore::open(&path).unwrap();
        store
            .record_ask(&trial, &serde_json::json!({"step": 1}))
            .unwrap();
        store
            .record_ask(
                &Trial {
                    id: 1,
                    ..trial.clone()
                },
                &serde_json::json!({"step": 2}),
            )
            .unwrap();
        store
            .record_tell(&done, &serde_json::json!({"step": 3}))
            .unwrap();
        store.set_meta("config", "{}").unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let trials = store.trials().unwrap();
    assert_eq!(trials.len(), 2);
    assert_eq!(trials[0], done);
    assert_eq!(trials[1].state, TrialState::Running);
    assert_eq!(
        store.strategy_state().unwrap(),
        Some(serde_json::json!({"step": 3}))
    );
    assert_eq!(store.meta("config").unwrap().as_deref(), Some("{}"));
    drop(store);
    let mut store = SqliteStore::open(&path).unwrap();
    store.set_meta("schema_version", "99").unwrap();
    drop(store);
    let err = SqliteStore::open(&path).err().unwrap();
    assert!(err.to_string().contains("newer"), "{err}");
    set_schema_version(&path, "1");
    let err = SqliteStore::open(&path).err().unwrap();
    assert!(
        err.to_string().contains("schema version 1 is older"),
        "{err}"
    );
}

/// Writes `version` as the store's schema version, as an older or newer nasr would have.
fn set_schema_version(path: &std::path::Path, version: &str) {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .execute(
            "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
            [version],
        )
        .unwrap();
}

/// A step records its own trial and the policy's state, not the trials before it: the saved
/// state after 500 trials is no larger than after 50 (it held all of them before).
#[test]
fn the_saved_strategy_state_does_not_grow_with_the_trials() {
    use nasr_search::evolution::RegularizedEvolution;
    use nasr_search::nb201_table::Nb201Evaluator;
    use nasr_search::store::{MemoryStore, drive};
    use nasr_search::{Goal, Search};

    let table = Nb201Table::load(&data_dir()).unwrap();
    let saved_size = |queries: usize| {
        let space = std::sync::Arc::new(nasr_space::Nb201Space::new());
        let policy = RegularizedEvolution::new(10, 3).unwrap();
        let mut search = Search::new(space, Goal::maximize("accuracy"), policy, 0);
        let mut evaluator = Nb201Evaluator::new(&table, Nb201Dataset::Cifar10, None);
        let mut store = MemoryStore::new();
        drive(
            &mut search,
            &mut evaluator,
            Some(&mut store),
            queries,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(store.trials().unwrap().len(), queries);
        store.strategy_state().unwrap().unwrap().to_string().len()
    };
    let (small, large) = (saved_size(50), saved_size(500));
    assert!(
        large <= small + 16,
        "{small} bytes after 50 trials, {large} after 500"
    );
}
