//! Ops named by what they are: the containers that give a candidate op its name in the
//! parameter path (`edges.2.ops.nor_conv_3x3.conv.weight`, `layers.3.k5_e6.depthwise.weight`).
//!
//! burn names a `Vec`'s elements by position and an enum's by its Rust variant; neither says
//! which op a tensor belongs to. [`CandidateOps`] (every candidate of a supernet's edge or layer)
//! and [`Chosen`] (the one op of a standalone network's edge or layer) enter each op under its
//! [`CandidateOp::name`] instead. In NB201 and MobileNet, a supernet's path and the network
//! extracted from it then share names up to the `ops` segment.

use burn::module::{
    Content, Devices, Module, ModuleDisplay, ModuleDisplayDefault, ModuleMapper, ModuleVisitor,
};
use burn::tensor::Device;

/// An op that knows its name in its space (`nor_conv_3x3`, `sep_conv_5x5`, `k5_e6`).
pub trait CandidateOp: Module {
    /// The op's name, as the space writes it.
    fn name(&self) -> String;
}

/// Every candidate op of one edge or layer, each entered in the parameter path under its name.
#[derive(Debug, Clone)]
pub struct CandidateOps<O> {
    ops: Vec<O>,
}

impl<O: CandidateOp> CandidateOps<O> {
    /// The candidates, in the space's option order.
    ///
    /// # Panics
    /// If two candidates share a name: their tensors would share one path, so saving would drop
    /// one and loading and SGD's momentum would mix them. Spaces refuse such configs when built
    /// (`MobileNetSpace::new` refuses a repeated kernel or expansion), so this is a bug.
    pub fn new(ops: Vec<O>) -> Self {
        let mut names: Vec<String> = ops.iter().map(CandidateOp::name).collect();
        names.sort();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            panic!("two candidate ops are both named {}", pair[0]);
        }
        Self { ops }
    }

    /// The candidates, in option order.
    pub fn iter(&self) -> std::slice::Iter<'_, O> {
        self.ops.iter()
    }

    /// Candidate `option`, if there is one (a MobileNet layer's skip option holds none).
    pub fn get(&self, option: usize) -> Option<&O> {
        self.ops.get(option)
    }

    /// Mutable access to every candidate, in option order.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, O> {
        self.ops.iter_mut()
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl<O: CandidateOp> Module for CandidateOps<O> {
    fn collect_devices(&self, mut devices: Devices) -> Devices {
        for op in &self.ops {
            devices = op.collect_devices(devices);
        }
        devices
    }

    fn fork(self, device: &Device) -> Self {
        Self {
            ops: self.ops.into_iter().map(|op| op.fork(device)).collect(),
        }
    }

    fn to_device(self, device: &Device) -> Self {
        Self {
            ops: self
                .ops
                .into_iter()
                .map(|op| op.to_device(device))
                .collect(),
        }
    }

    fn train(self) -> Self {
        Self {
            ops: self.ops.into_iter().map(Module::train).collect(),
        }
    }

    fn valid(&self) -> Self {
        Self {
            ops: self.ops.iter().map(Module::valid).collect(),
        }
    }

    fn materialize(self) -> Self {
        Self {
            ops: self.ops.into_iter().map(Module::materialize).collect(),
        }
    }

    fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
        for op in &self.ops {
            let name = op.name();
            visitor.enter_module(&name, CONTAINER);
            op.visit(visitor);
            visitor.exit_module(&name, CONTAINER);
        }
    }

    fn map<M: ModuleMapper>(self, mapper: &mut M) -> Self {
        let ops = self
            .ops
            .into_iter()
            .map(|op| {
                let name = op.name();
                mapper.enter_module(&name, CONTAINER);
                let mapped = op.map(mapper);
                mapper.exit_module(&name, CONTAINER);
                mapped
            })
            .collect();
        Self { ops }
    }
}

/// The container type [`CandidateOps`] and [`Chosen`] report to visitors.
const CONTAINER: &str = "NamedOp";

impl<O: CandidateOp + ModuleDisplay> ModuleDisplayDefault for CandidateOps<O> {
    fn content(&self, content: Content) -> Option<Content> {
        self.ops
            .iter()
            .fold(content, |acc, op| acc.add(&op.name(), op))
            .set_top_level_type("CandidateOps")
            .optional()
    }
}

impl<O: CandidateOp + ModuleDisplay> ModuleDisplay for CandidateOps<O> {}

/// The one op a standalone network holds where its supernet holds [`CandidateOps`], entered in
/// the parameter path under its name.
#[derive(Debug, Clone)]
pub struct Chosen<O> {
    /// The op.
    pub op: O,
}

impl<O: CandidateOp> Chosen<O> {
    /// Wraps `op`.
    pub fn new(op: O) -> Self {
        Self { op }
    }
}

impl<O: CandidateOp> Module for Chosen<O> {
    fn collect_devices(&self, devices: Devices) -> Devices {
        self.op.collect_devices(devices)
    }

    fn fork(self, device: &Device) -> Self {
        Self::new(self.op.fork(device))
    }

    fn to_device(self, device: &Device) -> Self {
        Self::new(self.op.to_device(device))
    }

    fn train(self) -> Self {
        Self::new(self.op.train())
    }

    fn valid(&self) -> Self {
        Self::new(self.op.valid())
    }

    fn materialize(self) -> Self {
        Self::new(self.op.materialize())
    }

    fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
        let name = self.op.name();
        visitor.enter_module(&name, CONTAINER);
        self.op.visit(visitor);
        visitor.exit_module(&name, CONTAINER);
    }

    fn map<M: ModuleMapper>(self, mapper: &mut M) -> Self {
        let name = self.op.name();
        mapper.enter_module(&name, CONTAINER);
        let op = self.op.map(mapper);
        mapper.exit_module(&name, CONTAINER);
        Self::new(op)
    }
}

impl<O: CandidateOp + ModuleDisplay> ModuleDisplayDefault for Chosen<O> {
    fn content(&self, content: Content) -> Option<Content> {
        content.add(&self.op.name(), &self.op).optional()
    }
}

impl<O: CandidateOp + ModuleDisplay> ModuleDisplay for Chosen<O> {}
