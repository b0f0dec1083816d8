//! Sections of multi-trial searches, read from their trials: the best-so-far curve, each
//! trial's score, the Pareto front of accuracy against a cost.

use nasr_search::{Fidelity, TrialRecord, TrialState};

use crate::html::Section;
use crate::svg::{LineChart, ScatterChart, ScatterPoint, Series, format_number};

/// The completed trials that have `metric`, in id order, with its value.
pub fn scored<'a>(trials: &'a [TrialRecord], metric: &str) -> Vec<(&'a TrialRecord, f64)> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| t.metrics.get(metric).map(|&v| (t, v)))
        .collect()
}

/// Trial `t`'s tooltip: its id, fidelity and architecture choices.
fn tooltip(t: &TrialRecord) -> String {
    let fidelity = match t.fidelity {
        Fidelity::Full => String::new(),
        Fidelity::Epochs(e) => format!(", {e} epochs"),
    };
    format!("trial {}{fidelity}: {:?}", t.id, t.arch.choices)
}

/// The best value of `metric` so far against the trial (figure `best-so-far`), and every
/// trial's value (figure `trial-scores`): one mark per completed trial in each.
pub fn best_so_far(trials: &[TrialRecord], metric: &str, label: &str) -> Option<Section> {
    let scored = scored(trials, metric);
    if scored.is_empty() {
        return None;
    }
    let mut best = f64::NEG_INFINITY;
    let curve: Vec<(f64, f64)> = scored
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            best = best.max(*v);
            ((i + 1) as f64, best)
        })
        .collect();
    let chart = LineChart {
        x_label: "trials completed".into(),
        y_label: format!("best {label} so far"),
        series: vec![Series {
            name: format!("best {label}"),
            points: curve,
        }],
        steps: true,
    };
    let each = ScatterChart {
        x_label: "trials completed".into(),
        y_label: label.into(),
        points: scored
            .iter()
            .enumerate()
            .map(|(i, (t, v))| ScatterPoint {
                x: (i + 1) as f64,
                y: *v,
                title: tooltip(t),
                highlight: *v == best,
            })
            .collect(),
        diagonal: false,
    };
    let running = trials
        .iter()
        .filter(|t| t.state == TrialState::Running)
        .count();
    let failed = trials
        .iter()
        .filter(|t| t.state == TrialState::Failed)
        .count();
    Some(
        Section::new("best-so-far", "Best so far")
            .text(&format!(
                "{} trials complete ({running} running, {failed} failed); best {label} {}.",
                scored.len(),
                format_number(best)
            ))
            .figure(
                "best-so-far-chart",
                &format!("best {label} against trials completed"),
                &chart.to_svg(),
                chart.marks(),
            )
            .figure(
                "trial-scores",
                &format!("each trial's {label} (the best in red)"),
                &each.to_svg(),
                each.marks(),
            ),
    )
}

/// Whether `a` dominates `b`: at least as accurate and as cheap, and better in one.
fn dominates(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 <= b.0 && a.1 >= b.1 && (a.0 < b.0 || a.1 > b.1)
}

/// The indices of the (cost, accuracy) points no other point dominates.
pub fn front(points: &[(f64, f64)]) -> Vec<bool> {
    points
        .iter()
        .map(|&p| !points.iter().any(|&q| dominates(q, p)))
        .collect()
}

/// Accuracy against `cost` of every completed trial, the Pareto front highlighted (figure
/// `pareto-front`): one mark per trial.
pub fn pareto(
    trials: &[TrialRecord],
    accuracy: &str,
    cost: &str,
    cost_label: &str,
) -> Option<Section> {
    let points: Vec<(&TrialRecord, (f64, f64))> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| Some((t, (*t.metrics.get(cost)?, *t.metrics.get(accuracy)?))))
        .collect();
    if points.is_empty() {
        return None;
    }
    let on_front = front(&points.iter().map(|(_, p)| *p).collect::<Vec<_>>());
    let chart = ScatterChart {
        x_label: cost_label.into(),
        y_label: accuracy.into(),
        points: points
            .iter()
            .zip(&on_front)
            .map(|((t, (c, a)), &f)| ScatterPoint {
                x: *c,
                y: *a,
                title: tooltip(t),
                highlight: f,
            })
            .collect(),
        diagonal: false,
    };
    let size = on_front.iter().filter(|&&f| f).count();
    Some(
        Section::new("pareto", "Pareto front")
            .text(&format!(
                "{} trials; {size} on the front of {accuracy} against {cost_label} (in red).",
                points.len()
            ))
            .figure(
                "pareto-front",
                &format!("{accuracy} against {cost_label}, one mark per trial"),
                &chart.to_svg(),
                chart.marks(),
            ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_keeps_exactly_the_undominated_points() {
        let points = [(1.0, 0.5), (2.0, 0.7), (2.0, 0.6), (3.0, 0.7), (0.5, 0.2)];
        assert_eq!(front(&points), vec![true, true, false, false, true]);
    }
}
