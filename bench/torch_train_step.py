#!/usr/bin/env python3
"""PyTorch twin of `nasr bench train-step`.

Times one training step (forward, cross-entropy, backward, clip_grad_norm_(5.0), SGD with
momentum 0.9, Nesterov, weight decay 5e-4, lr 0.01) of the NAS-Bench-201 tiny network, built
exactly as nasr builds it (crates/nasr-nn/src/nb201.rs, ops.rs), on random data. Reports the
median and minimum over --steps timed steps after --warmup untimed ones.
"""

import argparse
import json
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# (to, from) of each cell edge, in arch-string order.
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
DEFAULT_ARCH = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)


def parse_arch(arch):
    """'|a~0|+|b~0|c~1|+|...|' -> six op names, checked against EDGES."""
    ops = []
    for to, node in enumerate(arch.split("+"), start=1):
        for token in filter(None, node.split("|")):
            name, _, source = token.partition("~")
            if name not in OPS:
                raise ValueError(f"unknown op {name!r}, expected one of {OPS}")
            if (to, int(source)) != EDGES[len(ops)]:
                raise ValueError(f"edge {token!r} out of place in {arch!r}")
            ops.append(name)
    if len(ops) != len(EDGES):
        raise ValueError(f"expected {len(EDGES)} edges in {arch!r}, got {len(ops)}")
    return ops


def median(times):
    """The median (the mean of the middle two for an even count), as nasr reports it."""
    times = sorted(times)
    n = len(times)
    return times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2


def peak_rss():
    """Peak resident memory of this process in MiB (ru_maxrss: KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024


class MemoryWatch:
    """Growth of resident memory from construction (the peak is reset then) to the peak, from
    Linux's /proc/self/status: what the timed steps add, without the libraries loaded at import."""

    def __init__(self):
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        self.start = self.status("VmRSS:")

    @staticmethod
    def status(field):
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith(field):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def growth_mib(self):
        peak = self.status("VmHWM:")
        return None if peak is None or self.start is None else (peak - self.start) / 1024


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, kernel, stride):
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


def edge_op(name, channels):
    """The op on one edge; None for `none`, which contributes nothing."""
    if name == "none":
        return None
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1)
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


class Cell(nn.Module):
    def __init__(self, ops, channels):
        super().__init__()
        self.ops = ops
        self.edges = nn.ModuleList(
            nn.Identity() if op is None else op for op in (edge_op(o, channels) for o in ops)
        )

    def forward(self, x):
        nodes = [x]
        for to in range(1, 4):
            outs = [
                edge(nodes[src])
                for name, edge, (t, src) in zip(self.ops, self.edges, EDGES)
                if t == to and name != "none"
            ]
            nodes.append(sum(outs[1:], outs[0]) if outs else torch.zeros_like(x))
        return nodes[3]


class ResNetBasicblock(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2, ceil_mode=True, count_include_pad=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x):
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)


class TinyNetwork(nn.Module):
    def __init__(self, ops, channels, cells, in_channels, classes):
        super().__init__()
        c = channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        )
        layers = []
        for stage, width in enumerate((c, 2 * c, 4 * c)):
            if stage > 0:
                layers.append(ResNetBasicblock(width // 2, width))
            layers.extend(Cell(ops, width) for _ in range(cells))
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(4 * c), nn.ReLU())
        self.classifier = nn.Linear(4 * c, classes)

    def forward(self, x):
        x = self.head(self.layers(self.stem(x)))
        return self.classifier(x.mean(dim=(2, 3)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channels", type=int, default=16, help="channels of stage 1 (C)")
    p.add_argument("--cells", type=int, default=5, help="cells per stage (N)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--arch", default=DEFAULT_ARCH)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--steps", type=int, default=20, help="timed steps (median reported)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.add_argument("--infer", action="store_true",
                   help="time inference (forward only, eval mode, no grad) instead")
    a = p.parse_args()
    a.steps = max(a.steps, 1)

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = TinyNetwork(parse_arch(a.arch), a.channels, a.cells, a.in_channels, a.classes)
    model.train()
    params = [q for q in model.parameters() if q.requires_grad]
    n_params = sum(q.numel() for q in params)
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    images = torch.randn(a.batch_size, a.in_channels, a.resolution, a.resolution)
    labels = torch.randint(0, a.classes, (a.batch_size,))

    if a.infer:
        model.eval()
    times = []
    memory = MemoryWatch()
    for step in range(a.warmup + a.steps):
        started = time.perf_counter()
        if a.infer:
            with torch.no_grad():
                model(images)
            if step >= a.warmup:
                times.append(time.perf_counter() - started)
            continue
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        if step >= a.warmup:
            times.append(time.perf_counter() - started)

    n = len(times)
    median_ms, min_ms = median(times) * 1e3, min(times) * 1e3
    peak_rss_mib = peak_rss()

    config = {
        "arch": a.arch,
        "channels": a.channels,
        "cells": a.cells,
        "batch_size": a.batch_size,
        "in_channels": a.in_channels,
        "resolution": a.resolution,
        "classes": a.classes,
        "warmup": a.warmup,
        "steps": a.steps,
        "threads": a.threads,
    }
    if a.json:
        print(json.dumps({
            "bench": "infer" if a.infer else "train-step",
            "framework": f"pytorch {torch.__version__}",
            "config": config,
            "parameters": n_params,
            "median_ms": median_ms,
            "min_ms": min_ms,
            "peak_rss_mib": round(peak_rss_mib, 1),
            "memory_growth_mib": memory.growth_mib(),
        }))
    else:
        print(
            f"{'inference' if a.infer else 'train step'}, NB201 C={a.channels} N={a.cells}, batch {a.batch_size}x{a.in_channels}"
            f"x{a.resolution}x{a.resolution}, {n_params} parameters, {a.threads} threads: "
            f"median {median_ms:.1f} ms, min {min_ms:.1f} ms over {n} steps, "
            f"peak RSS {peak_rss_mib:.0f} MiB, memory growth {memory.growth_mib():.0f} MiB"
        )


if __name__ == "__main__":
    main()
