#!/usr/bin/env python3
"""Fixture signals for tf-eval's tests, and the museval numbers they give.

    fixtures.py wav DIR [CASE...]     writes DIR/CASE/{ref,est}/<stem>.wav (16-bit)
    fixtures.py museval PATH > museval.txt
                                      runs museval's bss_eval (PATH: a checkout
                                      of github.com/sigsep/sigsep-mus-eval; needs
                                      numpy and scipy) on every case

The signals are built from integers only (a counter-based hash for noise,
shifts for every division of a signed value), so that tests/unit/test_eval.c
makes exactly the same samples in C. Each case is a set of references
(filtered noise, triangle-wave tones, gated bursts) and estimates made from
them by leaking other references in (interference), filtering and delaying
(spatial distortion) and adding noise (artifacts), with a window where a
reference or an estimate is silent.

museval.txt lines (NaN: a silent window; inf is printed as such):
    window CASE STEM T  SDR ISR SIR SAR    museval's value in window T
    median CASE STEM    SDR ISR SIR SAR    median over windows, infinities and NaN left out
    global CASE STEM    GSDR SISDR         MDX global SDR and SI-SDR, numpy
"""
import os
import sys
import wave

import numpy as np

RATE = 44100
M64 = (1 << 64) - 1


def noise(seed, n):
    """n pseudo-random integers in [-32768, 32767]: splitmix64's finaliser of
    (seed << 32 | i + 1) times the golden gamma."""
    with np.errstate(over='ignore'):
        z = (np.uint64(seed) << np.uint64(32)) + np.arange(1, n + 1, dtype=np.uint64)
        z = z * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(48)).astype(np.int64) - 32768


def lowpass(x, k):
    """moving sum of 2^k samples (zeros before the start), >> k"""
    c = np.cumsum(np.concatenate([np.zeros(1 << k, np.int64), x]))
    return (c[1 << k:] - c[:-(1 << k)]) >> k


def highpass(x):
    return (x - delay(x, 1)) >> 1


def delay(x, d):
    return np.concatenate([np.zeros(d, np.int64), x[:len(x) - d]])


