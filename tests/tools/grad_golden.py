#!/usr/bin/env python3
"""Makes the gradient goldens in tests/data/grad/ with the PyTorch reference
(a local checkout of chynggi/TFSWA-UNet, given as the first argument; it is
not part of this repository):

  /usr/bin/python3 tests/tools/grad_golden.py /tmp/ref tests/data/grad

For each case the reference TFSWAUNet is built on a tiny configuration, its
parameters, the input and R are drawn from the same xorshift64 generator as
tests/unit/train_util.h (so that only results need committing), the model is
run in train() mode (dropout 0) in float64 (results stored as float32), L = sum(masks * R) is
back-propagated, and the case directory gets
  grad.npy    every state_dict tensor in order (swa.attn_mask and
              num_batches_tracked left out), flattened and concatenated:
              the gradient of each trainable one, and for BatchNorm's
              running_mean/running_var their values after the step
  masks.npy   the masks (B, out, H, W)
  config.json the case, for people (tests/unit/test_grad_torch.c has it too)
"""
import json
import math
import os
import sys

import numpy as np
import torch

CASES = [
    # name, depths, dims, window, shift, heads, (B, H, W), seed
    ("aligned", [1, 1, 1, 1], [4, 8, 8, 16], 4, 2, 2, (2, 16, 12), 0x2545F4914F6CDD1D),
    ("ragged-shifted", [2, 1, 1, 1], [4, 8, 8, 16], 4, 2, 2, (2, 19, 13), 0x9E3779B97F4A7C15),
]

MASK64 = (1 << 64) - 1


class XorShift:
    """xorshift64 (13, 7, 17) and the uniform [-1, 1) of train_util.h."""

    def __init__(self, seed):
        self.x = seed

    def urand(self):
        x = self.x
        x ^= (x << 13) & MASK64
        x ^= x >> 7
        x ^= (x << 17) & MASK64
        self.x = x
        return (x >> 11) * (1.0 / 4503599627370496.0) - 1.0


def fill(name, t, rng):
    """The values train_util.h's random_params gives this tensor."""
    n = t.numel()
    fan = n / t.shape[0] if t.dim() > 1 else 1.0
    bias = name.endswith(".bias")
    out = np.empty(n, np.float32)
    for j in range(n):
        u = rng.urand()
        if "running_mean" in name:
            v = 0.1 * u
        elif "running_var" in name:
            v = 1.0 + 0.3 * u
        elif t.dim() == 1 and not bias:
            v = 1.0 + 0.2 * u
        elif bias:
            v = 0.1 * u
        else:
            v = u * math.sqrt(3.0 / fan)
        out[j] = v
    return torch.from_numpy(out.reshape(tuple(t.shape)))


def kept(name):
    return not name.endswith("attn_mask") and not name.endswith("num_batches_tracked")


def main():
    ref, outdir = sys.argv[1], sys.argv[2]
    sys.path.insert(0, ref)
    from src.models.tfswa_unet import TFSWAUNet

    torch.set_num_threads(2)
    for name, depths, dims, ws, shift, heads, (B, H, W), seed in CASES:
        model = TFSWAUNet(in_channels=2, out_channels=2, depths=depths, dims=dims, window_size=ws,
                          shift_size=shift, num_heads=heads, mlp_ratio=4.0, dropout=0.0)
        rng = XorShift(seed)
        sd = model.state_dict()
        new = {k: (fill(k, v, rng) if kept(k) else v) for k, v in sd.items()}
        model.load_state_dict(new)
        x = np.array([rng.urand() for _ in range(B * 2 * H * W)], np.float32).reshape(B, 2, H, W)
        R = np.array([rng.urand() for _ in range(B * 2 * H * W)], np.float32).reshape(B, 2, H, W)
        model = model.double().train()
        masks = model(torch.from_numpy(x).double())
        loss = (masks * torch.from_numpy(R).double()).sum()
        loss.backward()
        params = dict(model.named_parameters())
        after = model.state_dict()
        flat = []
        for k in sd:
            if not kept(k):
                continue
            if k in params:
                flat.append(params[k].grad.detach().numpy().ravel())
            else:
                flat.append(after[k].detach().numpy().ravel())
        flat = np.concatenate(flat).astype(np.float32)
        d = os.path.join(outdir, name)
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "grad.npy"), flat)
        np.save(os.path.join(d, "masks.npy"), masks.detach().numpy().astype(np.float32))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"depths": depths, "dims": dims, "window_size": ws, "shift_size": shift,
                       "num_heads": heads, "mlp_ratio": 4.0, "input_shape": [B, 2, H, W],
                       "seed": "0x%016x" % seed, "loss": float(loss),
                       "values": int(flat.size)}, f, indent=1)
        print(name, "values", flat.size, "loss", float(loss))


main()
