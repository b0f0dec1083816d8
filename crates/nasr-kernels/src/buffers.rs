//! Buffers for the kernels: outputs that start uninitialised (the kernel writes every element,
//! so zeroing them first would be a wasted pass over memory) and per-thread scratch space.

use std::mem::MaybeUninit;

/// `len` uninitialised floats, to be written in full and then passed to [`assume_written`].
pub(super) fn uninit_vec(len: usize) -> Vec<MaybeUninit<f32>> {
    let mut values = Vec::with_capacity(len);
    values.resize_with(len, MaybeUninit::uninit);
    values
}

/// The vector of `f32` that `values` holds once every element is written.
///
/// # Safety
/// Every element must have been written.
pub(super) unsafe fn assume_written(values: Vec<MaybeUninit<f32>>) -> Vec<f32> {
    let mut values = std::mem::ManuallyDrop::new(values);
    let (ptr, len, capacity) = (values.as_mut_ptr(), values.len(), values.capacity());
    // SAFETY: same allocation, layout and length; the caller vouches for initialisation.
    unsafe { Vec::from_raw_parts(ptr.cast::<f32>(), len, capacity) }
}

/// The floats `values` holds once every element is written.
///
/// # Safety
/// Every element must have been written.
pub(super) unsafe fn assume_written_slice(values: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: same layout; the caller vouches for initialisation.
    unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr().cast(), values.len()) }
}

/// `slice` as possibly uninitialised memory, for a destination that is only ever written f32s.
pub(super) fn as_uninit(slice: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: same layout; callers only write f32s through the result (gemm does), so
    // `slice` stays initialised.
    unsafe { std::slice::from_raw_parts_mut(slice.as_mut_ptr().cast(), slice.len()) }
}

thread_local! {
    /// Each thread's working buffer for column matrices: reused from call to call, because
    /// allocating a fresh one per image makes the kernel fault in new pages every time.
    static SCRATCH: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Bytes of a cache line: scratch space starts on one.
const CACHE_LINE: usize = 64;

/// Runs `f` on this thread's scratch buffer of `len` floats, whose contents are left over from
/// earlier calls: `f` must write before it reads. A nested call gets a fresh buffer.
///
/// The slice starts on a cache line. A large allocation from the system allocator starts 16
/// bytes past a page boundary, so without this every 64-byte vector load or store of the
/// kernels (which lay their buffers out in whole vectors) would straddle two lines.
pub(super) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let slack = CACHE_LINE / size_of::<f32>() - 1;
    let mut buffer = SCRATCH.take();
    if buffer.len() < len + slack {
        buffer.resize(len + slack, 0.0);
    }
    // Floats are 4-byte aligned, so whole floats reach the next line.
    let past_line = buffer.as_ptr() as usize % CACHE_LINE;
    let start = (CACHE_LINE - past_line) % CACHE_LINE / size_of::<f32>();
    let result = f(&mut buffer[start..start + len]);
    SCRATCH.set(buffer);
    result
}
