"""Memory traffic: which operand moves through which memory level, and how often.

A :class:`Dataflow` is a list of transfers ``(operand, level, access, count)``; the energy of a
transfer is ``bits moved * count * energy per bit of that level`` (``read_pj / word_bits`` or
``write_pj / word_bits``). Operands: ``weights`` (at the weight bit-width), ``inputs`` and
``inputs_padded`` (at the input activations' bit-width), ``outputs`` (at the layer's activation
bit-width).

Default dataflow ``weights_dram_acts_sram`` (docs/design.md §4): every weight is read once from DRAM;
input activations are read once from, and output activations written once to, an on-chip SRAM
buffer. It assumes activations fit on chip and ignores re-reads caused by tiling; replace it by
passing another Dataflow.

``dram_only`` moves every operand through DRAM once, with the zero-padded input, as ZigZag
(zigzag-dse 3.9.1) counts a single layer mapped on its tpu_like accelerator: configured with
ZigZag's DRAM (64-bit port, 700 pJ per read, 750 pJ per write) it reproduces ZigZag's DRAM
energies exactly (tests/energy_models/test_memory.py). Where the default differs from ZigZag:
it keeps activations on chip (ZigZag's per-layer view spills them to DRAM) and reads the
unpadded input (padding zeros are generated, not fetched).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError

OPERANDS = ("weights", "inputs", "inputs_padded", "outputs")
ACCESSES = ("read", "write")


@dataclass(frozen=True)
class Transfer:
    operand: str
    level: str
    access: str
    count: float = 1.0

    def __post_init__(self) -> None:
        if self.operand not in OPERANDS:
            raise InputError(f"dataflow operand must be one of {OPERANDS}, got {self.operand!r}")
        if self.access not in ACCESSES:
            raise InputError(f"dataflow access must be one of {ACCESSES}, got {self.access!r}")
        if isinstance(self.count, bool) or not isinstance(self.count, (int, float)) or self.count < 0:
            raise InputError(f"dataflow count must be a number >= 0, got {self.count!r}")


@dataclass(frozen=True)
class Dataflow:
    name: str
    transfers: tuple[Transfer, ...]

    @property
    def levels(self) -> list[str]:
        seen: list[str] = []
        for t in self.transfers:
            if t.level not in seen:
                seen.append(t.level)
        return seen


DATAFLOWS = {
    "weights_dram_acts_sram": Dataflow(
        "weights_dram_acts_sram",
        (Transfer("weights", "dram", "read"), Transfer("inputs", "sram", "read"),
         Transfer("outputs", "sram", "write")),
    ),
    "dram_only": Dataflow(
        "dram_only",
        (Transfer("weights", "dram", "read"), Transfer("inputs_padded", "dram", "read"),
         Transfer("outputs", "dram", "write")),
    ),
}
DEFAULT_DATAFLOW = "weights_dram_acts_sram"


def get_dataflow(dataflow: str | Dataflow | dict = DEFAULT_DATAFLOW) -> Dataflow:
    """A named dataflow, a Dataflow, or ``{"name": ..., "transfers": [{operand, level, access, count?}]}``."""
    if isinstance(dataflow, Dataflow):
        return dataflow
    if isinstance(dataflow, str):
        if dataflow not in DATAFLOWS:
            raise InputError(f"unknown dataflow {dataflow!r}; choose one of: {', '.join(DATAFLOWS)}")
        return DATAFLOWS[dataflow]
    if isinstance(dataflow, dict) and isinstance(dataflow.get("transfers"), list):
        try:
            transfers = tuple(Transfer(**t) for t in dataflow["transfers"])
        except TypeError as exc:
            raise InputError(f"dataflow transfer has bad fields: {exc}") from None
        return Dataflow(str(dataflow.get("name", "custom")), transfers)
    raise InputError("dataflow must be a name or an object with a 'transfers' list")
