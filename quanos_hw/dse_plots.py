"""PNG plots of a design-space exploration (matplotlib, object API: no pyplot global state).

:func:`write_dse_plots` draws an :class:`energy_models.dse.DseTable` (one row per design point x
workload): energy vs latency with area as colour and each workload's energy/latency Pareto front
as a step line, the energy per memory level of the Pareto points, the energy of uniform 2..16 bits
per MAC architecture, and accuracy vs energy when the workloads carry accuracy metrics.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from energy_models.dse import DseTable, pareto_rows

from .errors import InputError
from .io import atomic_write_bytes

#: (factor to the table's unit, label): energies are in pJ, times in s
ENERGY_UNITS = ((1e9, "mJ"), (1e6, "µJ"), (1e3, "nJ"), (1.0, "pJ"))
TIME_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))
#: an axis whose positive values span more than this ratio is drawn on a log scale
LOG_RATIO = 30.0
#: most bars in dse_pareto_levels.png
MAX_BARS = 30
#: accuracy column -> label (the order of the panels of dse_accuracy.png)
ACCURACY_COLUMNS = {"clean_accuracy": "clean", "pgd_accuracy": "PGD", "blackbox_accuracy": "black-box"}
MARKERS = "osD^vP*X<>"
DPI = 110
UNKNOWN_AREA_COLOR = "lightgrey"


def save_figure(fig: Figure, path: Path) -> None:
    """Render ``fig`` to PNG (``figsize * DPI`` pixels: the figures use the constrained layout, not
    a tight bounding box) and write it atomically."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    atomic_write_bytes(path, buffer.getvalue())


def unit(values, units: Sequence[tuple[float, str]]) -> tuple[float, str]:
    """The largest unit not above the median of the finite positive ``values`` (the smallest unit
    when there are none)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size:
        median = float(np.median(v))
        for factor, label in units:
            if factor <= median:
                return factor, label
    return units[-1]


def is_wide(values) -> bool:
    """True when the finite values are all positive and span more than :data:`LOG_RATIO`."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return bool(v.size) and bool(np.all(v > 0)) and float(v.max() / v.min()) > LOG_RATIO


def text(name: object) -> str:
    """``name`` as matplotlib text (a ``$`` is literal, not the start of mathtext)."""
    return str(name).replace("$", r"\$")


def workload_names(table: DseTable) -> list[str]:
    return list(dict.fromkeys(table.columns["workload"]))


def level_columns(table: DseTable) -> list[str]:
    """The per-level energy columns, in table order (``energy_pj_dram``, then each buffer)."""
    return [c for c in table.columns if c.startswith("energy_pj_")]


def check_mask(table: DseTable, pareto_mask) -> np.ndarray:
    """``pareto_mask`` as a bool array of one entry per table row (else InputError)."""
    mask = np.asarray(pareto_mask, dtype=bool)
    if mask.shape != (len(table),):
        raise InputError(f"pareto_mask has shape {mask.shape}, the table has {len(table)} rows")
    return mask


