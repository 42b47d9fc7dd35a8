"""The PE array: how a layer's loops map onto rows x cols PEs (spatial unrolling).

Each array axis unrolls one loop dimension (ZigZag's notation: K, C, OY, OX, FY, FX, B). A layer
of dimensions D runs in ``passes = G * prod_d ceil(D_d / u_d)`` array steps, where ``u_d`` is the
number of PEs along the axis that unrolls d (1 for a dimension no axis unrolls): a dimension
smaller than its axis, or not a multiple of it, leaves PEs idle (spatial utilisation
``B * MACs / (passes * rows * cols)``). One precision-scalable PE completes ``macs_per_cycle``
MACs per cycle at the layer's precisions, so compute cycles = passes / macs_per_cycle.

Buffer -> array reads. The stationary operand is loaded into the PEs once per tile and reused
there; the others are re-read from their buffer for every array step that cannot reuse them:
weights once per ``prod ceil(D/u)`` over their irrelevant dimensions (B, OY, OX), inputs once per
``ceil(K / u_K)`` (an input is broadcast along an axis that unrolls K). Partial sums accumulate
in the PEs over C, FY, FX, so every output is written once. Register files inside the PE and
input-window (FY/OY overlap) reuse are not modelled: docs/hardware.md lists what this leaves out.

``unroll: ideal`` (both axes None) packs the MACs perfectly (cycles = B * MACs / (PEs *
macs_per_cycle)) and reads every operand once: the estimator's original cycle model.

Every function broadcasts: ``rows``, ``cols`` and ``batch`` may be arrays with a leading
design-point axis (shape (D, 1, 1)) against per-layer arrays of shape (L,).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .layers import LayerSpec

#: dimensions irrelevant to each operand (re-reading it along them is what the array must avoid)
IRRELEVANT = {"weights": ("B", "OY", "OX"), "inputs": ("K",), "outputs": ("C", "FY", "FX")}


def layer_dims(layers: Sequence[LayerSpec]) -> dict[str, np.ndarray]:
    """Per-layer loop dimensions K, C, OY, OX, FY, FX, G as float arrays of shape (L,)."""
    rows = [layer.loop_dims() for layer in layers]
    return {d: np.array([r[d] for r in rows], dtype=float) for d in ("K", "C", "OY", "OX", "FY", "FX", "G")}


def _unrolled(dim: str, unroll_rows: str, unroll_cols: str, rows, cols):
    if dim == unroll_rows:
        return rows
    if dim == unroll_cols:
        return cols
    return 1.0


def passes(dims: dict[str, np.ndarray], batch, rows, cols, unroll_rows: str | None,
           unroll_cols: str | None, macs: np.ndarray):
    """Array steps per layer and batch (B * MACs / PEs for ideal packing)."""
    if unroll_rows is None:
        return macs * batch / (np.asarray(rows, float) * cols)
    extents = {**{d: dims[d] for d in ("K", "C", "OY", "OX", "FY", "FX")}, "B": np.asarray(batch, float)}
    steps = dims["G"]
    for d, extent in extents.items():
        steps = steps * np.ceil(extent / _unrolled(d, unroll_rows, unroll_cols, rows, cols))
    return steps


def rereads(operand: str, dims: dict[str, np.ndarray], batch, rows, cols, unroll_rows: str | None,
            unroll_cols: str | None, stationary: str):
    """How many times each element of ``operand`` is read from its buffer (or DRAM) into the array."""
    if unroll_rows is None or operand == stationary or operand == "outputs":
        return np.ones_like(dims["K"])
    extents = {**dims, "B": np.asarray(batch, float)}
    out = np.ones_like(dims["K"])
    for d in IRRELEVANT[operand]:
        out = out * np.ceil(extents[d] / _unrolled(d, unroll_rows, unroll_cols, rows, cols))
    return out
