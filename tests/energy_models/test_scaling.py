"""Technology-node scaling (energy_models/scaling.py) against the Stillmaker & Baas table."""

import itertools
import json
import math
from importlib import resources

import numpy as np
import pytest

from energy_models.errors import InputError
from energy_models.scaling import (
    area_scale,
    delay_scale,
    energy_scale,
    load_scaling_table,
    nominal_vdd_v,
    scaling_nodes_nm,
)

NODES = (180, 130, 90, 65, 45, 32, 20, 16, 14, 10, 7)


def _raw():
    return json.loads(resources.files("energy_models").joinpath("data", "stillmaker2017.json").read_text())


def _energy_at_nominal(node):
    """E_n(V_n) = a V^2 + b V + c, straight from the data file (an independent evaluation)."""
    row = _raw()["nodes"][str(node)]
    v = row["nominal_vdd_v"]["value"]
    a, b, c = (row["energy_factor"][k]["value"] for k in "abc")
    return a * v * v + b * v + c


def _area(node):
    return _raw()["nodes"][str(node)]["area_from_45nm"]["value"]


def test_nodes_and_every_number_sourced():
    assert scaling_nodes_nm() == tuple(float(n) for n in NODES)
    raw = _raw()
    assert raw["device"] == "HP" and "Integration, the VLSI Journal 58 (2017) 74-81" in raw["reference"]
    for node, row in raw["nodes"].items():
        entries = [row["nominal_vdd_v"], row["area_from_45nm"], *row["energy_factor"].values(),
                   *row["delay_factor"].values()]
        assert all(e["source"].strip() for e in entries), node
        assert all("Table 5" in e["source"] for e in row["energy_factor"].values())
    assert [raw["nodes"][str(n)]["nominal_vdd_v"]["value"] for n in NODES] == [
        1.8, 1.3, 1.2, 1.1, 1.0, 0.9, 0.9, 0.85, 0.8, 0.75, 0.7]


def test_corrigendum_example():
    """The authors' corrigendum: 65 nm at 1.3 V -> 32 nm (HP) at 0.9 V, 1 pJ/op -> 0.4571 / 2.604 pJ/op."""
    table = {fit.node_nm: fit.energy_coefficients for fit in load_scaling_table().nodes}
    (a32, b32, c32), (a65, b65, c65) = table[32.0], table[65.0]
    assert round(a32 * 0.9**2 + b32 * 0.9 + c32, 4) == 0.4571
    assert round(a65 * 1.3**2 + b65 * 1.3 + c65, 3) == 2.604
    # the corrigendum divides the rounded factors; unrounded, 0.457137 / 2.60355
    assert energy_scale(65, 32, vdd_from=1.3, vdd_to=0.9) == pytest.approx(0.4571 / 2.604, rel=3e-4)
    assert energy_scale(65, 32, vdd_from=1.3, vdd_to=0.9) == pytest.approx(0.457137 / 2.60355, rel=1e-5)


@pytest.mark.parametrize("src, dst", list(itertools.product(NODES, NODES)))
def test_table_nodes_are_ratios_of_the_table(src, dst):
    assert energy_scale(src, dst) == pytest.approx(_energy_at_nominal(dst) / _energy_at_nominal(src), rel=1e-12)
    assert area_scale(src, dst) == pytest.approx(_area(dst) / _area(src), rel=1e-12)
    if src == dst:
        assert energy_scale(src, dst) == 1.0 and area_scale(src, dst) == 1.0 and delay_scale(src, dst) == 1.0


@pytest.mark.parametrize("node, factor", [(180, 19), (130, 6.4), (90, 2.8), (65, 1.5), (32, 0.46), (20, 0.21),
                                          (16, 0.19), (14, 0.17), (10, 0.1), (7, 0.059)])
def test_area_from_45nm_is_the_papers_entry(node, factor):
    assert area_scale(45, node) == factor  # exactly the 45 nm row of the paper's area table


@pytest.mark.parametrize("src, dst, paper", [(180, 7, 0.0032), (130, 7, 0.0092), (32, 7, 0.13), (7, 180, 320),
                                             (65, 16, 0.13), (20, 10, 0.48)])
def test_other_pairs_agree_with_the_papers_rounded_entries(src, dst, paper):
    """The paper's table gives every pair to two significant figures (nodeScale.py lines 46-56)."""
    assert area_scale(src, dst) == pytest.approx(paper, rel=0.035)


def test_golden_factors():
    """Hand values at nominal supplies: E45(1.0) = 1.018 - 0.3107 + 0.1539 = 0.8612,
    E32(0.9) = 0.457137, E7(0.7) = 0.047815; D45(1.0) = 12.6, D7(0.7) = 3.239."""
    e45, e32, e7 = 0.8612, 0.8367 * 0.81 - 0.4341 * 0.9 + 0.1701, 0.1776 * 0.49 - 0.09097 * 0.7 + 0.02447
    assert energy_scale(45, 32) == pytest.approx(e32 / e45, rel=1e-12) == pytest.approx(0.530814, rel=1e-5)
    assert energy_scale(45, 7) == pytest.approx(e7 / e45, rel=1e-12) == pytest.approx(0.0555214, rel=1e-5)
    d45 = -501.6 + 1567 - 1619 + 566.1
    d7 = -28.58 * 0.343 + 76.6 * 0.49 - 70.26 * 0.7 + 24.69
    assert delay_scale(45, 7) == pytest.approx(d7 / d45, rel=1e-10) == pytest.approx(0.259125, rel=1e-5)
    assert energy_scale(45, 45, vdd_to=0.9) == pytest.approx((1.018 * 0.81 - 0.3107 * 0.9 + 0.1539) / e45)


