#!/usr/bin/env python3
"""pth_legacy.py IN.pth OUT.pth: rewrites a torch.save zip archive of a
state_dict in the legacy layout (torch.save(..., _use_new_zipfile_
serialization=False)), without torch: the magic number, the protocol
version, the system info, the object with its storages as persistent ids
('storage', torch.<T>Storage, key, 'cpu', numel, None), the sorted storage
keys, then each storage's element count (int64, little-endian) and bytes.
Only for tests: the tensors keep their storages, offsets and strides, so
that the legacy file must import to the same model as the archive."""
import collections
import pickle
import struct
import sys
import types
import zipfile

MAGIC, PROTOCOL_VERSION = 0x1950A86A20F9469CFC6C, 1001
SIZES = {"FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "DoubleStorage": 8, "LongStorage": 8,
         "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1}


class Storage:
    def __init__(self, kind, key, numel, data):
        self.kind, self.key, self.numel, self.data = kind, key, numel, data


class Tensor:
    def __init__(self, args):
        self.args = args  # storage, offset, size, stride, requires_grad, hooks

    def __reduce__(self):
        return (torch_utils._rebuild_tensor_v2, self.args)


# the globals the pickles name, as modules pickle can find them in
torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")
for name in SIZES:
    setattr(torch, name, type(name, (), {"__module__": "torch"}))


def _rebuild_tensor_v2(*args):
    return Tensor(args)


_rebuild_tensor_v2.__module__ = "torch._utils"
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
sys.modules["torch"], sys.modules["torch._utils"] = torch, torch_utils


def main(src, dst):
    z = zipfile.ZipFile(src)
    pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
    prefix = pkl[: -len("data.pkl")]
    storages = {}

    class Reader(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                return _rebuild_tensor_v2
            if module == "torch" and name in SIZES:
                return getattr(torch, name)
            raise pickle.UnpicklingError(f"{module}.{name}")

        def persistent_load(self, pid):
            _, kind, key, _, numel = pid
            if key not in storages:
                storages[key] = Storage(kind, key, numel, z.read(prefix + "data/" + key))
            return storages[key]

    obj = Reader(z.open(pkl)).load()

    class Writer(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, Storage):
                return ("storage", o.kind, o.key, "cpu", o.numel, None)
            return None

    with open(dst, "wb") as out:
        for v in (MAGIC, PROTOCOL_VERSION,
                  dict(protocol_version=PROTOCOL_VERSION, little_endian=True,
                       type_sizes=dict(short=2, int=4, long=4))):
            pickle.dump(v, out, protocol=2)
        Writer(out, protocol=2).dump(obj)
        keys = sorted(storages)
        pickle.dump(keys, out, protocol=2)
        for k in keys:
            s = storages[k]
            size = SIZES[s.kind.__name__]
            out.write(struct.pack("<q", len(s.data) // size))
            out.write(s.data)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
