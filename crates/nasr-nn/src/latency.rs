//! Latency measured on this machine: a lookup table of every distinct block of a MobileNet
//! space (stem, each layer's candidates at their input shapes, head, classifier), and the
//! end-to-end latency of whole networks to check its predictions against. Every pass runs in
//! evaluation mode on the plain device (no autodiff; BatchNorm folded into its convolution),
//! on random input, after untimed warm-up passes; an entry is the median of the timed ones.
//!
//! Everything measured together is timed in interleaved rounds ([`interleaved_medians`]):
//! a shared machine drifts over seconds (frequency, a neighbour's load), and timing one block or
//! network after another would turn that drift into differences between them. On the 2-core
//! development machine, two back-to-back checks of the same 30 networks timed one after another
//! ranked them alike with Kendall tau 0.59-0.69 only.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::tensor::{Device, Tensor};
use nasr_search::latency::{LatencyTable, Machine, TABLE_FORMAT, fixed_keys, layer_key};
use nasr_space::mobilenet::{LayerChoice, MobileNetConfig, MobileNetSpace};
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
    /// Rounds the timed passes are spread over: each round times every item of a measurement
    /// in turn (one untimed pass, then its share of the repeats), so that drift of the machine
    /// falls on all items alike.
    pub rounds: usize,
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

/// The median wall time of each of `passes`, in milliseconds, measured in interleaved rounds:
/// `protocol.warmup` untimed calls of each first, then `protocol.rounds` rounds in which each
/// pass in turn is called once untimed (its caches warm again after the others ran) and then
/// timed for its share of `protocol.repeats`. `progress(done, total)` follows the rounds.
pub fn interleaved_medians(
    protocol: Protocol,
    passes: &mut [&mut dyn FnMut()],
    mut progress: impl FnMut(usize, usize),
) -> Vec<f64> {
    for pass in passes.iter_mut() {
        for _ in 0..protocol.warmup {
            pass();
        }
    }
    let rounds = protocol.rounds.clamp(1, protocol.repeats.max(1));
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(protocol.repeats); passes.len()];
    for round in 0..rounds {
        // Round r times repeats * (r + 1) / rounds - repeats * r / rounds passes: all of
        // `repeats` over the rounds, spread as evenly as they divide.
        let share = protocol.repeats.max(1) * (round + 1) / rounds
            - protocol.repeats.max(1) * round / rounds;
        for (pass, times) in passes.iter_mut().zip(&mut times) {
            pass();
            for _ in 0..share {
                let started = Instant::now();
                pass();
                times.push(started.elapsed().as_secs_f64() * 1e3);
            }
        }
        progress(round + 1, rounds);
    }
    times.into_iter().map(median).collect()
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Waits for `y` (its values read back), so that a timing covers the whole computation.
pub(crate) fn finish<const D: usize>(y: Tensor<D>) {
    let _ = y.into_data();
}

/// Random images `[batch, channels, size, size]`.
pub(crate) fn input(
    batch: usize,
    channels: usize,
    size: usize,
    rng: &mut dyn RngCore,
    device: &Device,
) -> Tensor<4> {
    crate::init::normal_tensor([batch, channels, size, size], rng, device)
}

