//! The experiment store on a real PostgreSQL server: a search recorded there resumes to the
//! result of an uninterrupted one and matches the SQLite store's trials bit for bit; studies
//! are created once (or loaded on request), listed and deleted; the URL's password never
//! appears in an error or a shown URL; `sslmode=require` connects with TLS, and is refused
//! clearly by a server that offers none. The shared-study protocol (claims, heartbeats, stale
//! trials, refused late tells) is tested on PostgreSQL and on a shared SQLite file alike.
//!
//! The server is `$NASR_TEST_POSTGRES` (a `postgresql://` URL): `scripts/pg_test_server.sh
//! start DIR` starts a throwaway one and prints the variable, as `.ci/run` does. Without it
//! these tests fail, saying so; they never pass silently.

use std::sync::Arc;

use nasr_search::evolution::RegularizedEvolution;
use nasr_search::nb201_table::{Nb201Dataset, Nb201Evaluator, Nb201Table};
use nasr_search::store::{
    PostgresStore, SharedStudy, SqliteStore, Store, StudyStorage, drive, redact_url,
};
use nasr_search::{Goal, Search, TrialRecord};

fn server() -> String {
    std::env::var("NASR_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "NASR_TEST_POSTGRES is not set: start a throwaway server with \
             `eval \"$(scripts/pg_test_server.sh start /tmp/nasr-pg)\"` (PostgreSQL 15, \
             /usr/lib/postgresql/15/bin; `apt-get install -y postgresql` where it is missing), \
             then rerun; `scripts/pg_test_server.sh stop /tmp/nasr-pg` stops it"
        )
    })
}

/// A study name of this test process, unique per test.
fn study(name: &str) -> String {
    format!("test-{}-{name}", std::process::id())
}

fn table() -> Nb201Table {
    Nb201Table::load(&nasr_data::test_data_dir(&["nas-bench-201"])).unwrap()
}

/// REA over the NB201 table for `queries` trials into `store`, resuming from what it holds.
fn search(table: &Nb201Table, store: &mut (dyn Store + Send), queries: usize) {
    let space = Arc::new(nasr_space::Nb201Space::new());
    let policy = RegularizedEvolution::new(10, 3).unwrap();
    let mut search = Search::new(space, Goal::maximize("accuracy"), policy, 7);
    let mut evaluator = Nb201Evaluator::new(table, Nb201Dataset::Cifar10, None);
    drive(
        &mut search,
        &mut evaluator,
        Some(store),
        queries,
        &mut |_| {},
    )
    .unwrap();
}

fn as_json(trials: &[TrialRecord]) -> String {
    serde_json::to_string(trials).unwrap()
}

