//! Helpers shared by the nasr-nn tests.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

/// Dotted name and id of every conv weight (4-D parameter) of `module`.
pub fn conv_weight_ids<M: Module>(module: &M) -> Vec<(String, ParamId)> {
    let mut ids = ConvIds::default();
    module.visit(&mut ids);
    ids.ids
}

#[derive(Default)]
struct ConvIds {
    path: Vec<String>,
    ids: Vec<(String, ParamId)>,
}

impl ModuleVisitor for ConvIds {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if D == 4 {
            self.ids.push((self.path.join("."), param.id));
        }
    }
}
