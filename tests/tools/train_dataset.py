#!/usr/bin/python3
"""Writes a tiny dataset in MUSDB18's layout for the tf-train tests:
ROOT/{train,test}/<track>/{mixture,vocals,drums,bass,other}.wav, stereo
float WAV. Each stem is its own kind of sound (a gliding tone, noise
bursts, a low tone, band-limited noise), different per track; the mixture
is their sum.

usage: train_dataset.py ROOT [TRAIN_TRACKS [TEST_TRACKS [SECONDS [RATE]]]]"""
import os
import sys

import numpy as np


def write_wav(path, x, rate):
    """x: (frames, channels) float32 as a WAVE_FORMAT_IEEE_FLOAT file."""
    x = np.ascontiguousarray(x, dtype='<f4')
    frames, channels = x.shape
    data = x.tobytes()
    fmt = (b'fmt ' + (16).to_bytes(4, 'little') + (3).to_bytes(2, 'little') +
           channels.to_bytes(2, 'little') + rate.to_bytes(4, 'little') +
           (rate * channels * 4).to_bytes(4, 'little') + (channels * 4).to_bytes(2, 'little') +
           (32).to_bytes(2, 'little'))
    body = b'WAVE' + fmt + b'data' + len(data).to_bytes(4, 'little') + data
    with open(path, 'wb') as f:
        f.write(b'RIFF' + len(body).to_bytes(4, 'little') + body)


def stems(rng, n, rate):
    t = np.arange(n) / rate
    f0 = rng.uniform(300, 700)
    vocals = 0.3 * np.sin(2 * np.pi * np.cumsum(f0 * (1 + 0.05 * np.sin(2 * np.pi * 5 * t))) / rate)
    vocals *= (np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t) > -0.3)
    drums = np.zeros(n)
    period = int(rate * rng.uniform(0.2, 0.35))
    for start in range(int(rng.integers(0, period)), n, period):
        k = min(n - start, int(0.05 * rate))
        drums[start:start + k] += rng.normal(0, 0.4, k) * np.exp(-np.arange(k) / (0.01 * rate))
    bass = 0.4 * np.sin(2 * np.pi * rng.uniform(50, 110) * t)
    noise = rng.normal(0, 0.15, n)
    other = np.convolve(noise, np.ones(8) / 8, 'same') * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    out = {}
    for name, x in (('vocals', vocals), ('drums', drums), ('bass', bass), ('other', other)):
        pan = rng.uniform(0.3, 0.7)
        out[name] = np.stack([x * (1 - pan) * 2, x * pan * 2], 1).astype(np.float32) * 0.5
    return out


def main():
    root = sys.argv[1]
    ntrain, ntest = (int(a) for a in (sys.argv[2:4] + ['3', '2'][len(sys.argv[2:4]):]))
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
    rate = int(sys.argv[5]) if len(sys.argv) > 5 else 8000
    n = int(seconds * rate)
    rng = np.random.default_rng(1234)
    for split, count in (('train', ntrain), ('test', ntest)):
        for i in range(count):
            d = os.path.join(root, split, f'track{i:02d}')
            os.makedirs(d, exist_ok=True)
            s = stems(rng, n, rate)
            for name, x in s.items():
                write_wav(os.path.join(d, name + '.wav'), x, rate)
            write_wav(os.path.join(d, 'mixture.wav'), sum(s.values()), rate)


if __name__ == '__main__':
    main()
