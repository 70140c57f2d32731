#!/usr/bin/env python3
"""Test helper: writes and inspects tensor streams with nothing but msgpack
and numpy, the way any other tool would (formats/tensor-stream.md).

  stream.py spec FRAMES CHANNELS N_FFT [HOP] [RATE] [CHUNK]   random spectrogram stream on stdout
  stream.py info FILE                                          header, tensor shapes, end frame
  stream.py cat FILE                                           all tensors concatenated on the last axis, as .npy on stdout
"""
import sys

import msgpack
import numpy as np

DT = {"f32": "<f4", "c64": "<c8", "f16": "<f2", "f64": "<f8", "i8": "i1", "u8": "u1", "i32": "<i4"}


def frames(path):
    with open(path, "rb") as f:
        return list(msgpack.Unpacker(f, raw=False))


cmd = sys.argv[1]
if cmd == "spec":
    T, ch, nfft = (int(a) for a in sys.argv[2:5])
    hop = int(sys.argv[5]) if len(sys.argv) > 5 else nfft // 4
    rate = int(sys.argv[6]) if len(sys.argv) > 6 else 44100
    chunk = int(sys.argv[7]) if len(sys.argv) > 7 else 50
    F = nfft // 2 + 1
    rng = np.random.default_rng(7)
    out = sys.stdout.buffer
    out.write(msgpack.packb({"tfswa": 1, "kind": "spectrogram", "sample_rate": rate, "n_fft": nfft,
                             "hop": hop, "channels": ch}))
    for t in range(0, T, chunk):
        n = min(chunk, T - t)
        a = (rng.standard_normal((ch, F, n)) + 1j * rng.standard_normal((ch, F, n))).astype("<c8")
        out.write(msgpack.packb({"dtype": "c64", "shape": [ch, F, n], "data": a.tobytes()}))
    out.write(msgpack.packb({"end": True, "frames": T, "samples": (T - 1) * hop}))
elif cmd == "info":
    fr = frames(sys.argv[2])
    h = {k: v for k, v in fr[0].items()}
    print("header", sorted(h.items()))
    for f in fr[1:-1]:
        print("tensor", f["dtype"], f["shape"], f.get("frame"))
    print("end", sorted(fr[-1].items()))
elif cmd == "cat":
    fr = frames(sys.argv[2])
    arrs = [np.frombuffer(f["data"], DT[f["dtype"]]).reshape(f["shape"]) for f in fr[1:-1] if "data" in f]
    np.save(sys.stdout.buffer, np.concatenate(arrs, axis=-1))
