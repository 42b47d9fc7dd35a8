"""Adversarial attacks, one per file, registered by name (L-inf, [0, 1] pixel space)."""

from energy_models.registry import Registry

from .base import attack_dataset, check_eps, eval_mode, input_gradient
from .fgsm import fgsm
from .pgd import pgd

ATTACKS: Registry = Registry("attack")
ATTACKS.register("fgsm")(fgsm)
ATTACKS.register("pgd")(pgd)

__all__ = ["ATTACKS", "attack_dataset", "check_eps", "eval_mode", "fgsm", "input_gradient", "pgd"]
