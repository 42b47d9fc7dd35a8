"""``quanos estimate --hardware``: the accelerator description's report through the CLI.

small_cnn on mnist5k at 8 bits: 9,145,216 MACs and 60,688 weights. On the shipped ``default``
description (256 MACs ideally packed, 1 GHz, weights from DRAM at 20 pJ/bit, unbounded SRAM for
activations) energies equal those without --hardware, the latency is MACs / 256 cycles at 1 GHz
and DRAM carries the weights once (60,688 x 8 bits).
"""

import json

import pytest
import yaml

from energy_models.accelerator import load_accelerator
from quanos_hw.cli import main
from quanos_hw.cli.estimate_cmd import HARDWARE_JSON_KEYS, JSON_KEYS

SMALL = ["estimate", "--model", "small_cnn", "--dataset", "mnist5k", "--bits", "8"]
MACS, WEIGHTS = 9_145_216, 60_688
CYCLES = MACS / 256  # 35,723.5
DRAM_PJ_PER_BIT = 20.0
PER_LAYER_HARDWARE = ("latency_s", "compute_s", "memory_s", "utilization", "dram_bits")


def _json(capsys, *args):
    assert main([*SMALL, *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _shared(plain: dict, timed: dict) -> None:
    """Every key of the report without --hardware has the same value with it (exactly)."""
    for key in JSON_KEYS:
        if key == "totals":
            assert {k: timed[key][k] for k in plain[key]} == plain[key]
        elif key == "layers":
            assert [{k: row[k] for k in ref} for row, ref in zip(timed[key], plain[key])] == plain[key]
        else:
            assert timed[key] == plain[key], key


def test_default_description_gives_the_same_numbers_plus_hardware_keys(capsys):
    plain, timed = _json(capsys), _json(capsys, "--hardware", "default")
    assert list(plain) == list(JSON_KEYS)
    assert list(timed) == list(JSON_KEYS) + list(HARDWARE_JSON_KEYS)
    _shared(plain, timed)
    t = timed["totals"]
    assert t["macs"] == MACS and t["cycles"] == CYCLES
    assert t["latency_s"] == pytest.approx(CYCLES / 1e9, rel=1e-12)
    assert t["throughput_per_s"] == pytest.approx(1e9 / CYCLES, rel=1e-12)
    assert t["edp_j_s"] == pytest.approx(t["energy_pj"] * 1e-12 * CYCLES / 1e9, rel=1e-12)
    assert t["utilization"] == 1.0 and t["dram_bits"] == WEIGHTS * 8
    assert t["memory_energy_pj_by_level"]["dram"] == pytest.approx(WEIGHTS * 8 * DRAM_PJ_PER_BIT, rel=1e-12)
    assert timed["hardware"] == load_accelerator("default").to_dict()
    area = timed["area"]  # the unbounded SRAM has no area; the MAC array's is known where its MAC's is
    assert "sram" in area["unknown"] and set(area["components_mm2"]) | set(area["unknown"]) == {"mac_array", "sram"}
    assert area["total_mm2"] == (sum(area["components_mm2"].values()) if area["components_mm2"] else None)
    assert timed["latency_speedup_vs_uniform16"] == 1.0  # data_gated: one MAC per cycle at any width
    assert set(PER_LAYER_HARDWARE) <= set(timed["layers"][0])


def test_mac_replaces_the_descriptions_architecture(capsys):
    plain, timed = _json(capsys, "--mac", "bitfusion"), _json(capsys, "--mac", "bitfusion", "--hardware", "default")
    assert timed["mac_architecture"] == "bitfusion"
    _shared(plain, timed)
    assert timed["hardware"]["mac"]["architecture"] == "bitfusion"


def _tiny_buffer(tmp_path) -> str:
    """The default description with a 1 KiB activation buffer (of a given area) and the network
    input in DRAM."""
    raw = load_accelerator("default").to_dict()
    raw["name"] = "tiny"
    raw["memory"]["buffers"][0].update(capacity_bytes=1024, area_mm2=0.01)
    raw["memory"]["network_input_on_chip"] = False
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_a_tiny_buffer_spills_activations_to_dram(capsys, tmp_path):
    default, tiny = _json(capsys, "--hardware", "default"), _json(capsys, "--hardware", _tiny_buffer(tmp_path))
    dram = [r["memory_energy_pj_by_level"]["dram"] for r in (default["totals"], tiny["totals"])]
    assert dram[1] > dram[0]
    assert tiny["totals"]["mac_energy_pj"] == default["totals"]["mac_energy_pj"]
    first, last = tiny["layers"][0], tiny["layers"][-1]
    # features.0: 144 weights and its 784 input pixels fit (1 KiB = 8,192 bits) and come once from
    # DRAM; its 12,544 outputs (100,352 bits) do not fit and are written to DRAM
    assert first["dram_bits"] == (144 + 784 + 12_544) * 8
    assert first["memory_energy_pj_by_level"]["dram"] == pytest.approx(first["dram_bits"] * DRAM_PJ_PER_BIT)
    # classifier: 640 weights; its 64 inputs come from DRAM (features.5 spilled); its 10 outputs stay
    assert last["dram_bits"] == (640 + 64) * 8
    area = {**tiny["area"]["components_mm2"], **dict.fromkeys(tiny["area"]["unknown"])}
    assert area["sram"] == 0.01 and set(area) == {"mac_array", "sram"}
    assert tiny["area"]["total_mm2"] == pytest.approx(sum(v for v in area.values() if v is not None))


def test_table_adds_latency_and_the_accelerator_summary(capsys):
    assert main(SMALL) == 0
    plain = capsys.readouterr().out.splitlines()
    assert main([*SMALL, "--hardware", "default"]) == 0
    timed = capsys.readouterr().out.splitlines()
    assert "lat. µs" not in plain[1] and not any("accelerator" in line for line in plain)
    assert plain[1].startswith("layer") and timed[1] == plain[1] + f"{'lat. µs':>10}"
    assert timed[0] == "small_cnn (1, 28, 28) on data_gated (horowitz45, accelerator:default)"
    assert timed[-2].startswith("accelerator default: 16x16 PEs at 1000 MHz, batch 1; latency per batch "
                                "0.03572 ms; throughput 2.799e+04 inferences/s; EDP ")
    assert "utilisation 100.0%; DRAM 59.3 KiB per inference" in timed[-2]
    assert timed[-1].startswith("latency speedup vs uniform 16-bit 1.000x; area ") and "sram unknown" in timed[-1]
    assert timed[-3] == plain[-1] and len(timed) == len(plain) + 2


def test_csv_gets_the_per_layer_hardware_columns(capsys):
    assert main([*SMALL, "--hardware", "default", "--csv"]) == 0
    head, *rows = capsys.readouterr().out.strip().splitlines()
    columns = head.split(",")
    assert set(PER_LAYER_HARDWARE) <= set(columns) and len(rows) == 5
    first = dict(zip(columns, rows[0].split(",")))
    assert float(first["latency_s"]) == pytest.approx(112_896 / 256 / 1e9) and float(first["dram_bits"]) == 1152


@pytest.mark.parametrize("flag, value", [("--tech", "horowitz45"), ("--dataflow", "dram_only"),
                                         ("--arch-params", "p.yaml")])
def test_options_the_description_decides_are_refused(capsys, flag, value):
    assert main([*SMALL, "--hardware", "default", flag, value]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"quanos: error: {flag} cannot be combined with --hardware: the accelerator description "
                          "decides the technology and the memory traffic")


def test_unknown_mac_on_a_description(capsys):
    assert main([*SMALL, "--hardware", "default", "--mac", "systolic"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown MAC architecture 'systolic'" in err


def test_help_names_the_json_keys(capsys):
    with pytest.raises(SystemExit):
        main(["estimate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--hardware FILE_OR_NAME" in text
    assert "with --hardware also hardware, area, latency_speedup_vs_uniform16" in text
