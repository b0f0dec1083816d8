//! The architecture gradient of DARTS (Liu et al., ICLR 2019, Section 2.3), first and second
//! order, for any network `M` whose loss depends on weights w (the module's parameters) and on
//! the architecture parameters alpha (one `[rows, ops]` tensor).
//!
//! Second order differentiates through one virtual SGD step,
//! `w' = w - xi * grad_w L_train(w, alpha)`:
//! `grad_alpha L_val(w', alpha) - xi * (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 eps)`
//! with `w+- = w +- eps * grad_w' L_val(w', alpha)` and `eps = 0.01 / ||grad_w' L_val||`: the
//! paper's finite-difference approximation of the Hessian-vector product (its Eq. 8).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// How the architecture gradient is computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Order {
    /// grad_alpha L_val(w, alpha): the current weights stand in for the optimal ones.
    First,
    /// Through one virtual SGD step of learning rate `xi` (DARTS uses the weights' learning rate).
    Second {
        /// Virtual step size.
        xi: f64,
    },
}

/// A loss as a function of a network and the architecture parameters.
pub type LossFn<'a, M> = &'a dyn Fn(&M, Tensor<2>) -> Tensor<1>;

/// The architecture gradient and the validation loss it was taken at.
pub struct AlphaGradient {
    /// d L_val / d alpha, shaped like alpha, on the plain (non-autodiff) device.
    pub grad: Tensor<2>,
    /// L_val at the current weights (first order) or at the virtual step's weights (second).
    pub val_loss: f64,
}

/// The architecture gradient of `val_loss` at `model`'s weights and `alpha`, of the given
/// order; `train_loss` is needed by the second order only. `model` and `alpha` must live on the
/// autodiff device; neither is changed.
pub fn alpha_gradient<M: Module>(
    model: &M,
    alpha: &Tensor<2>,
    train_loss: LossFn<'_, M>,
    val_loss: LossFn<'_, M>,
    order: Order,
) -> AlphaGradient {
    match order {
        Order::First => {
            let (grad, loss) = grad_alpha(&model.clone().no_grad(), alpha, val_loss);
            AlphaGradient {
                grad,
                val_loss: loss,
            }
        }
        Order::Second { xi } => second_order(model, alpha, train_loss, val_loss, xi),
    }
}

fn second_order<M: Module>(
    model: &M,
    alpha: &Tensor<2>,
    train_loss: LossFn<'_, M>,
    val_loss: LossFn<'_, M>,
    xi: f64,
) -> AlphaGradient {
    // w' = w - xi * grad_w L_train(w, alpha)
    let weights = model.clone();
    let train = train_loss(&weights, alpha.clone().detach());
    let grad_w = GradientsParams::from_grads(train.backward(), &weights);
    let unrolled = shifted(model, &grad_w, -xi).require_grad_all();

    // grad_alpha and grad_w' of L_val(w', alpha)
    let a = alpha.clone().detach().require_grad();
    let val = val_loss(&unrolled, a.clone());
    let val_value = scalar(&val);
    let grads = val.backward();
    let direct = a
        .grad(&grads)
        .expect("alpha takes part in the validation loss");
    let grad_unrolled = GradientsParams::from_grads(grads, &unrolled);

    // Central difference of grad_alpha L_train along grad_w' L_val.
    let eps = 0.01 / global_norm(&unrolled, &grad_unrolled).max(f64::MIN_POSITIVE);
    let plus = shifted(model, &grad_unrolled, eps).no_grad();
    let minus = shifted(model, &grad_unrolled, -eps).no_grad();
    let (grad_plus, _) = grad_alpha(&plus, alpha, train_loss);
    let (grad_minus, _) = grad_alpha(&minus, alpha, train_loss);
    let hessian_vector = (grad_plus - grad_minus).div_scalar(2.0 * eps);
    AlphaGradient {
        grad: direct - hessian_vector.mul_scalar(xi),
        val_loss: val_value,
    }
}

/// grad_alpha of `loss(model, alpha)` and the loss, with the model's weights held fixed.
fn grad_alpha<M: Module>(model: &M, alpha: &Tensor<2>, loss: LossFn<'_, M>) -> (Tensor<2>, f64) {
    let a = alpha.clone().detach().require_grad();
    let value = loss(model, a.clone());
    let loss_value = scalar(&value);
    let grads = value.backward();
    let grad = a.grad(&grads).expect("alpha takes part in the loss");
    (grad, loss_value)
}

fn scalar(loss: &Tensor<1>) -> f64 {
    f64::from(loss.clone().into_scalar::<f32>())
}

/// `model` with every parameter that has a gradient in `grads` moved by `scale * grad`.
fn shifted<M: Module>(model: &M, grads: &GradientsParams, scale: f64) -> M {
    model.clone().map(&mut Shift { grads, scale })
}

trait RequireGradAll {
    fn require_grad_all(self) -> Self;
}

impl<M: Module> RequireGradAll for M {
    /// Makes every parameter a fresh leaf that records gradients.
    fn require_grad_all(self) -> Self {
        self.map(&mut Leaves)
    }
}

struct Shift<'a> {
    grads: &'a GradientsParams,
    scale: f64,
}

impl ModuleMapper for Shift<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let moved = match self.grads.get::<D>(id) {
            Some(grad) => Tensor::from_inner(tensor.inner() + grad.mul_scalar(self.scale)),
            None => tensor.detach(),
        };
        Param::from_mapped_value(id, moved, mapper)
    }
}

struct Leaves;

impl ModuleMapper for Leaves {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        Param::from_mapped_value(id, tensor.detach().require_grad(), mapper)
    }
}

/// The global L2 norm of the gradients of `model`'s parameters.
fn global_norm<M: Module>(model: &M, grads: &GradientsParams) -> f64 {
    let mut norm = SquaredNorm { grads, sum: 0.0 };
    model.visit(&mut norm);
    norm.sum.sqrt()
}

struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    sum: f64,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            self.sum += f64::from(grad.square().sum().into_scalar::<f32>());
        }
    }
}
