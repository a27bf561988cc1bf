#!/usr/bin/python3
"""Writes print_cases.json: str() of NumPy arrays, to check Tensor.String.

Run from this folder:  /usr/bin/python3 make_print.py
Each case gives the shape and the flat float64 values (as repr strings) and
NumPy's str() of the array, under the default print options.
"""
import json

import numpy as np

np.set_printoptions()  # defaults: precision 8, threshold 1000, edgeitems 3, linewidth 75


def case(name, a):
    a = np.asarray(a, dtype=np.float64)
    return {"name": name, "shape": list(a.shape),
            "values": [repr(float(v)) for v in a.ravel()], "str": str(a)}


cases = [
    case("scalar", np.array(3.0)),
    case("scalar frac", np.array(-0.1)),
    case("scalar small", np.array(1e-5)),
    case("scalar big", np.array(1.5e16)),
    case("scalar nan", np.array(np.nan)),
    case("ints 1-D", np.arange(5.0)),
    case("empty", np.zeros((0,))),
    case("empty 2-D", np.zeros((2, 0))),
    case("mixed", np.array([1.0, 1.5, -2.25])),
    case("thirds", np.array([0.1, 1 / 3, 2.0])),
    case("sum rounding", np.array([0.1 + 0.2, 1.0])),
    case("2-D", np.arange(6.0).reshape(2, 3) / 4),
    case("3-D", np.arange(12.0).reshape(2, 3, 2) - 5),
    case("4-D", np.arange(16.0).reshape(2, 2, 2, 2)),
    case("exp small", np.array([1e-5, 1.0])),
    case("exp ratio", np.array([1.0, 2000.0])),
    case("exp big", np.array([1.5e8, -2.0, 3.25])),
    case("exp long", np.array([1.23456789123e-7, 3.0e100])),
    case("nonfinite", np.array([np.nan, 1.0, np.inf])),
    case("neg inf", np.array([-np.inf, 0.5])),
    case("all nan", np.array([np.nan, np.nan])),
    case("exp nan", np.array([1e-9, np.nan, -np.inf])),
    case("neg zero", np.array([-0.0, 1.0])),
    case("zeros", np.zeros((2, 2))),
    case("wrap", np.arange(40.0) / 7),
    case("wrap 2-D", np.arange(60.0).reshape(2, 30) * 1.5),
    case("summary 1-D", np.arange(2000.0)),
    case("summary 2-D", np.arange(2000.0).reshape(40, 50) / 3),
    case("summary 3-D", np.arange(3000.0).reshape(10, 10, 30)),
    case("summary thin", np.arange(1001.0).reshape(1001, 1)),
    case("summary exp", np.arange(1200.0) * 1e-6),
    case("random", (np.arange(24.0).reshape(4, 6) * 0.7071) % 3 - 1.2),
]

with open("print_cases.json", "w") as fh:
    json.dump({"numpy": np.__version__, "cases": cases}, fh, indent=0)
print(len(cases), "cases")
