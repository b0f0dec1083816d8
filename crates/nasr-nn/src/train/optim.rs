//! The optimisers: SGD with momentum (optionally Nesterov), weight decay and global-norm
//! gradient clipping, with PyTorch's semantics (`torch.optim.SGD`, `clip_grad_norm_`), for
//! network weights; Adam for flat parameter vectors such as DARTS' architecture weights.
//!
//! burn ships an SGD too; nasr keeps its own because its momentum buffers are keyed by the
//! parameters' dotted names, so they checkpoint to safetensors beside the model and a resumed
//! run continues bit for bit.

use std::collections::{BTreeMap, HashMap};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::params::{NamedTensor, ParamPath};

/// SGD hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgdConfig {
    /// Momentum factor (0 disables momentum).
    pub momentum: f64,
    /// Use Nesterov momentum.
    pub nesterov: bool,
    /// L2 weight decay, added to the gradient.
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value (`None`: no clipping).
    pub grad_clip: Option<f64>,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-4,
            grad_clip: Some(5.0),
        }
    }
}

/// The optimiser: configuration plus one momentum buffer per parameter, by name.
#[derive(Debug, Default)]
pub struct Sgd {
    config: SgdConfig,
    momentum: HashMap<String, Tensor<1>>,
}

impl Sgd {
    /// A fresh optimiser.
    pub fn new(config: SgdConfig) -> Self {
        Self {
            config,
            momentum: HashMap::new(),
        }
    }

    /// One update of `module` with `grads` at learning rate `lr`. Returns the updated module
    /// and the global gradient norm before clipping.
    pub fn step<M: Module>(&mut self, module: M, grads: GradientsParams, lr: f64) -> (M, f64) {
        let mut norm = GradNorm {
            grads: &grads,
            sum: None,
        };
        module.visit(&mut norm);
        let grad_norm = norm
            .sum
            .map(|s| f64::from(s.into_scalar::<f32>()).sqrt())
            .unwrap_or(0.0);
        // clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below one.
        let scale = match self.config.grad_clip {
            Some(max) if grad_norm > max => max / (grad_norm + 1e-6),
            _ => 1.0,
        };
        let mut update = Update {
            path: ParamPath::default(),
            grads,
            lr,
            scale,
            config: self.config,
            momentum: &mut self.momentum,
        };
        (module.map(&mut update), grad_norm)
    }

    /// The momentum buffers, by parameter name, for checkpointing.
    pub fn state(&self) -> BTreeMap<String, NamedTensor> {
        self.momentum
            .iter()
            .map(|(name, buffer)| (name.clone(), NamedTensor::from_data(buffer.to_data())))
            .collect()
    }

    /// Restores momentum buffers saved by [`Sgd::state`] onto `device` (the training device
    /// without autodiff, where the updates compute).
    pub fn load_state(&mut self, state: &BTreeMap<String, NamedTensor>, device: &Device) {
        self.momentum = state
            .iter()
            .map(|(name, t)| {
                let data = TensorData::new(t.values.clone(), [t.values.len()]);
                (name.clone(), Tensor::<1>::from_data(data, device))
            })
            .collect();
    }
}

/// Sum of squared gradients over all parameters, kept as a tensor to sync once.
struct GradNorm<'a> {
    grads: &'a GradientsParams,
    sum: Option<Tensor<1>>,
}

impl ModuleVisitor for GradNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            let squares = grad.square().sum();
            self.sum = Some(match self.sum.take() {
                Some(acc) => acc + squares,
                None => squares,
            });
        }
    }
}

struct Update<'a> {
    path: ParamPath,
    grads: GradientsParams,
    lr: f64,
    scale: f64,
    config: SgdConfig,
    momentum: &'a mut HashMap<String, Tensor<1>>,
}

impl ModuleMapper for Update<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.path.exit(container_type);
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let weight = tensor.inner();
        let mut direction = if self.scale < 1.0 {
            grad.mul_scalar(self.scale)
        } else {
            grad
        };
        if self.config.weight_decay > 0.0 {
            direction = direction + weight.clone().mul_scalar(self.config.weight_decay);
        }
        if self.config.momentum > 0.0 {
            let name = self.path.dotted();
            let shape = direction.dims();
            let numel = shape.iter().product::<usize>();
            // buf = mu * buf + d (PyTorch starts the buffer at d, dampening 0).
            let buffer = match self.momentum.remove(&name) {
                Some(old) => {
                    old.reshape(shape).mul_scalar(self.config.momentum) + direction.clone()
                }
                None => direction.clone(),
            };
            direction = if self.config.nesterov {
                direction + buffer.clone().mul_scalar(self.config.momentum)
            } else {
                buffer.clone()
            };
            self.momentum.insert(name, buffer.reshape([numel]));
        }
        let updated = weight - direction.mul_scalar(self.lr);
        Param::from_mapped_value(id, Tensor::from_inner(updated).require_grad(), mapper)
    }
}

/// Adam's settings (Kingma & Ba 2015), with L2 weight decay added to the gradient as PyTorch's
/// `Adam` does. The defaults are DARTS' architecture optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// L2 weight decay, added to the gradient.
    pub weight_decay: f64,
    /// Denominator guard.
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 3e-4,
            beta1: 0.5,
            beta2: 0.999,
            weight_decay: 1e-3,
            eps: 1e-8,
        }
    }
}

