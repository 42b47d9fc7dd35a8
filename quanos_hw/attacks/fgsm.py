"""FGSM, the Fast Gradient Sign Method (Goodfellow, Shlens & Szegedy, ICLR 2015).

    x_adv = clip(x + eps * sign(grad_x CE(model(x), y)), 0, 1)

L-inf, inputs in [0, 1]; the model runs in eval mode (its mode is restored). Matches
torchattacks 3.5.1 ``FGSM`` bit for bit (tests/quanos_hw/test_attacks.py).

Shapes: x (N, C, H, W) float in [0, 1], y (N,) int64 -> (N, C, H, W). Default eps: none (the
per-dataset budgets are in :class:`quanos_hw.data.DatasetInfo`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import AttackSpec, check_eps, eval_mode, input_gradient, register_attack


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    eps = check_eps(eps)
    with eval_mode(model):
        x = x.clone().detach()
        grad = input_gradient(model, x, y)
        return torch.clamp(x + eps * grad.sign(), min=0, max=1).detach()


@register_attack("fgsm")
@dataclass(frozen=True)
class FGSM(AttackSpec):
    """FGSM at each eps of ``eps`` (single step, deterministic)."""

    def perturb(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, seed: int) -> torch.Tensor:
        return fgsm(model, x, y, eps)
