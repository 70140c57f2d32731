#!/usr/bin/python3
"""Writes the small checkpoint fixtures of the import tests (tests/unit/test_import.c,
tests/bats/export.bats) into this directory. Needs PyTorch (Debian's python3-torch),
numpy; the files it writes are committed, so the tests themselves need neither.

    /usr/bin/python3 tests/data/import/make_fixtures.py

The "small" model is a TFSWA-UNet state_dict made here from the architecture's key
layout (no reference code): in 4 / out 4 (stereo, two stems), depths [1,1,1,2],
dims [2,4,4,4], 2 heads, window 4, shift 2, mlp_ratio 2, random weights.

  small.pth             bare OrderedDict state_dict, torch.save defaults (protocol 2);
                        the qkv weights of each block are views into one shared storage
                        (storage offsets), output_head.0.weight is a permuted
                        (non-contiguous) view
  small.json            its config in the goldens' config.json form, with "params"
  small-*.npy           two of its tensors, for exact value checks
  small-f16-p4.pth      the same in float16, pickle protocol 4
  ckpt.pt               training checkpoint dict: model_state_dict, optimizer (Adam)
                        and scheduler state, epoch, numpy scalar and array, config dict
  ckpt-module.pt        {'state_dict': {'module.' + key: nn.Parameter}, 'epoch': 1} of
                        the tiny tensors
  small.safetensors     the same tensors as small.pth (contiguous), F32
  small-bf16.safetensors  bfloat16
  badshape.safetensors  encoder_stages.0.0.tsa.attn.qkv.weight of shape [12, 2]
  legacy.pth            torch.save(..., _use_new_zipfile_serialization=False), storages
                        named 0, 1, ... (torch names them after their address)
  evil-system.pth       a pickle calling os.system (must be refused, never run)
  evil-eval.pth         a pickle calling builtins.eval
  module.pth            a whole pickled nn.Module (not a state_dict)
  scripted.pt           a TorchScript archive (torch.jit.save)
  deflate.pth           a torch.save archive re-zipped with deflate
  tiny.pth              three small tensors (fuzzing seed)
  readme.pth            the README's import example (tests/bats/readme.bats copies it to
                        best_model.pth): the small model's layout with what the README's
                        options say, stereo, two stems, dims [8,8,8,8], 8 heads, window 8,
                        shift 4, mlp_ratio 4 (the settings a checkpoint does not record, as the
                        options give them), so its shifted blocks carry 8x8 attn_mask buffers
  golden.txt            per golden case (tests/data/golden/*/model.pth): the number of
                        model tensors and the CRC-32 of their float32 bytes in file order,
                        num_batches_tracked and attn_mask left out
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile
import zlib

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
CFG = dict(in_channels=4, out_channels=4, depths=[1, 1, 1, 2], dims=[2, 4, 4, 4],
           window_size=4, shift_size=2, num_heads=2, mlp_ratio=2.0)
README_CFG = dict(CFG, dims=[8, 8, 8, 8], window_size=8, shift_size=4, num_heads=8, mlp_ratio=4.0)


def path(name):
    return os.path.join(HERE, name)


def small_state_dict(cfg, seed=7):
    g = torch.Generator().manual_seed(seed)
    sd = collections.OrderedDict()

    def t(*shape, scale=1.0):
        return torch.randn(*shape, generator=g) * scale

    def conv(p, co, ci, k):
        sd[p + ".weight"] = t(co, ci, k, k, scale=(ci * k * k) ** -0.5)
        sd[p + ".bias"] = t(co, scale=0.1)

    def bn(p, c):
        sd[p + ".weight"] = 1 + t(c, scale=0.1)
        sd[p + ".bias"] = t(c, scale=0.1)
        sd[p + ".running_mean"] = t(c, scale=0.1)
        sd[p + ".running_var"] = 1 + t(c, scale=0.1).abs()
        sd[p + ".num_batches_tracked"] = torch.tensor(17)

    def lin(p, o, i, bias=True):
        sd[p + ".weight"] = t(o, i, scale=i ** -0.5)
        if bias:
            sd[p + ".bias"] = t(o, scale=0.1)

    def ln(p, c):
        sd[p + ".weight"] = 1 + t(c, scale=0.1)
        sd[p + ".bias"] = t(c, scale=0.1)

    def block(p, c, shifted):
        hid = int(c * cfg["mlp_ratio"])
        conv(p + ".input_proj.0", c, c, 1)
        bn(p + ".input_proj.1", c)
        # the three qkv weights share one storage: views at offsets 0, 3c*c, 6c*c
        qkv = t(3, 3 * c, c, scale=c ** -0.5)
        for k, br in enumerate(("tsa", "fsa", "swa")):
            ln(f"{p}.{br}.norm1", c)
            sd[f"{p}.{br}.attn.qkv.weight"] = qkv[k]
            lin(f"{p}.{br}.attn.proj", c, c)
            ln(f"{p}.{br}.norm2", c)
            lin(f"{p}.{br}.mlp.0", hid, c)
            lin(f"{p}.{br}.mlp.3", c, hid)
            if br == "swa" and shifted:
                ws = cfg["window_size"]
                m = torch.zeros(4, ws * ws, ws * ws)
                m[1:, : ws * ws // 2, ws * ws // 2:] = -100.0
                sd[f"{p}.swa.attn_mask"] = m
        conv(p + ".fusion.0", c, 3 * c, 1)
        bn(p + ".fusion.1", c)

    d, dep = cfg["dims"], cfg["depths"]
    conv("stem.0", d[0], cfg["in_channels"], 7)
    bn("stem.1", d[0])
    for s in range(3):
        for b in range(dep[s]):
            block(f"encoder_stages.{s}.{b}", d[s], b % 2 == 1)
    for s in range(3):
        conv(f"downsample_layers.{s}.downsample.0", d[s + 1], d[s], 4)
        bn(f"downsample_layers.{s}.downsample.1", d[s + 1])
    for b in range(dep[3]):
        block(f"bottleneck.{b}", d[3], b % 2 == 1)
    for i in range(3):
        s = 2 - i
        w = t(d[s + 1], d[s], 4, 4, scale=(d[s + 1] * 16) ** -0.5)
        sd[f"upsample_layers.{i}.upsample.0.weight"] = w
        sd[f"upsample_layers.{i}.upsample.0.bias"] = t(d[s], scale=0.1)
        bn(f"upsample_layers.{i}.upsample.1", d[s])
    for i in range(3):
        for b in range(dep[2 - i]):
            block(f"decoder_stages.{i}.{b}", d[2 - i], b % 2 == 1)
    # a permuted, non-contiguous view: logical shape [d0, d0, 3, 3]
    sd["output_head.0.weight"] = t(3, 3, d[0], d[0], scale=(d[0] * 9) ** -0.5).permute(2, 3, 0, 1)
    sd["output_head.0.bias"] = t(d[0], scale=0.1)
    bn("output_head.1", d[0])
    conv("output_head.3", cfg["out_channels"], d[0], 1)
    return sd


def trainable(sd):
    skip = (".running_mean", ".running_var", ".num_batches_tracked", ".attn_mask")
    return sum(v.numel() for k, v in sd.items() if not k.endswith(skip))


def write_safetensors(fname, tensors, metadata=None):
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.float64: "F64", torch.int64: "I64"}
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for k, v in tensors.items():
        v = v.contiguous()
        if v.dtype == torch.bfloat16:  # numpy has no bfloat16: the raw 16-bit patterns
            raw = v.view(torch.int16).numpy().tobytes()
        else:
            raw = v.numpy().tobytes()
        header[k] = {"dtype": names[v.dtype], "shape": list(v.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(fname, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def save_legacy(obj, fname):
    """torch.save(obj, _use_new_zipfile_serialization=False), with the
    storages named 0, 1, ... where torch names them after their address in
    memory, which changed the file's bytes at every run."""
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    data = buf.getvalue()
    f = io.BytesIO(data)
    for _ in range(3):  # magic number, protocol version, system info
        pickle.load(f)
    class Skim(pickle.Unpickler):  # reads past the object, builds nothing
        def persistent_load(self, pid):
            return None

        def find_class(self, module, name):
            return lambda *args, **kwargs: None

    Skim(f).load()
    keys = pickle.load(f)  # the storage keys, in the order of the data after them

    def pickled(s):  # protocol 2's BINUNICODE, as torch writes each key
        b = s.encode()
        return b"X" + struct.pack("<I", len(b)) + b

    head, tail = data[:f.tell()], data[f.tell():]
    for i, k in enumerate(keys):
        assert head.count(pickled(k)) == 2, k  # in the object and in the key list
        head = head.replace(pickled(k), pickled(str(i)))
    with open(fname, "wb") as out:
        out.write(head + tail)


