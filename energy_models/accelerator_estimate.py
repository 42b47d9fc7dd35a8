"""Energy, latency and area of a network on a described accelerator (energy_models.accelerator).

Per layer l, bit configuration n and (optionally) design point d, for one batch of B inferences:

    MAC energy      = B * macs_l * e_mac(w, a_in) * energy_scale(architecture node -> node)
    memory energy   = DRAM bits * pJ/bit + sum over buffers of bits read/written * pJ per word / word bits
                      (bits from energy_models.tiling; buffer energies given, or derived from the
                      capacity by energy_models.sram at the node)
    compute cycles  = passes / macs_per_cycle(w, a_in)            (energy_models.spatial)
    memory seconds  = DRAM bits / (bandwidth_gb_s * 8e9)
    latency         = max(compute, memory) ("overlapped") or their sum ("sequential"), in seconds
                      at the clock; layers run one after another
    area            = PEs * area of one MAC unit (area_scale to the node) + buffer areas

Energies are reported per inference (the batch's energy / B); latency, cycles and EDP per batch
(EDP = the batch's energy x its latency, in J*s). ``design`` sweeps numeric fields of the
description in one vectorised call: every array then has a leading design-point axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import spatial, tiling
from .accelerator import Accelerator, capacity_bits, load_accelerator
from .architectures import MacArchitecture, get_architecture
from .errors import InputError
from .estimate import Estimate, _config_bits, _operand_bits, input_sources
from .layers import LayerSpec
from .technology import load_technology

#: numeric fields a design sweep may vary, by dotted key (buffer capacities: memory.buffers.<name>.capacity_bytes)
DESIGN_KEYS = ("array.rows", "array.cols", "batch", "clock_mhz", "memory.dram.bandwidth_gb_s")


@dataclass(frozen=True)
class AcceleratorEstimate(Estimate):
    """Estimate plus latency and area; arrays have shape (configs, layers), or (designs, configs,
    layers) for a design sweep. Energies per inference; cycles, seconds and EDP per batch."""

    accelerator: Accelerator | None = None
    batch: np.ndarray | float = 1.0
    clock_hz: np.ndarray | float = 1.0
    compute_s: np.ndarray | None = None
    memory_s: np.ndarray | None = None
    latency_s: np.ndarray | None = None
    utilization: np.ndarray | None = None
    dram_bits: np.ndarray | None = None
    area_mm2: dict | None = None  # component -> mm2 (array of designs, or None where unknown)

    @property
    def total_latency_s(self) -> np.ndarray:
        return self.latency_s.sum(axis=-1)

    @property
    def throughput_per_s(self) -> np.ndarray:
        """Inferences per second."""
        return self.batch_size / self.total_latency_s

    @property
    def batch_size(self) -> np.ndarray | float:
        """B, shaped (designs, 1) for a design sweep so that it broadcasts against the totals."""
        return np.asarray(self.batch, float)[..., 0] if np.ndim(self.batch) else float(self.batch)

    @property
    def edp_j_s(self) -> np.ndarray:
        """The batch's energy (J) x its latency (s)."""
        return self.total_energy_pj * 1e-12 * self.batch_size * self.total_latency_s

    @property
    def total_area_mm2(self):
        """Sum of the known component areas (None if no component has one)."""
        known = [v for v in self.area_mm2.values() if v is not None]
        return sum(known) if known else None

    @property
    def total_utilization(self) -> np.ndarray:
        """MAC-weighted spatial utilisation of the array over the network."""
        macs = np.array([layer.macs for layer in self.layers], float)
        return (self.utilization * macs).sum(axis=-1) / macs.sum()


