import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_models import (
    MAX_BITS,
    MIN_BITS,
    NETWORK_INPUT,
    LayerSpec,
    energy_report,
    estimate,
    list_architectures,
    with_bits,
)
from energy_models.errors import InputError

LAYERS = [
    LayerSpec("c1", "conv", 442_368, 432, 3_072, 16_384, input_source=NETWORK_INPUT, extra_params=32),
    LayerSpec("c2", "conv", 2_359_296, 2_304, 16_384, 16_384, input_source="c1", extra_params=32),
    LayerSpec("fc", "linear", 640, 640, 64, 10, input_source=None, extra_params=10),
]


def test_one_layer_by_hand():
    alone = LayerSpec(**{**LAYERS[1].to_dict(), "input_source": None})  # producer unknown -> own act bits
    est = estimate([alone], 4, 6, architecture="data_gated")
    k = (0.2 * 64 + 3.1 * 1024) / (8**4 + 32**4)
    e_mac = k * 4 * 6 + 0.1 + 0.1 * (k * 256 + 0.1)
    assert float(est.mac_energy_pj[0, 0]) == pytest.approx(2_359_296 * e_mac)
    mem = 2_304 * 4 * 20 + 16_384 * 6 * 5 / 32 + 16_384 * 6 * 5 / 32
    assert float(est.memory_energy_pj[0, 0]) == pytest.approx(mem)
    assert float(est.size_bits[0, 0]) == 2_304 * 4 + 32 * 32
    assert float(est.cycles[0, 0]) == pytest.approx(2_359_296 / 256)


def test_input_bits_come_from_the_producer():
    w = np.array([[8, 8, 8]])
    a = np.array([[3, 5, 7]])
    est = estimate(LAYERS, w, a, input_bit_width=6)
    assert est.input_bits.tolist() == [[6, 3, 7]]  # network input, producer c1, unknown -> own


def test_vectorised_equals_a_loop_over_configurations():
    rng = np.random.default_rng(0)
    w = rng.integers(2, 17, size=(500, 3))
    a = rng.integers(2, 17, size=(500, 3))
    for arch in list_architectures():
        batch = estimate(LAYERS, w, a, architecture=arch)
        loop = np.array([estimate(LAYERS, w[i], a[i], architecture=arch).energy_pj[0] for i in range(0, 500, 50)])
        assert np.allclose(batch.energy_pj[::50], loop)
        assert batch.total_energy_pj.shape == (500,)


def test_report_contract_and_baselines():
    rep = energy_report(with_bits(LAYERS, 8), model="toy", input_shape=(3, 32, 32))
    for key in ("model", "input_shape", "mac_architecture", "technology", "layers", "totals",
                "energy_saving_vs_uniform16", "energy_saving_vs_uniform8", "compression_vs_fp32",
                "compression_vs_uniform16"):
        assert key in rep
    for key in ("name", "kind", "macs", "weights", "weight_bit_width", "act_bit_width", "mac_energy_pj",
                "memory_energy_pj", "energy_pj"):
        assert key in rep["layers"][0]
    assert set(rep["totals"]) >= {"macs", "weights", "params", "size_bits", "mac_energy_pj", "memory_energy_pj",
                                  "energy_pj"}
    assert rep["energy_saving_vs_uniform8"] == pytest.approx(1.0)
    assert rep["totals"]["energy_pj"] == pytest.approx(sum(r["energy_pj"] for r in rep["layers"]))
    weights, extra = 432 + 2304 + 640, 74
    assert rep["compression_vs_fp32"] == pytest.approx(32 * (weights + extra) / (8 * weights + 32 * extra))
    mixed = energy_report(with_bits(LAYERS, [8, 4, 2], [8, 4, 8]), architecture="bitfusion")
    assert mixed["energy_saving_vs_uniform8"] > 1.0 and mixed["energy_saving_vs_uniform16"] > 2.0


@pytest.mark.parametrize("w, a, match", [
    (0, 8, "between 2 and 16"), (1, 8, "between 2 and 16"), (17, 8, "between 2 and 16"),
    (2.5, 8, "must be integers"),
    (np.ones((2, 4), int) * 8, 8, "must have 3 columns"),
    (np.ones((2, 3), int) * 8, np.ones((3, 3), int) * 8, "2 and 3 configurations"),
])
def test_bad_bits(w, a, match):
    with pytest.raises(InputError, match=match):
        estimate(LAYERS, w, a)


