use nasr_space::Arch;
use serde::{Deserialize, Serialize};

/// The hardware cost of an architecture. Each part is optional: a table may know only latency,
/// a space may compute only parameters and FLOPs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// Trained parameters.
    pub params: Option<u64>,
    /// Multiply-adds of one forward pass of one input.
    pub flops: Option<u64>,
    /// Latency in milliseconds on the target device.
    pub latency_ms: Option<f64>,
}

/// Computes or looks up the cost of architectures.
pub trait CostModel {
    /// The cost of `arch`.
    fn cost(&self, arch: &Arch) -> Cost;
}

/// A MobileNet space counts its architectures' parameters and multiply-adds itself.
impl CostModel for nasr_space::MobileNetSpace {
    fn cost(&self, arch: &Arch) -> Cost {
        let cost = nasr_space::MobileNetSpace::cost(self, arch);
        Cost {
            params: Some(cost.params),
            flops: Some(cost.flops),
            latency_ms: None,
        }
    }
}
