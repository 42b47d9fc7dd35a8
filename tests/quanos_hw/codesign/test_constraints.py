import pytest

from energy_models.dse import DseTable
from quanos_hw.codesign.constraints import meets, parse_constraint
from quanos_hw.errors import InputError

TABLE = DseTable({"energy_pj": [2e6, 5e6, 1e6], "latency_s": [3e-3, 1e-3, 9e-3], "area_mm2": [1.0, 2.0, float("nan")],
                  "edp_j_s": [1.0, 1.0, 1.0]})


def test_constraints_keep_the_rows_within_every_bound():
    assert meets(TABLE, {"energy": 3.0, "latency": 5}).tolist() == [True, False, False]
    assert meets(TABLE, {}).all()
    assert meets(TABLE, {"area": 10}).tolist() == [True, True, False]  # an unknown area meets no bound


def test_the_constraint_no_row_meets_is_named_with_the_best_value():
    with pytest.raises(InputError, match=r"constraint latency <= 0.5 ms: the best latency reached is 1 ms"):
        meets(TABLE, {"latency": 0.5})
    with pytest.raises(InputError, match=r"area <= 1.5 mm².*among those meeting energy <= 2.5 µJ is 2 mm²"):
        meets(DseTable({**TABLE.columns, "area_mm2": [2.0, 1.0, 3.0]}), {"energy": 2.5, "area": 1.5})


@pytest.mark.parametrize("text, expected", [("area<=2.5", ("area", 2.5)), (" latency <= 3 ", ("latency", 3.0))])
def test_parse(text, expected):
    assert parse_constraint(text) == expected


@pytest.mark.parametrize("text, match", [("power<=3", "unknown constraint"), ("area>=3", "NAME<=VALUE"),
                                         ("area<=-1", "positive"), ("area<=x", "not a number")])
def test_parse_refuses(text, match):
    with pytest.raises(InputError, match=match):
        parse_constraint(text)
