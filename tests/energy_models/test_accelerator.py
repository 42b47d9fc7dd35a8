"""Accelerator descriptions (energy_models.accelerator) and their estimates
(energy_models.accelerator_estimate): the original model as one description, a hand-computed
design, latency, area, design sweeps and bad input."""

import copy

import numpy as np
import pytest

from energy_models import InputError, LayerSpec, estimate, get_architecture, list_architectures, load_technology
from energy_models.accelerator import list_accelerators, load_accelerator, parse_accelerator
from energy_models.accelerator_estimate import estimate_accelerator
from energy_models.scaling import energy_scale

FC = LayerSpec("fc", "linear", 2048, 2048, 64, 32, input_source="@input", out_channels=32, in_channels=64,
               out_height=1, out_width=1, kernel_height=1, kernel_width=1)

HAND = {
    "name": "hand", "mac": {"architecture": "fixed16"},
    "array": {"rows": 4, "cols": 8, "unroll": {"rows": "K", "cols": "C"}, "stationary": "weights"},
    "clock_mhz": 100, "batch": 1, "technology": {"table": "horowitz45", "node_nm": 45},
    "memory": {"dram": {"read_pj_per_bit": 10.0, "write_pj_per_bit": 10.0, "bandwidth_gb_s": 1.0},
               "buffers": [{"name": "wbuf", "operands": ["weights"], "capacity_bytes": 1024, "word_bits": 64,
                            "read_pj": 2.0, "write_pj": 3.0, "area_mm2": 0.5},
                           {"name": "abuf", "operands": ["inputs", "outputs"], "capacity_bytes": 1024,
                            "word_bits": 64, "read_pj": 1.0, "write_pj": 1.0, "area_mm2": 0.25}]},
}


def test_hand_computed_design():
    est = estimate_accelerator([FC], 8, 8, accelerator=parse_accelerator(HAND))
    # weights 2048 x 8 = 16384 bits > 8192: not resident; inputs 512 bits fit: every operand crosses DRAM once;
    # the output (256 bits) stays on chip beside the inputs (768 <= 8192)
    assert est.dram_bits[0, 0] == 16384 + 512
    assert est.memory_energy_pj_by_level["dram"][0, 0] == pytest.approx(16896 * 10)
    # wbuf: 16384 bits written (3 pJ / 64 bits) and read once (weight-stationary, 2 pJ / 64 bits)
    assert est.memory_energy_pj_by_level["wbuf"][0, 0] == pytest.approx(16384 * 3 / 64 + 16384 * 2 / 64)
    # abuf: inputs filled once (512 bits) and read ceil(K / 4) = 8 times; outputs written once (256 bits)
    assert est.memory_energy_pj_by_level["abuf"][0, 0] == pytest.approx((512 + 512 * 8 + 256) / 64)
    arch = get_architecture("fixed16", load_technology("horowitz45"))
    assert est.mac_energy_pj[0, 0] == pytest.approx(2048 * float(arch.energy_per_mac_pj(8, 8)))
    # 8 K-tiles x 8 C-tiles = 64 cycles at 100 MHz = 640 ns; DRAM 16896 bits at 8 Gbit/s = 2.112 us
    assert est.cycles[0, 0] == 64 and est.compute_s[0, 0] == pytest.approx(640e-9)
    assert est.memory_s[0, 0] == pytest.approx(2.112e-6) and est.latency_s[0, 0] == pytest.approx(2.112e-6)
    assert est.utilization[0, 0] == 1.0
    assert est.throughput_per_s[0] == pytest.approx(1 / 2.112e-6)
    assert est.edp_j_s[0] == pytest.approx(est.total_energy_pj[0] * 1e-12 * 2.112e-6)
    assert est.area_mm2 == {"mac_array": est.area_mm2["mac_array"], "wbuf": 0.5, "abuf": 0.25}


def test_sequential_latency_adds_compute_and_memory():
    spec = {**HAND, "latency": "sequential"}
    est = estimate_accelerator([FC], 8, 8, accelerator=parse_accelerator(spec))
    assert est.latency_s[0, 0] == pytest.approx(640e-9 + 2.112e-6)


def test_smaller_weight_buffer_refetches_inputs():
    spec = copy.deepcopy(HAND)
    spec["memory"]["buffers"][0]["capacity_bytes"] = 512  # 4096 bits: 4 weight tiles
    spec["memory"]["buffers"][1]["capacity_bytes"] = 32  # 256 bits: inputs (512 bits) no longer fit
    est = estimate_accelerator([FC], 8, 8, accelerator=parse_accelerator(spec))
    # n_K = 4: 16384 + 4 * 512 = 18432 beats n_P = 2: 2 * 16384 + 512; the output goes to DRAM (256 bits)
    assert est.dram_bits[0, 0] == 16384 + 4 * 512 + 256


