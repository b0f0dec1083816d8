//! `nasr report` rendered by a real browser: small runs of every method on real data
//! (scikit-learn's digits, MNIST, the NAS-Bench-201 table), each run's page opened by headless
//! Chromium, whose DOM must hold the method's sections, each chart one mark per trial, epoch or
//! architecture of the run's records; a screenshot of a page is not blank. Also: a folder of
//! runs gets an index, a folder that is no run and a record from a newer nasr are refused.
//!
//! Chromium is `$NASR_CHROMIUM`, else `chromium` on the PATH (`.ci/run` installs Debian's);
//! `NASR_SKIP_BROWSER=1` skips the browser test where none can be installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fail, scratch, succeed};
use serde_json::Value;

const ARCH: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

fn run(args: &[&str]) {
    succeed(args);
}

fn digits(args: &[&str], out: &Path) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(
        [
            "--data",
            "sklearn-digits",
            "--seed",
            "0",
            "--no-progress",
            "--out",
        ]
        .map(String::from),
    );
    all.push(out.display().to_string());
    all
}

fn run_owned(args: Vec<String>) {
    run(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

fn epochs_of(metrics: &Path) -> usize {
    let m = read_json(metrics);
    match &m {
        Value::Array(epochs) => epochs.len(),
        other => other["epochs"].as_array().unwrap().len(),
    }
}

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NASR_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(PathBuf::from)
}

/// The page as headless Chromium's DOM after loading it.
fn rendered_dom(browser: &Path, page: &Path, profile: &Path) -> String {
    let output = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The marks inside the rendered figure `id`, and the count it says it holds.
fn figure_marks(dom: &str, id: &str) -> (usize, usize) {
    let start = dom
        .find(&format!(r#"<figure id="{id}""#))
        .unwrap_or_else(|| panic!("no figure {id} in the rendered page"));
    let end = start + dom[start..].find("</figure>").unwrap();
    let figure = &dom[start..end];
    let said: usize = figure
        .split("data-marks=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    (figure.matches(r#"class="mark""#).count(), said)
}

/// What one run's rendered page must hold: sections, and figures with their mark counts.
struct Expected {
    run: PathBuf,
    sections: Vec<&'static str>,
    figures: Vec<(&'static str, usize)>,
}

fn check(browser: &Path, profile: &Path, expected: &Expected) {
    run(&["report", expected.run.to_str().unwrap()]);
    let page = expected.run.join("report.html");
    let dom = rendered_dom(browser, &page, profile);
    for section in expected
        .sections
        .iter()
        .chain(&["run", "config", "artifacts"])
    {
        assert!(
            dom.contains(&format!(r#"<section id="{section}""#)),
            "{}: no section {section}",
            expected.run.display()
        );
    }
    for &(figure, marks) in &expected.figures {
        let (drawn, said) = figure_marks(&dom, figure);
        assert_eq!(
            (drawn, said),
            (marks, marks),
            "{}: figure {figure}",
            expected.run.display()
        );
    }
}

/// Small runs of every method, and what their pages must show.
fn runs(root: &Path) -> Vec<Expected> {
    let mut all = Vec::new();
    let train = root.join("train");
    run_owned(digits(
        &[
            "train",
            "--space",
            "nb201",
            "--arch",
            ARCH,
            "--epochs",
            "2",
            "--channels",
            "4",
            "--cells",
            "1",
            "--batch-size",
            "32",
        ],
        &train,
    ));
    all.push(Expected {
        figures: vec![("training-accuracy", 4), ("training-loss", 2)],
        sections: vec!["training", "architecture", "timings"],
        run: train,
    });

    let table = root.join("table");
    run(&[
        "search",
        "--space",
        "nb201",
        "--strategy",
        "rea",
        "--evaluator",
        "nb201",
        "--queries",
        "40",
        "--seed",
        "0",
        "--no-progress",
        "--out",
        table.to_str().unwrap(),
    ]);
    all.push(Expected {
        figures: vec![("best-so-far-chart", 40), ("trial-scores", 40)],
        sections: vec!["best-so-far", "architecture"],
        run: table,
    });

    let nsga2 = root.join("nsga2");
    run(&[
        "search",
        "--strategy",
        "nsga2",
        "--objective-device",
        "pixel3",
        "--queries",
        "40",
        "--seed",
        "0",
        "--no-progress",
        "--out",
        nsga2.to_str().unwrap(),
    ]);
    all.push(Expected {
        figures: vec![("pareto-front", 40)],
        sections: vec!["best-so-far", "pareto"],
        run: nsga2,
    });

    let rsws = root.join("rsws");
    run_owned(digits(
        &[
            "search",
            "--strategy",
            "rsws",
            "--channels",
            "4",
            "--cells",
            "1",
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--candidates",
            "5",
            "--recal-batches",
            "2",
        ],
        &rsws,
    ));
    all.push(Expected {
        figures: vec![("ranking-chart", 5), ("supernet-training-accuracy", 2)],
        sections: vec!["ranking", "supernet-training", "architecture"],
        run: rsws,
    });

    let asha = root.join("asha");
    run_owned(digits(
        &[
            "search",
            "--strategy",
            "asha",
            "--channels",
            "4",
            "--cells",
            "1",
            "--batch-size",
            "32",
            "--min-epochs",
            "1",
            "--max-epochs",
            "2",
            "--eta",
            "2",
            "--queries",
            "5",
            "--workers",
            "1",
        ],
        &asha,
    ));
    let asha_trials = lines(&asha.join("trials.jsonl"));
    all.push(Expected {
        figures: vec![("best-so-far-chart", asha_trials)],
        sections: vec!["best-so-far", "summary"],
        run: asha,
    });

    let fairnas = root.join("fairnas");
    run_owned(digits(
        &[
            "search",
            "--strategy",
            "fairnas",
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--queries",
            "12",
            "--recal-batches",
            "2",
        ],
        &fairnas,
    ));
    let fair_trials = lines(&fairnas.join("trials.jsonl"));
    all.push(Expected {
        figures: vec![
            ("pareto-front", fair_trials),
            ("supernet-training-accuracy", 2),
        ],
        sections: vec!["pareto", "supernet-training"],
        run: fairnas,
    });

    let darts = root.join("darts");
    run_owned(digits(
        &[
            "search",
            "--space",
            "nb201",
            "--strategy",
            "darts",
            "--order",
            "1",
            "--epochs",
            "2",
            "--channels",
            "4",
            "--cells",
            "1",
            "--batch-size",
            "32",
            "--alpha-lr",
            "0.03",
            "--retrain-epochs",
            "1",
        ],
        &darts,
    ));
    all.push(Expected {
        // 2 epochs x 6 edges; 2 epochs x 5 ops.
        figures: vec![
            ("alpha-edges", 12),
            ("alpha-ops", 10),
            ("retrain-training-accuracy", 2),
        ],
        sections: vec!["alphas", "pick", "retrain-training", "architecture"],
        run: darts,
    });

    let darts_space = root.join("darts-space");
    run_owned(digits(
        &[
            "search",
            "--space",
            "darts",
            "--strategy",
            "darts",
            "--train-subset",
            "300",
            "--epochs",
            "1",
            "--channels",
            "4",
            "--layers",
            "3",
            "--batch-size",
            "32",
            "--alpha-lr",
            "3e-3",
            "--retrain-epochs",
            "1",
        ],
        &darts_space,
    ));
    all.push(Expected {
        // 1 epoch x 28 edges (both cells); x 8 ops.
        figures: vec![("alpha-edges", 28), ("alpha-ops", 8)],
        sections: vec!["alphas", "pick", "architecture"],
        run: darts_space,
    });

    let proxyless = root.join("proxyless");
    run_owned(digits(
        &[
            "search",
            "--strategy",
            "proxyless",
            "--space",
            "proxyless",
            "--target-flops",
            "20000",
            "--latency-loss",
            "add#linear",
            "--latency-lambda",
            "2",
            "--epochs",
            "2",
            "--warmup-epochs",
            "1",
            "--arch-every",
            "1",
            "--alpha-lr",
            "0.05",
            "--retrain-epochs",
            "1",
            "--recal-batches",
            "2",
        ],
        &proxyless,
    ));
    let layers = read_json(&proxyless.join("best.json"))["arch"]
        .as_str()
        .unwrap()
        .split('-')
        .count();
    all.push(Expected {
        figures: vec![("alpha-layers", 2 * layers), ("expected-cost", 4)],
        sections: vec!["alphas", "pick", "retrain-training", "architecture"],
        run: proxyless,
    });

    let ofa = root.join("ofa");
    let ofa_config = root.join("ofa.toml");
    std::fs::write(
        &ofa_config,
        "method = \"ofa\"\n[space.ofa]\nresolutions = [6, 8]\n",
    )
    .unwrap();
    run_owned(digits(
        &[
            "search",
            "-c",
            ofa_config.to_str().unwrap(),
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--recal-batches",
            "2",
        ],
        &ofa,
    ));
    let phase_epochs: usize = read_json(&ofa.join("metrics.json"))
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["epochs"].as_array().unwrap().len())
        .sum();
    all.push(Expected {
        figures: vec![("phases-chart", phase_epochs)],
        sections: vec!["phases", "subnets", "architecture"],
        run: ofa,
    });

    let teacher = root.join("teacher");
    let teacher_config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spaces/dna-teacher.toml");
    run_owned(digits(
        &[
            "train",
            "-c",
            teacher_config,
            "--epochs",
            "1",
            "--batch-size",
            "32",
        ],
        &teacher,
    ));
    let dna = root.join("dna");
    run_owned(digits(
        &[
            "search",
            "--strategy",
            "dna",
            "--teacher",
            teacher.to_str().unwrap(),
            "--max-params",
            "1000000",
            "--block-epochs",
            "1",
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--score-batches",
            "2",
        ],
        &dna,
    ));
    let best = read_json(&dna.join("best.json"));
    let block_epochs: usize = best["block_losses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_array().unwrap().len())
        .sum();
    let candidates: usize = (0..best["block_losses"].as_array().unwrap().len())
        .map(|b| {
            read_json(&dna.join(format!("scores/block{b}.json")))
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    all.push(Expected {
        figures: vec![
            ("block-losses", block_epochs),
            ("block-ranking", candidates),
        ],
        sections: vec!["blocks", "pick", "retrain-training", "architecture"],
        run: dna,
    });

    let ftt = root.join("ftt");
    run_owned(digits(
        &[
            "search",
            "--strategy",
            "ftt",
            "--channels",
            "4",
            "--cells",
            "1",
            "--epochs",
            "1",
            "--fault",
            "mibb",
            "--fault-rate",
            "0.02",
            "--queries",
            "5",
            "--fault-draws",
            "1",
            "--retrain-epochs",
            "1",
        ],
        &ftt,
    ));
    let robustness = ftt.join("robustness.json");
    run(&[
        "robustness",
        ftt.join("retrain").to_str().unwrap(),
        "--fault",
        "mibb",
        "--rates",
        "0.01,0.05",
        "--draws",
        "1",
        "--out",
        robustness.to_str().unwrap(),
    ]);
    all.push(Expected {
        figures: vec![
            ("fault-scatter", 5),
            ("best-so-far-chart", 5),
            ("robustness-chart", 3),
        ],
        sections: vec![
            "fault-tolerance",
            "pick",
            "robustness",
            "retrain-training",
            "architecture",
        ],
        run: ftt,
    });

    let rank = root.join("rank-eval");
    run_owned(digits(
        &[
            "rank-eval",
            "--space",
            "nb201",
            "--archs",
            "4",
            "--epochs",
            "1",
            "--supernet-epochs",
            "1",
            "--channels",
            "4",
            "--cells",
            "1",
            "--batch-size",
            "32",
            "--recal-batches",
            "2",
        ],
        &rank,
    ));
    all.push(Expected {
        figures: vec![("rank-scatter", 4)],
        sections: vec!["ranking"],
        run: rank,
    });
    let compare = root.join("compare");
    run(&[
        "compare",
        "--methods",
        "rs,rsws",
        "--seeds",
        "2",
        "--data",
        "sklearn-digits",
        "--budget-epochs",
        "2",
        "--trial-epochs",
        "1",
        "--final-epochs",
        "1",
        "--candidates",
        "2",
        "--out",
        compare.to_str().unwrap(),
    ]);
    all.push(Expected {
        // 2 methods x 2 seeds.
        figures: vec![("compare-chart", 4)],
        sections: vec!["comparison"],
        run: compare,
    });
    // The counts above are the records' own, not the report's.
    assert_eq!(epochs_of(&all[0].run.join("metrics.json")), 2);
    all
}

#[test]
fn every_methods_report_renders_in_a_browser_with_its_sections_and_marks() {
    let Some(browser) = chromium() else {
        if std::env::var_os("NASR_SKIP_BROWSER").is_some() {
            eprintln!("NASR_SKIP_BROWSER is set and no Chromium was found: browser test skipped");
            return;
        }
        panic!(
            "no Chromium: install Debian's (`apt-get install chromium`), set NASR_CHROMIUM, \
             or set NASR_SKIP_BROWSER=1 to skip this test"
        );
    };
    let root = scratch("report");
    std::fs::create_dir_all(&root).unwrap();
    let profile = root.join("chromium-profile");
    let expected = runs(&root);
    for e in &expected {
        check(&browser, &profile, e);
    }

    // A run still training has no metrics.json yet: its curves come from the checkpoints.
    let training = root.join("train");
    std::fs::remove_file(training.join("metrics.json")).unwrap();
    check(
        &browser,
        &profile,
        &Expected {
            figures: vec![("training-accuracy", 4)],
            sections: vec!["training"],
            run: training,
        },
    );

    // A folder of runs: each run's page, and an index linking every one.
    run(&["report", root.to_str().unwrap()]);
    let index = rendered_dom(&browser, &root.join("report.html"), &profile);
    for e in &expected {
        let name = e.run.file_name().unwrap().to_str().unwrap();
        assert!(
            index.contains(&format!("{name}/report.html")),
            "index lacks {name}"
        );
    }

    // The screenshot of a page is not blank: many pixels differ from the background.
    let shot = root.join("darts.png");
    let status = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1000,1600")
        .arg(format!(
            "file://{}",
            root.join("darts/report.html").display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let image = image::open(&shot).unwrap().to_rgb8();
    let background = *image.get_pixel(image.width() - 1, image.height() - 1);
    let differing = image.pixels().filter(|p| **p != background).count();
    let fraction = differing as f64 / (image.width() * image.height()) as f64;
    assert!(
        fraction > 0.05,
        "only {fraction:.3} of the screenshot differs from its background"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_folder_that_is_no_run_and_a_newer_record_are_refused_by_name() {
    let empty = scratch("report-empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = fail(&["report", empty.to_str().unwrap()]);
    assert!(err.contains("is not a nasr run folder"), "{err}");

    let newer = scratch("report-newer");
    std::fs::create_dir_all(&newer).unwrap();
    std::fs::write(
        newer.join("config.toml"),
        format!("seed = 1\narch = \"{ARCH}\"\n"),
    )
    .unwrap();
    std::fs::write(
        newer.join("metrics.json"),
        r#"{"format_version": 9, "epochs": []}"#,
    )
    .unwrap();
    let err = fail(&["report", newer.to_str().unwrap()]);
    assert!(
        err.contains("metrics.json") && err.contains("format_version 9"),
        "{err}"
    );
    assert!(err.contains("newer than this nasr reads (1)"), "{err}");
    std::fs::remove_dir_all(&empty).unwrap();
    std::fs::remove_dir_all(&newer).unwrap();
}
