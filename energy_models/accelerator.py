"""The accelerator description: a validated, frozen value object read from YAML or JSON.

An accelerator is a MAC architecture replicated over a PE array, a clock, a batch size, a
technology (a table plus a node) and a memory hierarchy: DRAM (energy per bit, bandwidth) and
on-chip buffers (capacity, word width, which operands each holds, energy per access given or
derived from the capacity). docs/hardware.md describes the format with an annotated example;
``energy_models/data/accelerators/`` ships documented examples. Every error names the field and is
one line (:class:`~energy_models.errors.InputError`).

The dimension names are ZigZag's: K (output channels), C (input channels), OY/OX (output rows and
columns), FY/FX (kernel rows and columns), B (batch).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .checks import MAX_ENERGY_PJ, MAX_UNITS, MAX_WORD_BITS, check_int, check_real, did_you_mean
from .errors import InputError
from .safe_io import load_json_strict, load_yaml_strict, read_input_text

#: loop dimensions an array axis can unroll
DIMENSIONS = ("K", "C", "OY", "OX", "FY", "FX", "B")
#: operands a buffer can hold
BUFFER_OPERANDS = ("weights", "inputs", "outputs")
STATIONARY = ("weights", "inputs", "outputs")
LATENCY_MODES = ("overlapped", "sequential")
#: bounds: far outside real designs, far inside what the arithmetic carries
MAX_CLOCK_MHZ = 100_000.0
MAX_BATCH = 65_536
MAX_CAPACITY_BYTES = 2.0**40
MAX_BANDWIDTH_GB_S = 1e6
MAX_AREA_MM2 = 1e5
MAX_DRAM_PJ_PER_BIT = 1e4
SCALING_NODE_RANGE_NM = (7.0, 180.0)
EXAMPLES_PACKAGE_DIR = ("data", "accelerators")


@dataclass(frozen=True)
class MacSpec:
    """The MAC architecture of every PE and overrides of its shipped parameters."""

    architecture: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ArraySpec:
    """rows x cols PEs; ``unroll_rows``/``unroll_cols`` name the dimension each axis unrolls, or
    both are None for ideal packing (every PE busy every cycle: today's cycle count)."""

    rows: int
    cols: int
    unroll_rows: str | None
    unroll_cols: str | None
    stationary: str = "weights"

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    @property
    def ideal(self) -> bool:
        return self.unroll_rows is None


@dataclass(frozen=True)
class DramSpec:
    """Off-chip memory: energy per bit moved and bandwidth (None: unbounded)."""

    read_pj_per_bit: float
    write_pj_per_bit: float
    bandwidth_gb_s: float | None


@dataclass(frozen=True)
class BufferSpec:
    """One on-chip buffer. ``capacity_bytes`` None: unbounded. Energies per ``word_bits`` word;
    None: derived from the capacity (energy_models.sram, CACTI points). ``area_mm2`` None: derived."""

    name: str
    operands: tuple[str, ...]
    capacity_bytes: float | None
    word_bits: int
    read_pj: float | None = None
    write_pj: float | None = None
    area_mm2: float | None = None
    #: equal banks the capacity is split into (BitFusion: one bank per PE row/column); derived
    #: energies are those of one bank, the derived area that of all banks
    banks: int = 1


@dataclass(frozen=True)
class Accelerator:
    """A validated accelerator description (see the module docstring and docs/hardware.md)."""

    name: str
    mac: MacSpec
    array: ArraySpec
    clock_mhz: float
    batch: int
    technology: str
    node_nm: float
    dram: DramSpec
    buffers: tuple[BufferSpec, ...]
    network_input_on_chip: bool = False
    latency: str = "overlapped"
    description: str = ""
    sources: dict = field(default_factory=dict)

    def buffer_of(self, operand: str) -> BufferSpec | None:
        """The buffer holding ``operand``, or None (streamed between DRAM and the array)."""
        for buffer in self.buffers:
            if operand in buffer.operands:
                return buffer
        return None

    def to_dict(self) -> dict:
        """The description as a JSON-ready dict (saved with every result); parse_accelerator of it
        gives back an equal Accelerator."""
        a = self.array
        return {
            "name": self.name, "description": self.description,
            "mac": {"architecture": self.mac.architecture, "params": dict(self.mac.params)},
            "array": {"rows": a.rows, "cols": a.cols, "stationary": a.stationary,
                      "unroll": "ideal" if a.ideal else {"rows": a.unroll_rows, "cols": a.unroll_cols}},
            "clock_mhz": self.clock_mhz, "batch": self.batch,
            "technology": {"table": self.technology, "node_nm": self.node_nm},
            "memory": {"dram": dataclasses.asdict(self.dram),
                       "buffers": [{**dataclasses.asdict(b), "operands": list(b.operands)} for b in self.buffers],
                       "network_input_on_chip": self.network_input_on_chip},
            "latency": self.latency,
            "sources": dict(self.sources),
        }

    def replace(self, **changes) -> Accelerator:
        return dataclasses.replace(self, **changes)


# -- reading -------------------------------------------------------------------------------------

def list_accelerators() -> list[str]:
    """Names of the shipped example descriptions."""
    folder = resources.files("energy_models").joinpath(*EXAMPLES_PACKAGE_DIR)
    return sorted(f.name[:-5] for f in folder.iterdir() if f.name.endswith(".yaml"))


def load_accelerator(name_or_path: str | Path) -> Accelerator:
    """A shipped example by name (see :func:`list_accelerators`) or a .yaml/.yml/.json file."""
    name = str(name_or_path)
    if name in list_accelerators():
        text = resources.files("energy_models").joinpath(*EXAMPLES_PACKAGE_DIR, f"{name}.yaml").read_text()
        suffix, origin = ".yaml", repr(name)
    else:
        path = Path(name)
        if path.suffix not in (".yaml", ".yml", ".json"):
            raise InputError(f"unknown accelerator {name!r}; use a shipped one ({', '.join(list_accelerators())}) "
                             f"or a .yaml/.json description file")
        text, suffix, origin = read_input_text(path, "accelerator description"), path.suffix, repr(name)
    where = f"accelerator {origin}"
    raw = load_json_strict(text, where) if suffix == ".json" else load_yaml_strict(text, where)
    return parse_accelerator(raw, origin)


# -- validation ----------------------------------------------------------------------------------

class _Fields:
    """Reads one object of the description, naming every field in errors as ``where.key``."""

    def __init__(self, raw: object, where: str, allowed: tuple[str, ...]) -> None:
        if not isinstance(raw, dict):
            raise InputError(f"{where} must be an object, got {type(raw).__name__}")
        extra = [k for k in raw if k not in allowed]
        if extra:
            raise InputError(f"{where}: unknown field {str(extra[0])!r}{did_you_mean(extra[0], list(allowed))} "
                             f"(allowed: {', '.join(allowed)})")
        self.raw, self.where = raw, where

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def get(self, key: str, default: object = None) -> object:
        return self.raw.get(key, default)

    def need(self, key: str) -> object:
        if self.raw.get(key) is None:
            raise InputError(f"{self.where}.{key} is missing")
        return self.raw[key]

    def real(self, key: str, low: float, high: float, unit: str, *, default: object = None,
             low_open: bool = True) -> float | None:
        value = self.raw.get(key, default)
        if value is None:
            return None
        return check_real(value, f"{self.where}.{key}", low, high, low_open=low_open, unit=unit)

    def int(self, key: str, low: int, high: int, default: int | None = None) -> int:
        value = self.raw.get(key, default)
        if value is None:
            raise InputError(f"{self.where}.{key} is missing")
        return check_int(value, f"{self.where}.{key}", low, high)

    def choice(self, key: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.raw.get(key, default)
        if value not in options:
            raise InputError(f"{self.where}.{key} must be one of {', '.join(options)}, got {value!r}"
                             f"{did_you_mean(value, list(options))}")
        return value

    def text(self, key: str, default: str = "") -> str:
        value = self.raw.get(key, default)
        if not isinstance(value, str):
            raise InputError(f"{self.where}.{key} must be a string, got {value!r}")
        return value


def parse_accelerator(raw: object, origin: str = "<dict>") -> Accelerator:
    """Validate a parsed description and build an :class:`Accelerator` (errors name the field)."""
    where = f"accelerator {origin}"
    top = _Fields(raw, where, ("name", "description", "mac", "array", "clock_mhz", "batch", "technology",
                               "memory", "latency", "sources"))
    tech = _Fields(top.need("technology"), f"{where}: technology", ("table", "node_nm"))
    table = tech.text("table", "horowitz45")
    node_nm = tech.real("node_nm", *SCALING_NODE_RANGE_NM, "nm", low_open=False)
    if node_nm is None:
        raise InputError(f"{where}: technology.node_nm is missing")
    sources = top.get("sources", {})
    if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
        raise InputError(f"{where}: sources must map field names to citation strings")
    name, description = top.text("name") or "accelerator", top.text("description")
    mac = _mac(top.need("mac"), f"{where}: mac")
    array = _array(top.need("array"), f"{where}: array")
    top.need("clock_mhz")
    clock_mhz = top.real("clock_mhz", 0, MAX_CLOCK_MHZ, "MHz")
    batch = top.int("batch", 1, MAX_BATCH, default=1)
    memory = _Fields(top.need("memory"), f"{where}: memory", ("dram", "buffers", "network_input_on_chip"))
    return Accelerator(
        name=name, description=description, mac=mac, array=array, clock_mhz=clock_mhz, batch=batch,
        technology=table,
        node_nm=node_nm,
        dram=_dram(memory.need("dram"), f"{where}: memory.dram"),
        buffers=_buffers(memory.raw, f"{where}: memory"),
        network_input_on_chip=_flag(memory.get("network_input_on_chip", False),
                                    f"{where}: memory.network_input_on_chip"),
        latency=top.choice("latency", LATENCY_MODES, "overlapped"),
        sources=dict(sources),
    )


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{where} must be true or false, got {value!r}")
    return value


def _mac(raw: object, where: str) -> MacSpec:
    from .architectures import ARCHITECTURES, list_architectures

    mac = _Fields(raw, where, ("architecture", "params"))
    name = mac.text("architecture")
    if name not in ARCHITECTURES:
        raise InputError(f"{where}.architecture: unknown MAC architecture {name!r}"
                         f"{did_you_mean(name, list_architectures())} (known: {', '.join(list_architectures())})")
    params = mac.get("params", {})
    if not isinstance(params, dict):
        raise InputError(f"{where}.params must be an object of parameter overrides")
    return MacSpec(name, dict(params))


def _array(raw: object, where: str) -> ArraySpec:
    array = _Fields(raw, where, ("rows", "cols", "unroll", "stationary"))
    rows = array.int("rows", 1, MAX_UNITS)
    cols = array.int("cols", 1, MAX_UNITS)
    if rows * cols > MAX_UNITS:
        raise InputError(f"{where}: rows x cols = {rows * cols:,} PEs; at most {MAX_UNITS:,}")
    unroll = array.need("unroll")
    if unroll == "ideal":
        axes: tuple[str | None, str | None] = (None, None)
    else:
        spec = _Fields(unroll, f"{where}.unroll", ("rows", "cols"))
        axes = (spec.choice("rows", DIMENSIONS), spec.choice("cols", DIMENSIONS))
        if axes[0] == axes[1]:
            raise InputError(f"{where}.unroll: rows and cols both unroll {axes[0]}; unroll two different dimensions")
    return ArraySpec(rows, cols, axes[0], axes[1], array.choice("stationary", STATIONARY, "weights"))


def _dram(raw: object, where: str) -> DramSpec:
    dram = _Fields(raw, where, ("read_pj_per_bit", "write_pj_per_bit", "bandwidth_gb_s"))
    read = dram.real("read_pj_per_bit", 0, MAX_DRAM_PJ_PER_BIT, "pJ/bit", default=dram.need("read_pj_per_bit"),
                     low_open=False)
    write = dram.real("write_pj_per_bit", 0, MAX_DRAM_PJ_PER_BIT, "pJ/bit", default=read, low_open=False)
    return DramSpec(read, write, dram.real("bandwidth_gb_s", 0, MAX_BANDWIDTH_GB_S, "GB/s"))


def _buffers(raw: dict, where: str) -> tuple[BufferSpec, ...]:
    items = raw.get("buffers", [])
    if not isinstance(items, list):
        raise InputError(f"{where}.buffers must be a list")
    buffers, owner = [], {}
    for i, item in enumerate(items):
        b = _Fields(item, f"{where}.buffers[{i}]",
                    ("name", "operands", "capacity_bytes", "word_bits", "banks", "read_pj", "write_pj", "area_mm2"))
        name = b.text("name") or f"buffer{i}"
        operands = b.need("operands")
        if not isinstance(operands, list) or not operands:
            raise InputError(f"{b.where}.operands must be a non-empty list of {', '.join(BUFFER_OPERANDS)}")
        for op in operands:
            if op not in BUFFER_OPERANDS:
                raise InputError(f"{b.where}.operands: unknown operand {op!r}{did_you_mean(op, list(BUFFER_OPERANDS))}"
                                 f" (known: {', '.join(BUFFER_OPERANDS)})")
            if op in owner:
                raise InputError(f"{b.where}.operands: {op} is already held by buffer {owner[op]!r}")
            owner[op] = name
        if name in ("dram", *(x.name for x in buffers)):
            raise InputError(f"{b.where}.name {name!r} is used twice (or is 'dram')")
        capacity = b.real("capacity_bytes", 0, MAX_CAPACITY_BYTES, "bytes") if b.has("capacity_bytes") else None
        if not b.has("capacity_bytes") and "capacity_bytes" not in b.raw:
            raise InputError(f"{b.where}.capacity_bytes is missing (null means unbounded)")
        energies = [b.real(k, 0, MAX_ENERGY_PJ, "pJ", low_open=False) for k in ("read_pj", "write_pj")]
        if capacity is None and None in energies:
            raise InputError(f"{b.where}: an unbounded buffer (capacity_bytes null) needs read_pj and write_pj")
        word_bits, banks = b.int("word_bits", 1, MAX_WORD_BITS), b.int("banks", 1, MAX_UNITS, default=1)
        if capacity is not None and 8 * capacity / banks < word_bits:
            raise InputError(f"{b.where}: capacity_bytes / banks = {capacity / banks:g} bytes per bank does not "
                             f"hold one {word_bits}-bit word")
        buffers.append(BufferSpec(name, tuple(operands), capacity, word_bits,
                                  energies[0], energies[1],
                                  b.real("area_mm2", 0, MAX_AREA_MM2, "mm2", low_open=False), banks))
    return tuple(buffers)


def capacity_bits(buffer: BufferSpec | None) -> float:
    """A buffer's capacity in bits (inf: unbounded; 0: no buffer)."""
    if buffer is None:
        return 0.0
    return math.inf if buffer.capacity_bytes is None else 8.0 * buffer.capacity_bytes
