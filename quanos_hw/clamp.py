"""A faster drop-in for Brevitas' ``TensorClamp`` in the activation quantizers, with the same results.

Brevitas clamps the rounded activation to the integer range with two ``torch.where`` passes (each
with its comparison), and autograd then runs a ``where`` backward per pass: six full-size passes
over every activation tensor of every training step. :class:`MaskedClamp` does one ``torch.clamp``
forward and one masked backward, with the gradient Brevitas' version gives: the incoming gradient
where ``min_val <= x <= max_val`` (bounds included), zero elsewhere. (``torch.clamp`` itself cannot
be used as it is: its backward with tensor bounds halves the gradient where ``x`` equals a bound,
which rounded activations often do.) The bounds come from the bit-width, which is not trained, so
they get no gradient; a bound that requires one is refused rather than silently detached.
Forward values and gradients are bit-identical to Brevitas' (tests/quanos_hw/test_clamp.py).
"""

from __future__ import annotations

import torch
from torch import nn


class _MaskedClampFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, min_val: torch.Tensor, max_val: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, min_val, max_val)
        return torch.clamp(x, min_val, max_val)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, min_val, max_val = ctx.saved_tensors
        inside = (x >= min_val).logical_and_(x <= max_val)
        return grad.where(inside, 0.0), None, None


class MaskedClamp(nn.Module):
    """``clamp(x, min_val, max_val)`` whose gradient passes where ``x`` is inside the closed range."""

    def __init__(self) -> None:  # Brevitas' injector needs an explicit signature
        super().__init__()

    def forward(self, x: torch.Tensor, min_val: torch.Tensor, max_val: torch.Tensor) -> torch.Tensor:
        if min_val.requires_grad or max_val.requires_grad:
            raise ValueError("MaskedClamp gives no gradient to its bounds; use Brevitas' TensorClamp for those")
        return _MaskedClampFunction.apply(x, min_val, max_val)
