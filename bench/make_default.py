#!/usr/bin/env python3
"""Writes the benchmark inputs: a random-weight checkpoint of the default
15.4M TFSWA-UNet configuration (state_dict .pth, made with torch only, no
reference code) and a matching random spectrogram stream, so that the
reference and tf-unet see exactly the same weights and input.

BatchNorm running statistics are set from a random batch so that the
activations stay O(1), as in the golden vectors (the reference's own
initialisation saturates every mask)."""
import sys

import msgpack
import numpy as np
import torch

out_pth, out_stream, out_npy = sys.argv[1:4]
F, T = int(sys.argv[4]), int(sys.argv[5])
depths, dims, mlp = [2, 2, 6, 2], [32, 64, 128, 256], 4
g = torch.Generator().manual_seed(1234)
sd = {}


def t(*shape, scale=1.0):
    return (torch.randn(*shape, generator=g) * scale).float()


def conv(prefix, co, ci, k):
    sd[prefix + ".weight"] = t(co, ci, k, k, scale=(ci * k * k) ** -0.5)
    sd[prefix + ".bias"] = t(co, scale=0.02)


def bn(prefix, c):
    sd[prefix + ".weight"] = 1 + t(c, scale=0.1)
    sd[prefix + ".bias"] = t(c, scale=0.1)
    sd[prefix + ".running_mean"] = t(c, scale=0.1)
    sd[prefix + ".running_var"] = 1 + t(c, scale=0.1).abs()
    sd[prefix + ".num_batches_tracked"] = torch.tensor(0)


def linear(prefix, o, i, bias=True):
    sd[prefix + ".weight"] = t(o, i, scale=i ** -0.5)
    if bias:
        sd[prefix + ".bias"] = t(o, scale=0.02)


def block(p, c):
    conv(p + ".input_proj.0", c, c, 1)
    bn(p + ".input_proj.1", c)
    for br in ("tsa", "fsa", "swa"):
        q = p + "." + br
        sd[q + ".norm1.weight"], sd[q + ".norm1.bias"] = 1 + t(c, scale=0.1), t(c, scale=0.1)
        linear(q + ".attn.qkv", 3 * c, c, bias=False)
        linear(q + ".attn.proj", c, c)
        sd[q + ".norm2.weight"], sd[q + ".norm2.bias"] = 1 + t(c, scale=0.1), t(c, scale=0.1)
        linear(q + ".mlp.0", mlp * c, c)
        linear(q + ".mlp.3", c, mlp * c)
    conv(p + ".fusion.0", c, 3 * c, 1)
    bn(p + ".fusion.1", c)


conv("stem.0", dims[0], 2, 7)
bn("stem.1", dims[0])
for s in range(3):
    for b in range(depths[s]):
        block("encoder_stages.%d.%d" % (s, b), dims[s])
for s in range(3):
    conv("downsample_layers.%d.downsample.0" % s, dims[s + 1], dims[s], 4)
    bn("downsample_layers.%d.downsample.1" % s, dims[s + 1])
for b in range(depths[3]):
    block("bottleneck.%d" % b, dims[3])
for i in range(3):
    s = 2 - i
    sd["upsample_layers.%d.upsample.0.weight" % i] = t(dims[s + 1], dims[s], 4, 4, scale=(dims[s + 1] * 4) ** -0.5)
    sd["upsample_layers.%d.upsample.0.bias" % i] = t(dims[s], scale=0.02)
    bn("upsample_layers.%d.upsample.1" % i, dims[s])
for i in range(3):
    for b in range(depths[2 - i]):
        block("decoder_stages.%d.%d" % (i, b), dims[2 - i])
conv("output_head.0", dims[0], dims[0], 3)
bn("output_head.1", dims[0])
conv("output_head.3", 2, dims[0], 1)
torch.save(sd, out_pth)

x = torch.randn(1, 2, F, T, generator=g)
np.save(out_npy, x.numpy())
spec = (x[0, 0] + 1j * x[0, 1]).numpy().astype(np.complex64)[None]  # [1, F, T]
with open(out_stream, "wb") as f:
    f.write(msgpack.packb({"tfswa": 1, "kind": "spectrogram", "sample_rate": 44100,
                           "n_fft": 2 * (F - 1), "hop": (F - 1) // 2, "channels": 1}))
    f.write(msgpack.packb({"dtype": "c64", "shape": [1, F, T], "data": spec.tobytes()}))
    f.write(msgpack.packb({"end": True, "frames": T}))