def main():
    torch.manual_seed(0)
    sd = small_state_dict(CFG)
    assert not sd["output_head.0.weight"].is_contiguous()
    assert sd["encoder_stages.0.0.fsa.attn.qkv.weight"].storage_offset() > 0
    torch.save(sd, path("small.pth"))
    cfg = dict(CFG, params=trainable(sd))
    with open(path("small.json"), "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")
    np.save(path("small-output_head.0.weight.npy"), sd["output_head.0.weight"].contiguous().numpy())
    np.save(path("small-bottleneck.1.fsa.attn.qkv.weight.npy"),
            sd["bottleneck.1.fsa.attn.qkv.weight"].contiguous().numpy())

    half = collections.OrderedDict((k, v.half() if v.is_floating_point() else v) for k, v in sd.items())
    torch.save(half, path("small-f16-p4.pth"), pickle_protocol=4)

    # a training checkpoint as a trainer saves it
    params = [torch.nn.Parameter(sd[k].clone()) for k in list(sd)[:4]]
    opt = torch.optim.Adam(params, lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    sum((p * p).sum() for p in params).backward()
    opt.step()
    sched.step()
    ckpt = {
        "epoch": 3,
        "global_step": 120,
        "model_state_dict": sd,
        "optimizer_state_dict": opt.state_dict(),
        "scheduler_state_dict": sched.state_dict(),
        "best_val_loss": np.float64(-1.25),
        "history": np.array([0.5, 0.25], dtype=np.float32),
        "config": {"lr": 1e-3, "stems": ["vocals", "other"], "use_amp": False, "note": None,
                   "big": 2 ** 70, "neg": -5, "betas": (0.9, 0.999), "ids": {1, 2},
                   "device": torch.device("cpu"), "name": "caf\u00e9 \U0001d11e"},
    }
    torch.save(ckpt, path("ckpt.pt"))

    write_safetensors(path("small.safetensors"), sd, {"format": "pt"})
    write_safetensors(path("small-bf16.safetensors"),
                      {k: v.bfloat16() if v.is_floating_point() else v for k, v in sd.items()})
    bad = collections.OrderedDict(sd)
    bad["encoder_stages.0.0.tsa.attn.qkv.weight"] = torch.zeros(12, 2)
    write_safetensors(path("badshape.safetensors"), bad)

    save_legacy({"a": torch.ones(2)}, path("legacy.pth"))
    torch.save({"stem.0.weight": torch.zeros(2), "x": Evil(os.system, "echo pwned >/tmp/tfswa-pwned")},
               path("evil-system.pth"))
    torch.save({"stem.0.weight": torch.zeros(2), "x": Evil(eval, "print('pwned')")}, path("evil-eval.pth"))
    torch.save(torch.nn.Linear(2, 2), path("module.pth"))
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path("scripted.pt"))

    tiny = collections.OrderedDict()
    tiny["a.weight"] = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    tiny["b.weight"] = torch.arange(6, dtype=torch.float32).reshape(3, 2).t()
    tiny["c.half"] = torch.tensor([1.5, -2.0], dtype=torch.float16)
    tiny["d.num_batches_tracked"] = torch.tensor(3)
    torch.save(tiny, path("tiny.pth"))
    torch.save(small_state_dict(README_CFG, seed=11), path("readme.pth"))
    wrapped = collections.OrderedDict(
        ("module." + k, torch.nn.Parameter(v, requires_grad=False) if v.is_floating_point() else v)
        for k, v in tiny.items())
    torch.save({"state_dict": wrapped, "epoch": 1}, path("ckpt-module.pt"))
    with zipfile.ZipFile(path("tiny.pth")) as src, \
            zipfile.ZipFile(path("deflate.pth"), "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            dst.writestr(fixed, src.read(info.filename), zipfile.ZIP_DEFLATED)

    with open(path("golden.txt"), "w") as f:
        for case in ("tiny-aligned", "tiny-ragged", "stereo-4stem"):
            gsd = torch.load(os.path.join(HERE, "..", "golden", case, "model.pth"))
            crc, n = 0, 0
            for k, v in gsd.items():
                if k.endswith((".num_batches_tracked", ".attn_mask")):
                    continue
                crc = zlib.crc32(v.float().contiguous().numpy().tobytes(), crc)
                n += 1
            f.write("%s %d %08x\n" % (case, n, crc))

    for name in sorted(os.listdir(HERE)):
        print("%8d %s" % (os.path.getsize(path(name)), name))


if __name__ == "__main__":
    # TorchScript writes a class's constants in set order, which follows
    # the string hash: fix it so that a rerun gives the same bytes
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    main()
