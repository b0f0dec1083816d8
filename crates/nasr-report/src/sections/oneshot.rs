//! Sections of one-shot searches: the architecture weights over the epochs (DARTS' softmax or
//! sigmoid of alpha per edge, ProxylessNAS' path probabilities per layer), and ProxylessNAS'
//! cost and latency.

use serde_json::Value;

use crate::html::Section;
use crate::records::number;
use crate::svg::{LineChart, ScatterChart, ScatterPoint, Series, format_number};
use nasr_space::darts::DARTS_OPS;
use nasr_space::nb201::NB201_OPS;

/// The rows (edges or layers) of weights of each epoch's record, under `key`.
fn weights(records: &[Value], key: &str) -> Vec<(f64, Vec<Vec<f64>>)> {
    records
        .iter()
        .filter_map(|r| {
            let epoch = r.get("epoch")?.as_f64()?;
            let rows = r.get(key)?.as_array()?;
            let rows = rows
                .iter()
                .map(|row| {
                    row.as_array()
                        .map(|v| v.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
                })
                .collect::<Option<Vec<Vec<f64>>>>()?;
            Some((epoch, rows))
        })
        .collect()
}

/// The largest weight of each row against the epoch, a series per row (figure `<id>`): one
/// mark per epoch and row.
fn strongest_per_row(epochs: &[(f64, Vec<Vec<f64>>)], row_name: &str, y_label: &str) -> LineChart {
    let rows = epochs.first().map_or(0, |(_, r)| r.len());
    LineChart {
        x_label: "epoch".into(),
        y_label: y_label.into(),
        series: (0..rows)
            .map(|row| Series {
                name: format!("{row_name} {row}"),
                points: epochs
                    .iter()
                    .map(|(epoch, r)| {
                        (
                            *epoch,
                            r[row].iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        )
                    })
                    .collect(),
            })
            .collect(),
        steps: false,
    }
}

/// DARTS: the mean weight of each op over the edges, and each edge's strongest weight,
/// against the epoch, from `alphas.jsonl`.
pub fn darts_alphas(records: &[Value], relaxation: &str) -> Option<Section> {
    let epochs = weights(records, "weights");
    let (_, first) = epochs.first()?;
    let ops: Vec<&str> = match first.first().map(Vec::len) {
        Some(5) => NB201_OPS.to_vec(),
        Some(8) => DARTS_OPS.to_vec(),
        _ => return None,
    };
    let by_op = LineChart {
        x_label: "epoch".into(),
        y_label: format!("mean {relaxation}(alpha) over edges"),
        series: ops
            .iter()
            .enumerate()
            .map(|(op, name)| Series {
                name: name.to_string(),
                points: epochs
                    .iter()
                    .map(|(epoch, rows)| {
                        let sum: f64 = rows.iter().map(|r| r[op]).sum();
                        (*epoch, sum / rows.len() as f64)
                    })
                    .collect(),
            })
            .collect(),
        steps: false,
    };
    let by_edge = strongest_per_row(&epochs, "edge", &format!("largest {relaxation}(alpha)"));
    let last = records.last()?;
    let derived = last.get("derived").and_then(Value::as_str).unwrap_or("");
    Some(
        Section::new("alphas", "Architecture weights")
            .text(&format!(
                "{} epochs of {} edges x {} ops; the last epoch derives {derived}.",
                epochs.len(),
                first.len(),
                ops.len()
            ))
            .figure(
                "alpha-ops",
                "each op's mean weight over the edges, per epoch",
                &by_op.to_svg(),
                by_op.marks(),
            )
            .figure(
                "alpha-edges",
                "each edge's largest weight, per epoch (1/ops when undecided)",
                &by_edge.to_svg(),
                by_edge.marks(),
            ),
    )
}

/// ProxylessNAS: each layer's largest path probability against the epoch, and the expected
/// cost where the run has a target, from `alphas.jsonl`.
pub fn proxyless_alphas(records: &[Value]) -> Option<Section> {
    let epochs = weights(records, "probabilities");
    let (_, first) = epochs.first()?;
    let by_layer = strongest_per_row(&epochs, "layer", "largest path probability");
    let mut section = Section::new("alphas", "Architecture weights")
        .text(&format!(
            "{} epochs of {} layers.",
            epochs.len(),
            first.len()
        ))
        .figure(
            "alpha-layers",
            "each layer's largest path probability, per epoch",
            &by_layer.to_svg(),
            by_layer.marks(),
        );
    let cost = |key: &str| -> Vec<(f64, f64)> {
        records
            .iter()
            .filter_map(|r| Some((number(r, "/epoch")?, number(r, &format!("/{key}"))?)))
            .collect()
    };
    let (expected, derived) = (cost("expected_cost"), cost("derived_cost"));
    if !expected.is_empty() {
        let chart = LineChart {
            x_label: "epoch".into(),
            y_label: "cost".into(),
            series: vec![
                Series {
                    name: "expected cost".into(),
                    points: expected,
                },
                Series {
                    name: "derived path's cost".into(),
                    points: derived,
                },
            ],
            steps: false,
        };
        section = section.figure(
            "expected-cost",
            "the expected cost of the sampled paths and the derived path's, per epoch",
            &chart.to_svg(),
            chart.marks(),
        );
    }
    Some(section)
}

/// ProxylessNAS' pick: its cost, and its latency predicted by the table against measured.
pub fn proxyless_pick(best: &Value) -> Section {
    let mut facts = Vec::new();
    for (label, pointer) in [
        ("cost", "/cost"),
        ("target", "/target"),
        ("FLOPs", "/flops"),
        ("parameters", "/params"),
        ("supernet validation accuracy", "/supernet_valid_accuracy"),
        ("retrained test accuracy", "/retrain_test_accuracy"),
        ("predicted latency (ms)", "/predicted_latency_ms"),
        ("measured latency (ms)", "/measured_latency_ms"),
    ] {
        if let Some(value) = best.pointer(pointer).filter(|v| !v.is_null()) {
            let shown = value
                .as_f64()
                .map(format_number)
                .unwrap_or_else(|| value.as_str().map_or(value.to_string(), str::to_string));
            facts.push((label, shown));
        }
    }
    let mut section = Section::new("pick", "The pick").facts(&facts);
    let predicted = number(best, "/predicted_latency_ms");
    let measured = number(best, "/measured_latency_ms");
    if let (Some(p), Some(m)) = (predicted, measured) {
        let chart = ScatterChart {
            x_label: "measured latency (ms)".into(),
            y_label: "predicted latency (ms)".into(),
            points: vec![ScatterPoint {
                x: m,
                y: p,
                title: "the pick".into(),
                highlight: true,
            }],
            diagonal: true,
        };
        section = section.figure(
            "latency",
            "the pick's latency: predicted by the latency table against measured",
            &chart.to_svg(),
            chart.marks(),
        );
    } else {
        section = section
            .text("No latency: the run had no latency table (its cost is FLOPs or parameters).");
    }
    section
}
