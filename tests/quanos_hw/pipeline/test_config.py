import dataclasses
import json
import re

import pytest

from quanos_hw.attacks import FGSM, PGD, FGSMRandomStart
from quanos_hw.errors import ConfigError
from quanos_hw.pipeline.config import (
    RunConfig,
    config_from_dict,
    list_presets,
    load_config_file,
    load_preset,
    parse_set,
)


def test_defaults_resolve_to_the_dataset_budgets():
    c = RunConfig().resolve()
    assert (c.dataset, c.model) == ("mnist5k", "small_cnn")
    assert c.ans_eps == 0.1 and c.attacks == (FGSM(eps=(0.05, 0.1, 0.2)),
                                              PGD(eps=(0.1,), alpha=0.025, steps=10, random_start=True))
    assert c.augment == "shift" and c.surrogate_seed == 1
    cifar = dataclasses.replace(RunConfig(), dataset="cifar10").resolve()
    assert cifar.ans_eps == pytest.approx(8 / 255) and cifar.augment == "crop_flip"
    assert cifar.attacks == (FGSM(eps=(2 / 255, 4 / 255, 8 / 255)), PGD(eps=(8 / 255,), alpha=2 / 255))
    mine = (FGSMRandomStart(eps=(0.1,)),)
    assert dataclasses.replace(RunConfig(), attacks=mine).resolve().attacks == mine  # set attacks are kept


def test_attacks_from_set_and_files_round_trip_through_config_json(tmp_path):
    c = parse_set(["attacks=[{name: fgsm_rs, eps: 0.1, seed: 4}, {name: pgd, eps: [0.1, 0.2], steps: 20}]"],
                  RunConfig())
    assert c.attacks == (FGSMRandomStart(eps=(0.1,), seed=4), PGD(eps=(0.1, 0.2), steps=20))
    assert c.to_dict()["attacks"] == [{"name": "fgsm_rs", "eps": [0.1], "alpha": None, "seed": 4},
                                      {"name": "pgd", "eps": [0.1, 0.2], "alpha": None, "steps": 20,
                                       "random_start": True, "seed": None}]
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"config_hash": c.hash(), "config": c.to_dict()}))
    again = load_config_file(path)
    assert again == c and again.hash() == c.hash()
    assert c.hash() != parse_set(["attacks=[{name: fgsm_rs, eps: 0.1, seed: 5}]"], RunConfig()).hash()


def test_hash_ignores_output_dir_and_device_only():
    a = RunConfig()
    assert a.hash() == dataclasses.replace(a, out_dir="elsewhere", device="cpu").hash()
    assert a.hash() != dataclasses.replace(a, seed=1).hash()


def test_set_parses_yaml_scalars_and_lists():
    c = parse_set(["lr=0.1", "uniform_bits=[16, 8, 2]", "first_last=keep", "ans_eps=null", "download=true"],
                  RunConfig())
    assert c.lr == 0.1 and c.uniform_bits == (16, 8, 2) and c.first_last == "keep" and c.download is True


