"""The vectorised energy / size / cycle estimator.

For every layer l of a model and every bit configuration n (rows of the bit arrays)::

    E_mac[n, l]  = macs_l * e_mac(w[n, l], a_in[n, l])                  (architecture, technology)
    E_mem[n, l]  = sum over transfers t of bits_t[n, l] * count_t * e_bit(level_t, access_t)
    E[n, l]      = E_mac + E_mem
    cycles[n, l] = macs_l / (units * macs_per_cycle(w, a_in))
    size[n, l]   = weights_l * w[n, l] + extra_params_l * param_bit_width

``a_in`` is the precision of the layer's *input* activations (the MAC operand): the
``act_bit_width`` of the producing layer, ``input_bit_width`` for the network input, or the
layer's own ``act_bit_width`` when the producer is unknown (see LayerSpec.input_source).

Many configurations are one array computation: the cost is a handful of NumPy operations on
(N, L) arrays, with no Python loop over configurations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .architectures import MacArchitecture, get_architecture
from .bits import MAX_BITS, MIN_BITS
from .errors import InputError
from .layers import NETWORK_INPUT, LayerSpec
from .memory import DEFAULT_DATAFLOW, Dataflow, get_dataflow
from .technology import Technology, load_technology


@dataclass(frozen=True)
class Estimate:
    """Per-configuration, per-layer results; every array has shape (configs, layers)."""

    layers: tuple[LayerSpec, ...]
    architecture: str
    technology: str
    dataflow: str
    weight_bits: np.ndarray
    act_bits: np.ndarray
    input_bits: np.ndarray
    mac_energy_pj: np.ndarray
    memory_energy_pj_by_level: dict[str, np.ndarray]
    memory_energy_pj: np.ndarray
    energy_pj: np.ndarray
    cycles: np.ndarray
    size_bits: np.ndarray

    @property
    def total_energy_pj(self) -> np.ndarray:
        """Shape (configs,)."""
        return self.energy_pj.sum(axis=-1)

    @property
    def total_size_bits(self) -> np.ndarray:
        return self.size_bits.sum(axis=-1)

    @property
    def total_cycles(self) -> np.ndarray:
        return self.cycles.sum(axis=-1)


def _bits_array(bits, n_layers: int, what: str) -> np.ndarray:
    arr = np.asarray(bits)
    if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and not np.all(np.mod(arr, 1) == 0)):
        raise InputError(f"{what} must be integers, got {bits!r}"[:200])
    arr = arr.astype(np.int64)
    if arr.ndim == 0:
        arr = np.full((1, n_layers), int(arr))
    elif arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n_layers:
        raise InputError(f"{what} must have {n_layers} columns (one per layer), got shape {arr.shape}")
    if arr.size and (arr.min() < MIN_BITS or arr.max() > MAX_BITS):
        raise InputError(f"{what} must be between {MIN_BITS} and {MAX_BITS}, got {arr.min()}..{arr.max()}")
    return arr


def input_sources(layers: Sequence[LayerSpec]) -> np.ndarray:
    """Per layer: index of the producing layer, -1 for the network input, -2 if unknown."""
    index = {layer.name: i for i, layer in enumerate(layers)}
    out = np.empty(len(layers), dtype=np.int64)
    for i, layer in enumerate(layers):
        if layer.input_source is None:
            out[i] = -2
        elif layer.input_source == NETWORK_INPUT:
            out[i] = -1
        elif layer.input_source in index:
            out[i] = index[layer.input_source]
        else:
            raise InputError(f"layer {layer.name!r}: input_source {layer.input_source!r} is not a layer")
    return out


def _config_bits(layers: tuple[LayerSpec, ...], weight_bits, act_bits) -> tuple[np.ndarray, np.ndarray]:
    """(weight bits, activation bits) as (configs, layers) arrays; ``None`` takes the LayerSpecs' bits."""
    n_layers = len(layers)
    if weight_bits is None:
        weight_bits = [layer.weight_bit_width for layer in layers]
        if act_bits is None:
            act_bits = [layer.act_bit_width for layer in layers]
    w = _bits_array(weight_bits, n_layers, "weight bits")
    a = _bits_array(w if act_bits is None else act_bits, n_layers, "activation bits")
    if w.shape[0] != a.shape[0]:
        if 1 not in (w.shape[0], a.shape[0]):
            raise InputError(f"weight and activation bits have {w.shape[0]} and {a.shape[0]} configurations")
        w, a = (np.array(x) for x in np.broadcast_arrays(w, a))
    return w, a


