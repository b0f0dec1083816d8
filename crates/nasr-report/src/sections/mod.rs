//! The sections of each kind of run, assembled into its page's order: what ran, the
//! method's own charts, training curves, the architecture, timings, config and artifacts.

mod common;
mod oneshot;
pub mod search;
mod studies;

use serde_json::Value;

use crate::ReportError;
use crate::html::Section;
use crate::records::{RunFolder, RunKind, text};

/// The sections of `run`'s page.
pub fn sections(run: &RunFolder) -> Result<Vec<Section>, ReportError> {
    let best = run.json("best.json")?;
    let (space, arch) = pick(run, best.as_ref())?;
    let mut sections = vec![common::overview(run, arch.as_deref())?];
    sections.extend(method_sections(run, best.as_ref())?);
    let note = match run.kind {
        RunKind::Train => "",
        RunKind::Darts => "The supernet's (mixed) validation accuracy.",
        _ => "The supernet's validation accuracy, on one path.",
    };
    let title = if run.kind == RunKind::Train {
        "Training"
    } else {
        "Supernet training"
    };
    let id = if run.kind == RunKind::Train {
        "training"
    } else {
        "supernet-training"
    };
    sections.extend(common::training(id, title, &run.epochs()?, note));
    if let Some(retrain) = run.sub("retrain") {
        let note = "The pick, trained from scratch; the test accuracy is in Run.";
        sections.extend(common::training(
            "retrain-training",
            "Retraining",
            &retrain.epochs()?,
            note,
        ));
    }
    if let Some(arch) = &arch {
        sections.push(common::architecture(space.as_deref(), arch, "Architecture"));
    }
    sections.extend(common::timings(run)?);
    sections.push(common::config(run));
    sections.push(common::artifacts(run)?);
    Ok(sections)
}

/// The space and the architecture the run ends with: the one trained, or the search's pick.
fn pick(
    run: &RunFolder,
    best: Option<&Value>,
) -> Result<(Option<String>, Option<String>), ReportError> {
    let space = run
        .space()
        .or_else(|| (run.kind == RunKind::TableSearch).then(|| "nb201".to_string()));
    let from_best = best.and_then(|b| text(b, "/arch").or_else(|| text(b, "/best/arch")));
    let arch = match run.kind {
        RunKind::Train => run
            .json("metrics.json")?
            .and_then(|m| text(&m, "/arch"))
            .or_else(|| text(&run.config, "/arch")),
        RunKind::Rsws => run
            .json("metrics.json")?
            .and_then(|m| text(&m, "/best/arch"))
            .or(from_best),
        RunKind::Ofa => run
            .json("ofa.json")?
            .and_then(|r| text(&r, "/largest/arch")),
        _ => from_best,
    };
    // DARTS' best.json names the space it searched.
    let space = best.and_then(|b| text(b, "/space")).or(space);
    Ok((space, arch))
}

