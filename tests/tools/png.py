#!/usr/bin/env python3
"""Test helper: reads a PNG as written by tf-view (8-bit RGB or 8-bit
palette, not interlaced) with nothing but zlib and numpy, checking its signature, every
chunk's CRC and the image data's length on the way.

  png.py FILE [OUT.npy]   prints "WIDTH HEIGHT"; with OUT.npy, saves the pixels [height, width, 3]
"""
import struct
import sys
import zlib

import numpy as np


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG signature")
    pos, idat, ihdr, ended, plte = 8, b"", None, False, None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if len(body) != n or zlib.crc32(kind + body) != crc:
            raise ValueError("chunk %r: bad length or CRC" % kind)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            plte = np.frombuffer(body, np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            ended = True
            break
        pos += 12 + n
    if not ihdr or not ended:
        raise ValueError("no IHDR or no IEND")
    w, h, depth, colour, _, _, interlace = ihdr
    if depth != 8 or colour not in (2, 3) or interlace or (colour == 3 and plte is None):
        raise ValueError("not 8-bit RGB or palette without interlacing: %r" % (ihdr,))
    raw = zlib.decompress(idat)
    bpp = 3 if colour == 2 else 1
    stride = bpp * w
    if len(raw) != h * (stride + 1):
        raise ValueError("image data of %d bytes for %d x %d" % (len(raw), w, h))
    img = np.zeros((h, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        out = np.zeros(stride, np.int32)
        for x in range(stride):
            a = out[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 0:
                p = 0
            elif f == 1:
                p = a
            elif f == 2:
                p = b
            elif f == 3:
                p = (a + b) // 2
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else b if pb <= pc else c
            else:
                raise ValueError("row %d: filter %d" % (y, f))
            out[x] = (line[x] + p) & 255
        img[y] = out
        prev = out
    if colour == 3:
        if img.max() >= len(plte):
            raise ValueError("a palette index beyond the %d colours" % len(plte))
        return plte[img]
    return img.reshape(h, w, 3).astype(np.uint8)


if __name__ == "__main__":
    img = read_png(sys.argv[1])
    print(img.shape[1], img.shape[0])
    if len(sys.argv) > 2:
        np.save(sys.argv[2], img)
