#!/usr/bin/env python3
"""Whether two safetensors files hold the same tensors, value for value, whatever their names.

Usage: same_tensors.py A.safetensors B.safetensors. Prints "same values" (exit 0) when both
files hold the same multiset of (shape, bytes) tensors, as after a change that renames
parameters and nothing else; else "values differ" (exit 1).
"""
import hashlib
import json
import struct
import sys


def tensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    body = data[8 + length :]
    found = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        digest = hashlib.sha256(body[start:end]).hexdigest()
        found.append((tuple(entry["shape"]), entry["dtype"], digest))
    return sorted(found)


a, b = sys.argv[1], sys.argv[2]
if tensors(a) == tensors(b):
    print("same values")
    sys.exit(0)
print("values differ")
sys.exit(1)
