"""Exact Pareto extraction (energy_models.pareto) against brute force."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from energy_models import InputError
from energy_models.pareto import pareto_front, pareto_mask


def brute_force(c: np.ndarray) -> np.ndarray:
    n = len(c)
    return np.array([not any(np.all(c[j] <= c[i]) and np.any(c[j] < c[i]) for j in range(n) if j != i)
                     for i in range(n)], dtype=bool)


@settings(max_examples=100, deadline=None)
@given(arrays(float, st.tuples(st.integers(0, 40), st.integers(1, 4)),
              elements=st.sampled_from([0.0, 1.0, 2.0, 3.0, 0.5, np.inf]) | st.floats(-1e6, 1e6)))
def test_matches_brute_force(costs):
    np.testing.assert_array_equal(pareto_mask(costs), brute_force(costs))


def test_hand_computed_front_with_ties():
    costs = [[1, 5], [2, 2], [5, 1], [3, 3], [2, 2], [1, 6]]
    # (3, 3) is dominated by (2, 2); (1, 6) by (1, 5); the two (2, 2) tie and both stay
    assert list(pareto_front(costs)) == [0, 1, 2, 4]


def test_single_objective_keeps_every_minimum():
    assert list(pareto_front([[3], [1], [2], [1]])) == [1, 3]


def test_large_front_is_exact():
    rng = np.random.default_rng(0)
    x = rng.random(2000)
    costs = np.stack([x, 1 - x], axis=1)  # every point on the front
    assert pareto_mask(costs).all()
    costs3 = rng.random((3000, 3))
    sample = rng.choice(3000, 300, replace=False)
    full = pareto_mask(costs3)
    # a point of the sample that is non-dominated in the full set is non-dominated in the sample
    assert np.all(pareto_mask(costs3[sample])[full[sample]])


@pytest.mark.parametrize("bad", [[[np.nan, 1.0]], [[-np.inf, 1.0]], [1.0, 2.0]])
def test_bad_costs(bad):
    with pytest.raises(InputError):
        pareto_mask(bad)