def _design_values(accelerator: Accelerator, design: dict | None) -> dict:
    """Numeric fields as floats, or (D, 1, 1) arrays where ``design`` sweeps them."""
    a = accelerator
    values = {"array.rows": a.array.rows, "array.cols": a.array.cols, "batch": a.batch, "clock_mhz": a.clock_mhz,
              "memory.dram.bandwidth_gb_s": a.dram.bandwidth_gb_s}
    for b in a.buffers:
        values[f"memory.buffers.{b.name}.capacity_bytes"] = b.capacity_bytes
    if not design:
        return values
    sizes = set()
    for key, column in design.items():
        if key not in values:
            raise InputError(f"design key {key!r} cannot be swept; sweepable: {', '.join(values)}")
        arr = np.asarray(column, dtype=float)
        if arr.ndim != 1 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise InputError(f"design key {key!r} needs a 1-D list of positive finite numbers")
        sizes.add(arr.size)
        values[key] = arr.reshape(-1, 1, 1)
    if len(sizes) != 1:
        raise InputError(f"design columns have different lengths: {sorted(sizes)}")
    return values


def _scale(kind: str, from_nm: float | None, to_nm: float, what: str) -> float:
    if from_nm is None:
        raise InputError(f"{what} does not give its technology node, so it cannot be scaled to {to_nm:g} nm")
    if from_nm == to_nm:
        return 1.0
    from .scaling import area_scale, energy_scale

    return float((energy_scale if kind == "energy" else area_scale)(from_nm, to_nm))


def _buffer_pj_per_bit(buffer, capacity, node_nm: float) -> tuple[object, object]:
    """(read, write) energy per bit of a buffer: given per word, or derived from its capacity."""
    if buffer.read_pj is not None and buffer.write_pj is not None:
        return buffer.read_pj / buffer.word_bits, buffer.write_pj / buffer.word_bits
    from .sram import sram_read_pj, sram_write_pj

    bank = np.asarray(capacity, float) / buffer.banks
    read = buffer.read_pj if buffer.read_pj is not None else sram_read_pj(bank, buffer.word_bits, node_nm)
    write = buffer.write_pj if buffer.write_pj is not None else sram_write_pj(bank, buffer.word_bits, node_nm)
    return np.asarray(read) / buffer.word_bits, np.asarray(write) / buffer.word_bits


def _area(accelerator: Accelerator, arch: MacArchitecture, values: dict) -> dict:
    """Area per component (mm2): the MAC array and each buffer; None where unknown (unbounded)."""
    node = accelerator.node_nm
    pe_um2 = getattr(arch, "area_um2", None)
    out: dict = {"mac_array": None}
    if pe_um2 is not None:
        factor = _scale("area", getattr(arch, "area_node_nm", None), node, f"MAC architecture {arch.name!r} area")
        out["mac_array"] = np.squeeze(values["array.rows"] * values["array.cols"] * pe_um2 * factor * 1e-6)
    for b in accelerator.buffers:
        capacity = values[f"memory.buffers.{b.name}.capacity_bytes"]
        if b.area_mm2 is not None:
            out[b.name] = b.area_mm2
        elif capacity is None:
            out[b.name] = None
        else:
            from .sram import sram_area_mm2

            bank = np.asarray(capacity, float) / b.banks
            out[b.name] = np.squeeze(b.banks * sram_area_mm2(bank, b.word_bits, node))
    return out


