#!/usr/bin/python3
"""A live source and a listener, to measure a pipeline's latency.

    live.py write IN.wav LOG > pipe   writes IN.wav (16-bit PCM) to standard
                                      output at 1x real time, in 10 ms blocks,
                                      with a WAV header of unknown length
                                      first (as arecord and sox write on a pipe)
    live.py read LOG < pipe           reads a WAV from standard input and
                                      throws it away
    live.py latency IN_LOG OUT_LOG    prints the latency figures (below)

Each LOG line is "FRAMES SECONDS": frames written (or received) so far and
time.monotonic(), which is one clock for every process of the machine.
latency prints, in seconds: the worst latency of any sample (the time from
the write of the block that held it to the read that returned it), the
median of that over the reads, how long after the last input the last
output came, and the share of the output that had arrived when the last
input was written; then the frames in and out."""
import os
import struct
import sys
import time


def write(path, log):
    data = open(path, "rb").read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        sys.exit("live.py: not a WAV file")
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if cid == b"fmt ":
            fmt = data[pos + 8:pos + 24]
        elif cid == b"data":
            pcm = data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    tag, ch, rate, _, align, bits = struct.unpack("<HHIIHH", fmt)
    if tag != 1 or bits != 16:
        sys.exit("live.py: 16-bit PCM WAV only")
    unknown = 0x7ffff000  # sox's "unknown length" on a pipe
    out = sys.stdout.buffer
    out.write(b"RIFF" + struct.pack("<I", unknown + 36) + b"WAVEfmt " + struct.pack("<I", 16) + fmt +
              b"data" + struct.pack("<I", unknown))
    out.flush()
    block, frames = rate // 100, len(pcm) // align
    with open(log, "w") as lg:
        start = time.monotonic()
        for at in range(0, frames, block):
            wait = start + at / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            n = min(block, frames - at)
            out.write(pcm[at * align:(at + n) * align])
            out.flush()
            lg.write(f"{at + n} {time.monotonic():.6f}\n")


def read(log):
    fd, head, got, align = sys.stdin.fileno(), b"", 0, None
    with open(log, "w") as lg:
        while True:
            b = os.read(fd, 1 << 16)
            if not b:
                break
            if align is None:  # the header: up to the data chunk
                head += b
                pos = 12
                while pos + 8 <= len(head) and head[pos:pos + 4] != b"data":
                    if head[pos:pos + 4] == b"fmt " and pos + 22 <= len(head):
                        fmtalign = struct.unpack("<H", head[pos + 20:pos + 22])[0]
                    pos += 8 + struct.unpack("<I", head[pos + 4:pos + 8])[0]
                if pos + 8 > len(head):
                    continue
                align, b = fmtalign, head[pos + 8:]
            got += len(b)
            lg.write(f"{got // align} {time.monotonic():.6f}\n")
            lg.flush()


def latency(in_log, out_log):
    def load(p):
        return [(int(a), float(b)) for a, b in (l.split() for l in open(p))]
    ins, outs = load(in_log), load(out_log)

    def written(frame):  # when the block holding this frame was written
        lo, hi = 0, len(ins) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if ins[mid][0] > frame:
                hi = mid
            else:
                lo = mid + 1
        return ins[lo][1]

    lat, prev = [], 0
    for total, t in outs:
        if total > prev:
            lat.append(t - written(min(prev, ins[-1][0] - 1)))  # the oldest new frame
            prev = total
    lat.sort()
    last_in = ins[-1][1]
    before = max([f for f, t in outs if t <= last_in], default=0)
    print(f"{lat[-1]:.3f} {lat[len(lat) // 2]:.3f} {outs[-1][1] - last_in:.3f} "
          f"{before / max(1, outs[-1][0]):.3f} {ins[-1][0]} {outs[-1][0]}")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "write" and len(sys.argv) == 4:
        write(sys.argv[2], sys.argv[3])
    elif cmd == "read" and len(sys.argv) == 3:
        read(sys.argv[2])
    elif cmd == "latency" and len(sys.argv) == 4:
        latency(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
