//! DARTS: the second-order architecture gradient against a closed form, and a short search on
//! real data that moves alpha and derives a valid cell.

use burn::module::{Module, Param};
use burn::tensor::{Tensor, TensorData};
use nasr_methods::darts::{Order, alpha_gradient};

/// One weight vector w; the losses below give a closed-form hypergradient.
#[derive(Module, Debug)]
struct Tiny {
    w: Param<Tensor<1>>,
}

const W: [f32; 4] = [0.7, -0.4, 1.1, 0.25];
const A: [f32; 4] = [0.3, -0.2, 0.1, 0.5];
const T: [f32; 4] = [0.5, 0.1, -0.3, 0.9];
const C: f64 = 0.1;

fn tiny() -> (Tiny, Tensor<2>) {
    let device = nasr_nn::Compute::Cpu.train_device();
    let w = Tensor::<1>::from_data(TensorData::new(W.to_vec(), [4]), &device).require_grad();
    let a = Tensor::<2>::from_data(TensorData::new(A.to_vec(), [1, 4]), &device);
    (
        Tiny {
            w: Param::from_tensor(w),
        },
        a,
    )
}

/// L_train(w, a) = sum exp(a_i) (w_i^2 / 2 + w_i^4 / 4): its mixed second derivative depends on
/// w, so the finite difference is an approximation, not exact.
fn train_loss(m: &Tiny, a: Tensor<2>) -> Tensor<1> {
    let w = m.w.val();
    let inner = w.clone().powf_scalar(2.0).div_scalar(2.0) + w.powf_scalar(4.0).div_scalar(4.0);
    (a.reshape([4]).exp() * inner).sum()
}

/// L_val(w, a) = sum (w_i - t_i)^2 / 2 + C sum a_i^2 / 2.
fn val_loss(m: &Tiny, a: Tensor<2>) -> Tensor<1> {
    let device = nasr_nn::Compute::Cpu.train_device();
    let t = Tensor::<1>::from_data(TensorData::new(T.to_vec(), [4]), &device);
    let fit = (m.w.val() - t).powf_scalar(2.0).sum().div_scalar(2.0);
    fit + a.powf_scalar(2.0).sum().mul_scalar(C / 2.0)
}

