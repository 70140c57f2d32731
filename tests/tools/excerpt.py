#!/usr/bin/python3
"""Cuts the middle SECONDS of every WAV of a track folder, as tf-train's
validation does (L = SECONDS * rate samples from (frames - L) // 2), into
OUT/<same name>.wav. Reads the float WAVs train_dataset.py writes.

usage: excerpt.py TRACK_DIR SECONDS OUT_DIR"""
import os
import sys

import numpy as np

from train_dataset import write_wav


def read_wav(path):
    """(frames, channels) float32 and the rate of a float WAV."""
    b = open(path, 'rb').read()
    i, channels, rate = 12, None, None
    while i + 8 <= len(b):
        cid, n = b[i:i + 4], int.from_bytes(b[i + 4:i + 8], 'little')
        if cid == b'fmt ':
            channels = int.from_bytes(b[i + 10:i + 12], 'little')
            rate = int.from_bytes(b[i + 12:i + 16], 'little')
        elif cid == b'data':
            return np.frombuffer(b[i + 8:i + 8 + n], '<f4').reshape(-1, channels), rate
        i += 8 + n + (n & 1)
    sys.exit('%s: no data chunk' % path)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    src, seconds, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    for name in sorted(os.listdir(src)):
        if name.endswith('.wav'):
            x, rate = read_wav(os.path.join(src, name))
            L = min(int(seconds * rate), len(x))
            off = (len(x) - L) // 2
            write_wav(os.path.join(out, name), x[off:off + L], rate)


if __name__ == '__main__':
    main()
