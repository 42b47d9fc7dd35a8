"""``quanos run --set metric=NAME``: the metric comes from the registry, its options are checked
when the config is built, and the QUANOS rule turns its scores into the run's bits."""

import json

import pytest

from quanos_hw.allocation import bits_from_ans
from quanos_hw.cli import main
from quanos_hw.errors import ConfigError
from quanos_hw.models import create_model
from quanos_hw.pipeline import run
from quanos_hw.pipeline.config import RunConfig, config_from_dict, parse_set
from quanos_hw.sensitivity import random_scores
from tests.conftest import FAST


def test_the_default_metric_is_ans_with_the_flat_keys():
    c = RunConfig().resolve()
    assert c.metric == "ans" and c.metric_options == {}
    assert c.sensitivity_options() == {"eps": 0.1, "max_batches": 8, "batch_size": 128, "activation": "post"}


def test_metric_options_reach_the_metric():
    c = parse_set(["metric=weight_noise", "metric_options={trials: 5, relative_noise: 0.3}", "seed=4",
                   "ans_batches=3"], RunConfig()).resolve()
    assert c.sensitivity_options() == {"max_batches": 3, "batch_size": 128, "seed": 4, "trials": 5,
                                       "relative_noise": 0.3}
    own_seed = parse_set(["metric=random", "metric_options={seed: 9}"], RunConfig())
    assert own_seed.sensitivity_options() == {"seed": 9}


@pytest.mark.parametrize("raw, match", [
    ({"metric": "sharpness"}, "config key 'metric' must be one of"),
    ({"metric_options": {"epss": 0.1}}, r"sensitivity metric 'ans' has no option\(s\) epss; its options are: eps"),
    ({"metric": "hessian_trace", "metric_options": {"eps": 0.1}}, r"'hessian_trace' has no option\(s\) eps"),
    ({"metric_options": {"eps": 0.1}}, "set 'eps' with config key 'ans_eps'"),
    ({"metric": "weight_noise", "metric_options": {"max_batches": 2}}, "set 'max_batches' with config key"),
    ({"metric": "weight_noise", "metric_options": {"trials": "3"}}, "option 'trials' must be int, got '3'"),
    ({"metric_options": [1]}, "config key 'metric_options' must be dict"),
])
def test_bad_metric_settings_are_config_errors(raw, match):
    with pytest.raises(ConfigError, match=match):
        config_from_dict(raw)


def test_cli_misspelled_option_exits_2_with_one_line(tmp_path, capsys):
    code = main(["run", "--set", "metric=hessian_trace", "--set", "metric_options={max_iters: 5}",
                 "--out", str(tmp_path / "never")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "has no option(s) max_iters" in err
    assert not (tmp_path / "never").exists()


def test_a_run_with_another_metric_uses_its_scores(tmp_path):
    """random scores depend only on the layer names and the seed, so the bits are known in advance."""
    out = tmp_path / "run"
    config = parse_set(FAST + [f"out_dir={out}", "metric=random", "metric_options={seed: 3}", "uniform_bits=[16, 8]",
                               "float_baseline=false", "iso_size=false"], RunConfig())
    report = run(config, progress=False, log=lambda msg: None).report
    scores = random_scores(create_model("small_cnn", in_channels=1), seed=3)
    assert report["quanos"]["metric"] == "random" and report["quanos"]["metric_options"] == {"seed": 3}
    assert [layer["ans"] for layer in report["layers"]] == list(scores.values())
    assert report["bits"] == bits_from_ans(scores) == json.loads((out / "bits.json").read_text())
    assert report["quanos"]["iterations"][0]["metric"] == "random"
    assert "sensitivity by random" in (out / "report.md").read_text()
