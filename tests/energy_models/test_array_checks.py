import numpy as np
import pytest

from energy_models.array_checks import check_int_array, check_real_array, sourced_number
from energy_models.errors import InputError


def test_good_values_pass_through():
    assert check_real_array(2, "x", 0, 3).tolist() == 2.0
    assert check_real_array([1, 2.5], "x", 0, 3).tolist() == [1.0, 2.5]
    assert check_int_array(np.array([[8], [64]]), "w", 1, 64).shape == (2, 1)
    assert sourced_number({"value": 0.5, "source": "paper, Table 1"}, "e") == 0.5


@pytest.mark.parametrize("call, match", [
    (lambda: check_real_array([1, 4], "x", 0, 3), "x must be >= 0 and <= 3, got 4"),
    (lambda: check_real_array(0, "x", 0, 3, low_open=True, unit="V"), "x must be > 0 and <= 3 V, got 0"),
    (lambda: check_real_array(np.array([1, np.inf]), "x", 0, 3), "x must be a finite number, got inf"),
    (lambda: check_real_array(1j, "x", 0, 3), "x must be a finite number, got 1j"),
    (lambda: check_real_array([True], "x", 0, 3), r"x must be a finite number, got \[True\]"),
    (lambda: check_int_array(10**30, "w", 1, 64), "w must be an integer between 1 and 64, got 1000000000000000"),
    (lambda: check_int_array([8, 65], "w", 1, 64), "w must be an integer between 1 and 64, got 65"),
    (lambda: check_int_array(8.0, "w", 1, 64), "w must be an integer between 1 and 64, got 8.0"),
    (lambda: sourced_number({"value": 1}, "e"), "e: expected {'value': <number>, 'source': <citation>}"),
    (lambda: sourced_number({"value": 1, "source": " "}, "e"), "e: every number needs a 'source' citation"),
    (lambda: sourced_number({"value": True, "source": "s"}, "e"), "e must be a finite number, got True"),
    (lambda: sourced_number({"value": -1, "source": "s"}, "e", 0.0, True), "e must be > 0"),
])
def test_bad_values(call, match):
    with pytest.raises(InputError, match=match):
        call()
