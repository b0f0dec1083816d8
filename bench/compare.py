#!/usr/bin/env python3
"""Prints nasr against PyTorch from pairs of JSON results (nasr's, then PyTorch's twin's), one
row per pair: median times, nasr/PyTorch, and each side's memory growth (resident memory from
just before the first step to the peak).

Usage: compare.py TITLE LABEL NASR_JSON TORCH_JSON [LABEL NASR_JSON TORCH_JSON ...]
Each JSON argument is a program's output; its last line is the result.
"""

import json
import sys


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


def mib(value):
    return "-" if value is None else f"{value:.0f}"


def main():
    title, rest = sys.argv[1], sys.argv[2:]
    if len(rest) % 3:
        sys.exit("expected LABEL NASR_JSON TORCH_JSON triples")
    print(title)
    print(f"{'':<28} {'nasr ms':>9} {'torch ms':>9} {'ratio':>6} {'nasr MiB':>9} {'torch MiB':>10}")
    for i in range(0, len(rest), 3):
        label, nasr, torch = rest[i], last_json(rest[i + 1]), last_json(rest[i + 2])
        ratio = nasr["median_ms"] / torch["median_ms"]
        print(f"{label:<28} {nasr['median_ms']:>9.1f} {torch['median_ms']:>9.1f} {ratio:>6.2f} "
              f"{mib(nasr.get('memory_growth_mib')):>9} {mib(torch.get('memory_growth_mib')):>10}")
    route = last_json(rest[1]).get("kernel_route")
    if route:
        print(f"nasr kernel route: {route}")


if __name__ == "__main__":
    main()
