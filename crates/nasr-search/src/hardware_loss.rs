//! ProxylessNAS's hardware term (Cai, Zhu and Han, ICLR 2019; its code's `expected_latency` and
//! loss forms): the expected cost of a supernet whose layers choose options with probabilities,
//! and the two ways the code adds it to the cross-entropy, plus TuNAS's absolute form, the one
//! that holds a target from both sides.
//!
//! E[cost] = fixed + sum over layers of sum_j p_j cost(option j), linear in each layer's p;
//! skip costs 0. Its gradient with respect to a layer's architecture parameters is the softmax
//! Jacobian applied to `dL/dE * cost_j`, which
//! `nasr_nn::supernet::gated::alpha_gradient` computes alongside the gates' part.
//!
//! Costs are latency from a [`LatencyTable`] in **microseconds** (so that `mul#log`'s logarithms
//! of expected and target latency are positive for any network slower than 1 us: small
//! networks here run in about a millisecond, where `log` of milliseconds would be negative and
//! reverse the penalty), or multiply-adds, or parameters.

use nasr_space::mobilenet::{MobileNetSpace, ModelCost};
use nasr_space::{Arch, Space};

use serde::{Deserialize, Serialize};

use crate::SearchError;
use crate::latency::LatencyTable;

/// What a hardware cost counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostKind {
    /// Latency from a measured table, in microseconds.
    Latency,
    /// Multiply-adds of one image's forward pass.
    Flops,
    /// Trained parameters.
    Params,
}

impl CostKind {
    /// The unit of its figures.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Latency => "us",
            Self::Flops => "multiply-adds",
            Self::Params => "parameters",
        }
    }
}

/// Every layer option's cost in one space, and what every architecture pays.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerCosts {
    /// What the figures count.
    pub kind: CostKind,
    /// Stem, head, classifier (and a latency table's fitted overhead).
    pub fixed: f64,
    /// `options[layer][option]`, in the space's option order; 0 for skip.
    pub options: Vec<Vec<f64>>,
}

impl LayerCosts {
    /// Latency from `table` (measured for `space`), in microseconds; a missing key is an error
    /// naming it.
    pub fn latency(table: &LatencyTable, space: &MobileNetSpace) -> Result<Self, SearchError> {
        let options = (0..space.decisions().len())
            .map(|layer| {
                (0..space.decisions()[layer].options.len())
                    .map(|option| Ok(1e3 * table.layer_ms(space, layer, option)?))
                    .collect::<Result<Vec<_>, SearchError>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            kind: CostKind::Latency,
            fixed: 1e3 * (table.fixed_ms(space)? + table.overhead_ms),
            options,
        })
    }

    /// Multiply-adds per image, as the space counts them.
    pub fn flops(space: &MobileNetSpace) -> Self {
        Self::counted(space, CostKind::Flops, |cost| cost.flops as f64)
    }

    /// Trained parameters, as the space counts them.
    pub fn params(space: &MobileNetSpace) -> Self {
        Self::counted(space, CostKind::Params, |cost| cost.params as f64)
    }

    fn counted(space: &MobileNetSpace, kind: CostKind, figure: fn(ModelCost) -> f64) -> Self {
        let options = (0..space.decisions().len())
            .map(|layer| {
                (0..space.decisions()[layer].options.len())
                    .map(|option| figure(space.block_cost(layer, option)))
                    .collect()
            })
            .collect();
        Self {
            kind,
            fixed: figure(space.fixed_cost()),
            options,
        }
    }

    /// The cost of one architecture: the fixed part plus its options' costs.
    pub fn of(&self, arch: &Arch) -> f64 {
        self.fixed
            + arch
                .choices
                .iter()
                .zip(&self.options)
                .map(|(&option, costs)| costs[option])
                .sum::<f64>()
    }

    /// E[cost] under per-layer distributions: `layers[l]` lists `(option, probability)` for
    /// layer `l` (every option with softmax(alpha), or the pair with q in `two` mode).
    pub fn expected(&self, layers: &[Vec<(usize, f64)>]) -> f64 {
        self.fixed
            + layers
                .iter()
                .zip(&self.options)
                .map(|(distribution, costs)| {
                    distribution.iter().map(|&(o, p)| p * costs[o]).sum::<f64>()
                })
                .sum::<f64>()
    }
}

/// How the expected cost E enters the loss, with the target T (both in the cost's unit).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CostLoss {
    /// ProxylessNAS's default `mul#log`: `alpha * CE * (log E / log T)^beta` (alpha 0.2, beta
    /// 0.3 in its code).
    MulLog {
        /// Scale.
        alpha: f64,
        /// Exponent.
        beta: f64,
    },
    /// `add#linear`: `CE + lambda * (E - T) / T` (lambda 0.1 in its code).
    AddLinear {
        /// Weight of the relative excess.
        lambda: f64,
    },
    /// `add#abs`: `CE + lambda * |E - T| / T`, the absolute-value reward of TuNAS (Bender et
    /// al., CVPR 2020). ProxylessNAS's two forms pull E down at every E, so the target only
    /// weighs the pull; this one pushes E up when it is under the target, so the searched
    /// cost settles near T wherever the accuracy signal is too weak to hold it there.
    AddAbs {
        /// Weight of the relative distance from the target.
        lambda: f64,
    },
}

