//! The sections every run's page has: what ran (config, data checksums, version), training
//! curves, the architecture drawn, timings and the artifacts.

use std::path::Path;

use serde_json::Value;

use crate::ReportError;
use crate::html::{Section, escape};
use crate::records::{Epoch, RunFolder, number, text};
use crate::svg::{LineChart, Series};

/// The run: its kind, space, seed, data and their checksums, the nasr that wrote it.
pub fn overview(run: &RunFolder, arch: Option<&str>) -> Result<Section, ReportError> {
    let mut facts = vec![
        ("method", run.kind.title().to_string()),
        ("folder", run.path.display().to_string()),
    ];
    if let Some(space) = run.space() {
        facts.push(("space", space));
    }
    if let Some(arch) = arch {
        facts.push(("architecture", arch.to_string()));
    }
    let seed = run
        .config
        .get("seed")
        .or_else(|| run.config.pointer("/run/seed"))
        .or_else(|| run.config.pointer("/supernet/seed"));
    if let Some(seed) = seed {
        facts.push(("seed", seed.to_string()));
    }
    let data = run
        .config
        .pointer("/data/name")
        .or_else(|| run.config.pointer("/run/data/name"))
        .or_else(|| run.config.pointer("/supernet/data/name"))
        .or_else(|| run.config.get("dataset"));
    if let Some(Value::String(name)) = data {
        facts.push(("dataset", name.clone()));
    }
    // The training record carries the data checksums and the nasr version: the run's own, or
    // its retraining's.
    let record = [Some(run.clone()), run.sub("retrain")]
        .into_iter()
        .flatten()
        .find_map(|r| {
            r.json("metrics.json")
                .ok()
                .flatten()
                .filter(Value::is_object)
        });
    if let Some(metrics) = record {
        for (label, pointer) in [
            ("train data sha256", "/data_sha256/train"),
            ("test data sha256", "/data_sha256/test"),
            ("nasr version", "/nasr_version"),
        ] {
            if let Some(value) = text(&metrics, pointer) {
                facts.push((label, value));
            }
        }
        if let Some(acc) = number(&metrics, "/test_accuracy") {
            facts.push(("test accuracy", format!("{acc:.4}")));
        }
        if let Some(p) = number(&metrics, "/parameters") {
            facts.push(("parameters", format!("{p}")));
        }
    }
    facts.push(("report by", format!("nasr {}", env!("CARGO_PKG_VERSION"))));
    Ok(Section::new("run", "Run").facts(&facts))
}

/// The resolved config, as written.
pub fn config(run: &RunFolder) -> Section {
    let name = if run.path.join("config.toml").is_file() {
        "config.toml"
    } else {
        "the experiment store's config"
    };
    Section::new("config", "Config")
        .text(&format!("{name}, as resolved (seed included):"))
        .code(&run.config_text)
}

/// Accuracy and loss against the epoch of `epochs`, as the figures `<id>-accuracy` and
/// `<id>-loss`; `None` without epochs.
pub fn training(id: &str, title: &str, epochs: &[Epoch], note: &str) -> Option<Section> {
    if epochs.is_empty() {
        return None;
    }
    let series = |name: &str, value: fn(&Epoch) -> f64| Series {
        name: name.into(),
        points: epochs.iter().map(|e| (e.epoch, value(e))).collect(),
    };
    let accuracy = LineChart {
        x_label: "epoch".into(),
        y_label: "accuracy".into(),
        series: vec![
            series("train accuracy", |e| e.train_accuracy),
            series("validation accuracy", |e| e.valid_accuracy),
        ],
        steps: false,
    };
    let loss = LineChart {
        x_label: "epoch".into(),
        y_label: "training loss".into(),
        series: vec![series("train loss", |e| e.train_loss)],
        steps: false,
    };
    let last = epochs.last().expect("not empty");
    Some(
        Section::new(id, title)
            .text(&format!(
                "{} epochs; last: train loss {:.4}, train accuracy {:.4}, validation accuracy \
                 {:.4}. {note}",
                epochs.len(),
                last.train_loss,
                last.train_accuracy,
                last.valid_accuracy
            ))
            .figure(
                &format!("{id}-accuracy"),
                "accuracy per epoch",
                &accuracy.to_svg(),
                accuracy.marks(),
            )
            .figure(
                &format!("{id}-loss"),
                "training loss per epoch",
                &loss.to_svg(),
                loss.marks(),
            ),
    )
}

/// The architecture drawn (or written, where it cannot be drawn).
pub fn architecture(space: Option<&str>, arch: &str, title: &str) -> Section {
    let section = Section::new("architecture", title);
    match space.and_then(|s| crate::arch::draw(s, arch)) {
        Some(svg) => section
            .html(&format!(r#"<div id="architecture-drawing">{svg}</div>"#))
            .code(arch),
        None => section.code(arch),
    }
}

/// The numbers of `timing.json` (seconds, and the kernel route).
pub fn timings(run: &RunFolder) -> Result<Option<Section>, ReportError> {
    let mut facts = Vec::new();
    for (prefix, folder) in [("", Some(run.clone())), ("retrain: ", run.sub("retrain"))] {
        let Some(folder) = folder else { continue };
        let Some(Value::Object(timing)) = folder.json("timing.json")? else {
            continue;
        };
        for (key, value) in timing {
            let shown = match &value {
                Value::Number(n) => format!("{:.2}", n.as_f64().unwrap_or(f64::NAN)),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            facts.push((format!("{prefix}{}", key.replace('_', " ")), shown));
        }
    }
    if facts.is_empty() {
        return Ok(None);
    }
    let facts: Vec<(&str, String)> = facts.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    Ok(Some(Section::new("timings", "Timings").facts(&facts)))
}

/// Links to the files of the run (relative to the page, which sits in the folder).
pub fn artifacts(run: &RunFolder) -> Result<Section, ReportError> {
    let mut files = Vec::new();
    collect_files(&run.path, Path::new(""), 0, &mut files)?;
    let mut html = String::from("<ul>");
    for (relative, bytes) in &files {
        let shown = relative.display().to_string();
        html.push_str(&format!(
            r#"<li><a href="{}">{}</a> ({})</li>"#,
            escape(&shown),
            escape(&shown),
            size(*bytes)
        ));
    }
    html.push_str("</ul>");
    Ok(Section::new("artifacts", "Artifacts")
        .text("The run folder's records and weights (checkpoint folders left out):")
        .html(&html))
}

/// Files under `folder`, two levels deep, skipping checkpoints and partial writes.
fn collect_files(
    folder: &Path,
    relative: &Path,
    depth: usize,
    out: &mut Vec<(std::path::PathBuf, u64)>,
) -> Result<(), ReportError> {
    let dir = folder.join(relative);
    let entries = std::fs::read_dir(&dir).map_err(|e| ReportError::io(&dir, e))?;
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "checkpoints" || name == "report.html" {
            continue;
        }
        let path = relative.join(&*name);
        let meta = entry
            .metadata()
            .map_err(|e| ReportError::io(entry.path(), e))?;
        if meta.is_dir() {
            if depth < 1 {
                collect_files(folder, &path, depth + 1, out)?;
            }
        } else {
            out.push((path, meta.len()));
        }
    }
    Ok(())
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
