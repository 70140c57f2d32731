#!/usr/bin/python3
"""Reference points for a separation score on a MUSDB18-layout test set.

    bench/oracle.py [--stems A,B,...] TEST OUT N_FFT HOP [START SECONDS]

writes three trees that tf-eval --musdb scores like a separation:
  OUT/mixture/<track>/<stem>.wav  every stem estimated as the unprocessed
                                  mixture (the baseline a model must beat)
  OUT/gain/<track>/<stem>.wav     the mixture times the best constant gain
                                  for the stem, alpha = <s, m> / <m, m>
                                  over all samples and channels (an oracle
                                  scalar: what a model that only learned a
                                  loudness per stem would reach at best)
  OUT/irm/<track>/<stem>.wav      the oracle ratio mask |S_j| / sum_k |S_k|
                                  applied to the mixture's STFT (n_fft, hop,
                                  periodic Hann, centred: what a mask model
                                  with these STFT settings could reach at best)
With START and SECONDS, every track is first cut to SECONDS seconds from
START seconds on, written to OUT/test/<track>/ (mixture and stems), and the
trees are made from that cut; without them OUT/test is not written.
--stems: the stems of the model to compare with (default: every stem WAV
of the track); accompaniment, where a track has no accompaniment.wav, is
drums + bass + other, as MUSDB18, tf-eval and tf-train build it, and the
oracle mask then divides the mixture between the listed stems only.
Needs numpy (Debian python3-numpy); WAVs are read by hand (float32 or 16-bit)
and written as float32."""
import os
import struct
import sys
import wave

import numpy as np


def read_wav(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SystemExit(f"oracle.py: {path}: not a WAV file")
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif cid == b"data":
            pcm = body
        pos += 8 + size + (size & 1)
    tag, ch, rate, _, _, bits = fmt
    if tag == 3 or (tag == 0xFFFE and bits == 32):
        x = np.frombuffer(pcm, "<f4").astype(np.float64)
    elif bits == 16:
        x = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768.0
    else:
        raise SystemExit(f"oracle.py: {path}: {bits}-bit format {tag} not read here")
    return x.reshape(-1, ch).T, rate


def write_wav(path, x, rate):
    """float32 WAV (format 3): no clipping, no rounding to 16 bits."""
    ch = x.shape[0]
    pcm = np.ascontiguousarray(x.T, dtype="<f4").tobytes()
    head = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    head += b"fmt " + struct.pack("<IHHIIHH", 16, 3, ch, rate, rate * ch * 4, ch * 4, 32)
    head += b"data" + struct.pack("<I", len(pcm))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(head + pcm)
    os.replace(tmp, path)


def stft(x, n, hop, win):
    p = np.pad(x, (n // 2, n // 2), mode="reflect")
    frames = 1 + len(x) // hop
    idx = np.arange(n)[None, :] + hop * np.arange(frames)[:, None]
    return np.fft.rfft(p[idx] * win, axis=1)


def istft(X, n, hop, win, length):
    frames = X.shape[0]
    y = np.zeros(n + hop * (frames - 1))
    wsum = np.zeros_like(y)
    seg = np.fft.irfft(X, n=n, axis=1) * win
    for t in range(frames):
        y[t * hop:t * hop + n] += seg[t]
        wsum[t * hop:t * hop + n] += win * win
    y = y / np.where(wsum > 1e-11, wsum, 1.0)
    return y[n // 2:n // 2 + length]


def read_stem(d, s):
    """A stem's WAV, or accompaniment summed from drums, bass and other."""
    path = os.path.join(d, s + ".wav")
    if s == "accompaniment" and not os.path.isfile(path):
        parts = [read_wav(os.path.join(d, p + ".wav"))[0] for p in ("drums", "bass", "other")]
        return parts[0] + parts[1] + parts[2]
    return read_wav(path)[0]


def main():
    args, want = sys.argv[1:], None
    if len(args) >= 2 and args[0] == "--stems":
        want, args = args[1].split(","), args[2:]
    if len(args) not in (4, 6):
        raise SystemExit(__doc__)
    test, out, n, hop = args[0], args[1], int(args[2]), int(args[3])
    cut = (float(args[4]), float(args[5])) if len(args) == 6 else None
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    for track in sorted(os.listdir(test)):
        d = os.path.join(test, track)
        if not os.path.isdir(d):
            continue
        stems = want or sorted(f[:-4] for f in os.listdir(d) if f.endswith(".wav") and f != "mixture.wav")
        mix, rate = read_wav(os.path.join(d, "mixture.wav"))
        S = {s: read_stem(d, s) for s in stems}
        if cut:
            a = int(round(cut[0] * rate))
            b = a + int(round(cut[1] * rate))
            if a < 0 or b > mix.shape[1] or b <= a:
                raise SystemExit(f"oracle.py: {track}: {mix.shape[1] / rate:.1f} s, too short to cut "
                                 f"{cut[1]} s from {cut[0]} s on")
            mix = mix[:, a:b]
            S = {s: x[:, a:b] for s, x in S.items()}
            os.makedirs(os.path.join(out, "test", track), exist_ok=True)
            write_wav(os.path.join(out, "test", track, "mixture.wav"), mix, rate)
            for s in stems:
                write_wav(os.path.join(out, "test", track, s + ".wav"), S[s], rate)
        for kind in ("mixture", "gain", "irm"):
            os.makedirs(os.path.join(out, kind, track), exist_ok=True)
        est = {s: np.zeros_like(mix) for s in stems}
        for c in range(mix.shape[0]):
            X = stft(mix[c], n, hop, win)
            mags = {s: np.abs(stft(S[s][c], n, hop, win)) for s in stems}
            total = sum(mags.values()) + 1e-12
            for s in stems:
                est[s][c] = istft(X * (mags[s] / total), n, hop, win, mix.shape[1])
        for s in stems:
            write_wav(os.path.join(out, "mixture", track, s + ".wav"), mix, rate)
            alpha = np.sum(S[s] * mix) / max(np.sum(mix * mix), 1e-30)
            write_wav(os.path.join(out, "gain", track, s + ".wav"), alpha * mix, rate)
            write_wav(os.path.join(out, "irm", track, s + ".wav"), est[s], rate)
        print(f"oracle.py: {track}", file=sys.stderr)


main()
