//! Resident memory of this process (Linux `/proc/self/status`), so that a benchmark's memory
//! is what its steps add: the growth from just before the first step to the peak. A plain peak
//! would also count what was there before (PyTorch's wheels load hundreds of MiB of libraries
//! at import; nasr's data loading has its own peak).

/// Resident memory when a measurement started; the peak is reset then, where Linux allows it.
#[derive(Debug, Clone, Copy)]
pub struct MemoryWatch {
    start_kib: Option<u64>,
}

impl MemoryWatch {
    /// Resets the process's peak resident memory (`echo 5 > /proc/self/clear_refs`) and reads
    /// the current resident memory.
    pub fn start() -> Self {
        // Where the reset is refused, the peak may predate the start and the growth overstates
        // what the steps added; never understates it.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        Self {
            start_kib: status_kib("VmRSS:"),
        }
    }

    /// Peak resident memory since [`MemoryWatch::start`] minus resident memory then, in MiB;
    /// `None` where the system does not report it.
    pub fn growth_mib(&self) -> Option<f64> {
        let peak = status_kib("VmHWM:")?;
        Some(peak.saturating_sub(self.start_kib?) as f64 / 1024.0)
    }
}

/// Peak resident memory of this process in MiB (`VmHWM`), if the system reports it.
pub fn peak_mib() -> Option<f64> {
    status_kib("VmHWM:").map(|kib| kib as f64 / 1024.0)
}

/// The KiB of the `/proc/self/status` line starting with `field`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
