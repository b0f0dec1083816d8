//! The NB201 network builds for any architecture, input size and channel count, keeps stable
//! parameter names, and round-trips through safetensors.

use nasr_nn::nets::nb201::{Nb201Network, Nb201NetworkConfig};
use nasr_nn::params::{
    load_named, load_safetensors, named_tensors, parameter_count, save_safetensors,
};
use nasr_space::{Nb201Space, SeedStreams, Space};

const BEST: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

fn build(arch: &str, config: Nb201NetworkConfig, seed: u64) -> Nb201Network {
    let arch = Nb201Space::new().parse(arch).unwrap();
    let device = nasr_nn::Compute::Cpu.eval_device();
    nasr_nn::init::seeded(&mut SeedStreams::new(seed).stream("init"), || {
        config.init(&arch, &device)
    })
    .unwrap()
}

fn config(in_channels: usize) -> Nb201NetworkConfig {
    Nb201NetworkConfig {
        channels: 4,
        cells: 1,
        in_channels,
        classes: 10,
    }
}

#[test]
fn logits_have_batch_by_classes_shape_for_mnist_cifar_and_odd_sizes() {
    let device = nasr_nn::Compute::Cpu.eval_device();
    for (channels, size) in [(1, 28), (3, 32), (3, 15), (1, 8)] {
        let net = build(BEST, config(channels), 0);
        let x = nasr_nn::init::normal_tensor(
            [2, channels, size, size],
            &mut nasr_space::SeedStreams::new(1).stream("input"),
            &device,
        );
        assert_eq!(net.forward(x).dims(), [2, 10], "{channels}x{size}x{size}");
    }
}

#[test]
fn every_op_including_an_all_zero_cell_runs() {
    let device = nasr_nn::Compute::Cpu.eval_device();
    let space = Nb201Space::new();
    for op in [
        "none",
        "skip_connect",
        "nor_conv_1x1",
        "nor_conv_3x3",
        "avg_pool_3x3",
    ] {
        let arch = format!("|{op}~0|+|{op}~0|{op}~1|+|{op}~0|{op}~1|{op}~2|");
        space.parse(&arch).unwrap();
        let net = build(&arch, config(1), 0);
        let x = nasr_nn::init::normal_tensor(
            [2, 1, 12, 12],
            &mut nasr_space::SeedStreams::new(2).stream("input"),
            &device,
        );
        let logits: Vec<f32> = net.forward(x).into_data().try_to_vec().unwrap();
        assert!(logits.iter().all(|v| v.is_finite()), "{op}");
    }
}

#[test]
fn parameter_names_are_stable_dotted_and_name_the_op() {
    let net = build(BEST, config(1), 0);
    let names: Vec<String> = named_tensors(&net).into_keys().collect();
    for expected in [
        "stem_conv.weight",
        "cells.0.edges.0.nor_conv_3x3.conv.weight",
        "cells.2.edges.5.nor_conv_3x3.bn.running_var",
        "reductions.1.shortcut_conv.weight",
        "classifier.bias",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    // edge 3 is skip_connect: it has no parameters.
    assert!(!names.iter().any(|n| n.starts_with("cells.0.edges.3.")));
}

#[test]
fn parameter_count_matches_hand_count() {
    // C=4, N=1, 1 input channel, arch of one 1x1 conv edge and five skips.
    let arch = "|nor_conv_1x1~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|";
    let net = build(arch, config(1), 0);
    let (c1, c2, c3) = (4, 8, 16);
    let stem = 9 * c1 + 2 * c1;
    let cell = |c: usize| c * c + 2 * c;
    let reduction = |i: usize, o: usize| (9 * i * o + 2 * o) + (9 * o * o + 2 * o) + i * o;
    let head = 2 * c3 + c3 * 10 + 10;
    let expected =
        stem + cell(c1) + cell(c2) + cell(c3) + reduction(c1, c2) + reduction(c2, c3) + head;
    assert_eq!(parameter_count(&net), expected);
}

#[test]
fn invalid_sizes_are_rejected_with_the_field_named() {
    let arch = Nb201Space::new().parse(BEST).unwrap();
    let device = nasr_nn::Compute::Cpu.eval_device();
    let bad = Nb201NetworkConfig {
        channels: 0,
        ..config(1)
    };
    let err = bad.init(&arch, &device).unwrap_err();
    assert!(err.to_string().contains("channels"), "{err}");
    let bad = Nb201NetworkConfig {
        classes: 1,
        ..config(1)
    };
    assert!(
        bad.init(&arch, &device)
            .unwrap_err()
            .to_string()
            .contains("classes")
    );
}

#[test]
fn safetensors_round_trip_gives_identical_outputs() {
    let device = nasr_nn::Compute::Cpu.eval_device();
    let dir = std::env::temp_dir().join(format!("nasr-nn-roundtrip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let source = build(BEST, config(1), 1);
    save_safetensors(&named_tensors(&source), &path).unwrap();
    let fresh = build(BEST, config(1), 2);
    let x = nasr_nn::init::normal_tensor(
        [3, 1, 16, 16],
        &mut nasr_space::SeedStreams::new(3).stream("input"),
        &device,
    );
    let before: Vec<f32> = fresh.forward(x.clone()).into_data().try_to_vec().unwrap();
    let loaded = load_named(fresh, &load_safetensors(&path).unwrap(), &path).unwrap();
    let expected: Vec<f32> = source.forward(x.clone()).into_data().try_to_vec().unwrap();
    let got: Vec<f32> = loaded.forward(x).into_data().try_to_vec().unwrap();
    assert_eq!(got, expected);
    assert_ne!(
        before, expected,
        "the two seeds must give different networks"
    );
    // A checkpoint of another architecture does not fit, and says which tensor.
    let other = build(
        "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        config(1),
        0,
    );
    let err = load_named(other, &load_safetensors(&path).unwrap(), &path).unwrap_err();
    assert!(
        err.to_string()
            .contains("missing tensor cells.0.edges.0.nor_conv_1x1.conv.weight"),
        "{err}"
    );
}
