//! Cutting a sub-network out of Once-for-All's elastic supernet: BatchNorm recalibration
//! writes only the active prefix of each layer's statistics and repeats exactly, and the
//! extracted network computes what the supernet computes for that sub-network.

use std::collections::BTreeMap;

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use nasr_nn::nets::ofa::{OfaNet, OfaSupernet};
use nasr_nn::params::{NamedTensor, load_named, named_tensors};
use nasr_nn::supernet::{PathSupernet, RecalBatches, recalibrate_bn};
use nasr_nn::train::Classifier;
use nasr_space::ofa::{OfaConfig, OfaSpace};
use nasr_space::{Arch, SeedStreams, Space};

/// Unit 0 runs two layers at expansions 4 and 6; unit 3 all four at expansion 3; the kernels
/// take every size.
const ARCH: &str =
    "r20|k3_e4-k5_e6|k7_e3-k3_e3-k5_e4|k3_e6-k3_e6|k5_e3-k5_e3-k5_e3-k5_e3|k7_e6-k7_e4";

fn space() -> OfaSpace {
    OfaSpace::new(OfaConfig::default()).unwrap()
}

fn supernet(space: &OfaSpace, device: &Device) -> OfaSupernet {
    nasr_nn::init::seeded(&mut SeedStreams::new(4).stream("init"), || {
        Ok::<_, nasr_nn::NnError>(OfaSupernet::new(space, device))
    })
    .unwrap()
}

fn digits() -> nasr_data::Dataset {
    nasr_data::load(
        nasr_data::DatasetName::Digits,
        &nasr_data::test_data_dir(&["sklearn-digits"]),
    )
    .unwrap()
    .train
}

fn recalibrated(net: OfaSupernet, arch: &Arch, data: &nasr_data::Dataset) -> OfaSupernet {
    let normalization = data.channel_stats();
    recalibrate_bn(
        net,
        arch,
        RecalBatches {
            dataset: data,
            normalization: &normalization,
            batch_size: 32,
            batches: 3,
        },
        &mut SeedStreams::new(0).stream("recal"),
        &nasr_nn::Compute::Cpu.train_device(),
    )
}

/// Every running statistic set to `value`.
fn with_statistics(net: OfaSupernet, value: f32) -> OfaSupernet {
    let tensors: BTreeMap<String, NamedTensor> = named_tensors(&net)
        .into_iter()
        .map(|(name, mut tensor)| {
            if name.contains("running_") {
                tensor.values.iter_mut().for_each(|v| *v = value);
            }
            (name, tensor)
        })
        .collect();
    load_named(net, &tensors, std::path::Path::new("<test>")).unwrap()
}

#[test]
fn recalibration_writes_only_the_active_prefix_and_repeats_exactly() {
    let space = space();
    let device = nasr_nn::Compute::Cpu.train_device();
    let arch = space.parse(ARCH).unwrap();
    let data = digits();
    let marked = with_statistics(supernet(&space, &device), 7.0);
    let once = named_tensors(&recalibrated(marked.clone(), &arch, &data));
    let twice = named_tensors(&recalibrated(marked, &arch, &data));
    assert_eq!(once, twice, "the same subset gives the same statistics");

    let untouched = |name: &str| once[name].values.iter().all(|&v| v == 7.0);
    let written = |name: &str, channels: usize| {
        let values = &once[name].values;
        values[..channels].iter().all(|&v| v != 7.0) && values[channels..].iter().all(|&v| v == 7.0)
    };
    // Unit 0 (8 -> 16 channels, then 16 -> 16): expansion 4 of 8 inputs is 32 of the stored
    // 48 middle channels; expansion 6 of 16 is all 96.
    assert!(written("units.0.0.expand_bn.running_mean", 32));
    assert!(written("units.0.0.depthwise_bn.running_var", 32));
    assert!(written("units.0.0.project_bn.running_mean", 16));
    assert!(written("units.0.1.expand_bn.running_var", 96));
    // Unit 0 runs two layers: the third and fourth are off the path.
    for position in [2, 3] {
        for bn in ["expand_bn", "depthwise_bn", "project_bn"] {
            assert!(untouched(&format!("units.0.{position}.{bn}.running_mean")));
        }
    }
    // Unit 3 (32 -> 48) at expansion 3: 96 of 192 middle channels.
    assert!(written("units.3.0.depthwise_bn.running_mean", 96));
    assert!(written("units.3.3.expand_bn.running_var", 3 * 48));
}

