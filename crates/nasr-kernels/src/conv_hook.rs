//! The hook every [`Conv2d::forward`](crate::Conv2d::forward) passes through, so that a change
//! to what convolutions compute reaches every network in one place: FTT-NAS's fault injection
//! (`nasr_nn::faults`) replaces the weight a convolution computes with and perturbs its output.
//! A hook is active on the thread that installed it, for the duration of one closure.

use std::cell::RefCell;
use std::rc::Rc;

use burn::tensor::Tensor;

/// What a hook may change in a convolution.
pub trait ConvHook {
    /// The weight the convolution computes with, given its stored one
    /// (`[channels_out, channels_in / groups, k, k]`).
    fn weight(&mut self, weight: Tensor<4>) -> Tensor<4>;

    /// The convolution's output (bias included), given the multiply-adds behind each output
    /// element (`channels_in / groups * k * k`).
    fn output(&mut self, output: Tensor<4>, macs_per_output: usize) -> Tensor<4>;
}

/// A hook shared between the thread-local slot and its owner, who reads its state after.
pub type SharedHook = Rc<RefCell<dyn ConvHook>>;

thread_local! {
    static ACTIVE: RefCell<Option<SharedHook>> = const { RefCell::new(None) };
}

/// Runs `f` with `hook` applied to every convolution this thread computes, then restores the
/// hook that was active before (also when `f` panics).
pub fn with_conv_hook<R>(hook: SharedHook, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<SharedHook>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            ACTIVE.with(|slot| *slot.borrow_mut() = previous);
        }
    }
    let _restore = Restore(ACTIVE.with(|slot| slot.borrow_mut().replace(hook)));
    f()
}

/// The hook active on this thread, if any.
pub(crate) fn active() -> Option<SharedHook> {
    ACTIVE.with(|slot| slot.borrow().clone())
}