def estimate_accelerator(
    layers: Sequence[LayerSpec],
    weight_bits=None,
    act_bits=None,
    *,
    accelerator: Accelerator | str,
    input_bit_width: int = 8,
    param_bit_width: int = 32,
    input_bits=None,
    design: dict | None = None,
) -> AcceleratorEstimate:
    """Energy, latency and area of ``layers`` on ``accelerator`` (a description, a shipped name or a
    file) under one or many bit configurations (as :func:`energy_models.estimate`); ``design``
    maps sweepable keys (DESIGN_KEYS and ``memory.buffers.<name>.capacity_bytes``) to 1-D arrays
    of equal length, evaluated together in one vectorised call."""
    layers = tuple(layers)
    if not layers:
        raise InputError("the model has no conv or linear layers to estimate")
    acc = accelerator if isinstance(accelerator, Accelerator) else load_accelerator(accelerator)
    w, a = _config_bits(layers, weight_bits, act_bits)
    a_in = _operand_bits(layers, a, input_bit_width, input_bits)
    tech = load_technology(acc.technology)
    arch = get_architecture(acc.mac.architecture, tech, acc.mac.params or None)
    values = _design_values(acc, design)
    batch, rows, cols = values["batch"], values["array.rows"], values["array.cols"]

    count = {k: np.array([getattr(layer, k) for layer in layers], float) for k in ("macs", "weights", "inputs",
                                                                                   "outputs", "extra_params")}
    dims = spatial.layer_dims(layers)
    arr = acc.array
    steps = spatial.passes(dims, batch, rows, cols, arr.unroll_rows, arr.unroll_cols, count["macs"])
    reread = {op: spatial.rereads(op, dims, batch, rows, cols, arr.unroll_rows, arr.unroll_cols, arr.stationary)
              for op in ("weights", "inputs")}
    caps, buffered = {}, {}
    for op in ("weights", "inputs", "outputs"):
        buf = acc.buffer_of(op)
        buffered[op] = buf is not None
        cap = None if buf is None else values[f"memory.buffers.{buf.name}.capacity_bytes"]
        caps[op] = capacity_bits(buf) if cap is None or buf is None else 8.0 * cap
    shared_io = buffered["inputs"] and acc.buffer_of("inputs") is acc.buffer_of("outputs")
    traffic = tiling.memory_traffic(count["weights"] * w, count["inputs"] * a_in * batch, count["outputs"] * a * batch,
                                    caps, buffered, shared_io, input_sources(layers), acc.network_input_on_chip,
                                    reread)

    mac_factor = _scale("energy", getattr(arch, "node_nm", tech.node_nm), acc.node_nm,
                        f"MAC architecture {arch.name!r}")
    mac_energy = count["macs"] * arch.energy_per_mac_pj(w, a_in) * mac_factor
    dram_bits = traffic.dram_bits
    if acc.dram.read_pj_per_bit == acc.dram.write_pj_per_bit:
        by_level = {"dram": dram_bits * acc.dram.read_pj_per_bit / batch}
    else:
        reads = traffic.dram_read_bits["weights"] + traffic.dram_read_bits["inputs"]
        by_level = {"dram": (reads * acc.dram.read_pj_per_bit + traffic.dram_write_bits * acc.dram.write_pj_per_bit)
                    / batch}
    for b in acc.buffers:
        read_pj, write_pj = _buffer_pj_per_bit(b, values[f"memory.buffers.{b.name}.capacity_bytes"], acc.node_nm)
        reads = sum(traffic.buffer_read_bits[op] for op in b.operands)
        writes = sum(traffic.buffer_write_bits[op] for op in b.operands)
        by_level[b.name] = (reads * read_pj + writes * write_pj) / batch
    shape = np.broadcast(mac_energy, steps, *by_level.values()).shape  # steps carry a design axis of array sizes
    by_level = {k: np.broadcast_to(v, shape) for k, v in by_level.items()}
    mac_energy = np.broadcast_to(mac_energy, shape)
    memory_energy = sum(by_level.values())

    cycles = np.broadcast_to(steps / arch.macs_per_cycle(w, a_in), shape)
    clock_hz = np.asarray(values["clock_mhz"], float) * 1e6
    compute_s = cycles / clock_hz
    bandwidth = values["memory.dram.bandwidth_gb_s"]
    memory_s = np.zeros(shape) if bandwidth is None else np.broadcast_to(dram_bits / (bandwidth * 8e9), shape)
    latency_s = np.maximum(compute_s, memory_s) if acc.latency == "overlapped" else compute_s + memory_s
    pes = np.asarray(rows, float) * cols
    return AcceleratorEstimate(
        layers=layers, architecture=arch.name, technology=tech.name, dataflow=f"accelerator:{acc.name}",
        weight_bits=w, act_bits=a, input_bits=a_in, mac_energy_pj=mac_energy,
        memory_energy_pj_by_level=by_level, memory_energy_pj=memory_energy, energy_pj=mac_energy + memory_energy,
        cycles=cycles, size_bits=count["weights"] * w + count["extra_params"] * param_bit_width,
        accelerator=acc, batch=batch, clock_hz=clock_hz,
        compute_s=compute_s, memory_s=memory_s, latency_s=latency_s,
        utilization=np.broadcast_to(count["macs"] * batch / (steps * pes), shape),
        dram_bits=np.broadcast_to(dram_bits / batch, shape),
        area_mm2=_area(acc, arch, values),
    )
