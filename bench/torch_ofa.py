#!/usr/bin/env python3
"""PyTorch twin of `nasr bench train-step|infer --space ofa`.

Builds a sub-network of the Once-for-All space exactly as nasr's `OfaNet` does
(crates/nasr-nn/src/nets/ofa.rs, ops/elastic.rs) at nasr's default sizes
(`OfaConfig::default`, crates/nasr-space/src/ofa.rs): the input resized (bilinear) to the
sub-network's resolution; a 3x3 stem conv + BN + h-swish and a fixed first block (3x3 depthwise
+ BN + ReLU, 1x1 projection + BN, plus the input where the widths match); per unit its first d
layers, each an MBConv (1x1 expansion to make_divisible(c_in * e, 8) + BN + activation, kxk
depthwise at the layer's stride + BN + activation, squeeze-excite where the unit has it, 1x1
projection + BN, plus the input at stride 1 and equal widths); a 1x1 final expansion + BN +
h-swish, global mean pooling, a 1x1 feature mix (no BN) + h-swish and a linear classifier.
Units 0-1 use ReLU and units 2-4 h-swish; units 1, 3 and 4 have squeeze-excite (pooling, 1x1
reduction with bias to make_divisible(mid // 4, 8), ReLU, 1x1 expansion with bias, h-sigmoid).
Convolutions have no bias (but squeeze-excite's) and padding k // 2.

Modes:
  train  - one training step: forward, cross-entropy, backward, clip_grad_norm_(5.0), SGD
           (momentum 0.9, Nesterov, weight decay 5e-4, lr 0.01);
  infer  - forward only, eval mode, torch.no_grad(), on a random batch.
Prints the median and minimum over the timed steps, and the growth of resident memory from just
before the first step to the peak.
"""

import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_train_step import MemoryWatch, median, peak_rss

# nasr's OfaConfig::default (28x28x1 MNIST, 10 classes).
CONFIG = {
    "resolutions": [16, 20, 24, 28],
    "in_channels": 1,
    "classes": 10,
    "stem_channels": 8,
    "stem_stride": 1,
    "first_block_channels": 8,
    # (channels, first stride, h-swish, squeeze-excite)
    "units": [(16, 2, False, False), (24, 2, False, True), (32, 1, True, False),
              (48, 2, True, True), (64, 1, True, True)],
    "max_depth": 4,
    "final_expand_channels": 96,
    "feature_mix_channels": 128,
}
LARGEST = "r28|" + "|".join(["-".join(["k7_e6"] * 4)] * 5)


