"""Technology tables: energy per arithmetic operation and per memory access, as data files.

A table is a JSON (or YAML) file; every number carries its source::

    {"name": "...", "reference": "...",
     "int_add_pj":  {"8": {"value": 0.03, "source": "..."}, ...},     # by operand bits
     "int_mult_pj": {"8": {"value": 0.2,  "source": "..."}, ...},     # by operand bits
     "memories": {"dram": {"word_bits": 32,
                           "read_pj":  {"value": 640, "source": "..."},
                           "write_pj": {"value": 640, "source": "..."}}, ...}}

Shipped tables live in ``energy_models/data``; a user passes a path to their own. Derived
quantities (documented, so a user can check them by hand):

* multiplier energy is modelled as ``k * w * a`` (array-multiplier partial products), with ``k``
  the least-squares fit through the origin of the table's square entries: k = sum(e b^2) / sum(b^4);
* adder energy is linear interpolation in bits between entries, proportional outside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .checks import MAX_ENERGY_PJ, MAX_OPERAND_BITS, MAX_WORD_BITS, check_int, check_real
from .errors import InputError
from .safe_io import load_json_strict, load_yaml_strict, read_input_text


@dataclass(frozen=True)
class MemoryLevel:
    """One memory level: energy per access of a ``word_bits``-wide word."""

    name: str
    word_bits: int
    read_pj: float
    write_pj: float

    @property
    def read_pj_per_bit(self) -> float:
        return self.read_pj / self.word_bits

    @property
    def write_pj_per_bit(self) -> float:
        return self.write_pj / self.word_bits


@dataclass(frozen=True)
class Technology:
    """A validated technology table (energies in pJ)."""

    name: str
    reference: str
    int_add_pj: tuple[tuple[int, float], ...]
    int_mult_pj: tuple[tuple[int, float], ...]
    memories: tuple[MemoryLevel, ...]
    #: the CMOS node (nm) the table's energies hold at; None when the table does not say
    node_nm: float | None = None

    def memory(self, name: str) -> MemoryLevel:
        for level in self.memories:
            if level.name == name:
                return level
        known = ", ".join(m.name for m in self.memories)
        raise InputError(f"technology {self.name!r} has no memory level {name!r}; it has: {known}")

    @property
    def mult_coefficient_pj(self) -> float:
        """k in e_mult(w, a) = k * w * a, least squares through the origin on the table."""
        bits = np.array([b for b, _ in self.int_mult_pj], dtype=float)
        energy = np.array([e for _, e in self.int_mult_pj], dtype=float)
        return float(np.sum(energy * bits**2) / np.sum(bits**4))

    def mult_energy_pj(self, weight_bits, act_bits) -> np.ndarray:
        return self.mult_coefficient_pj * np.asarray(weight_bits, float) * np.asarray(act_bits, float)

    def add_energy_pj(self, bits) -> np.ndarray:
        """Adder energy at ``bits``: interpolated inside the table, proportional outside it."""
        xs = np.array([b for b, _ in self.int_add_pj], dtype=float)
        ys = np.array([e for _, e in self.int_add_pj], dtype=float)
        b = np.asarray(bits, dtype=float)
        inside = np.interp(b, xs, ys)
        below = ys[0] * b / xs[0]
        above = ys[-1] * b / xs[-1]
        return np.where(b < xs[0], below, np.where(b > xs[-1], above, inside))


#: data files in energy_models/data that are not technology tables
NON_TECHNOLOGY_FILES = frozenset({"architectures.json", "cacti_sram.json", "psma28.json", "stillmaker2017.json"})


def list_technologies() -> list[str]:
    """Names of the tables shipped in energy_models/data (the NON_TECHNOLOGY_FILES excluded)."""
    files = resources.files("energy_models").joinpath("data").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".json") and f.name not in NON_TECHNOLOGY_FILES)


def load_technology(name_or_path: str | Path = "horowitz45") -> Technology:
    """Load a shipped table by name, or a user table from a .json/.yaml/.yml path (read strictly:
    a regular UTF-8 file of bounded size; duplicate keys, NaN and Infinity are errors)."""
    text, origin = _read(name_or_path)
    where = f"technology table {origin}"
    if Path(str(name_or_path)).suffix in (".yaml", ".yml"):
        raw = load_yaml_strict(text, where)
    else:
        raw = load_json_strict(text, where)
    return parse_technology(raw, origin)


def _read(name_or_path: str | Path) -> tuple[str, str]:
    name = str(name_or_path)
    if name in list_technologies():
        return resources.files("energy_models").joinpath("data", f"{name}.json").read_text(), repr(name)
    path = Path(name)
    if not path.suffix:
        known = ", ".join(list_technologies())
        raise InputError(f"unknown technology {name!r}; use a shipped table ({known}) or a .json/.yaml file")
    return read_input_text(path, "technology file"), repr(name)


def _energy(entry: object, where: str) -> float:
    if not isinstance(entry, dict) or "value" not in entry:
        raise InputError(f"{where}: expected {{'value': <pJ>, 'source': <citation>}}, got {entry!r}")
    if not isinstance(entry.get("source"), str) or not entry["source"].strip():
        raise InputError(f"{where}: every number needs a 'source' citation")
    extra = sorted(set(entry) - {"value", "source"})
    if extra:
        raise InputError(f"{where}: unknown field(s) {extra}; allowed: ['source', 'value']")
    # zero is allowed (a cost a model leaves out, e.g. ZigZag's free adder); negative is not physical
    return check_real(entry["value"], f"{where}: energy", 0, MAX_ENERGY_PJ, unit="pJ")


def _by_bits(raw: dict, key: str, origin: str) -> tuple[tuple[int, float], ...]:
    table = raw.get(key)
    if not isinstance(table, dict) or not table:
        raise InputError(f"technology table {origin}: missing or empty {key!r}")
    out = []
    for bits, entry in table.items():
        if not (isinstance(bits, str) and bits.isdigit() or isinstance(bits, int) and not isinstance(bits, bool)):
            raise InputError(f"technology table {origin}: {key} key {bits!r} is not a bit-width")
        b = check_int(int(bits), f"technology table {origin}: {key} key {bits!r}", 1, MAX_OPERAND_BITS)
        out.append((b, _energy(entry, f"technology table {origin}: {key}[{bits}]")))
    if key == "int_mult_pj" and all(e == 0 for _, e in out):
        raise InputError(f"technology table {origin}: int_mult_pj must have a non-zero energy")
    if len({b for b, _ in out}) != len(out):
        raise InputError(f"technology table {origin}: {key} gives a bit-width twice")
    return tuple(sorted(out))


def parse_technology(raw: object, origin: str = "<dict>") -> Technology:
    """Validate a raw table (the parsed JSON) and build a :class:`Technology`."""
    if not isinstance(raw, dict):
        raise InputError(f"technology table {origin} must be an object, got {type(raw).__name__}")
    for key in ("name", "reference"):
        if not isinstance(raw.get(key), str):
            raise InputError(f"technology table {origin}: missing string field {key!r}")
    allowed = {"name", "reference", "description", "node_nm", "int_add_pj", "int_mult_pj", "memories"}
    extra = sorted(set(raw) - allowed)
    if extra:
        raise InputError(f"technology table {origin}: unknown field(s) {extra}; allowed: {sorted(allowed)}")
    memories_raw = raw.get("memories")
    if not isinstance(memories_raw, dict) or not memories_raw:
        raise InputError(f"technology table {origin}: missing or empty 'memories'")
    memories = []
    for name, entry in memories_raw.items():
        where = f"technology table {origin}: memories.{name}"
        if not isinstance(entry, dict):
            raise InputError(f"{where} must be an object")
        for key in ("word_bits", "read_pj", "write_pj"):
            if key not in entry:
                raise InputError(f"{where}: missing {key!r}")
        extra = sorted(set(entry) - {"word_bits", "read_pj", "write_pj", "description"})
        if extra:
            raise InputError(f"{where}: unknown field(s) {extra}; allowed: ['word_bits', 'read_pj', 'write_pj']")
        word = check_int(entry["word_bits"], f"{where}.word_bits", 1, MAX_WORD_BITS)
        memories.append(
            MemoryLevel(name, word, _energy(entry["read_pj"], f"{where}.read_pj"),
                        _energy(entry["write_pj"], f"{where}.write_pj"))
        )
    return Technology(
        name=raw["name"],
        reference=raw["reference"],
        int_add_pj=_by_bits(raw, "int_add_pj", origin),
        int_mult_pj=_by_bits(raw, "int_mult_pj", origin),
        memories=tuple(memories),
        node_nm=None if raw.get("node_nm") is None else check_real(
            raw["node_nm"], f"technology table {origin}: node_nm", 1, 1000, unit="nm"),
    )