@pytest.mark.parametrize("architecture", list_architectures())
def test_default_description_reproduces_the_original_model(architecture):
    layers = [LayerSpec("c1", "conv", 442_368, 432, 3_072, 16_384, input_source="@input", extra_params=32),
              LayerSpec("c2", "conv", 2_359_296, 2_304, 16_384, 16_384, input_source="c1", extra_params=32),
              LayerSpec("fc", "linear", 640, 640, 64, 10, input_source=None, extra_params=10)]
    rng = np.random.default_rng(0)
    w, a = rng.integers(2, 17, (20, 3)), rng.integers(2, 17, (20, 3))
    acc = load_accelerator("default")
    acc = acc.replace(mac=type(acc.mac)(architecture, {}))
    old, new = estimate(layers, w, a, architecture=architecture), estimate_accelerator(layers, w, a, accelerator=acc)
    if architecture == "measured":  # measured at 28 nm: the 45 nm description scales its MAC energies (only)
        np.testing.assert_allclose(new.mac_energy_pj, old.mac_energy_pj * energy_scale(28, 45), rtol=1e-12)
        np.testing.assert_array_equal(new.memory_energy_pj, old.memory_energy_pj)
        return
    np.testing.assert_array_equal(new.energy_pj, old.energy_pj)
    np.testing.assert_array_equal(new.cycles, old.cycles)
    np.testing.assert_array_equal(new.size_bits, old.size_bits)
    for level in old.memory_energy_pj_by_level:
        np.testing.assert_array_equal(new.memory_energy_pj_by_level[level], old.memory_energy_pj_by_level[level])


def test_design_sweep_equals_one_point_at_a_time():
    layers = [FC, LayerSpec("fc2", "linear", 320, 320, 32, 10, input_source="fc", out_channels=10, in_channels=32)]
    acc = parse_accelerator(HAND)
    w = np.array([[8, 4], [16, 2]])
    design = {"array.rows": [2, 4, 8], "memory.buffers.wbuf.capacity_bytes": [256, 1024, 4096],
              "batch": [1, 2, 4], "memory.dram.bandwidth_gb_s": [0.5, 1, 2], "clock_mhz": [50, 100, 200]}
    swept = estimate_accelerator(layers, w, w, accelerator=acc, design=design)
    assert swept.energy_pj.shape == (3, 2, 2)
    for d in range(3):
        spec = copy.deepcopy(HAND)
        spec["array"]["rows"] = design["array.rows"][d]
        spec["memory"]["buffers"][0]["capacity_bytes"] = design["memory.buffers.wbuf.capacity_bytes"][d]
        spec["batch"] = design["batch"][d]
        spec["memory"]["dram"]["bandwidth_gb_s"] = design["memory.dram.bandwidth_gb_s"][d]
        spec["clock_mhz"] = design["clock_mhz"][d]
        one = estimate_accelerator(layers, w, w, accelerator=parse_accelerator(spec))
        np.testing.assert_allclose(swept.energy_pj[d], one.energy_pj, rtol=1e-12)
        np.testing.assert_allclose(swept.latency_s[d], one.latency_s, rtol=1e-12)
        np.testing.assert_allclose(swept.total_latency_s[d], one.total_latency_s, rtol=1e-12)
        np.testing.assert_allclose(swept.edp_j_s[d], one.edp_j_s, rtol=1e-12)
        np.testing.assert_allclose(swept.throughput_per_s[d], one.throughput_per_s, rtol=1e-12)


def test_batch_amortises_weight_fetches():
    one = estimate_accelerator([FC], 8, 8, accelerator=parse_accelerator(HAND))
    four = estimate_accelerator([FC], 8, 8, accelerator=parse_accelerator({**HAND, "batch": 4}))
    # per inference: weights 16384 / 4, inputs 512 (2048 bits per batch still fit the 8192-bit buffer)
    assert four.dram_bits[0, 0] == 16384 / 4 + 512
    assert four.total_energy_pj[0] < one.total_energy_pj[0]


