"""ZigZag check of design points: an accelerator description and a workload as ZigZag inputs.

ZigZag (KU Leuven MICAS, ``pip install zigzag-dse==3.9.1 six``, the optional extra
``quanos-hw[zigzag]``; never a requirement) searches the temporal mapping of every layer (LOMA)
on a described memory hierarchy. This module writes an :class:`energy_models.Accelerator` and an
:class:`energy_models.dse.Workload` as ZigZag's three YAML inputs (hardware, mapping, workload),
runs ZigZag with an energy-optimised mapping search, and returns its energy, latency and DRAM
traffic under the keys of our estimate (``energy_pj``, ``latency_s``, ``dram_bits`` per layer),
so that the best design points of ``quanos dse`` can be checked by a tool that searches mappings.
zigzag is imported inside the functions that run it: this module imports without it.

The conversion (docs/hardware.md, "Checking design points with ZigZag"):

* **Workload.** One ZigZag layer per LayerSpec, in order: ``Conv`` (loop dims B, K, C, OY, OX,
  FY, FX; G too for grouped layers) or ``Gemm`` for linear layers (B, K, C); B = the batch. The
  operand precisions are the layer's own: W = weight bits, I = input-activation bits (the
  producer's activation bits, as our estimate takes them), O_final = the layer's activation
  bits and O (partial sums) = ``w + a_in + ceil(log2(C * FY * FX))``, the width a sum of that
  many products needs. A conv's stride and padding are inferred from its unpadded and padded
  input counts; the input extent is given explicitly (``pr_loop_sizes``), so ZigZag counts the
  unpadded input, as our model does.
* **Array.** ``rows x cols`` MAC units as ZigZag's dimensions D1 x D2, each unrolling the
  description's dimension (K, C, OX, OY, FX, FY or B); ``unroll: ideal`` leaves the spatial
  mapping to ZigZag's generator (it cannot express perfect packing).
* **Memories.** Per PE, a free (0 pJ) accumulator for partial sums (our model keeps them in the
  PEs, its MAC energy includes the accumulation), and a free one-element register of the
  stationary operand when that is weights or inputs; a register is shared along the array axes
  that unroll a dimension irrelevant to its operand (the adder tree of a reduction, a broadcast).
  Each buffer is one memory shared by the whole array: capacity in bits, a read and a write port
  of ``word_bits * banks`` bits per cycle accessed in ``word_bits`` words, and the energy per
  access of our estimate (given, or derived per bank from the capacity by energy_models.sram).
  DRAM holds every operand: our pJ/bit and one read-write port of ``bandwidth / clock`` bits per
  cycle (rounded to an integer), accessed per bit.
* **MAC energy.** ZigZag has one energy per MAC per core; the hardware file carries the
  workload's MAC-weighted mean of our energy per MAC (so plain ZigZag gets our total MAC energy),
  and :func:`zigzag_estimate` charges every layer our energy per MAC at its own precisions and
  runs it at our MACs per cycle (ZigZag's ``cycles_per_op``), as a core built for that layer
  would. A layer's MAC energy is the same for every mapping, so the mapping search is unchanged.

* **Activations between layers.** ZigZag runs layer by layer with every tensor in DRAM; where
  our model keeps a layer's input or output on chip (energy_models.tiling, rule 1),
  :func:`zigzag_estimate` drops the DRAM level of that tensor with ZigZag's own
  ExploitInterLayerDataLocalityStage, so both models move the same tensors between layers. (The
  YAML files alone cannot say this: run on them, ZigZag keeps every tensor in DRAM.)

Two departures from ``get_hardware_performance_zigzag``: no save or plot stages, and access
counts are not truncated to whole port-wide accesses (ZigZag's ``int()`` turns the few accesses
of a small layer to a wide DRAM port into none). Not mapped: ``latency: sequential`` (ZigZag
has its own stall and data-loading model), leakage and area.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import yaml

from energy_models.accelerator import Accelerator, BufferSpec, capacity_bits
from energy_models.accelerator_estimate import _buffer_pj_per_bit, estimate_accelerator
from energy_models.architectures import get_architecture
from energy_models.dse import Workload
from energy_models.errors import InputError
from energy_models.estimate import input_sources
from energy_models.layers import LayerSpec
from energy_models.technology import load_technology
from energy_models.tiling import activations_on_chip

#: the ZigZag release these inputs are written for
ZIGZAG_VERSION = "3.9.1"
#: our operand -> ZigZag memory operand (the mapping's memory_operand_links)
MEMORY_OPERAND = {"weights": "I2", "inputs": "I1", "outputs": "O"}
#: loop dimensions irrelevant to each memory operand (energy_models.spatial.IRRELEVANT)
IRRELEVANT = {"O": ("C", "FY", "FX"), "I2": ("B", "OY", "OX"), "I1": ("K",)}
#: capacity (bits) written for DRAM and unbounded buffers, and bits per cycle of an unbounded DRAM
UNBOUNDED_BITS = 2**50
UNBOUNDED_BITS_PER_CYCLE = 2**24
#: name of the DRAM level in the hardware file (our parser refuses a buffer of that name)
DRAM_NAME = "dram"
#: ZigZag's mapping-search settings (get_hardware_performance_zigzag's defaults)
LOMA_LPF_LIMIT = 6
SPATIAL_MAPPINGS = 3


@dataclass(frozen=True)
class ZigzagLayer:
    """One layer as ZigZag gets it: loop dims, operand precisions, and our MAC cost at them."""

    name: str
    operator: str  # "Conv" or "Gemm"
    dims: dict  # loop dimension -> size, B included
    weight_bits: int
    input_bits: int
    output_bits: int  # O_final
    psum_bits: int  # O
    mac_energy_pj: float  # one MAC at (weight_bits, input_bits), at the description's node
    macs_per_cycle: float
    source: int | None  # index of the producing layer, None: none in the workload
    geometry: tuple | None  # (stride_y, stride_x, IH, IW, pad_y, pad_x), None: not inferable
    input_on_chip: bool = False  # our model reads the input from a buffer, not DRAM
    output_on_chip: bool = False  # our model keeps the output in a buffer, never writing it to DRAM


def zigzag_available() -> bool:
    """True when zigzag-dse 3.9.1, the release these inputs are written for, is installed."""
    try:
        return metadata.version("zigzag-dse") == ZIGZAG_VERSION
    except metadata.PackageNotFoundError:
        return False


# -- the workload ---------------------------------------------------------------------------------

def _side(elements: float, oy: int, ox: int) -> tuple[int, int] | None:
    """(H, W) of a feature map of ``elements`` per channel, shaped like the OY x OX output."""
    h = round(math.sqrt(elements * oy / ox))
    if h <= 0 or abs(elements / h - round(elements / h)) > 1e-9:
        return None
    return h, round(elements / h)


def input_geometry(layer: LayerSpec) -> tuple | None:
    """(stride_y, stride_x, IH, IW, pad_y, pad_x) of a conv from its input counts: the smallest
    stride with ``floor((IH_padded - FY) / s) + 1 = OY``; None where the counts do not give it."""
    d = layer.loop_dims()
    channels = d["C"] * d["G"]
    unpadded = _side(layer.inputs / channels, d["OY"], d["OX"])
    padded = _side((layer.padded_inputs or layer.inputs) / channels, d["OY"], d["OX"])
    if unpadded is None or padded is None:
        return None
    (ih, iw), (ihp, iwp) = unpadded, padded
    sy = (ihp - d["FY"]) // d["OY"] + 1 if ihp >= d["FY"] else 1
    sx = (iwp - d["FX"]) // d["OX"] + 1 if iwp >= d["FX"] else 1
    if (ihp - d["FY"]) // sy + 1 != d["OY"] or (iwp - d["FX"]) // sx + 1 != d["OX"]:
        return None
    return sy, sx, ih, iw, ihp - ih, iwp - iw


def _on_chip(acc: Accelerator, layers: tuple[LayerSpec, ...], w, a_in, a) -> tuple[np.ndarray, np.ndarray]:
    """(input on chip, output stays on chip) per layer: our rule (energy_models.tiling, rule 1)."""
    caps = {op: capacity_bits(acc.buffer_of(op)) for op in ("inputs", "outputs")}
    i_bits = np.array([layer.inputs for layer in layers], float) * a_in * acc.batch
    o_bits = np.array([layer.outputs for layer in layers], float) * a * acc.batch
    shared = acc.buffer_of("inputs") is not None and acc.buffer_of("inputs") is acc.buffer_of("outputs")
    inputs, outputs = activations_on_chip(i_bits, o_bits, caps["inputs"], caps["outputs"], shared,
                                          input_sources(layers), acc.network_input_on_chip)
    return np.asarray(inputs, bool), np.asarray(outputs, bool)


def _zigzag_dims(acc: Accelerator, layer: LayerSpec) -> tuple[str, dict]:
    """(operator, loop dims with B) of one layer: Gemm for a linear layer, Conv otherwise."""
    d = layer.loop_dims()
    if layer.kind == "linear" or (d["OY"] * d["OX"] * d["FY"] * d["FX"] == 1 and d["G"] == 1):
        return "Gemm", {"B": acc.batch, "K": d["K"], "C": d["C"]}
    dims = {"B": acc.batch, "K": d["K"], "C": d["C"], "OY": d["OY"], "OX": d["OX"], "FY": d["FY"], "FX": d["FX"]}
    return "Conv", {**dims, "G": d["G"]} if d["G"] > 1 else dims


def zigzag_layers(acc: Accelerator, workload: Workload) -> list[ZigzagLayer]:
    """The workload's layers with their precisions, our per-MAC energy and throughput at them, and
    our on-chip decision for their activations."""
    layers = tuple(workload.layers)
    w = np.array([[layer.weight_bit_width for layer in layers]])
    a = np.array([[layer.act_bit_width for layer in layers]])
    est = estimate_accelerator(layers, w, a, accelerator=acc, input_bit_width=workload.input_bit_width)
    a_in = np.asarray(est.input_bits)[0]
    arch = get_architecture(acc.mac.architecture, load_technology(acc.technology), acc.mac.params or None)
    per_cycle = np.asarray(arch.macs_per_cycle(w[0], a_in), float)
    inputs_on_chip, outputs_on_chip = _on_chip(acc, layers, w[0], a_in, a[0])
    sources = input_sources(layers)
    out = []
    for i, layer in enumerate(layers):
        operator, dims = _zigzag_dims(acc, layer)
        d = layer.loop_dims()
        reduction = d["C"] * d["FY"] * d["FX"]
        wb, ab = int(w[0, i]), int(a_in[i])
        out.append(ZigzagLayer(
            name=layer.name, operator=operator, dims=dims, weight_bits=wb, input_bits=ab,
            output_bits=int(a[0, i]), psum_bits=wb + ab + math.ceil(math.log2(reduction)),
            mac_energy_pj=float(est.mac_energy_pj[0, i] / layer.macs) if layer.macs else 0.0,
            macs_per_cycle=float(per_cycle[i]), source=int(sources[i]) if sources[i] >= 0 else None,
            geometry=None if operator == "Gemm" else input_geometry(layer),
            input_on_chip=bool(inputs_on_chip[i]), output_on_chip=bool(outputs_on_chip[i])))
    return out


def _equation(layer: ZigzagLayer) -> str:
    if layer.operator == "Gemm":
        return "O[b][k]+=I[b][c]*W[k][c]"
    if "G" in layer.dims:
        return "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]"
    return "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]"


def workload_yaml(layers: Sequence[ZigzagLayer]) -> list[dict]:
    """ZigZag's YAML layer list (zigzag/parser/workload_validator.py's schema)."""
    out = []
    for i, layer in enumerate(layers):
        entry = {"id": i, "name": layer.name, "operator_type": layer.operator, "equation": _equation(layer),
                 "loop_dims": list(layer.dims), "loop_sizes": [int(v) for v in layer.dims.values()],
                 "operand_precision": {"W": layer.weight_bits, "I": layer.input_bits, "O": layer.psum_bits,
                                       "O_final": layer.output_bits},
                 "operand_source": {"W": i, "I": i if layer.source is None else layer.source}}
        if layer.operator == "Conv":
            sy, sx = layer.geometry[:2] if layer.geometry else (1, 1)
            entry["dimension_relations"] = [f"ix={sx}*ox+1*fx", f"iy={sy}*oy+1*fy"]
            if layer.geometry:
                _, _, ih, iw, py, px = layer.geometry
                entry.update({"pr_loop_dims": ["IX", "IY"], "pr_loop_sizes": [iw, ih],
                              "padding": [[px // 2, px - px // 2], [py // 2, py - py // 2]]})
        else:
            entry["dimension_relations"] = []
        out.append(entry)
    return out


# -- the mapping ----------------------------------------------------------------------------------

def _spatial(acc: Accelerator, present: Sequence[str]) -> dict | None:
    """D1/D2 unrollings of the description for a layer with loop dims ``present`` (an axis whose
    dimension the layer lacks unrolls a present one by 1: it stays idle, as in our model)."""
    arr = acc.array
    if arr.ideal:
        return None
    axes = {"D1": (arr.unroll_rows, arr.rows), "D2": (arr.unroll_cols, arr.cols)}
    used = {dim for dim, _ in axes.values() if dim in present}
    spare = [d for d in present if d not in used]
    out = {}
    for oa_dim, (dim, size) in axes.items():
        if dim in present:
            out[oa_dim] = [f"{dim}, {size}"]
        else:
            out[oa_dim] = [f"{spare.pop(0)}, 1"]
    return out


def mapping_yaml(acc: Accelerator) -> list[dict]:
    """ZigZag's mapping list: the description's spatial unrolling for Conv and Gemm layers, no
    temporal ordering (LOMA searches it)."""
    links = {"O": "O", "W": MEMORY_OPERAND["weights"], "I": MEMORY_OPERAND["inputs"]}
    conv = _spatial(acc, ("B", "K", "C", "OY", "OX", "FY", "FX"))
    gemm = _spatial(acc, ("B", "K", "C"))
    return [{"name": name, "spatial_mapping": spatial, "memory_operand_links": dict(links)}
            for name, spatial in (("default", conv), ("Conv", conv), ("Gemm", gemm))]


# -- the hardware ---------------------------------------------------------------------------------

def dram_bits_per_cycle(acc: Accelerator) -> int:
    """DRAM bandwidth in bits per clock cycle, rounded (at least 1); unbounded: UNBOUNDED_BITS_PER_CYCLE."""
    if acc.dram.bandwidth_gb_s is None:
        return UNBOUNDED_BITS_PER_CYCLE
    return max(1, round(acc.dram.bandwidth_gb_s * 8e9 / (acc.clock_mhz * 1e6)))


def _port(name: str, kind: str, bw_min: int, bw_max: int, allocation: list[str]) -> dict:
    return {"name": name, "type": kind, "bandwidth_min": int(bw_min), "bandwidth_max": int(bw_max),
            "allocation": allocation}


def _served(acc: Accelerator, mem_op: str) -> list[str]:
    """Array axes along which a per-PE register of ``mem_op`` is shared (they unroll a dimension
    irrelevant to it)."""
    arr = acc.array
    return [] if arr.ideal else [d for d, dim in (("D1", arr.unroll_rows), ("D2", arr.unroll_cols))
                                 if dim in IRRELEVANT[mem_op]]


def _register(mem_op: str, bits: int, served: list[str]) -> dict:
    ports = [_port("r_port_1", "read", bits, bits, [f"{mem_op}, tl"]),
             _port("w_port_1", "write", bits, bits, [f"{mem_op}, fh"])]
    if mem_op == "O":
        ports += [_port("r_port_2", "read", bits, bits, ["O, th"]), _port("w_port_2", "write", bits, bits, ["O, fl"])]
    return {"size": int(bits), "r_cost": 0.0, "w_cost": 0.0, "area": 0.0, "latency": 1, "operands": [mem_op],
            "ports": ports, "served_dimensions": served}


def _buffer(acc: Accelerator, buffer: BufferSpec) -> dict:
    """One buffer: capacity in bits, word_bits x banks per cycle, our energy per access."""
    read_bit, write_bit = _buffer_pj_per_bit(buffer, buffer.capacity_bytes, acc.node_nm)
    ops = [MEMORY_OPERAND[op] for op in buffer.operands]
    width = buffer.word_bits * buffer.banks
    reads = [f"{op}, tl" for op in ops] + (["O, th"] if "O" in ops else [])
    writes = [f"{op}, fh" for op in ops] + (["O, fl"] if "O" in ops else [])
    size = UNBOUNDED_BITS if buffer.capacity_bytes is None else int(round(8 * buffer.capacity_bytes))
    return {"size": size, "r_cost": float(read_bit) * width, "w_cost": float(write_bit) * width, "area": 0.0,
            "latency": 1, "operands": ops,
            "ports": [_port("r_port_1", "read", buffer.word_bits, width, reads),
                      _port("w_port_1", "write", buffer.word_bits, width, writes)],
            "served_dimensions": ["D1", "D2"]}


def _dram(acc: Accelerator) -> dict:
    bw = dram_bits_per_cycle(acc)
    allocation = ["I1, fh", "I1, tl", "I2, fh", "I2, tl", "O, fh", "O, tl", "O, fl", "O, th"]
    return {"size": UNBOUNDED_BITS, "r_cost": acc.dram.read_pj_per_bit * bw, "w_cost": acc.dram.write_pj_per_bit * bw,
            "area": 0.0, "latency": 1, "operands": ["I1", "I2", "O"],
            "ports": [_port("rw_port_1", "read_write", 1, bw, allocation)], "served_dimensions": ["D1", "D2"]}


def hardware_yaml(acc: Accelerator, layers: Sequence[ZigzagLayer]) -> dict:
    """ZigZag's hardware description (zigzag/parser/accelerator_validator.py's schema), memories
    from the PE outwards."""
    memories = {"pe_accumulator": _register("O", max(x.psum_bits for x in layers), _served(acc, "O"))}
    stationary = acc.array.stationary
    if stationary != "outputs":
        op = MEMORY_OPERAND[stationary]
        bits = max(x.weight_bits if op == "I2" else x.input_bits for x in layers)
        memories[f"pe_{stationary}_register"] = _register(op, bits, _served(acc, op))
    for buffer in acc.buffers:
        if buffer.name in memories:
            raise InputError(f"buffer name {buffer.name!r} is reserved for a ZigZag register; rename the buffer")
        memories[buffer.name] = _buffer(acc, buffer)
    memories[DRAM_NAME] = _dram(acc)
    macs = np.array([math.prod(x.dims.values()) for x in layers], float)
    mean_pj = float(np.dot(macs, [x.mac_energy_pj for x in layers]) / macs.sum())
    return {"name": acc.name, "memories": memories,
            "operational_array": {"unit_energy": mean_pj, "unit_area": 0.0, "dimensions": ["D1", "D2"],
                                  "sizes": [acc.array.rows, acc.array.cols]}}


def _write(acc: Accelerator, layers: Sequence[ZigzagLayer], folder) -> tuple[Path, Path, Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = (folder / "hardware.yaml", folder / "mapping.yaml", folder / "workload.yaml")
    for path, data in zip(paths, (hardware_yaml(acc, layers), mapping_yaml(acc), workload_yaml(layers))):
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return paths


def to_zigzag_inputs(acc: Accelerator, workload: Workload, folder) -> tuple[Path, Path, Path]:
    """Write ZigZag 3.9.1's inputs for ``workload`` on ``acc`` into ``folder``: the paths of the
    hardware, mapping and workload YAML files. (Run on these alone, ZigZag keeps every layer's
    input and output in DRAM; :func:`zigzag_estimate` adds our on-chip decision.)"""
    if not workload.layers:
        raise InputError(f"workload {workload.name!r} has no layers")
    return _write(acc, zigzag_layers(acc, workload), folder)


# -- running ZigZag -------------------------------------------------------------------------------

def _stages():
    """ZigZag's energy-optimised pipeline (get_hardware_performance_zigzag's, without its save and
    visualisation stages), with ZigZag's stage that drops the DRAM level of a tensor kept on chip,
    and its cost model charging every layer our MAC energy and MACs per cycle."""
    from zigzag.cost_model.cost_model import CostModelEvaluation
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.exploit_data_locality_stages import ExploitInterLayerDataLocalityStage
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
    from zigzag.stages.mapping.temporal_mapping_generator_stage import TemporalMappingGeneratorStage
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage
    from zigzag.stages.parser.workload_parser import WorkloadParserStage
    from zigzag.stages.results.reduce_stages import MinimalEnergyStage
    from zigzag.stages.workload_iterator import WorkloadStage

    class LayerCostModelEvaluation(CostModelEvaluation):
        def __init__(self, *, mac_energy_pj: float, **kwargs):
            self.layer_mac_energy_pj = mac_energy_pj
            super().__init__(**kwargs)

        def calc_mac_energy_cost(self) -> None:
            self.mac_energy = self.layer_mac_energy_pj * self.layer.total_mac_count

        def _calc_memory_access(self, data_elem_move_per_period, data_precision, total_period_count, max_bw, min_bw,
                                layer_op, mem_lv) -> float:
            """ZigZag's count of port-wide accesses without its final int(): a wide port (DRAM at
            many bits per cycle) would otherwise round a layer's few accesses down to none."""
            if data_elem_move_per_period == 0 or data_precision == 0:
                return 0.0
            return (math.ceil(data_elem_move_per_period * data_precision / min_bw) * (min_bw / max_bw)
                    * total_period_count * self.mapping.spatial_mapping.unit_count[layer_op][mem_lv + 1])

    class LayerCostModelStage(CostModelStage):
        def run(self):
            mac_energy_pj, macs_per_cycle = self.kwargs["quanos_layer_costs"][self.layer.id]
            yield LayerCostModelEvaluation(
                mac_energy_pj=mac_energy_pj, cycles_per_op=1.0 / macs_per_cycle, accelerator=self.accelerator,
                layer=self.layer, spatial_mapping=self.spatial_mapping, spatial_mapping_int=self.spatial_mapping_int,
                temporal_mapping=self.temporal_mapping,
                access_same_data_considered_as_no_access=self.access_same_data_considered_as_no_access), None

    return [WorkloadParserStage, AcceleratorParserStage, WorkloadStage, ExploitInterLayerDataLocalityStage,
            MinimalEnergyStage,
            SpatialMappingGeneratorStage, MinimalEnergyStage, TemporalMappingGeneratorStage, LayerCostModelStage]