/// Adam's moments for a flat vector of values (architecture parameters, which live outside
/// any module), in f64.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Adam {
    /// First moments.
    first_moment: Vec<f64>,
    /// Second moments.
    second_moment: Vec<f64>,
    /// Steps taken.
    steps: u64,
}

impl Adam {
    /// Zero moments for `len` values.
    pub fn new(len: usize) -> Self {
        Self {
            first_moment: vec![0.0; len],
            second_moment: vec![0.0; len],
            steps: 0,
        }
    }

    /// One step on `values` along `grad` (same length).
    pub fn step(&mut self, values: &mut [f32], grad: &[f32], config: &AdamConfig) {
        debug_assert_eq!(values.len(), grad.len());
        self.steps += 1;
        let t = self.steps as i32;
        let correction1 = 1.0 - config.beta1.powi(t);
        let correction2 = 1.0 - config.beta2.powi(t);
        for (i, &g) in grad.iter().enumerate() {
            let value = f64::from(values[i]);
            let g = f64::from(g) + config.weight_decay * value;
            self.first_moment[i] = config.beta1 * self.first_moment[i] + (1.0 - config.beta1) * g;
            self.second_moment[i] =
                config.beta2 * self.second_moment[i] + (1.0 - config.beta2) * g * g;
            let denominator = (self.second_moment[i] / correction2).sqrt() + config.eps;
            values[i] =
                (value - config.lr * self.first_moment[i] / correction1 / denominator) as f32;
        }
    }
}

/// Adam over a module's weights ([`AdamConfig`]'s semantics, PyTorch's `torch.optim.Adam`
/// with L2 weight decay): one first and second moment per parameter, by dotted name; only the
/// parameters with a gradient in a step move, and their step count is the optimiser's.
#[derive(Debug, Default)]
pub struct WeightAdam {
    config: AdamConfig,
    moments: HashMap<String, (Tensor<1>, Tensor<1>)>,
    steps: u64,
}

impl WeightAdam {
    /// Zero moments, `config`'s betas, decay and eps (its `lr` is the step's unless given).
    pub fn new(config: AdamConfig) -> Self {
        Self {
            config,
            moments: HashMap::new(),
            steps: 0,
        }
    }

    /// One update of `module` along `grads` at learning rate `lr`.
    pub fn step<M: Module>(&mut self, module: M, grads: GradientsParams, lr: f64) -> M {
        self.steps += 1;
        let t = self.steps as i32;
        let mut update = AdamUpdate {
            path: ParamPath::default(),
            grads,
            lr,
            config: self.config,
            correction1: 1.0 - self.config.beta1.powi(t),
            correction2: 1.0 - self.config.beta2.powi(t),
            moments: &mut self.moments,
        };
        module.map(&mut update)
    }
}

struct AdamUpdate<'a> {
    path: ParamPath,
    grads: GradientsParams,
    lr: f64,
    config: AdamConfig,
    correction1: f64,
    correction2: f64,
    moments: &'a mut HashMap<String, (Tensor<1>, Tensor<1>)>,
}

impl ModuleMapper for AdamUpdate<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.path.exit(container_type);
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let weight = tensor.inner();
        let shape = weight.dims();
        let numel = shape.iter().product::<usize>();
        let c = self.config;
        let mut g = grad;
        if c.weight_decay > 0.0 {
            g = g + weight.clone().mul_scalar(c.weight_decay);
        }
        let g = g.reshape([numel]);
        let (first, second) = match self.moments.remove(&self.path.dotted()) {
            Some((m, v)) => (
                m.mul_scalar(c.beta1) + g.clone().mul_scalar(1.0 - c.beta1),
                v.mul_scalar(c.beta2) + g.clone().square().mul_scalar(1.0 - c.beta2),
            ),
            None => (
                g.clone().mul_scalar(1.0 - c.beta1),
                g.square().mul_scalar(1.0 - c.beta2),
            ),
        };
        let denominator = second
            .clone()
            .div_scalar(self.correction2)
            .sqrt()
            .add_scalar(c.eps);
        let direction = first.clone().div_scalar(self.correction1) / denominator;
        self.moments.insert(self.path.dotted(), (first, second));
        let updated = weight - direction.reshape(shape).mul_scalar(self.lr);
        Param::from_mapped_value(id, Tensor::from_inner(updated).require_grad(), mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};

    /// Module Adam moves every weight as flat Adam does on the same values and gradients.
    #[test]
    fn weight_adam_matches_flat_adam() {
        let device = crate::Compute::Cpu.train_device();
        let mut model: Linear = LinearConfig::new(3, 2).init(&device);
        let config = AdamConfig {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            weight_decay: 1e-2,
            eps: 1e-8,
        };
        let weights = |m: &Linear| -> Vec<f32> { m.weight.val().into_data().try_to_vec().unwrap() };
        let mut flat = weights(&model);
        let mut reference = Adam::new(flat.len());
        let mut adam = WeightAdam::new(config);
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -2.0, 0.5], [1, 3]), &device);
        for _ in 0..4 {
            // d/dw of sum(w x^T): each row of the gradient is x.
            let loss = model.forward(x.clone()).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let grad: Vec<f32> = grads
                .get::<2>(model.weight.id)
                .unwrap()
                .into_data()
                .try_to_vec()
                .unwrap();
            reference.step(&mut flat, &grad, &config);
            model = adam.step(model, grads, config.lr);
            for (a, b) in weights(&model).iter().zip(&flat) {
                assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            }
        }
    }
}
