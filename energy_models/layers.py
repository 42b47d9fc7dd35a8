"""Plain layer descriptions, the only model information the energy model needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

from .errors import InputError

#: ``LayerSpec.input_source`` value for a layer fed by the network input (the image).
NETWORK_INPUT = "@input"


@dataclass(frozen=True)
class LayerSpec:
    """One compute layer (conv or linear).

    Attributes:
        name: stable layer name (the model's ``named_modules()`` name).
        kind: "conv" or "linear".
        macs: multiply-accumulates per inference (batch 1).
        weights: weight elements (no bias).
        inputs: input activation elements read (unpadded).
        outputs: output activation elements written.
        weight_bit_width, act_bit_width: the layer's weight bits and output-activation bits.
        input_source: where the layer's input activations come from: the name of the layer that
            produced them (their precision is that layer's ``act_bit_width``), ``"@input"`` for the
            network input, or ``None`` when unknown (then the layer's own ``act_bit_width`` is
            used, docs/design.md §4's simple assumption).
        padded_inputs: input elements including zero padding (ZigZag counts these); defaults to
            ``inputs``.
        extra_params: bias and BatchNorm parameters, stored at the estimator's param bit-width.
        out_channels, in_channels, out_height, out_width, kernel_height, kernel_width, groups: the
            layer's loop dimensions (ZigZag's K, C, OY, OX, FY, FX, G; a linear layer has
            1x1 spatial and kernel extents); the accelerator model unrolls and tiles them. ``None``
            when unknown: :meth:`loop_dims` then treats the layer as a matrix-vector product of the
            same MACs (K = outputs, C = macs / outputs).
    """

    name: str
    kind: str
    macs: int
    weights: int
    inputs: int
    outputs: int
    weight_bit_width: int = 16
    act_bit_width: int = 16
    input_source: str | None = None
    padded_inputs: int | None = None
    extra_params: int = 0
    out_channels: int | None = None
    in_channels: int | None = None
    out_height: int | None = None
    out_width: int | None = None
    kernel_height: int | None = None
    kernel_width: int | None = None
    groups: int = 1

    def loop_dims(self) -> dict[str, int]:
        """The loop dimensions of one group (batch 1): K, C (input channels per group), OY, OX, FY,
        FX, and G (groups; K and C are per group, so MACs = G*K*C*OY*OX*FY*FX)."""
        if self.out_channels is None or self.in_channels is None:
            k = max(int(self.outputs), 1)
            return {"K": k, "C": max(int(self.macs) // k, 1), "OY": 1, "OX": 1, "FY": 1, "FX": 1, "G": 1}
        g = max(int(self.groups), 1)
        return {"K": self.out_channels // g, "C": self.in_channels // g, "OY": self.out_height or 1,
                "OX": self.out_width or 1, "FY": self.kernel_height or 1, "FX": self.kernel_width or 1, "G": g}

    @property
    def params(self) -> int:
        return self.weights + self.extra_params

    def to_dict(self) -> dict:
        return asdict(self)


def with_bits(layers: Sequence[LayerSpec], weight_bits: int | Sequence[int],
              act_bits: int | Sequence[int] | None = None) -> tuple[LayerSpec, ...]:
    """Copies of ``layers`` at other bit-widths: an int for every layer or one value per layer
    (``act_bits=None``: the weight bits). The bits are checked where they are used (estimate)."""
    n = len(layers)
    w = [weight_bits] * n if isinstance(weight_bits, int) else list(weight_bits)
    a = w if act_bits is None else ([act_bits] * n if isinstance(act_bits, int) else list(act_bits))
    if len(w) != n or len(a) != n:
        raise InputError(f"need one weight and one activation bit-width per layer ({n}), got {len(w)} and {len(a)}")
    return tuple(replace(layer, weight_bit_width=wb, act_bit_width=ab) for layer, wb, ab in zip(layers, w, a))
