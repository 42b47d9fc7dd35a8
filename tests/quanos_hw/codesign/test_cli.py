"""One real ``quanos codesign`` from the command line: tiny data and schedule, one hardware point,
one budget, one finalist, real QAT and attacks (the finalist and the three baselines)."""

import csv

import pytest

from quanos_hw.cli import main
from tests.conftest import FAST_EXPERIMENT


@pytest.mark.slow
def test_codesign_command_end_to_end(tmp_path, capsys):
    out = tmp_path / "cd"
    sets = [a for item in FAST_EXPERIMENT + ["metric_batches=2", "robustness_samples=10",
                                            "synthetic_test=60", "large_eps_samples=20",
                                            "attacks=[{name: fgsm, eps: [0.1]}]", "bit_choices=[4, 8, 16]"]
            for a in ("--set", item)]
    code = main(["codesign", "--quiet", "--out", str(out), "--budgets", "0.4", "--finalists", "1", *sets])
    text = capsys.readouterr().out
    assert code == 0
    assert "## What co-design buys" in text
    rows = list(csv.DictReader((out / "finalists.csv").open()))
    assert len(rows) == 1 and 0 <= float(rows[0]["worst_case"]) <= float(rows[0]["clean"]) <= 1
    assert len(list(csv.DictReader((out / "baselines.csv").open()))) == 9
