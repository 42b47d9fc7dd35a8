"""The estimate of one bit configuration as a JSON-ready report, with uniform baselines.

The configuration is the one the LayerSpecs carry (their ``weight_bit_width`` and
``act_bit_width``): bits travel on that one channel. The report object is the contract of
``quanos estimate --json`` (docs/design.md §6): model, input_shape, mac_architecture,
technology, layers, totals, energy_saving_vs_uniform16, energy_saving_vs_uniform8,
compression_vs_fp32, compression_vs_uniform16. The configuration and both baselines are
evaluated in one vectorised call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .accelerator import Accelerator
from .accelerator_estimate import AcceleratorEstimate, estimate_accelerator
from .estimate import Estimate, estimate
from .layers import LayerSpec

FP32_BITS = 32


def _layer_rows(est: Estimate, row: int) -> list[dict]:
    rows = []
    for j, layer in enumerate(est.layers):
        rows.append({
            "name": layer.name,
            "kind": layer.kind,
            "macs": int(layer.macs),
            "weights": int(layer.weights),
            "params": int(layer.params),
            "inputs": int(layer.inputs),
            "outputs": int(layer.outputs),
            "weight_bit_width": int(est.weight_bits[row, j]),
            "act_bit_width": int(est.act_bits[row, j]),
            "input_bit_width": int(est.input_bits[row, j]),
            "size_bits": int(est.size_bits[row, j]),
            "mac_energy_pj": float(est.mac_energy_pj[row, j]),
            "memory_energy_pj": float(est.memory_energy_pj[row, j]),
            "memory_energy_pj_by_level": {k: float(v[row, j]) for k, v in est.memory_energy_pj_by_level.items()},
            "energy_pj": float(est.energy_pj[row, j]),
            "cycles": float(est.cycles[row, j]),
            **(_layer_hardware(est, row, j) if isinstance(est, AcceleratorEstimate) else {}),
        })
    return rows


def _layer_hardware(est: AcceleratorEstimate, row: int, j: int) -> dict:
    return {"latency_s": float(est.latency_s[row, j]), "compute_s": float(est.compute_s[row, j]),
            "memory_s": float(est.memory_s[row, j]), "utilization": float(est.utilization[row, j]),
            "dram_bits": float(est.dram_bits[row, j])}


def _hardware_totals(est: AcceleratorEstimate, row: int) -> dict:
    return {"latency_s": float(est.total_latency_s[row]), "throughput_per_s": float(est.throughput_per_s[row]),
            "edp_j_s": float(est.edp_j_s[row]), "utilization": float(est.total_utilization[row]),
            "dram_bits": float(est.dram_bits[row].sum())}


def area_report(est: AcceleratorEstimate) -> dict:
    """Area per component and in total (mm2); components without a known area are listed apart."""
    known = {k: float(v) for k, v in est.area_mm2.items() if v is not None}
    return {"components_mm2": known, "total_mm2": sum(known.values()) if known else None,
            "unknown": [k for k, v in est.area_mm2.items() if v is None]}


def _totals(est: Estimate, row: int) -> dict:
    return {
        "macs": int(sum(layer.macs for layer in est.layers)),
        "weights": int(sum(layer.weights for layer in est.layers)),
        "params": int(sum(layer.params for layer in est.layers)),
        "size_bits": int(est.size_bits[row].sum()),
        "mac_energy_pj": float(est.mac_energy_pj[row].sum()),
        "memory_energy_pj": float(est.memory_energy_pj[row].sum()),
        "memory_energy_pj_by_level": {k: float(v[row].sum()) for k, v in est.memory_energy_pj_by_level.items()},
        "energy_pj": float(est.energy_pj[row].sum()),
        "cycles": float(est.cycles[row].sum()),
        **(_hardware_totals(est, row) if isinstance(est, AcceleratorEstimate) else {}),
    }


def energy_report(
    layers: Sequence[LayerSpec],
    *,
    model: str = "",
    input_shape: Sequence[int] = (),
    param_bit_width: int = 32,
    accelerator: Accelerator | None = None,
    **estimate_kwargs,
) -> dict:
    """Report of ``layers`` at their own bit-widths (``LayerSpec.weight_bit_width`` and
    ``act_bit_width``; see :func:`with_bits`) on the given hardware, beside uniform 16-bit and
    8-bit on the same hardware. With an ``accelerator`` description the layers, totals and
    baselines also carry latency, throughput, EDP, utilisation and DRAM bits, and the report its
    ``hardware`` description and ``area``."""
    w = np.array([layer.weight_bit_width for layer in layers])
    a = np.array([layer.act_bit_width for layer in layers])
    n = len(layers)
    weight_rows = np.stack([w, np.full(n, 16), np.full(n, 8)])
    act_rows = np.stack([a, np.full(n, 16), np.full(n, 8)])
    if accelerator is None:
        est = estimate(layers, weight_rows, act_rows, param_bit_width=param_bit_width, **estimate_kwargs)
    else:
        est = estimate_accelerator(layers, weight_rows, act_rows, param_bit_width=param_bit_width,
                                   accelerator=accelerator, **estimate_kwargs)
    energy = est.total_energy_pj
    size = est.total_size_bits
    fp32_size = sum(layer.params for layer in layers) * FP32_BITS
    report = {
        "model": model,
        "input_shape": list(input_shape),
        "mac_architecture": est.architecture,
        "technology": est.technology,
        "dataflow": est.dataflow,
        "param_bit_width": param_bit_width,
        "layers": _layer_rows(est, 0),
        "totals": _totals(est, 0),
        "uniform16": _totals(est, 1),
        "uniform8": _totals(est, 2),
        "energy_saving_vs_uniform16": float(energy[1] / energy[0]),
        "energy_saving_vs_uniform8": float(energy[2] / energy[0]),
        "compression_vs_fp32": float(fp32_size / size[0]),
        "compression_vs_uniform16": float(size[1] / size[0]),
    }
    if accelerator is not None:
        report["hardware"] = est.accelerator.to_dict()
        report["area"] = area_report(est)
        report["latency_speedup_vs_uniform16"] = float(est.total_latency_s[1] / est.total_latency_s[0])
    return report
