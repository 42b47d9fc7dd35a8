"""Shared steps of every attack: argument checks, eval mode, the input gradient, and running an
attack batch-wise over a dataset with a progress bar (the role of torchattacks' ``Attack``)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..data import TensorData
from ..errors import InputError
from ..modes import eval_mode  # noqa: F401 - the attacks' eval mode, re-exported by quanos_hw.attacks

AttackFn = Callable[..., torch.Tensor]


def check_eps(eps: float, name: str = "eps") -> float:
    """eps (an L-inf budget in [0, 1] pixel space) as a float, or InputError."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps):
        raise InputError(f"{name} must be a number, got {eps!r}")
    if not 0.0 <= eps <= 1.0:
        raise InputError(f"{name} must be between 0 and 1 (pixels are in [0, 1]), got {eps}")
    return float(eps)


def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d mean-CE(model(x), y) / dx. Brevitas quantizers pass it by straight-through estimation.

    (torch.func.grad does not work through Brevitas layers; torch.autograd.grad does.)
    """
    x = x.clone().detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    return torch.autograd.grad(loss, x, retain_graph=False, create_graph=False)[0]


def attack_dataset(
    attack: AttackFn,
    model: nn.Module,
    data: TensorData,
    *,
    batch_size: int = 256,
    progress: bool = False,
    desc: str = "attack",
    **params,
) -> TensorData:
    """Adversarial copy of ``data``: ``attack(model, x, y, **params)`` batch by batch."""
    out = []
    steps = math.ceil(len(data) / batch_size)
    device = next(model.parameters()).device
    for x, y in tqdm(data.batches(batch_size), total=steps, desc=desc, disable=not progress, leave=False):
        out.append(attack(model, x.to(device), y.to(device), **params))
    return TensorData(torch.cat(out) if out else data.images[:0].float(), data.labels.to(device))