def test_interpolation_by_hand_28nm():
    """28 nm lies between 32 and 20 nm at w = ln(32/28) / ln(32/20) = 0.284 from 32 nm; both fits at
    the interpolated nominal 0.9 V: E28 = E32(0.9)^(1-w) * E20(0.9)^w."""
    w = math.log(32 / 28) / math.log(32 / 20)
    e32 = 0.8367 * 0.81 - 0.4341 * 0.9 + 0.1701
    e20 = 0.373 * 0.81 - 0.1582 * 0.9 + 0.04104
    e28 = e32 ** (1 - w) * e20**w
    assert energy_scale(45, 28) == pytest.approx(e28 / 0.8612, rel=1e-12) == pytest.approx(0.420174, rel=1e-5)
    assert area_scale(45, 28) == pytest.approx(0.46 ** (1 - w) * 0.21**w, rel=1e-12)
    assert area_scale(45, 28) == pytest.approx(0.368136, rel=1e-5)
    assert energy_scale(28, 16) == pytest.approx(energy_scale(45, 16) / energy_scale(45, 28), rel=1e-12)
    assert nominal_vdd_v(28) == pytest.approx(0.9)
    assert nominal_vdd_v(40) == pytest.approx(1.0 - 0.1 * math.log(45 / 40) / math.log(45 / 32))


def test_between_nodes_monotone_and_between_neighbours():
    grid = np.geomspace(7, 180, 400)
    energy, area = energy_scale(45, grid), area_scale(45, grid)
    assert np.all(np.diff(energy) > 0) and np.all(np.diff(area) > 0)
    for hi, lo in zip(NODES, NODES[1:]):
        inside = grid[(grid < hi) & (grid > lo)]
        for fn in (energy_scale, area_scale):
            values = fn(45, inside)
            assert np.all(values < fn(45, hi)) and np.all(values > fn(45, lo))
        delays = delay_scale(45, inside)  # delay is not monotone across nodes, but stays between neighbours
        low, high = sorted((delay_scale(45, hi), delay_scale(45, lo)))
        assert np.all((delays >= low) & (delays <= high))


def test_vectorised_and_identity_off_table():
    nodes = np.array([45, 32, 28, 7.5])
    assert np.array_equal(energy_scale(45, nodes), [energy_scale(45, float(n)) for n in nodes])
    assert energy_scale(nodes, nodes).tolist() == [1.0] * 4 and area_scale(nodes, nodes).tolist() == [1.0] * 4
    assert isinstance(energy_scale(45, 28), float) and energy_scale(45, nodes).shape == (4,)
    assert energy_scale(45, 28, vdd_to=np.array([0.8, 0.9])).shape == (2,)


def test_table_loads_hp_rows():
    table = load_scaling_table()
    by_node = {fit.node_nm: fit for fit in table.nodes}
    assert by_node[45.0].energy_coefficients == (1.018, -0.3107, 0.1539)  # HP45, not LP45 (1.103, -0.362, 0.2767)
    assert by_node[32.0].energy_coefficients == (0.8367, -0.4341, 0.1701)


@pytest.mark.parametrize("call, match", [
    (lambda: energy_scale(5, 45), "from_nm must be >= 7 and <= 180 nm, got 5"),
    (lambda: energy_scale(45, 181), "to_nm must be >= 7 and <= 180 nm, got 181"),
    (lambda: area_scale(float("nan"), 45), "from_nm must be a finite number, got nan"),
    (lambda: area_scale(45, float("inf")), "to_nm must be a finite number, got inf"),
    (lambda: energy_scale(0, 45), "from_nm must be >= 7"),
    (lambda: energy_scale(-45, 45), "from_nm must be >= 7"),
    (lambda: energy_scale("45", 45), "from_nm must be a finite number, got '45'"),
    (lambda: energy_scale(True, 45), "from_nm must be a finite number, got True"),
    (lambda: energy_scale(45, np.array([32, np.nan])), "to_nm must be a finite number, got nan"),
    (lambda: energy_scale(45, 32, vdd_to=0), "vdd_to must be > 0 and <= 2 V, got 0"),
    (lambda: energy_scale(45, 32, vdd_from=float("nan")), "vdd_from must be a finite number, got nan"),
    (lambda: delay_scale(45, 32, vdd_from=-1), "vdd_from must be > 0"),
    (lambda: energy_scale(180, 45, vdd_from=0.5), r"vdd_from = 0.5 V is outside the voltage range of the energy "
                                                   r"fit at 180 nm"),
    (lambda: nominal_vdd_v(3), "node_nm must be >= 7"),
])
def test_bad_input(call, match):
    with pytest.raises(InputError, match=match):
        call()