@contextlib.contextmanager
def _quiet_zigzag():
    """ZigZag logs every mapping at INFO and warns about clipped unrollings: keep its errors only."""
    logger = logging.getLogger("zigzag")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _dram_bits(cme, layer_op) -> float:
    """Bits of ``layer_op`` read from and written to the top memory level (DRAM) by one mapping."""
    from zigzag.mapping.data_movement import DataDirection, DataMoveAttr

    top = cme.mapping.mem_level[layer_op] - 1
    mem_op = cme.layer.memory_operand_links.layer_to_mem_op(layer_op)
    if cme.accelerator.get_memory_level(mem_op, top).memory_instance.name != DRAM_NAME:
        return 0.0  # kept on chip: its top level is a buffer
    move = cme.mapping.unit_mem_data_movement[layer_op][top]
    counts = move.get_attribute(DataMoveAttr.DATA_ELEM_MOVE_COUNT)
    bits = move.get_attribute(DataMoveAttr.DATA_PRECISION)
    units = cme.mapping.spatial_mapping.unit_count[layer_op][top + 1]
    return float(sum(counts.get(d) * bits.get(d) for d in DataDirection) * units)


def _layer_result(cme, layer: ZigzagLayer, batch: int, clock_hz: float) -> dict:
    """One layer's ZigZag result, energies per inference and cycles per batch (our estimate's units)."""
    names = {"W": "weights", "I": "inputs", "O": "outputs"}
    dram = {names.get(str(op), str(op)): _dram_bits(cme, op) / batch for op in cme.layer.layer_operands}
    return {"name": layer.name, "energy_pj": float(cme.energy_total) / batch,
            "mac_energy_pj": float(cme.mac_energy) / batch, "memory_energy_pj": float(cme.mem_energy) / batch,
            "latency_cycles": float(cme.latency_total2), "latency_s": float(cme.latency_total2) / clock_hz,
            "dram_bits": sum(dram.values()), "dram_bits_by_operand": dram,
            "spatial_utilization": float(cme.mac_spatial_utilization),
            "spatial_mapping": str(cme.layer.spatial_mapping), "temporal_mapping": str(cme.temporal_mapping)}


