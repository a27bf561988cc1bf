#!/usr/bin/python3
"""Writes numpy_cases.json: NumPy's answers for broadcasting and reductions.

Run from this folder with a NumPy-equipped python:  /usr/bin/python3 make_cases.py
The Go test (numpy_cases_test.go) rebuilds the same inputs from the same
formulas and compares its results with these.

Inputs: operand a of shape s holds ((i % 7) - 3) * 0.5 at flat index i and
operand b holds ((i % 5) - 2) * 0.5, so values repeat (ties), are negative,
zero and fractional; "nan" cases also set flat index 1 of a to NaN.
"""
import json
import warnings

import numpy as np

warnings.simplefilter("ignore")


def gen_a(shape, nan=False):
    n = int(np.prod(shape, dtype=np.int64))
    x = ((np.arange(n) % 7) - 3) * 0.5
    if nan and n > 1:
        x[1] = np.nan
    return x.reshape(shape)


def gen_b(shape):
    n = int(np.prod(shape, dtype=np.int64))
    return (((np.arange(n) % 5) - 2) * 0.5).reshape(shape)


def enc(x):
    x = np.asarray(x, dtype=np.float64)
    return {"shape": list(x.shape), "values": [repr(float(v)) for v in x.ravel()]}


BIN = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "pow": np.power, "maximum": np.maximum, "minimum": np.minimum,
    "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
    "eq": np.equal, "ne": np.not_equal,
}

PAIRS = [
    [(3,), (3,)], [(2, 3), (3,)], [(3,), (2, 3)], [(2, 1), (1, 3)], [(4, 1, 3), (2, 1)],
    [(1,), (2, 3)], [(), (2, 3)], [(2, 3), ()], [(), ()], [(0, 3), (1, 3)], [(0,), (1,)],
    [(2, 0), (2, 1)], [(3, 1, 1), (1, 4, 1)], [(1, 1), (1, 1, 1)], [(5, 4, 3), (4, 1)],
    [(2, 1, 3, 1), (4, 1, 5)], [(1, 3, 1), (2, 1, 4)], [(2, 3), (3, 2)], [(3,), (4,)],
    [(2, 1, 3), (2, 2)], [(0,), (2,)],
]

RED = {
    "sum": np.sum, "mean": np.mean, "var": np.var, "max": np.max, "min": np.min,
    "argmax": np.argmax, "argmin": np.argmin,
}

RSHAPES = [
    ((5,), False), ((2, 3), False), ((3, 1, 4), False), ((2, 3, 4), True), ((1,), False),
    ((0,), False), ((0, 3), False), ((2, 0), False), ((4, 1), True), ((), False),
]

binary = []
for sa, sb in PAIRS:
    a, b = gen_a(sa), gen_b(sb)
    for name, f in BIN.items():
        case = {"op": name, "a": list(sa), "b": list(sb)}
        try:
            case["want"] = enc(f(a, b))
        except ValueError:
            case["error"] = True
        binary.append(case)

reduce = []
for shape, nan in RSHAPES:
    a = gen_a(shape, nan)
    dims = [None] + [d for d in range(-len(shape), len(shape))]
    for name, f in RED.items():
        for dim in dims:
            for keep in [False, True]:
                if dim is None and keep:
                    continue
                case = {"op": name, "shape": list(shape), "nan": nan, "dim": dim, "keepdim": keep}
                try:
                    if dim is None:
                        r = f(a)
                    elif name.startswith("arg"):
                        r = f(a, axis=dim)
                        if keep:
                            r = np.expand_dims(r, dim)
                    else:
                        r = f(a, axis=dim, keepdims=keep)
                    case["want"] = enc(r)
                except ValueError:
                    case["error"] = True
                reduce.append(case)

# Unary ops on values spanning signs, zero, tiny, huge and non-finite.
UX = np.array([-np.inf, -750.0, -3.5, -1.0, -0.5, -0.0, 0.0, 1e-300, 0.25, 1.0, 2.0, 10.0, 700.0, np.inf, np.nan])
with np.errstate(all="ignore"):
    UNARY = {
        "neg": -UX, "abs": np.abs(UX), "exp": np.exp(UX), "log": np.log(UX), "sqrt": np.sqrt(UX),
        "square": np.square(UX), "reciprocal": 1 / UX, "tanh": np.tanh(UX),
        "sigmoid": 1 / (1 + np.exp(-UX)), "relu": np.where(UX > 0, UX, np.where(np.isnan(UX), UX, 0.0)),
        "sign": np.sign(UX), "clip": np.clip(UX, -1, 1.5), "pow3": UX ** 3, "powhalf": UX ** 0.5,
        "subscalar": UX - 2.5, "divscalar": UX / 4,
    }
unary = {"input": [repr(float(v)) for v in UX], "ops": {k: [repr(float(v)) for v in r] for k, r in UNARY.items()}}

with open("numpy_cases.json", "w") as fh:
    # One case per line keeps diffs of regenerated files readable.
    fh.write('{"numpy": %s,\n' % json.dumps(np.__version__))
    fh.write('"unary": %s,\n' % json.dumps(unary))
    for key, cases in [("binary", binary), ("reduce", reduce)]:
        fh.write('"%s": [\n' % key)
        fh.write(",\n".join(json.dumps(c) for c in cases))
        fh.write("\n]" + (",\n" if key == "binary" else "\n"))
    fh.write("}\n")
print(f"{len(binary)} binary and {len(reduce)} reduction cases")
