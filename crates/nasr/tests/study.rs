//! A study shared by `nasr worker` processes through a real PostgreSQL server
//! (`$NASR_TEST_POSTGRES`, see `scripts/pg_test_server.sh`): four workers on REA over the
//! NAS-Bench-201 table, 3,000 trials; one killed with SIGKILL while it holds a trial and
//! restarted, one frozen (SIGSTOP) past the heartbeat timeout and woken: the held trials go
//! stale and are asked again, the woken worker's late tell is refused, every other trial
//! completes exactly once, and the study finishes.

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