def make_divisible(value, divisor=8):
    """OFA's make_divisible, as nasr's nasr_space::ofa::make_divisible."""
    rounded = max(int((value + divisor / 2) // divisor) * divisor, divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def parse_arch(text):
    """`r28|k3_e4-k5_e6|...` -> (resolution, [[(kernel, expansion), ...] per unit])."""
    resolution, *units = text.split("|")
    if not resolution.startswith("r") or len(units) != len(CONFIG["units"]):
        raise SystemExit(f"--arch {text!r}: expected r<res> then {len(CONFIG['units'])} units")
    layers = [[tuple(int(part[1:]) for part in layer.split("_")) for layer in unit.split("-")]
              for unit in units]
    return int(resolution[1:]), layers


def conv(c_in, c_out, k, stride=1, groups=1):
    return nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, groups=groups, bias=False)


class SqueezeExcite(nn.Module):
    def __init__(self, middle):
        super().__init__()
        reduced = make_divisible(middle // 4)
        self.reduce = nn.Conv2d(middle, reduced, 1)
        self.expand = nn.Conv2d(reduced, middle, 1)

    def forward(self, x):
        pooled = x.mean(dim=(2, 3), keepdim=True)
        return x * F.hardsigmoid(self.expand(F.relu(self.reduce(pooled))))


class MbConv(nn.Module):
    def __init__(self, c_in, c_out, stride, kernel, expansion, hswish, squeeze_excite):
        super().__init__()
        middle = make_divisible(c_in * expansion)
        act = nn.Hardswish() if hswish else nn.ReLU()
        layers = [conv(c_in, middle, 1), nn.BatchNorm2d(middle), act,
                  conv(middle, middle, kernel, stride, middle), nn.BatchNorm2d(middle), act]
        if squeeze_excite:
            layers.append(SqueezeExcite(middle))
        layers += [conv(middle, c_out, 1), nn.BatchNorm2d(c_out)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        y = self.body(x)
        return y + x if self.residual else y


class OfaNet(nn.Module):
    def __init__(self, config, arch):
        super().__init__()
        self.resolution, units = arch
        stem, first = config["stem_channels"], config["first_block_channels"]
        self.stem = nn.Sequential(conv(config["in_channels"], stem, 3, config["stem_stride"]),
                                  nn.BatchNorm2d(stem), nn.Hardswish())
        self.first = nn.Sequential(conv(stem, stem, 3, 1, stem), nn.BatchNorm2d(stem), nn.ReLU(),
                                   conv(stem, first, 1), nn.BatchNorm2d(first))
        self.first_residual = stem == first
        layers, c_in = [], first
        for (channels, stride, hswish, se), settings in zip(config["units"], units):
            for position, (kernel, expansion) in enumerate(settings):
                layers.append(MbConv(c_in, channels, stride if position == 0 else 1, kernel,
                                     expansion, hswish, se))
                c_in = channels
        self.layers = nn.Sequential(*layers)
        expand, mix = config["final_expand_channels"], config["feature_mix_channels"]
        self.final_expand = nn.Sequential(conv(c_in, expand, 1), nn.BatchNorm2d(expand),
                                          nn.Hardswish())
        self.feature_mix = nn.Sequential(conv(expand, mix, 1), nn.Hardswish())
        self.classifier = nn.Linear(mix, config["classes"])

    def forward(self, x):
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear")
        h = self.stem(x)
        first = self.first(h)
        h = first + h if self.first_residual else first
        h = self.final_expand(self.layers(h))
        h = self.feature_mix(h.mean(dim=(2, 3), keepdim=True))
        return self.classifier(h.flatten(1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", default="train", choices=["train", "infer"])
    p.add_argument("--arch", default=LARGEST, help="canonical OFA string; default the largest")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--resolution", type=int, default=max(CONFIG["resolutions"]),
                   help="input height and width (resized to the architecture's)")
    p.add_argument("--in-channels", type=int)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    a = p.parse_args()
    steps = max(a.steps, 1)

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    config = dict(CONFIG)
    if a.in_channels:
        config["in_channels"] = a.in_channels
    model = OfaNet(config, parse_arch(a.arch))
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    size, channels = a.resolution, config["in_channels"]
    images = torch.randn(a.batch_size, channels, size, size)
    labels = torch.randint(0, config["classes"], (a.batch_size,))

    def train_step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(images), labels).backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()

    model.train(a.mode == "train")
    times = []
    memory = MemoryWatch()
    for step in range(a.warmup + steps):
        started = time.perf_counter()
        if a.mode == "infer":
            with torch.no_grad():
                model(images)
        else:
            train_step()
        if step >= a.warmup:
            times.append(time.perf_counter() - started)

    result = {
        "bench": a.mode,
        "framework": f"pytorch {torch.__version__}",
        "arch": a.arch,
        "batch_size": a.batch_size,
        "steps": steps,
        "threads": a.threads,
        "params": sum(q.numel() for q in params),
        "median_ms": median(times) * 1e3,
        "min_ms": min(times) * 1e3,
        "memory_growth_mib": memory.growth_mib(),
        "peak_rss_mib": peak_rss(),
    }
    if a.json:
        print(json.dumps(result))
    else:
        print(f"{a.mode}, OFA {a.arch}, batch {a.batch_size}x{channels}x{size}x{size}: "
              f"median {result['median_ms']:.1f} ms, min {result['min_ms']:.1f} ms over {steps} "
              f"steps; {result['params']} parameters; memory growth "
              f"{result['memory_growth_mib']:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
