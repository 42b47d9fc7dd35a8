import math

import numpy as np
import pytest

from quanos_hw import bits_from_ans
from quanos_hw.allocation import quanos_bits, quanos_rule_bits
from quanos_hw.errors import InputError


@pytest.mark.parametrize("ans, bits", [
    (0.0, 16), (1.0, 2), (3.7, 2), (math.inf, 2),
    (0.10, 14), (0.13, 14), (0.24, 12), (0.32, 11),   # docs/design.md §3, eps 8/255
    (0.31, 11), (0.44, 9), (0.48, 8), (0.82, 3), (1.26, 2),  # docs/design.md §3, eps 0.1
    (2.5 / 16, 13),  # half-up: 2.5 rounds to 3
    (1.5 / 16, 14), (0.5 / 16, 15), (0.49 / 16, 16),
])
def test_rule(ans, bits):
    assert quanos_bits(ans) == bits


def test_the_array_rule_is_the_scalar_rule():
    scores = [0.0, 0.10, 0.13, 2.5 / 16, 1.5 / 16, 0.49 / 16, 0.82, 1.26, math.inf]
    assert quanos_rule_bits(np.array(scores), 16, 2).tolist() == [quanos_bits(s) for s in scores]
    assert quanos_rule_bits(np.array([0.5, 0.9]), 8, 3).tolist() == [4, 3]


def test_k_init_and_k_min():
    assert quanos_bits(0.5, k_init=8, k_min=3) == 4
    assert quanos_bits(0.9, k_init=8, k_min=3) == 3


def test_bits_from_ans_builds_a_config():
    ans = {"a": 0.31, "b": 0.44, "c": 1.26}
    assert bits_from_ans(ans) == {
        "a": {"weight_bit_width": 11, "act_bit_width": 11},
        "b": {"weight_bit_width": 9, "act_bit_width": 9},
        "c": {"weight_bit_width": 2, "act_bit_width": 2},
    }
    keep = bits_from_ans(ans, first_last="keep")
    assert keep["a"]["weight_bit_width"] == keep["c"]["weight_bit_width"] == 16
    assert keep["b"]["weight_bit_width"] == 9
    assert bits_from_ans(ans, first_last=8)["c"] == {"weight_bit_width": 8, "act_bit_width": 8}
    assert bits_from_ans(ans, act_bits=8)["c"] == {"weight_bit_width": 2, "act_bit_width": 8}


@pytest.mark.parametrize("ans, kwargs, match", [
    ({"a": float("nan")}, {}, "ANS must be a number >= 0"),
    ({"a": -0.1}, {}, "ANS must be a number >= 0"),
    ({}, {}, "ANS is empty"),
    ({"a": 0.1}, {"k_min": 12, "k_init": 8}, "must not exceed"),
    ({"a": 0.1}, {"k_init": 17}, "between 2 and 16"),
    ({"a": 0.1}, {"first_last": "edges"}, "first_last must be"),
])
def test_bad_input(ans, kwargs, match):
    with pytest.raises(InputError, match=match):
        bits_from_ans(ans, **kwargs)
