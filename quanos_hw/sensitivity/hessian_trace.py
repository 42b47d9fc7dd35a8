"""Hessian-trace sensitivity (HAWQ-V2, Dong et al., NeurIPS 2020; PyHessian, Yao et al. 2020).

For each layer l, the trace of the loss Hessian with respect to that layer's weights, by
Hutchinson's estimator with Rademacher vectors v:

    Tr(H_ll) = E_v[ v_l^T (H v)_l ]

(one Hessian-vector product per iteration serves every layer: the cross terms vanish in
expectation). As in PyHessian, iterations stop when the running mean of the total trace changes
by less than ``tol`` (relative, 1e-3), or after ``max_iter`` (100) Hessian-vector products. The score is the average
eigenvalue Tr(H_ll) / n_l, as HAWQ-V2 ranks layers; a negative estimate (a non-convex region, or
estimator noise near zero) scores 0. The model runs in eval mode.

Cost: each iteration is a forward pass and a double backward pass over every chosen batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..attacks import eval_mode
from ..data import Batches, iter_batches
from ..errors import InputError
from ..quantization import quant_layers


@dataclass(frozen=True)
class HessianTraces:
    traces: dict[str, float]      # Tr(H_ll)
    scores: dict[str, float]      # Tr(H_ll) / n_l
    hessian_vector_products: int


def hessian_trace(model: nn.Module, data: Batches, max_batches: int | None = None, batch_size: int = 128,
                  max_iter: int = 100, tol: float = 1e-3, seed: int = 0, progress: bool = False) -> dict[str, float]:
    """Average Hessian eigenvalue Tr(H_ll) / n_l per quantizable layer (see module docstring)."""
    return hutchinson(model, data, max_batches, batch_size, max_iter, tol, seed, progress).scores


def hutchinson(
    model: nn.Module,
    data: Batches,
    max_batches: int | None = None,
    batch_size: int = 128,
    max_iter: int = 100,
    tol: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
) -> HessianTraces:
    """Per-layer Hessian traces with the number of Hessian-vector products used."""
    layers = quant_layers(model)
    params = [layer.op.weight for layer in layers.values()]
    device = params[0].device
    batches = [(x.to(device), y.to(device)) for x, y in iter_batches(data, batch_size, max_batches)]
    if not batches:
        raise InputError("hessian_trace needs at least one batch of data")
    total = sum(len(y) for _, y in batches)
    generator = torch.Generator(device=device).manual_seed(seed)
    sums = torch.zeros(len(params), dtype=torch.float64)
    previous = None
    iterations = 0
    with eval_mode(model):
        for iterations in tqdm(range(1, max_iter + 1), desc="Hessian trace", disable=not progress, leave=False):
            vs = [torch.randint(0, 2, p.shape, generator=generator, device=device).float() * 2 - 1 for p in params]
            hv = [torch.zeros_like(p) for p in params]
            for x, y in batches:
                loss = F.cross_entropy(model(x), y) * (len(y) / total)
                grads = torch.autograd.grad(loss, params, create_graph=True)
                for acc, h in zip(hv, torch.autograd.grad(grads, params, grad_outputs=vs)):
                    acc.add_(h)
            sums += torch.tensor([float((v * h).sum()) for v, h in zip(vs, hv)], dtype=torch.float64)
            total_trace = float(sums.sum()) / iterations
            if previous is not None and abs(total_trace - previous) / (abs(previous) + 1e-6) < tol:
                break
            previous = total_trace
    traces = {name: float(t) for name, t in zip(layers, sums / iterations)}
    scores = {name: max(0.0, traces[name]) / p.numel() for name, p in zip(layers, params)}
    return HessianTraces(traces, scores, iterations)

