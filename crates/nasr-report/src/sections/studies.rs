//! Sections of the studies and of the methods with their own records: rank evaluation,
//! method comparison, Once-for-All's phases and predictor, DNA's blocks, FTT-NAS' rewards
//! and robustness curves, RSWS' ranking.

use serde_json::Value;

use crate::ReportError;
use crate::html::Section;
use crate::records::{RunFolder, number, text};
use crate::svg::{LineChart, ScatterChart, ScatterPoint, Series, format_number};

fn array<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// RSWS: every candidate's supernet validation accuracy, best first (figure `ranking`).
pub fn rsws_ranking(ranking: &[Value]) -> Option<Section> {
    let points: Vec<ScatterPoint> = ranking
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            Some(ScatterPoint {
                x: (i + 1) as f64,
                y: number(r, "/supernet_valid_accuracy")?,
                title: text(r, "/arch").unwrap_or_default(),
                highlight: i == 0,
            })
        })
        .collect();
    if points.is_empty() {
        return None;
    }
    let chart = ScatterChart {
        x_label: "rank".into(),
        y_label: "supernet validation accuracy".into(),
        points,
        diagonal: false,
    };
    Some(
        Section::new("ranking", "Candidates ranked by the supernet")
            .text(&format!("{} candidates, the pick in red.", chart.marks()))
            .figure(
                "ranking-chart",
                "each candidate's validation accuracy with inherited weights",
                &chart.to_svg(),
                chart.marks(),
            ),
    )
}

/// Rank evaluation: supernet against standalone accuracy per architecture, and the
/// correlations.
pub fn rank_eval(result: &Value) -> Option<Section> {
    let scored = array(result, "/scored");
    let chart = ScatterChart {
        x_label: "standalone validation accuracy".into(),
        y_label: "supernet validation accuracy".into(),
        points: scored
            .iter()
            .filter_map(|s| {
                Some(ScatterPoint {
                    x: number(s, "/standalone_valid_accuracy")?,
                    y: number(s, "/supernet_valid_accuracy")?,
                    title: text(s, "/arch").unwrap_or_default(),
                    highlight: false,
                })
            })
            .collect(),
        diagonal: false,
    };
    if chart.points.is_empty() {
        return None;
    }
    let corr = |pointer: &str| -> String {
        match (
            number(result, &format!("{pointer}/kendall_tau")),
            number(result, &format!("{pointer}/spearman_rho")),
        ) {
            (Some(t), Some(r)) => format!("Kendall tau {t:.3}, Spearman rho {r:.3}"),
            _ => "undefined (ties, or no table)".into(),
        }
    };
    Some(
        Section::new("ranking", "How the supernet ranks")
            .facts(&[
                ("architectures", chart.marks().to_string()),
                ("supernet vs standalone", corr("/supernet_vs_standalone")),
                ("supernet vs NB201 table", corr("/supernet_vs_table")),
                ("standalone vs NB201 table", corr("/standalone_vs_table")),
            ])
            .figure(
                "rank-scatter",
                "one mark per architecture",
                &chart.to_svg(),
                chart.marks(),
            ),
    )
}

