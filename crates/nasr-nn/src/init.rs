//! Seeded weight initialisation.
//!
//! burn draws initial weights from the backend's generator, which may be process-global. nasr
//! seeds it from the run's `init` stream immediately before a model is built, and holds a lock
//! while building so that two models built at once (parallel tests, worker threads) cannot
//! interleave their draws.

use std::sync::Mutex;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use rand::RngCore;

static INIT_LOCK: Mutex<()> = Mutex::new(());

/// Builds a module with `build`, after seeding the device generator with a draw from `rng`, and
/// materialises every parameter before releasing the lock (burn initialises lazily).
pub fn seeded<M: Module, E>(
    device: &Device,
    rng: &mut dyn RngCore,
    build: impl FnOnce() -> Result<M, E>,
) -> Result<M, E> {
    let _guard = INIT_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(rng.next_u64());
    let module = build()?;
    module.visit(&mut Materialize);
    Ok(module)
}

/// Touches every parameter so that lazy initialisation happens now, in a fixed order.
struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}
