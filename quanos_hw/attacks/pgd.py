"""PGD, projected gradient descent on the loss (Madry et al., ICLR 2018), L-inf.

    x_0 = clip(x + U(-eps, eps), 0, 1)                       (random_start, else x_0 = x)
    x_{t+1} = clip(x + clip(x_t + alpha * sign(grad CE) - x, -eps, eps), 0, 1)

Inputs in [0, 1]; eval mode (restored afterwards). With ``random_start=False`` it matches
torchattacks 3.5.1 ``PGD`` bit for bit. ``seed`` makes the random start reproducible (a
private generator; ``None`` draws from torch's global RNG, as torchattacks does).

Shapes: x (N, C, H, W) float in [0, 1], y (N,) int64 -> (N, C, H, W). Defaults: 10 steps with
random start (docs/design.md §3); eps and alpha per dataset.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError
from .base import check_eps, eval_mode, input_gradient


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int = 10,
        random_start: bool = True, seed: int | None = None) -> torch.Tensor:
    eps, alpha = check_eps(eps), check_eps(alpha, "alpha")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InputError(f"steps must be a positive integer, got {steps!r}")
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
