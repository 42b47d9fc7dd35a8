"""The measured MAC arrays (energy_models/architectures/measured.py), their data file and its converter,
and the node and area every architecture reports.

Values transcribed by hand from KULeuven-MICAS/PSMA-benchmark at commit
94913e3b2b6a1939d7c325384417268566cfdc47 (Ibrahim, Mei, Verhelst, IEEE TCAS-I 2022):
results/breakdown/<clock period ns>/<FU|SWU>/power.csv and area.csv, column 'top' (mW, um^2).
Energy per operation (fJ) = period (ns) * power (mW) * 1e3 / operations per cycle, one MAC = 2
operations, so energy per MAC (pJ) = period (ns) * power (mW) / MACs per cycle (256 at 8x8).
"""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from energy_models import estimate, get_architecture, list_architectures, list_technologies, parse_technology
from energy_models.architectures.base import MacArchitecture
from energy_models.architectures.measured import load_psma_table, measured_modes
from energy_models.errors import InputError
from energy_models.layers import LayerSpec

COMMIT = "94913e3b2b6a1939d7c325384417268566cfdc47"
ROOT = Path(__file__).resolve().parents[2]

# (design, clock MHz, mode act x weight, power mW, file, line, operations per cycle)
TRANSCRIBED = [
    ("bitfusion", 1000, "8x8", 287.28048, "results/breakdown/1.00/FU/power.csv", 10, 512),
    ("bitfusion", 1000, "8x4", 278.64789, "results/breakdown/1.00/FU/power.csv", 64, 1024),
    ("bitfusion", 200, "2x2", 53.5097, "results/breakdown/5.00/FU/power.csv", 226, 8192),
    ("bitblade", 1000, "8x8", 243.25045, "results/breakdown/1.00/FU/power.csv", 34, 512),
    ("loom", 1000, "8x2", 236.71311, "results/breakdown/1.00/FU/power.csv", 155, 2048),
    ("loom", 200, "2x2", 73.34953, "results/breakdown/5.00/FU/power.csv", 263, 8192),
    ("swu_sum_apart", 1000, "4x4", 114.58217, "results/breakdown/1.00/SWU/power.csv", 24, 1024),
    ("swu_sum_together", 200, "2x2", 13.04177, "results/breakdown/5.00/SWU/power.csv", 43, 2048),
]
# (design, clock MHz, area um^2, file, line)
AREAS = [
    ("bitfusion", 1000, 185925, "results/breakdown/1.00/FU/area.csv", 10),
    ("bitfusion", 200, 180674, "results/breakdown/5.00/FU/area.csv", 10),
    ("loom", 200, 233400, "results/breakdown/5.00/FU/area.csv", 47),
    ("swu_sum_apart", 1000, 114441, "results/breakdown/1.00/SWU/area.csv", 6),
]
# BitFusion at 1 GHz, energy per MAC (pJ) of each measured mode: 1 ns * power / MACs per cycle
BF = {"8x8": 287.28048 / 256, "8x4": 278.64789 / 512, "8x2": 275.97656 / 1024, "4x4": 272.83032 / 1024,
      "2x2": 267.01614 / 4096}
# swu_sum_apart at 1 GHz
SWU = {"8x8": 198.99325 / 256, "4x4": 114.58217 / 512, "2x2": 77.16609 / 1024}
# area of one unit (um^2) and its node (nm), as each architecture reports them by default
AREA = {"fixed16": (2203.236034, 45), "data_gated": (2203.236034, 45), "bitfusion": (1733.129989, 45),
        "subword_parallel": (4 * 114441 / 256, 28), "bit_serial": (191093 / 256 * 16 / 64, 28),
        "measured": (185925 / 256, 28)}


def measured(design="bitfusion", clock=1000):
    return get_architecture("measured", params={"design": design, "clock_mhz": clock})