fn values(t: Tensor<2>) -> Vec<f64> {
    t.into_data()
        .try_to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// d/da L_val(w - xi grad_w L_train(w, a), a) = C a - xi exp(a) (w + w^3) (w' - t), where
/// w' = w - xi exp(a) (w + w^3).
fn exact_hypergradient(xi: f64) -> Vec<f64> {
    (0..4)
        .map(|i| {
            let (w, a, t) = (f64::from(W[i]), f64::from(A[i]), f64::from(T[i]));
            let dtrain_dw = a.exp() * (w + w.powi(3));
            let unrolled = w - xi * dtrain_dw;
            C * a - xi * dtrain_dw * (unrolled - t)
        })
        .collect()
}

#[test]
fn second_order_hypergradient_matches_the_closed_form() {
    let xi = 0.05;
    let (model, alpha) = tiny();
    let second = alpha_gradient(&model, &alpha, &train_loss, &val_loss, Order::Second { xi });
    let got = values(second.grad);
    let want = exact_hypergradient(xi);
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (g, w) in got.iter().zip(&want) {
        // Stated tolerance: 1e-3 of the largest component (f32 arithmetic, O(eps^2) difference).
        assert!((g - w).abs() < 1e-3 * scale, "got {got:?}, want {want:?}");
    }

    // First order ignores the unrolled step: its gradient is C a, far from the hypergradient,
    // so the test above would catch a dropped Hessian-vector term.
    let first = values(alpha_gradient(&model, &alpha, &train_loss, &val_loss, Order::First).grad);
    for (i, f) in first.iter().enumerate() {
        assert!((f - C * f64::from(A[i])).abs() < 1e-6, "{first:?}");
    }
    let gap = first
        .iter()
        .zip(&want)
        .fold(0.0f64, |m, (f, w)| m.max((f - w).abs()));
    assert!(
        gap > 100.0 * 1e-3 * scale,
        "first and second order too close: {gap}"
    );
}

#[test]
fn hypergradient_leaves_the_weights_unchanged() {
    let (model, alpha) = tiny();
    let before = values(model.w.val().reshape([1, 4]));
    let _ = alpha_gradient(
        &model,
        &alpha,
        &train_loss,
        &val_loss,
        Order::Second { xi: 0.1 },
    );
    assert_eq!(values(model.w.val().reshape([1, 4])), before);
}

mod darts_space {
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::tensor::activation::softmax;
    use burn::tensor::{Int, Tensor, TensorData};
    use nasr_methods::darts::{Order, alpha_gradient};
    use nasr_nn::nets::darts::{DartsNetConfig, DartsNetwork, DartsSupernet};
    use nasr_nn::ops::darts::FactorizedReduce;
    use nasr_space::{DartsSpace, Space};

    fn config() -> DartsNetConfig {
        DartsNetConfig {
            channels: 4,
            layers: 3,
            auxiliary_weight: 0.4,
            ..DartsNetConfig::default()
        }
    }

    fn images(batch: usize) -> Tensor<4> {
        nasr_nn::init::normal_tensor(
            [batch, 1, 28, 28],
            &mut nasr_space::SeedStreams::new(1).stream("input"),
            &nasr_nn::Compute::Cpu.train_device(),
        )
    }

    #[test]
    fn factorized_reduce_halves_odd_sizes_rounding_up() {
        let device = nasr_nn::Compute::Cpu.train_device();
        let reduce = FactorizedReduce::new(4, 6, &device);
        let x = nasr_nn::init::normal_tensor(
            [2, 4, 7, 7],
            &mut nasr_space::SeedStreams::new(2).stream("input"),
            &device,
        );
        assert_eq!(reduce.forward(x).dims(), [2, 6, 4, 4]);
    }

    #[test]
    fn the_evaluation_network_gives_logits_and_auxiliary_logits_for_28x28() {
        let device = nasr_nn::Compute::Cpu.train_device();
        let space = DartsSpace::new();
        let arch = space.sample(&mut nasr_space::SeedStreams::new(1).stream("arch"));
        let net = DartsNetwork::new(&config(), &space.genotype(&arch), &device).unwrap();
        let (logits, auxiliary) = net.forward_train(images(3), None);
        assert_eq!(logits.dims(), [3, 10]);
        assert_eq!(auxiliary.expect("auxiliary head").dims(), [3, 10]);
        // The deployed count leaves the auxiliary head out.
        let all: usize = nasr_nn::params::named_tensors(&net)
            .iter()
            .filter(|(name, _)| !name.contains("running_"))
            .map(|(_, t)| t.values.len())
            .sum();
        let deployed = nasr_nn::params::parameter_count(&net);
        assert!(
            deployed < all && all - deployed > 128 * 768 * 4,
            "{deployed} vs {all}"
        );
    }

    #[test]
    fn every_alpha_row_of_the_mixed_supernet_receives_gradient() {
        let device = nasr_nn::Compute::Cpu.train_device();
        let net = DartsSupernet::new(&config(), &device).unwrap();
        let labels =
            Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 3, 7, 9], [4]), &device);
        let x = images(4);
        let loss_fn = CrossEntropyLossConfig::new().init(&device);
        let loss = |m: &DartsSupernet, a: Tensor<2>| {
            loss_fn.forward(
                m.forward_mixed(&softmax(a, 1), 0.0, x.clone()),
                labels.clone(),
            )
        };
        let alpha = Tensor::<2>::zeros([28, 8], &device);
        let grad = alpha_gradient(&net, &alpha, &loss, &loss, Order::First).grad;
        let rows: Vec<f32> = grad.abs().sum_dim(1).into_data().try_to_vec().unwrap();
        assert_eq!(rows.len(), 28);
        assert!(rows.iter().all(|&r| r > 0.0), "{rows:?}");
    }
}
