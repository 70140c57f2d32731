#!/usr/bin/env python3
"""Hostile seeds for the fuzz targets: the shapes of input that break
readers, built from the real seeds that seeds.sh made (so that everything
around the hostile part is valid and the reader gets as far as it).

  hostile.py DIR     adds files to DIR/<target>/ (DIR as seeds.sh fills it)

Huge declared dimensions (headers, tensor shapes, zip sizes, safetensors
offsets), overlapping zip entries and safetensors ranges, stride-0 views,
each kind of stream header given to each reader, and audio headers that
announce more than they hold."""
import io
import os
import struct
import sys
import zipfile

import msgpack

out = sys.argv[1]
P = msgpack.packb


def frames(path):
    with open(path, "rb") as f:
        return list(msgpack.Unpacker(f, raw=False))


def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, "hostile-" + name), "wb") as f:
        f.write(data)


def stream(fr):
    return b"".join(P(f) for f in fr)


def have(path):
    return os.path.exists(os.path.join(out, path))


KINDS = ("spectrogram", "stems", "masks", "model", "train-state")
END = {"end": True}
HUGE = 1 << 40

# ---- model files and training states: huge architectures, huge tensors
for target, seed in (("model", "model/dims1.bin"), ("train_state", "train_state/tiny.state")):
    if not have(seed):
        continue
    fr = frames(os.path.join(out, seed))
    head, body = fr[0], fr[1:-1]
    # the largest architecture the validation allows: parameters of many GB
    # (model_init's failed allocation then freed m->specs twice; fixed on
    # the safety branch, which refuses such a header before allocating)
    big = dict(head, dims=[4096] * 4, depths=[64, 64, 64, 64], num_heads=1, mlp_ratio=4.0)
    put(target, "huge-dims", stream([big, END]))
    put(target, "huge-dims-tensor", stream([big, body[0], END]))
    # a deep network of a reasonable width: many tensors
    put(target, "deep", stream([dict(head, depths=[64, 64, 64, 64]), END]))
    # tensors whose shapes claim far more than their bytes
    t = dict(body[0])
    for name, shape in (("huge-shape", [HUGE, HUGE]), ("huge-shape-1d", [1 << 62]),
                        ("negative-shape", [-1, 4]), ("zero-shape", [0] + t["shape"][1:]),
                        ("many-dims", [1] * 64)):
        put(target, name, stream([head, dict(t, shape=shape)] + body[1:] + [END]))
    put(target, "short-data", stream([head, dict(t, data=t["data"][:-1])] + body[1:] + [END]))
    put(target, "twice", stream([head, body[0], body[0]] + body[1:] + [END]))
    put(target, "no-end", stream([head] + body))
    for k in KINDS:
        put(target, "kind-" + k, stream([dict(head, kind=k)] + body + [END]))
    for q in ("q8", "q8s", "f16"):
        put(target, "claims-" + q, stream([dict(head, quantization=q)] + body + [END]))

# ---- spectrogram-like streams: each kind, huge settings and chunks
for target in ("stream", "specstream"):
    for seed in ("stream/spectrogram.stream", "stream/stems.stream"):
        if not have(seed):
            continue
        fr = frames(os.path.join(out, seed))
        head, body, end = fr[0], fr[1:-1], fr[-1]
        base = os.path.basename(seed).split(".")[0]
        t = body[0]
        for k in KINDS:
            put(target, base + "-kind-" + k, stream([dict(head, kind=k)] + body + [end]))
        for key, v in (("n_fft", HUGE), ("n_fft", 1 << 20), ("hop", 0), ("channels", HUGE),
                       ("channels", 64), ("samples", HUGE), ("samples", -2), ("sample_rate", 0)):
            put(target, "%s-%s-%d" % (base, key, v), stream([dict(head, **{key: v})] + body + [end]))
        if "stems" in head:
            put(target, base + "-stems-many", stream([dict(head, stems=["s%d" % i for i in range(1000)])] + body + [end]))
            put(target, base + "-stems-empty", stream([dict(head, stems=[""])] + body + [end]))
            put(target, base + "-as-masks", stream([dict(head, kind="masks")] +
                                                   [dict(b, dtype="f32") for b in body] + [end]))
        shape = t["shape"]
        for name, s in (("frames-huge", shape[:-1] + [HUGE]), ("bins-huge", shape[:-2] + [HUGE, shape[-1]]),
                        ("frames-zero", shape[:-1] + [0]), ("ndim-2", shape[-2:])):
            put(target, base + "-" + name, stream([head, dict(t, shape=s)] + body[1:] + [end]))
        put(target, base + "-frame-gap", stream([head] + [dict(b, frame=b.get("frame", 0) + 1) for b in body] + [end]))
        put(target, base + "-end-huge", stream([head] + body + [dict(end, samples=HUGE, frames=HUGE)]))
        put(target, base + "-no-end", stream([head] + body))

