"""The DRAM model against ZigZag (zigzag-dse 3.9.1) on its tpu_like accelerator: a 3x3 conv,
64->64 channels, 32x32 output, stride 1, padding 1, 8-bit operands, DRAM with a 64-bit port at
700 pJ per read and 750 pJ per write (fixed vectors; ZigZag itself is not needed)."""

import pytest

from energy_models import LayerSpec, estimate, get_dataflow, parse_technology
from energy_models.errors import InputError

CONV = LayerSpec("conv", "conv", macs=37_748_736, weights=36_864, inputs=32 * 32 * 64, outputs=32 * 32 * 64,
                 weight_bit_width=8, act_bit_width=8, padded_inputs=34 * 34 * 64)
ZIGZAG_PJ = {"weights": 3_225_600, "inputs_padded": 6_473_600, "outputs": 6_144_000}


def zigzag_tech():
    cite = {"source": "ZigZag tpu_like DRAM port"}
    return parse_technology({
        "name": "zigzag_tpu_like", "reference": "zigzag-dse 3.9.1",
        "int_add_pj": {"32": {"value": 0.0, **cite}}, "int_mult_pj": {"8": {"value": 0.04, **cite}},
        "memories": {"dram": {"word_bits": 64, "read_pj": {"value": 700, **cite},
                              "write_pj": {"value": 750, **cite}}}})


@pytest.mark.parametrize("operand, access", [("weights", "read"), ("inputs_padded", "read"), ("outputs", "write")])
def test_each_zigzag_dram_energy(operand, access):
    flow = get_dataflow({"name": operand, "transfers": [{"operand": operand, "level": "dram", "access": access}]})
    est = estimate([CONV], 8, 8, technology=zigzag_tech(), dataflow=flow)
    assert float(est.memory_energy_pj[0, 0]) == ZIGZAG_PJ[operand]


def test_dram_only_dataflow_reproduces_zigzag_total():
    est = estimate([CONV], 8, 8, technology=zigzag_tech(), dataflow="dram_only")
    assert float(est.memory_energy_pj_by_level["dram"][0, 0]) == sum(ZIGZAG_PJ.values())


def test_default_dataflow_by_hand():
    est = estimate([CONV], 8, 8, architecture="fixed16")
    dram = 36_864 * 8 * 640 / 32
    sram = (65_536 * 8 + 65_536 * 8) * 5 / 32
    assert float(est.memory_energy_pj_by_level["dram"][0, 0]) == pytest.approx(dram)
    assert float(est.memory_energy_pj_by_level["sram"][0, 0]) == pytest.approx(sram)
    assert est.dataflow == "weights_dram_acts_sram"


def test_weight_memory_energy_is_exactly_proportional_to_weight_bits():
    flow = get_dataflow({"name": "w", "transfers": [{"operand": "weights", "level": "dram", "access": "read"}]})
    energies = [float(estimate([CONV], b, 8, dataflow=flow).memory_energy_pj[0, 0]) for b in range(2, 17)]
    for b, e in zip(range(2, 17), energies):
        assert e == pytest.approx(energies[0] * b / 2, rel=1e-12)


def test_bad_dataflows():
    with pytest.raises(InputError, match="unknown dataflow"):
        get_dataflow("systolic")
    with pytest.raises(InputError, match="dataflow operand must be one of"):
        get_dataflow({"transfers": [{"operand": "psums", "level": "dram", "access": "read"}]})
    with pytest.raises(InputError, match="has no memory level 'l2'"):
        estimate([CONV], 8, 8, dataflow={"transfers": [{"operand": "weights", "level": "l2", "access": "read"}]})
