"""wav2mp3.py IN OUT.mp3: re-encodes audio as MP3 with libsndfile itself
(its LAME encoder), so that the tests need no other MP3 tool."""
import ctypes, sys
import numpy as np

SFM_READ, SFM_WRITE = 0x10, 0x20
SF_FORMAT_MPEG, SF_FORMAT_MPEG_LAYER_III = 0x230000, 0x0082


class Info(ctypes.Structure):
    _fields_ = [('frames', ctypes.c_int64), ('samplerate', ctypes.c_int), ('channels', ctypes.c_int),
                ('format', ctypes.c_int), ('sections', ctypes.c_int), ('seekable', ctypes.c_int)]


sf = ctypes.CDLL('libsndfile.so.1')
sf.sf_open.restype = ctypes.c_void_p
sf.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(Info)]
sf.sf_readf_float.argtypes = sf.sf_writef_float.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
sf.sf_readf_float.restype = sf.sf_writef_float.restype = ctypes.c_int64
sf.sf_close.argtypes = [ctypes.c_void_p]

info = Info()
h = sf.sf_open(sys.argv[1].encode(), SFM_READ, ctypes.byref(info))
if not h:
    sys.exit('wav2mp3: cannot read ' + sys.argv[1])
audio = np.zeros((info.frames, info.channels), np.float32)
if sf.sf_readf_float(h, audio.ctypes.data, info.frames) != info.frames:
    sys.exit('wav2mp3: short read')
sf.sf_close(h)
out = Info(samplerate=info.samplerate, channels=info.channels, format=SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III)
h = sf.sf_open(sys.argv[2].encode(), SFM_WRITE, ctypes.byref(out))
if not h:
    sys.exit('wav2mp3: this libsndfile cannot write MP3')
if sf.sf_writef_float(h, audio.ctypes.data, info.frames) != info.frames:
    sys.exit('wav2mp3: short write')
sf.sf_close(h)
