"""Adversarial attacks, one per file, registered by name in :data:`ATTACKS` (L-inf, [0, 1] pixel
space). Each file holds the attack function and its :class:`AttackSpec` (its parameters),
registered with ``@register_attack``; importing it below is its one registry line. FGSM, FGSM with
a random start and PGD are written here; APGD-CE, APGD-DLR and Square wrap IBM's Adversarial
Robustness Toolbox (art_bridge.py). The worst-case suites are in suites.py."""

from __future__ import annotations

from .apgd_ce import APGDCrossEntropy, apgd_ce  # registers "apgd_ce"
from .apgd_dlr import APGDDifferenceOfLogitsRatio, apgd_dlr  # registers "apgd_dlr"
from .base import (
    ATTACKS,
    AttackSpec,
    attack_dataset,
    attack_spec,
    attack_specs,
    check_eps,
    eval_mode,
    input_gradient,
    register_attack,
)
from .fgsm import FGSM, fgsm  # registers "fgsm"
from .fgsm_rs import FGSMRandomStart, fgsm_rs  # registers "fgsm_rs"
from .pgd import PGD, pgd  # registers "pgd"
from .square import Square, square  # registers "square"


def default_attacks(info) -> tuple[AttackSpec, ...]:
    """The attacks evaluated when a config leaves ``attacks`` null (docs/design.md §3): FGSM at
    the dataset's eps list and PGD (10 steps, random start) at its PGD eps and step size."""
    return (FGSM(eps=tuple(info.fgsm_eps)),
            PGD(eps=(info.pgd_eps,), alpha=info.pgd_alpha, steps=10, random_start=True))


__all__ = ["ATTACKS", "FGSM", "PGD", "APGDCrossEntropy", "APGDDifferenceOfLogitsRatio", "AttackSpec",
           "FGSMRandomStart", "Square", "apgd_ce", "apgd_dlr", "attack_dataset", "attack_spec", "attack_specs",
           "check_eps", "default_attacks", "eval_mode", "fgsm", "fgsm_rs", "input_gradient", "pgd", "register_attack",
           "square"]
