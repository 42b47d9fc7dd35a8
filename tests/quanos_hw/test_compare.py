import json

import pytest

from quanos_hw.errors import ConfigError
from quanos_hw.pipeline.compare import CompareConfig, compare
from quanos_hw.pipeline.config import parse_set
from tests.conftest import FAST_EXPERIMENT


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "cmp"
    config = parse_set(FAST_EXPERIMENT + [f"out_dir={out}", "seeds=[0]", "budgets=[0.02, 0.4]",
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
        assert 0 <= cell["robustness"]["clean"] <= 1 and list(cell["robustness"]["attacks"]) == ["fgsm", "pgd"]
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
    ("budgets", (0.0,), r"config key 'budgets' must be > 0 and <= 1.5, got 0.0"),
    ("budgets", (float("nan"),), "config key 'budgets' must hold only finite numbers, got nan"),
    ("budget_architecture", "tpu", "unknown MAC architecture"),
    ("seeds", (), "config key 'seeds' needs at least one value"),
    ("seeds", (-1,), "config key 'seeds' must be between 0 and 4294967294, got -1"),
    ("seeds", (0, 0), r"config key 'seeds' lists a value more than once: \[0, 0\]"),
    ("bit_choices", (1, 99), "config key 'bit_choices' must be between 2 and 16, got 1"),
    ("bit_choices", (), "config key 'bit_choices' needs at least one value"),
    ("metric_batches", 0, "config key 'metric_batches' must be between 1 and 100000, got 0"),
])
def test_bad_compare_configs(key, value, match):
    with pytest.raises(ConfigError, match=match):
        CompareConfig(**{key: value})


def test_compare_holds_only_its_keys():
    from dataclasses import fields

    from quanos_hw.pipeline.config import RunConfig, config_from_dict

    names = {f.name for f in fields(CompareConfig)}
    assert {"combos", "budgets", "budget_architecture", "bit_choices", "seeds", "metric_batches"} <= names
    unused = {"uniform_bits", "iso_size", "float_baseline", "first_last", "iterations", "k_init", "k_min",
              "mac_architectures", "ans_batches", "metric", "metric_options", "surrogate_seed"}
    assert not names & unused and unused <= {f.name for f in fields(RunConfig)}
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) \['uniform_bits'\]"):
        config_from_dict({"uniform_bits": [16, 8]}, cls=CompareConfig)
    c = CompareConfig(seed=4).resolve()
    assert c.surrogate_seed == 5 and c.architectures() == ("data_gated",)
    assert c.sensitivity_options("hessian_trace") == {"batch_size": 128, "seed": 4, "max_batches": 8}
    assert c.sensitivity_options("ans") == {"eps": 0.1, "batch_size": 128, "activation": "post", "max_batches": 8}


def test_every_cell_is_allocated_through_the_policy_registry():
    from quanos_hw import create_model, extract_layers
    from quanos_hw.allocation import POLICIES, BudgetProblem
    from quanos_hw.pipeline.compare import CONTROL, _allocate

    layers = extract_layers(create_model("small_cnn", in_channels=1), (1, 28, 28))
    problem = BudgetProblem.from_fraction(layers, "data_gated", 0.4)
    scores = {"s": {layer.name: 0.1 * (i + 1) for i, layer in enumerate(layers)}}
    for policy in POLICIES.names():
        assert _allocate(f"s:{policy}", scores, problem) == POLICIES.get(policy)(problem, scores["s"])
    assert _allocate(CONTROL, scores, problem) == POLICIES.get("uniform")(problem)
    assert CompareConfig(combos=("ans:budget_ilp",)).cells() == ("ans:budget_ilp", "uniform")