def test_no_layers_and_bad_sources():
    with pytest.raises(InputError, match="no conv or linear layers"):
        estimate([], 8)
    with pytest.raises(InputError, match="is not a layer"):
        estimate([LayerSpec("x", "conv", 1, 1, 1, 1, input_source="ghost")], 8)
    with pytest.raises(InputError, match="one weight and one activation bit-width per layer"):
        with_bits(LAYERS, [8, 8])


bits = st.integers(min_value=MIN_BITS, max_value=MAX_BITS)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(bits, bits), min_size=3, max_size=3), st.sampled_from(sorted(list_architectures())))
def test_energy_is_non_negative_and_additive_over_layers(config, arch):
    w = np.array([c[0] for c in config])
    a = np.array([c[1] for c in config])
    est = estimate(LAYERS, w, a, architecture=arch)
    assert np.all(est.energy_pj >= 0) and np.all(est.mac_energy_pj >= 0) and np.all(est.memory_energy_pj >= 0)
    assert est.total_energy_pj[0] == pytest.approx(est.energy_pj[0].sum())
    # each layer estimated alone, at the same weight, activation and input-operand bits, costs
    # exactly its row of the network estimate, so the network is the sum of its layers
    alone = [estimate([LayerSpec(**{**layer.to_dict(), "input_source": None})], w[i], a[i],
                      input_bits=est.input_bits[0, i], architecture=arch) for i, layer in enumerate(LAYERS)]
    for i, single in enumerate(alone):
        for field in ("mac_energy_pj", "memory_energy_pj", "energy_pj", "cycles", "size_bits"):
            assert getattr(single, field)[0, 0] == pytest.approx(getattr(est, field)[0, i], rel=1e-12), field
    assert sum(single.total_energy_pj[0] for single in alone) == pytest.approx(est.total_energy_pj[0], rel=1e-12)
    assert sum(single.total_size_bits[0] for single in alone) == est.total_size_bits[0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(bits, bits), min_size=3, max_size=3), st.integers(0, 2), st.integers(1, 6),
       st.sampled_from(list_architectures()))
def test_energy_never_increases_when_bits_decrease(config, layer, drop, arch):
    w = np.array([c[0] for c in config])
    a = np.array([c[1] for c in config])
    lower_w, lower_a = w.copy(), a.copy()
    lower_w[layer] = max(2, w[layer] - drop)
    lower_a[layer] = max(2, a[layer] - drop)
    high = estimate(LAYERS, w, a, architecture=arch).total_energy_pj[0]
    low = estimate(LAYERS, lower_w, lower_a, architecture=arch).total_energy_pj[0]
    assert low <= high + 1e-9


def test_the_report_reads_the_bits_the_layer_specs_carry():
    w, a = [8, 4, 2], [6, 4, 8]
    rep = energy_report(with_bits(LAYERS, w, a), architecture="subword_parallel")
    est = estimate(LAYERS, w, a, architecture="subword_parallel")
    assert [row["weight_bit_width"] for row in rep["layers"]] == w
    assert [row["act_bit_width"] for row in rep["layers"]] == a
    assert rep["totals"]["energy_pj"] == pytest.approx(float(est.total_energy_pj[0]), rel=1e-12)
    assert rep["totals"]["size_bits"] == int(est.total_size_bits[0])
    assert [layer.weight_bit_width for layer in with_bits(LAYERS, 5)] == [5, 5, 5]
    assert [layer.act_bit_width for layer in with_bits(LAYERS, 5)] == [5, 5, 5]


def test_bit_range_is_the_same_everywhere():
    assert (MIN_BITS, MAX_BITS) == (2, 16)
    estimate(LAYERS, MIN_BITS, MAX_BITS)  # both ends accepted
    for outside in (MIN_BITS - 1, MAX_BITS + 1):
        with pytest.raises(InputError, match=f"between {MIN_BITS} and {MAX_BITS}"):
            estimate(LAYERS, outside, 8)
        with pytest.raises(InputError, match=f"between {MIN_BITS} and {MAX_BITS}"):
            estimate(LAYERS, 8, 8, input_bit_width=outside)