def test_files_and_presets(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 3\nattacks:\n  - name: fgsm\n    eps: [0.1, 0.3]\n")
    c = load_config_file(path)
    assert c.seed == 3 and c.attacks == (FGSM(eps=(0.1, 0.3)),)
    as_json = tmp_path / "c.json"
    as_json.write_text(json.dumps({"config_hash": "x", "config": {"seed": 4}}))  # a results folder's config.json
    assert load_config_file(as_json).seed == 4
    assert list_presets() == ["default", "paper"]
    paper = load_preset("paper")
    assert (paper.dataset, paper.model, paper.warmup_epochs, paper.warmup_epochs + paper.qat_epochs) == (
        "cifar10", "vgg19", 25, 200)


@pytest.mark.parametrize("raw, match", [
    ({"epochs": 3}, r"unknown config key\(s\) \['epochs'\]"),
    ({"lr": "fast"}, "config key 'lr' must be float, got 'fast'"),
    ({"seed": 1.5}, "config key 'seed' must be int"),
    ({"download": "yes"}, "config key 'download' must be bool"),
    ({"uniform_bits": [16, "8"]}, "config key 'uniform_bits' must be tuple"),
    ({"warmup_epochs": -1}, "'warmup_epochs' must be between 1 and 10000, got -1"),
    ({"dataset": "imagenet"}, "config key 'dataset' must be one of"),
    ({"model": "lenet"}, "config key 'model' must be one of"),
    ({"ans_eps": 1.5}, "'ans_eps' must be between 0 and 1"),
    ({"fgsm_eps": [0.1]}, r"unknown config key\(s\) \['fgsm_eps'\]"),
    ({"attacks": [{"name": "fgsm", "eps": [-0.1]}]}, "config key 'attacks': attack 'fgsm' eps must be between 0 and 1"),
    ({"attacks": [{"name": "cw", "eps": [0.1]}]}, "config key 'attacks': unknown attack 'cw'; choose one of: "
                                                  "apgd_ce, apgd_dlr, fgsm, fgsm_rs, pgd, square"),
    ({"attacks": [{"name": "pgd", "eps": [0.1], "steps": 2.5}]}, "attack 'pgd' steps must be a positive integer"),
    ({"attacks": []}, "config key 'attacks': attacks must be a non-empty list"),
    ({"attacks": {"name": "fgsm", "eps": [0.1]}}, "config key 'attacks': attacks must be a non-empty list"),
    ({"attacks": [{"name": "fgsm", "eps": [0.1]}, {"name": "fgsm", "eps": [0.2]}]}, "listed more than once"),
    ({"k_min": 1}, "'k_min' must be between 2 and 16"),
    ({"k_min": 12, "k_init": 8}, "must not exceed"),
    ({"uniform_bits": [4, 2]}, "must include 16 and 8"),
    ({"first_last": "both"}, "'first_last' must be null, 'keep' or a bit-width"),
    ({"mac_architectures": ["tpu"]}, "unknown MAC architecture 'tpu'"),
    ({"qat_epochs": 1, "iterations": 2}, r"qat_epochs \(1\) must be at least iterations \(2\)"),
    ({"lr": 0}, "'lr' must be > 0 and <= 10, got 0"),
])
def test_bad_configs_name_the_problem(raw, match):
    with pytest.raises(ConfigError, match=match):
        config_from_dict(raw)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: [1, 2\n")
    with pytest.raises(ConfigError, match="cannot be parsed"):
        load_config_file(broken)
    not_a_map = tmp_path / "list.yaml"
    not_a_map.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config_file(not_a_map)
    with pytest.raises(ConfigError, match="--set expects key=value"):
        parse_set(["seed"], RunConfig())
    with pytest.raises(ConfigError, match="unknown preset"):
        load_preset("fast")


INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("assignment, match", [
    ("lr=.inf", "config key 'lr' must be a finite number, got inf"),
    ("lr=-0.1", "config key 'lr' must be > 0 and <= 10, got -0.1"),
    ("momentum=.nan", "config key 'momentum' must be a finite number, got nan"),
    ("momentum=1", "config key 'momentum' must be >= 0 and < 1, got 1"),
    ("weight_decay=.nan", "config key 'weight_decay' must be a finite number, got nan"),
    ("weight_decay=.inf", "config key 'weight_decay' must be a finite number, got inf"),
    ("weight_decay=-0.0001", "config key 'weight_decay' must be between 0 and 1, got -0.0001"),
    ("check_tolerance=.nan", "config key 'check_tolerance' must be a finite number, got nan"),
    ("check_tolerance=2", "config key 'check_tolerance' must be between 0 and 1, got 2"),
    ("large_eps=-.inf", "config key 'large_eps' must be a finite number, got -inf"),
    ("ans_eps=.nan", "config key 'ans_eps' must be a finite number, got nan"),
    ("seed=12345678901234567890", "config key 'seed' must be between 0 and 4294967294, got 12345678901234567890"),
    ("seed=-1", "config key 'seed' must be between 0 and 4294967294, got -1"),
    ("split_seed=4294967296", "config key 'split_seed' must be between 0 and 4294967294"),
    ("surrogate_seed=-3", "config key 'surrogate_seed' must be between 0 and 4294967294, got -3"),
    ("seed=" + "9" * 200, "config key 'seed' must be between 0 and 4294967294, got an integer of 200 digits"),
    ("warmup_epochs=0", "config key 'warmup_epochs' must be between 1 and 10000, got 0"),
    ("qat_epochs=100000", "config key 'qat_epochs' must be between 0 and 10000, got 100000"),
    ("batch_size=10000000", "config key 'batch_size' must be between 1 and 65536, got 10000000"),
    ("large_eps_samples=0", "config key 'large_eps_samples' must be between 1 and 10000000, got 0"),
    ("robustness_samples=0", "config key 'robustness_samples' must be between 1 and 10000000, got 0"),
    ("robustness=strong", "config key 'robustness' must be one of ['default', 'full', 'quick'], got 'strong'"),
    ("robustness=null", "config key 'robustness' must be str, got None"),
    ("synthetic_train=1000000000", "config key 'synthetic_train' must be between 1 and 100000"),
    ("uniform_bits=[16, 8, 99]", "config key 'uniform_bits' must be between 2 and 16, got 99"),
    ("first_last=1", "config key 'first_last' must be between 2 and 16, got 1"),
    ("metric_options={seed: .nan}", "config key 'metric_options' must hold only finite numbers, got nan"),
    ("attacks=[{name: pgd, eps: 0.1, steps: 100000000}]", "attack 'pgd' steps must be between 1 and 10000"),
    ("attacks=[{name: pgd, eps: 0.1, alpha: .inf}]", "attack 'pgd' alpha must be a number, got inf"),
    ("attacks=[{name: fgsm, eps: .nan}]", "attack 'fgsm' eps must be a number, got nan"),
    ("attacks=[{name: fgsm_rs, eps: 0.1, seed: -1}]", "attack 'fgsm_rs': seed must be between 0 and 4294967294"),
])
def test_bad_numbers_are_refused_when_parsed(assignment, match):
    with pytest.raises(ConfigError, match=re.escape(match)):
        parse_set([assignment], RunConfig())


def test_every_numeric_key_has_a_range():
    """A new numeric config key cannot skip the bounds: it needs an entry in CONFIG_RANGES."""
    from quanos_hw.bounds import CONFIG_RANGES
    from quanos_hw.pipeline.compare import CompareConfig
    from quanos_hw.pipeline.config_checks import hints

    for cls in (RunConfig, CompareConfig):
        for name, tp in hints(cls).items():
            if name != "attacks" and any(t in str(tp) for t in ("int", "float")):
                assert name in CONFIG_RANGES, name


def test_range_edges_are_accepted():
    c = parse_set(["seed=4294967294", "momentum=0", "weight_decay=0", "check_tolerance=1", "lr=10",
                   "warmup_epochs=1"], RunConfig())
    assert (c.seed, c.momentum, c.lr, c.warmup_epochs) == (4294967294, 0, 10, 1)
