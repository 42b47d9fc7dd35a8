"""Stage 1 against brute force: on a tiny network (3 layers, 3 bit choices) and a tiny hardware grid
(4 points in 2 groups: the tables of each group come from one vectorised call), every candidate is
the exhaustive optimum at its point and budget, costed exactly."""

import numpy as np
import pytest

from energy_models import load_accelerator
from energy_models.accelerator import parse_accelerator
from energy_models.accelerator_estimate import estimate_accelerator
from energy_models.dse import apply_point, expand_grid
from quanos_hw import create_model, extract_layers
from quanos_hw.allocation import BudgetProblem, InfeasibleBudget, exhaustive
from quanos_hw.codesign.stage1 import Space, evaluate, point_tables

LAYERS = tuple(extract_layers(create_model("small_cnn", in_channels=1), (1, 28, 28))[:3])
SCORES = {"features.0": 0.3, "features.1": 1.2, "features.3": 0.05}
CHOICES = (2, 4, 8)
BASE = load_accelerator("bitfusion45")
POINTS = expand_grid({"mac.architecture": ["bitfusion", "data_gated"], "array.rows": [8, 16]})
BUDGETS = (0.12, 0.3, 0.5)
SPACE = Space(BASE, LAYERS, SCORES, BUDGETS, CHOICES)


def _described(point):
    return parse_accelerator(apply_point(BASE.to_dict(), point), "test")


def test_vectorised_tables_equal_one_problem_per_point():
    for point, tables in zip(POINTS, point_tables(SPACE, POINTS)):
        acc = _described(point)
        problem = BudgetProblem(LAYERS, acc.mac.architecture, 1.0, choices=CHOICES, accelerator=acc)
        assert np.allclose(tables.pair, problem.pair_table(), rtol=1e-12)
        assert np.allclose(tables.unpaired, problem.unpaired_table(), rtol=1e-12)
        assert tables.uniform16_pj == pytest.approx(problem.uniform16_pj, rel=1e-12)


def test_every_candidate_is_the_brute_force_optimum_costed_exactly():
    table = evaluate(SPACE, POINTS)
    rows = {(r["point"], r["budget"]): r for r in table.rows()}
    infeasible = 0
    for index, point in enumerate(POINTS):
        acc = _described(point)
        for fraction in BUDGETS:
            problem = BudgetProblem.from_fraction(LAYERS, acc.mac.architecture, fraction, choices=CHOICES,
                                                  accelerator=acc)
            try:
                brute = exhaustive(problem, SCORES)
            except InfeasibleBudget:
                assert (index, fraction) not in rows
                infeasible += 1
                continue
            row = rows[(index, fraction)]
            assert row["predicted_error"] == pytest.approx(brute.objective, rel=1e-9)
            bits = np.array([[int(b) for b in row["bits"].split("-")]])
            est = estimate_accelerator(LAYERS, bits, bits, accelerator=acc)
            assert row["energy_pj"] == pytest.approx(float(est.total_energy_pj[0]), rel=1e-12)
            assert row["energy_pj"] <= problem.budget_pj
            assert row["latency_s"] == pytest.approx(float(est.total_latency_s[0]), rel=1e-12)
            assert row["area_mm2"] == pytest.approx(float(est.total_area_mm2), rel=1e-12)
    assert infeasible >= 1 and len(rows) >= 8  # the ladder reaches both sides of feasibility


def test_the_same_inputs_give_the_same_candidates():
    assert evaluate(SPACE, POINTS).columns == evaluate(SPACE, POINTS).columns