def test_bitfusion_8x8_at_1ghz_is_561_fj_per_operation():
    table = load_psma_table()
    mode = table["designs"]["bitfusion"]["clocks"]["1000"]["modes"]["8x8"]
    assert mode["energy_fj_per_op"] == pytest.approx(561.0946875, rel=1e-12)
    assert float(measured().energy_per_mac_pj(8, 8)) == pytest.approx(1.122189375, rel=1e-12)
    assert table["ops_per_mac"]["value"] == 2 and table["array_macs_8x8"]["value"] == 256


@pytest.mark.parametrize("design, clock, mode, power, path, line, ops", TRANSCRIBED)
def test_data_file_matches_the_hand_transcribed_values(design, clock, mode, power, path, line, ops):
    entry = load_psma_table()["designs"][design]["clocks"][str(clock)]["modes"][mode]
    assert entry["power_mw"]["value"] == power
    assert entry["power_mw"]["source"].startswith(f"KULeuven-MICAS/PSMA-benchmark@{COMMIT}:{path} line {line} ")
    assert entry["ops_per_cycle"]["value"] == ops
    period_ns = 1000 / clock
    assert entry["energy_fj_per_op"] == pytest.approx(period_ns * power * 1e3 / ops, abs=1e-9)  # 9 decimals
    act, weight = (int(b) for b in mode.split("x"))
    arch = measured(design, clock)
    assert float(arch.energy_per_mac_pj(weight, act)) == pytest.approx(period_ns * power / (ops / 2), rel=1e-12)


@pytest.mark.parametrize("design, clock, area, path, line", AREAS)
def test_areas_match_the_hand_transcribed_values(design, clock, area, path, line):
    entry = load_psma_table()["designs"][design]["clocks"][str(clock)]["area_um2"]
    assert entry["value"] == area
    assert entry["source"].startswith(f"KULeuven-MICAS/PSMA-benchmark@{COMMIT}:{path} line {line} ")
    assert measured(design, clock).area_um2 == pytest.approx(area / 256, rel=1e-12)


def test_every_entry_follows_the_repository_formula_and_cites_the_commit():
    table = load_psma_table()
    assert table["node_nm"] == 28 and COMMIT in table["reference"]
    for design in table["designs"].values():
        assert design["psma_parameters_source"].startswith(f"KULeuven-MICAS/PSMA-benchmark@{COMMIT}:")
        for clock, entry in design["clocks"].items():
            assert entry["clock_period_ns"] == 1000 / int(clock)
            for mode in entry["modes"].values():
                expected = entry["clock_period_ns"] * mode["power_mw"]["value"] * 1e3 / mode["ops_per_cycle"]["value"]
                assert mode["energy_fj_per_op"] == pytest.approx(expected, rel=1e-9)
                assert COMMIT in mode["power_mw"]["source"] and COMMIT in mode["ops_per_cycle"]["source"]


def test_measured_ratios_to_8x8():
    arch = measured()
    e88 = float(arch.energy_per_mac_pj(8, 8))
    assert float(arch.energy_per_mac_pj(4, 8)) / e88 == pytest.approx(278.64789 / (2 * 287.28048), rel=1e-12)
    assert float(arch.energy_per_mac_pj(2, 2)) / e88 == pytest.approx(267.01614 / (16 * 287.28048), rel=1e-12)
    assert float(arch.energy_per_mac_pj(4, 8)) / e88 == pytest.approx(0.48497, abs=1e-5)
    assert float(arch.energy_per_mac_pj(2, 2)) / e88 == pytest.approx(0.0580913, abs=1e-7)


@pytest.mark.parametrize("w, a, mode, macs", [
    (8, 8, "8x8", 1), (4, 8, "8x4", 2), (3, 8, "8x4", 2), (2, 8, "8x2", 4), (2, 7, "8x2", 4),
    (4, 4, "4x4", 4), (3, 3, "4x4", 4), (2, 2, "2x2", 16), (5, 7, "8x8", 1),
    (2, 4, "4x4", 4),   # 4x2 not measured: 4x4 (0.26644 pJ) is cheaper than 8x2 (0.26951 pJ)
    (8, 4, "8x8", 1),   # a 4-bit activation with an 8-bit weight: only 8x8 holds it
])
def test_operands_round_up_to_the_cheapest_measured_mode(w, a, mode, macs):
    arch = measured()
    assert float(arch.energy_per_mac_pj(w, a)) == pytest.approx(BF[mode], rel=1e-12)
    assert float(arch.macs_per_cycle(w, a)) == macs