def _unique(layers: Sequence[ZigzagLayer]) -> tuple[list[ZigzagLayer], list[int]]:
    """Layers ZigZag costs the same (shape, precisions, costs, on-chip decision) run once: the
    distinct layers (no producer: ZigZag runs layer by layer) and each layer's index among them."""
    keys: dict[tuple, int] = {}
    unique, index = [], []
    for layer in layers:
        key = (layer.operator, tuple(layer.dims.items()), layer.weight_bits, layer.input_bits, layer.output_bits,
               layer.psum_bits, layer.mac_energy_pj, layer.macs_per_cycle, layer.geometry, layer.input_on_chip,
               layer.output_on_chip)
        if key not in keys:
            keys[key] = len(unique)
            unique.append(dataclasses.replace(layer, source=None))
        index.append(keys[key])
    return unique, index


def _locality(acc: Accelerator, layers: Sequence[ZigzagLayer], memory_names: list[str]) -> tuple[dict, int]:
    """ZigZag's (mem_update_list, mem_update_weight): per layer, the highest memory level (index in
    the hardware's memory list) holding its input and its output: the buffer where our model keeps
    the tensor on chip, DRAM otherwise; weights always up to DRAM."""
    from zigzag.datatypes import MemoryOperand

    top = len(memory_names) - 1
    level = {op: memory_names.index(acc.buffer_of(op).name) if acc.buffer_of(op) else top
             for op in ("inputs", "outputs")}
    updates = {i: {MemoryOperand(MEMORY_OPERAND["inputs"]): level["inputs"] if x.input_on_chip else top,
                   MemoryOperand(MEMORY_OPERAND["outputs"]): level["outputs"] if x.output_on_chip else top}
               for i, x in enumerate(layers)}
    return updates, top


