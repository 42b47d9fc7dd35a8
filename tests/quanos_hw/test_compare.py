import json

import pytest

from quanos_hw.errors import ConfigError
from quanos_hw.pipeline.compare import CompareConfig, compare
from quanos_hw.pipeline.config import parse_set
from tests.conftest import FAST


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "cmp"
    config = parse_set(FAST + [f"out_dir={out}", "seeds=[0]", "budgets=[0.02, 0.4]",
                               "combos=['ans:budget_ilp', 'random:quanos_rule', 'weight_noise:budget_ilp']",
                               "metric_batches=1"], CompareConfig())
    return compare(config, progress=False, log=lambda m: None), out


def test_files_and_table(report):
    result, out = report
    for name in ("compare.json", "compare.md", "compare_pareto.png", "config.json"):
        assert (out / name).is_file()
    assert json.loads((out / "compare.json").read_text())["summary"] == result["summary"]
    md = (out / "compare.md").read_text()
    assert "| 0.4 | ans:budget_ilp |" in md and "| 0.02 | ans:budget_ilp | infeasible |" in md


def test_every_cell_meets_its_budget_and_is_evaluated(report):
    result, _ = report
    cells = result["per_seed"]["0"]["cells"]
    feasible = [c for c in cells.values() if "phase" in c]
    assert {c["combo"] for c in feasible} == {"ans:budget_ilp", "random:quanos_rule", "weight_noise:budget_ilp",
                                              "uniform"}
    for cell in feasible:
        assert cell["budget"] == 0.4 and cell["energy_fraction"] <= 0.4
        assert 0 <= cell["robustness"]["clean"] <= 1 and "pgd" in cell["robustness"]
    assert all("infeasible" in c for c in cells.values() if c["budget"] == 0.02)
    rows = {(r["budget"], r["combo"]): r for r in result["summary"]}
    assert rows[(0.4, "uniform")]["seeds"] == 1 and rows[(0.02, "uniform")]["infeasible"] == 1
    assert set(result["per_seed"]["0"]["scores"]) == {"ans", "random", "weight_noise"}


def test_quanos_rule_gives_the_highest_score_the_fewest_bits(report):
    result, _ = report
    seed = result["per_seed"]["0"]
    scores = seed["scores"]["random"]
    bits = seed["cells"]["random-quanos_rule@0.4"]["bits"]
    ordered = [bits[name]["weight_bit_width"] for name in sorted(scores, key=scores.get)]
    assert ordered == sorted(ordered, reverse=True)  # bits never rise with the score


@pytest.mark.parametrize("key, value, match", [
    ("combos", ("ans:greedy",), "must be metric:policy"),
    ("combos", ("sharpness:budget_ilp",), "must be metric:policy"),
    ("budgets", (0.0,), "budgets must be fractions"),
    ("budget_architecture", "tpu", "unknown MAC architecture"),
    ("seeds", (), "at least one seed"),
])
def test_bad_compare_configs(key, value, match):
    with pytest.raises(ConfigError, match=match):
        CompareConfig(**{key: value})
