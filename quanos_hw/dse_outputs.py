"""``quanos dse``'s outputs: ``dse.csv`` (every row, with its Pareto flag), ``pareto.csv``, ``dse.md``
(the best point per objective and the front per workload), the plots, ``dse.html`` and ``dse.json``
(written last), each atomically; :func:`summary` is also what ``quanos dse --json`` prints."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from energy_models.dse import OBJECTIVES, DseTable

from .dse import DseResult

#: most rows drawn in dse.html (every Pareto row, then an even spread of the others): a page of 100,000
#: hover texts would be tens of MB
HTML_MAX_ROWS = 5_000


def table_csv(table: DseTable, extra: dict | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = list(table.columns) + list(extra or {})
    writer.writerow(names)
    for i, row in enumerate(table.rows()):
        values = [row[k] for k in table.columns] + [v[i] for v in (extra or {}).values()]
        writer.writerow(["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values])
    return buffer.getvalue()


def best_points(result: DseResult) -> dict[str, dict[str, dict]]:
    """Per workload, the row that minimises each objective."""
    rows = result.table.rows()
    out: dict[str, dict[str, dict]] = {}
    for w in result.workloads:
        mine = [r for r in rows if r["workload"] == w.name]
        out[w.name] = {}
        for objective in result.objectives:
            column = OBJECTIVES[objective]
            known = [r for r in mine if r[column] is not None and not math.isnan(r[column])]
            if known:
                out[w.name][objective] = min(known, key=lambda r: r[column])
    return out


def summary(result: DseResult, files: Sequence[str] = ()) -> dict:
    """The object ``quanos dse --json`` prints."""
    pareto = {w.name: [r["point"] for r, on in zip(result.table.rows(), result.pareto) if on and
                       r["workload"] == w.name] for w in result.workloads}
    best = {w: {o: {"point": r["point"], OBJECTIVES[o]: r[OBJECTIVES[o]],
                    "design": {k: r[k] for k in result.swept_keys}} for o, r in objs.items()}
            for w, objs in best_points(result).items()}
    return {"hardware": result.base.name, "design_points": len(result.points), "workloads": len(result.workloads),
            "rows": len(result.table), "objectives": result.objectives, "swept_keys": result.swept_keys,
            "best": best, "pareto_points": pareto, "zigzag_check": result.zigzag, "files": list(files)}


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown(result: DseResult) -> str:
    keys = result.swept_keys
    lines = [f"# quanos dse on `{result.base.name}`", "",
             f"{len(result.points)} design points x {len(result.workloads)} workloads = {len(result.table)} rows; "
             f"swept: {', '.join(keys) or 'nothing (the description as given)'}; objectives: "
             f"{', '.join(result.objectives)} (all minimised). Energy per inference; latency per batch; "
             "full table in dse.csv, Pareto rows in pareto.csv.", ""]
    for name, objs in best_points(result).items():
        lines += [f"## {name}", "", "| best for | point | " + " | ".join(keys) + " | energy µJ | latency ms | "
                  "area mm² | saving vs 16-bit |", "|---" * (len(keys) + 6) + "|"]
        for objective, r in objs.items():
            lines.append(f"| {objective} | {r['point']} | " + " | ".join(_fmt(r[k]) for k in keys) +
                         f" | {r['energy_pj'] / 1e6:.4g} | {r['latency_s'] * 1e3:.4g} | {_fmt(r['area_mm2'])} | "
                         f"{r['energy_saving_vs_uniform16']:.3g}x |")
        front = [r for r, on in zip(result.table.rows(), result.pareto) if on and r["workload"] == name]
        lines += ["", f"Pareto front ({len(front)} points):", "",
                  "| point | " + " | ".join(keys) + " | energy µJ | latency ms | area mm² |",
                  "|---" * (len(keys) + 4) + "|"]
        lines += [f"| {r['point']} | " + " | ".join(_fmt(r[k]) for k in keys) +
                  f" | {r['energy_pj'] / 1e6:.4g} | {r['latency_s'] * 1e3:.4g} | {_fmt(r['area_mm2'])} |"
                  for r in front[:50]]
        if len(front) > 50:
            lines.append(f"| ... {len(front) - 50} more in pareto.csv | |")
        lines.append("")
    if result.zigzag:
        lines += ["## ZigZag check (zigzag-dse 3.9.1, lowest-energy points)", "",
                  "| workload | point | energy µJ ours | ZigZag | latency ms ours | ZigZag |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {z['workload']} | {z['point']} | {z['energy_pj'] / 1e6:.4g} | "
                  f"{z['zigzag_energy_pj'] / 1e6:.4g} | {z['latency_s'] * 1e3:.4g} | "
                  f"{z['zigzag_latency_s'] * 1e3:.4g} |" for z in result.zigzag]
        lines.append("")
    return "\n".join(lines)


def html_rows(pareto: np.ndarray, limit: int) -> np.ndarray:
    """Rows drawn in dse.html: all of them up to ``limit``, else every Pareto row and an evenly spaced
    selection of the others up to ``limit`` in all."""
    keep = np.ones(len(pareto), dtype=bool)
    if len(pareto) <= limit:
        return keep
    keep = pareto.copy()
    others = np.flatnonzero(~pareto)
    room = max(limit - int(pareto.sum()), 0)
    keep[others[np.linspace(0, len(others) - 1, room).astype(int)] if room else []] = True
    return keep


def write_outputs(result: DseResult, out_dir: str | Path, plots: bool = True) -> list[str]:
    """Write every output into ``out_dir`` (each file atomically); returns the file names."""
    from .io import atomic_write_text, dumps_strict

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    extra = {"pareto": [bool(v) for v in result.pareto]}
    texts = {"dse.csv": table_csv(result.table, extra), "pareto.csv": table_csv(result.table.select(result.pareto)),
             "dse.md": markdown(result)}
    files = list(texts)
    for name, text in texts.items():
        atomic_write_text(out / name, text)
    if plots:
        from .dse_html import write_dse_html
        from .dse_plots import write_dse_plots

        written = write_dse_plots(result.table, result.pareto, result.objectives, result.swept_keys, out,
                                  uniform=result.uniform)
        files += [Path(p).name for p in written]
        keep = html_rows(result.pareto, HTML_MAX_ROWS)
        write_dse_html(result.table.select(keep), result.pareto[keep], result.objectives, result.swept_keys,
                       out / "dse.html", title=f"quanos dse on {result.base.name}" + (
                           "" if keep.all() else f" ({int(keep.sum()):,} of {len(keep):,} rows: every Pareto row "
                                                 "and an even spread of the others; all rows in dse.csv)"))
        files.append("dse.html")
    files.append("dse.json")
    atomic_write_text(out / "dse.json", dumps_strict({**summary(result, files), "hardware_description":
                                                      result.base.to_dict(), "sweep": result.points},
                                                     indent=1) + "\n")
    return files


def summary_json(result: DseResult, files: Sequence[str]) -> str:
    from .io import dumps_strict

    return dumps_strict(summary(result, files), indent=1)


__all__ = ["HTML_MAX_ROWS", "html_rows", "markdown", "summary", "summary_json", "table_csv", "write_outputs"]
