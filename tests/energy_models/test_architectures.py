"""Golden values, computed by hand from the Horowitz 45 nm numbers (docs/design.md §4) and the
architecture parameters in energy_models/data/architectures.json."""

import numpy as np
import pytest

from energy_models import ARCHITECTURES, MacArchitecture, architectures, get_architecture, list_architectures
from energy_models.architectures.base import load_architecture_params
from energy_models.errors import InputError
from energy_models.registry import Registry

# e_mult(w, a) = K * w * a, K fitted through the origin on (8b: 0.2 pJ, 32b: 3.1 pJ)
K = (0.2 * 8**2 + 3.1 * 32**2) / (8**4 + 32**4)
ADD32 = 0.1                      # accumulator add, 32 bit
MAC16 = K * 16 * 16 + ADD32      # full-precision 16-bit MAC
MAC8 = K * 8 * 8 + ADD32         # BitFusion's 8x8 fusion unit cycle

POINTS = [(16, 16), (8, 8), (4, 4), (2, 2), (8, 4)]
GOLDEN = {
    "fixed16": {p: MAC16 for p in POINTS},
    "data_gated": {(w, a): K * w * a + ADD32 + 0.1 * MAC16 for w, a in POINTS},
    "subword_parallel": {(16, 16): 1.2 * MAC16, (8, 8): 1.2 * MAC16 / 2, (4, 4): 1.2 * MAC16 / 4,
                         (2, 2): 1.2 * MAC16 / 8, (8, 4): 1.2 * MAC16 / 2},
    "bitfusion": {(16, 16): 1.3 * MAC8 * 4, (8, 8): 1.3 * MAC8, (4, 4): 1.3 * MAC8 / 4, (2, 2): 1.3 * MAC8 / 16,
                  (8, 4): 1.3 * MAC8 / 2},
    "bit_serial": {(w, a): a * MAC16 / 16 * 1.1 for w, a in POINTS},
}
THROUGHPUT = {
    "fixed16": {p: 1.0 for p in POINTS},
    "data_gated": {p: 1.0 for p in POINTS},
    "subword_parallel": {(16, 16): 1, (8, 8): 2, (4, 4): 4, (2, 2): 8, (8, 4): 2},
    "bitfusion": {(16, 16): 0.25, (8, 8): 1, (4, 4): 4, (2, 2): 16, (8, 4): 2},
    "bit_serial": {(w, a): 1 / a for w, a in POINTS},
}


def test_registry():
    assert list_architectures() == ["bit_serial", "bitfusion", "data_gated", "fixed16", "measured", "subword_parallel"]


def test_pinned_numbers():
    assert K == pytest.approx(0.00302772374, rel=1e-8)
    assert MAC16 == pytest.approx(0.87509728, rel=1e-8)
    arch = get_architecture("data_gated")
    assert float(arch.energy_per_mac_pj(8, 8)) == pytest.approx(0.38128405, rel=1e-8)


@pytest.mark.parametrize("name", sorted(GOLDEN))
@pytest.mark.parametrize("point", POINTS)
def test_energy_per_mac_and_throughput_golden(name, point):
    arch = get_architecture(name)
    w, a = point
    assert float(arch.energy_per_mac_pj(np.array(w), np.array(a))) == pytest.approx(GOLDEN[name][point], rel=1e-9)
    assert float(arch.macs_per_cycle(np.array(w), np.array(a))) == pytest.approx(THROUGHPUT[name][point])


def test_fixed16_energy_is_the_same_at_every_bit_width():
    arch = get_architecture("fixed16")
    w, a = np.meshgrid(np.arange(2, 17), np.arange(2, 17))
    energy = arch.energy_per_mac_pj(w, a)
    assert energy.shape == w.shape and np.all(energy == energy.flat[0])


@pytest.mark.parametrize("name", [n for n in sorted(GOLDEN) if n != "fixed16"])
def test_energy_never_increases_when_bits_decrease(name):
    arch = get_architecture(name)
    bits = np.arange(2, 17)
    w, a = np.meshgrid(bits, bits, indexing="ij")
    energy = arch.energy_per_mac_pj(w, a)
    assert np.all(np.diff(energy, axis=0) >= 0) and np.all(np.diff(energy, axis=1) >= 0)
    assert energy[0, 0] < energy[-1, -1]


def test_parameters_live_in_data_and_can_be_overridden(tmp_path):
    base = get_architecture("data_gated")
    cheaper = get_architecture("data_gated", params={"overhead_fraction": 0.0})
    assert float(cheaper.energy_per_mac_pj(8, 8)) == pytest.approx(K * 64 + ADD32)
    assert float(cheaper.energy_per_mac_pj(8, 8)) < float(base.energy_per_mac_pj(8, 8))
    f = tmp_path / "arch.yaml"
    f.write_text("subword_parallel:\n  modes: [16, 8]\n")
    coarse = get_architecture("subword_parallel", params=f)
    assert float(coarse.macs_per_cycle(4, 4)) == 2.0  # no 4-bit mode: runs in 8-bit mode
    serial_w = get_architecture("bit_serial", params={"serial_operand": "weight"})
    assert float(serial_w.energy_per_mac_pj(4, 16)) == pytest.approx(4 * MAC16 / 16 * 1.1)


