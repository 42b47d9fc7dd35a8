"""The plumbing shared by the attacks taken from IBM's Adversarial Robustness Toolbox (ART,
``adversarial-robustness-toolbox`` 1.20.1, pinned in constraints.txt): a ``PyTorchClassifier``
around the model (inputs in [0, 1], ``clip_values=(0, 1)``; our models normalise their input
themselves, so ART is given no preprocessing), NumPy conversion, eval mode, and ART's random draws
(NumPy's and Python's global generators) seeded for the call and restored afterwards, so that an
attack is reproducible from its seed and leaves no trace on the caller's random state. The
model's parameters are frozen during the call (ART's ``loss_gradient`` calls ``backward()``,
which would otherwise fill their ``.grad``)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from .base import check_eps, eval_mode


@contextlib.contextmanager
def seeded_global_rngs(seed: int) -> Iterator[None]:
    """NumPy's and Python's global generators seeded with ``seed`` for the block, restored after."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    np.random.seed(seed)
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)


@contextlib.contextmanager
def frozen_parameters(model: nn.Module) -> Iterator[None]:
    """Parameters do not require gradients in the block (their flags are restored after)."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def art_classifier(model: nn.Module, x: torch.Tensor, loss: nn.Module | None = None):
    """ART's ``PyTorchClassifier`` on ``model`` for inputs shaped like ``x`` (in [0, 1]); ``loss``
    (default cross-entropy) is what a ``loss_type=None`` attack maximises."""
    from art.estimators.classification import PyTorchClassifier

    with torch.no_grad():
        num_classes = int(model(x[:1]).shape[1])
    return PyTorchClassifier(model=model, loss=loss if loss is not None else nn.CrossEntropyLoss(),
                             input_shape=tuple(x.shape[1:]), nb_classes=num_classes, clip_values=(0.0, 1.0),
                             device_type="gpu" if x.is_cuda else "cpu")


def run_art_attack(make_attack: Callable, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, seed: int,
                   loss: nn.Module | None = None) -> torch.Tensor:
    """``make_attack(classifier)`` (an ART evasion attack at L-inf budget ``eps``) run on the batch
    ``(x, y)`` with true labels, in eval mode, seeded by ``seed``; the result clipped to the eps-ball
    and [0, 1] (ART works in float32 NumPy). eps 0 returns ``x`` (ART refuses eps 0)."""
    eps = check_eps(eps)
    x = x.clone().detach()
    if eps == 0.0:
        return x
    with eval_mode(model), frozen_parameters(model), seeded_global_rngs(seed):
        attack = make_attack(art_classifier(model, x, loss))
        adv = attack.generate(x=x.cpu().numpy().astype(np.float32), y=y.cpu().numpy())
    adv = torch.from_numpy(adv).to(device=x.device, dtype=x.dtype)
    return torch.clamp(torch.min(torch.max(adv, x - eps), x + eps), 0, 1).detach()
