//! `nasr export` and `nasr predict` as a user runs them on real MNIST: a trained run exported
//! to ONNX; ten test images classified by the run and by the exported model alike; the whole
//! test set's accuracy through either equal to the run's test accuracy; a PNG of a test image
//! gets the class its IDX copy gets; a folder that is no trained run is refused by name.

mod common;

use std::path::{Path, PathBuf};

use common::{fail, scratch, succeed};

const ARCH: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

fn mnist(file: &str) -> PathBuf {
    nasr_data::test_data_dir(&["mnist"])
        .join("mnist")
        .join(file)
}

/// The class column of `nasr predict`'s per-image lines.
fn classes(printed: &str) -> Vec<String> {
    printed
        .lines()
        .skip(1)
        .filter(|l| !l.contains(" images"))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect()
}

fn accuracy(printed: &str) -> String {
    let last = printed.lines().last().unwrap();
    last.rsplit(' ').next().unwrap().to_string()
}

fn train(out: &Path) {
    succeed(&[
        "train",
        "--space",
        "nb201",
        "--arch",
        ARCH,
        "--data",
        "mnist",
        "--epochs",
        "1",
        "--channels",
        "4",
        "--cells",
        "1",
        "--batch-size",
        "32",
        "--seed",
        "5",
        "--train-subset",
        "2000",
        "--no-progress",
        "--out",
        out.to_str().unwrap(),
    ]);
}

#[test]
fn an_exported_run_predicts_like_the_run_and_matches_its_test_accuracy() {
    let run = scratch("export-run");
    train(&run);
    let printed = succeed(&["export", run.to_str().unwrap()]);
    let model = run.join("model.onnx");
    assert!(
        printed.contains("model.onnx") && model.is_file(),
        "{printed}"
    );

    let (images, labels) = (
        mnist("t10k-images-idx3-ubyte.gz"),
        mnist("t10k-labels-idx1-ubyte.gz"),
    );
    let (images, labels) = (images.to_str().unwrap(), labels.to_str().unwrap());
    let by_run = succeed(&["predict", run.to_str().unwrap(), images, "--first", "10"]);
    let by_onnx = succeed(&["predict", model.to_str().unwrap(), images, "--first", "10"]);
    assert_eq!(classes(&by_run).len(), 10, "{by_run}");
    assert_eq!(classes(&by_run), classes(&by_onnx));
    assert!(
        by_run.lines().last().unwrap().starts_with("10 images"),
        "{by_run}"
    );

    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    let test_accuracy = format!("{:.4}", metrics["test_accuracy"].as_f64().unwrap());
    for model in [run.to_str().unwrap(), model.to_str().unwrap()] {
        let all = succeed(&["predict", model, images, "--labels", labels, "--summary"]);
        assert!(all.starts_with("10000 images"), "{all}");
        assert_eq!(accuracy(&all), test_accuracy, "{model}: {all}");
    }

    // The first test image as a PNG gets the class its IDX copy got.
    let (shape, pixels) = nasr_data::read_idx_images(&mnist("t10k-images-idx3-ubyte.gz")).unwrap();
    let png = run.join("first.png");
    image::GrayImage::from_raw(
        shape.width as u32,
        shape.height as u32,
        pixels[..784].to_vec(),
    )
    .unwrap()
    .save(&png)
    .unwrap();
    let from_png = succeed(&["predict", model.to_str().unwrap(), png.to_str().unwrap()]);
    assert_eq!(classes(&from_png)[0], classes(&by_onnx)[0], "{from_png}");
    std::fs::remove_dir_all(&run).unwrap();
}

#[test]
fn export_and_predict_refuse_what_they_cannot_read_by_name() {
    let empty = scratch("export-empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = fail(&["export", empty.to_str().unwrap()]);
    assert!(err.contains("is not a trained run"), "{err}");
    let err = fail(&["export", empty.to_str().unwrap(), "--opset", "13"]);
    assert!(err.contains("opset 18 only"), "{err}");

    let not_onnx = empty.join("model.onnx");
    std::fs::write(&not_onnx, b"not a model").unwrap();
    let images = mnist("t10k-images-idx3-ubyte.gz");
    let err = fail(&[
        "predict",
        not_onnx.to_str().unwrap(),
        images.to_str().unwrap(),
    ]);
    assert!(
        err.contains("model.onnx") && err.contains("not an ONNX model"),
        "{err}"
    );
    std::fs::remove_dir_all(&empty).unwrap();
}