/// Sampling rank evaluation: each supernet's accuracy of the architectures against their
/// standalone accuracy, and the summary per method.
pub fn sampling_rank(result: &Value) -> Option<Section> {
    let standalone: Vec<f64> = array(result, "/standalone")
        .iter()
        .filter_map(|s| number(s, "/valid_accuracy"))
        .collect();
    let mut points = Vec::new();
    for net in array(result, "/supernets") {
        let name = format!(
            "{} seed {}",
            text(net, "/sampling").unwrap_or_default(),
            number(net, "/seed").unwrap_or(f64::NAN)
        );
        for (i, acc) in array(net, "/supernet_valid_accuracy").iter().enumerate() {
            if let (Some(y), Some(&x)) = (acc.as_f64(), standalone.get(i)) {
                points.push(ScatterPoint {
                    x,
                    y,
                    title: format!("{name}, architecture {i}"),
                    highlight: name.starts_with("strict_fair"),
                });
            }
        }
    }
    let rows: Vec<[String; 3]> = array(result, "/summary")
        .iter()
        .map(|s| {
            let pair = |m: &str, sd: &str| {
                format!(
                    "{} +- {}",
                    format_number(number(s, m).unwrap_or(f64::NAN)),
                    format_number(number(s, sd).unwrap_or(f64::NAN))
                )
            };
            [
                text(s, "/method").unwrap_or_default(),
                pair("/kendall_tau_mean", "/kendall_tau_sd"),
                pair("/spearman_rho_mean", "/spearman_rho_sd"),
            ]
        })
        .collect();
    let chart = ScatterChart {
        x_label: "standalone validation accuracy".into(),
        y_label: "supernet validation accuracy".into(),
        points,
        diagonal: false,
    };
    Some(
        Section::new("ranking", "How each supernet ranks")
            .table(&["method", "Kendall tau", "Spearman rho"], &rows)
            .figure(
                "rank-scatter",
                "one mark per supernet and architecture (fair sampling in red)",
                &chart.to_svg(),
                chart.marks(),
            ),
    )
}

/// Method comparison: every seed's final test accuracy per method, and their mean and sd.
pub fn compare(results: &[Value]) -> Option<Section> {
    let mut points = Vec::new();
    let mut rows = Vec::new();
    for (m, method) in results.iter().enumerate() {
        let name = text(method, "/method").unwrap_or_default();
        for (s, acc) in array(method, "/test_accuracy").iter().enumerate() {
            if let Some(y) = acc.as_f64() {
                points.push(ScatterPoint {
                    x: (m + 1) as f64,
                    y,
                    title: format!("{name}, seed {s}"),
                    highlight: false,
                });
            }
        }
        rows.push([
            format!("{} ({})", m + 1, name),
            format!(
                "{:.4} +- {:.4}",
                number(method, "/mean").unwrap_or(f64::NAN),
                number(method, "/std").unwrap_or(f64::NAN)
            ),
        ]);
    }
    let chart = ScatterChart {
        x_label: "method (numbered as in the table)".into(),
        y_label: "final test accuracy".into(),
        points,
        diagonal: false,
    };
    Some(
        Section::new("comparison", "Methods at equal budget")
            .table(&["method", "test accuracy, mean +- sd"], &rows)
            .figure(
                "compare-chart",
                "one mark per method and seed",
                &chart.to_svg(),
                chart.marks(),
            ),
    )
}

/// Once-for-All: each phase's validation accuracy (of its largest sub-network) against the
/// epoch counted over all phases, a series per phase.
pub fn ofa_phases(phases: &[Value]) -> Option<Section> {
    let mut epoch = 0.0;
    let mut series = Vec::new();
    for phase in phases {
        let name = text(phase, "/phase").unwrap_or_default();
        let points = array(phase, "/epochs")
            .iter()
            .filter_map(|e| {
                epoch += 1.0;
                Some((epoch, number(e, "/valid_accuracy")?))
            })
            .collect();
        series.push(Series { name, points });
    }
    let chart = LineChart {
        x_label: "epoch (all phases)".into(),
        y_label: "validation accuracy".into(),
        series,
        steps: false,
    };
    if chart.marks() == 0 {
        return None;
    }
    Some(
        Section::new("phases", "Progressive shrinking")
            .text(&format!(
                "{} phases, {} epochs; validation accuracy of each phase's largest sub-network.",
                phases.len(),
                chart.marks()
            ))
            .figure(
                "phases-chart",
                "one mark per epoch",
                &chart.to_svg(),
                chart.marks(),
            ),
    )
}