@pytest.mark.parametrize("w, a, mode, macs", [(8, 8, "8x8", 1), (4, 8, "8x8", 1), (2, 8, "8x8", 1),
                                              (4, 4, "4x4", 2), (3, 4, "4x4", 2), (2, 2, "2x2", 4)])
def test_subword_designs_run_asymmetric_operands_in_the_wider_mode(w, a, mode, macs):
    arch = measured("swu_sum_apart")
    assert float(arch.energy_per_mac_pj(w, a)) == pytest.approx(SWU[mode], rel=1e-12)
    assert float(arch.macs_per_cycle(w, a)) == macs


@pytest.mark.parametrize("w, a, energy, macs", [
    (16, 8, 2 * BF["8x8"], 0.5), (8, 16, 2 * BF["8x8"], 0.5), (16, 16, 4 * BF["8x8"], 0.25),
    (12, 8, 2 * BF["8x8"], 0.5),
    (4, 16, 2 * BF["8x4"], 1.0),   # two passes of an 8-bit activation slice against a 4-bit weight
    (16, 2, 2 * BF["8x8"], 0.5),   # weight slices of 8 bits against a 2-bit activation: only 8x8 holds them
])
def test_operands_above_8_bits_are_composed_over_time(w, a, energy, macs):
    arch = measured()
    assert float(arch.energy_per_mac_pj(w, a)) == pytest.approx(energy, rel=1e-12)
    assert float(arch.macs_per_cycle(w, a)) == pytest.approx(macs)


def _designs_and_clocks():
    table = load_psma_table()
    return [(d, int(c)) for d, entry in table["designs"].items() for c in entry["clocks"]]


@pytest.mark.parametrize("design, clock", _designs_and_clocks())
def test_energy_is_monotone_in_bits_and_measured_modes_read_back(design, clock):
    arch = measured(design, clock)
    bits = np.arange(2, 17)
    w, a = np.meshgrid(bits, bits, indexing="ij")
    energy = arch.energy_per_mac_pj(w, a)
    assert energy.shape == w.shape
    assert np.all(np.diff(energy, axis=0) >= 0) and np.all(np.diff(energy, axis=1) >= 0)
    assert energy[0, 0] < energy[6, 6] < energy[-1, -1]
    modes = measured_modes(load_psma_table(), design, clock)
    read = arch.energy_per_mac_pj(modes.weight_bits, modes.act_bits)
    assert np.allclose(read, modes.energy_pj, rtol=1e-12)  # each measured mode is the cheapest that holds it
    assert np.allclose(arch.macs_per_cycle(modes.weight_bits, modes.act_bits), modes.macs_per_cycle)


def test_the_estimator_charges_measured_energies():
    layer = LayerSpec("c", "conv", 1000, 100, 10, 10)
    est = estimate([layer], 4, 8, architecture="measured")
    assert float(est.mac_energy_pj[0, 0]) == pytest.approx(1000 * BF["8x4"], rel=1e-12)
    assert float(est.cycles[0, 0]) == pytest.approx(1000 / (256 * 2))


@pytest.mark.parametrize("params, match", [
    ({"design": "bitfusoin"}, "unknown design 'bitfusoin'; did you mean 'bitfusion'"),
    ({"clock_mhz": 500}, "design 'bitfusion' was measured at clock_mhz 200 and 1000 only, got 500"),
    ({"clock_mhz": 0}, "clock_mhz must be an integer between 1 and 100000, got 0"),
    ({"design": 3}, "design must be a string"),
])
def test_bad_measured_parameters(params, match):
    with pytest.raises(InputError, match=match):
        get_architecture("measured", params=params)


