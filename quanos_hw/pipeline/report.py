"""The results of a run: report.json (the schema in quanos_hw/schemas), report.md, bits.json,
layers.csv and the PNG plots, every file written atomically."""

from __future__ import annotations

import csv
import io
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from energy_models import energy_report

from .. import __version__
from ..bitconfig import save_bit_config
from ..io import atomic_write_text
from .config import RunConfig
from .markdown import render_markdown
from .plots import write_plots

SCHEMA_VERSION = 1
ENERGY_KEYS = ("energy_pj", "mac_energy_pj", "memory_energy_pj", "cycles")


def _packages() -> dict[str, str]:
    out = {}
    for name in ("torch", "brevitas", "numpy", "scipy", "torchvision", "matplotlib"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_revision() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _model_entry(name: str, phase: dict, robustness: dict, layers, config: RunConfig) -> dict:
    quantized = phase["quantized"]
    bits = phase["bits"] if quantized else None
    fp32_bits = sum(lyr.params for lyr in layers) * 32
    entry = {"kind": "hybrid" if name == "quanos" else ("uniform" if quantized else "float"),
             "bits": bits, "mean_weight_bits": None, "size_bits": fp32_bits, "compression_vs_fp32": 1.0,
             "compression_vs_uniform16": None, "energy": None,
             "test_accuracy_after_training": phase["test_accuracy"], "history": phase["history"],
             "robustness": robustness}
    if not quantized:
        return entry
    weights = sum(lyr.weights for lyr in layers)
    entry["mean_weight_bits"] = sum(lyr.weights * bits[lyr.name]["weight_bit_width"] for lyr in layers) / weights
    entry["energy"] = {}
    for arch in config.mac_architectures:
        rep = energy_report(layers, bits, architecture=arch, technology=config.technology, dataflow=config.dataflow,
                            input_bit_width=config.input_bit_width)
        entry["size_bits"] = rep["totals"]["size_bits"]
        entry["compression_vs_fp32"] = rep["compression_vs_fp32"]
        entry["compression_vs_uniform16"] = rep["compression_vs_uniform16"]
        entry["energy"][arch] = {**{k: rep["totals"][k] for k in ENERGY_KEYS},
                                 "saving_vs_uniform16": rep["energy_saving_vs_uniform16"],
                                 "saving_vs_uniform8": rep["energy_saving_vs_uniform8"],
                                 "layers": [{k: row[k] for k in ("name", "mac_energy_pj", "memory_energy_pj",
                                                                 "energy_pj")} for row in rep["layers"]]}
    return entry


def build_report(config: RunConfig, config_hash: str, data, layers, iterations: list[dict], phases: dict,
                 robustness: dict, iso_bits: int | None, surrogate: dict, timing: dict) -> dict:
    final = iterations[-1]
    models = {name: _model_entry(name, phases[name], robustness[name], layers, config) for name in phases}
    failed = [f"{name}: {c['name']}" for name, m in models.items() for c in m["robustness"]["checks"]
              if not c["passed"]]
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "quanos-hw", "version": __version__, "git_revision": git_revision(),
                 "python": platform.python_version(), "packages": _packages()},
        "config": config.to_dict(),
        "config_hash": config_hash,
        "seed": config.seed,
        "dataset": {"name": data.info.name, "train_size": len(data.train), "test_size": len(data.test),
                    "input_shape": list(data.info.input_shape), "num_classes": data.info.num_classes},
        "quanos": {"metric": config.metric, "metric_options": config.sensitivity_options(),
                   "ans_eps": config.ans_eps, "activation": config.ans_activation, "k_init": config.k_init,
                   "k_min": config.k_min, "first_last": config.first_last, "iterations": iterations},
        "bits": final["bits"],
        "iso_size_bits": iso_bits,
        "layers": [{"name": lyr.name, "kind": lyr.kind, "macs": lyr.macs, "weights": lyr.weights,
                    "params": lyr.params, "ans": final["ans"][lyr.name],
                    "weight_bit_width": final["bits"][lyr.name]["weight_bit_width"],
                    "act_bit_width": final["bits"][lyr.name]["act_bit_width"]} for lyr in layers],
        "models": models,
        "surrogate": {"seed": config.surrogate_seed, "clean": surrogate["test_accuracy"]},
        "sanity": {"all_passed": not failed, "failed": failed},
        "timing_s": {k: round(v, 2) for k, v in timing.items()},
    }


def layers_csv(report: dict) -> str:
    archs = report["config"]["mac_architectures"]
    quanos, u16 = report["models"]["quanos"], report["models"]["uniform16"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "kind", "macs", "weights", "ans", "weight_bit_width", "act_bit_width"]
                    + [f"{m}_energy_pj_{a}" for a in archs for m in ("quanos", "uniform16")])
    for i, layer in enumerate(report["layers"]):
        row = [layer[k] for k in ("name", "kind", "macs", "weights")] + [f"{layer['ans']:.6f}",
                                                                         layer["weight_bit_width"],
                                                                         layer["act_bit_width"]]
        for arch in archs:
            row += [f"{quanos['energy'][arch]['layers'][i]['energy_pj']:.6g}",
                    f"{u16['energy'][arch]['layers'][i]['energy_pj']:.6g}"]
        writer.writerow(row)
    return buffer.getvalue()


def write_outputs(root: Path, config: RunConfig, config_hash: str, data, layers, iterations, phases, robustness,
                  iso_bits, surrogate, timing) -> tuple[dict, list[str]]:
    """Write every result file atomically; return the report and the files' paths (report.json last)."""
    report = build_report(config, config_hash, data, layers, iterations, phases, robustness, iso_bits, surrogate,
                          timing)
    files = []
    save_bit_config(report["bits"], root / "bits.json")
    atomic_write_text(root / "layers.csv", layers_csv(report))
    files += ["bits.json", "layers.csv"]
    files += write_plots(root, report)
    atomic_write_text(root / "report.md", render_markdown(report))
    atomic_write_text(root / "report.json", json.dumps(report, indent=1) + "\n")
    files += ["report.md", "report.json"]
    return report, [str(root / f) for f in files]
