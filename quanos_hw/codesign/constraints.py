"""Upper bounds on a design's energy, latency, area or EDP, in the units people state them.

``{"area": 2.0, "latency": 5}`` keeps the designs with area <= 2 mm² and latency <= 5 ms (per
batch, as every latency of the accelerator model). :func:`meets` applies them in the given order
to a :class:`energy_models.dse.DseTable`; when none is left it names the constraint that emptied
the set and the best value the remaining designs reached.
"""

from __future__ import annotations

import math
import re

import numpy as np

from energy_models.dse import DseTable

from ..errors import InputError

#: constraint name -> (DseTable column, factor from the unit to the column's unit, unit)
CONSTRAINTS = {"energy": ("energy_pj", 1e6, "µJ"), "latency": ("latency_s", 1e-3, "ms"),
               "area": ("area_mm2", 1.0, "mm²"), "edp": ("edp_j_s", 1.0, "J·s")}
_TEXT = re.compile(r"^\s*([a-z_]+)\s*<=\s*([^\s]+)\s*$")


def parse_constraint(text: str) -> tuple[str, float]:
    """``"area<=2.5"`` -> ``("area", 2.5)`` (only upper bounds)."""
    match = _TEXT.match(text)
    if not match:
        raise InputError(f"--constraint needs NAME<=VALUE with NAME one of {', '.join(CONSTRAINTS)}, got {text!r}")
    try:
        value = float(match.group(2))
    except ValueError:
        raise InputError(f"--constraint {text!r}: {match.group(2)!r} is not a number") from None
    check_constraints({match.group(1): value})
    return match.group(1), value


def check_constraints(constraints: dict) -> None:
    if not isinstance(constraints, dict):
        raise InputError(f"constraints must be a mapping of name to upper bound, got {constraints!r}")
    for name, value in constraints.items():
        if name not in CONSTRAINTS:
            raise InputError(f"unknown constraint {name!r} (known: {', '.join(CONSTRAINTS)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise InputError(f"constraint {name!r} needs a positive finite upper bound, got {value!r}")


def describe(constraints: dict) -> str:
    return ", ".join(f"{name} <= {value:g} {CONSTRAINTS[name][2]}" for name, value in constraints.items()) or "none"


def meets(table: DseTable, constraints: dict, what: str = "candidate") -> np.ndarray:
    """Mask of the rows of ``table`` within every constraint; InputError naming the first constraint
    that no remaining row meets, with the best value reached (an unknown area never meets a bound)."""
    keep = np.ones(len(table), dtype=bool)
    for name, bound in constraints.items():
        column, factor, unit = CONSTRAINTS[name]
        values = np.nan_to_num(table.column(column), nan=np.inf) / factor
        ok = keep & (values <= bound)
        if not ok.any():
            best = values[keep].min() if keep.any() else math.inf
            shown = "unknown" if not math.isfinite(best) else f"{best:.4g} {unit}"
            earlier = list(constraints)[:list(constraints).index(name)]
            among = f" among those meeting {describe({n: constraints[n] for n in earlier})}" if earlier else ""
            raise InputError(f"no {what} meets the constraint {name} <= {bound:g} {unit}: the best {name} "
                             f"reached{among} is {shown}")
        keep = ok
    return keep
