"""The results of a run: report.json (the schema in quanos_hw/schemas), report.md, bits.json,
layers.csv and the PNG plots, every file written atomically. report.json is written last: it is
the completion marker (a folder without it holds a partial result; ``--resume`` completes it)."""

from __future__ import annotations

import csv
import io
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from energy_models import energy_report, with_bits

from .. import __version__
from ..accelerator import with_mac
from ..bitconfig import save_bit_config
from ..io import atomic_write_text, dumps_strict
from .config import RunConfig
from .markdown import render_markdown
from .plots import write_plots

SCHEMA_VERSION = 2
ENERGY_KEYS = ("energy_pj", "mac_energy_pj", "memory_energy_pj", "cycles")
#: totals an energy entry adds with config key ``hardware`` (an accelerator description)
HARDWARE_KEYS = ("latency_s", "throughput_per_s", "edp_j_s", "utilization")
#: per-layer keys of an energy entry (latency_s added with ``hardware``)
LAYER_KEYS = ("name", "mac_energy_pj", "memory_energy_pj", "energy_pj")


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


@dataclass(frozen=True)
class ModelKind:
    """What a reported model is: ``kind`` hybrid, uniform or float; ``bit_width`` the uniform width
    (None for hybrid, whose per-layer bits are in the report, and for float)."""

    kind: str
    bit_width: int | None = None


@dataclass(frozen=True)
class RunOutputs:
    """Everything a run's report is built from."""

    config: RunConfig
    config_hash: str
    data: object  # quanos_hw.data.Dataset
    layers: list  # energy_models LayerSpec, in network order
    iterations: list[dict]  # the ans_i phase states
    kinds: dict[str, ModelKind]  # model name -> kind
    phases: dict[str, dict]  # model name -> its training phase state
    robustness: dict[str, dict]  # model name -> RobustnessResult.to_dict()
    iso_bits: int | None
    surrogate: dict  # the surrogate's phase state
    timing: dict[str, float]


def _energy_report(layers, arch: str, config: RunConfig, accelerator) -> dict:
    """energy_models' report of ``layers`` on ``arch``: on the accelerator description when given
    (its MAC replaced by ``arch``), else on the configured technology and dataflow."""
    if accelerator is None:
        return energy_report(layers, architecture=arch, technology=config.technology, dataflow=config.dataflow,
                             input_bit_width=config.input_bit_width)
    return energy_report(layers, accelerator=with_mac(accelerator, arch), input_bit_width=config.input_bit_width)


def _energy_entry(rep: dict, timed: bool) -> dict:
    """One architecture's energy entry of a model: totals, savings, per-layer energies and, on an
    accelerator description, latency, throughput, EDP, utilisation and area."""
    layer_keys = LAYER_KEYS + (("latency_s",) if timed else ())
    entry = {**{k: rep["totals"][k] for k in ENERGY_KEYS},
             "saving_vs_uniform16": rep["energy_saving_vs_uniform16"],
             "saving_vs_uniform8": rep["energy_saving_vs_uniform8"],
             "layers": [{k: row[k] for k in layer_keys} for row in rep["layers"]]}
    if timed:
        entry.update({k: rep["totals"][k] for k in HARDWARE_KEYS})
        entry["latency_speedup_vs_uniform16"] = rep["latency_speedup_vs_uniform16"]
        entry["area"] = rep["area"]
    return entry


def _model_entry(kind: ModelKind, phase: dict, robustness: dict, layers, config: RunConfig,
                 accelerator=None) -> dict:
    quantized = phase["quantized"]
    bits = phase["bits"] if quantized else None
    fp32_bits = sum(lyr.params for lyr in layers) * 32
    entry = {"kind": kind.kind, "bit_width": kind.bit_width, "bits": bits, "mean_weight_bits": None,
             "size_bits": fp32_bits, "compression_vs_fp32": 1.0,
             "compression_vs_uniform16": None, "energy": None,
             "test_accuracy_after_training": phase["test_accuracy"], "history": phase["history"],
             "robustness": robustness}
    if not quantized:
        return entry
    weights = sum(lyr.weights for lyr in layers)
    entry["mean_weight_bits"] = sum(lyr.weights * bits[lyr.name]["weight_bit_width"] for lyr in layers) / weights
    entry["energy"] = {}
    configured = with_bits(layers, [bits[lyr.name]["weight_bit_width"] for lyr in layers],
                           [bits[lyr.name]["act_bit_width"] for lyr in layers])
    for arch in config.mac_architectures:
        rep = _energy_report(configured, arch, config, accelerator)
        entry["size_bits"] = rep["totals"]["size_bits"]
        entry["compression_vs_fp32"] = rep["compression_vs_fp32"]
        entry["compression_vs_uniform16"] = rep["compression_vs_uniform16"]
        entry["energy"][arch] = _energy_entry(rep, accelerator is not None)
    return entry


def build_report(run: RunOutputs) -> dict:
    config, data, layers, final = run.config, run.data, run.layers, run.iterations[-1]
    accelerator = config.accelerator()
    models = {name: _model_entry(run.kinds[name], run.phases[name], run.robustness[name], layers, config,
                                 accelerator) for name in run.phases}
    failed = [f"{name}: {c['name']}" for name, m in models.items() for c in m["robustness"]["checks"]
              if not c["passed"]]
    report = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "quanos-hw", "version": __version__, "git_revision": git_revision(),
                 "python": platform.python_version(), "packages": _packages()},
        "config": config.to_dict(),
        "config_hash": run.config_hash,
        "seed": config.seed,
        "dataset": {"name": data.info.name, "train_size": len(data.train), "test_size": len(data.test),
                    "input_shape": list(data.info.input_shape), "num_classes": data.info.num_classes},
        "quanos": {"metric": config.metric, "metric_options": config.sensitivity_options(),
                   "ans_eps": config.ans_eps, "activation": config.ans_activation, "k_init": config.k_init,
                   "k_min": config.k_min, "first_last": config.first_last, "iterations": run.iterations},
        "bits": final["bits"],
        "iso_size_bits": run.iso_bits,
        "layers": [{"name": lyr.name, "kind": lyr.kind, "macs": lyr.macs, "weights": lyr.weights,
                    "params": lyr.params, "ans": final["ans"][lyr.name],
                    "weight_bit_width": final["bits"][lyr.name]["weight_bit_width"],
                    "act_bit_width": final["bits"][lyr.name]["act_bit_width"]} for lyr in layers],
        "models": models,
        "surrogate": {"seed": config.surrogate_seed, "clean": run.surrogate["test_accuracy"]},
        "sanity": {"all_passed": not failed, "failed": failed},
        "timing_s": {k: round(v, 2) for k, v in run.timing.items()},
    }
    if accelerator is not None:  # the description every energy entry was estimated on (its own MAC)
        report["hardware"] = accelerator.to_dict()
    return report


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


def write_outputs(root: Path, run: RunOutputs) -> tuple[dict, list[str]]:
    """Write every result file atomically; return the report and the files' paths. report.json is
    written last, after every other file: its presence marks a complete result folder."""
    report = build_report(run)
    report_text = dumps_strict(report, indent=1) + "\n"  # strict JSON, checked before any file is written
    files = []
    save_bit_config(report["bits"], root / "bits.json")
    atomic_write_text(root / "layers.csv", layers_csv(report))
    files += ["bits.json", "layers.csv"]
    files += write_plots(root, report)
    atomic_write_text(root / "report.md", render_markdown(report))
    atomic_write_text(root / "report.json", report_text)
    files += ["report.md", "report.json"]
    return report, [str(root / f) for f in files]