def energy_latency_figure(table: DseTable, pareto_mask: np.ndarray, objectives: Sequence[str],
                          swept_keys: Sequence[str] = ()) -> Figure:
    """Energy per inference vs latency; colour = area (grey: unknown), one marker per workload, each
    workload's energy/latency Pareto front as a step line, the rows of ``pareto_mask`` ringed."""
    energy, latency, area = table.column("energy_pj"), table.column("latency_s"), table.column("area_mm2")
    e_factor, e_unit = unit(energy, ENERGY_UNITS)
    t_factor, t_unit = unit(latency, TIME_UNITS)
    x, y = latency / t_factor, energy / e_factor
    names = np.array(table.columns["workload"], dtype=object)
    front = pareto_rows(table, ["latency", "energy"])
    known = np.isfinite(area)
    norm = Normalize(float(np.nanmin(area)), float(np.nanmax(area))) if known.any() else None
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.add_subplot()
    mappable = None
    for i, name in enumerate(workload_names(table)):
        rows = names == name
        marker, color = MARKERS[i % len(MARKERS)], f"C{i % 10}"
        style = {"marker": marker, "edgecolors": color, "linewidths": 0.8, "s": 36}
        if (rows & ~known).any():
            ax.scatter(x[rows & ~known], y[rows & ~known], c=UNKNOWN_AREA_COLOR, **style)
        if (rows & known).any():
            mappable = ax.scatter(x[rows & known], y[rows & known], c=area[rows & known], cmap="viridis", norm=norm,
                                  **style)
        ax.scatter([], [], marker=marker, facecolors="white", edgecolors=color, label=text(name))
        order = np.flatnonzero(rows & front)
        order = order[np.argsort(x[order], kind="stable")]
        ax.step(x[order], y[order], where="post", color=color, linewidth=1.4,
                label=f"{text(name)}: energy/latency front")
    ax.scatter(x[pareto_mask], y[pareto_mask], s=110, facecolors="none", edgecolors="black", linewidths=1.0,
               label=f"Pareto-optimal ({', '.join(objectives)})")
    if not known.all():
        ax.scatter([], [], marker="s", c=UNKNOWN_AREA_COLOR, label="area unknown")
    if mappable is not None:
        fig.colorbar(mappable, ax=ax, label="area (mm²)")
    for axis, values in (("x", x), ("y", y)):
        if is_wide(values):
            getattr(ax, f"set_{axis}scale")("log")
    ax.set_xlabel(f"latency per inference ({t_unit})")
    ax.set_ylabel(f"energy per inference ({e_unit})")
    swept = f"\nswept: {text(', '.join(swept_keys))}" if swept_keys else ""
    ax.set_title(f"Energy vs latency of {len(set(table.columns['point']))} design points (colour: area){swept}",
                 fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return fig


def pareto_levels_figure(table: DseTable, pareto_mask: np.ndarray, max_bars: int = MAX_BARS) -> Figure:
    """Stacked energy per level (MAC, DRAM, each buffer) of the Pareto rows, ordered by workload then
    energy; beyond ``max_bars`` rows, an evenly spaced selection of them."""
    names = workload_names(table)
    workload, energy = table.columns["workload"], table.column("energy_pj")
    rows = sorted(np.flatnonzero(pareto_mask), key=lambda r: (names.index(workload[r]), energy[r]))
    shown = [rows[i] for i in sorted(set(np.linspace(0, len(rows) - 1, max_bars).round().astype(int)))] \
        if len(rows) > max_bars else rows
    parts = {"MAC": table.column("mac_energy_pj")}
    parts.update({c.removeprefix("energy_pj_"): table.column(c) for c in level_columns(table)})
    factor, label = unit(energy[shown], ENERGY_UNITS)
    fig = Figure(figsize=(max(6.0, 0.45 * len(shown) + 2.5), 4.8), layout="constrained")
    ax = fig.add_subplot()
    x, bottom = np.arange(len(shown)), np.zeros(len(shown))
    for i, (part, values) in enumerate(parts.items()):
        height = values[shown] / factor
        ax.bar(x, height, 0.7, bottom=bottom, color=f"C{i % 10}", label=part)
        bottom += height
    ax.set_xticks(x, [f"p{table.columns['point'][r]} {text(workload[r])}" for r in shown], rotation=60, ha="right",
                  fontsize=7)
    ax.set_ylabel(f"energy per inference ({label})")
    ax.set_xlabel("Pareto-optimal design point (p<id>) and workload")
    more = f", {len(shown)} of {len(rows)} shown" if len(shown) < len(rows) else ""
    ax.set_title(f"Energy per level of the Pareto-optimal design points{more}")
    ax.legend(fontsize=7, title="level")
    ax.grid(alpha=0.3, axis="y")
    return fig


def uniform_bits_figure(uniform: dict[str, dict[str, np.ndarray]]) -> Figure:
    """One panel per workload: energy per inference at uniform bits (2, 3, ... one value per entry
    of the arrays) with each MAC architecture."""
    fig = Figure(figsize=(5.2 * len(uniform), 4.2), layout="constrained")
    for col, (name, archs) in enumerate(uniform.items()):
        ax = fig.add_subplot(1, len(uniform), col + 1)
        values = np.concatenate([np.asarray(v, float) for v in archs.values()])
        factor, label = unit(values, ENERGY_UNITS)
        for i, (arch, energy) in enumerate(archs.items()):
            bits = np.arange(2, 2 + len(energy))
            ax.plot(bits, np.asarray(energy, float) / factor, MARKERS[i % len(MARKERS)] + "-", color=f"C{i % 10}",
                    markersize=4, label=text(arch))
        if is_wide(values):
            ax.set_yscale("log")
        ax.set_xlabel("uniform bits (weights and activations)")
        ax.set_ylabel(f"energy per inference ({label})")
        ax.set_title(text(name))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, title="MAC architecture")
    fig.suptitle("Uniform bit-widths on each MAC architecture")
    return fig


