"""Capacity-aware memory traffic: which operand bits cross DRAM and each buffer, per layer.

Per layer and batch, with ``W = weights * w``, ``I = inputs * a_in * B`` and ``O = outputs * a_out *
B`` bits and ``cap_X`` the capacity (bits) of the buffer holding operand X (0 when X has no
buffer, inf when unbounded):

1. **Activations between layers.** A layer's output stays on chip when it fits the buffer that
   holds outputs (together with the layer's inputs when one buffer holds both):
   ``O + [shared] I <= cap_O``. A layer's input is on chip when its producer's output stayed
   there and it fits ``cap_I``; the network input is on chip only if the description says so;
   an input of unknown producer is on chip when it fits ``cap_I``. On-chip inputs cost no DRAM
   read, on-chip outputs no DRAM write.
2. **Tiling when operands do not fit.** If the weights fit (``W <= cap_W``) or the inputs do,
   that operand stays resident while the other streams through once: every operand crosses DRAM
   once. If neither fits, the layer is tiled along a non-reduction dimension (partial sums stay in
   the PE accumulators) and the cheaper of two loop orders is taken:

   * weight tiles, ``n_K = ceil(W / cap_W)``: weights once, inputs re-streamed ``n_K`` times:
     ``W + n_K * I``;
   * input tiles, ``n_P = ceil(I / cap_I)``: inputs once, weights re-streamed ``n_P`` times:
     ``n_P * W + I``.

   Fewer bits make more fit, so traffic falls with precision; a larger batch amortises the weight
   fetches over B inferences but makes the activations larger. Input-tile halos are ignored.
3. **Buffers.** A buffered operand is written into its buffer once per DRAM fill (outputs: once
   when produced) and read into the array ``passes x spatial re-reads`` times (energy_models.spatial);
   an output that does not stay on chip is also read once to drain it to DRAM. An operand with no
   buffer streams between DRAM and the array, so its array re-reads are DRAM reads.

All arrays broadcast: per-layer counts (L,) against bits (N, L) and design parameters (D, 1, 1).
This is an analytical model, not a mapping search: docs/hardware.md says what ZigZag and
Timeloop add.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Traffic:
    """Bits moved per layer and batch; every entry broadcasts to (..., N, L) (0.0 where nothing moves)."""

    dram_read_bits: dict[str, np.ndarray]  # operand -> bits read from DRAM
    dram_write_bits: np.ndarray  # output bits written to DRAM
    buffer_read_bits: dict[str, np.ndarray]  # operand -> bits read from its buffer
    buffer_write_bits: dict[str, np.ndarray]  # operand -> bits written into its buffer
    weight_passes: np.ndarray  # times the weights cross DRAM (per batch)
    input_passes: np.ndarray  # times the inputs stream from their source

    @property
    def dram_bits(self) -> np.ndarray:
        return self.dram_read_bits["weights"] + self.dram_read_bits["inputs"] + self.dram_write_bits


def tile_passes(w_bits, i_bits, cap_w, cap_i, inputs_on_chip):
    """(weight passes, input passes) of the cheaper loop order (module docstring, rule 2). Bits are
    positive; a capacity of 0 (no buffer) gives an infinite tile count, so that order is never taken."""
    resident = (w_bits <= cap_w) | (i_bits <= cap_i) | inputs_on_chip
    with np.errstate(divide="ignore", over="ignore"):
        n_k = np.ceil(w_bits / cap_w)
        n_p = np.ceil(i_bits / cap_i)
    cost_k = w_bits + n_k * i_bits
    cost_p = i_bits + n_p * w_bits
    k_order = cost_k <= cost_p
    tiled = ~(resident | (np.isinf(cost_k) & np.isinf(cost_p)))  # no buffer at all: both stream once
    return np.where(tiled & ~k_order, n_p, 1.0), np.where(tiled & k_order, n_k, 1.0)


def activations_on_chip(i_bits, o_bits, cap_i, cap_o, shared_io: bool, sources: np.ndarray,
                        network_input_on_chip: bool):
    """(inputs on chip, outputs stay on chip) per layer (module docstring, rule 1)."""
    out_on_chip = (o_bits + (i_bits if shared_io else 0.0)) <= cap_o
    fits_i = i_bits <= cap_i
    out_b, fits_b = np.broadcast_arrays(out_on_chip, fits_i)
    producer = out_b[..., np.maximum(sources, 0)]
    inputs = np.where(sources >= 0, producer & fits_b, np.where(sources == -1, network_input_on_chip & fits_b, fits_b))
    return inputs, out_b


def memory_traffic(w_bits, i_bits, o_bits, caps: dict[str, object], buffered: dict[str, bool],
                   shared_io: bool, sources: np.ndarray, network_input_on_chip: bool,
                   rereads: dict[str, np.ndarray]) -> Traffic:
    """Bits per operand through DRAM and the buffers (the module docstring's rules)."""
    inputs_on_chip, outputs_on_chip = activations_on_chip(i_bits, o_bits, caps["inputs"], caps["outputs"],
                                                          shared_io, sources, network_input_on_chip)
    n_w, n_i = tile_passes(w_bits, i_bits, caps["weights"], caps["inputs"], inputs_on_chip)
    streamed_w = w_bits * n_w
    streamed_i = i_bits * n_i
    array_w = streamed_w * rereads["weights"]
    array_i = streamed_i * rereads["inputs"]
    dram_w = streamed_w if buffered["weights"] else array_w
    dram_i = np.where(inputs_on_chip, 0.0, streamed_i if buffered["inputs"] else array_i)
    out_to_dram = np.where(outputs_on_chip, 0.0, o_bits) if buffered["outputs"] else o_bits
    zero = 0.0  # an unbuffered operand moves no bits through a buffer (a scalar broadcasts)
    return Traffic(
        dram_read_bits={"weights": dram_w, "inputs": dram_i},
        dram_write_bits=out_to_dram,
        buffer_read_bits={"weights": array_w if buffered["weights"] else zero,
                          "inputs": array_i if buffered["inputs"] else zero,
                          "outputs": out_to_dram if buffered["outputs"] else zero},
        buffer_write_bits={"weights": dram_w if buffered["weights"] else zero,
                           "inputs": dram_i if buffered["inputs"] else zero,
                           "outputs": o_bits if buffered["outputs"] else zero},
        weight_passes=n_w,
        input_passes=n_i,
    )
