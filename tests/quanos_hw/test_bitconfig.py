import json

import pytest

from energy_models import MAX_BITS, MIN_BITS, LayerSpec, estimate
from energy_models.errors import InputError
from quanos_hw import create_model, quantizable_layers
from quanos_hw.bitconfig import (
    apply_bit_config,
    check_bits,
    get_bit_config,
    load_bit_config,
    save_bit_config,
    uniform_bit_config,
    validate_bit_config,
)
from quanos_hw.errors import BitConfigError

NAMES = ["features.0", "features.1", "features.3", "features.5", "classifier"]


def test_layer_names_are_named_modules_names():
    model = create_model("small_cnn", in_channels=1)
    assert quantizable_layers(model) == NAMES
    modules = dict(model.named_modules())
    assert all(name in modules for name in NAMES)


def test_round_trip_through_a_file(tmp_path):
    config = {n: {"weight_bit_width": 2 + i, "act_bit_width": 16 - i} for i, n in enumerate(NAMES)}
    path = tmp_path / "bits.json"
    save_bit_config(config, path)
    assert load_bit_config(path, NAMES) == config
    model = create_model("small_cnn", in_channels=1)
    apply_bit_config(model, load_bit_config(path, NAMES))
    assert get_bit_config(model) == config


def test_float_integers_are_accepted_and_normalised():
    config = uniform_bit_config(NAMES, 8)
    config["classifier"]["act_bit_width"] = 4.0
    assert validate_bit_config(config, NAMES)["classifier"]["act_bit_width"] == 4


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c.pop("classifier"), r"missing layer\(s\) \['classifier'\]"),
    (lambda c: c.__setitem__("fc", c["classifier"]), r"unknown layer\(s\) \['fc'\]"),
    (lambda c: c["features.0"].__setitem__("weight_bit_width", 0), "between 2 and 16, got 0"),
    (lambda c: c["features.0"].__setitem__("weight_bit_width", 1), "between 2 and 16, got 1"),
    (lambda c: c["features.0"].__setitem__("act_bit_width", 17), "between 2 and 16, got 17"),
    (lambda c: c["features.0"].__setitem__("act_bit_width", 2.5), "must be an integer, got 2.5"),
    (lambda c: c["features.0"].__setitem__("act_bit_width", "x"), "must be an integer, got 'x'"),
    (lambda c: c["features.0"].__setitem__("act_bit_width", True), "must be an integer, got True"),
    (lambda c: c["features.0"].pop("act_bit_width"), "missing field 'act_bit_width'"),
    (lambda c: c["features.0"].__setitem__("bias_bit_width", 8), r"unknown field\(s\) \['bias_bit_width'\]"),
    (lambda c: c.__setitem__("features.1", 8), "expected an object"),
])
def test_invalid_configs_name_the_problem(mutate, message):
    config = uniform_bit_config(NAMES, 8)
    mutate(config)
    with pytest.raises(BitConfigError, match=message):
        validate_bit_config(config, NAMES)


def test_bad_files(tmp_path):
    with pytest.raises(BitConfigError, match="does not exist"):
        load_bit_config(tmp_path / "nope.json", NAMES)
    truncated = tmp_path / "t.json"
    truncated.write_text(json.dumps(uniform_bit_config(NAMES, 8))[:-7])
    with pytest.raises(BitConfigError, match="not valid JSON"):
        load_bit_config(truncated, NAMES)
    wrong = tmp_path / "w.json"
    wrong.write_text("[1, 2]")
    with pytest.raises(BitConfigError, match="must be a JSON object"):
        load_bit_config(wrong, NAMES)


def test_bit_range_is_the_estimators():
    """One range: a bit-width the bit configurations accept is one the energy model accepts."""
    layer = [LayerSpec("l", "conv", 1, 1, 1, 1)]
    for bits in range(MIN_BITS - 2, MAX_BITS + 3):
        try:
            estimate(layer, bits, bits)
            estimator_accepts = True
        except InputError:
            estimator_accepts = False
        try:
            check_bits(bits)
            config_accepts = True
        except BitConfigError:
            config_accepts = False
        assert config_accepts == estimator_accepts == (MIN_BITS <= bits <= MAX_BITS), bits
