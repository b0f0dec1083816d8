//! What `nasr search` prints for each method's result.

use nasr_search::hardware_loss::CostKind;
use std::path::Path;

use anyhow::Result;
use nasr_methods::experiment::{ExperimentConfig, ExperimentResult};

/// Prints `result` of `experiment`, run into `out` (and draws FairNAS's front as front.svg).
pub fn result(experiment: &ExperimentConfig, result: &ExperimentResult, out: &Path) -> Result<()> {
    match (experiment, result) {
        (ExperimentConfig::Table(config), ExperimentResult::Table(best)) => {
            match best {
                Some(best) => {
                    println!(
                        "best {} (NB201 index {}, trial {})",
                        best.arch, best.index, best.trial
                    );
                    for (name, value) in &best.metrics {
                        println!("  {name} {value}");
                    }
                }
                None => println!(
                    "no feasible architecture found in {} queries",
                    config.queries
                ),
            }
            println!("run folder {}", out.display());
        }
        (
            _,
            ExperimentResult::Rsws {
                result,
                nb201_cifar10,
            },
        ) => {
            for epoch in &result.epochs {
                println!(
                    "supernet epoch {:>3}  train loss {:.4}  train acc {:.4}  random-path valid acc {:.4}",
                    epoch.epoch, epoch.train_loss, epoch.train_accuracy, epoch.valid_accuracy
                );
            }
            let best = &result.best;
            println!(
                "best of {} candidates: {} (NB201 index {})",
                result.candidates, best.arch, best.index
            );
            println!(
                "  supernet validation accuracy {:.4}",
                best.supernet_valid_accuracy
            );
            // For orientation only: the table was measured on CIFAR-10, not on this data.
            if let Some(accuracy) = nb201_cifar10 {
                println!("  NAS-Bench-201 CIFAR-10 test accuracy of this cell: {accuracy:.2}%");
            }
            println!("run folder {}", out.display());
        }
        (_, ExperimentResult::MultiFidelity(summary)) => {
            println!(
                "rungs {:?} epochs; {} architectures started, {} stopped early; {} epochs trained in all",
                summary.rung_epochs, summary.started, summary.stopped_early, summary.epochs_trained
            );
            match &summary.best {
                Some(best) => {
                    println!(
                        "best {} (NB201 index {}), {} epochs",
                        best.arch, best.index, best.epochs
                    );
                    println!(
                        "  valid accuracy {:.4}, test accuracy {:.4}",
                        best.valid_accuracy, best.test_accuracy
                    );
                }
                None => println!("no trial finished"),
            }
            println!("run folder {}", out.display());
        }
        (
            ExperimentConfig::Fairnas(config) | ExperimentConfig::Spos(config),
            ExperimentResult::FairNas(result),
        ) => fairnas(config, result, experiment.method(), out)?,
        (_, ExperimentResult::Darts(result)) => {
            match result.index {
                Some(index) => println!(
                    "derived {} (NB201 index {index}, {} skip connection(s))",
                    result.arch, result.skip_count
                ),
                None => println!(
                    "derived {}\n({} skip connection(s) in the normal cell)",
                    result.arch, result.skip_count
                ),
            }
            println!(
                "supernet validation accuracy {:.4}",
                result.supernet_valid_accuracy
            );
            if let Some(accuracy) = result.nb201_cifar10 {
                println!(
                    "NAS-Bench-201 CIFAR-10 test accuracy of this cell: {accuracy:.2}% (searched on other data)"
                );
            }
            if let (Some(accuracy), Some(parameters)) =
                (result.retrain_test_accuracy, result.retrain_parameters)
            {
                println!(
                    "retrained from scratch: test accuracy {accuracy:.4} ({parameters} parameters)"
                );
            }
            println!(
                "run folder {} (alphas.jsonl, best.json, retrain/)",
                out.display()
            );
        }
        (_, ExperimentResult::Proxyless(result)) => {
            println!("derived {}", result.arch);
            let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.4} ms"));
            match (result.target, result.cost) {
                (Some(target), CostKind::Latency) => println!("latency target {target} ms"),
                (Some(target), cost) => println!("target {target} {}", cost.unit()),
                (None, _) => println!("no hardware target (accuracy alone)"),
            }
            println!(
                "latency: predicted {}, measured {} ({} multiply-adds, {} parameters)",
                ms(result.predicted_latency_ms),
                ms(result.measured_latency_ms),
                result.flops,
                result.params
            );
            println!(
                "supernet validation accuracy of the derived path {:.4}",
                result.supernet_valid_accuracy
            );
            if let Some(accuracy) = result.retrain_test_accuracy {
                println!("retrained from scratch: test accuracy {accuracy:.4}");
            }
            println!(
                "run folder {} (alphas.jsonl, best.json, retrain/)",
                out.display()
            );
        }
        (_, ExperimentResult::Ofa(result)) => {
            for (which, subnet) in [("smallest", &result.smallest), ("largest", &result.largest)] {
                println!(
                    "{which} sub-network {}: validation accuracy {:.4} without retraining \
                     ({} multiply-adds, {} parameters)",
                    subnet.arch, subnet.valid_accuracy, subnet.flops, subnet.params
                );
            }
            println!(
                "run folder {} (phases/, metrics.json, supernet.safetensors, ofa.json)",
                out.display()
            );
        }
        (_, ExperimentResult::Dna(result)) => dna(result, out),
        (_, ExperimentResult::Ftt(result)) => ftt(result, out),
        (_, ExperimentResult::Train(metrics)) => crate::train::print_metrics(metrics, out),
        (experiment, _) => anyhow::bail!(
            "internal: a {} experiment returned another method's result",
            experiment.method()
        ),
    }
    Ok(())
}

