"""Shared steps of the per-layer sensitivity metrics: validation, batch counting, activation capture."""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
from torch import nn

from ..data import Batches, TensorData
from ..errors import InputError
from ..quantization import quant_layers

ACTIVATION_POINTS = ("post", "pre")


def check_activation_point(point: str) -> str:
    if point not in ACTIVATION_POINTS:
        raise InputError(f"activation must be one of {ACTIVATION_POINTS}, got {point!r}")
    return point


def batch_count(data: Batches, batch_size: int, max_batches: int | None) -> int | None:
    """How many batches :func:`quanos_hw.data.iter_batches` yields (None when the iterable has no length)."""
    if isinstance(data, TensorData):
        steps = math.ceil(len(data) / batch_size)
    else:
        try:
            steps = len(data)
        except TypeError:
            return max_batches
    return steps if max_batches is None else min(steps, max_batches)


@contextmanager
def capture_activations(model: nn.Module, point: str = "post"):
    """Record each quantizable layer's activation during forward passes.

    Yields a dict ``{layer name: tensor}`` filled by the next forward pass: the float tensor
    that the layer's activation quantizer sees ('post': after BN, residual add and ReLU) or the
    tensor before the ReLU ('pre'). Hooks are removed on exit.
    """
    check_activation_point(point)
    store: dict[str, torch.Tensor] = {}
    handles = []
    for name, layer in quant_layers(model).items():
        def hook(module, args, name=name, layer=layer):
            store[name] = layer.activation_point(args[0], point)
        handles.append(layer.act.register_forward_pre_hook(hook))
    try:
        yield store
    finally:
        for h in handles:
            h.remove()
