#!/usr/bin/env python3
"""PyTorch twin of `nasr bench ops`: forward + backward of single ops on random input.

Prints, per op and shape, the median over --steps runs after --warmup, and with --nasr FILE
(the JSON lines of `nasr bench ops --json`) the nasr/PyTorch ratio beside it.
"""

import argparse
import json
import time

import torch
import torch.nn as nn

from torch_train_step import median


def make(op, channels):
    def depthwise(k, stride):
        return nn.Conv2d(channels, channels, k, stride=stride, padding=k // 2, groups=channels,
                         bias=False)

    return {
        "conv3x3": lambda: nn.Conv2d(channels, channels, 3, padding=1, bias=False),
        "conv1x1": lambda: nn.Conv2d(channels, channels, 1, bias=False),
        "depthwise3x3": lambda: depthwise(3, 1),
        "depthwise5x5": lambda: depthwise(5, 1),
        "depthwise7x7": lambda: depthwise(7, 1),
        "depthwise3x3s2": lambda: depthwise(3, 2),
        "batchnorm": lambda: nn.BatchNorm2d(channels),
        "relu": lambda: nn.ReLU(),
        "batchnorm_relu6": lambda: nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU6()),
        "avg_pool3x3": lambda: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
        "add": lambda: (lambda x: x + x),
    }[op]()


OPS = ("conv3x3", "conv1x1", "depthwise3x3", "depthwise5x5", "depthwise7x7", "depthwise3x3s2",
       "batchnorm", "relu", "batchnorm_relu6", "avg_pool3x3", "add")


def time_op(op, batch, channels, size, warmup, steps):
    module = make(op, channels)
    if isinstance(module, nn.Module):
        module.train()
    x0 = torch.rand(batch, channels, size, size) * 2 - 1
    times = []
    for step in range(warmup + steps):
        x = x0.clone().requires_grad_()
        started = time.perf_counter()
        module(x).sum().backward()
        if step >= warmup:
            times.append(time.perf_counter() - started)
    return median(times) * 1e3


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--shapes", default="16x32,32x16,64x8")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ops", default=",".join(OPS), help="ops, comma-separated")
    p.add_argument("--nasr", help="JSON lines of `nasr bench ops --json`, for ratios")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    shapes = [tuple(int(v) for v in s.split("x")) for s in a.shapes.split(",")]
    nasr = {}
    if a.nasr:
        for line in open(a.nasr):
            r = json.loads(line)
            nasr[(r["op"], r["shape"][1], r["shape"][2])] = r["median_ms"]
    print(f"forward + backward, batch {a.batch_size}, median of {a.steps} runs: "
          f"PyTorch {torch.__version__} ms" + (" (nasr/PyTorch)" if nasr else ""))
    print(f"{'op':<14}" + "".join(f" {f'{c}x{s}x{s}':>16}" for c, s in shapes))
    for op in a.ops.split(","):
        cells = []
        for c, s in shapes:
            ms = time_op(op, a.batch_size, c, s, a.warmup, a.steps)
            ratio = f" ({nasr[(op, c, s)] / ms:.1f}x)" if (op, c, s) in nasr else ""
            cells.append(f"{ms:.2f}{ratio}")
        print(f"{op:<14}" + "".join(f" {cell:>16}" for cell in cells))


if __name__ == "__main__":
    main()
