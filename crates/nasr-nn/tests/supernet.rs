//! The NB201 supernet in single-path mode: one path's forward touches only that path's
//! parameters, BN recalibration changes statistics and not weights, and a path's weights copied
//! into a standalone network give the same outputs.

use burn::module::Module;
use burn::optim::GradientsParams;
use nasr_nn::nets::nb201::{Nb201NetworkConfig, Nb201Supernet};
use nasr_nn::params::{named_param_ids, named_tensors};
use nasr_nn::supernet::{RecalBatches, recalibrate_bn};
use nasr_space::{Nb201Space, SeedStreams, Space};

const ARCH: &str =
    "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|";

fn config() -> Nb201NetworkConfig {
    Nb201NetworkConfig {
        channels: 4,
        cells: 1,
        in_channels: 1,
        classes: 10,
    }
}

fn supernet(device: &burn::tensor::Device, seed: u64) -> Nb201Supernet {
    nasr_nn::init::seeded(&mut SeedStreams::new(seed).stream("init"), || {
        Nb201Supernet::new(&config(), device)
    })
    .unwrap()
}

#[test]
fn a_path_forward_touches_only_the_selected_ops_parameters() {
    let device = nasr_nn::Compute::Cpu.train_device();
    let space = Nb201Space::new();
    let arch = space.parse(ARCH).unwrap();
    let net = supernet(&device, 0).train();
    let x = nasr_nn::init::normal_tensor(
        [4, 1, 12, 12],
        &mut nasr_space::SeedStreams::new(1).stream("input"),
        &device,
    );
    let loss = net.forward_path(&arch, x).square().mean();
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let (mut selected, mut unselected) = (0, 0);
    // Convolution weights are the 4-D parameters.
    for (name, id, _) in named_param_ids(&net).into_iter().filter(|p| p.2 == 4) {
        let parts: Vec<&str> = name.split('.').collect();
        if parts.len() > 5 && parts[0] == "cells" && name.ends_with("conv.weight") {
            assert_eq!(parts[4], "ops", "{name}: a supernet edge names its ops");
            // Conv weights are 4-D: only those are looked up as such.
            let grad_norm = grads
                .get::<4>(id)
                .map(|g| g.abs().sum().into_scalar::<f32>());
            let edge: usize = parts[3].parse().unwrap();
            let chosen = nasr_space::nb201::NB201_OPS[arch.choices[edge]];
            if parts[5] == chosen {
                assert!(
                    grad_norm.is_some_and(|g| g > 0.0),
                    "{name} is on the path but has no gradient"
                );
                selected += 1;
            } else {
                assert!(
                    grad_norm.is_none_or(|g| g == 0.0),
                    "{name} is off the path but has a gradient"
                );
                unselected += 1;
            }
        }
    }
    // In each of the 3 cells (N = 1 per stage), edges 0, 2 and 5 carry a conv on the path; the
    // other conv of those edges and both convs of the other three edges are off it.
    assert_eq!((selected, unselected), (3 * 3, 3 * 9));
}

#[test]
fn bn_recalibration_changes_statistics_and_not_weights() {
    let device = nasr_nn::Compute::Cpu.train_device();
    let arch = Nb201Space::new().parse(ARCH).unwrap();
    let data = nasr_data::load(
        nasr_data::DatasetName::Digits,
        &nasr_data::test_data_dir(&["sklearn-digits"]),
    )
    .unwrap()
    .train;
    let normalization = data.channel_stats();
    let before = named_tensors(&supernet(&device, 1));
    let after = named_tensors(&recalibrate_bn(
        supernet(&device, 1),
        &arch,
        RecalBatches {
            dataset: &data,
            normalization: &normalization,
            batch_size: 32,
            batches: 4,
        },
        &mut SeedStreams::new(0).stream("recal"),
        &device,
    ));
    let mut changed_stats = 0;
    for (name, tensor) in &before {
        let is_stat = name.ends_with("running_mean") || name.ends_with("running_var");
        if is_stat {
            changed_stats += usize::from(after[name] != *tensor);
        } else {
            assert_eq!(after[name], *tensor, "{name} is a weight and changed");
        }
    }
    // The stem, both reductions, the head and the path's two... at least the shared BNs changed.
    assert!(
        changed_stats >= 10,
        "only {changed_stats} statistics changed"
    );
    // BNs of ops off the path are never fed: their statistics are left as they were.
    let off_path = "cells.0.edges.1.ops.nor_conv_3x3.bn.running_var";
    assert_eq!(after[off_path], before[off_path]);
}