def _run(acc: Accelerator, workload: Workload, on_chip: bool = True) -> dict:
    """ZigZag on ``workload`` in this process: per-layer and total results (see zigzag_estimate)."""
    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.stages.main import MainStage

    layers = zigzag_layers(acc, workload)
    if not on_chip:
        layers = [dataclasses.replace(x, input_on_chip=False, output_on_chip=False) for x in layers]
    unique, index = _unique(layers)
    updates, weight_level = _locality(acc, unique, list(hardware_yaml(acc, layers)["memories"]))
    costs = {i: (x.mac_energy_pj, x.macs_per_cycle) for i, x in enumerate(unique)}
    with tempfile.TemporaryDirectory(prefix="quanos_zigzag_") as tmp, _quiet_zigzag():
        hardware, mapping, work = _write(acc, unique, tmp)
        hardware.write_text(yaml.safe_dump(hardware_yaml(acc, layers), sort_keys=False))
        answers = MainStage(
            _stages(), accelerator=str(hardware), workload=str(work), mapping=str(mapping),
            loma_lpf_limit=LOMA_LPF_LIMIT, loma_show_progress_bar=False, nb_mappings_generated=SPATIAL_MAPPINGS,
            enable_mix_spatial_mapping_generation=False, access_same_data_considered_as_no_access=True,
            temporal_mapping_type=TemporalMappingType.UNEVEN, quanos_layer_costs=costs,
            mem_update_list=updates, mem_update_weight=weight_level).run()
    by_id = {layer_node.id: cme for cme, (layer_node, _) in answers}
    clock_hz = acc.clock_mhz * 1e6
    rows = [_layer_result(by_id[index[i]], layer, acc.batch, clock_hz) for i, layer in enumerate(layers)]
    return _totals(rows, clock_hz, tool=f"zigzag-dse {metadata.version('zigzag-dse')}")


