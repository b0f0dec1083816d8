//! Named parameters: every float tensor of a module under its dotted path, saved to and loaded
//! from safetensors with those names as keys (`cells.3.edges.2.nor_conv_3x3.conv.weight`).
//!
//! A path is built by [`ParamPath`] from the fields and `Vec` positions burn visits, and from
//! the op names of [`CandidateOps`](crate::ops::CandidateOps) and [`Chosen`](crate::ops::Chosen);
//! an enum module's variant adds no segment, since the op container around it already says
//! which op it is.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{Tensor, TensorData};
use safetensors::tensor::{Dtype, TensorView};

use crate::NnError;

/// A tensor's shape and values, detached from any device.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values in row-major order.
    pub values: Vec<f32>,
}

impl NamedTensor {
    /// Copies a tensor's data off its device.
    pub fn from_data(data: TensorData) -> Self {
        Self {
            shape: data.shape().to_vec(),
            values: data.try_to_vec::<f32>().expect("nasr tensors are f32"),
        }
    }
}

/// The dotted path of the parameter being visited, from burn's `enter_module` and
/// `exit_module` calls. Every visitor and mapper of nasr that names parameters uses it, so a
/// tensor has one name whether it is saved, loaded, initialised or updated.
#[derive(Debug, Clone, Default)]
pub struct ParamPath {
    segments: Vec<String>,
}

impl ParamPath {
    /// Enters field, position or op `name` of a container of `container_type`.
    pub fn enter(&mut self, name: &str, container_type: &str) {
        if !is_enum_variant(container_type) {
            self.segments.push(name.to_string());
        }
    }

    /// Leaves what the matching [`ParamPath::enter`] entered.
    pub fn exit(&mut self, container_type: &str) {
        if !is_enum_variant(container_type) {
            self.segments.pop();
        }
    }

    /// The path, dot-joined.
    pub fn dotted(&self) -> String {
        self.segments.join(".")
    }
}

/// burn reports an enum module's variant as a container of type `Enum:<name>`.
pub(crate) fn is_enum_variant(container_type: &str) -> bool {
    container_type.starts_with("Enum:")
}

/// BatchNorm statistics are buffers, not trained parameters (as in PyTorch's `buffers()`).
fn is_buffer(name: &str) -> bool {
    name.ends_with("running_mean") || name.ends_with("running_var")
}

/// Every float tensor of `module` (parameters and BatchNorm statistics) by dotted path.
pub fn named_tensors<M: Module>(module: &M) -> BTreeMap<String, NamedTensor> {
    let mut collect = Collect::default();
    module.visit(&mut collect);
    collect.tensors
}

/// Number of parameters of the deployed network: BatchNorm running statistics and
/// training-only heads (`auxiliary.*`, DARTS' auxiliary classifier) excluded, as papers count.
pub fn parameter_count<M: Module>(module: &M) -> usize {
    named_tensors(module)
        .iter()
        .filter(|(name, _)| !is_buffer(name) && !name.starts_with("auxiliary."))
        .map(|(_, t)| t.values.len())
        .sum()
}

/// Dotted name, id and rank of every float parameter of `module`, in module order: which
/// parameters a gradient or an optimiser step touched, by name.
pub fn named_param_ids<M: Module>(module: &M) -> Vec<(String, ParamId, usize)> {
    let mut ids = CollectIds::default();
    module.visit(&mut ids);
    ids.ids
}

#[derive(Default)]
struct CollectIds {
    path: ParamPath,
    ids: Vec<(String, ParamId, usize)>,
}

impl ModuleVisitor for CollectIds {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.path.exit(container_type);
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.ids.push((self.path.dotted(), param.id, D));
    }
}

#[derive(Default)]
struct Collect {
    path: ParamPath,
    tensors: BTreeMap<String, NamedTensor>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.path.exit(container_type);
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = NamedTensor::from_data(param.val().into_data());
        self.tensors.insert(self.path.dotted(), tensor);
    }
}

/// Writes tensors to a safetensors file. Keys are sorted, so the same tensors always give the
/// same bytes. The file is written under a temporary name and renamed into place.
pub fn save_safetensors(
    tensors: &BTreeMap<String, NamedTensor>,
    path: &Path,
) -> Result<(), NnError> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(name, t)| {
            let raw = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name.clone(), raw, t.shape.clone())
        })
        .collect();
    let views = bytes.iter().map(|(name, raw, shape)| {
        let view = TensorView::new(Dtype::F32, shape.clone(), raw).expect("shape matches data");
        (name.clone(), view)
    });
    let serialized = safetensors::serialize(views, None).map_err(|e| NnError::Checkpoint {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })?;
    write_atomically(path, &serialized)
}

/// Reads every tensor of a safetensors file (f32 only).
pub fn load_safetensors(path: &Path) -> Result<BTreeMap<String, NamedTensor>, NnError> {
    let bytes = std::fs::read(path).map_err(|e| NnError::io(path, e))?;
    let bad = |problem: String| NnError::Checkpoint {
        path: path.to_path_buf(),
        problem,
    };
    let file = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(bad(format!(
                "tensor {name} is {:?}, expected F32",
                view.dtype()
            )));
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        tensors.insert(
            name,
            NamedTensor {
                shape: view.shape().to_vec(),
                values,
            },
        );
    }
    Ok(tensors)
}

/// Replaces every float tensor of `module` by the tensor of the same name. Every tensor of the
/// module must be present with the same shape; `source` names the origin in errors.
pub fn load_named<M: Module>(
    module: M,
    tensors: &BTreeMap<String, NamedTensor>,
    source: &Path,
) -> Result<M, NnError> {
    let mut loader = Load {
        path: ParamPath::default(),
        tensors,
        problems: Vec::new(),
    };
    let module = module.map(&mut loader);
    if loader.problems.is_empty() {
        Ok(module)
    } else {
        Err(NnError::Checkpoint {
            path: source.to_path_buf(),
            problem: loader.problems.join("; "),
        })
    }
}

struct Load<'a> {
    path: ParamPath,
    tensors: &'a BTreeMap<String, NamedTensor>,
    problems: Vec<String>,
}

impl ModuleMapper for Load<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.path.exit(container_type);
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let name = self.path.dotted();
        let (id, current, mapper) = param.consume();
        let Some(stored) = self.tensors.get(&name) else {
            self.problems.push(format!("missing tensor {name}"));
            return Param::from_mapped_value(id, current, mapper);
        };
        let expected = current.dims().to_vec();
        if stored.shape != expected {
            self.problems.push(format!(
                "tensor {name} has shape {:?}, the network expects {expected:?}",
                stored.shape
            ));
            return Param::from_mapped_value(id, current, mapper);
        }
        let data = TensorData::new(stored.values.clone(), stored.shape.clone());
        let mut loaded = Tensor::<D>::from_data(data, &current.device());
        if current.is_require_grad() {
            loaded = loaded.require_grad();
        }
        Param::from_mapped_value(id, loaded, mapper)
    }
}

/// Writes under a temporary name, syncs, then renames, so a crash never leaves a torn file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), NnError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let partial = path.with_file_name(format!(".{name}.partial"));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&partial)?;
        std::io::Write::write_all(&mut file, bytes)?;
        file.sync_all()?;
        std::fs::rename(&partial, path)
    };
    write().map_err(|e| NnError::io(path, e))
}