/// Measures the table of `space`: every distinct key, all timed together in interleaved
/// rounds. `progress(done, total)` follows the rounds. The overhead is left at 0 (see
/// [`fit_overhead`]).
pub fn measure_table(
    space: &MobileNetSpace,
    protocol: Protocol,
    compute: Compute,
    progress: impl FnMut(usize, usize),
) -> Result<LatencyTable, NnError> {
    let device = compute.eval_device();
    let mut rng = SeedStreams::new(0).stream("latency-input");
    let b = protocol.batch_size;
    let config = space.config();
    let skeleton = MobileNetSkeleton::new(space, &device);
    let [stem_key, head_key, logits_key] = fixed_keys(space);
    let (last_size, last_channels) = space
        .layers()
        .last()
        .map(|l| (l.size_out(), l.c_out))
        .expect("a space has layers");
    let blocks: Vec<(String, MbConv, Tensor<4>)> = distinct_layer_keys(space)
        .into_iter()
        .map(|(key, (layer, kernel, expansion))| {
            let shape = space.layers()[layer];
            let block = MbConv::new(&shape, kernel, expansion, &device);
            (
                key,
                block,
                input(b, shape.c_in, shape.size_in, &mut rng, &device),
            )
        })
        .collect();
    let stem_input = input(b, config.in_channels, config.input_size, &mut rng, &device);
    let head_input = input(b, last_channels, last_size, &mut rng, &device);
    let logits_input = input(b, config.head_channels, last_size, &mut rng, &device);

    let mut stem = || finish(skeleton.stem(stem_input.clone()));
    let mut head = || finish(skeleton.head(head_input.clone()));
    let mut logits = || finish(skeleton.logits(logits_input.clone()));
    let mut block_passes: Vec<_> = blocks
        .iter()
        .map(|(_, block, x)| move || finish(block.forward(x.clone())))
        .collect();
    let mut passes: Vec<&mut dyn FnMut()> = vec![&mut stem, &mut head, &mut logits];
    passes.extend(block_passes.iter_mut().map(|pass| pass as &mut dyn FnMut()));
    let times = interleaved_medians(protocol, &mut passes, progress);

    let keys = [stem_key, head_key, logits_key]
        .into_iter()
        .chain(blocks.into_iter().map(|(key, _, _)| key));
    Ok(LatencyTable {
        format: TABLE_FORMAT,
        nasr_version: env!("CARGO_PKG_VERSION").into(),
        machine: this_machine(compute),
        space: config.clone(),
        batch_size: b,
        warmup: protocol.warmup,
        repeats: protocol.repeats,
        rounds: protocol.rounds,
        entries: keys.zip(times).collect(),
        overhead_ms: 0.0,
        overhead_fitted_on: 0,
        block_overhead_ms: 0.0,
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

/// The end-to-end latency of each of `archs`' networks (random weights: latency does not
/// depend on them), timed together in interleaved rounds, in milliseconds. `progress(done,
/// total)` follows the rounds.
pub fn measure_networks(
    space: &MobileNetSpace,
    archs: &[Arch],
    protocol: Protocol,
    compute: Compute,
    progress: impl FnMut(usize, usize),
) -> Result<Vec<f64>, NnError> {
    let device = compute.eval_device();
    let networks = archs
        .iter()
        .map(|arch| MobileNetNetwork::new(space, arch, &device))
        .collect::<Result<Vec<_>, _>>()?;
    let c = space.config();
    let mut rng = SeedStreams::new(0).stream("latency-input");
    let x = input(
        protocol.batch_size,
        c.in_channels,
        c.input_size,
        &mut rng,
        &device,
    );
    let mut network_passes: Vec<_> = networks
        .iter()
        .map(|network| || finish(network.forward(x.clone())))
        .collect();
    let mut passes: Vec<&mut dyn FnMut()> = network_passes
        .iter_mut()
        .map(|pass| pass as &mut dyn FnMut())
        .collect();
    Ok(interleaved_medians(protocol, &mut passes, progress))
}

/// Each of `archs`: the table's prediction and the end-to-end measurement, in milliseconds.
/// `progress(done, total)` follows the measurement's rounds.
pub fn predicted_and_measured(
    table: &LatencyTable,
    space: &MobileNetSpace,
    archs: &[Arch],
    protocol: Protocol,
    compute: Compute,
    progress: impl FnMut(usize, usize),
) -> Result<(Vec<f64>, Vec<f64>), NnError> {
    let predicted = archs
        .iter()
        .map(|arch| table.predict(space, arch).map_err(latency_error))
        .collect::<Result<Vec<_>, _>>()?;
    let measured = measure_networks(space, archs, protocol, compute, progress)?;
    Ok((predicted, measured))
}

/// Measures `archs` end to end and fits `table`'s overheads (per network and per block) to the
/// gaps between those measurements and the table's sums. Returns the measurements.
pub fn fit_overhead(
    table: &mut LatencyTable,
    space: &MobileNetSpace,
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
        .map(|arch| LatencyTable::<MobileNetConfig>::blocks(space, arch))
        .collect();
    table.fit_overhead(&predicted, &blocks, &measured);
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

    /// Every pass runs its warm-up, one untimed call per round and its timed repeats, in
    /// interleaved order; each gets one median.
    #[test]
    fn interleaved_rounds_call_each_pass_as_the_protocol_says() {
        let protocol = Protocol {
            batch_size: 1,
            warmup: 2,
            repeats: 7,
            rounds: 3,
        };
        let order = std::cell::RefCell::new(Vec::new());
        let mut a = || order.borrow_mut().push('a');
        let mut b = || order.borrow_mut().push('b');
        let medians = interleaved_medians(protocol, &mut [&mut a, &mut b], |_, _| {});
        assert_eq!(medians.len(), 2);
        assert!(medians.iter().all(|&ms| ms >= 0.0));
        let order: String = order.into_inner().into_iter().collect();
        // Warm-up, then rounds of 2, 2 and 3 timed calls, each after one untimed call.
        assert_eq!(order, "aabb".to_owned() + "aaabbb" + "aaabbb" + "aaaabbbb");
    }

    /// Every key the predictions of the space's architectures need is measured, each a
    /// positive time, and the table predicts any architecture.
    #[test]
    fn a_measured_table_has_every_key_of_the_space() {
        let space = space();
        let protocol = Protocol {
            batch_size: 1,
            warmup: 1,
            repeats: 4,
            rounds: 2,
        };
        let mut rounds = Vec::new();
        let table = measure_table(&space, protocol, Compute::Cpu, |done, total| {
            rounds.push((done, total))
        })
        .unwrap();
        // 2 residual layers share their keys: 6 blocks, plus 6 of the strided layer, + 3 fixed.
        assert_eq!(table.entries.len(), 6 + 6 + 3, "{:?}", table.entries.keys());
        assert_eq!(rounds, [(1, 2), (2, 2)]);
        assert!(table.entries.values().all(|&ms| ms > 0.0));
        let mut rng = SeedStreams::new(1).stream("archs");
        for _ in 0..5 {
            let arch = space.sample(&mut rng);
            assert!(table.predict(&space, &arch).unwrap() > 0.0);
        }
        assert_eq!(table.machine, this_machine(Compute::Cpu));
    }
}
