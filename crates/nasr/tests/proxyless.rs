//! `nasr search --strategy proxyless` as a user runs it, on real data (scikit-learn's digits,
//! a multiply-add target so that nothing depends on timing this machine): the run prints its
//! derived network and writes `best.json`, and `nasr plot alphas` draws one panel per layer
//! with the space's own option names.

mod common;

use common::{nasr, scratch};

#[test]
fn a_proxyless_search_runs_from_the_command_line_and_its_alphas_are_plotted() {
    let out = scratch("proxyless");
    let output = nasr()
        .args(["search", "--strategy", "proxyless", "--space", "proxyless"])
        .args(["--data", "sklearn-digits", "--target-flops", "20000"])
        .args(["--latency-loss", "add#linear", "--latency-lambda", "2"])
        .args(["--epochs", "2", "--warmup-epochs", "1", "--arch-every", "1"])
        .args([
            "--alpha-lr",
            "0.05",
            "--retrain-epochs",
            "0",
            "--recal-batches",
            "2",
        ])
        .args(["--seed", "0", "--no-progress", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("derived "), "{stdout}");
    let best: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("best.json")).unwrap()).unwrap();
    assert!(stdout.contains(best["arch"].as_str().unwrap()), "{stdout}");

    let status = nasr().args(["plot", "alphas"]).arg(&out).status().unwrap();
    assert!(status.success());
    let svg = std::fs::read_to_string(out.join("alphas.svg")).unwrap();
    // 13 layers; the residual ones offer skip.
    assert!(
        svg.contains("ProxylessNAS") && svg.contains("layer 12"),
        "no layer panels"
    );
    assert!(
        svg.contains("k7_e6") && svg.contains("skip"),
        "no option names"
    );
    let _ = std::fs::remove_dir_all(&out);
}
