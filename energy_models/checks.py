"""Physical bounds of the hardware inputs and the checks that apply them.

Every number a technology table or an architecture parameter file gives is checked here: a
finite number (no NaN, no Infinity) inside a stated physical range, or an integer inside stated
bounds. The bounds are far outside any real design and far inside what the arithmetic can carry,
so a typo (1e308, a missing decimal point, a negative energy) is refused instead of turning into
Infinity or NaN in a report. Misspelled names get a "did you mean" suggestion.
"""

from __future__ import annotations

import difflib
import math

from .errors import InputError

#: largest energy of one operation or one memory access, pJ (DRAM is about 1e3 pJ per access)
MAX_ENERGY_PJ = 1e6
#: widest operand of an arithmetic table entry or a MAC datapath, bits
MAX_OPERAND_BITS = 256
#: widest memory word, bits
MAX_WORD_BITS = 4096
#: most MAC units in one array
MAX_UNITS = 10_000_000
#: overhead fractions (of the 16-bit MAC energy) are in [0, MAX_OVERHEAD_FRACTION]
MAX_OVERHEAD_FRACTION = 10.0
#: largest area of one MAC unit, um^2 (a 16-bit MAC is about 1e3 um^2 at 45 nm)
MAX_AREA_UM2 = 1e9
#: CMOS nodes are in [MIN_NODE_NM, MAX_NODE_NM] nm
MIN_NODE_NM, MAX_NODE_NM = 1.0, 1000.0
#: highest clock of a measured design, MHz
MAX_CLOCK_MHZ = 100_000


def check_real(value: object, where: str, low: float, high: float, *, low_open: bool = False, unit: str = "") -> float:
    """``value`` as a float: a finite number with ``low <= value <= high`` (``low < value`` when
    ``low_open``), or an InputError ``"<where> must be ..."``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where} must be a finite number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{where} must be a finite number, got {value}")
    if not (low < value if low_open else low <= value) or not value <= high:
        unit = f" {unit}" if unit else ""
        raise InputError(f"{where} must be {'>' if low_open else '>='} {low:g} and <= {high:g}{unit}, got {value:g}")
    return float(value)


def check_int(value: object, where: str, low: int, high: int) -> int:
    """``value`` as an int in [low, high] (bools and floats refused), or an InputError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{where} must be an integer between {low} and {high}, got {value!r}")
    if not low <= value <= high:
        shown = value if len(str(value)) <= 30 else f"an integer of {len(str(abs(value)))} digits"
        raise InputError(f"{where} must be an integer between {low} and {high}, got {shown}")
    return value


def did_you_mean(name: object, known: list[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known``, or ``""``."""
    close = difflib.get_close_matches(str(name), known, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
