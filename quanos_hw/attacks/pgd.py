"""PGD, projected gradient descent on the loss (Madry et al., ICLR 2018), L-inf.

    x_0 = clip(x + U(-eps, eps), 0, 1)                       (random_start, else x_0 = x)
    x_{t+1} = clip(x + clip(x_t + alpha * sign(grad CE) - x, -eps, eps), 0, 1)

Inputs in [0, 1]; eval mode (restored afterwards). With ``random_start=False`` it matches
torchattacks 3.5.1 ``PGD`` bit for bit. ``seed`` makes the random start reproducible (a
private generator; ``None`` draws from torch's global RNG, as torchattacks does).

Shapes: x (N, C, H, W) float in [0, 1], y (N,) int64 -> (N, C, H, W). Defaults: 10 steps with
random start (docs/design.md §3); eps and alpha per dataset (alpha = eps / 4 when not given).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from ..bounds import SEED_MAX, Range, check_number
from ..errors import InputError
from .base import AttackSpec, check_eps, check_positive_int, eval_mode, input_gradient, register_attack


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int = 10,
        random_start: bool = True, seed: int | None = None) -> torch.Tensor:
    eps, alpha = check_eps(eps), check_eps(alpha, "alpha")
    check_positive_int(steps, "steps")
    with eval_mode(model):
        x = x.clone().detach()
        adv = x.clone().detach()
        if random_start:
            generator = torch.Generator(device=x.device).manual_seed(seed) if seed is not None else None
            noise = torch.empty_like(adv).uniform_(-eps, eps, generator=generator)
            adv = torch.clamp(adv + noise, min=0, max=1).detach()
        for _ in range(steps):
            grad = input_gradient(model, adv, y)
            adv = adv.detach() + alpha * grad.sign()
            delta = torch.clamp(adv - x, min=-eps, max=eps)
            adv = torch.clamp(x + delta, min=0, max=1).detach()
        return adv


def check_seed(seed: object, name: str) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InputError(f"attack {name!r}: seed must be an integer or null, got {seed!r}")
    check_number(seed, Range(0, SEED_MAX, optional=True), f"attack {name!r}: seed")


@register_attack("pgd")
@dataclass(frozen=True)
class PGD(AttackSpec):
    """PGD at each eps of ``eps``: ``steps`` steps of size ``alpha`` (eps / 4 when None), from a
    random start drawn with ``seed`` (None: the evaluation seed) when ``random_start``."""

    iterative = True
    randomized = True

    alpha: float | None = None
    steps: int = 10
    random_start: bool = True
    seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.alpha is not None:
            check_eps(self.alpha, f"attack {self.name!r} alpha")
        check_positive_int(self.steps, f"attack {self.name!r} steps")
        if not isinstance(self.random_start, bool):
            raise InputError(f"attack {self.name!r}: random_start must be true or false, got {self.random_start!r}")
        check_seed(self.seed, self.name)

    def perturb(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, seed: int) -> torch.Tensor:
        alpha = eps / 4 if self.alpha is None else self.alpha
        return pgd(model, x, y, eps=eps, alpha=alpha, steps=self.steps, random_start=self.random_start,
                   seed=self.seed if self.seed is not None else seed)

    def at_large_eps(self, eps: float, steps: int) -> PGD:
        return dataclasses.replace(self, eps=(eps,), alpha=eps / 4, steps=steps, random_start=False)