#[test]
fn copied_out_weights_give_the_supernet_paths_outputs() {
    let device = nasr_nn::Compute::Cpu.eval_device();
    let arch = Nb201Space::new().parse(ARCH).unwrap();
    let net = supernet(&device, 2);
    let standalone = net.extract(&arch, &config(), &device).unwrap();
    let x = nasr_nn::init::normal_tensor(
        [3, 1, 16, 16],
        &mut nasr_space::SeedStreams::new(2).stream("input"),
        &device,
    );
    let from_supernet: Vec<f32> = net
        .valid()
        .forward_path(&arch, x.clone())
        .into_data()
        .try_to_vec()
        .unwrap();
    let from_standalone: Vec<f32> = standalone
        .valid()
        .forward(x)
        .into_data()
        .try_to_vec()
        .unwrap();
    assert_eq!(from_supernet, from_standalone);
}

/// The DARTS supernet's path of a derived genotype computes its mixed relaxation with one-hot
/// weights on the chosen (op, input) pairs and zero rows elsewhere, and recalibration reaches
/// each of its BatchNorms once.
#[test]
fn a_darts_path_is_the_mixed_relaxation_with_one_hot_weights() {
    use burn::tensor::{Tensor, TensorData};
    use nasr_nn::nets::darts::{DartsNetConfig, DartsSupernet};
    use nasr_nn::supernet::PathSupernet;
    use nasr_space::DartsSpace;
    use nasr_space::darts::{DARTS_EDGES, DARTS_OPS, first_edge};

    let device = nasr_nn::Compute::Cpu.eval_device();
    let space = DartsSpace::new();
    let arch = space.sample(&mut SeedStreams::new(4).stream("arch"));
    let config = DartsNetConfig {
        channels: 4,
        layers: 3,
        ..DartsNetConfig::default()
    };
    let mut net = nasr_nn::init::seeded(&mut SeedStreams::new(5).stream("init"), || {
        DartsSupernet::new(&config, &device)
    })
    .unwrap();
    let mut weights = vec![0f32; 2 * DARTS_EDGES * DARTS_OPS.len()];
    for (cell, genotype) in space.genotype(&arch).iter().enumerate() {
        for (node, pair) in genotype.iter().enumerate() {
            for &(op, input) in pair {
                let row = cell * DARTS_EDGES + first_edge(node) + input;
                weights[row * DARTS_OPS.len() + op] = 1.0;
            }
        }
    }
    let weights = Tensor::<2>::from_data(
        TensorData::new(weights, [2 * DARTS_EDGES, DARTS_OPS.len()]),
        &device,
    );
    let x =
        nasr_nn::init::normal_tensor([2, 1, 8, 8], &mut SeedStreams::new(6).stream("x"), &device);
    let path = net.forward_path(&arch, x.clone()).into_data();
    let mixed = net.forward_mixed(&weights, 0.0, x).into_data();
    path.assert_approx_eq::<f32>(&mixed, burn::tensor::Tolerance::absolute(1e-5));
    // Stem, then per cell two preprocessings and, per edge, every op's BatchNorms.
    let names = named_tensors(&net);
    let bn_means = names.keys().filter(|k| k.ends_with("running_mean")).count();
    assert_eq!(net.batch_norms().len(), bn_means);
}