@pytest.mark.parametrize("name", list_accelerators())
def test_latency_is_at_least_the_peak_compute_bound(name):
    acc = load_accelerator(name)
    layers = [FC, LayerSpec("fc2", "linear", 320, 320, 32, 10, input_source="fc", out_channels=10, in_channels=32)]
    for bits in (2, 4, 8, 16):
        est = estimate_accelerator(layers, bits, bits, accelerator=acc, input_bit_width=bits)
        arch = get_architecture(acc.mac.architecture, load_technology(acc.technology), acc.mac.params or None)
        peak = float(np.max(arch.macs_per_cycle(np.array([bits]), np.array([bits]))))
        bound = acc.batch * sum(layer.macs for layer in layers) / (acc.array.pes * peak * acc.clock_mhz * 1e6)
        assert est.total_latency_s[0] >= bound * (1 - 1e-12)


def test_example_descriptions_cite_every_number():
    for name in list_accelerators():
        acc = load_accelerator(name)
        raw = acc.to_dict()
        assert parse_accelerator(raw, name) == acc  # to_dict round-trips
        missing = [path for path in _numeric_paths(raw) if not any(
            path == key or path.startswith(key + ".") for key in acc.sources)]
        assert not missing, f"{name}: no source for {missing}"


def _numeric_paths(raw, prefix=""):
    if isinstance(raw, dict):
        for k, v in raw.items():
            if k != "sources":
                yield from _numeric_paths(v, f"{prefix}{k}.")
    elif isinstance(raw, list):
        for item in (x for x in raw if isinstance(x, dict)):
            yield from _numeric_paths({k: v for k, v in item.items() if k != "name"}, f"{prefix}{item['name']}.")
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        path = prefix[:-1]
        if not path.endswith(("banks",)):
            yield path


BAD = [
    (("mac",), None, "mac is missing"),
    (("mac", "architecture"), "tpu", "unknown MAC architecture 'tpu'"),
    (("array", "rows"), 0, "array.rows must be an integer between 1"),
    (("array", "unroll"), {"rows": "K", "cols": "Q"}, "array.unroll.cols must be one of"),
    (("array", "unroll"), {"rows": "K", "cols": "K"}, "both unroll K"),
    (("clock_mhz",), 0, "clock_mhz must be > 0"),
    (("clock_mhz",), float("nan"), "clock_mhz must be a finite number"),
    (("batch",), -1, "batch must be an integer between 1"),
    (("technology", "node_nm"), 3, "technology.node_nm must be >= 7"),
    (("memory", "dram", "bandwidth_gb_s"), 0, "bandwidth_gb_s must be > 0"),
    (("memory", "dram", "read_pj_per_bit"), -1.0, "read_pj_per_bit must be >= 0"),
    (("memory", "buffers", 0, "capacity_bytes"), 0, "capacity_bytes must be > 0"),
    (("memory", "buffers", 0, "capacity_bytes"), -5, "capacity_bytes must be > 0"),
    (("memory", "buffers", 0, "operands"), ["weights", "psums"], "unknown operand 'psums'"),
    (("memory", "buffers", 1, "operands"), ["weights"], "weights is already held by buffer 'wbuf'"),
    (("memory", "buffers", 0, "word_bits"), 0, "word_bits must be an integer between 1"),
    (("memory", "buffers", 0, "capcity_bytes"), 5, "unknown field 'capcity_bytes'; did you mean 'capacity_bytes'"),
    (("latency",), "parallel", "latency must be one of overlapped, sequential"),
    (("memory", "buffers", 0, "banks"), 512, "capacity_bytes / banks = 2 bytes per bank does not hold one 64-bit word"),
]


@pytest.mark.parametrize("path, value, message", BAD, ids=[".".join(map(str, p)) for p, _, _ in BAD])
def test_bad_descriptions_name_the_field(path, value, message):
    spec = copy.deepcopy(HAND)
    node = spec
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_accelerator(spec, "'x.yaml'")


def test_unbounded_buffer_needs_energies_and_sweeps_need_equal_lengths():
    spec = copy.deepcopy(HAND)
    spec["memory"]["buffers"][0] = {"name": "wbuf", "operands": ["weights"], "capacity_bytes": None, "word_bits": 64}
    with pytest.raises(InputError, match="unbounded buffer"):
        parse_accelerator(spec)
    with pytest.raises(InputError, match="different lengths"):
        estimate_accelerator([FC], 8, accelerator=parse_accelerator(HAND),
                             design={"array.rows": [1, 2], "clock_mhz": [1, 2, 3]})
    with pytest.raises(InputError, match="cannot be swept"):
        estimate_accelerator([FC], 8, accelerator=parse_accelerator(HAND), design={"array.depth": [1]})
