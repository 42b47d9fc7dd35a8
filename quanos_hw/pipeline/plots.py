"""PNG plots of a run (matplotlib, object API: no pyplot global state)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..io import atomic_write_bytes
from ..robustness import reference_accuracy, reference_label, worst_case_accuracy


def save_figure(fig: Figure, path: Path) -> None:
    """Render ``fig`` to PNG and write it atomically."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())


def ans_bits_figure(report: dict) -> Figure:
    layers = report["layers"]
    names = [lyr["name"] for lyr in layers]
    x = np.arange(len(names))
    fig = Figure(figsize=(max(6, 0.6 * len(names) + 2), 4))
    ax = fig.add_subplot()
    ax.bar(x, [lyr["ans"] for lyr in layers], color="tab:blue", alpha=0.8, label="ANS")
    ax.set_ylabel("ANS (relative activation change under FGSM)")
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    twin = ax.twinx()
    twin.plot(x, [lyr["weight_bit_width"] for lyr in layers], "o-", color="tab:red", label="bits")
    twin.set_ylabel("bits (weights and activations)")
    twin.set_ylim(0, report["quanos"]["k_init"] + 1)
    ax.set_title(f"ANS per layer (FGSM eps {report['quanos']['ans_eps']:.3g}) and QUANOS bits")
    fig.legend(loc="upper left", bbox_to_anchor=(0.1, 0.9))
    return fig


def pareto_figure(report: dict) -> Figure:
    """One column per MAC architecture; rows: clean accuracy, accuracy under the headline attack
    (the first iterative one configured) and, when evaluated, the worst-case robust accuracy."""
    archs = report["config"]["mac_architectures"]
    models = report["models"]
    uniform = sorted((n for n, m in models.items() if m["kind"] == "uniform"), key=lambda n: models[n]["bit_width"])
    rows = [(lambda rob: rob["clean"], "clean accuracy (%)", "tab:red"),
            (reference_accuracy, f"{reference_label(models['quanos']['robustness'])} accuracy (%)", "tab:orange")]
    if all(worst_case_accuracy(m["robustness"]) is not None for m in models.values()):
        rows.append((worst_case_accuracy, f"worst-case {models['quanos']['robustness']['worst_case']['eps']} "
                                          "accuracy (%)", "tab:purple"))
    fig = Figure(figsize=(3.6 * len(archs), 3.2 * len(rows)))
    for col, arch in enumerate(archs):
        for row, (metric, ylabel, color) in enumerate(rows):
            ax = fig.add_subplot(len(rows), len(archs), row * len(archs) + col + 1)
            xs = [models[n]["energy"][arch]["energy_pj"] / 1e6 for n in uniform]
            ys = [100 * metric(models[n]["robustness"]) for n in uniform]
            ax.plot(xs, ys, "o-", color="tab:gray", label="uniform")
            for n, xv, yv in zip(uniform, xs, ys):
                ax.annotate(f"{models[n]['bit_width']}b", (xv, yv), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
            q = models["quanos"]
            ax.plot(q["energy"][arch]["energy_pj"] / 1e6, 100 * metric(q["robustness"]), "*", markersize=14,
                    color=color, label="QUANOS")
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(arch)
            if row == len(rows) - 1:
                ax.set_xlabel("energy per inference (µJ)")
            if col == 0:
                ax.set_ylabel(ylabel)
                ax.legend(fontsize=7)
    fig.suptitle("Energy vs accuracy: uniform widths (curve) and QUANOS (star)")
    fig.tight_layout()
    return fig


def energy_breakdown_figure(report: dict) -> Figure:
    archs = report["config"]["mac_architectures"]
    arch = "data_gated" if "data_gated" in archs else archs[0]
    names = [lyr["name"] for lyr in report["layers"]]
    x = np.arange(len(names))
    fig = Figure(figsize=(max(6, 0.7 * len(names) + 2), 4))
    ax = fig.add_subplot()
    width = 0.4
    for offset, model, colors in ((-width / 2, "uniform16", ("#9ecae1", "#3182bd")),
                                  (width / 2, "quanos", ("#fdae6b", "#e6550d"))):
        rows = report["models"][model]["energy"][arch]["layers"]
        mac = np.array([r["mac_energy_pj"] for r in rows]) / 1e6
        mem = np.array([r["memory_energy_pj"] for r in rows]) / 1e6
        ax.bar(x + offset, mac, width, color=colors[0], label=f"{model}: MAC")
        ax.bar(x + offset, mem, width, bottom=mac, color=colors[1], label=f"{model}: memory")
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("energy per inference (µJ)")
    ax.set_title(f"Per-layer energy on {arch}: uniform 16-bit vs QUANOS")
    ax.legend(fontsize=8)
    return fig


def write_plots(root: Path, report: dict) -> list[str]:
    files = {"ans_bits.png": ans_bits_figure, "pareto.png": pareto_figure,
             "energy_breakdown.png": energy_breakdown_figure}
    for name, make in files.items():
        save_figure(make(report), root / name)
    return list(files)
