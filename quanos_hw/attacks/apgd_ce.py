"""APGD-CE, Auto-PGD on the cross-entropy loss (Croce & Hein, "Reliable evaluation of adversarial
robustness with an ensemble of diverse parameter-free attacks", ICML 2020), L-inf: the first attack
of AutoAttack. Not re-implemented: ART 1.20.1's ``AutoProjectedGradientDescent`` (module
``art.attacks.evasion.auto_projected_gradient_descent``) with ``norm=np.inf``, ``eps``,
``eps_step`` (default 2 eps, AutoAttack's initial step: fra31/auto-attack autoattack/autopgd_base.py,
``alpha = 2.`` in ``attack_single_run``, commit a39220048b3c9f2cca9a4d3a54604793c68eca7e),
``max_iter = steps`` (default 100, AutoAttack's ``n_iter``: autoattack/autoattack.py, commit
6d836dfa7505ab95f44065c7a1a20deb241da543), ``nb_random_init = restarts`` (default 1, as in
AutoAttack's standard version), ``targeted=False``, ``loss_type="cross_entropy"``, on a
``PyTorchClassifier`` around the model (art_bridge.py). ART's APGD starts every restart from a
uniform random point of the eps-ball (NumPy's generator, seeded here), halves the step at the
checkpoints of the paper (``rho = 0.75``) and keeps, per image, the last iterate that fools the
model.

Shapes: x (N, C, H, W) float in [0, 1], y (N,) int64 -> (N, C, H, W).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .art_bridge import run_art_attack
from .base import AttackSpec, check_eps, check_positive_int, register_attack
from .pgd import check_seed

#: AutoAttack's APGD: 100 iterations, initial step 2 eps, 1 restart (sources in the docstring)
DEFAULT_STEPS = 100
STEP_PER_EPS = 2.0
MAX_RESTARTS = 100


def apgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, loss_type: str | None = "cross_entropy",
         loss: nn.Module | None = None, steps: int = DEFAULT_STEPS, restarts: int = 1, eps_step: float | None = None,
         seed: int = 0) -> torch.Tensor:
    """ART's APGD at L-inf ``eps`` maximising ``loss_type`` (ART's name), or with ``loss_type=None``
    the classifier loss ``loss`` (a ``torch.nn.modules.loss._Loss`` honouring ``reduction``)."""
    from art.attacks.evasion import AutoProjectedGradientDescent

    check_positive_int(steps, "steps")
    check_positive_int(restarts, "restarts", MAX_RESTARTS)
    step = STEP_PER_EPS * check_eps(eps) if eps_step is None else check_eps(eps_step, "eps_step")
    make = lambda classifier: AutoProjectedGradientDescent(
        classifier, norm=np.inf, eps=eps, eps_step=step, max_iter=steps, targeted=False, nb_random_init=restarts,
        batch_size=len(x), loss_type=loss_type, verbose=False)
    return run_art_attack(make, model, x, y, eps, seed, loss)


def apgd_ce(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = DEFAULT_STEPS,
            restarts: int = 1, eps_step: float | None = None, seed: int = 0) -> torch.Tensor:
    return apgd(model, x, y, eps, steps=steps, restarts=restarts, eps_step=eps_step, seed=seed)


@dataclass(frozen=True)
class APGDSpec(AttackSpec):
    """The parameters of an APGD attack: ``steps`` iterations, ``restarts`` random starts, initial
    step ``eps_step`` (None: 2 eps), random starts drawn with ``seed`` (None: the evaluation seed)."""

    iterative = True
    randomized = True

    steps: int = DEFAULT_STEPS
    restarts: int = 1
    eps_step: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self.steps, f"attack {self.name!r} steps")
        check_positive_int(self.restarts, f"attack {self.name!r} restarts", MAX_RESTARTS)
        if self.eps_step is not None:
            check_eps(self.eps_step, f"attack {self.name!r} eps_step")
        check_seed(self.seed, self.name)

    def at_large_eps(self, eps: float, steps: int) -> APGDSpec:
        return dataclasses.replace(self, eps=(eps,), steps=steps)


@register_attack("apgd_ce")
@dataclass(frozen=True)
class APGDCrossEntropy(APGDSpec):
    """APGD-CE (ART ``AutoProjectedGradientDescent``, ``loss_type="cross_entropy"``) at each eps."""

    def perturb(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, seed: int) -> torch.Tensor:
        return apgd_ce(model, x, y, eps, self.steps, self.restarts, self.eps_step,
                       self.seed if self.seed is not None else seed)
