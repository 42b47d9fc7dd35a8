"""The optimiser's path (Optuna NSGA-II): seeded, so the same seed visits the same points, and each
visited point's candidates are exactly stage 1's on that point."""

import pytest

from quanos_hw.codesign.search import search
from quanos_hw.codesign.stage1 import evaluate

from .test_stage1 import BASE, LAYERS, SCORES, Space

pytest.importorskip("optuna")

SPACE = Space(BASE, LAYERS, SCORES, (0.3, 0.5), (2, 4, 8))
SWEEP = {"array.rows": {"low": 4, "high": 32}, "mac.architecture": ["bitfusion", "data_gated"]}


def test_same_seed_same_points_and_candidates_of_stage1():
    points, table = search(SPACE, SWEEP, ["energy", "latency"], {"area": 5.0}, trials=6, seed=3)
    again, table2 = search(SPACE, SWEEP, ["energy", "latency"], {"area": 5.0}, trials=6, seed=3)
    assert points == again and table.columns == table2.columns
    assert all(4 <= p["array.rows"] <= 32 for p in points) and len(points) >= 2
    first = evaluate(SPACE, points[:1])
    rows = [r for r in table.rows() if r["point"] == 0]
    assert [r["bits"] for r in rows] == first.columns["bits"]
