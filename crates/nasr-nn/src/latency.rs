//! Latency measured on this machine: a lookup table of every distinct block of a MobileNet
//! space (stem, each layer's candidates at their input shapes, head, classifier), and the
//! end-to-end latency of whole networks to check its predictions against. Every pass runs in
//! evaluation mode on the plain device (no autodiff; BatchNorm folded into its convolution),
//! on random input, after untimed warm-up passes; an entry is the median of the timed ones.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::tensor::{Device, Tensor};
use nasr_search::latency::{LatencyTable, Machine, TABLE_FORMAT, fixed_keys, layer_key};
use nasr_space::mobilenet::{LayerChoice, MobileNetSpace};
use nasr_space::{Arch, SeedStreams, Space};
use rand::RngCore;

use crate::nets::mobilenet::{MobileNetNetwork, MobileNetSkeleton};
use crate::ops::mbconv::MbConv;
use crate::{Compute, NnError};

/// How each latency is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol {
    /// Images per forward pass.
    pub batch_size: usize,
    /// Untimed passes first (caches, allocator, thread pool).
    pub warmup: usize,
    /// Timed passes; the figure is their median.
    pub repeats: usize,
}

/// This machine as a table records it: processor, kernel route, threads, backend.
pub fn this_machine(compute: Compute) -> Machine {
    Machine {
        cpu: cpu_model(),
        kernel_route: nasr_kernels::route::active().name().into(),
        threads: rayon::current_num_threads(),
        backend: match compute {
            Compute::Cpu => "flex",
            Compute::Gpu => "wgpu",
            Compute::Cuda => "cuda",
        }
        .into(),
    }
}

