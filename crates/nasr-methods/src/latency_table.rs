//! The latency table of a run (`--latency-table`): read, checked against the run's space,
//! copied into the run folder so that a resumed run prices architectures with the same
//! figures, and the protocol that measures a found network the way the table was measured.

use std::path::Path;

use nasr_nn::NnError;
use nasr_nn::latency::{Protocol, latency_error, measure_networks};
use nasr_search::latency::{LatencyTable, Machine};
use nasr_space::mobilenet::MobileNetConfig;
use nasr_space::ofa::{OfaConfig, OfaSpace};
use nasr_space::{Arch, MobileNetSpace};

use crate::run::RunOptions;

/// The table of a run writing into `out`: the folder's copy `latency.json` when resuming, else
/// `path`, which must have been measured for `space`'s layers, copied into the folder. A table
/// measured on another machine is used with a warning naming the difference.
pub fn load_run_table(
    path: &Path,
    space: &MobileNetSpace,
    out: &Path,
) -> Result<LatencyTable, NnError> {
    let copy = out.join("latency.json");
    let source = if copy.exists() { copy.as_path() } else { path };
    let table = LatencyTable::<MobileNetConfig>::load(source).map_err(latency_error)?;
    if !table.measured_for(space.config()) {
        return Err(NnError::Config {
            field: "latency_table",
            problem: format!(
                "{} was measured for another space than this search's ({:?} against {:?}): \
                 measure one with `nasr latency measure` for this space",
                source.display(),
                table.space,
                space.config()
            ),
        });
    }
    // Found networks are measured on the table's thread count, whatever this process's.
    let here = Machine {
        threads: table.machine.threads,
        ..nasr_nn::latency::this_machine(nasr_nn::Compute::Cpu)
    };
    for difference in table.machine.differences(&here) {
        eprintln!(
            "warning: {} was measured on another machine ({difference}): its figures may not \
             hold here",
            source.display()
        );
    }
    if !copy.exists() {
        table.save(&copy).map_err(latency_error)?;
    }
    Ok(table)
}

/// `arch`'s end-to-end latency in ms, measured as `table` was: its batch size, protocol and
/// thread count.
pub fn measure_like(
    table: &LatencyTable,
    space: &MobileNetSpace,
    arch: &Arch,
    options: &RunOptions,
) -> Result<f64, NnError> {
    as_measured(table, |protocol| {
        measure_networks(
            space,
            std::slice::from_ref(arch),
            protocol,
            options.compute,
            |_, _| {},
        )
    })
}

/// [`measure_like`] for a sub-network of the `ofa` space and its table.
pub fn measure_ofa_like(
    table: &LatencyTable<OfaConfig>,
    space: &OfaSpace,
    arch: &Arch,
    options: &RunOptions,
) -> Result<f64, NnError> {
    as_measured(table, |protocol| {
        nasr_nn::ofa_latency::measure_networks(
            space,
            std::slice::from_ref(arch),
            protocol,
            options.compute,
            |_, _| {},
        )
    })
}

/// The first figure `measure(protocol)` returns, run with `table`'s protocol on its number
/// of threads.
fn as_measured<S>(
    table: &LatencyTable<S>,
    measure: impl FnOnce(Protocol) -> Result<Vec<f64>, NnError> + Send,
) -> Result<f64, NnError> {
    let protocol = Protocol {
        batch_size: table.batch_size,
        warmup: table.warmup,
        repeats: table.repeats,
        rounds: table.rounds,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(table.machine.threads.max(1))
        .build()
        .map_err(|e| NnError::Config {
            field: "latency_table",
            problem: format!("cannot start {} threads: {e}", table.machine.threads),
        })?;
    Ok(pool.install(|| measure(protocol))?[0])
}
