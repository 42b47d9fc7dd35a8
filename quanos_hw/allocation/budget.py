"""Energy budgets for bit allocation: the exact energy of a configuration and its pairwise table.

A configuration gives each layer one bit-width b_l for its weights and activations. Its energy
(energy_models.estimate) depends on b_l and on the bit-width of the layer that produced its input
(the MAC's activation operand and the bits read from the buffer), so the table an allocator needs
is pairwise: ``E[l, i, j]`` = energy of layer l at choice i when its input comes at choice j.

With an ``accelerator`` description the energies are those of
:func:`energy_models.accelerator_estimate.estimate_accelerator` with ``architecture`` in its PEs.
Where its buffers are bounded, whether a layer's input stays on chip also depends on the bits of
the layers before its producer, so the pairwise table is then an approximation; :meth:`energy`
stays exact (the allocators check their answer with it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from energy_models import DEFAULT_DATAFLOW, MAX_BITS, MIN_BITS, LayerSpec, estimate
from energy_models.accelerator import Accelerator
from energy_models.accelerator_estimate import estimate_accelerator
from energy_models.estimate import Estimate, input_sources

from ..accelerator import with_mac
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
    #: an accelerator description (its MAC replaced by ``architecture``); None: ``technology`` and ``dataflow``
    accelerator: Accelerator | None = None
    _kw: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.choices or any(not MIN_BITS <= b <= MAX_BITS for b in self.choices) or len(
                set(self.choices)) != len(self.choices):
            raise InputError(f"bit choices must be distinct integers in {MIN_BITS}..{MAX_BITS}, got {self.choices}")
        object.__setattr__(self, "choices", tuple(sorted(self.choices)))
        if not self.budget_pj > 0:
            raise InputError(f"energy budget must be positive, got {self.budget_pj}")
        if self.accelerator is None:
            kw = dict(architecture=self.architecture, technology=self.technology, dataflow=self.dataflow,
                      input_bit_width=self.input_bit_width)
        else:
            kw = dict(accelerator=with_mac(self.accelerator, self.architecture), input_bit_width=self.input_bit_width)
        object.__setattr__(self, "_kw", kw)

    @classmethod
    def from_fraction(cls, layers: Sequence[LayerSpec], architecture: str, fraction: float, **kw) -> BudgetProblem:
        """Budget = ``fraction`` of the uniform 16-bit energy on the same hardware."""
        if not 0 < fraction:
            raise InputError(f"budget fraction must be positive, got {fraction}")
        u16 = cls(tuple(layers), architecture, 1.0, **kw).uniform16_pj
        return cls(tuple(layers), architecture, float(fraction * u16), **kw)

    def _estimate(self, w: np.ndarray, input_bits: np.ndarray | None = None) -> Estimate:
        """The estimate of configurations ``w`` (w = a), inputs at ``input_bits`` if given."""
        if self.accelerator is None:
            return estimate(self.layers, w, w, input_bits=input_bits, **self._kw)
        return estimate_accelerator(self.layers, w, w, input_bits=input_bits, **self._kw)

    @property
    def uniform16_pj(self) -> float:
        return float(self.energy(np.full((1, len(self.layers)), 16))[0])

    def energy(self, bits: np.ndarray) -> np.ndarray:
        """Exact total energy (pJ) of configurations ``bits`` (configs, layers), w = a = bits."""
        return self._estimate(np.atleast_2d(bits)).total_energy_pj

    def pair_table(self) -> np.ndarray:
        """E[l, i, j]: layer l at choices[i] with inputs at choices[j] (all pairs, one estimate call)."""
        c = np.array(self.choices)
        own, inp = np.meshgrid(c, c, indexing="ij")
        n = len(self.layers)
        w = np.repeat(own.reshape(-1, 1), n, axis=1)
        a_in = np.repeat(inp.reshape(-1, 1), n, axis=1)
        return self._estimate(w, a_in).energy_pj.T.reshape(n, len(c), len(c))

    def unpaired_table(self) -> np.ndarray:
        """E[l, i] for layers without a producer layer: inputs at ``input_bit_width`` (network
        input) or at the layer's own bits (producer unknown). Rows of other layers are unused."""
        c = np.array(self.choices)
        n = len(self.layers)
        w = np.repeat(c[:, None], n, axis=1)
        src = self.sources()
        a_in = np.where(src[None, :] == -1, self.input_bit_width, w)
        return self._estimate(w, a_in).energy_pj.T

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