@pytest.mark.parametrize("name, params, match", [
    ("data_gated", {"overhead_fraction": -1}, "overhead_fraction must be >= 0 and <= 10, got -1"),
    ("data_gated", {"overhead_fraction": float("nan")}, "overhead_fraction must be a finite number, got nan"),
    ("data_gated", {"overhead_fraction": float("inf")}, "overhead_fraction must be a finite number, got inf"),
    ("data_gated", {"overhead_fraction": 11}, "overhead_fraction must be >= 0 and <= 10, got 11"),
    ("data_gated", {"gating": 1}, r"unknown parameter\(s\) \['gating'\] \(known"),
    ("data_gated", {"overhead_fractoin": 0.1}, "did you mean 'overhead_fraction'"),
    ("bit_serial", {"serial_operand": "both"}, "serial_operand must be 'act' or 'weight'"),
    ("subword_parallel", {"modes": []}, "must be a list of positive integers"),
    ("subword_parallel", {"modes": [16, 1000]}, "modes entry must be an integer between 1 and 256, got 1000"),
    ("fixed16", {"units": 0}, "units must be an integer between 1 and 10000000, got 0"),
    ("fixed16", {"units": 10**40}, "units must be an integer between 1 and 10000000, got an integer of 41 digits"),
    ("fixed16", {"datapath_bits": 16.0}, "datapath_bits must be an integer between 1 and 256, got 16.0"),
    ("fixed16", {"accumulator_bits": 10**6}, "accumulator_bits must be an integer between 1 and 256"),
])
def test_bad_parameters(name, params, match):
    with pytest.raises(InputError, match=match):
        get_architecture(name, params=params)


def test_unknown_architecture_and_unsupported_bits():
    with pytest.raises(InputError, match="unknown MAC architecture 'tpu'"):
        get_architecture("tpu")
    with pytest.raises(InputError, match="exceeds the largest supported mode"):
        get_architecture("subword_parallel").macs_per_cycle(np.array(32), np.array(8))


@pytest.mark.parametrize("name", list_architectures())
def test_data_file_declares_exactly_the_parameters_each_architecture_uses(name):
    entry = load_architecture_params()[name]
    assert set(entry) - {"source"} == set(ARCHITECTURES.get(name).PARAMS)
    assert set(load_architecture_params()) == set(list_architectures())


class _Throwaway(MacArchitecture):
    name = "throwaway"
    PARAMS = {"units": int}

    def energy_per_mac_pj(self, weight_bits, act_bits):
        return np.ones(np.broadcast(np.asarray(weight_bits), np.asarray(act_bits)).shape)

    def macs_per_cycle(self, weight_bits, act_bits):
        return np.ones(np.broadcast(np.asarray(weight_bits), np.asarray(act_bits)).shape)


def register_throwaway(monkeypatch) -> None:
    """For one test: ARCHITECTURES plus ``throwaway``, which has no entry in the data file."""
    registry = Registry("MAC architecture")
    for name in ARCHITECTURES:
        registry.register(name)(ARCHITECTURES.get(name))
    registry.register("throwaway")(_Throwaway)
    monkeypatch.setattr(architectures, "ARCHITECTURES", registry)


def test_a_registered_architecture_without_a_data_entry_is_an_input_error(monkeypatch):
    register_throwaway(monkeypatch)
    with pytest.raises(InputError) as caught:
        get_architecture("throwaway")
    assert not isinstance(caught.value, KeyError)
    assert str(caught.value) == ("MAC architecture 'throwaway' has no entry 'throwaway' in "
                                 "energy_models/data/architectures.json: add its parameters there (or pass them "
                                 "as architecture parameters)")
    assert get_architecture("throwaway", params={"units": 4}).units == 4  # parameters given: no entry needed


@pytest.mark.parametrize("text, match", [
    ('{"data_gatd": {"overhead_fraction": 0.2}}', "unknown MAC architecture 'data_gatd'; did you mean 'data_gated'"),
    ('{"tpu": {}}', "names unknown MAC architecture 'tpu' \\(known: "),
    ('{"bit_serial": {"overhead_fraction": NaN}}', "holds NaN; only finite numbers"),
    ('{"bit_serial": {"overhead_fraction": Infinity}}', "holds Infinity"),
    ('{"bit_serial": {"overhead_fraction": 1e999}}', "not a finite number"),
    ('{"data_gated": {"units": 4}, "data_gated": {"units": 8}}', "has the key 'data_gated' twice"),
    ('{"bit_serial": {"overhead_fraction": -0.5}}', "architecture 'bit_serial': overhead_fraction must be >= 0"),
])
def test_parameter_files_are_checked_in_full(tmp_path, text, match):
    """Every entry of the file is checked, also one for an architecture not being estimated."""
    f = tmp_path / "arch.json"
    f.write_text(text)
    with pytest.raises(InputError, match=match):
        get_architecture("fixed16", params=f)


def test_parameter_files_that_are_not_text_files(tmp_path):
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(InputError, match="is a directory, not a regular file"):
        get_architecture("fixed16", params=tmp_path / "dir.yaml")
    (tmp_path / "l1.yaml").write_bytes(b"data_gated:\n  source: caf\xe9\n")
    with pytest.raises(InputError, match=r"is not UTF-8 text \(byte 0xe9"):
        get_architecture("fixed16", params=tmp_path / "l1.yaml")
    (tmp_path / "dup.yaml").write_text("data_gated:\n  units: 4\n  units: 8\n")
    with pytest.raises(InputError, match="twice"):
        get_architecture("data_gated", params=tmp_path / "dup.yaml")
