"""ZigZag check: the YAML conversion (pure, hand-computed) and one small real ZigZag run (skipped
without zigzag-dse, which CI does not install)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import yaml

from energy_models import LayerSpec, load_accelerator
from energy_models.accelerator import parse_accelerator
from energy_models.dse import Workload, apply_point
from energy_models.errors import InputError
from quanos_hw import zigzag_check as zc

#: bitfusion45 at 8x8 bits (Horowitz 45 nm table): (8x8 multiply 0.19377 pJ + 32-bit add 0.1 pJ) x 1.3
#: (overhead_fraction) = 0.38191 pJ per fusion-unit cycle; at 4-bit weights 2 MACs share that cycle
E_8X8_PJ = (0.19377431906614787 + 0.1) * 1.3


def _conv() -> LayerSpec:
    """3x3 stride-2 pad-1 conv, 16 -> 16 channels, 32x32 -> 16x16, 4-bit weights, 6-bit outputs."""
    return LayerSpec("c0", "conv", macs=16 * 16 * 16 * 16 * 9, weights=16 * 16 * 9, inputs=16 * 32 * 32,
                     outputs=16 * 16 * 16, weight_bit_width=4, act_bit_width=6, input_source="@input",
                     padded_inputs=16 * 34 * 34, out_channels=16, in_channels=16, out_height=16, out_width=16,
                     kernel_height=3, kernel_width=3)


def _linear() -> LayerSpec:
    return LayerSpec("fc", "linear", macs=10 * 4096, weights=10 * 4096, inputs=4096, outputs=10,
                     weight_bit_width=8, act_bit_width=2, input_source="c0", out_channels=10, in_channels=4096)


@pytest.fixture()
def written(tmp_path):
    acc = load_accelerator("bitfusion45")
    paths = zc.to_zigzag_inputs(acc, Workload("mixed", (_conv(), _linear())), tmp_path)
    return acc, [yaml.safe_load(p.read_text()) for p in paths]


def test_workload_dims_and_per_layer_precisions(written):
    _, (_, _, work) = written
    conv, fc = work
    assert conv["operator_type"] == "Conv" and fc["operator_type"] == "Gemm"
    assert dict(zip(conv["loop_dims"], conv["loop_sizes"])) == {"B": 16, "K": 16, "C": 16, "OY": 16, "OX": 16,
                                                                "FY": 3, "FX": 3}
    assert dict(zip(fc["loop_dims"], fc["loop_sizes"])) == {"B": 16, "K": 10, "C": 4096}
    # W = weight bits; I = the producer's activation bits (the network input: 8); O_final = own activation
    # bits; O = w + a_in + ceil(log2(C*FY*FX)): 4 + 8 + 8 (144 products), 8 + 6 + 12 (4096 products)
    assert conv["operand_precision"] == {"W": 4, "I": 8, "O": 20, "O_final": 6}
    assert fc["operand_precision"] == {"W": 8, "I": 6, "O": 26, "O_final": 2}
    assert conv["operand_source"] == {"W": 0, "I": 0} and fc["operand_source"] == {"W": 1, "I": 0}
    # stride 2 and one pixel of padding per side, inferred from 32x32 unpadded and 34x34 padded inputs
    assert conv["dimension_relations"] == ["ix=2*ox+1*fx", "iy=2*oy+1*fy"]
    assert conv["pr_loop_sizes"] == [32, 32] and conv["padding"] == [[1, 1], [1, 1]]


def test_hardware_array_memories_and_dram(written):
    acc, (hardware, mapping, _) = written
    assert hardware["operational_array"]["sizes"] == [16, 32]
    mem = hardware["memories"]
    assert list(mem) == ["pe_accumulator", "wbuf", "ibuf", "obuf", "dram"]
    assert [mem[n]["size"] for n in ("wbuf", "ibuf", "obuf")] == [65536 * 8, 32768 * 8, 16384 * 8]
    assert [mem[n]["operands"] for n in ("wbuf", "ibuf", "obuf")] == [["I2"], ["I1"], ["O"]]
    # a read port of word_bits x banks bits per cycle (32 x 512 for the weight banks), accessed per 32-bit word
    assert mem["wbuf"]["ports"][0]["bandwidth_min"] == 32 and mem["wbuf"]["ports"][0]["bandwidth_max"] == 16384
    # the accumulator holds the widest partial sum and is shared along D1, the rows that reduce C
    assert mem["pe_accumulator"]["size"] == 26 and mem["pe_accumulator"]["served_dimensions"] == ["D1"]
    # 12 GB/s at 500 MHz = 192 bits per cycle; 15 pJ/bit x 192 bits per access
    assert zc.dram_bits_per_cycle(acc) == 192
    assert mem["dram"]["ports"][0]["bandwidth_max"] == 192 and mem["dram"]["r_cost"] == pytest.approx(2880.0)
    # MAC-weighted mean of the layers' energies per MAC: (4, 8) bits -> 2 MACs per cycle, (8, 6) -> 1
    macs = (589824, 40960)
    mean = (macs[0] * E_8X8_PJ / 2 + macs[1] * E_8X8_PJ) / sum(macs)
    assert hardware["operational_array"]["unit_energy"] == pytest.approx(mean, rel=1e-9)
    assert mapping[0]["spatial_mapping"] == {"D1": ["C, 16"], "D2": ["K, 32"]}
    assert {m["name"] for m in mapping} == {"default", "Conv", "Gemm"}


def test_buffer_energies_are_our_estimators():
    acc = load_accelerator("bitfusion45")
    from energy_models.accelerator_estimate import _buffer_pj_per_bit

    buffer = acc.buffer_of("weights")
    read_bit, write_bit = _buffer_pj_per_bit(buffer, buffer.capacity_bytes, acc.node_nm)
    mem = zc.hardware_yaml(acc, zc.zigzag_layers(acc, Workload("w", (_conv(),))))["memories"]["wbuf"]
    assert mem["r_cost"] == pytest.approx(float(read_bit) * 16384)
    assert mem["w_cost"] == pytest.approx(float(write_bit) * 16384)


def test_layer_costs_per_precision():
    acc = load_accelerator("bitfusion45")
    conv, fc = zc.zigzag_layers(acc, Workload("mixed", (_conv(), _linear())))
    assert conv.mac_energy_pj == pytest.approx(E_8X8_PJ / 2) and conv.macs_per_cycle == 2.0
    assert fc.mac_energy_pj == pytest.approx(E_8X8_PJ) and fc.macs_per_cycle == 1.0


@pytest.mark.parametrize(("inputs", "padded", "out", "kernel", "expected"), [
    (16 * 32 * 32, 16 * 34 * 34, 32, 3, (1, 1, 32, 32, 2, 2)),  # same padding
    (16 * 32 * 32, 16 * 34 * 34, 16, 3, (2, 2, 32, 32, 2, 2)),  # stride 2
    (16 * 32 * 32, 16 * 32 * 32, 16, 1, (2, 2, 32, 32, 0, 0)),  # 1x1 stride-2 shortcut
    (3 * 32 * 32, 3 * 32 * 32, 28, 5, (1, 1, 32, 32, 0, 0)),  # valid 5x5
])
def test_input_geometry(inputs, padded, out, kernel, expected):
    layer = LayerSpec("c", "conv", macs=1, weights=1, inputs=inputs, outputs=out * out * 8, padded_inputs=padded,
                      out_channels=8, in_channels=inputs // 1024, out_height=out, out_width=out,
                      kernel_height=kernel, kernel_width=kernel)
    assert zc.input_geometry(layer) == expected


def test_weight_stationary_register_and_ideal_array():
    raw = load_accelerator("bitfusion45").to_dict()
    acc = parse_accelerator(apply_point(raw, {"array.stationary": "weights", "array.unroll": {"rows": "OX",
                                                                                          "cols": "K"}}))
    layers = zc.zigzag_layers(acc, Workload("w", (_conv(), _linear())))
    mem = zc.hardware_yaml(acc, layers)["memories"]
    # one weight per PE, shared along D1 (OX is irrelevant to weights); the accumulator along no axis
    assert mem["pe_weights_register"]["size"] == 8 and mem["pe_weights_register"]["served_dimensions"] == ["D1"]
    assert mem["pe_accumulator"]["served_dimensions"] == []
    gemm = next(m for m in zc.mapping_yaml(acc) if m["name"] == "Gemm")
    assert gemm["spatial_mapping"] == {"D1": ["B, 1"], "D2": ["K, 32"]}  # a linear layer has no OX: D1 idles
    ideal = parse_accelerator(apply_point(raw, {"array.unroll": "ideal"}))
    assert all(m["spatial_mapping"] is None for m in zc.mapping_yaml(ideal))


def test_unbounded_dram_and_bad_input(tmp_path):
    acc = load_accelerator("default")
    assert zc.dram_bits_per_cycle(acc) == zc.UNBOUNDED_BITS_PER_CYCLE
    with pytest.raises(InputError, match="no layers"):
        zc.to_zigzag_inputs(acc, Workload("empty", ()), tmp_path)
    with pytest.raises(InputError, match="k must be a positive integer"):
        zc.check_points(acc, [{}], [Workload("w", (_linear(),))], 0)


def test_module_imports_without_zigzag():
    assert isinstance(zc.zigzag_available(), bool)


# -- one real ZigZag run --------------------------------------------------------------------------

def _tiny() -> Workload:
    """A 32 -> 16 linear layer on the network input: every operand fits its buffer."""
    layer = LayerSpec("fc", "linear", macs=512, weights=512, inputs=32, outputs=16, weight_bit_width=8,
                      act_bit_width=8, input_source="@input", out_channels=16, in_channels=32)
    return Workload("tiny", (layer,))


def test_zigzag_dram_bits_match_our_exact_count():
    pytest.importorskip("zigzag")
    if not zc.zigzag_available():
        pytest.skip(f"zigzag-dse {zc.ZIGZAG_VERSION} is not the installed release")
    acc = load_accelerator("bitfusion45").replace(batch=1)
    ours = zc.quanos_estimate(acc, _tiny())
    zz = zc.zigzag_estimate(acc, _tiny())
    # weights 512 x 8 and the network input 32 x 8 read once; the 16 outputs stay in the output buffer
    assert ours["dram_bits"] == [512 * 8 + 32 * 8]
    assert zz["dram_bits"] == pytest.approx(ours["dram_bits"], rel=1e-12)
    assert zz["per_layer"][0]["dram_bits_by_operand"] == {"weights": 4096.0, "inputs": 256.0, "outputs": 0.0}
    # ZigZag's own flow writes the 16 x 8 output bits to DRAM too
    assert zc.zigzag_estimate(acc, _tiny(), on_chip=False)["dram_bits"] == [512 * 8 + 32 * 8 + 16 * 8]
    # MAC energy: ours per MAC at 8x8 bits, times ZigZag's MAC count
    assert zz["per_layer"][0]["mac_energy_pj"] == pytest.approx(512 * E_8X8_PJ, rel=1e-9)
    # DRAM energy alone (4352 bits x 15 pJ) is most of both totals; the buffers add a few per cent
    assert zz["total_energy_pj"] == pytest.approx(ours["total_energy_pj"], rel=0.1)
    assert zz["total_latency_s"] == zz["total_latency_cycles"] / 500e6 and math.isfinite(zz["total_latency_s"])


def test_check_points_rows_and_timeout():
    pytest.importorskip("zigzag")
    if not zc.zigzag_available():
        pytest.skip(f"zigzag-dse {zc.ZIGZAG_VERSION} is not the installed release")
    base = load_accelerator("bitfusion45").replace(batch=1)
    other = Workload("other", (dataclasses.replace(_linear(), input_source="@input"),))
    # a point, and a DSE table row (its workload named, its other columns ignored); k = 2 of 3
    points = [{"array.rows": 8}, {"point": 7, "workload": "tiny", "array.cols": 16, "energy_pj": 1.0}, {"batch": 2}]
    rows = zc.check_points(base, points, [_tiny(), other], k=2)
    assert [(r["point"], r["workload"]) for r in rows] == [(0, "tiny"), (0, "other"), (7, "tiny")]
    assert rows[2]["array.cols"] == 16 and "energy_pj" in rows[2] and rows[2]["energy_pj"] != 1.0
    assert rows[0]["zigzag_dram_bits_per_layer"] == pytest.approx(rows[0]["dram_bits_per_layer"], rel=1e-12)
    assert all(r["zigzag_energy_pj"] > 0 and r["zigzag_latency_s"] > 0 for r in rows)
    with pytest.raises(TimeoutError):
        zc.zigzag_estimate(base, _tiny(), timeout_s=0.01)