def test_psma_data_is_not_a_technology():
    assert "psma28" not in list_technologies()
    with pytest.raises(InputError, match="unknown technology 'psma28'"):
        get_architecture("fixed16", technology="psma28")


# The node and the area every architecture reports.

def test_every_architecture_has_a_pinned_area():
    assert set(AREA) == set(list_architectures())


@pytest.mark.parametrize("name", list_architectures())
def test_area_and_node_of_every_architecture(name):
    arch = get_architecture(name)
    area, node = AREA[name]
    assert arch.area_um2 == pytest.approx(area, rel=1e-12) and arch.area_node_nm == node
    assert arch.node_nm == (28 if name == "measured" else 45)


@pytest.mark.parametrize("name", list_architectures())
def test_node_follows_the_technology_except_for_measured_arrays(name):
    raw = json.loads((ROOT / "energy_models/data/horowitz45.json").read_text())
    at7 = get_architecture(name, technology=parse_technology({**raw, "node_nm": 7}))
    unknown = get_architecture(name, technology=parse_technology({k: v for k, v in raw.items() if k != "node_nm"}))
    if name == "measured":
        assert at7.node_nm == 28 and unknown.node_nm == 28
    else:
        assert at7.node_nm == 7 and unknown.node_nm is None
    assert at7.area_um2 == get_architecture(name).area_um2  # the area holds at its own node


@pytest.mark.parametrize("name", [n for n in list_architectures() if n != "measured"])
@pytest.mark.parametrize("params, match", [
    ({"area_um2": 0}, "area_um2 must be >= 0.001 and <= 1e\\+09"),
    ({"area_um2": float("nan")}, "area_um2 must be a finite number"),
    ({"area_node_nm": 0.5}, "area_node_nm must be >= 1 and <= 1000"),
    ({"area_node_nm": "45"}, "area_node_nm must be a finite number"),
])
def test_bad_area_parameters(name, params, match):
    with pytest.raises(InputError, match=match):
        get_architecture(name, params=params)


@pytest.mark.parametrize("name", [n for n in list_architectures() if n != "measured"])
def test_area_parameters_do_not_change_energy(name):
    base = get_architecture(name)
    other = get_architecture(name, params={"area_um2": 1.0, "area_node_nm": 7})
    bits = np.arange(2, 17)
    w, a = np.meshgrid(bits, bits)
    assert np.array_equal(base.energy_per_mac_pj(w, a), other.energy_per_mac_pj(w, a))
    assert other.area_um2 == 1.0 and other.area_node_nm == 7.0


class _NoArea(MacArchitecture):
    name = "no_area"
    PARAMS = {"units": int}

    def energy_per_mac_pj(self, weight_bits, act_bits):
        return np.ones(np.broadcast(np.asarray(weight_bits), np.asarray(act_bits)).shape)

    def macs_per_cycle(self, weight_bits, act_bits):
        return np.ones(np.broadcast(np.asarray(weight_bits), np.asarray(act_bits)).shape)


def test_an_architecture_without_area_parameters_says_so():
    arch = _NoArea(get_architecture("fixed16").technology, {"units": 4})
    with pytest.raises(InputError, match="architecture 'no_area' has no parameter 'area_um2'"):
        _ = arch.area_um2
    assert arch.node_nm == 45


# The converter, on a small synthetic checkout of the PSMA-benchmark layout.

