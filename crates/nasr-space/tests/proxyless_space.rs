//! ProxylessNAS's full-size space, read from the data file `spaces/proxyless-imagenet.toml`:
//! the layer counts of the paper's code (METHODS.md section 1's checklist).

use nasr_space::Space;
use nasr_space::mobilenet::{MobileNetConfig, MobileNetSpace};

#[test]
fn proxylessnas_full_space_has_21_mixed_layers_and_zero_in_15() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../spaces/proxyless-imagenet.toml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let config: MobileNetConfig = toml::from_str(&text).unwrap();
    let space = MobileNetSpace::new(config).unwrap();
    assert_eq!(space.decisions().len(), 21);
    let with_zero: Vec<usize> = (0..21)
        .filter(|&l| space.decisions()[l].options.contains(&"skip".to_string()))
        .collect();
    assert_eq!(with_zero.len(), 15, "{with_zero:?}");
    // Zero only on stride-1 layers of unchanged width, which are the residual ones.
    for (layer, shape) in space.layers().iter().enumerate() {
        assert_eq!(
            with_zero.contains(&layer),
            shape.residual(),
            "layer {layer}"
        );
        let expected = if shape.residual() { 7 } else { 6 };
        assert_eq!(space.decisions()[layer].options.len(), expected);
    }
    // 224 / 2 (stem) / 2 / 2 / 2 / 2 = 7 at the head, as MobileNetV2.
    assert_eq!(space.layers().last().unwrap().size_out(), 7);
}
