"""The co-design's outputs: codesign.csv (every stage-1 candidate), finalists.csv, baselines.csv,
codesign.md, two plots, codesign.html (the dse page over the candidates) and codesign.json,
written last (its presence marks a complete folder). Every file is written atomically.

``proxy``: Spearman's rank correlation between the negated predicted error and the measured
accuracy of the finalists (1: the proxy orders them as training does). ``comparison``: per
objective, the finalist best for it against the most accurate uniform design on that objective's
accelerator-first point at equal or lower energy.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from energy_models.dse import OBJECTIVES, DseTable
from energy_models.pareto import pareto_mask

from ..io import atomic_write_text, dumps_strict
from ..robustness import reference_accuracy, reference_label, worst_case_accuracy
from .constraints import describe
from .stage2 import phase_name

#: measured columns: name -> reader of a trial's robustness dict
MEASURED = {"clean": lambda r: r["clean"], "white_box": reference_accuracy,
            "black_box": lambda r: reference_accuracy(r, black_box=True), "worst_case": worst_case_accuracy}
#: the hardware columns of finalists.csv and baselines.csv: (name, table column, factor)
HARDWARE = (("energy_uj", "energy_pj", 1e6), ("latency_ms", "latency_s", 1e-3), ("area_mm2", "area_mm2", 1.0),
            ("edp_j_s", "edp_j_s", 1.0))


def _value(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _design_row(row: dict, swept: list[str], result: dict) -> dict:
    rob = result["robustness"]
    out = {"point": row["point"], **{k: row[k] for k in swept}, "bits": row["bits"]}
    out.update({name: _value(row[col] / factor) if row[col] is not None else None for name, col, factor in HARDWARE})
    out.update({name: read(rob) for name, read in MEASURED.items()})
    return out


def measured_rows(table: DseTable, chosen: list[int], baselines: list[dict], results: dict, swept: list[str]):
    rows = table.rows()
    finalists = []
    for rank, i in enumerate(chosen, 1):
        row = rows[i]
        finalists.append({"rank": rank, "candidate": row["candidate"], "budget": row["budget"],
                          "predicted_error": row["predicted_error"],
                          **_design_row(row, swept, results[phase_name(row["bits"].split("-"))])})
    base = [{"objective": b["objective"], "design": b["design"],
             **_design_row(b, swept, results[phase_name(b["bits"].split("-"))])} for b in baselines]
    return finalists, base


def proxy_quality(finalists: list[dict]) -> dict:
    from scipy.stats import spearmanr

    out = {}
    for metric in ("clean", "worst_case"):
        pairs = [(-f["predicted_error"], f[metric]) for f in finalists if f[metric] is not None]
        if len(pairs) < 3 or len({p[0] for p in pairs}) < 2 or len({p[1] for p in pairs}) < 2:
            out[metric] = None
            continue
        rho = spearmanr([p[0] for p in pairs], [p[1] for p in pairs]).statistic
        out[metric] = None if not math.isfinite(rho) else float(rho)
    return out


def comparison(objectives, finalists: list[dict], baselines: list[dict]) -> list[dict]:
    name = {o: next(n for n, col, _ in HARDWARE if col == OBJECTIVES[o]) for o in objectives}
    out = []
    for objective in objectives:
        key = name[objective]
        known = [f for f in finalists if f[key] is not None]
        if not known:
            continue
        best = min(known, key=lambda f: (f[key], -(f["worst_case"] or 0)))
        uniform = [b for b in baselines if b["objective"] == objective and b["design"].startswith("uniform")
                   and b["energy_uj"] <= best["energy_uj"]]
        rival = max(uniform, key=lambda b: b["clean"]) if uniform else None
        out.append({"objective": objective, "finalist": best["candidate"], "finalist_energy_uj": best["energy_uj"],
                    "finalist_clean": best["clean"], "finalist_worst_case": best["worst_case"],
                    "uniform": rival and rival["design"], "uniform_point": rival and rival["point"],
                    "uniform_energy_uj": rival and rival["energy_uj"], "uniform_clean": rival and rival["clean"],
                    "uniform_worst_case": rival and rival["worst_case"]})
    return out


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    names = list(dict.fromkeys(k for r in rows for k in r))
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for r in rows:
        writer.writerow(["" if r.get(k) is None else r.get(k) for k in names])
    return buffer.getvalue()


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}"


def _num(v) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def markdown(c, summary: dict, finalists: list[dict], baselines: list[dict], compared: list[dict], proxy: dict,
             swept: list[str], reference: str) -> str:
    keys = " | ".join(swept)
    lines = [f"# quanos codesign: {c.model} on {c.dataset}, `{c.hardware}`", "",
             f"Stage 1: {summary['points']} hardware points ({summary['mode']}) x {len(c.budgets)} budgets "
             f"({', '.join(f'{b:g}' for b in c.budgets)} of each point's uniform 16-bit energy) -> "
             f"{summary['candidates']} candidates (exact ILP over bits {list(c.bit_choices)}, {c.metric} "
             f"sensitivity, seed {c.seed}) in {summary['stage1_s']:.1f} s; {summary['within_constraints']} within "
             f"the constraints ({describe(c.constraints)}); {summary['front']} on the Pareto front of predicted "
             f"error and {', '.join(c.objectives)}; {len(finalists)} finalists spread across it. Stage 2: "
             f"{c.warmup_epochs} warm-up + {c.qat_epochs} QAT epochs each; white-box = {reference}, black-box = the "
             "same attack transferred from a float surrogate, worst case = the robustness suite "
             f"'{c.robustness}'. Energy per inference, latency per batch. All candidates: codesign.csv.", "",
             "## Finalists (measured)", "",
             f"| # | candidate | {keys} | bits | predicted error | energy µJ | latency ms | area mm² | clean % | "
             "white-box % | black-box % | worst case % |", "|---" * (11 + len(swept)) + "|"]
    for f in finalists:
        lines.append(f"| {f['rank']} | {f['candidate']} | " + " | ".join(str(f[k]) for k in swept) +
                     f" | {f['bits']} | {f['predicted_error']:.3g} | {_num(f['energy_uj'])} | {_num(f['latency_ms'])} "
                     f"| {_num(f['area_mm2'])} | {_pct(f['clean'])} | {_pct(f['white_box'])} | "
                     f"{_pct(f['black_box'])} | {_pct(f['worst_case'])} |")
    lines += ["", "## Accelerator first, bits after (baselines)", "",
              "The hardware point best for each objective at uniform 8 bits (within the constraints where one "
              "is), with uniform 8-bit, uniform 4-bit and the QUANOS rule's bits (ANS on the warm network) on it, "
              "trained on the same schedule.", "",
              f"| best for | design | point | {keys} | bits | energy µJ | latency ms | area mm² | clean % | "
              "white-box % | black-box % | worst case % |", "|---" * (11 + len(swept)) + "|"]
    for b in baselines:
        lines.append(f"| {b['objective']} | {b['design']} | {b['point']} | " + " | ".join(str(b[k]) for k in swept) +
                     f" | {b['bits']} | {_num(b['energy_uj'])} | {_num(b['latency_ms'])} | {_num(b['area_mm2'])} | "
                     f"{_pct(b['clean'])} | {_pct(b['white_box'])} | {_pct(b['black_box'])} | "
                     f"{_pct(b['worst_case'])} |")
    lines += ["", "## What co-design buys", "",
              "Per objective: the finalist best for it against the most accurate uniform design on that "
              "objective's accelerator-first point at equal or lower energy.", "",
              "| objective | finalist | energy µJ | clean % | worst case % | uniform design | energy µJ | clean % | "
              "worst case % |", "|---" * 9 + "|"]
    for row in compared:
        rival = (f"{row['uniform']} on point {row['uniform_point']} | {_num(row['uniform_energy_uj'])} | "
                 f"{_pct(row['uniform_clean'])} | {_pct(row['uniform_worst_case'])}" if row["uniform"] else
                 "none at equal or lower energy | | |")
        lines.append(f"| {row['objective']} | {row['finalist']} | {_num(row['finalist_energy_uj'])} | "
                     f"{_pct(row['finalist_clean'])} | {_pct(row['finalist_worst_case'])} | {rival} |")
    rho = {k: "n/a (fewer than 3 distinct finalists)" if v is None else f"{v:+.2f}" for k, v in proxy.items()}
    lines += ["", "## Proxy quality", "",
              f"Spearman rank correlation of the predicted error (negated) with the measured accuracy of the "
              f"finalists: clean {rho['clean']}, worst case {rho['worst_case']} (+1: the ILP's proxy ranks the "
              "finalists as training does).", "",
              "![predicted vs measured](codesign_predicted_vs_measured.png)", "",
              "![worst-case robust accuracy vs energy](codesign_pareto.png)", "",
              f"Reproduce: `quanos codesign --config {c.out_dir}/config.json --out NEW_DIR`", ""]
    return "\n".join(lines)


def _plots(out: Path, finalists: list[dict], baselines: list[dict], proxy: dict) -> list[str]:
    from matplotlib.figure import Figure

    from ..dse_plots import save_figure

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    for col, (metric, label) in enumerate((("clean", "clean"), ("worst_case", "worst-case robust"))):
        ax = fig.add_subplot(1, 2, col + 1)
        pts = [(f["predicted_error"], 100 * f[metric], f["rank"]) for f in finalists if f[metric] is not None]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], color="C0")
            for x, y, rank in pts:
                ax.annotate(str(rank), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("predicted quantization error (ILP objective, log)")
        ax.set_ylabel(f"measured {label} accuracy (%)")
        rho = proxy.get(metric)
        ax.set_title(f"{label}: Spearman {'n/a' if rho is None else f'{rho:+.2f}'}")
        ax.grid(alpha=0.3, which="both")
    fig.suptitle("Stage-1 proxy vs stage-2 measurement (finalists, numbered by rank)")
    save_figure(fig, out / "codesign_predicted_vs_measured.png")

    fig = Figure(figsize=(7, 4.6), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    known = [f for f in finalists if f["worst_case"] is not None and f["energy_uj"] is not None]
    if known:
        e, w = np.array([f["energy_uj"] for f in known]), np.array([100 * f["worst_case"] for f in known])
        ax.scatter(e, w, color="C0", label="finalists (co-design)", zorder=3)
        front = np.flatnonzero(pareto_mask(np.stack([e, -w], axis=1)))
        front = front[np.argsort(e[front])]
        ax.step(e[front], w[front], where="post", color="C0", alpha=0.6, label="measured Pareto front")
    markers = {"uniform 8": "s", "uniform 4": "D", "quanos rule": "^"}
    for i, objective in enumerate(dict.fromkeys(b["objective"] for b in baselines)):
        for b in (b for b in baselines if b["objective"] == objective and b["worst_case"] is not None):
            ax.scatter([b["energy_uj"]], [100 * b["worst_case"]], marker=markers.get(b["design"], "x"),
                       color=f"C{i + 1}", label=f"{b['design']} on the best-{objective} point")
    ax.set_xlabel("energy per inference (µJ)")
    ax.set_ylabel("worst-case robust accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Measured: worst-case robust accuracy vs energy")
    save_figure(fig, out / "codesign_pareto.png")
    return ["codesign_predicted_vs_measured.png", "codesign_pareto.png"]


def write_outputs(c, root: Path, points: list[dict], table: DseTable, ok, front, chosen: list[int],
                  baselines: list[dict], results: dict, timing: dict, config_hash: str, mode: str) -> dict:
    """Write every file into ``root``; returns the report (codesign.json's content)."""
    from ..dse_html import write_dse_html
    from ..dse_outputs import HTML_MAX_ROWS, html_rows
    from ..dse_outputs import table_csv as dse_csv

    swept = list(dict.fromkeys(k for p in points for k in p))
    finalists, measured_baselines = measured_rows(table, chosen, baselines, results, swept)
    proxy = proxy_quality(finalists)
    compared = comparison(c.objectives, finalists, measured_baselines)
    reference = next((reference_label(r["robustness"]) for r in results.values()), "")
    summary = {"mode": mode, "points": len(points), "candidates": len(table), "within_constraints": int(ok.sum()),
               "front": int(front.sum()), "stage1_s": timing["stage1_s"]}
    is_finalist = np.zeros(len(table), dtype=bool)
    is_finalist[chosen] = True
    texts = {"codesign.csv": dse_csv(table, {"meets_constraints": [bool(v) for v in ok],
                                             "pareto": [bool(v) for v in front],
                                             "finalist": [bool(v) for v in is_finalist]}),
             "finalists.csv": _csv(finalists), "baselines.csv": _csv(measured_baselines),
             "codesign.md": markdown(c, summary, finalists, measured_baselines, compared, proxy, swept, reference)}
    files = list(texts)
    for name, text in texts.items():
        atomic_write_text(root / name, text)
    files += _plots(root, finalists, measured_baselines, proxy)
    keep = html_rows(front, HTML_MAX_ROWS)
    write_dse_html(table.select(keep), front[keep], ["energy", "latency"] if len(c.objectives) < 2 else
                   list(c.objectives), swept, root / "codesign.html",
                   title=f"quanos codesign: stage-1 candidates on {c.hardware} (rings: Pareto front of predicted "
                         "error and the objectives; one trace per budget)")
    files += ["codesign.html", "codesign.json"]
    report = {"config": c.to_dict(), "config_hash": config_hash, "hardware": c.accelerator().to_dict(),
              "stage1": summary, "finalists": finalists, "baselines": measured_baselines, "comparison": compared,
              "proxy_spearman": proxy, "reference_attack": reference, "timing_s": timing, "files": files}
    atomic_write_text(root / "codesign.json", dumps_strict(report, indent=1) + "\n")
    return report
