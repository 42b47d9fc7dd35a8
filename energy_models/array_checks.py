"""Checks of numeric inputs that may be scalars or NumPy arrays (the vectorised models' arguments).

The array counterparts of :func:`energy_models.checks.check_real` and ``check_int``: every element
must be a finite number (an integer) inside the stated bounds, or an InputError names the field and
the first bad element. Booleans, strings and complex numbers are refused as a whole.
:func:`sourced_number` reads one ``{"value": ..., "source": ...}`` entry of a shipped data file.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import InputError


def _as_array(value: object, field: str, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (OverflowError, ValueError, TypeError):
        raise InputError(f"{field} must be {what}, got {value!r}") from None
    return arr


def _first_bad(arr: np.ndarray, bad: np.ndarray):
    return arr[bad].flat[0] if arr.ndim else arr.item()


def check_real_array(value: object, field: str, low: float, high: float, *,
                     low_open: bool = False, unit: str = "") -> np.ndarray:
    """``value`` as a float array with every element finite and in [low, high] (low excluded when
    ``low_open``), or an InputError ``"<field> must be ..."`` naming the first bad element."""
    arr = _as_array(value, field, "a finite number")
    if arr.dtype.kind not in "iuf":
        raise InputError(f"{field} must be a finite number, got {value!r}")
    arr = arr.astype(float)
    finite = np.isfinite(arr)
    if not finite.all():
        raise InputError(f"{field} must be a finite number, got {_first_bad(arr, ~finite)}")
    inside = (arr > low if low_open else arr >= low) & (arr <= high)
    if not inside.all():
        unit = f" {unit}" if unit else ""
        raise InputError(f"{field} must be {'>' if low_open else '>='} {low:g} and <= {high:g}{unit}, "
                         f"got {_first_bad(arr, ~inside):g}")
    return arr


def check_int_array(value: object, field: str, low: int, high: int) -> np.ndarray:
    """``value`` as an int64 array with every element an integer in [low, high] (booleans and
    floats refused), or an InputError naming the first bad element."""
    what = f"an integer between {low} and {high}"
    arr = _as_array(value, field, what)
    if arr.dtype.kind not in "iu":
        raise InputError(f"{field} must be {what}, got {value!r}")
    inside = (arr >= low) & (arr <= high)
    if not inside.all():
        raise InputError(f"{field} must be {what}, got {_first_bad(arr, ~inside)}")
    return arr.astype(np.int64)


def sourced_number(entry: object, where: str, low: float = -math.inf, low_open: bool = False) -> float:
    """The value of a data-file entry ``{"value": <number>, "source": <citation>}`` (exactly these
    two keys, a non-empty citation, a finite value >= ``low``, or > ``low`` when ``low_open``)."""
    if not isinstance(entry, dict) or set(entry) != {"value", "source"}:
        raise InputError(f"{where}: expected {{'value': <number>, 'source': <citation>}}, got {entry!r}")
    if not isinstance(entry["source"], str) or not entry["source"].strip():
        raise InputError(f"{where}: every number needs a 'source' citation")
    if isinstance(entry["value"], bool):
        raise InputError(f"{where} must be a finite number, got {entry['value']!r}")
    return float(check_real_array(entry["value"], where, low, math.inf, low_open=low_open))