impl CostLoss {
    /// ProxylessNAS's `mul#log` at its code's defaults.
    pub const MUL_LOG: Self = Self::MulLog {
        alpha: 0.2,
        beta: 0.3,
    };

    /// ProxylessNAS's `add#linear` at its code's default.
    pub const ADD_LINEAR: Self = Self::AddLinear { lambda: 0.1 };

    /// TuNAS's absolute form at add#linear's weight.
    pub const ADD_ABS: Self = Self::AddAbs { lambda: 0.1 };

    /// Refuses a target the form cannot use: `mul#log` needs `log T > 0` (T above 1 in the
    /// cost's unit; a latency target in microseconds), both forms a positive T.
    pub fn check_target(&self, target: f64, kind: CostKind) -> Result<(), SearchError> {
        let bad = |problem: String| SearchError::Config {
            field: "target".into(),
            problem,
        };
        if !(target.is_finite() && target > 0.0) {
            return Err(bad(format!("must be positive, got {target}")));
        }
        if matches!(self, Self::MulLog { .. }) && target <= 1.0 {
            return Err(bad(format!(
                "of {target} {} is too small for mul#log, whose log T must be positive: give a \
                 target above 1 {}, or use add#linear",
                kind.unit(),
                kind.unit()
            )));
        }
        Ok(())
    }

    /// The loss at cross-entropy `ce` and expected cost `expected`, target `target`.
    pub fn value(&self, ce: f64, expected: f64, target: f64) -> f64 {
        match *self {
            Self::MulLog { alpha, beta } => alpha * ce * (expected.ln() / target.ln()).powf(beta),
            Self::AddLinear { lambda } => ce + lambda * (expected - target) / target,
            Self::AddAbs { lambda } => ce + lambda * (expected - target).abs() / target,
        }
    }

