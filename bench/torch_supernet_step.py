#!/usr/bin/env python3
"""PyTorch twin of `nasr bench supernet-step`.

Times one step of the NAS-Bench-201 supernet, built as nasr builds it (every op on every edge,
crates/nasr-nn/src/supernet.rs), on random data:
  path   - one uniformly sampled path: forward, cross-entropy, backward, SGD update;
  mixed  - DARTS' weight step: every edge the softmax(alpha)-weighted sum of its ops;
  darts1 - a first-order DARTS step: the alpha gradient on a second batch (Adam update), then
           the mixed weight step.
Reports the median and minimum over --steps timed steps after --warmup untimed ones.
"""

import argparse
import json
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_train_step import (EDGES, OPS, MemoryWatch, ReLUConvBN, ResNetBasicblock, median,
                              peak_rss)


class SuperEdge(nn.Module):
    """Every candidate op of one edge; `none` and `skip_connect` hold nothing."""

    def __init__(self, channels):
        super().__init__()
        self.nor_conv_1x1 = ReLUConvBN(channels, channels, 1, 1)
        self.nor_conv_3x3 = ReLUConvBN(channels, channels, 3, 1)
        self.avg_pool_3x3 = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def op(self, name, x):
        if name == "skip_connect":
            return x
        return getattr(self, name)(x)

    def forward_path(self, name, x):
        return None if name == "none" else self.op(name, x)

    def forward_mixed(self, weights, x):
        return sum(w * self.op(name, x) for name, w in zip(OPS, weights) if name != "none")


class SuperCell(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.edges = nn.ModuleList(SuperEdge(channels) for _ in EDGES)

    def forward(self, x, edge_out):
        nodes = [x]
        for to in range(1, 4):
            outs = [edge_out(k, edge, nodes[src]) for k, (edge, (t, src)) in
                    enumerate(zip(self.edges, EDGES)) if t == to]
            outs = [o for o in outs if o is not None]
            nodes.append(sum(outs[1:], outs[0]) if outs else torch.zeros_like(x))
        return nodes[3]


class Supernet(nn.Module):
    def __init__(self, channels, cells, in_channels, classes):
        super().__init__()
        c = channels
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        )
        self.layers = nn.ModuleList()
        for stage, width in enumerate((c, 2 * c, 4 * c)):
            if stage > 0:
                self.layers.append(ResNetBasicblock(width // 2, width))
            self.layers.extend(SuperCell(width) for _ in range(cells))
        self.head = nn.Sequential(nn.BatchNorm2d(4 * c), nn.ReLU())
        self.classifier = nn.Linear(4 * c, classes)

    def forward(self, x, edge_out):
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x, edge_out) if isinstance(layer, SuperCell) else layer(x)
        return self.classifier(self.head(x).mean(dim=(2, 3)))

    def forward_path(self, arch, x):
        return self.forward(x, lambda k, edge, h: edge.forward_path(arch[k], h))

    def forward_mixed(self, weights, x):
        return self.forward(x, lambda k, edge, h: edge.forward_mixed(weights[k], h))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=("path", "mixed", "darts1"), default="mixed")
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--cells", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    a.steps = max(a.steps, 1)

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    model = Supernet(a.channels, a.cells, a.in_channels, a.classes).train()
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    alpha = (1e-3 * torch.randn(len(EDGES), len(OPS))).requires_grad_()
    alpha_opt = torch.optim.Adam([alpha], lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
    shape = (a.batch_size, a.in_channels, a.resolution, a.resolution)
    images, val_images = torch.randn(shape), torch.randn(shape)
    labels = torch.randint(0, a.classes, (a.batch_size,))
    val_labels = torch.randint(0, a.classes, (a.batch_size,))

    times = []
    memory = MemoryWatch()
    for step in range(a.warmup + a.steps):
        started = time.perf_counter()
        if a.mode == "darts1":
            loss = F.cross_entropy(model.forward_mixed(F.softmax(alpha, 1), val_images), val_labels)
            (alpha.grad,) = torch.autograd.grad(loss, [alpha])
            alpha_opt.step()
        opt.zero_grad(set_to_none=True)
        if a.mode == "path":
            logits = model.forward_path([rng.choice(OPS) for _ in EDGES], images)
        else:
            logits = model.forward_mixed(F.softmax(alpha.detach(), 1), images)
        F.cross_entropy(logits, labels).backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        if step >= a.warmup:
            times.append(time.perf_counter() - started)

    n = len(times)
    median_s, peak_rss_mib = median(times), peak_rss()
    report = {
        "bench": "supernet-step",
        "framework": f"pytorch {torch.__version__}",
        "mode": a.mode,
        "channels": a.channels,
        "cells": a.cells,
        "batch": [a.batch_size, a.in_channels, a.resolution, a.resolution],
        "steps": a.steps,
        "median_ms": median_s * 1e3,
        "peak_rss_mib": round(peak_rss_mib, 1),
        "memory_growth_mib": memory.growth_mib(),
    }
    if a.json:
        print(json.dumps(report))
    else:
        print(f"supernet step ({a.mode}), NB201 C={a.channels} N={a.cells}: median "
              f"{median_s * 1e3:.1f} ms over {n} steps, peak RSS {peak_rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