# ---- torch.save zip archives: stride-0 views, huge views, overlapping entries
try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    def save(obj):
        b = io.BytesIO()
        torch.save(obj, b)
        return b.getvalue()
    one = torch.ones(1)
    put("pth", "stride0", save({"a": one.expand(1000), "b": torch.arange(4.0)}))
    put("pth", "stride0-huge", save({"a": one.expand(1 << 20, 1 << 20)}))
    base = torch.arange(16.0)
    put("pth", "shared-storage", save({"a": base[2:10], "b": base.view(4, 4).t(), "c": base}))
    put("pth", "offset-view", save({"a": base[15:]}))
    small = save({"a": torch.arange(8.0), "b": torch.arange(6.0).view(2, 3)})

    def entries(z):
        """(central directory offset, [(offset of its record, local header offset, name)])"""
        eocd = z.rfind(b"PK\x05\x06")
        n, cd = struct.unpack_from("<H", z, eocd + 10)[0], struct.unpack_from("<I", z, eocd + 16)[0]
        out_, p = [], cd
        for _ in range(n):
            nl, xl, cl = struct.unpack_from("<HHH", z, p + 28)
            out_.append((p, struct.unpack_from("<I", z, p + 42)[0], z[p + 46:p + 46 + nl]))
            p += 46 + nl + xl + cl
        return cd, out_

    cd, es = entries(small)
    data_entries = [e for e in es if b"/data/" in e[2]]
    z = bytearray(small)
    if len(data_entries) >= 2:
        # two entries, one local header: overlapping storages
        struct.pack_into("<I", z, data_entries[1][0] + 42, data_entries[0][1])
        put("pth", "zip-overlap", bytes(z))
    z = bytearray(small)
    # an entry whose sizes claim 4 GB
    struct.pack_into("<II", z, es[0][0] + 20, 0xFFFFFFFF, 0xFFFFFFFF)
    put("pth", "zip-huge-size", bytes(z))
    z = bytearray(small)
    # an entry whose local header lies inside the central directory
    struct.pack_into("<I", z, es[-1][0] + 42, cd)
    put("pth", "zip-into-directory", bytes(z))
    z = bytearray(small)
    struct.pack_into("<H", z, small.rfind(b"PK\x05\x06") + 10, 0xFFFF)
    put("pth", "zip-many-entries", bytes(z))

# ---- safetensors: overlapping ranges, huge shapes and offsets
def st(header, data):
    import json
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


d16 = bytes(range(16))
put("safetensors", "overlap", st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                  "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, d16))
put("safetensors", "same-range", st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                     "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, d16))
put("safetensors", "huge-shape", st({"a": {"dtype": "F32", "shape": [HUGE, HUGE], "data_offsets": [0, 8]}}, d16))
put("safetensors", "huge-offsets", st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [HUGE, HUGE + 8]}}, d16))
put("safetensors", "offsets-past-end", st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, d16))
put("safetensors", "offsets-reversed", st({"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}, d16))
put("safetensors", "header-huge", struct.pack("<Q", 1 << 62) + b"{}")
put("safetensors", "many-dims", st({"a": {"dtype": "U8", "shape": [1] * 100, "data_offsets": [0, 1]}}, d16))

# ---- configs: huge numbers and deep nesting
put("config", "huge", b'{"dims":[1e300,4096,4096,4096],"depths":[64,64,64,64],"num_heads":-1,"mlp_ratio":1e308}')
put("config", "deep", b"[" * 5000 + b"]" * 5000)
put("config", "long-string", b'{"stems":["' + b"a" * 100000 + b'"]}')

# ---- audio: headers that announce more than they hold
def wav(channels, rate, bits, nframes, data, fmt=1):
    block = channels * bits // 8
    fmtc = struct.pack("<HHIIHH", fmt, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmtc)) + fmtc + b"data" + struct.pack("<I", nframes * block) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


pcm = struct.pack("<64h", *[(i * 997) % 65536 - 32768 for i in range(64)])
put("audio", "wav-ok", wav(1, 8000, 16, 64, pcm))
put("audio", "wav-stereo-44k", wav(2, 44100, 16, 32, pcm))
put("audio", "wav-cut-short", wav(1, 8000, 16, 1 << 20, pcm))
put("audio", "wav-placeholder", wav(1, 8000, 16, 0x7ffff000 // 2, pcm))
put("audio", "wav-65535-channels", wav(65535, 8000, 16, 1, pcm))
put("audio", "wav-rate-1", wav(1, 1, 16, 64, pcm))
put("audio", "wav-rate-huge", wav(1, 0x7fffffff, 16, 64, pcm))
put("audio", "wav-float", wav(1, 8000, 32, 32, struct.pack("<32f", *[float("nan")] * 16 + [1e30] * 16), fmt=3))
put("audio", "wav-24", wav(1, 8000, 24, 42, pcm[:126]))
