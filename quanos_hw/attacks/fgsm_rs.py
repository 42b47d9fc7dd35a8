"""FGSM with a random start (Wong, Rice & Kolter, "Fast is better than free: revisiting
adversarial training", ICLR 2020), L-inf:

    x_0 = clip(x + U(-eps, eps), 0, 1)
    x_adv = clip(x + clip(x_0 + alpha * sign(grad_x CE(model(x_0), y)) - x, -eps, eps), 0, 1)

i.e. one PGD step of size ``alpha`` (the paper's 1.25 eps by default) from a uniform random
start. Inputs in [0, 1]; eval mode (restored). Equals torchattacks 3.5.1 ``FFGSM`` bit for bit
given the same random start (tests/quanos_hw/test_attacks.py). ``seed`` draws the start from a
private generator; ``None`` from torch's global RNG.

Shapes: x (N, C, H, W) float in [0, 1], y (N,) int64 -> (N, C, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import AttackSpec, check_eps, register_attack
from .pgd import check_seed, pgd

ALPHA_PER_EPS = 1.25  # Wong et al.'s step size


def fgsm_rs(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float | None = None,
            seed: int | None = None) -> torch.Tensor:
    alpha = ALPHA_PER_EPS * check_eps(eps) if alpha is None else alpha
    return pgd(model, x, y, eps=eps, alpha=alpha, steps=1, random_start=True, seed=seed)


@register_attack("fgsm_rs")
@dataclass(frozen=True)
class FGSMRandomStart(AttackSpec):
    """FGSM from a random start at each eps of ``eps``; step ``alpha`` (None: 1.25 eps); the start
    is drawn with ``seed`` (None: the evaluation seed)."""

    randomized = True

    alpha: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for eps in self.eps:
            check_eps(ALPHA_PER_EPS * eps if self.alpha is None else self.alpha, f"attack {self.name!r} alpha")
        check_seed(self.seed, self.name)

    def perturb(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, seed: int) -> torch.Tensor:
        return fgsm_rs(model, x, y, eps, self.alpha, self.seed if self.seed is not None else seed)
