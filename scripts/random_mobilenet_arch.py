#!/usr/bin/env python3
"""A uniformly random architecture of nasr's default MobileNet space (28x28x1, stages 8x2 s1,
16x2 s2, 32x2 s2, kernels 3/5/7 x expansions 3/6) whose multiply-adds are within --max-flops,
by rejection sampling with Python's Mersenne Twister seeded by --seed. The multiply-adds are
counted as nasr_space::MobileNetSpace::cost counts them; `nasr train` reports the same figure
in metrics.json (scripts/dna_budgets.sh checks it)."""

import argparse
import random

LAYERS = [(8, 8, 1, 28), (8, 8, 1, 28), (8, 16, 2, 28), (16, 16, 1, 14), (16, 32, 2, 14),
          (32, 32, 1, 7)]
OPTIONS = [(k, e) for k in (3, 5, 7) for e in (3, 6)]
FIXED = 157440  # stem, head and classifier


def flops(arch):
    total = FIXED
    for (c_in, c_out, stride, size), (k, e) in zip(LAYERS, arch):
        out = -(-size // stride)
        hidden = c_in * e
        total += c_in * hidden * size * size + k * k * hidden * out * out + hidden * c_out * out * out
    return total


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-flops", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = random.Random(a.seed)
    for _ in range(100000):
        arch = [rng.choice(OPTIONS) for _ in LAYERS]
        if flops(arch) <= a.max_flops:
            print("-".join(f"k{k}_e{e}" for k, e in arch))
            return
    raise SystemExit(f"no architecture within {a.max_flops} multiply-adds in 100000 draws")


if __name__ == "__main__":
    main()
