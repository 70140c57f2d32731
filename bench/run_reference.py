#!/usr/bin/env python3
"""Runs the PyTorch reference (a local checkout of chynggi/TFSWA-UNet, given
as the first argument; it is not part of this repository) on the benchmark
checkpoint and input, and saves its masks. Prints the forward time as
"seconds: X", the line tf-bench --ref-cmd takes as the command's time.
A sixth argument "f64" runs it in double precision (to tell which of two
float32 results is nearer the exact one)."""
import sys
import time

import numpy as np
import torch

ref, pth, inp, out, threads = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
sys.path.insert(0, ref)
from src.models.tfswa_unet import TFSWAUNet  # noqa: E402

torch.set_num_threads(threads)
model = TFSWAUNet(in_channels=2, out_channels=2, depths=[2, 2, 6, 2], dims=[32, 64, 128, 256],
                  window_size=8, shift_size=4, num_heads=8, mlp_ratio=4.0).eval()
missing, unexpected = model.load_state_dict(torch.load(pth), strict=False)
assert not unexpected and all(k.endswith("attn_mask") for k in missing), (missing, unexpected)
x = torch.from_numpy(np.load(inp))
if sys.argv[6:] == ["f64"]:
    model, x = model.double(), x.double()
with torch.no_grad():
    t = time.time()
    y = model(x)
    dt = time.time() - t
np.save(out, y.numpy())
print("seconds: %.3f" % dt)
