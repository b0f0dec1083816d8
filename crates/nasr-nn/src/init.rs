//! Seeded weight initialisation, drawn from nasr's own streams.
//!
//! burn draws initial weights from its backend's generator, which is process-global: any other
//! `Tensor::random` in the process (another thread's input, another test) interleaves with a
//! model's draws, so the same seed could give different weights. nasr therefore never uses
//! those values. [`seeded`] builds a module and then replaces every parameter by values drawn
//! from the run's `init` stream, walking the parameters in their fixed module order, with the
//! distribution burn's default initialiser for that layer would use. A model's weights then
//! depend on its seed alone, whatever else the process is doing.
//!
//! Random inputs of tests and benchmarks come from [`normal_tensor`], likewise from a stream.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use rand::RngCore;
use rand::distr::{Distribution, Uniform};

/// Builds a module with `build`, then draws every parameter from `rng`.
///
/// Each layer type gets burn's default distribution for it (PyTorch's too): convolution and
/// linear weights and biases uniform in ±1/sqrt(fan_in). BatchNorm's scale and shift keep the
/// constants the module was built with (scale 1 and shift 0, or scale 0 where a residual block
/// is built to start as the identity): they carry no draw.
///
/// # Panics
/// If the module holds a parameter of a layer type without an initialiser here: that is a
/// network built from a layer nasr does not yet know, a bug every network test would catch.
pub fn seeded<M: Module, E>(
    rng: &mut dyn RngCore,
    build: impl FnOnce() -> Result<M, E>,
) -> Result<M, E> {
    let module = build()?;
    let mut init = Initialize {
        rng,
        path: Vec::new(),
        fan_in: BTreeMap::new(),
    };
    Ok(module.map(&mut init))
}

/// A `[shape]` tensor of standard normal values drawn from `rng`, on `device`.
pub fn normal_tensor<const D: usize>(
    shape: [usize; D],
    rng: &mut dyn RngCore,
    device: &Device,
) -> Tensor<D> {
    let len = shape.iter().product();
    let values: Vec<f32> = (0..len).map(|_| standard_normal(rng)).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// One standard normal draw (Box-Muller).
pub(crate) fn standard_normal(rng: &mut dyn RngCore) -> f32 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random();
    ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

/// How one parameter is initialised.
enum Draw {
    /// Uniform in ±1/sqrt(fan_in): burn's `KaimingUniform { gain: 1/sqrt(3) }`, the default of
    /// its `Conv2d` and `Linear` (and PyTorch's).
    FanIn(usize),
    /// The identity matrix (the kernel transforms of an elastic depthwise layer, as OFA
    /// starts them).
    Identity,
    /// The value the module was built with: BatchNorm's scale, shift and statistics, constants
    /// that carry no draw (scale 1, or 0 where a block is built to start as the identity).
    Built,
}

struct Initialize<'a> {
    rng: &'a mut dyn RngCore,
    /// `(field, type of the module holding it)` from the root down.
    path: Vec<(String, String)>,
    /// The fan-in of each layer's weight, by the layer's path, for its bias.
    fan_in: BTreeMap<String, usize>,
}

impl Initialize<'_> {
    fn layer_path(&self) -> String {
        let fields = &self.path[..self.path.len().saturating_sub(1)];
        fields
            .iter()
            .map(|(field, _)| field.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The distribution of the parameter at the current path, of `shape`.
    fn draw_for(&mut self, shape: &[usize]) -> Draw {
        let (field, container) = self.path.last().cloned().unwrap_or_default();
        let layer = self.layer_path();
        if self
            .path
            .iter()
            .any(|(f, c)| f == "transforms" && c == "Struct:ElasticDepthwise")
        {
            return Draw::Identity;
        }
        let weight_fan_in = match (container.as_str(), field.as_str()) {
            // [out, in / groups, kh, kw]
            ("Struct:Conv2d" | "Struct:ElasticDepthwise", "weight") => {
                Some(shape[1..].iter().product())
            }
            // [in, out]
            ("Struct:Linear", "weight") => Some(shape[0]),
            ("Struct:Conv2d" | "Struct:Linear", "bias") => {
                let fan_in = self.fan_in.get(&layer).copied();
                return Draw::FanIn(
                    fan_in.unwrap_or_else(|| panic!("bias of {layer} visited before its weight")),
                );
            }
            ("Struct:BatchNorm", "gamma" | "beta" | "running_mean" | "running_var") => {
                return Draw::Built;
            }
            _ => None,
        };
        let fan_in = weight_fan_in.unwrap_or_else(|| {
            panic!("no initialiser for parameter {layer}.{field} of {container} (shape {shape:?})")
        });
        self.fan_in.insert(layer, fan_in);
        Draw::FanIn(fan_in)
    }
}

impl ModuleMapper for Initialize<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        // An enum variant is no layer and no field: the module inside it is (see ParamPath).
        if !crate::params::is_enum_variant(container_type) {
            self.path
                .push((name.to_string(), container_type.to_string()));
        }
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        if !crate::params::is_enum_variant(container_type) {
            self.path.pop();
        }
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, current, mapper) = param.consume();
        let shape = current.dims().to_vec();
        let len = shape.iter().product();
        let values: Vec<f32> = match self.draw_for(&shape) {
            Draw::FanIn(fan_in) => {
                let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
                let uniform = Uniform::new(-bound, bound).expect("a positive bound");
                (0..len).map(|_| uniform.sample(self.rng)).collect()
            }
            Draw::Built => current
                .to_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .expect("f32 values"),
            Draw::Identity => {
                let n = shape[0];
                (0..len)
                    .map(|i| if i / n == i % n { 1.0 } else { 0.0 })
                    .collect()
            }
        };
        let mut drawn = Tensor::<D>::from_data(TensorData::new(values, shape), &current.device());
        if current.is_require_grad() {
            drawn = drawn.require_grad();
        }
        Param::from_mapped_value(id, drawn, mapper)
    }
}
