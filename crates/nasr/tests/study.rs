//! A study shared by `nasr worker` processes through a real PostgreSQL server
//! (`$NASR_TEST_POSTGRES`, see `scripts/pg_test_server.sh`): four workers on REA over the
//! NAS-Bench-201 table, 3,000 trials; one killed with SIGKILL while it holds a trial and
//! restarted, one frozen (SIGSTOP) past the heartbeat timeout and woken: the held trials go
//! stale and are asked again, the woken worker's late tell is refused, every other trial
//! completes exactly once, and the study finishes. Two workers training real networks (MNIST
//! subset) on an ASHA study: every promotion comes from the top 1/eta of its rung as it stood,
//! and no architecture is trained twice at a rung. Four workers on random search in a shared
//! SQLite file evaluate the architectures of a single `nasr search`; the exported study is an
//! ordinary run folder.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{fail, nasr, scratch, succeed};

fn server() -> String {
    std::env::var("NASR_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "NASR_TEST_POSTGRES is not set: start a throwaway server with \
             `eval \"$(scripts/pg_test_server.sh start /tmp/nasr-pg)\"`, then rerun"
        )
    })
}

/// A `nasr worker` process on `study` in `url` (any storage), its output piped.
fn worker(url: &str, study: &str, delay_ms: Option<u64>) -> Child {
    let mut command = nasr();
    command
        .args(["worker", "--study", study])
        .env("NASR_STORAGE", url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(ms) = delay_ms {
        command.env("NASR_WORKER_TEST_DELAY_MS", ms.to_string());
    }
    command.spawn().unwrap()
}

fn status(url: &str, study: &str) -> String {
    succeed(&["study", "status", "--storage", url, "--study", study])
}

fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until `status` contains `text`.
fn wait_for(url: &str, study: &str, text: &str, limit: Duration) -> String {
    let started = Instant::now();
    loop {
        let now = status(url, study);
        if now.contains(text) {
            return now;
        }
        assert!(
            started.elapsed() < limit,
            "waited for {text:?}; status: {now}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn output(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn four_workers_finish_a_study_through_a_kill_and_a_freeze() {
    let url = server();
    let dir = scratch("study");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("rea.toml");
    std::fs::write(
        &config,
        "method = \"table\"\nstrategy = \"rea\"\nqueries = 3000\nseed = 4\n",
    )
    .unwrap();
    let study = format!("cli-{}", std::process::id());
    let url = url.as_str();
    let create = [
        "study",
        "create",
        "--storage",
        url,
        "--name",
        &study,
        "-c",
        config.to_str().unwrap(),
    ];
    let created = succeed(&[&create[..], &["--stale-after", "2"]].concat());
    assert!(
        created.contains("3000 trials") && !created.contains(url),
        "{created}"
    );
    let err = fail(&create);
    assert!(err.contains("exists"), "{err}");

    // Two workers that hold their first trial for a minute: one killed, one frozen.
    let killed = worker(url, &study, Some(60_000));
    let frozen = worker(url, &study, Some(4_000));
    wait_for(url, &study, "2 running", Duration::from_secs(20));
    signal(&killed, "-KILL");
    signal(&frozen, "-STOP");
    let _ = output_of_killed(killed);
    let healthy: Vec<Child> = (0..2).map(|_| worker(url, &study, None)).collect();
    let restarted = worker(url, &study, None);
    // Both held trials go stale after 2 s without a heartbeat, and are asked again.
    wait_for(url, &study, "2 stale", Duration::from_secs(60));
    signal(&frozen, "-CONT");
    let woken = output(frozen);
    assert!(woken.contains("1 refused"), "{woken}");
    for child in healthy.into_iter().chain([restarted]) {
        output(child);
    }
    let done = status(url, &study);
    assert!(
        done.contains("3000 of 3000 trials complete, 0 running, 0 failed, 2 stale"),
        "{done}"
    );
    assert!(!done.contains(url.split('@').next().unwrap().rsplit(':').next().unwrap()));
    succeed(&["study", "delete", "--storage", url, "--study", &study]);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn output_of_killed(child: Child) -> std::process::Output {
    child.wait_with_output().unwrap()
}

/// Writes the experiment `text` as `dir/name` and creates the study `study` from it in
/// `storage`, passing `flags` too; returns the experiment file's path and what `create`
/// printed.
fn create_study(
    storage: &str,
    study: &str,
    dir: &std::path::Path,
    (name, text): (&str, &str),
    flags: &[&str],
) -> (String, String) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let config = path.to_str().unwrap().to_string();
    let create = [
        "study",
        "create",
        "--storage",
        storage,
        "--name",
        study,
        "-c",
        &config,
    ];
    let created = succeed(&[&create[..], flags].concat());
    (config, created)
}

#[test]
fn two_workers_train_an_asha_study_on_mnist() {
    use nasr_search::store::StudyStorage;
    use nasr_search::{Fidelity, TrialState};

    let url = server();
    let dir = scratch("study-asha");
    std::fs::create_dir_all(&dir).unwrap();
    let study = format!("cli-asha-{}", std::process::id());
    let experiment = (
        "asha.toml",
        "method = \"asha\"\nqueries = 14\nmin_epochs = 1\nmax_epochs = 4\neta = 2\n\
         [run]\nseed = 3\n[run.space.nb201]\nchannels = 4\ncells = 1\n\
         [run.data]\nname = \"mnist\"\ntrain_subset = 600\ntest_subset = 200\n\
         [run.train]\nbatch_size = 32\n",
    );
    let (_, created) = create_study(&url, &study, &dir, experiment, &[]);
    assert!(created.contains("asha 14 trials"), "{created}");
    let work = dir.join("work");
    let workers: Vec<Child> = (0..2)
        .map(|_| {
            nasr()
                .args(["worker", "--study", &study, "--work-dir"])
                .arg(&work)
                .env("NASR_STORAGE", &url)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in workers {
        let said = output(child);
        assert!(said.contains("trials told, 0 refused"), "{said}");
    }
    let done = status(&url, &study);
    assert!(done.contains("14 of 14 trials complete"), "{done}");

    let shared = StudyStorage::parse(&url).unwrap().open(&study).unwrap();
    let trials = shared.trials().unwrap();
    let times = shared.timeline().unwrap();
    assert_eq!(trials.len(), 14);
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
    let workers: std::collections::BTreeSet<_> =
        times.iter().filter_map(|t| t.worker.clone()).collect();
    assert_eq!(workers.len(), 2, "both workers trained trials: {workers:?}");
    let rungs = [1, 2, 4];
    let rung_of = |fidelity: Fidelity| {
        rungs
            .iter()
            .position(|&e| Fidelity::Epochs(e) == fidelity)
            .expect("a rung's epochs")
    };

    // No architecture is trained twice at one rung.
    let mut seen = std::collections::BTreeSet::new();
    for trial in &trials {
        assert!(
            seen.insert((trial.arch.choices.clone(), rung_of(trial.fidelity))),
            "trial {} trains its architecture at its rung again",
            trial.id
        );
    }

    // Every promotion comes from the top 1/eta of its rung, among the trials told before the
    // promotion was asked (by the study's clock, which orders the steps).
    let mut promotions = 0;
    for promoted in trials.iter().filter(|t| rung_of(t.fidelity) > 0) {
        let rung = rung_of(promoted.fidelity) - 1;
        let asked = times[promoted.id as usize].asked;
        let mut below: Vec<_> = trials
            .iter()
            .filter(|t| rung_of(t.fidelity) == rung)
            .filter(|t| times[t.id as usize].told.is_some_and(|told| told <= asked))
            .collect();
        below.sort_by(|a, b| {
            b.metrics["accuracy"]
                .total_cmp(&a.metrics["accuracy"])
                .then(a.id.cmp(&b.id))
        });
        let top = below.len() / 2;
        assert!(
            below[..top].iter().any(|t| t.arch == promoted.arch),
            "trial {} promotes an architecture outside the top {top} of the {} told at rung {rung}",
            promoted.id,
            below.len()
        );
        promotions += 1;
    }
    assert!(
        promotions >= 3,
        "{promotions} promotions: the test shows too little"
    );
    println!(
        "{} trials, {promotions} promotions, every one from the top half of its rung",
        trials.len()
    );
    assert!(
        trials.iter().any(|t| rung_of(t.fidelity) == 2),
        "nothing reached the top rung"
    );

    // The best trial, and the study as an ordinary run folder that `nasr report` reads.
    let best = succeed(&["study", "best", "--storage", &url, "--study", &study]);
    assert!(
        best.contains("\"arch\"") && best.contains("\"epochs\": 4"),
        "{best}"
    );
    let out = dir.join("exported");
    let out_text = out.to_str().unwrap();
    succeed(&[
        "study",
        "export",
        "--storage",
        &url,
        "--study",
        &study,
        "--out",
        out_text,
    ]);
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(summary.contains("\"rung_epochs\""), "{summary}");
    assert_eq!(
        std::fs::read_to_string(out.join("trials.jsonl"))
            .unwrap()
            .lines()
            .count(),
        14
    );
    let report = succeed(&["report", out_text]);
    assert!(report.contains("report.html"), "{report}");
    succeed(&["study", "delete", "--storage", &url, "--study", &study]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn four_workers_on_an_sqlite_file_evaluate_a_single_searchs_architectures() {
    let dir = scratch("study-sqlite");
    std::fs::create_dir_all(&dir).unwrap();
    let storage = format!("sqlite:{}", dir.join("studies.sqlite").display());
    let experiment = (
        "rs.toml",
        "method = \"table\"\nstrategy = \"rs\"\nqueries = 400\nseed = 9\n",
    );
    let (config, _) = create_study(&storage, "rs", &dir, experiment, &[]);
    let workers: Vec<Child> = (0..4).map(|_| worker(&storage, "rs", None)).collect();
    for child in workers {
        output(child);
    }
    let done = status(&storage, "rs");
    assert!(
        done.contains("400 of 400 trials complete, 0 running"),
        "{done}"
    );
    let list = succeed(&["study", "list", "--storage", &storage]);
    assert_eq!(list.trim(), "rs");

    let exported = dir.join("exported");
    succeed(&[
        "study",
        "export",
        "--storage",
        &storage,
        "--study",
        "rs",
        "--out",
        exported.to_str().unwrap(),
    ]);
    let single = dir.join("single");
    succeed(&[
        "search",
        "-c",
        &config,
        "--no-progress",
        "--out",
        single.to_str().unwrap(),
    ]);
    let archs = |folder: &std::path::Path| {
        let mut archs: Vec<String> = std::fs::read_to_string(folder.join("trials.jsonl"))
            .unwrap()
            .lines()
            .map(|line| {
                let trial: serde_json::Value = serde_json::from_str(line).unwrap();
                trial["arch"].to_string()
            })
            .collect();
        archs.sort();
        archs
    };
    assert_eq!(archs(&exported), archs(&single));
    // The exported folder is the single search's, and resumes as one: nothing left to do.
    assert_eq!(
        std::fs::read(exported.join("best.json")).unwrap(),
        std::fs::read(single.join("best.json")).unwrap()
    );
    let report = succeed(&["report", exported.to_str().unwrap()]);
    assert!(report.contains("report.html"), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Also: a worker with other data than the study's refuses to run.
#[test]
fn sigterm_during_an_evaluation_releases_the_trial_at_once() {
    use nasr_search::nb201_table::{ACCURACY_FILE, LATENCY_FILE};

    let url = server();
    let dir = scratch("study-sigterm");
    std::fs::create_dir_all(&dir).unwrap();
    let study = format!("cli-sigterm-{}", std::process::id());
    let experiment = (
        "rs.toml",
        "method = \"table\"\nstrategy = \"rs\"\nqueries = 5\nseed = 1\n",
    );
    // A timeout of ten minutes: only the release can make the trial stale within the test.
    create_study(&url, &study, &dir, experiment, &["--stale-after", "600"]);
    // A worker whose table differs from the study's (here: the first rows only) refuses.
    let other = dir.join("other-data");
    for file in [ACCURACY_FILE, LATENCY_FILE] {
        let table = nasr_data::test_data_dir(&["nas-bench-201"]).join(file);
        let bytes = std::fs::read(&table).unwrap();
        std::fs::create_dir_all(other.join(file).parent().unwrap()).unwrap();
        std::fs::write(other.join(file), &bytes[..bytes.len() / 2]).unwrap();
    }
    let refused = nasr()
        .args(["worker", "--study", &study, "--data-dir"])
        .arg(&other)
        .env("NASR_STORAGE", &url)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("is not the study's"),
        "{err}"
    );

    let held = worker(&url, &study, Some(60_000));
    wait_for(&url, &study, "1 running", Duration::from_secs(20));
    let asked_to_stop = Instant::now();
    signal(&held, "-TERM");
    let stopped = held.wait_with_output().unwrap();
    // 128 + SIGTERM: a scheduler counts the stopped worker as failed, and replaces it.
    assert_eq!(stopped.status.code(), Some(143));
    let said = String::from_utf8(stopped.stdout).unwrap();
    assert!(
        asked_to_stop.elapsed() < Duration::from_secs(10),
        "the worker took {:?} to stop",
        asked_to_stop.elapsed()
    );
    assert!(said.contains("trial 0 released"), "{said}");
    let now = status(&url, &study);
    assert!(now.contains("0 running, 0 failed, 1 stale"), "{now}");
    output(worker(&url, &study, None));
    let done = status(&url, &study);
    assert!(
        done.contains("5 of 5 trials complete, 0 running, 0 failed, 1 stale"),
        "{done}"
    );
    succeed(&["study", "delete", "--storage", &url, "--study", &study]);
    std::fs::remove_dir_all(&dir).unwrap();
}