def _totals(rows: list[dict], clock_hz: float, tool: str) -> dict:
    """Per-layer lists under our estimate's keys, and totals."""
    cycles = sum(r["latency_cycles"] for r in rows)
    return {"tool": tool, "layers": [r["name"] for r in rows],
            "energy_pj": [r["energy_pj"] for r in rows], "latency_s": [r["latency_s"] for r in rows],
            "dram_bits": [r["dram_bits"] for r in rows],
            "total_energy_pj": sum(r["energy_pj"] for r in rows), "total_latency_cycles": cycles,
            "total_latency_s": cycles / clock_hz, "per_layer": rows}


def _child(acc: Accelerator, workload: Workload, on_chip: bool, conn) -> None:
    try:
        conn.send(("ok", _run(acc, workload, on_chip)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _run_in_subprocess(acc: Accelerator, workload: Workload, on_chip: bool, timeout_s: float) -> dict:
    """_run in a spawned process, stopped after ``timeout_s`` (ZigZag cannot be interrupted in-process)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(acc, workload, on_chip, child), daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            raise TimeoutError(f"ZigZag did not finish {workload.name!r} on {acc.name!r} within {timeout_s:g} s")
        status, payload = parent.recv()
    finally:
        if process.is_alive():
            process.terminate()
        process.join()
    if status != "ok":
        raise RuntimeError(f"ZigZag failed on {workload.name!r} ({acc.name!r}): {payload}")
    return payload


def zigzag_estimate(acc: Accelerator, workload: Workload, timeout_s: float | None = None, *,
                    on_chip: bool = True) -> dict:
    """ZigZag's cost of ``workload`` on ``acc`` (energy-optimal LOMA mapping per layer).

    Returns ``energy_pj``, ``latency_s`` and ``dram_bits`` (lists, one per layer; energy and DRAM
    bits per inference, latency per batch, as our estimate), ``total_energy_pj``,
    ``total_latency_cycles``, ``total_latency_s`` (at the description's clock), ``layers`` (names)
    and ``per_layer`` (one dict per layer: MAC and memory energy, cycles, DRAM bits by operand,
    spatial utilisation and the mapping found). ``timeout_s``: run ZigZag in a subprocess and raise
    TimeoutError after that many seconds (None: run in this process, no limit). ``on_chip``: keep
    the activations our model keeps on chip there (default); False: ZigZag's own flow, every
    layer's input read from DRAM and its output written there.
    """
    if not zigzag_available():
        raise InputError(f"zigzag-dse {ZIGZAG_VERSION} is not installed (pip install 'quanos-hw[zigzag]')")
    if not workload.layers:
        raise InputError(f"workload {workload.name!r} has no layers")
    if timeout_s is None:
        return _run(acc, workload, on_chip)
    if not timeout_s > 0:
        raise InputError(f"timeout_s must be positive, got {timeout_s!r}")
    return _run_in_subprocess(acc, workload, on_chip, timeout_s)


def quanos_estimate(acc: Accelerator, workload: Workload) -> dict:
    """Our estimate of ``workload`` on ``acc`` under the keys of :func:`zigzag_estimate`."""
    layers = tuple(workload.layers)
    w = np.array([[layer.weight_bit_width for layer in layers]])
    a = np.array([[layer.act_bit_width for layer in layers]])
    est = estimate_accelerator(layers, w, a, accelerator=acc, input_bit_width=workload.input_bit_width)
    clock_hz = acc.clock_mhz * 1e6
    rows = [{"name": layer.name, "energy_pj": float(est.energy_pj[0, i]),
             "mac_energy_pj": float(est.mac_energy_pj[0, i]), "memory_energy_pj": float(est.memory_energy_pj[0, i]),
             "latency_cycles": float(est.latency_s[0, i]) * clock_hz, "latency_s": float(est.latency_s[0, i]),
             "dram_bits": float(est.dram_bits[0, i])} for i, layer in enumerate(layers)]
    return _totals(rows, clock_hz, tool="quanos-hw")


def check_points(base: Accelerator, points: list[dict], workloads: Sequence[Workload], k: int,
                 timeout_s: float | None = None) -> list[dict]:
    """ZigZag beside our estimate on the first ``k`` of ``points`` (best first).

    Each point is a dict of sweep keys (energy_models.dse); one with a ``workload`` key (a row of
    a DSE table) is checked on that workload only, other non-sweep keys are ignored. The
    description of a point is ``parse_accelerator(apply_point(base.to_dict(), point))``. One row
    per (point, workload): the point's keys, ``point`` (its index), ``workload``, our
    ``energy_pj``/``latency_s``/``dram_bits_per_layer`` and ZigZag's ``zigzag_energy_pj``,
    ``zigzag_latency_s``, ``zigzag_latency_cycles`` and ``zigzag_dram_bits_per_layer``.
    """
    from energy_models.accelerator import parse_accelerator
    from energy_models.dse import apply_point, check_keys, sweepable_keys

    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}")
    by_name = {wl.name: wl for wl in workloads}
    if not by_name:
        raise InputError("give at least one workload")
    known = set(sweepable_keys(base))
    rows = []
    for index, raw in enumerate(points[:k]):
        point = {key: v for key, v in raw.items() if key in known or key.startswith("mac.params.")}
        check_keys(base, point)
        acc = parse_accelerator(apply_point(base.to_dict(), point), f"at design point {point}")
        if "workload" in raw and raw["workload"] not in by_name:
            raise InputError(f"design point {index}: unknown workload {raw['workload']!r} "
                             f"(known: {', '.join(by_name)})")
        for wl in [by_name[raw["workload"]]] if "workload" in raw else list(by_name.values()):
            ours, zz = quanos_estimate(acc, wl), zigzag_estimate(acc, wl, timeout_s)
            rows.append({**point, "point": raw.get("point", index), "workload": wl.name, "layers": ours["layers"],
                         "energy_pj": ours["total_energy_pj"], "latency_s": ours["total_latency_s"],
                         "dram_bits_per_layer": ours["dram_bits"], "zigzag_energy_pj": zz["total_energy_pj"],
                         "zigzag_latency_s": zz["total_latency_s"], "zigzag_latency_cycles": zz["total_latency_cycles"],
                         "zigzag_dram_bits_per_layer": zz["dram_bits"]})
    return rows
