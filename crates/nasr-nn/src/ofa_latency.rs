//! Measuring the `ofa` space's latency table on this machine (`nasr latency measure --space
//! ofa`): every key of [`table_blocks`] timed in interleaved rounds, as the MobileNet space's
//! table is ([`crate::latency`]), and whole sub-networks end to end to fit and check it.

use burn::tensor::Device;
use nasr_search::latency::{LatencyTable, TABLE_FORMAT};
use nasr_search::ofa_latency::{OfaBlock, table_blocks};
use nasr_space::ofa::{OfaConfig, OfaSpace};
use nasr_space::{Arch, SeedStreams};

use crate::latency::{Protocol, finish, input, interleaved_medians, this_machine};
use crate::nets::ofa::{OfaHead, OfaNet, OfaStem, slot_layer};
use crate::ops::elastic::ElasticMbConv;
use crate::train::Classifier;
use crate::{Compute, NnError};

/// One key's module and input.
enum Timed {
    Stem(Box<OfaStem>),
    Layer(Box<ElasticMbConv>, nasr_space::ofa::LayerSetting),
    Head(Box<OfaHead>),
}

/// Measures the table of `space`: every key, all timed together in interleaved rounds; the
/// overheads are left at 0 (see [`fit_overhead`]).
pub fn measure_table(
    space: &OfaSpace,
    protocol: Protocol,
    compute: Compute,
    progress: impl FnMut(usize, usize),
) -> Result<LatencyTable<OfaConfig>, NnError> {
    let device = compute.eval_device();
    let mut rng = SeedStreams::new(0).stream("latency-input");
    let c = space.config();
    let b = protocol.batch_size;
    let blocks: Vec<(String, Timed, burn::tensor::Tensor<4>)> = table_blocks(space)
        .into_iter()
        .map(|(key, block)| {
            let (timed, channels, size) = module_of(space, &block, &device);
            (key, timed, input(b, channels, size, &mut rng, &device))
        })
        .collect();
    let mut passes: Vec<Box<dyn FnMut() + '_>> = blocks
        .iter()
        .map(|(_, timed, x)| -> Box<dyn FnMut()> {
            match timed {
                Timed::Stem(stem) => Box::new(move || finish(stem.forward(x.clone()))),
                Timed::Layer(layer, setting) => Box::new(move || {
                    finish(layer.forward(x.clone(), *setting).expect("its own setting"))
                }),
                Timed::Head(head) => Box::new(move || finish(head.forward(x.clone()))),
            }
        })
        .collect();
    let mut refs: Vec<&mut dyn FnMut()> = passes.iter_mut().map(|p| p.as_mut() as _).collect();
    let times = interleaved_medians(protocol, &mut refs, progress);
    Ok(LatencyTable {
        format: TABLE_FORMAT,
        nasr_version: env!("CARGO_PKG_VERSION").into(),
        machine: this_machine(compute),
        space: c.clone(),
        batch_size: b,
        warmup: protocol.warmup,
        repeats: protocol.repeats,
        rounds: protocol.rounds,
        entries: blocks
            .iter()
            .map(|(key, _, _)| key.clone())
            .zip(times)
            .collect(),
        overhead_ms: 0.0,
        overhead_fitted_on: 0,
        block_overhead_ms: 0.0,
    })
}

/// The module `block` times, with its input's channels and side.
fn module_of(space: &OfaSpace, block: &OfaBlock, device: &Device) -> (Timed, usize, usize) {
    let c = space.config();
    match *block {
        OfaBlock::Stem { resolution } => (
            Timed::Stem(Box::new(OfaStem::new(c, device))),
            c.in_channels,
            resolution,
        ),
        OfaBlock::Layer {
            slot,
            setting,
            size_in,
        } => {
            let shape = &space.slots()[slot];
            let layer = slot_layer(
                shape,
                &c.units[shape.unit],
                &[setting.kernel],
                &[setting.expansion],
                device,
            );
            (Timed::Layer(Box::new(layer), setting), shape.c_in, size_in)
        }
        OfaBlock::Head { size } => {
            let last = c.units.last().expect("a space has units").channels;
            (Timed::Head(Box::new(OfaHead::new(c, device))), last, size)
        }
    }
}

/// The end-to-end latency of each of `archs`' networks on inputs at their resolutions,
/// timed together in interleaved rounds, in milliseconds.
pub fn measure_networks(
    space: &OfaSpace,
    archs: &[Arch],
    protocol: Protocol,
    compute: Compute,
    progress: impl FnMut(usize, usize),
) -> Result<Vec<f64>, NnError> {
    let device = compute.eval_device();
    let mut rng = SeedStreams::new(0).stream("latency-input");
    let c = space.config();
    let networks = archs
        .iter()
        .map(|arch| {
            let x = input(
                protocol.batch_size,
                c.in_channels,
                space.resolution(arch),
                &mut rng,
                &device,
            );
            Ok((OfaNet::new(space, arch, &device)?, x))
        })
        .collect::<Result<Vec<_>, NnError>>()?;
    let mut passes: Vec<_> = networks
        .iter()
        .map(|(network, x)| move || finish(network.forward(x.clone())))
        .collect();
    let mut refs: Vec<&mut dyn FnMut()> = passes.iter_mut().map(|p| p as _).collect();
    Ok(interleaved_medians(protocol, &mut refs, progress))
}

/// Each of `archs`: the table's prediction and the end-to-end measurement, in milliseconds.
pub fn predicted_and_measured(
    table: &LatencyTable<OfaConfig>,
    space: &OfaSpace,
    archs: &[Arch],
    protocol: Protocol,
    compute: Compute,
    progress: impl FnMut(usize, usize),
) -> Result<(Vec<f64>, Vec<f64>), NnError> {
    let predicted = archs
        .iter()
        .map(|arch| {
            table
                .predict(space, arch)
                .map_err(crate::latency::latency_error)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let measured = measure_networks(space, archs, protocol, compute, progress)?;
    Ok((predicted, measured))
}

/// Measures `archs` end to end and fits `table`'s overheads to the gaps.
pub fn fit_overhead(
    table: &mut LatencyTable<OfaConfig>,
    space: &OfaSpace,
    archs: &[Arch],
    protocol: Protocol,
    compute: Compute,
    progress: impl FnMut(usize, usize),
) -> Result<Vec<f64>, NnError> {
    (table.overhead_ms, table.block_overhead_ms) = (0.0, 0.0);
    let (predicted, measured) =
        predicted_and_measured(table, space, archs, protocol, compute, progress)?;
    let blocks: Vec<usize> = archs
        .iter()
        .map(|arch| LatencyTable::<OfaConfig>::blocks(space, arch))
        .collect();
    table.fit_overhead(&predicted, &blocks, &measured);
    Ok(measured)
}
