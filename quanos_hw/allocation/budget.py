"""Energy budgets for bit allocation: the exact energy of a configuration and its pairwise table.

A configuration gives each layer one bit-width b_l for its weights and activations. Its energy
(energy_models.estimate) depends on b_l and on the bit-width of the layer that produced its input
(the MAC's activation operand and the bits read from the buffer), so the table an allocator needs
is pairwise: ``E[l, i, j]`` = energy of layer l at choice i when its input comes at choice j.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from energy_models import DEFAULT_DATAFLOW, MAX_BITS, MIN_BITS, LayerSpec, estimate
from energy_models.estimate import input_sources

from ..errors import InputError

DEFAULT_CHOICES = (2, 3, 4, 6, 8, 12, 16)


class InfeasibleBudget(InputError):
    """No configuration of the allowed bit-widths fits the energy budget."""


@dataclass(frozen=True)
class BudgetProblem:
    layers: tuple[LayerSpec, ...]
    architecture: str
    budget_pj: float
    choices: tuple[int, ...] = DEFAULT_CHOICES
    technology: str = "horowitz45"
    dataflow: str = DEFAULT_DATAFLOW
    input_bit_width: int = 8
    _kw: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.choices or any(not MIN_BITS <= b <= MAX_BITS for b in self.choices) or len(
                set(self.choices)) != len(self.choices):
            raise InputError(f"bit choices must be distinct integers in {MIN_BITS}..{MAX_BITS}, got {self.choices}")
        object.__setattr__(self, "choices", tuple(sorted(self.choices)))
        if not self.budget_pj > 0:
            raise InputError(f"energy budget must be positive, got {self.budget_pj}")
        object.__setattr__(self, "_kw", dict(architecture=self.architecture, technology=self.technology,
                                             dataflow=self.dataflow, input_bit_width=self.input_bit_width))

    @classmethod
    def from_fraction(cls, layers: Sequence[LayerSpec], architecture: str, fraction: float, **kw) -> BudgetProblem:
        """Budget = ``fraction`` of the uniform 16-bit energy on the same hardware."""
        if not 0 < fraction:
            raise InputError(f"budget fraction must be positive, got {fraction}")
        u16 = estimate(list(layers), 16, 16, architecture=architecture,
                       **{k: v for k, v in kw.items() if k != "choices"}).total_energy_pj[0]
        return cls(tuple(layers), architecture, float(fraction * u16), **kw)

    @property
    def uniform16_pj(self) -> float:
        return float(self.energy(np.full((1, len(self.layers)), 16))[0])

    def energy(self, bits: np.ndarray) -> np.ndarray:
        """Exact total energy (pJ) of configurations ``bits`` (configs, layers), w = a = bits."""
        bits = np.atleast_2d(bits)
        return estimate(self.layers, bits, bits, **self._kw).total_energy_pj

    def pair_table(self) -> np.ndarray:
        """E[l, i, j]: layer l at choices[i] with inputs at choices[j] (all pairs, one estimate call)."""
        c = np.array(self.choices)
        own, inp = np.meshgrid(c, c, indexing="ij")
        n = len(self.layers)
        w = np.repeat(own.reshape(-1, 1), n, axis=1)
        a_in = np.repeat(inp.reshape(-1, 1), n, axis=1)
        est = estimate(self.layers, w, w, input_bits=a_in, **self._kw)
        return est.energy_pj.T.reshape(n, len(c), len(c))

    def unpaired_table(self) -> np.ndarray:
        """E[l, i] for layers without a producer layer: inputs at ``input_bit_width`` (network
        input) or at the layer's own bits (producer unknown). Rows of other layers are unused."""
        c = np.array(self.choices)
        n = len(self.layers)
        w = np.repeat(c[:, None], n, axis=1)
        src = self.sources()
        a_in = np.where(src[None, :] == -1, self.input_bit_width, w)
        return estimate(self.layers, w, w, input_bits=a_in, **self._kw).energy_pj.T

    def sources(self) -> np.ndarray:
        """Producer index per layer: >= 0 a layer, -1 the network input, -2 unknown (own bits)."""
        return input_sources(self.layers)


@dataclass(frozen=True)
class Allocation:
    """A policy's answer: the bits per layer, their energy, the budget, the policy's objective
    (or scale) and which solver answered."""

    bits: dict[str, dict[str, int]]
    energy_pj: float
    budget_pj: float
    objective: float
    solver: str

    def bit_list(self) -> list[int]:
        return [v["weight_bit_width"] for v in self.bits.values()]


def weight_error_proxy(choices: Sequence[int]) -> dict[int, float]:
    """Relative MSE of a uniform quantizer at b bits, up to a constant: 4^-b (the analytic proxy)."""
    return {b: 4.0 ** (-b) for b in choices}
