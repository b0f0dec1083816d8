//! One ProxylessNAS architecture step (`two` mode, `full_v2` gradients) on a held-out batch:
//! draw every layer's pair, run the gated supernet with the weights held fixed, take the
//! cross-entropy's gradient with respect to the gates, add the hardware term's pull, turn both
//! into the pair's alpha gradient, and step each layer whose active candidate is not Zero.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Int, Tensor, TensorData};
use nasr_nn::supernet::gated::alpha_gradient;
use nasr_nn::supernet::{GatePair, GatedSupernet, Gates};
use nasr_nn::train::optim::AdamConfig;
use nasr_search::hardware_loss::{CostLoss, LayerCosts};
use nasr_space::MobileNetSpace;
use nasr_space::mobilenet::LayerChoice;
use rand::RngCore;

use super::alpha::LayerAlphas;

/// The hardware term of the architecture loss: what it costs, how it enters, and the target.
#[derive(Debug, Clone, PartialEq)]
pub struct HardwareTerm {
    /// Each layer option's cost.
    pub costs: LayerCosts,
    /// `mul#log`, `add#linear` or `add#abs`.
    pub loss: CostLoss,
    /// The target T, in the costs' unit.
    pub target: f64,
}

/// What an architecture step measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArchStepRecord {
    /// Cross-entropy of the gated supernet on the batch.
    pub cross_entropy: f64,
    /// The architecture loss (the cross-entropy where there is no hardware term).
    pub loss: f64,
    /// E[cost] under q on the pairs (0 without a hardware term).
    pub expected_cost: f64,
}

/// One architecture step of `model` (on the autodiff device; its weights are not changed) on
/// `images` and `labels`, updating `alphas`.
#[allow(clippy::too_many_arguments)]
pub fn arch_step<S: GatedSupernet>(
    model: &S,
    space: &MobileNetSpace,
    alphas: &mut LayerAlphas,
    hardware: Option<&HardwareTerm>,
    adam: &AdamConfig,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    rng: &mut dyn RngCore,
) -> ArchStepRecord {
    let device = images.device();
    let pairs: Vec<GatePair> = alphas
        .values
        .iter()
        .map(|row| GatePair::draw(row, rng))
        .collect();
    let values: Vec<f32> = pairs.iter().flat_map(GatePair::values).collect();
    let gates =
        Tensor::<2>::from_data(TensorData::new(values, [pairs.len(), 2]), &device).require_grad();
    let frozen = model.clone().no_grad();
    let logits = frozen.forward_gated(
        Gates {
            pairs: &pairs,
            values: &gates,
        },
        images,
    );
    // The architecture's cross-entropy has no label smoothing (ProxylessNAS).
    let ce = CrossEntropyLossConfig::new()
        .init(&device)
        .forward(logits, labels);
    let cross_entropy = f64::from(ce.clone().into_scalar::<f32>());
    let gate_grads: Vec<f32> = gates
        .grad(&ce.backward())
        .expect("the gates take part in the loss")
        .into_data()
        .try_to_vec()
        .expect("f32 gradients");

    let q: Vec<[f64; 2]> = pairs
        .iter()
        .zip(&alphas.values)
        .map(|(pair, row)| pair.probabilities(row))
        .collect();
    // L = f(CE, E): dL/dg = f_CE dCE/dg, and E pulls on alpha through q with f_E cost_j.
    let (expected_cost, loss, d_ce, d_expected) = match hardware {
        Some(term) => {
            let distributions: Vec<Vec<(usize, f64)>> = pairs
                .iter()
                .zip(&q)
                .map(|(pair, q)| vec![(pair.options[0], q[0]), (pair.options[1], q[1])])
                .collect();
            let expected = term.costs.expected(&distributions);
            let (d_ce, d_e) = term.loss.partials(cross_entropy, expected, term.target);
            let loss = term.loss.value(cross_entropy, expected, term.target);
            (expected, loss, d_ce, d_e)
        }
        None => (0.0, cross_entropy, 1.0, 0.0),
    };
    for (layer, pair) in pairs.iter().enumerate() {
        // A layer whose active candidate is Zero takes no step (ProxylessNAS).
        if space.choice(layer, pair.active_option()) == LayerChoice::Skip {
            continue;
        }
        let pull: [f64; 2] = std::array::from_fn(|slot| {
            let cost = hardware.map_or(0.0, |t| t.costs.options[layer][pair.options[slot]]);
            d_ce * f64::from(gate_grads[2 * layer + slot]) + d_expected * cost
        });
        let gradient = alpha_gradient(&q[layer], &pull);
        alphas.step_pair(layer, pair, [gradient[0], gradient[1]], adam);
    }
    ArchStepRecord {
        cross_entropy,
        loss,
        expected_cost,
    }
}
