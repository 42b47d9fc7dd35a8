"""The co-design end to end with a fake, instant stage 2 (through ``map_trials``): the warm-up, the
scores and the surrogate are real (FAST settings, a few seconds); resume maps no finished trial and
gives the same candidates and finalists."""

import json

import pytest

from quanos_hw.codesign import CodesignConfig, codesign
from quanos_hw.pipeline.config import parse_set
from tests.conftest import FAST_EXPERIMENT

TINY = FAST_EXPERIMENT + ["metric_batches=2", "budgets=[0.25, 0.4]", "finalists=2", "bit_choices=[2, 4, 8, 16]",
                          "sweep={array.rows: [8, 16], mac.architecture: [bitfusion, data_gated]}"]


def fake_map(calls):
    def run(fn, items):
        calls.append([t["phase"] for t in items])
        out = []
        for t in items:
            acc = sum(t["bits"]) / (16 * len(t["bits"]))  # more bits, more accuracy: a made-up monotone answer
            out.append({"phase": t["phase"], "bits": t["bits"], "test_accuracy": acc, "robustness": {
                "clean": acc, "reference": {"attack": "pgd", "eps": "0.1"},
                "attacks": {"pgd": {"white_box": {"0.1": acc / 2}, "black_box": {"0.1": acc / 1.5}}},
                "worst_case": {"accuracy": acc / 3}}})
        return out
    return run


pytestmark = pytest.mark.slow  # about 10 s on 2 idle cores (warm-up, scores, surrogate)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("codesign") / "out"
    config = parse_set(TINY + [f"out_dir={out}"], CodesignConfig())
    calls = []
    result = codesign(config, progress=False, log=lambda msg: None, map_trials=fake_map(calls))
    return config, result, calls


def test_outputs_and_selection(first_run):
    _, result, calls = first_run
    for name in ("codesign.csv", "finalists.csv", "baselines.csv", "codesign.md", "codesign.html", "codesign.json",
                 "codesign_predicted_vs_measured.png", "codesign_pareto.png"):
        assert (result.out_dir / name).is_file(), name
    report = result.report
    assert len(report["finalists"]) == 2 and report["stage1"]["candidates"] == 8
    designs = {(b["objective"], b["design"]) for b in report["baselines"]}
    assert designs == {(o, d) for o in ("energy", "latency", "area") for d in ("uniform 8", "uniform 4", "quanos rule")}
    assert len(calls) == 1 and len(calls[0]) == len(set(calls[0]))  # each distinct configuration once
    assert [row["objective"] for row in report["comparison"]] == ["energy", "latency", "area"]


def test_resume_maps_nothing_and_gives_the_same_finalists(first_run):
    config, result, _ = first_run
    calls = []
    again = codesign(config, resume=True, progress=False, log=lambda msg: None, map_trials=fake_map(calls))
    assert calls == []
    assert again.report["finalists"] == result.report["finalists"]
    assert (again.out_dir / "codesign.csv").read_text() == (result.out_dir / "codesign.csv").read_text()
    stage1 = json.loads((again.out_dir / "codesign.json").read_text())["stage1"]
    assert {**stage1, "stage1_s": 0} == {**result.report["stage1"], "stage1_s": 0}
