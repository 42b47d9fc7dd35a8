import numpy as np
import pytest

from quanos_hw.codesign.select import spread
from quanos_hw.errors import InputError

# a 2-D front: x from 0 to 1 in 11 steps, y = (1 - x)^2 (minimised both)
X = np.linspace(0, 1, 11)
FRONT = np.stack([X, (1 - X) ** 2], axis=1)


def test_extremes_first_then_spread_across_the_front():
    chosen = spread(FRONT, 4)
    assert chosen[:2] == [0, 10]  # argmin of x, argmin of y
    assert len(set(chosen)) == 4
    gaps = np.diff(np.sort(X[chosen]))
    assert gaps.min() >= 0.2  # spread, not clustered next to an extreme


def test_selection_is_deterministic_and_bounded():
    shuffled = FRONT[np.random.default_rng(0).permutation(11)]
    assert spread(shuffled, 5) == spread(shuffled.copy(), 5)
    assert spread(FRONT, 20) == list(range(11))
    assert spread(np.zeros((5, 2)), 3) == [0, 1, 2]  # equal rows: each chosen once


def test_no_finalist_is_refused():
    with pytest.raises(InputError, match="at least 1"):
        spread(FRONT, 0)