    /// `(dL/dCE, dL/dE)` at `ce`, `expected`, `target`.
    pub fn partials(&self, ce: f64, expected: f64, target: f64) -> (f64, f64) {
        match *self {
            Self::MulLog { alpha, beta } => {
                let ratio = expected.ln() / target.ln();
                let d_ce = alpha * ratio.powf(beta);
                let d_expected =
                    alpha * ce * beta * ratio.powf(beta - 1.0) / (expected * target.ln());
                (d_ce, d_expected)
            }
            Self::AddLinear { lambda } => (1.0, lambda / target),
            // At E = T the loss has a kink; 0 there (no pull), as for any subgradient choice.
            Self::AddAbs { lambda } => (1.0, lambda * (expected - target).signum() / target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::tests::{space, table};

    /// mul#log is `alpha / (log T)^beta` times `CE (log E)^beta`: the target and alpha only
    /// scale the loss, so under a scale-free optimiser (Adam) they do not change the search.
    /// add#linear's target sets the latency's weight against the cross-entropy (lambda / T).
    #[test]
    fn mul_log_targets_only_scale_the_loss_and_add_linear_targets_weigh_latency() {
        let (ce, expected) = (2.1, 2150.0);
        let (d_ce, d_e) = CostLoss::MUL_LOG.partials(ce, expected, 2030.0);
        let (d_ce2, d_e2) = CostLoss::MUL_LOG.partials(ce, expected, 2470.0);
        assert!(((d_e / d_ce) - (d_e2 / d_ce2)).abs() < 1e-12 * (d_e / d_ce).abs());
        assert!((d_ce / d_ce2 - 1.0).abs() > 1e-3, "the scale does change");
        let linear = CostLoss::AddLinear { lambda: 0.1 };
        let (l_ce, l_e) = linear.partials(ce, expected, 2030.0);
        let (l_ce2, l_e2) = linear.partials(ce, expected, 2470.0);
        assert!(((l_e / l_ce) / (l_e2 / l_ce2) - 2470.0 / 2030.0).abs() < 1e-12);
    }

    /// Each key's latency: its length in ms, so that every block differs.
    fn lengths() -> (MobileNetSpace, LayerCosts, LatencyTable) {
        let space = space();
        let table = table(&space, |key| key.len() as f64 / 100.0);
        let costs = LayerCosts::latency(&table, &space).unwrap();
        (space, costs, table)
    }

    fn uniform(space: &MobileNetSpace) -> Vec<Vec<(usize, f64)>> {
        space
            .decisions()
            .iter()
            .map(|d| {
                let n = d.options.len();
                (0..n).map(|o| (o, 1.0 / n as f64)).collect()
            })
            .collect()
    }

    #[test]
    fn the_expected_latency_is_linear_in_p_and_the_table_sum_when_p_is_one_hot() {
        let (space, costs, table) = lengths();
        let mut rng = <rand_chacha::ChaCha12Rng as rand::SeedableRng>::seed_from_u64(0);
        for _ in 0..10 {
            let arch = space.sample(&mut rng);
            let one_hot: Vec<Vec<(usize, f64)>> =
                arch.choices.iter().map(|&o| vec![(o, 1.0)]).collect();
            let expected = costs.expected(&one_hot);
            let predicted_us = 1e3 * table.predict(&space, &arch).unwrap();
            assert!(
                (expected - predicted_us).abs() < 1e-9,
                "{expected} vs {predicted_us}"
            );
            assert!((costs.of(&arch) - predicted_us).abs() < 1e-9);
            // Linear: E[t p1 + (1 - t) p2] = t E[p1] + (1 - t) E[p2].
            let p2 = uniform(&space);
            let t = 0.3;
            let mixed: Vec<Vec<(usize, f64)>> = one_hot
                .iter()
                .zip(&p2)
                .map(|(a, b)| {
                    let mut all: Vec<(usize, f64)> = a.iter().map(|&(o, p)| (o, t * p)).collect();
                    all.extend(b.iter().map(|&(o, p)| (o, (1.0 - t) * p)));
                    all
                })
                .collect();
            let linear = t * expected + (1.0 - t) * costs.expected(&p2);
            assert!((costs.expected(&mixed) - linear).abs() < 1e-9);
        }
        // Zero adds nothing: layer 1 (residual) offers skip last.
        let skip = space.decisions()[1].options.len() - 1;
        assert_eq!(costs.options[1][skip], 0.0);
    }

    #[test]
    fn a_missing_key_is_an_error_that_names_it() {
        let (space, _, mut table) = lengths();
        let key = crate::latency::layer_key(&space, 2, 3).unwrap();
        table.entries.remove(&key);
        let error = LayerCosts::latency(&table, &space).unwrap_err().to_string();
        assert!(error.contains(&key), "{error}");
    }

    #[test]
    fn every_loss_form_reduces_to_the_cross_entropy_at_the_target() {
        let (ce, target) = (1.7, 950.0);
        assert!((CostLoss::MUL_LOG.value(ce, target, target) - 0.2 * ce).abs() < 1e-12);
        assert!((CostLoss::ADD_LINEAR.value(ce, target, target) - ce).abs() < 1e-12);
        assert!((CostLoss::ADD_ABS.value(ce, target, target) - ce).abs() < 1e-12);
        // Slower than the target costs more, faster less.
        for form in [CostLoss::MUL_LOG, CostLoss::ADD_LINEAR] {
            assert!(form.value(ce, 1.2 * target, target) > form.value(ce, target, target));
            assert!(form.value(ce, 0.8 * target, target) < form.value(ce, target, target));
        }
        // The absolute form costs the same distance on either side, and pulls towards T.
        let abs = CostLoss::ADD_ABS;
        let (over, under) = (
            abs.value(ce, 1.2 * target, target),
            abs.value(ce, 0.8 * target, target),
        );
        assert!((over - under).abs() < 1e-12 && over > ce);
        assert!(abs.partials(ce, 1.2 * target, target).1 > 0.0);
        assert!(abs.partials(ce, 0.8 * target, target).1 < 0.0);
    }

    #[test]
    fn the_partials_are_the_losss_derivatives() {
        let (ce, expected, target) = (0.9, 1300.0, 1000.0);
        for form in [CostLoss::MUL_LOG, CostLoss::ADD_LINEAR, CostLoss::ADD_ABS] {
            let (d_ce, d_expected) = form.partials(ce, expected, target);
            let h = 1e-6;
            let numeric_ce = (form.value(ce + h, expected, target)
                - form.value(ce - h, expected, target))
                / (2.0 * h);
            let numeric_e = (form.value(ce, expected + h, target)
                - form.value(ce, expected - h, target))
                / (2.0 * h);
            assert!((d_ce - numeric_ce).abs() < 1e-6, "{form:?}");
            assert!((d_expected - numeric_e).abs() < 1e-8, "{form:?}");
        }
    }

    #[test]
    fn mul_log_refuses_a_target_whose_log_is_not_positive() {
        let error = CostLoss::MUL_LOG
            .check_target(0.9, CostKind::Latency)
            .unwrap_err()
            .to_string();
        assert!(error.contains("too small for mul#log"), "{error}");
        CostLoss::ADD_LINEAR
            .check_target(0.9, CostKind::Latency)
            .unwrap();
        assert!(
            CostLoss::ADD_LINEAR
                .check_target(-1.0, CostKind::Latency)
                .is_err()
        );
    }

    #[test]
    fn counted_costs_add_up_to_the_spaces_own_count() {
        let space = space();
        let flops = LayerCosts::flops(&space);
        let params = LayerCosts::params(&space);
        let mut rng = <rand_chacha::ChaCha12Rng as rand::SeedableRng>::seed_from_u64(1);
        for _ in 0..10 {
            let arch = space.sample(&mut rng);
            let cost = space.cost(&arch);
            assert_eq!(flops.of(&arch), cost.flops as f64);
            assert_eq!(params.of(&arch), cost.params as f64);
        }
    }
}