/// The processor's model name from `/proc/cpuinfo`, or `unknown` where there is none.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The median wall time of `protocol.repeats` calls of `pass` after `protocol.warmup` untimed
/// ones, in milliseconds.
fn median_ms(protocol: Protocol, mut pass: impl FnMut()) -> f64 {
    for _ in 0..protocol.warmup {
        pass();
    }
    let mut times: Vec<f64> = (0..protocol.repeats.max(1))
        .map(|_| {
            let started = Instant::now();
            pass();
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let n = times.len();
    if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2.0
    }
}

/// Waits for `y` (its values read back), so that a timing covers the whole computation.
fn finish<const D: usize>(y: Tensor<D>) {
    let _ = y.into_data();
}

/// Random images `[batch, channels, size, size]`.
fn input(
    batch: usize,
    channels: usize,
    size: usize,
    rng: &mut dyn RngCore,
    device: &Device,
) -> Tensor<4> {
    crate::init::normal_tensor([batch, channels, size, size], rng, device)
}

/// Measures the table of `space`: every distinct key once. `progress(done, total)` is called
/// after each entry. The overhead is left at 0 (see [`fit_overhead`]).
pub fn measure_table(
    space: &MobileNetSpace,
    protocol: Protocol,
    compute: Compute,
    mut progress: impl FnMut(usize, usize),
) -> Result<LatencyTable, NnError> {
    let device = compute.eval_device();
    let mut rng = SeedStreams::new(0).stream("latency-input");
    let b = protocol.batch_size;
    let config = space.config();
    let skeleton = MobileNetSkeleton::new(space, &device);
    let layer_keys = distinct_layer_keys(space);
    let total = fixed_keys(space).len() + layer_keys.len();
    let mut entries = BTreeMap::new();
    let [stem_key, head_key, logits_key] = fixed_keys(space);
    let (last_size, last_channels) = space
        .layers()
        .last()
        .map(|l| (l.size_out(), l.c_out))
        .expect("a space has layers");

    let x = input(b, config.in_channels, config.input_size, &mut rng, &device);
    entries.insert(
        stem_key,
        median_ms(protocol, || finish(skeleton.stem(x.clone()))),
    );
    progress(entries.len(), total);
    for (key, (layer, kernel, expansion)) in layer_keys {
        let shape = space.layers()[layer];
        let block = MbConv::new(&shape, kernel, expansion, &device);
        let x = input(b, shape.c_in, shape.size_in, &mut rng, &device);
        entries.insert(
            key,
            median_ms(protocol, || finish(block.forward(x.clone()))),
        );
        progress(entries.len(), total);
    }
    let x = input(b, last_channels, last_size, &mut rng, &device);
    entries.insert(
        head_key,
        median_ms(protocol, || finish(skeleton.head(x.clone()))),
    );
    progress(entries.len(), total);
    let x = input(b, config.head_channels, last_size, &mut rng, &device);
    entries.insert(
        logits_key,
        median_ms(protocol, || finish(skeleton.logits(x.clone()))),
    );
    progress(entries.len(), total);

    Ok(LatencyTable {
        format: TABLE_FORMAT,
        nasr_version: env!("CARGO_PKG_VERSION").into(),
        machine: this_machine(compute),
        space: config.clone(),
        batch_size: b,
        warmup: protocol.warmup,
        repeats: protocol.repeats,
        entries,
        overhead_ms: 0.0,
        overhead_fitted_on: 0,
    })
}

/// Each distinct layer key of `space`, with a layer, kernel and expansion that have it.
fn distinct_layer_keys(space: &MobileNetSpace) -> BTreeMap<String, (usize, usize, usize)> {
    let mut keys = BTreeMap::new();
    for (layer, decision) in space.decisions().iter().enumerate() {
        for option in 0..decision.options.len() {
            if let (Some(key), LayerChoice::MbConv { kernel, expansion }) =
                (layer_key(space, layer, option), space.choice(layer, option))
            {
                keys.entry(key).or_insert((layer, kernel, expansion));
            }
        }
    }
    keys
}

/// The end-to-end latency of `arch`'s network (random weights: latency does not depend on
/// them), in milliseconds.
pub fn measure_network(
    space: &MobileNetSpace,
    arch: &Arch,
    protocol: Protocol,
    compute: Compute,
) -> Result<f64, NnError> {
    let device = compute.eval_device();
    let network = MobileNetNetwork::new(space, arch, &device)?;
    let c = space.config();
    let mut rng = SeedStreams::new(0).stream("latency-input");
    let x = input(
        protocol.batch_size,
        c.in_channels,
        c.input_size,
        &mut rng,
        &device,
    );
    Ok(median_ms(protocol, || finish(network.forward(x.clone()))))
}

/// Each of `archs`: the table's prediction and the end-to-end measurement, in milliseconds.
/// `progress(done, total)` is called after each.
pub fn predicted_and_measured(
    table: &LatencyTable,
    space: &MobileNetSpace,
    archs: &[Arch],
    protocol: Protocol,
    compute: Compute,
    mut progress: impl FnMut(usize, usize),
) -> Result<(Vec<f64>, Vec<f64>), NnError> {
    let mut predicted = Vec::with_capacity(archs.len());
    let mut measured = Vec::with_capacity(archs.len());
    for (i, arch) in archs.iter().enumerate() {
        predicted.push(table.predict(space, arch).map_err(latency_error)?);
        measured.push(measure_network(space, arch, protocol, compute)?);
        progress(i + 1, archs.len());
    }
    Ok((predicted, measured))
}

/// Measures `archs` end to end and sets `table`'s overhead to the mean gap between those
/// measurements and the table's sums. Returns the measurements.
pub fn fit_overhead(
    table: &mut LatencyTable,
    space: &MobileNetSpace,
    archs: &[Arch],
    protocol: Protocol,
    compute: Compute,
    progress: impl FnMut(usize, usize),
) -> Result<Vec<f64>, NnError> {
    table.overhead_ms = 0.0;
    let (predicted, measured) =
        predicted_and_measured(table, space, archs, protocol, compute, progress)?;
    table.fit_overhead(&predicted, &measured);
    Ok(measured)
}

/// A table error as this crate reports it.
pub fn latency_error(error: nasr_search::SearchError) -> NnError {
    NnError::Config {
        field: "latency table",
        problem: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nasr_space::mobilenet::{MobileNetConfig, Stage};

    fn space() -> MobileNetSpace {
        MobileNetSpace::new(MobileNetConfig {
            input_size: 12,
            stages: vec![
                Stage {
                    channels: 8,
                    layers: 2,
                    stride: 1,
                },
                Stage {
                    channels: 12,
                    layers: 1,
                    stride: 2,
                },
            ],
            allow_skip: true,
            ..MobileNetConfig::default()
        })
        .unwrap()
    }

    /// Every key the predictions of the space's architectures need is measured, each a
    /// positive time, and the table predicts any architecture.
    #[test]
    fn a_measured_table_has_every_key_of_the_space() {
        let space = space();
        let protocol = Protocol {
            batch_size: 1,
            warmup: 1,
            repeats: 3,
        };
        let mut calls = 0;
        let table = measure_table(&space, protocol, Compute::Cpu, |_, _| calls += 1).unwrap();
        // 2 residual layers share their keys: 6 blocks, plus 6 of the strided layer, + 3 fixed.
        assert_eq!(table.entries.len(), 6 + 6 + 3, "{:?}", table.entries.keys());
        assert_eq!(calls, table.entries.len());
        assert!(table.entries.values().all(|&ms| ms > 0.0));
        let mut rng = SeedStreams::new(1).stream("archs");
        for _ in 0..5 {
            let arch = space.sample(&mut rng);
            assert!(table.predict(&space, &arch).unwrap() > 0.0);
        }
        assert_eq!(table.machine, this_machine(Compute::Cpu));
    }
}
