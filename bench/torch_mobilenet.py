#!/usr/bin/env python3
"""PyTorch twin of `nasr bench train-step|supernet-step|infer|eval --space mobilenet`.

Builds a MobileNet-space network exactly as nasr does (crates/nasr-nn/src/ops/mbconv.rs,
nets/mobilenet/): a 3x3 stem conv + BN + ReLU6; per searchable layer an MBConv block (1x1
expansion + BN + ReLU6 unless the ratio is 1, kxk depthwise conv at the layer's stride + BN +
ReLU6, 1x1 projection + BN, plus the input when stride is 1 and the widths match); a 1x1 head
conv + BN + ReLU6, global mean pooling and a linear classifier. Convolutions have no bias and
padding k // 2. The space's sizes come from the same TOML file nasr reads (--mobilenet-config),
or nasr's default 28x28x1 space.

Modes:
  train  - one training step of the network of --arch: forward, cross-entropy, backward,
           clip_grad_norm_(5.0), SGD (momentum 0.9, Nesterov, weight decay 5e-4, lr 0.01);
  path   - the same step on a supernet holding every candidate block of every layer, one
           uniformly sampled path per step (SPOS, RSWS);
  fair   - FairNAS's strictly fair step on that supernet: m paths (every option of every layer
           once), their summed loss, one backward and one update;
  infer  - forward only of the network, eval mode, torch.no_grad(), on a random batch;
  eval   - evaluation passes over the MNIST test set (read from $NASR_DATA/mnist), eval mode,
           no_grad, batches of --batch-size, converting and normalising each batch in the pass.
Prints the median and minimum over the timed steps, and the growth of resident memory from just
before the first step to the peak (the peak is reset then).
"""

import argparse
import gzip
import json
import os
import random
import sys
import time
import tomllib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_train_step import MemoryWatch, median, peak_rss

DEFAULT_CONFIG = {
    "input_size": 28,
    "in_channels": 1,
    "classes": 10,
    "stem_channels": 8,
    "stem_stride": 1,
    "stages": [
        {"channels": 8, "layers": 2, "stride": 1},
        {"channels": 16, "layers": 2, "stride": 2},
        {"channels": 32, "layers": 2, "stride": 2},
    ],
    "head_channels": 64,
    "kernels": [3, 5, 7],
    "expansions": [3, 6],
    "allow_skip": False,
}
# nasr's default architecture: layer i takes entry i mod 6.
ARCH_CYCLE = ("k3_e3", "k5_e6", "k7_e3", "k3_e6", "k5_e3", "k7_e6")


def load_config(path):
    config = dict(DEFAULT_CONFIG)
    if path:
        with open(path, "rb") as f:
            config.update(tomllib.load(f))
    return config


def layer_shapes(config):
    """(c_in, c_out, stride) of every searchable layer, in order."""
    shapes, c_in = [], config["stem_channels"]
    for stage in config["stages"]:
        for i in range(stage["layers"]):
            shapes.append((c_in, stage["channels"], stage["stride"] if i == 0 else 1))
            c_in = stage["channels"]
    return shapes


def options(config, shape):
    names = [f"k{k}_e{e}" for k in config["kernels"] for e in config["expansions"]]
    c_in, c_out, stride = shape
    if config["allow_skip"] and stride == 1 and c_in == c_out:
        names.append("skip")
    return names


def conv_bn(c_in, c_out, k, stride=1, groups=1):
    return [nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out)]


class MbConv(nn.Module):
    def __init__(self, shape, kernel, expansion):
        super().__init__()
        c_in, c_out, stride = shape
        hidden = c_in * expansion
        layers = []
        if expansion != 1:
            layers += conv_bn(c_in, hidden, 1) + [nn.ReLU6()]
        layers += conv_bn(hidden, hidden, kernel, stride, hidden) + [nn.ReLU6()]
        layers += conv_bn(hidden, c_out, 1)
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        y = self.body(x)
        return y + x if self.residual else y


def block(shape, name):
    if name == "skip":
        return None
    kernel, expansion = (int(part[1:]) for part in name.split("_"))
    return MbConv(shape, kernel, expansion)


class Skeleton(nn.Module):
    def __init__(self, config):
        super().__init__()
        last = config["stages"][-1]["channels"]
        self.stem = nn.Sequential(*conv_bn(config["in_channels"], config["stem_channels"], 3,
                                           config["stem_stride"]), nn.ReLU6())
        self.head = nn.Sequential(*conv_bn(last, config["head_channels"], 1), nn.ReLU6())
        self.classifier = nn.Linear(config["head_channels"], config["classes"])

    def run(self, x, layers):
        x = self.head(layers(self.stem(x)))
        return self.classifier(x.mean(dim=(2, 3)))


class Network(nn.Module):
    def __init__(self, config, arch):
        super().__init__()
        self.skeleton = Skeleton(config)
        blocks = [block(s, name) for s, name in zip(layer_shapes(config), arch)]
        self.layers = nn.Sequential(*(b for b in blocks if b is not None))

    def forward(self, x):
        return self.skeleton.run(x, self.layers)