def has_accuracy(table: DseTable) -> bool:
    return any(v is not None for v in table.columns.get("clean_accuracy", ()))


def accuracy_figure(table: DseTable, pareto_mask: np.ndarray) -> Figure:
    """One panel per accuracy metric present: accuracy vs energy of every design point, one colour
    per workload, the Pareto rows solid and the others faded."""
    metrics = [c for c in ACCURACY_COLUMNS if any(v is not None for v in table.columns.get(c, ()))]
    energy = table.column("energy_pj")
    factor, label = unit(energy, ENERGY_UNITS)
    names = np.array(table.columns["workload"], dtype=object)
    fig = Figure(figsize=(4.6 * len(metrics) + 0.6, 4.2), layout="constrained")
    for col, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), col + 1)
        acc = np.array([np.nan if v is None else 100 * v for v in table.columns[metric]], float)
        for i, name in enumerate(workload_names(table)):
            rows = (names == name) & np.isfinite(acc)
            if not rows.any():
                continue
            color, marker = f"C{i % 10}", MARKERS[i % len(MARKERS)]
            ax.scatter(energy[rows & ~pareto_mask] / factor, acc[rows & ~pareto_mask], color=color, marker=marker,
                       alpha=0.3, s=24)
            ax.scatter(energy[rows & pareto_mask] / factor, acc[rows & pareto_mask], color=color, marker=marker,
                       s=36, label=text(name))
        if is_wide(energy):
            ax.set_xscale("log")
        ax.set_xlabel(f"energy per inference ({label})")
        ax.set_ylabel(f"{ACCURACY_COLUMNS[metric]} accuracy (%)")
        ax.set_title(f"{ACCURACY_COLUMNS[metric]} accuracy")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, title="workload (faded: not Pareto)")
    fig.suptitle("Accuracy vs energy per inference across the design points")
    return fig


def write_dse_plots(table: DseTable, pareto_mask, objectives: Sequence[str], swept_keys: Sequence[str],
                    out_dir: str | Path, uniform: dict[str, dict[str, np.ndarray]] | None = None) -> list[Path]:
    """Write dse_energy_latency.png, dse_pareto_levels.png, dse_uniform_bits.png (when ``uniform``
    = {workload: {architecture: energy_pj over uniform bits 2, 3, ...}} is given) and
    dse_accuracy.png (when a workload has clean_accuracy) into ``out_dir``; return their paths.
    ``swept_keys`` (the design parameters) are named in the energy/latency title."""
    mask = check_mask(table, pareto_mask)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = {"dse_energy_latency.png": lambda: energy_latency_figure(table, mask, objectives, swept_keys),
               "dse_pareto_levels.png": lambda: pareto_levels_figure(table, mask)}
    if uniform:
        figures["dse_uniform_bits.png"] = lambda: uniform_bits_figure(uniform)
    if has_accuracy(table):
        figures["dse_accuracy.png"] = lambda: accuracy_figure(table, mask)
    written = []
    for name, make in figures.items():
        save_figure(make(), out / name)
        written.append(out / name)
    return written
