#!/usr/bin/python3
"""Writes small hostile inputs into DIR for tests/bats/hostile.bats: files of a
few bytes to a few hundred kilobytes that, trusted, would cost gigabytes,
minutes, or a crash (issue 12). Needs only msgpack; nothing here imports torch.

    /usr/bin/python3 tests/tools/hostile.py DIR

  model-huge.bin      model header declaring dims 4096 and depths 64 (about
                      1.2 TB of parameters), no tensors
  model-big.bin       model header declaring about 616 M parameters (under the
                      2^30 cap), no tensors: the file cannot hold them
  model-segment.bin   model header whose segment is 131072 frames
  state-huge.state    train-state header declaring the same 1.2 TB model
  state-big.state     train-state header of the 616 M model, no tensors
  stride0.pth         torch.save archive whose 64 tensors of 16 M elements are
                      stride-0 views of one 1-element storage (4.3 GB as f32)
  shared.safetensors  64 tensors of 256 K floats that all name the same 1 MB
                      data range
  nested.pth          torch.save archive of 3000 storages whose zip entries nest
                      (each entry's data holds every later entry)
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zlib

import msgpack

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


# ---------- tfswa streams: a header frame, then the end frame ----------

def model_header(dims, depths, **extra):
    h = {"tfswa": 1, "kind": "model", "in_channels": 2, "out_channels": 2, "depths": depths, "dims": dims,
         "num_heads": 8}
    h.update(extra)
    return h


def stream(header):
    return msgpack.packb(header) + msgpack.packb({"end": True, "tensors": 0})


HUGE = ([4096] * 4, [64] * 4)
BIG = ([512] * 4, [8] * 4)

write("model-huge.bin", stream(model_header(*HUGE)))
write("model-big.bin", stream(model_header(*BIG)))
write("model-segment.bin", stream(model_header([8, 16, 32, 64], [1, 1, 1, 1], segment=131072)))


def state_header(dims, depths):
    h = model_header(dims, depths)
    h.update({"kind": "train-state", "state_version": 1, "step": 0, "epoch": 0, "epoch_steps": 1,
              "rng": [1, 2, 3, 4], "dataset": "x", "seed": 1, "steps": 10, "batch": 1,
              "segment_seconds": 1.0, "segment_samples": 44100, "lr": 1e-3, "lr_min": 0.0,
              "schedule": "cosine", "warmup": 0, "step_size": 0, "gamma": 0.5, "beta1": 0.9,
              "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "clip": 0.0, "gain_low": 1.0,
              "gain_high": 1.0, "channel_swap": False, "remix": False, "silence_db": -60.0,
              "wave_loss": 0.0, "overfit": False, "holdout": 0, "tracks": 1, "qat": False})
    return h


write("state-huge.state", stream(state_header(*HUGE)))
write("state-big.state", stream(state_header(*BIG)))

# ---------- torch.save archives, written without torch ----------
# The pickle names torch.FloatStorage and torch._utils._rebuild_tensor_v2 as
# globals; stand-in modules make the standard pickler write those names.

torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
sys.modules["torch"], sys.modules["torch._utils"] = torch, torch_utils


class FloatStorage:
    pass


FloatStorage.__module__ = "torch"
torch.FloatStorage = FloatStorage


def _rebuild_tensor_v2(*args):
    raise RuntimeError("never called here")


_rebuild_tensor_v2.__module__ = "torch._utils"
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class Storage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (_rebuild_tensor_v2, self.args)


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", FloatStorage, obj.key, "cpu", obj.numel)
        return None


def pickled(state_dict):
    b = io.BytesIO()
    Pickler(b, protocol=2).dump(state_dict)
    return b.getvalue()


def local_header(name, size, crc=0):
    n = name.encode()
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, crc, size, size, len(n), 0) + n


def central_entry(name, size, crc, offset):
    n = name.encode()
    return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, crc, size, size, len(n), 0, 0, 0,
                       0, 0, offset) + n


def zip_archive(body, entries):
    """body: the bytes of every local header and data; entries: (name, offset, size)"""
    cd = b"".join(central_entry(n, s, zlib.crc32(body[o + 30 + len(n):o + 30 + len(n) + s]), o)
                  for n, o, s in entries)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(cd), len(body), 0)
    return body + cd + end


def plain_archive(files):
    body, entries = b"", []
    for name, data in files:
        entries.append((name, len(body), len(data)))
        body += local_header(name, len(data)) + data
    return zip_archive(body, entries)


# 64 tensors of 16 M elements, each a stride-0 view of one float
one = Storage("0", 1)
views = {"t%d" % i: Tensor(one, 0, [256, 256, 256], [0, 0, 0]) for i in range(64)}
write("stride0.pth", plain_archive([("archive/data.pkl", pickled(views)), ("archive/byteorder", b"little"),
                                    ("archive/data/0", struct.pack("<f", 1.0))]))

# 3000 storages whose entries nest: entry k's data runs from the end of its
# own local header to the end of the last entry
N = 3000
pkl = pickled({"t%d" % k: Tensor(Storage(str(k), 1), 0, [1], [1]) for k in range(N)})
body = local_header("archive/data.pkl", len(pkl)) + pkl
entries = [("archive/data.pkl", 0, len(pkl))]
names = ["archive/data/%d" % k for k in range(N)]
tail = struct.pack("<4f", 1, 2, 3, 4)
heads_len = sum(30 + len(n) for n in names)
start = len(body)
pos = start
for n in names:
    size = start + heads_len + len(tail) - (pos + 30 + len(n))
    entries.append((n, pos, size))
    body += local_header(n, size)
    pos += 30 + len(n)
body += tail
write("nested.pth", zip_archive(body, entries))

# ---------- safetensors whose tensors share one data range ----------
nbytes = 1 << 20
head = {"t%d" % i: {"dtype": "F32", "shape": [nbytes // 4], "data_offsets": [0, nbytes]} for i in range(64)}
text = json.dumps(head).encode()
text += b" " * (-len(text) % 8)
write("shared.safetensors", struct.pack("<Q", len(text)) + text + bytes(nbytes))