def _operand_bits(layers: tuple[LayerSpec, ...], act_bits: np.ndarray, input_bit_width: int,
                  input_bits) -> np.ndarray:
    """Precision of every layer's input activations (the MAC's activation operand)."""
    src = input_sources(layers)  # checks every input_source, even when input_bits overrides them
    if input_bits is not None:
        return np.broadcast_to(_bits_array(input_bits, len(layers), "input bits"), act_bits.shape)
    return np.where(src >= 0, act_bits[:, np.maximum(src, 0)], np.where(src == -1, input_bit_width, act_bits))


def _memory_energy(layers: tuple[LayerSpec, ...], flow: Dataflow, tech: Technology,
                   operand_bits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Memory energy (pJ) per level: bits moved x count x energy per bit, summed over transfers."""
    counts = {
        "weights": np.array([layer.weights for layer in layers], dtype=float),
        "inputs": np.array([layer.inputs for layer in layers], dtype=float),
        "inputs_padded": np.array(
            [layer.inputs if layer.padded_inputs is None else layer.padded_inputs for layer in layers],
            dtype=float),
        "outputs": np.array([layer.outputs for layer in layers], dtype=float),
    }
    shape = operand_bits["weights"].shape
    by_level = {level: np.zeros(shape) for level in flow.levels}
    for t in flow.transfers:
        level = tech.memory(t.level)
        per_bit = level.read_pj_per_bit if t.access == "read" else level.write_pj_per_bit
        by_level[t.level] = by_level[t.level] + counts[t.operand] * operand_bits[t.operand] * (t.count * per_bit)
    return by_level


def estimate(
    layers: Sequence[LayerSpec],
    weight_bits=None,
    act_bits=None,
    *,
    architecture: str | MacArchitecture = "data_gated",
    technology: str | Path | Technology = "horowitz45",
    dataflow: str | Dataflow | dict = DEFAULT_DATAFLOW,
    architecture_params: dict | str | Path | None = None,
    input_bit_width: int = 8,
    param_bit_width: int = 32,
    input_bits=None,
) -> Estimate:
    """Estimate energy, cycles and size of ``layers`` under one or many bit configurations.

    Args:
        layers: the model's LayerSpecs, in execution order.
        weight_bits, act_bits: scalar, shape (layers,) or (configs, layers). ``None`` takes the
            LayerSpecs' own bit-widths; ``act_bits=None`` with weight bits given uses the weight bits.
        architecture: a registered MAC architecture name (or an instance).
        technology: a shipped table name, a table file, or a Technology.
        dataflow: a named dataflow, a Dataflow, or a dict (see memory.get_dataflow).
        architecture_params: overrides of the architecture's parameters (dict or file).
        input_bit_width: precision of the network input (8-bit images).
        param_bit_width: storage bits of bias and BatchNorm parameters.
        input_bits: optional explicit precision of every layer's input activations, shaped like
            the bit arrays; overrides the producer tracking (used to tabulate pairwise costs).
    """
    layers = tuple(layers)
    if not layers:
        raise InputError("the model has no conv or linear layers to estimate")
    w, a = _config_bits(layers, weight_bits, act_bits)
    _bits_array(input_bit_width, 1, "input_bit_width")

    tech = technology if isinstance(technology, Technology) else load_technology(technology)
    arch = (architecture if isinstance(architecture, MacArchitecture)
            else get_architecture(architecture, tech, architecture_params))
    flow = get_dataflow(dataflow)
    a_in = _operand_bits(layers, a, input_bit_width, input_bits)

    macs = np.array([layer.macs for layer in layers], dtype=float)
    mac_energy = macs * arch.energy_per_mac_pj(w, a_in)
    by_level = _memory_energy(layers, flow, tech, {"weights": w, "inputs": a_in, "inputs_padded": a_in,
                                                   "outputs": a})
    memory_energy = sum(by_level.values())
    cycles = macs / (arch.units * arch.macs_per_cycle(w, a_in))
    weights = np.array([layer.weights for layer in layers], dtype=float)
    extra = np.array([layer.extra_params for layer in layers], dtype=float)
    size = weights * w + extra * param_bit_width

    return Estimate(
        layers=layers,
        architecture=arch.name,
        technology=tech.name,
        dataflow=flow.name,
        weight_bits=w,
        act_bits=a,
        input_bits=a_in,
        mac_energy_pj=mac_energy,
        memory_energy_pj_by_level=by_level,
        memory_energy_pj=memory_energy,
        energy_pj=mac_energy + memory_energy,
        cycles=cycles,
        size_bits=size,
    )