/// Once-for-All: the smallest and largest sub-network, and the accuracy predictor's pairs
/// and quality where `nasr ofa predictor` has run.
pub fn ofa_subnets(run: &RunFolder) -> Result<Option<Section>, ReportError> {
    let Some(result) = run.json("ofa.json")? else {
        return Ok(None);
    };
    let rows: Vec<[String; 5]> = ["smallest", "largest"]
        .iter()
        .map(|which| {
            let s = |key: &str| format!("/{which}/{key}");
            [
                which.to_string(),
                text(&result, &s("arch")).unwrap_or_default(),
                format!(
                    "{:.4}",
                    number(&result, &s("valid_accuracy")).unwrap_or(f64::NAN)
                ),
                format_number(number(&result, &s("flops")).unwrap_or(f64::NAN)),
                format_number(number(&result, &s("params")).unwrap_or(f64::NAN)),
            ]
        })
        .collect();
    let mut section = Section::new("subnets", "Sub-networks without retraining").table(
        &[
            "",
            "architecture",
            "validation accuracy",
            "FLOPs",
            "parameters",
        ],
        &rows,
    );
    let pairs = run.json_lines("predictor/pairs.jsonl")?;
    let points: Vec<ScatterPoint> = pairs
        .iter()
        .filter_map(|p| {
            let arch = text(p, "/arch")?;
            let resolution = arch.strip_prefix('r')?.split('|').next()?.parse().ok()?;
            Some(ScatterPoint {
                x: resolution,
                y: number(p, "/accuracy")?,
                title: arch,
                highlight: false,
            })
        })
        .collect();
    if !points.is_empty() {
        let chart = ScatterChart {
            x_label: "input resolution".into(),
            y_label: "measured validation accuracy".into(),
            points,
            diagonal: false,
        };
        section = section.figure(
            "predictor-pairs",
            "the accuracy predictor's measured pairs, one mark per sub-network",
            &chart.to_svg(),
            chart.marks(),
        );
    }
    if let Some(q) = run.json("predictor/quality.json")? {
        section = section.facts(&[
            (
                "predictor RMSE (points)",
                format_number(number(&q, "/rmse_points").unwrap_or(f64::NAN)),
            ),
            (
                "predictor Kendall tau",
                format_number(number(&q, "/kendall_tau").unwrap_or(f64::NAN)),
            ),
            (
                "FLOPs' Kendall tau",
                format_number(number(&q, "/flops_kendall_tau").unwrap_or(f64::NAN)),
            ),
        ]);
    }
    Ok(Some(section))
}

/// DNA: each block's distillation loss per epoch, and each block's candidates by score.
pub fn dna_blocks(run: &RunFolder) -> Result<Option<Section>, ReportError> {
    let mut losses = Vec::new();
    let mut scores = Vec::new();
    for block in 0.. {
        let (loss, score) = (
            run.json(&format!("blocks/block{block}.json"))?,
            run.json(&format!("scores/block{block}.json"))?,
        );
        if loss.is_none() && score.is_none() {
            break;
        }
        if let Some(Value::Array(values)) = loss {
            losses.push(Series {
                name: format!("block {block}"),
                points: values
                    .iter()
                    .enumerate()
                    .filter_map(|(e, v)| Some(((e + 1) as f64, v.as_f64()?)))
                    .collect(),
            });
        }
        if let Some(Value::Array(candidates)) = score {
            for (rank, c) in candidates.iter().enumerate() {
                if let Some(y) = number(c, "/score") {
                    scores.push(ScatterPoint {
                        x: block as f64 + rank as f64 / candidates.len().max(1) as f64,
                        y,
                        title: format!("block {block}: {}", c["layers"]),
                        highlight: rank == 0,
                    });
                }
            }
        }
    }
    if losses.is_empty() && scores.is_empty() {
        return Ok(None);
    }
    let loss_chart = LineChart {
        x_label: "block epoch".into(),
        y_label: "distillation loss".into(),
        series: losses,
        steps: false,
    };
    let score_chart = ScatterChart {
        x_label: "block (candidates best first)".into(),
        y_label: "score (lower is better)".into(),
        points: scores,
        diagonal: false,
    };
    Ok(Some(
        Section::new("blocks", "Blockwise distillation")
            .figure(
                "block-losses",
                "each block's loss against the teacher, one mark per epoch",
                &loss_chart.to_svg(),
                loss_chart.marks(),
            )
            .figure(
                "block-ranking",
                "every candidate of every block by its score (each block's best in red)",
                &score_chart.to_svg(),
                score_chart.marks(),
            ),
    ))
}