/// The sections only this kind of run has.
fn method_sections(run: &RunFolder, best: Option<&Value>) -> Result<Vec<Section>, ReportError> {
    let mut out = Vec::new();
    match run.kind {
        RunKind::Train => {
            if let Some(extract) = run.json("extract.json")? {
                out.push(Section::new("extract", "Cut out of a supernet").facts(&[
                    ("source", extract["source"].to_string()),
                    ("validation accuracy", extract["valid_accuracy"].to_string()),
                    ("test accuracy", extract["test_accuracy"].to_string()),
                ]));
            }
        }
        RunKind::TableSearch => {
            let trials = run.trials()?;
            out.extend(search::best_so_far(
                &trials,
                "accuracy",
                "test accuracy (%)",
            ));
            out.extend(search::pareto(
                &trials,
                "accuracy",
                "latency_ms",
                "latency (ms)",
            ));
        }
        RunKind::MultiFidelity => {
            let trials = run.trials()?;
            out.extend(search::best_so_far(
                &trials,
                "accuracy",
                "validation accuracy",
            ));
            if let Some(summary) = run.json("summary.json")? {
                out.push(summary_section(&summary));
            }
        }
        RunKind::Rsws => {
            let ranking = run.json("ranking.json")?.unwrap_or(Value::Null);
            out.extend(studies::rsws_ranking(
                ranking.as_array().map_or(&[], Vec::as_slice),
            ));
        }
        RunKind::FairNas => {
            let trials = run.trials()?;
            let has_latency = trials.iter().any(|t| t.metrics.contains_key("latency_ms"));
            let (cost, label) = if has_latency {
                ("latency_ms", "latency (ms)")
            } else {
                ("flops", "multiply-adds")
            };
            out.extend(search::best_so_far(
                &trials,
                "accuracy",
                "validation accuracy",
            ));
            out.extend(search::pareto(&trials, "accuracy", cost, label));
        }
        RunKind::Darts => {
            let relaxation = text(&run.config, "/relaxation").unwrap_or("softmax".into());
            out.extend(oneshot::darts_alphas(
                &run.json_lines("alphas.jsonl")?,
                &relaxation,
            ));
            if let Some(best) = best {
                out.push(pick_section(best));
            }
        }
        RunKind::Proxyless => {
            out.extend(oneshot::proxyless_alphas(&run.json_lines("alphas.jsonl")?));
            out.extend(best.map(oneshot::proxyless_pick));
        }
        RunKind::Ofa => {
            let phases = run.json("metrics.json")?.unwrap_or(Value::Null);
            out.extend(studies::ofa_phases(
                phases.as_array().map_or(&[], Vec::as_slice),
            ));
            out.extend(studies::ofa_subnets(run)?);
        }
        RunKind::Dna => {
            out.extend(studies::dna_blocks(run)?);
            if let Some(best) = best {
                out.push(pick_section(best));
            }
        }
        RunKind::Ftt => {
            let trials = run.trials()?;
            out.extend(search::best_so_far(&trials, "accuracy", "reward"));
            out.extend(studies::ftt_trials(&trials));
            out.extend(best.map(studies::ftt_retrained));
        }
        RunKind::RankEval => {
            out.extend(
                run.json("rank_eval.json")?
                    .as_ref()
                    .and_then(studies::rank_eval),
            );
        }
        RunKind::SamplingRank => {
            let result = run.json("sampling_rank.json")?;
            out.extend(result.as_ref().and_then(studies::sampling_rank));
        }
        RunKind::Compare => {
            let results = run.json("compare.json")?.unwrap_or(Value::Null);
            out.extend(studies::compare(
                results.as_array().map_or(&[], Vec::as_slice),
            ));
        }
    }
    if let Some(Value::Array(curves)) = run.json("robustness.json")? {
        out.extend(studies::robustness(&curves));
    }
    Ok(out)
}

/// The numbers of a record as a table of facts (scalars only).
fn scalar_facts(record: &Value, skip: &[&str]) -> Vec<(String, String)> {
    let Some(object) = record.as_object() else {
        return Vec::new();
    };
    object
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .filter_map(|(k, v)| {
            let shown = match v {
                Value::Number(n) => crate::svg::format_number(n.as_f64()?),
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.replace('_', " "), shown))
        })
        .collect()
}

fn facts_section(id: &str, title: &str, record: &Value, skip: &[&str]) -> Section {
    let facts = scalar_facts(record, skip);
    let facts: Vec<(&str, String)> = facts.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    Section::new(id, title).facts(&facts)
}

fn summary_section(summary: &Value) -> Section {
    let rungs = summary["rung_epochs"].to_string();
    facts_section("summary", "Rungs and promotions", summary, &["best"])
        .text(&format!("Rungs at {rungs} epochs."))
}

/// A search's `best.json` as the pick's numbers (its architecture is drawn apart).
fn pick_section(best: &Value) -> Section {
    facts_section("pick", "The pick", best, &["arch"])
}