/// The transforms and residual scales moved off their identity start, so that the test sees
/// the kernel transform and every layer.
fn trained_looking(mut net: OfaSupernet, device: &Device) -> OfaSupernet {
    let mut streams = SeedStreams::new(9).stream("perturb");
    for layer in net.units.iter_mut().flatten() {
        for transform in &mut layer.depthwise.transforms {
            let [n, _] = transform.dims();
            let noise = nasr_nn::init::normal_tensor([n, n], &mut streams, device).mul_scalar(0.1);
            let moved = Tensor::<2>::eye(n, device) + noise;
            *transform = Param::from_tensor(moved);
        }
        let ones = layer.project_bn.gamma.val().ones_like().mul_scalar(0.5);
        layer.project_bn.gamma = Param::from_tensor(ones);
    }
    net
}

#[test]
fn the_extracted_network_computes_the_supernets_subnetwork() {
    let space = space();
    let device = nasr_nn::Compute::Cpu.train_device();
    let arch = space.parse(ARCH).unwrap();
    let data = digits();
    let net = recalibrated(
        trained_looking(supernet(&space, &device), &device),
        &arch,
        &data,
    );
    let extracted = OfaNet::extract(&net, &arch).unwrap();
    // Only the sub-network's weights: its own parameter count, no kernel transforms.
    assert_eq!(
        nasr_nn::params::parameter_count(&extracted) as u64,
        space.cost(&arch).params
    );
    let x = nasr_nn::init::normal_tensor(
        [3, 1, 8, 8],
        &mut SeedStreams::new(5).stream("input"),
        &nasr_nn::Compute::Cpu.eval_device(),
    );
    let values = |t: Tensor<2>| -> Vec<f32> { t.into_data().try_to_vec().unwrap() };
    let dynamic = values(net.valid().forward_path(&arch, x.clone()));
    let cut = values(Classifier::forward(&extracted.valid(), x));
    assert_ne!(
        dynamic[..10],
        dynamic[10..20],
        "the images give different logits"
    );
    for (a, b) in dynamic.iter().zip(&cut) {
        assert!((a - b).abs() <= 1e-5, "supernet {a}, extracted {b}");
    }
}

#[test]
fn a_fresh_subnetwork_holds_exactly_its_own_weights() {
    let space = space();
    let device = nasr_nn::Compute::Cpu.eval_device();
    let arch = space.parse(ARCH).unwrap();
    let net = OfaNet::new(&space, &arch, &device).unwrap();
    assert_eq!(
        nasr_nn::params::parameter_count(&net) as u64,
        space.cost(&arch).params
    );
    let mut wrong = arch.clone();
    wrong.choices[0] = 99;
    let err = OfaNet::new(&space, &wrong, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("architecture"), "{err}");
}

/// A table of the ofa space holds a timing for every key its sub-networks need, and prices a
/// sub-network as the sum of its blocks; the end-to-end measurement of one comes back too.
#[test]
fn the_ofa_latency_table_prices_every_subnetwork() {
    use nasr_nn::latency::Protocol;
    use nasr_search::ofa_latency::{block_key, blocks_of, table_blocks};
    let space = OfaSpace::new(OfaConfig {
        resolutions: vec![6, 8],
        ..OfaConfig::default()
    })
    .unwrap();
    let protocol = Protocol {
        batch_size: 1,
        warmup: 1,
        repeats: 2,
        rounds: 1,
    };
    let compute = nasr_nn::Compute::Cpu;
    let table = nasr_nn::ofa_latency::measure_table(&space, protocol, compute, |_, _| {}).unwrap();
    assert_eq!(table.entries.len(), table_blocks(&space).len());
    assert!(table.entries.values().all(|&ms| ms > 0.0));
    let arch = space.sample(&mut SeedStreams::new(0).stream("arch"));
    let sum: f64 = blocks_of(&space, &arch)
        .iter()
        .map(|b| table.entries[&block_key(&space, b)])
        .sum();
    assert_eq!(table.predict(&space, &arch).unwrap(), sum);
    let measured =
        nasr_nn::ofa_latency::measure_networks(&space, &[arch], protocol, compute, |_, _| {})
            .unwrap();
    assert!(measured[0] > 0.0);
}
