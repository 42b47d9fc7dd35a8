"""One self-contained interactive HTML page of a design-space exploration (plotly).

:func:`write_dse_html` draws an :class:`energy_models.dse.DseTable` as energy per inference vs
latency: one scatter trace per workload (marker colour = area, grey where unknown) and one
"Pareto front" trace per workload (its rows of the Pareto mask), so the legend shows and hides each
workload and each front on its own. Hovering a point shows its swept design parameters, its
energy per level, latency, area and utilisation. plotly.js is embedded in the file (no CDN), so
the page opens offline; the page names no file-system path.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from energy_models.dse import DseTable

from .dse_plots import (
    ACCURACY_COLUMNS,
    ENERGY_UNITS,
    TIME_UNITS,
    check_mask,
    is_wide,
    level_columns,
    unit,
    workload_names,
)
from .io import atomic_write_text

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: the id of the plot's <div> (fixed, so the same table gives the same page)
DIV_ID = "quanos-dse"
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "triangle-down", "cross", "x", "star", "hexagon", "pentagon")
UNKNOWN_AREA_COLOR = "lightgrey"


def _scalar(value):
    """A swept value as it shows in the hover box (numbers and strings as they are)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


def _quantity(value: float, units: Sequence[tuple[float, str]]) -> str:
    if not math.isfinite(value):
        return "unknown"
    factor, label = unit([value], units)
    return f"{value / factor:.4g} {label}"


def hover_fields(table: DseTable, swept_keys: Sequence[str]) -> list[tuple[str, list]]:
    """(label, one hover value per row) in the order of the hover box: point id, the swept keys
    (their raw values), energy (total, MAC, each level), latency, area, utilisation, saving vs
    uniform 16-bit, and the accuracy metrics present."""
    fields = [("point", list(table.columns["point"]))]
    fields += [(k, [_scalar(v) for v in table.columns[k]]) for k in swept_keys]
    energies = [("energy", "energy_pj"), ("MAC energy", "mac_energy_pj")]
    energies += [(f"{c.removeprefix('energy_pj_')} energy", c) for c in level_columns(table)]
    fields += [(label, [_quantity(v, ENERGY_UNITS) for v in table.column(c)]) for label, c in energies]
    fields.append(("latency", [_quantity(v, TIME_UNITS) for v in table.column("latency_s")]))
    fields.append(("area", [f"{v:.4g} mm²" if math.isfinite(v) else "unknown" for v in table.column("area_mm2")]))
    fields.append(("utilisation", [f"{100 * v:.1f} %" for v in table.column("utilization")]))
    fields.append(("saving vs uniform 16-bit", [f"{v:.3g}x" for v in table.column("energy_saving_vs_uniform16")]))
    for column, label in ACCURACY_COLUMNS.items():
        if column in table.columns and any(v is not None for v in table.columns[column]):
            fields.append((f"{label} accuracy", ["n/a" if v is None else f"{100 * v:.2f} %"
                                                 for v in table.columns[column]]))
    return fields


def _hovertemplate(labels: Sequence[str]) -> str:
    lines = [f"{html.escape(label)}: %{{customdata[{i}]}}" for i, label in enumerate(labels)]
    return "<b>%{fullData.name}</b><br>" + "<br>".join(lines) + "<extra></extra>"


def dse_figure(table: DseTable, pareto_mask, objectives: Sequence[str], swept_keys: Sequence[str],
               title: str = "quanos dse") -> go.Figure:
    """The page's figure: per workload, a scatter trace of its rows and a Pareto-front trace of its
    rows in ``pareto_mask`` (sorted by latency; a step line when the objectives are energy and
    latency, rings otherwise)."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    mask = check_mask(table, pareto_mask)
    energy, latency, area = table.column("energy_pj"), table.column("latency_s"), table.column("area_mm2")
    e_factor, e_unit = unit(energy, ENERGY_UNITS)
    t_factor, t_unit = unit(latency, TIME_UNITS)
    x, y = latency / t_factor, energy / e_factor
    fields = hover_fields(table, swept_keys)
    custom = np.empty((len(table), len(fields)), dtype=object)
    for j, (_, values) in enumerate(fields):
        custom[:, j] = values
    color = np.array([UNKNOWN_AREA_COLOR if math.isnan(a) else a for a in area], dtype=object)
    template = _hovertemplate([label for label, _ in fields])
    names = np.array(table.columns["workload"], dtype=object)
    step = set(objectives) == {"energy", "latency"}
    fig = go.Figure()
    for i, name in enumerate(workload_names(table)):
        rows = np.flatnonzero(names == name)
        front = rows[mask[rows]]
        front = front[np.argsort(x[front], kind="stable")]
        hue, symbol = qualitative.Plotly[i % len(qualitative.Plotly)], SYMBOLS[i % len(SYMBOLS)]
        fig.add_trace(go.Scatter(
            x=x[rows], y=y[rows], mode="markers", name=name, customdata=custom[rows], hovertemplate=template,
            marker={"symbol": symbol, "size": 9, "color": color[rows], "coloraxis": "coloraxis",
                    "line": {"color": hue, "width": 1.5}}))
        fig.add_trace(go.Scatter(
            x=x[front], y=y[front], mode="lines+markers" if step else "markers",
            name=f"Pareto front: {name}", customdata=custom[front], hovertemplate=template,
            line={"color": hue, "shape": "hv", "width": 2},
            marker={"symbol": f"{symbol}-open", "size": 15, "color": hue, "line": {"width": 2}}))
    _layout(fig, table, objectives, swept_keys, title, (t_unit, e_unit), (is_wide(x), is_wide(y)))
    return fig


def _layout(fig: go.Figure, table: DseTable, objectives, swept_keys, title: str, units, wide) -> None:
    area = table.column("area_mm2")
    known = area[np.isfinite(area)]
    low, high = (float(known.min()), float(known.max())) if known.size else (0.0, 1.0)
    subtitle = f"Pareto objectives: {', '.join(objectives)}; swept: {', '.join(swept_keys) or 'nothing'}"
    fig.update_layout(
        title={"text": f"{html.escape(title)}<br><sub>{html.escape(subtitle)}</sub>"},
        xaxis={"title": {"text": f"latency per inference ({units[0]})"}, "type": "log" if wide[0] else "linear"},
        yaxis={"title": {"text": f"energy per inference ({units[1]})"}, "type": "log" if wide[1] else "linear"},
        coloraxis={"colorscale": "Viridis", "cmin": low, "cmax": high, "showscale": bool(known.size),
                   "colorbar": {"title": {"text": "area (mm²)"}}},
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "title": {"text": "click to show/hide: "}},
        hovermode="closest", template="plotly_white", height=700)


def write_dse_html(table: DseTable, pareto_mask, objectives: Sequence[str], swept_keys: Sequence[str],
                   path: str | Path, title: str = "quanos dse") -> Path:
    """Write the page to ``path`` atomically (plotly.js inline, no network needed to open it)."""
    fig = dse_figure(table, pareto_mask, objectives, swept_keys, title)
    page = fig.to_html(include_plotlyjs=True, full_html=True, div_id=DIV_ID,
                       config={"displaylogo": False, "responsive": True})
    page = page.replace("<head>", f"<head><title>{html.escape(title)}</title>", 1)
    path = Path(path)
    atomic_write_text(path, page)
    return path