def _converter():
    spec = importlib.util.spec_from_file_location("psma_convert", ROOT / "tools" / "psma_convert.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_checkout(root: Path, converter) -> dict[tuple[str, str, str], float]:
    """Files shaped like PSMA-benchmark's, with power = 100 + 10 * design index + mode index (+50 at 200 MHz)."""
    plotting = ["def energy_extract(clk, DVAFS=False):",
                '    df.loc["8x8"] = df.loc["8x8"].mul(clock * (10 ** 3) / 512).values', "    if not DVAFS:"]
    plotting += [f'        df.loc["{m}"] = df.loc["{m}"].mul(clock * (10 ** 3) / {o}).values'
                 for m, o in (("8x4", 1024), ("8x2", 2048), ("4x4", 2048), ("2x2", 8192))]
    plotting += ["    else:"] + [f'        df.loc["{m}"] = df.loc["{m}"].mul(clock * (10 ** 3) / {o}).values'
                                  for m, o in (("4x4", 1024), ("2x2", 2048))] + ["    return df", "", "def other():"]
    (root / "auto_framework").mkdir(parents=True)
    (root / "auto_framework" / "plotting_functions.py").write_text("\n".join(plotting) + "\n")
    cfg = {name: {"SDC_MODE": "x", "L4_MODE": "00", "L3_MODE": "11", "L2_MODE": "0000" if "L2_00" in name else "1111",
                  "BG": {"BITBLADE": "01", "LOOM": "11"}.get(name, "00"), "DVAFS": "1" if unrolling == "SWU" else "0"}
           for unrolling, name, _ in converter.DESIGNS.values()}
    (root / "auto_framework" / "design_cfg.py").write_text(
        "DESIGN_CFG = {\n" + "".join(f"    {json.dumps(k)}: {json.dumps(v)},\n" for k, v in cfg.items()) + "}\n")
    powers = {}
    for folder, mhz in converter.CLOCKS.items():
        for unrolling in ("FU", "SWU"):
            modes = ["8x8", "8x4", "8x2", "4x4", "2x2"] if unrolling == "FU" else ["8x8", "4x4", "2x2"]
            names = [n for u, n, _ in converter.DESIGNS.values() if u == unrolling]
            rows = [",,top,mac"]
            for j, mode in enumerate(modes):
                for i, name in enumerate(names):
                    powers[(name, str(mhz), mode)] = 100.0 + 10 * i + j + (50 if mhz == 200 else 0)
                    rows.append(f"{mode},{name},{powers[(name, str(mhz), mode)]},1.0")
            folder_path = root / "results" / "breakdown" / folder / unrolling
            folder_path.mkdir(parents=True)
            (folder_path / "power.csv").write_text("\n".join(rows) + "\n")
            (folder_path / "area.csv").write_text(",top,mac\n" + "".join(f"{n},{1000 + i},1\n"
                                                                       for i, n in enumerate(names)))
    return powers


def test_converter_applies_the_repository_formula(tmp_path):
    converter = _converter()
    powers = _fake_checkout(tmp_path, converter)
    data = converter.convert(tmp_path, "c0ffee")
    bf = data["designs"]["bitfusion"]
    assert bf["taxonomy"] == "FU, BG: L2, L4: IS, L3: OS, L2: OS"
    assert data["designs"]["swu_sum_apart"]["taxonomy"] == "SWU, BG: L2, L4: IS, L3: OS, L2: NO"
    mode = bf["clocks"]["200"]["modes"]["8x2"]
    assert mode["power_mw"]["value"] == powers[("BITFUSION", "200", "8x2")] == 152.0
    assert mode["energy_fj_per_op"] == pytest.approx(5.0 * 152.0 * 1e3 / 2048, rel=1e-12)
    # header, then the 8x8 rows of the 3 FU designs, the 8x4 rows, then 8x2: BITFUSION is the 1st of its mode
    assert mode["power_mw"]["source"] == ("KULeuven-MICAS/PSMA-benchmark@c0ffee:results/breakdown/5.00/FU/power.csv "
                                          "line 8 (row 8x2,BITFUSION; column top)")
    assert mode["ops_per_cycle"]["source"].endswith("plotting_functions.py line 5 (clock * (10 ** 3) / 2048)")
    swu = data["designs"]["swu_sum_together"]["clocks"]["1000"]
    assert list(swu["modes"]) == ["8x8", "4x4", "2x2"] and swu["modes"]["4x4"]["ops_per_cycle"]["value"] == 1024
    assert swu["area_um2"]["value"] == 1001
    assert converter.convert(tmp_path, "c0ffee") == data and math.isfinite(mode["energy_fj_per_op"])