/// FTT-NAS: each trial's clean against faulty accuracy (figure `fault-tolerance`).
pub fn ftt_trials(trials: &[nasr_search::TrialRecord]) -> Option<Section> {
    let scored = crate::sections::search::scored(trials, "accuracy_faulty");
    let chart = ScatterChart {
        x_label: "clean validation accuracy".into(),
        y_label: "validation accuracy under faults".into(),
        points: scored
            .iter()
            .filter_map(|(t, faulty)| {
                Some(ScatterPoint {
                    x: *t.metrics.get("accuracy_clean")?,
                    y: *faulty,
                    title: format!("trial {}: reward {:.4}", t.id, t.metrics.get("accuracy")?),
                    highlight: false,
                })
            })
            .collect(),
        diagonal: true,
    };
    if chart.points.is_empty() {
        return None;
    }
    Some(
        Section::new("fault-tolerance", "Clean against faulty")
            .text("Each trial's path with the supernet's weights, without and with the faults.")
            .figure(
                "fault-scatter",
                "one mark per trial",
                &chart.to_svg(),
                chart.marks(),
            ),
    )
}

/// FTT-NAS: the retrained pick's test accuracy, clean and under faults.
pub fn ftt_retrained(best: &Value) -> Section {
    let draws: Vec<String> = array(best, "/retrained/test_accuracy_faulty/draws")
        .iter()
        .filter_map(Value::as_f64)
        .map(|d| format!("{d:.4}"))
        .collect();
    let f = |p: &str| number(best, p).map_or("-".into(), |v| format!("{v:.4}"));
    Section::new("pick", "The pick").facts(&[
        ("architecture", text(best, "/best/arch").unwrap_or_default()),
        ("reward", f("/best/reward")),
        ("supernet accuracy, clean", f("/best/accuracy_clean")),
        ("supernet accuracy, faulty", f("/best/accuracy_faulty")),
        (
            "retrained test accuracy, clean",
            f("/retrained/test_accuracy"),
        ),
        (
            "retrained test accuracy, faulty (mean)",
            f("/retrained/test_accuracy_faulty/mean"),
        ),
        (
            "retrained test accuracy, faulty (sd)",
            f("/retrained/test_accuracy_faulty/sd"),
        ),
        ("faulty draws", draws.join(", ")),
    ])
}

/// Robustness curves (`nasr robustness --out RUN/robustness.json`): test accuracy against the
/// fault rate per network, one mark per rate (the clean accuracy at rate 0 included).
pub fn robustness(curves: &[Value]) -> Option<Section> {
    let series: Vec<Series> = curves
        .iter()
        .map(|c| Series {
            name: format!(
                "{} ({})",
                text(c, "/run").unwrap_or_default(),
                text(c, "/arch").unwrap_or_default()
            ),
            points: std::iter::once((0.0, number(c, "/clean_accuracy").unwrap_or(f64::NAN)))
                .chain(
                    array(c, "/points")
                        .iter()
                        .filter_map(|p| Some((number(p, "/rate")?, number(p, "/accuracy/mean")?))),
                )
                .collect(),
        })
        .collect();
    let rate = curves.first().and_then(|c| text(c, "/rate_name"))?;
    let chart = LineChart {
        x_label: rate,
        y_label: "test accuracy".into(),
        series,
        steps: false,
    };
    Some(Section::new("robustness", "Robustness").figure(
        "robustness-chart",
        "test accuracy against the fault rate (mean over the draws)",
        &chart.to_svg(),
        chart.marks(),
    ))
}