#[test]
fn a_search_on_postgres_resumes_to_the_uninterrupted_result_and_matches_sqlite() {
    let (url, table) = (server(), table());
    let whole = study("whole");
    let mut store = PostgresStore::create(&url, &whole, &[("config", "{}")], false).unwrap();
    search(&table, &mut store, 120);

    let resumed = study("resumed");
    let mut first = PostgresStore::create(&url, &resumed, &[("config", "{}")], false).unwrap();
    search(&table, &mut first, 45);
    drop(first);
    let mut again = PostgresStore::open(&url, &resumed).unwrap();
    search(&table, &mut again, 120);

    let dir = std::env::temp_dir().join(format!("nasr-pg-sqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut sqlite = SqliteStore::open(&dir.join("experiment.sqlite")).unwrap();
    search(&table, &mut sqlite, 120);

    let trials = store.trials().unwrap();
    assert_eq!(trials.len(), 120);
    assert_eq!(as_json(&trials), as_json(&again.trials().unwrap()));
    assert_eq!(as_json(&trials), as_json(&sqlite.trials().unwrap()));
    assert_eq!(
        store.strategy_state().unwrap(),
        sqlite.strategy_state().unwrap()
    );
    for name in [&whole, &resumed] {
        assert!(PostgresStore::delete(&url, name).unwrap());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A fresh SQLite file for shared studies, in its own folder.
fn sqlite_storage(name: &str) -> StudyStorage {
    let dir = std::env::temp_dir().join(format!("nasr-study-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    StudyStorage::Sqlite(dir.join("studies.sqlite"))
}

/// Creating, loading, listing and deleting studies on `storage`.
fn lifecycle(storage: &StudyStorage) {
    let name = study("lifecycle");
    let mut store = storage
        .create(&name, &[("config", r#"{"queries":5}"#)], false)
        .unwrap();
    store.set_meta("data_sha256", "abc").unwrap();
    let err = storage
        .create(&name, &[("config", r#"{"queries":5}"#)], false)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("exists") && err.contains(&name), "{err}");
    let loaded = storage
        .create(&name, &[("config", r#"{"queries":5}"#)], true)
        .unwrap();
    assert_eq!(loaded.meta("data_sha256").unwrap().as_deref(), Some("abc"));
    let err = storage
        .create(&name, &[("config", r#"{"queries":6}"#)], true)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("another config"), "{err}");
    assert!(storage.list().unwrap().contains(&name));
    assert!(storage.delete(&name).unwrap());
    assert!(!storage.delete(&name).unwrap());
    assert!(!storage.list().unwrap().contains(&name));
    let err = storage.open(&name).err().unwrap().to_string();
    assert!(err.contains("no such study"), "{err}");
}

#[test]
fn a_study_is_created_once_loaded_on_request_listed_and_deleted() {
    lifecycle(&StudyStorage::parse(&server()).unwrap());
}

#[test]
fn a_study_in_an_sqlite_file_is_created_once_loaded_on_request_listed_and_deleted() {
    lifecycle(&sqlite_storage("lifecycle"));
    let err = StudyStorage::parse("mysql://db/nasr")
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("postgresql://") && err.contains("sqlite:PATH"),
        "{err}"
    );
    assert!(matches!(
        StudyStorage::parse("sqlite:///tmp/x.sqlite").unwrap(),
        StudyStorage::Sqlite(path) if path == std::path::Path::new("/tmp/x.sqlite")
    ));
}

#[test]
fn sslmode_require_connects_with_tls() {
    let url = server();
    let name = study("tls");
    let separator = if url.contains('?') { '&' } else { '?' };
    let tls_url = format!("{url}{separator}sslmode=require");
    let store = PostgresStore::create(&tls_url, &name, &[("config", "{}")], false).unwrap();
    // The server's own view of the store's connection: encrypted.
    let mut observer = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let encrypted: i64 = observer
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE s.ssl AND a.usename = current_user AND a.pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(encrypted >= 1, "no TLS connection from the store");
    assert!(store.meta("config").unwrap().is_some());
    PostgresStore::delete(&url, &name).unwrap();
}

#[test]
fn sslmode_require_is_refused_clearly_by_a_server_without_tls() {
    use std::io::{Read, Write};
    // A server that answers the client's TLS request as a server without TLS does: `N`.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut request = [0u8; 8];
        socket.read_exact(&mut request).unwrap();
        socket.write_all(b"N").unwrap();
        request
    });
    let url = format!("postgresql://nasr:hunter2@127.0.0.1:{port}/nasr?sslmode=require");
    let err = PostgresStore::open(&url, "any").err().unwrap().to_string();
    assert!(
        err.contains("offers none") && err.contains("sslmode=require"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    // The request was PostgreSQL's SSLRequest (length 8, code 80877103).
    let request = server.join().unwrap();
    assert_eq!(request, [0, 0, 0, 8, 4, 210, 22, 47]);
}

#[test]
fn the_password_is_never_shown() {
    let url = server();
    let password = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('@').next())
        .and_then(|user| user.split(':').nth(1))
        .expect("the test server's URL has a password")
        .to_string();
    let err = PostgresStore::open(&url, &study("absent"))
        .err()
        .unwrap()
        .to_string();
    assert!(!err.contains(&password), "{err}");
    assert!(err.contains("***"), "{err}");
    let wrong = url.replace(&password, "not-the-password");
    let err = PostgresStore::open(&wrong, "any")
        .err()
        .unwrap()
        .to_string();
    assert!(!err.contains("not-the-password"), "{err}");
    assert!(err.contains("password authentication failed"), "{err}");
    let store = PostgresStore::create(&url, &study("shown"), &[("config", "{}")], false).unwrap();
    assert!(!store.url().contains(&password));
    PostgresStore::delete(&url, store.name()).unwrap();
}

#[test]
fn urls_are_redacted_in_both_forms() {
    assert_eq!(
        redact_url("postgresql://nasr:s3cr%40t@db.example:5432/nasr?sslmode=require"),
        "postgresql://nasr:***@db.example:5432/nasr?sslmode=require"
    );
    assert_eq!(
        redact_url("postgresql://db.example/nasr?user=nasr&password=hunter2&sslmode=require"),
        "postgresql://db.example/nasr?user=nasr&password=***&sslmode=require"
    );
    assert_eq!(
        redact_url("postgresql://nasr@db/nasr"),
        "postgresql://nasr@db/nasr"
    );
    assert_eq!(
        redact_url("postgresql://nasr:pa/ss@db/nasr"),
        "postgresql://nasr:***@db/nasr"
    );
}

/// A strategy of the study's config: random search, seed 11.
fn random_search() -> Search<nasr_search::random::RandomSearch> {
    let space = Arc::new(nasr_space::Nb201Space::new());
    Search::new(
        space,
        Goal::maximize("accuracy"),
        nasr_search::random::RandomSearch,
        11,
    )
}

/// A random-search worker (`worker-N`) on the study `name` in `storage`, run until the study
/// is finished: heartbeat every 100 ms, stale after 800 ms.
fn random_search_worker(
    storage: &StudyStorage,
    name: &str,
    table: &Nb201Table,
    worker: usize,
    queries: usize,
) -> nasr_search::worker::WorkerReport {
    use nasr_search::worker::{WorkerConfig, run_worker};
    let store = storage.open(name).unwrap();
    let beat = storage.open(name).unwrap();
    let mut evaluator = Nb201Evaluator::new(table, Nb201Dataset::Cifar10, None);
    let config = WorkerConfig {
        name: format!("worker-{worker}"),
        queries,
        max_trials: None,
        heartbeat: std::time::Duration::from_millis(100),
        timeout: std::time::Duration::from_millis(800),
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (store, beat) = (store.as_ref(), beat.as_ref());
    let mut strategy = random_search();
    run_worker(
        store,
        beat,
        &mut strategy,
        &mut evaluator,
        &config,
        &stop,
        &|_| {},
    )
    .unwrap()
}

/// The architectures (choices) of `trials`, sorted.
fn sorted_archs<'a>(trials: impl Iterator<Item = &'a TrialRecord>) -> Vec<Vec<usize>> {
    let mut archs: Vec<_> = trials.map(|t| t.arch.choices.clone()).collect();
    archs.sort();
    archs
}

/// The sorted architectures a single process's random search evaluates in `queries` trials.
fn single_process_archs(table: &Nb201Table, queries: usize) -> Vec<Vec<usize>> {
    use nasr_search::Strategy;
    let mut single = random_search();
    let mut evaluator = Nb201Evaluator::new(table, Nb201Dataset::Cifar10, None);
    drive(&mut single, &mut evaluator, None, queries, &mut |_| {}).unwrap();
    sorted_archs(single.book().trials().iter())
}

#[test]
fn four_workers_finish_a_study_and_a_dead_workers_trial_is_asked_again() {
    four_workers_and_a_dead_one(&StudyStorage::parse(&server()).unwrap());
}

#[test]
fn four_workers_share_a_study_in_an_sqlite_file() {
    four_workers_and_a_dead_one(&sqlite_storage("workers"));
}

/// Four worker threads and a dead worker on a random-search study of 300 trials in `storage`.
fn four_workers_and_a_dead_one(storage: &StudyStorage) {
    use nasr_search::store::{Claim, Told};
    use nasr_search::{Outcome, TrialState};
    use std::time::Duration;

    let table = table();
    let name = study("workers");
    let queries = 300;
    storage.create(&name, &[("config", "{}")], false).unwrap();

    // A worker that claims a trial and dies: no heartbeat, no tell.
    let dead = storage.open(&name).unwrap();
    let mut dead_strategy = random_search();
    let Claim::Trial(lost) = dead
        .claim(
            &mut dead_strategy,
            "dead",
            queries,
            Duration::from_millis(800),
        )
        .unwrap()
    else {
        panic!("the first claim gets a trial");
    };

    let reports: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let (name, table) = (&name, &table);
                scope.spawn(move || random_search_worker(storage, name, table, w, queries))
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(reports.iter().map(|r| r.told).sum::<usize>(), queries);

    // The dead worker's late tell is refused, and changes nothing.
    let told = dead
        .finish(
            &mut dead_strategy,
            "dead",
            lost.id,
            Outcome::Failed("late".into()),
        )
        .unwrap();
    assert_eq!(told, Told::Refused(lost.id));

    let trials = dead.trials().unwrap();
    let stale: Vec<_> = trials
        .iter()
        .filter(|t| t.state == TrialState::Stale)
        .collect();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].id, lost.id);
    let complete: Vec<_> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    assert_eq!(complete.len(), queries, "every other trial completes once");
    assert_eq!(trials.len(), queries + 1);
    assert_eq!(
        complete.iter().filter(|t| t.arch == lost.arch).count(),
        1,
        "the lost trial's architecture is evaluated again, once"
    );

    // Random search: the architectures evaluated are a single process's, seed for seed.
    assert_eq!(
        sorted_archs(complete.iter().copied()),
        single_process_archs(&table, queries)
    );

    // Every trial was asked, and every complete one told, by the study's clock.
    let timeline = dead.timeline().unwrap();
    assert_eq!(timeline.len(), trials.len());
    for (times, trial) in timeline.iter().zip(&trials) {
        assert_eq!(times.id, trial.id);
        let told = times.told.filter(|_| trial.state == TrialState::Complete);
        assert!(told.is_none_or(|t| t >= times.asked), "{times:?}");
        assert!(trial.state != TrialState::Complete || times.told.is_some());
    }
    storage.delete(&name).unwrap();
}

#[test]
fn workers_reconnect_when_the_server_drops_their_connections() {
    use nasr_search::TrialState;
    use std::time::Duration;

    let (url, table) = (server(), table());
    let name = study("dropped");
    // The workers' connections carry a name of their own, so that only they are dropped.
    let tag = format!("nasr-dropped-{}", std::process::id());
    let separator = if url.contains('?') { '&' } else { '?' };
    let storage = StudyStorage::parse(&format!("{url}{separator}application_name={tag}")).unwrap();
    storage.create(&name, &[("config", "{}")], false).unwrap();
    let queries = 300;
    let killed: i64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let (storage, name, table) = (&storage, &name, &table);
                scope.spawn(move || random_search_worker(storage, name, table, w, queries))
            })
            .collect();
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let mut killed = 0;
        for _ in 0..8 {
            std::thread::sleep(Duration::from_millis(40));
            killed += admin
                .query_one(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE application_name = $1",
                    &[&tag],
                )
                .unwrap()
                .get::<_, i64>(0);
        }
        for worker in workers {
            worker.join().unwrap();
        }
        killed
    });
    assert!(killed >= 4, "only {killed} connections were dropped");
    let study = storage.open(&name).unwrap();
    let trials = study.trials().unwrap();
    let complete: Vec<_> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    assert_eq!(complete.len(), queries, "{killed} drops");
    assert!(trials.iter().all(|t| t.state != TrialState::Running));
    // A trial whose claim was committed as the connection dropped went stale and was asked
    // again: the architectures are still a single process's.
    assert_eq!(
        sorted_archs(complete.iter().copied()),
        single_process_archs(&table, queries)
    );
    storage.delete(&name).unwrap();
}

/// A study deleted under a worker: its next step fails, naming what happened, and a new study
/// of the same name is not the deleted one.
fn deleted_under_a_worker(storage: &StudyStorage) {
    use nasr_search::store::Claim;
    use std::time::Duration;
    let name = study("deleted");
    storage.create(&name, &[("config", "{}")], false).unwrap();
    let worker = storage.open(&name).unwrap();
    let mut strategy = random_search();
    let timeout = Duration::from_secs(60);
    let first = worker.claim(&mut strategy, "w", 10, timeout).unwrap();
    assert!(matches!(first, Claim::Trial(_)));
    assert!(storage.delete(&name).unwrap());
    let meta = [("config", "{}"), ("data_sha256", "abc")];
    storage.create(&name, &meta, false).unwrap();
    let err = worker
        .claim(&mut strategy, "w", 10, timeout)
        .expect_err("the deleted study's worker is refused")
        .to_string();
    assert!(err.contains("deleted"), "{err}");
    assert!(storage.open(&name).unwrap().trials().unwrap().is_empty());
    // A study loaded with --load-if-exists must record the same data.
    let err = storage
        .create(&name, &[("config", "{}"), ("data_sha256", "other")], true)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("another data_sha256"), "{err}");
    storage.delete(&name).unwrap();
}

#[test]
fn a_study_deleted_under_a_worker_is_refused_on_postgres() {
    deleted_under_a_worker(&StudyStorage::parse(&server()).unwrap());
}

#[test]
fn a_study_deleted_under_a_worker_is_refused_in_an_sqlite_file() {
    deleted_under_a_worker(&sqlite_storage("deleted"));
}
