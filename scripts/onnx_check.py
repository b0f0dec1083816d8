"""Checks ONNX models nasr exported with the ONNX project's own tools: onnx.checker (full
check, with shape inference), then onnxruntime on MNIST test images, whose classes must be the
ones `nasr predict` printed for the same images.

    python scripts/onnx_check.py IMAGES.idx[.gz] MODEL.onnx CLASSES.txt [MODEL.onnx CLASSES.txt ...]

CLASSES.txt is `nasr predict MODEL IMAGES --first N` output; N images are checked.
"""

import gzip
import sys

import numpy as np
import onnx
import onnxruntime as ort


def read_idx_images(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    count, rows, cols = (int.from_bytes(data[i : i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, np.uint8, offset=16).reshape(count, 1, rows, cols)


def nasr_classes(path):
    with open(path) as f:
        lines = f.read().splitlines()[1:]
    return [int(line.split()[1]) for line in lines if " images" not in line]


def check(model_path, images, expected):
    onnx.checker.check_model(model_path, full_check=True)
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    batch = images[: len(expected)].astype(np.float32) / 255.0
    name = session.get_inputs()[0].name
    # Two batch sizes: the batch axis is dynamic.
    logits = np.concatenate(
        [session.run(None, {name: part})[0] for part in (batch[:7], batch[7:])]
    )
    classes = logits.argmax(axis=1).tolist()
    agree = sum(a == b for a, b in zip(classes, expected))
    print(
        f"{model_path}: onnx.checker ok; onnxruntime {ort.__version__}: "
        f"{agree}/{len(expected)} classes as nasr's ({meta['space']}, {meta['arch']})"
    )
    return agree == len(expected)


def main(argv):
    images = read_idx_images(argv[0])
    pairs = list(zip(argv[1::2], argv[2::2]))
    ok = all([check(model, images, nasr_classes(classes)) for model, classes in pairs])
    sys.exit(0 if ok and pairs else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