/// A FairNAS or SPOS run: its front (against multiply-adds, or the table's latency), the pick
/// within a latency budget, and the front's chart `front.svg`.
fn fairnas(
    config: &nasr_methods::fairnas::FairNasConfig,
    result: &nasr_methods::fairnas::FairNasResult,
    method: &str,
    out: &Path,
) -> Result<()> {
    let latency = config.latency_table.is_some();
    let mut front = result.front.clone();
    front.sort_by(|a, b| cost_of(a, latency).total_cmp(&cost_of(b, latency)));
    println!(
        "Pareto front: {} architectures (supernet validation accuracy vs {})",
        front.len(),
        if latency {
            "the table's latency"
        } else {
            "multiply-adds"
        }
    );
    for member in &front {
        let latency = member
            .latency_ms
            .map_or(String::new(), |ms| format!("  {ms:.4} ms"));
        println!(
            "  {:>10} MACs  {:>7} params{latency}  acc {:.4}  {}",
            member.flops, member.params, member.supernet_valid_accuracy, member.arch
        );
    }
    let points: Vec<(f64, f64)> = front
        .iter()
        .map(|m| (cost_of(m, latency), m.supernet_valid_accuracy))
        .collect();
    let svg = out.join("front.svg");
    crate::plot::pareto(
        &points,
        &format!("{method} on the MobileNet space"),
        if latency {
            "predicted latency (ms)"
        } else {
            "multiply-adds (millions)"
        },
        &svg,
    )?;
    match (&result.pick, config.max_latency_ms) {
        (Some(pick), _) => {
            println!(
                "pick within {} ms: {}",
                pick.max_latency_ms, pick.member.arch
            );
            println!(
                "  latency: predicted {:.4} ms, measured {:.4} ms; supernet accuracy {:.4}",
                pick.member.latency_ms.unwrap_or(f64::NAN),
                pick.measured_latency_ms,
                pick.member.supernet_valid_accuracy
            );
        }
        (None, Some(max)) => println!("no architecture evaluated fits within {max} ms"),
        (None, None) => {}
    }
    println!(
        "retrain one with: nasr train --space {} --arch ARCH --data {} ...",
        config.space.name(),
        config.data.name
    );
    println!("run folder {} (front.json, front.svg)", out.display());
    Ok(())
}

/// A front member's cost on the front's axis: the table's latency in ms, or millions of
/// multiply-adds.
fn cost_of(member: &nasr_methods::fairnas::FrontMember, latency: bool) -> f64 {
    match member.latency_ms {
        Some(ms) if latency => ms,
        _ => member.flops as f64 / 1e6,
    }
}

/// A DNA search: the pick, its cost against the budget, its block scores and its retraining.
fn dna(result: &nasr_methods::dna::DnaResult, out: &std::path::Path) {
    let unit = result.cost_kind.unit();
    println!("arch {}", result.arch);
    println!(
        "cost {} {unit} of a budget of {} {unit}; {} multiply-adds, {} parameters",
        result.cost, result.budget, result.flops, result.params
    );
    let scores: Vec<String> = result
        .block_scores
        .iter()
        .map(|s| format!("{s:.4}"))
        .collect();
    println!(
        "summed block score {:.4} (blocks {})",
        result.score,
        scores.join(", ")
    );
    println!(
        "retrained from scratch: validation accuracy {:.4}, test accuracy {:.4}",
        result.valid_accuracy, result.test_accuracy
    );
    println!(
        "run folder {} (blocks/, scores/block<i>.json, retrain/, best.json)",
        out.display()
    );
}

/// An FTT-NAS run: the pick's supernet scores, and its retraining clean and under faults.
fn ftt(result: &nasr_methods::ftt::FttResult, out: &std::path::Path) {
    let best = &result.best;
    println!("arch {}", best.arch);
    println!(
        "supernet path after {} trials: reward {:.4}, validation accuracy clean {:.4}, under \
         faults {:.4} +- {:.4}",
        result.trials,
        best.reward,
        best.accuracy_clean,
        best.accuracy_faulty,
        best.accuracy_faulty_sd
    );
    if let Some(retrained) = &result.retrained {
        let faulty = &retrained.test_accuracy_faulty;
        println!(
            "retrained fault-tolerantly ({} parameters): test accuracy clean {:.4}, under faults \
             {:.4} +- {:.4} over {} draws",
            retrained.parameters,
            retrained.test_accuracy,
            faulty.mean,
            faulty.sd,
            faulty.draws.len()
        );
    }
    println!(
        "run folder {} (supernet.safetensors, trials.jsonl, retrain/, best.json)",
        out.display()
    );
}