def tri(n, period, amp):
    """triangle wave in [-amp, amp]"""
    p = np.arange(n, dtype=np.int64) % period
    return np.where(2 * p < period, (4 * amp * p) // period - amp, 3 * amp - (4 * amp * p) // period)


def gate(x, k):
    """bursts: x fading out over each 2^k samples"""
    n = np.arange(len(x), dtype=np.int64)
    return (x * ((1 << k) - (n & ((1 << k) - 1)))) >> k


def silence(x, a, b):
    x = x.copy()
    x[a:b] = 0
    return x


def case_three():
    """3 stereo stems, 6 s; reference 2 silent in [3 s, 4 s)"""
    n = 6 * RATE
    r0 = [2 * lowpass(noise(10 + c, n), 5) + tri(n, 200 + 3 * c, 6000) + (noise(15 + c, n) >> 6) for c in (0, 1)]
    r1 = [gate(highpass(noise(20 + c, n)), 14) + (noise(25 + c, n) >> 6) for c in (0, 1)]
    r2 = [silence(tri(n, 100 + c, 5000) + (lowpass(noise(30 + c, n), 2) >> 1) + (noise(35 + c, n) >> 6),
                  3 * RATE, 4 * RATE) for c in (0, 1)]
    e0 = [r0[c] + (r1[c] >> 3) + (noise(40 + c, n) >> 5) for c in (0, 1)]
    e0[1] = e0[1] + (r0[0] >> 3)
    e1 = [((r1[c] + delay(r1[c], 1)) >> 1) + (r2[c] >> 4) + (noise(50 + c, n) >> 5) for c in (0, 1)]
    e2 = [delay(r2[c], 5) + (r0[c] >> 4) + (noise(60 + c, n) >> 4) for c in (0, 1)]
    return ['bass', 'drums', 'vocals'], [r0, r1, r2], [e0, e1, e2]


def case_mono():
    """2 mono stems, 4.5 s (4 windows, the last half second in none);
    estimate 1 silent in [1 s, 2 s)"""
    n = 9 * RATE // 2
    r0 = [lowpass(noise(110, n), 3) + tri(n, 147, 4000) + (noise(111, n) >> 6)]
    r1 = [gate(noise(120, n), 13) + (noise(121, n) >> 6)]
    e0 = [r0[0] + (r1[0] >> 2) + (noise(130, n) >> 5)]
    e1 = [silence(r1[0] - (r1[0] >> 3) + (r0[0] >> 3) + (noise(140, n) >> 5), RATE, 2 * RATE)]
    return ['other', 'vocals'], [r0, r1], [e0, e1]


def case_short():
    """2 stereo stems of 0.5 s: shorter than a window, so one window, the whole track"""
    n = RATE // 2
    r0 = [tri(n, 90 + c, 7000) + (noise(210 + c, n) >> 5) for c in (0, 1)]
    r1 = [(lowpass(noise(220 + c, n), 1) >> 1) + (noise(225 + c, n) >> 6) for c in (0, 1)]
    e0 = [r0[c] + (r1[c] >> 2) + (noise(230 + c, n) >> 6) for c in (0, 1)]
    e1 = [delay(r1[c], 2) + (r0[1 - c] >> 3) + (noise(240 + c, n) >> 5) for c in (0, 1)]
    return ['drums', 'other'], [r0, r1], [e0, e1]


CASES = {'three': case_three, 'mono': case_mono, 'short': case_short}


def as_float(chans):
    """[channels] of ints -> float64 [frames, channels] as a WAV reader gives them"""
    return np.clip(np.stack(chans, 1), -32768, 32767).astype(np.float64) / 32768


def write_wav(path, chans):
    a = np.clip(np.stack(chans, 1), -32768, 32767).astype('<i2')
    with wave.open(path, 'wb') as w:
        w.setnchannels(a.shape[1])
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(a.tobytes())


def cmd_wav(out, names):
    for name in names or CASES:
        stems, refs, ests = CASES[name]()
        for kind, sigs in (('ref', refs), ('est', ests)):
            d = os.path.join(out, name, kind)
            os.makedirs(d, exist_ok=True)
            for stem, sig in zip(stems, sigs):
                write_wav(os.path.join(d, stem + '.wav'), sig)


def fmt(v):
    return 'nan' if np.isnan(v) else ('inf' if np.isposinf(v) else '-inf' if np.isneginf(v) else '%.10g' % v)


def cmd_museval(path):
    sys.path.insert(0, os.path.join(path, 'museval'))
    import metrics  # museval/metrics.py alone: the rest of museval needs musdb, pandas...
    for name, make in CASES.items():
        stems, refs, ests = make()
        R = np.stack([as_float(r) for r in refs])
        E = np.stack([as_float(e) for e in ests])
        sdr, isr, sir, sar, _ = metrics.bss_eval(R, E, window=RATE, hop=RATE, compute_permutation=False,
                                                 filters_len=512, framewise_filters=False,
                                                 bsseval_sources_version=False)
        for j, stem in enumerate(stems):
            vals = [sdr[j], isr[j], sir[j], sar[j]]
            for t in range(sdr.shape[1]):
                print('window', name, stem, t, *(fmt(v[t]) for v in vals))
            med = [np.nanmedian(np.where(np.isinf(v), np.nan, v)) for v in vals]
            print('median', name, stem, *(fmt(m) for m in med))
            s, x = R[j].ravel(), E[j].ravel()
            g = 10 * np.log10((np.sum(s * s) + 1e-7) / (np.sum((s - x) ** 2) + 1e-7))
            a = np.dot(x, s) / np.dot(s, s)
            si = 10 * np.log10(np.sum((a * s) ** 2) / np.sum((a * s - x) ** 2))
            print('global', name, stem, fmt(g), fmt(si))


if __name__ == '__main__':
    if len(sys.argv) >= 3 and sys.argv[1] == 'wav':
        cmd_wav(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 3 and sys.argv[1] == 'museval':
        cmd_museval(sys.argv[2])
    else:
        sys.exit(__doc__)
