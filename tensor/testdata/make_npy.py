#!/usr/bin/python3
"""Writes the .npy fixtures under npy/ and npy/manifest.json.

Run from this folder with a NumPy-equipped python:  /usr/bin/python3 make_npy.py
The Go test (npy_test.go) reads each file with ReadNPY and compares it with
the manifest: the shape and every value as float64 (repr strings). Files
named bad_* must be rejected with an error.
"""
import io
import json
import os

import numpy as np

os.makedirs("npy", exist_ok=True)
manifest = {"numpy": np.__version__, "files": {}}


def save(name, a, version=None):
    path = os.path.join("npy", name)
    if version is None:
        np.save(path, a, allow_pickle=False)
    else:
        with open(path, "wb") as fh:
            np.lib.format.write_array(fh, a, version=version, allow_pickle=False)
    f64 = np.asarray(a, dtype=np.float64)
    manifest["files"][name] = {
        "dtype": a.dtype.str, "shape": list(a.shape),
        "values": [repr(float(v)) for v in f64.ravel()],
    }


save("f8.npy", np.array([[0.1, -2.5, 3e300], [np.pi, -0.0, 1e-310]]))
save("f4.npy", np.array([0.1, -1.5, 3.4e38, 1e-45], dtype=np.float32))
save("i8.npy", np.array([[-(2**53), 7], [0, 2**53 - 1]], dtype=np.int64))
save("i4.npy", np.array([-(2**31), 2**31 - 1, 0], dtype=np.int32))
save("u1.npy", np.array([0, 1, 255], dtype=np.uint8))
save("b1.npy", np.array([True, False, True]))
save("scalar.npy", np.array(42.5))
save("empty.npy", np.zeros((0, 3)))
save("cube.npy", np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 8)
save("be_f8.npy", np.array([1.5, -2.25, 1e100], dtype=">f8"))
save("be_i8.npy", np.array([[1, -2], [3, -(2**40)]], dtype=">i8"))
save("be_f4.npy", np.array([0.25, -8.0], dtype=">f4"))
save("v2.npy", np.arange(6, dtype=np.float64).reshape(3, 2), version=(2, 0))
save("v3.npy", np.arange(3, dtype="<i8"), version=(3, 0))

# Inputs that must be rejected.
np.save("npy/bad_fortran.npy", np.asfortranarray(np.arange(6.0).reshape(2, 3)))
np.save("npy/bad_complex.npy", np.array([1 + 2j]))
np.save("npy/bad_structured.npy", np.zeros(2, dtype=[("a", "<f8"), ("b", "<i4")]))
buf = io.BytesIO()
np.save(buf, np.arange(10.0))
with open("npy/bad_truncated.npy", "wb") as fh:
    fh.write(buf.getvalue()[:-3])
# A header claiming 10**15 elements over 16 bytes of data.
hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000000), }"
hdr += " " * (64 - (10 + len(hdr) + 1) % 64) + "\n"
with open("npy/bad_huge.npy", "wb") as fh:
    fh.write(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr.encode() + b"\0" * 16)

with open("npy/manifest.json", "w") as fh:
    json.dump(manifest, fh, indent=1)
print(len(manifest["files"]), "fixtures")
