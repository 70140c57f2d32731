#!/usr/bin/env python3
"""Test helper: writes and inspects tensor streams with nothing but msgpack
and numpy, the way any other tool would (formats/tensor-stream.md).

  stream.py spec FRAMES CHANNELS N_FFT [HOP] [RATE] [CHUNK]   random spectrogram stream on stdout
  stream.py info FILE                                          header, tensor shapes, end frame
  stream.py cat FILE                                           all tensors concatenated on the last axis, as .npy on stdout
  stream.py broken DIR CHANNELS N_FFT HOP RATE                 DIR/NAME.stream: a valid spectrogram stream (good)
                                                               and one broken in each way a reader must refuse
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
elif cmd == "broken":
    d, ch, nfft, hop, rate = sys.argv[2], *(int(a) for a in sys.argv[3:7])
    F, n, T = nfft // 2 + 1, 10, 40
    rng = np.random.default_rng(11)
    head = {"tfswa": 1, "kind": "spectrogram", "sample_rate": rate, "n_fft": nfft, "hop": hop, "channels": ch,
            "samples": (T - 1) * hop}

    def chunk(t, n=n, shape=None, dtype="c64", bad=None):
        shape = shape or [ch, F, n]
        a = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype("<c8")
        if bad is not None:
            a[0, 3, 2] = bad
        data = a.tobytes() if dtype == "c64" else a.real.astype("<f4").tobytes()
        return {"dtype": dtype, "shape": shape, "data": data, "frame": t}

    def body(starts=range(0, T, n)):
        return [chunk(t) for t in starts]

    end = {"end": True, "frames": T, "samples": (T - 1) * hop}
    cases = {
        "good": [head] + body() + [end],
        "kind": [dict(head, kind="model")] + body() + [end],
        "version": [dict(head, tfswa=2)] + body() + [end],
        "missing-key": [{k: v for k, v in head.items() if k != "hop"}] + body() + [end],
        "window": [dict(head, window="hamming")] + body() + [end],
        "dtype": [head, chunk(0, dtype="f32")] + body(range(n, T, n)) + [end],
        "shape": [head, chunk(0, shape=[ch, F - 1, n])] + body(range(n, T, n)) + [end],
        "stems-shape": [head, chunk(0, shape=[2, ch, F, n])] + body(range(n, T, n)) + [end],
        "length": [head, dict(chunk(0), shape=[ch, F, n + 1])] + body(range(n, T, n)) + [end],
        "gap": [head] + body([0, 2 * n, 3 * n]) + [dict(end, frames=3 * n)],
        "duplicate": [head] + body([0, n, n, 2 * n]) + [end],
        "reordered": [head] + body([n, 0, 2 * n, 3 * n]) + [end],
        "nan": [head, chunk(0), chunk(n, bad=np.nan)] + body(range(2 * n, T, n)) + [end],
        "inf": [head, chunk(0, bad=np.inf)] + body(range(n, T, n)) + [end],
        "end-frames": [head] + body() + [dict(end, frames=T + 1)],
        "end-samples": [head] + body() + [dict(end, samples=T * hop)],
        "end-tensors": [head] + body() + [dict(end, tensors=7)],
        "no-end": [head] + body(),
    }
    for name, frames in cases.items():
        with open(f"{d}/{name}.stream", "wb") as o:
            o.write(b"".join(msgpack.packb(f) for f in frames))
    good = open(f"{d}/good.stream", "rb").read()
    open(f"{d}/truncated.stream", "wb").write(good[: len(good) // 2])
    open(f"{d}/empty.stream", "wb").close()
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
