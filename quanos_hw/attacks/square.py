"""Square attack (Andriushchenko, Croce, Flammarion & Hein, ECCV 2020), L-inf: score-based and
gradient-free, the black-box component of AutoAttack. It only reads the model's logits, so a model
that masks its gradients (a rounding step, a coarse quantizer) cannot hide from it. Not
re-implemented: ART 1.20.1's ``SquareAttack`` (module ``art.attacks.evasion.square_attack``) with
``norm=np.inf``, ``eps``, ``max_iter = queries`` (default 5000, AutoAttack's ``n_queries``),
``p_init`` (default 0.8, AutoAttack's; both from fra31/auto-attack autoattack/autoattack.py, commit
6d836dfa7505ab95f44065c7a1a20deb241da543), ``nb_restarts = restarts`` (default 1) and ART's margin
loss (true logit minus the largest other), on a ``PyTorchClassifier`` around the model
(art_bridge.py). ART starts from vertical stripes of +-eps and then, per iteration, tries one
random square of side ``round(sqrt(p * H * W))`` (``p`` shrinking from ``p_init`` on the paper's
schedule) with a random +-2 eps per channel, shared by the batch, and keeps it for the images whose
margin drops. Random draws from NumPy's generator, seeded here.

Shapes: x (N, C, H, W) float in [0, 1], y (N,) int64 -> (N, C, H, W).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..bounds import Range, check_number
from ..errors import InputError
from .art_bridge import run_art_attack
from .base import AttackSpec, check_positive_int, register_attack
from .pgd import check_seed

#: AutoAttack's Square: 5000 queries, p_init 0.8, 1 restart (sources in the docstring)
DEFAULT_QUERIES = 5000
DEFAULT_P_INIT = 0.8
MAX_QUERIES = 100_000
MAX_RESTARTS = 100


def check_square_fits(x: torch.Tensor, p_init: float) -> None:
    """ART draws the square's corner in ``[0, H - side)``: the first square must be smaller than the image."""
    height, width = int(x.shape[-2]), int(x.shape[-1])
    side = max(int(round(math.sqrt(p_init * height * width))), 1)
    if side >= min(height, width):
        raise InputError(f"attack 'square': its first square ({side} px, p_init {p_init}) does not fit in "
                         f"{height}x{width} images; lower p_init")


def square(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, queries: int = DEFAULT_QUERIES,
           p_init: float = DEFAULT_P_INIT, restarts: int = 1, seed: int = 0) -> torch.Tensor:
    from art.attacks.evasion import SquareAttack

    check_positive_int(queries, "queries", MAX_QUERIES)
    check_positive_int(restarts, "restarts", MAX_RESTARTS)
    check_number(p_init, Range(0, 1, low_open=True), "p_init")
    check_square_fits(x, p_init)
    make = lambda classifier: SquareAttack(classifier, norm=np.inf, max_iter=queries, eps=eps, p_init=p_init,
                                           nb_restarts=restarts, batch_size=len(x), verbose=False)
    return run_art_attack(make, model, x, y, eps, seed)


@register_attack("square")
@dataclass(frozen=True)
class Square(AttackSpec):
    """The Square attack at each eps of ``eps``: ``queries`` iterations (one candidate per image
    each), initial square fraction ``p_init``, ``restarts`` runs, random draws from ``seed`` (None:
    the evaluation seed). Gradient-free: the masking check compares it with the best gradient attack."""

    iterative = True
    randomized = True
    uses_gradients = False

    queries: int = DEFAULT_QUERIES
    p_init: float = DEFAULT_P_INIT
    restarts: int = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self.queries, f"attack {self.name!r} queries", MAX_QUERIES)
        check_positive_int(self.restarts, f"attack {self.name!r} restarts", MAX_RESTARTS)
        if isinstance(self.p_init, bool) or not isinstance(self.p_init, (int, float)):
            raise InputError(f"attack {self.name!r} p_init must be a number, got {self.p_init!r}")
        check_number(self.p_init, Range(0, 1, low_open=True), f"attack {self.name!r} p_init")
        check_seed(self.seed, self.name)

    def perturb(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, seed: int) -> torch.Tensor:
        return square(model, x, y, eps, self.queries, self.p_init, self.restarts,
                      self.seed if self.seed is not None else seed)
