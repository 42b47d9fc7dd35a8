"""Weight-noise sensitivity: the accuracy a layer loses when its weights are perturbed.

For each layer l alone, Gaussian noise of relative size ``relative_noise`` (noise norm =
relative_noise * ||W_l||) is added to its weights and the accuracy drop on the chosen batches is
measured, averaged over ``trials`` draws; the weights are restored afterwards. A score is
clipped at 0 (noise that happens to help is no sensitivity). Eval mode, seeded.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from ..attacks import eval_mode
from ..data import Batches, iter_batches
from ..errors import InputError
from ..quantization import quant_layers


@torch.no_grad()
def _accuracy(model: nn.Module, batches) -> float:
    correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in batches)
    return correct / sum(len(y) for _, y in batches)


@torch.no_grad()
def weight_noise(model: nn.Module, data: Batches, max_batches: int | None = None, batch_size: int = 128,
                 relative_noise: float = 0.5, trials: int = 3, seed: int = 0, progress: bool = False
                 ) -> dict[str, float]:
    """Mean accuracy drop per quantizable layer when only its weights are perturbed (module docstring)."""
    layers = quant_layers(model)
    device = next(model.parameters()).device
    batches = [(x.to(device), y.to(device)) for x, y in iter_batches(data, batch_size, max_batches)]
    if not batches:
        raise InputError("weight_noise needs at least one batch of data")
    generator = torch.Generator(device=device).manual_seed(seed)
    scores = {}
    with eval_mode(model):
        base = _accuracy(model, batches)
        for name, layer in tqdm(layers.items(), desc="weight noise", disable=not progress, leave=False):
            weight = layer.op.weight
            original = weight.detach().clone()
            drops = []
            for _ in range(trials):
                noise = torch.randn(weight.shape, generator=generator, device=device)
                weight.copy_(original + noise * (relative_noise * original.norm() / noise.norm()))
                drops.append(base - _accuracy(model, batches))
            weight.copy_(original)
            scores[name] = max(0.0, sum(drops) / trials)
    return scores