class Supernet(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.skeleton = Skeleton(config)
        self.options = [options(config, s) for s in layer_shapes(config)]
        self.layers = nn.ModuleList(
            nn.ModuleDict({n: block(s, n) for n in names if n != "skip"})
            for s, names in zip(layer_shapes(config), self.options))

    def forward(self, x, path):
        def layers(x):
            for layer, name in zip(self.layers, path):
                if name != "skip":
                    x = layer[name](x)
            return x
        return self.skeleton.run(x, layers)

    def uniform_path(self, rng):
        return [rng.choice(names) for names in self.options]

    def fair_paths(self, rng):
        m = len(self.options[0])
        if any(len(names) != m for names in self.options):
            raise SystemExit("strict fairness needs every layer to have the same options")
        orders = [rng.sample(names, m) for names in self.options]
        return [[order[k] for order in orders] for k in range(m)]


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def mnist_test():
    folder = os.path.join(os.environ.get("NASR_DATA", "."), "mnist")
    def find(name):
        path = os.path.join(folder, name)
        return path if os.path.exists(path) else path.removesuffix(".gz")
    images = read_idx(find("t10k-images-idx3-ubyte.gz")).copy()
    labels = read_idx(find("t10k-labels-idx1-ubyte.gz"))
    train = read_idx(find("train-images-idx3-ubyte.gz"))
    scaled = train.astype(np.float32) / 255.0
    return images, labels, float(scaled.mean()), float(scaled.std())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", default="train", choices=["train", "path", "fair", "infer", "eval"])
    p.add_argument("--mobilenet-config", help="TOML of the space's sizes (nasr's format)")
    p.add_argument("--arch", help="canonical MobileNet string; default cycles nasr's six")
    p.add_argument("--batch-size", type=int, default=None, help="default 64; eval: 500")
    p.add_argument("--resolution", type=int)
    p.add_argument("--in-channels", type=int)
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (eval: 1)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (eval: passes, 3)")
    p.add_argument("--passes", type=int, default=None, help="eval: timed passes")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    a = p.parse_args()
    evaluating = a.mode == "eval"
    batch = a.batch_size or (500 if evaluating else 64)
    warmup = a.warmup if a.warmup is not None else (1 if evaluating else 3)
    steps = max(a.passes or a.steps or (3 if evaluating else 20), 1)

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    config = load_config(a.mobilenet_config)
    if a.resolution:
        config["input_size"] = a.resolution
    if a.in_channels:
        config["in_channels"] = a.in_channels
    shapes = layer_shapes(config)
    arch = a.arch.split("-") if a.arch else [ARCH_CYCLE[i % 6] for i in range(len(shapes))]
    if len(arch) != len(shapes):
        raise SystemExit(f"--arch has {len(arch)} layers; the space has {len(shapes)}")

    supernet = a.mode in ("path", "fair")
    model = Supernet(config) if supernet else Network(config, arch)
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    size, channels = config["input_size"], config["in_channels"]
    images = torch.randn(batch, channels, size, size)
    labels = torch.randint(0, config["classes"], (batch,))
    if evaluating:
        test_images, test_labels, mean, std = mnist_test()
    accuracy = None

    def train_step():
        opt.zero_grad(set_to_none=True)
        if a.mode == "train":
            loss = F.cross_entropy(model(images), labels)
        else:
            paths = model.fair_paths(rng) if a.mode == "fair" else [model.uniform_path(rng)]
            loss = sum(F.cross_entropy(model(images, path), labels) for path in paths)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()

    def evaluation_pass():
        correct = 0
        with torch.no_grad():
            for start in range(0, len(test_images), batch):
                x = torch.from_numpy(test_images[start:start + batch]).float()
                x = ((x / 255.0 - mean) / std).unsqueeze(1)
                y = torch.from_numpy(test_labels[start:start + batch].astype(np.int64))
                correct += (model(x).argmax(1) == y).sum().item()
        return correct / len(test_images)

    if a.mode in ("infer", "eval"):
        model.eval()
    else:
        model.train()
    times = []
    memory = MemoryWatch()
    for step in range(warmup + steps):
        started = time.perf_counter()
        if a.mode == "infer":
            with torch.no_grad():
                model(images)
        elif evaluating:
            accuracy = evaluation_pass()
        else:
            train_step()
        if step >= warmup:
            times.append(time.perf_counter() - started)

    result = {
        "bench": a.mode,
        "framework": f"pytorch {torch.__version__}",
        "arch": "-".join(arch),
        "config": config,
        "batch_size": batch,
        "steps": steps,
        "threads": a.threads,
        "params": sum(q.numel() for q in params),
        "median_ms": median(times) * 1e3,
        "min_ms": min(times) * 1e3,
        "memory_growth_mib": memory.growth_mib(),
        "peak_rss_mib": peak_rss(),
    }
    if accuracy is not None:
        result["accuracy"] = accuracy
    if a.json:
        print(json.dumps(result))
    else:
        print(f"{a.mode}, MobileNet {result['arch']}, batch {batch}x{channels}x{size}x{size}: "
              f"median {result['median_ms']:.1f} ms, min {result['min_ms']:.1f} ms over {steps} "
              f"steps; {result['params']} parameters; memory growth "
              f"{result['memory_growth_mib']:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
