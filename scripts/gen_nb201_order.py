"""Writes crates/nasr-space/src/nb201_order.bin: NAS-Bench-201's architecture order.

NAS-Bench-201 numbers its 15,625 cells in the order of the benchmark's own archive, not by any
formula. nasr ships that order as 15,625 little-endian u16 codes (code = sum_k op_k * 5**k over
the six edges in canonical-string order, ops numbered none, skip_connect, nor_conv_1x1,
nor_conv_3x3, avg_pool_3x3). It is read from the `arch` column of HELP's MIT-licensed latency
table (see shared/data/PROVENANCE.md); a test checks it row by row against the accuracy table.

Usage: python3 scripts/gen_nb201_order.py $NASR_DATA/nas-bench-201/nb201_latency_help.csv
"""
import csv
import struct
import sys

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def code(arch: str) -> int:
    tokens = [t for node in arch.strip("|").split("|+|") for t in node.split("|")]
    assert len(tokens) == 6, arch
    return sum(OPS.index(t.split("~")[0]) * 5**k for k, t in enumerate(tokens))


def main(path: str) -> None:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["index"]) for r in rows] == list(range(15625))
    codes = [code(r["arch"]) for r in rows]
    assert sorted(codes) == list(range(15625))
    with open("crates/nasr-space/src/nb201_order.bin", "wb") as out:
        out.write(struct.pack("<15625H", *codes))


if __name__ == "__main__":
    main(sys.argv[1])
