"""Property-based tests of the parsers: any input either parses into a valid object or raises the
package's InputError (never a TypeError, KeyError or a crash)."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy_models import parse_technology
from quanos_hw.bitconfig import validate_bit_config
from quanos_hw.errors import BitConfigError, ConfigError, DiskFullError, InputError
from quanos_hw.io import atomic_write_text
from quanos_hw.pipeline.config import RunConfig, config_from_dict
from quanos_hw.pipeline.config_checks import name_choices

NAMES = ["a", "b", "c"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 40), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=5))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                      max_leaves=6)
entries = st.one_of(values, st.fixed_dictionaries({"weight_bit_width": values, "act_bit_width": values}))


@settings(max_examples=300, deadline=None)
@given(st.one_of(values, st.dictionaries(st.sampled_from(NAMES + ["d"]), entries, max_size=4)))
def test_bit_config_parser(raw):
    try:
        out = validate_bit_config(raw, NAMES)
    except BitConfigError:
        return
    assert list(out) == NAMES
    for entry in out.values():
        assert set(entry) == {"weight_bit_width", "act_bit_width"}
        assert all(isinstance(v, int) and 2 <= v <= 16 for v in entry.values())


HOROWITZ = json.loads(resources.files("energy_models").joinpath("data", "horowitz45.json").read_text())


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))


PATHS = [p for p in _paths(HOROWITZ) if p]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATHS), values, st.booleans())
def test_technology_parser(path, value, delete):
    raw = copy.deepcopy(HOROWITZ)
    node = raw
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    try:
        tech = parse_technology(raw)
    except InputError:
        return
    assert all(e >= 0 for _, e in tech.int_add_pj + tech.int_mult_pj)
    assert all(m.read_pj >= 0 and m.write_pj >= 0 and m.word_bits > 0 for m in tech.memories)


KEYS = [f for f in RunConfig.__dataclass_fields__]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), values, max_size=3))
def test_run_config_parser(raw):
    try:
        config = config_from_dict(raw)
    except ConfigError:
        return
    assert isinstance(config, RunConfig)
    resolved = config.resolve()
    twin = config_from_dict(copy.deepcopy(raw)).resolve()  # the same keys, built independently
    assert twin is not resolved and twin.hash() == resolved.hash()
    # a key that affects results changes the hash; the output folder and the device do not
    assert dataclasses.replace(resolved, seed=resolved.seed + 1).hash() != resolved.hash()
    assert dataclasses.replace(resolved, split_seed=resolved.split_seed + 1).hash() != resolved.hash()
    elsewhere = dataclasses.replace(resolved, out_dir=resolved.out_dir + "_elsewhere", device="cpu")
    assert elsewhere.hash() == resolved.hash()


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    atomic_write_text(target, "old")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(DiskFullError, match="no space left on the device while writing"):  # exit 2, one line
        atomic_write_text(target, "new content")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left behind


@pytest.mark.parametrize("key", sorted(name_choices()))
def test_name_valued_keys_accept_exactly_what_their_registry_holds(key):
    allowed = name_choices()[key]
    assert allowed
    for value in allowed:
        config = config_from_dict({key: [value] if key == "mac_architectures" else value})
        assert getattr(config, key) == ((value,) if key == "mac_architectures" else value)
    with pytest.raises(ConfigError, match="bogus"):
        config_from_dict({key: ["bogus"] if key == "mac_architectures" else "bogus"})


def test_a_newly_registered_architecture_is_a_valid_config_value(monkeypatch):
    from tests.energy_models.test_architectures import register_throwaway

    with pytest.raises(ConfigError, match="unknown MAC architecture 'throwaway'"):
        config_from_dict({"mac_architectures": ["throwaway"]})
    register_throwaway(monkeypatch)
    assert config_from_dict({"mac_architectures": ["throwaway"]}).mac_architectures == ("throwaway",)
