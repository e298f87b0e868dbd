"""Number and label formatting of the three text dialects the real exporters speak.

* ``go``: client_golang's text 0.0.4 (node_exporter, cAdvisor): ``strconv.FormatFloat(v, 'g', -1, 64)``,
  so ``5``, ``0.25``, ``6.7108864e+10``; label pairs sorted by name.
* ``python``: prometheus_client's ``floatToGoString`` (vLLM, LiteLLM): ``5.0``, ``1.7e+09``.
* ``dcgm``: dcgm-exporter's Go template: ``%d`` for int fields, ``%f`` (six decimals) for doubles.
"""

from __future__ import annotations

import math
from decimal import Decimal


def go_float(v: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 64)``. Between 1e-4 and 1e6 Go writes the shortest digits without an
    exponent, as Python's ``repr`` does (less a trailing ``.0``): that common case skips the general path."""
    if 1e-4 <= abs(v) < 1e6:  # False for NaN
        r = repr(float(v))
        return r[:-2] if r.endswith(".0") else r
    return _go_float(v)


def _go_float(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    sign, digits, exponent = Decimal(repr(float(v))).normalize().as_tuple()
    assert isinstance(exponent, int)
    ds = "".join(map(str, digits))
    x = len(ds) + exponent - 1  # decimal exponent of the leading digit
    neg = "-" if sign else ""
    if x < -4 or x >= 6:  # Go: shortest digits, %e when exp < -4 || exp >= 6
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'+' if x >= 0 else '-'}{abs(x):02d}"
    if exponent >= 0:
        return neg + ds + "0" * exponent
    point = len(ds) + exponent
    if point > 0:
        return f"{neg}{ds[:point]}.{ds[point:]}"
    return f"{neg}0.{'0' * -point}{ds}"


def python_float(d: float) -> str:
    """prometheus_client.utils.floatToGoString (0.26), byte for byte."""
    d = float(d)
    if d == math.inf:
        return "+Inf"
    if d == -math.inf:
        return "-Inf"
    if math.isnan(d):
        return "NaN"
    s = repr(d)
    dot = s.find(".")
    if d > 0 and dot > 6:
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return s


def dcgm_value(v: float, as_int: bool) -> str:
    return f"{int(v)}" if as_int else f"{v:f}"


def escape_label(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n")
