"""The worst-case suites (config key ``robustness``): the strong attacks added to the configured
ones for the worst-case robust accuracy (docs/design.md §3, quanos_hw/worst_case.py). Each runs at
the reference eps on the first ``samples`` test images; AutoAttack's protocol then counts an image
as robust only if it survives every attack evaluated there. Gradient attacks run on the images
classified correctly, Square afterwards on those every white-box attack left robust.

``default`` keeps ``quanos run`` within its time budget on 2 CPU cores: APGD-CE (10 iterations, 1
restart; on a quantized model also through its float twin) and Square (300 queries) on the first
200 test images; measured on small_cnn/mnist5k with mixed bits, it adds 11 s to a quantized
model's evaluation (35.7 s -> 47.0 s), Square then attacking the 5 images APGD and PGD left. Most
of that is Square's 300 x 3 forward passes through Brevitas (about 8 ms each however few the
images: Python overhead of the quantizers). ``full`` is the complete suite with AutoAttack's
budgets: APGD-CE and APGD-DLR (100 iterations each) and Square (5000 queries) on the whole test set
(APGD-DLR only with at least 3 classes); estimated at about 16 minutes per quantized small_cnn on
mnist5k. ``quick`` is a smoke test of the machinery, not an evaluation (the test suite's runs use
it): APGD-CE (5 iterations) and Square (20 queries) on the first 100 images. The configured attacks
(FGSM, PGD) and the transfer attacks from the surrogate join every suite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from energy_models.registry import Registry

from .apgd_ce import APGDCrossEntropy
from .apgd_dlr import APGDDifferenceOfLogitsRatio
from .base import AttackSpec
from .square import Square


@dataclass(frozen=True)
class Suite:
    """A worst-case suite: ``build(eps, num_classes)`` gives its attacks at the reference eps;
    ``samples``: the first test images they run on (None: all)."""

    name: str
    samples: int | None
    build: Callable[[float, int], tuple[AttackSpec, ...]]

    def attacks(self, eps: float, num_classes: int) -> tuple[AttackSpec, ...]:
        return self.build(eps, num_classes)


def _default(eps: float, num_classes: int) -> tuple[AttackSpec, ...]:
    return APGDCrossEntropy(eps=(eps,), steps=10), Square(eps=(eps,), queries=300)


def _quick(eps: float, num_classes: int) -> tuple[AttackSpec, ...]:
    return APGDCrossEntropy(eps=(eps,), steps=5), Square(eps=(eps,), queries=20)


def _full(eps: float, num_classes: int) -> tuple[AttackSpec, ...]:
    dlr = (APGDDifferenceOfLogitsRatio(eps=(eps,), steps=100),) if num_classes >= 3 else ()
    return APGDCrossEntropy(eps=(eps,), steps=100), *dlr, Square(eps=(eps,), queries=5000)


#: suite name -> Suite (the values of config key ``robustness``)
SUITES: Registry[Suite] = Registry("robustness suite")
SUITES.register("quick")(Suite("quick", 100, _quick))
SUITES.register("default")(Suite("default", 200, _default))
SUITES.register("full")(Suite("full", None, _full))
