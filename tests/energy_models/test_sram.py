"""SRAM buffer model (energy_models/sram.py) against the transcribed CACTI sweep."""

import json
import math
from importlib import resources

import numpy as np
import pytest

from energy_models import list_technologies
from energy_models.errors import InputError
from energy_models.scaling import area_scale, energy_scale
from energy_models.sram import load_cacti_sweep, sram_area_mm2, sram_leakage_mw, sram_read_pj, sram_write_pj
from energy_models.technology import NON_TECHNOLOGY_FILES

#: capacity (bytes) -> read pJ, write pJ, area mm^2, leakage mW: hsharma35/bitfusion
#: bitfusion/sram/cacti_sweep.csv (commit 04ec1c8), rows with 'read-write port' 0, nJ x 1000
CACTI = {
    128: (0.683701, 0.925317, 0.00149898, 0.249588),
    1024: (1.13324, 3.29596, 0.00882362, 1.78934),
    2048: (1.90318, 3.63853, 0.015132, 3.22997),
    4096: (3.42953, 4.31011, 0.0300607, 7.30186),
    8192: (6.39163, 5.56268, 0.0575061, 13.6943),
    16384: (9.9817, 8.4209, 0.108577, 27.127),
}
FUNCTIONS = (sram_read_pj, sram_write_pj, sram_area_mm2, sram_leakage_mw)


def _raw():
    return json.loads(resources.files("energy_models").joinpath("data", "cacti_sram.json").read_text())


def test_data_file_is_the_sweep_with_sources():
    raw = _raw()
    assert raw["node_nm"]["value"] == 45 and raw["word_bits"]["value"] == 32
    points = {p["capacity_bytes"]["value"]: p for p in raw["points"]}
    assert {c: tuple(p[k]["value"] for k in ("read_pj", "write_pj", "area_mm2", "leakage_mw"))
            for c, p in points.items()} == CACTI
    for point in raw["points"]:
        assert all("bitfusion/sram/cacti_sweep.csv (commit 04ec1c87c91ef4a681858f84f5a7832d5b65e83b), line"
                   in entry["source"] for entry in point.values())
    assert "line 9, column read_energy_nJ = 0.00639163 nJ" in points[8192]["read_pj"]["source"]
    sweep = load_cacti_sweep()
    assert sweep.node_nm == 45.0 and sweep.word_bits == 32
    assert sweep.depth_words.tolist() == [32, 256, 512, 1024, 2048, 4096]


def test_not_technology_tables():
    assert {"cacti_sram.json", "stillmaker2017.json", "architectures.json"} <= NON_TECHNOLOGY_FILES
    assert list_technologies() == ["horowitz45"]


@pytest.mark.parametrize("capacity", sorted(CACTI))
def test_cacti_points_exactly(capacity):
    for fn, expected in zip(FUNCTIONS, CACTI[capacity]):
        assert fn(capacity, 32) == expected


def test_vectorised_over_capacity_and_width():
    capacities = np.array(sorted(CACTI))
    assert sram_read_pj(capacities, 32).tolist() == [v[0] for _, v in sorted(CACTI.items())]
    grid = sram_area_mm2(np.array([1024, 4096, 65536]), np.array([[16], [32], [64]]))
    assert grid.shape == (3, 3) and grid[1, 1] == CACTI[4096][2]
    assert isinstance(sram_read_pj(4096, 32), float)
    assert sram_write_pj(4096, 32, node_nm=np.array([45, 28])).shape == (2,)


def test_interpolation_by_hand():
    """32-bit, 3000 B lies between the 2048 B and 4096 B points: a power law between them."""
    slope = math.log(3.42953 / 1.90318) / math.log(4096 / 2048)
    assert sram_read_pj(3000, 32) == pytest.approx(1.90318 * (3000 / 2048) ** slope, rel=1e-12)
    slope = math.log(0.0300607 / 0.015132) / math.log(2)
    assert sram_area_mm2(3000, 32) == pytest.approx(0.015132 * (3000 / 2048) ** slope, rel=1e-12)


def test_word_width_is_parallel_32_bit_slices():
    """A 64-bit-wide 8 KB SRAM is two 32-bit-wide 4 KB SRAMs (depth 1024 words)."""
    assert sram_read_pj(8192, 64) == pytest.approx(2 * 3.42953, rel=1e-12)
    assert sram_write_pj(8192, 64) == pytest.approx(2 * 4.31011, rel=1e-12)
    assert sram_area_mm2(8192, 64) == pytest.approx(2 * 0.0300607, rel=1e-12)
    assert sram_read_pj(2048, 16) == pytest.approx(0.5 * 3.42953, rel=1e-12)  # depth 1024, half a slice


def test_extrapolation_continues_the_end_segments():
    """64 KB and 512 KB of 64-bit words have depths 8192 and 65536 words, beyond the sweep's 4096:
    the last segment's power law (8 KB -> 16 KB) carries on; below the sweep the first one (128 B -> 1 KB)."""
    read_slope = math.log(9.9817 / 6.39163) / math.log(2)
    assert sram_read_pj(65536, 64) == pytest.approx(2 * 9.9817 * 2**read_slope, rel=1e-12)
    assert sram_read_pj(524288, 64) == pytest.approx(2 * 9.9817 * 16**read_slope, rel=1e-12)
    assert sram_read_pj(524288, 64) == pytest.approx(118.742, rel=1e-5)
    assert sram_write_pj(524288, 64) == pytest.approx(88.4476, rel=1e-5)
    assert sram_area_mm2(524288, 64) == pytest.approx(2.75971, rel=1e-5)
    first = math.log(1.13324 / 0.683701) / math.log(8)
    assert sram_read_pj(64, 32) == pytest.approx(0.683701 * 0.5**first, rel=1e-12)


@pytest.mark.parametrize("word_bits", [8, 16, 32, 64, 128, 256])
def test_monotone_in_capacity(word_bits):
    capacities = np.geomspace(word_bits / 8, 2**22, 300)
    for fn in FUNCTIONS:
        assert np.all(np.diff(fn(capacities, word_bits)) > 0), fn.__name__


@pytest.mark.parametrize("node", [7, 16, 28, 32, 65, 130, 180])
def test_node_scaling(node):
    for capacity, word_bits in ((8192, 64), (65536, 64), (1000, 32)):
        assert sram_read_pj(capacity, word_bits, node) == pytest.approx(
            sram_read_pj(capacity, word_bits) * energy_scale(45, node), rel=1e-12)
        assert sram_write_pj(capacity, word_bits, node) == pytest.approx(
            sram_write_pj(capacity, word_bits) * energy_scale(45, node), rel=1e-12)
        assert sram_area_mm2(capacity, word_bits, node) == pytest.approx(
            sram_area_mm2(capacity, word_bits) * area_scale(45, node), rel=1e-12)
    assert sram_area_mm2(4096, 32, 7) == pytest.approx(0.0300607 * 0.059, rel=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: sram_read_pj(0, 32), "capacity_bytes must be > 0 and <= 1.07374e\\+09 bytes, got 0"),
    (lambda: sram_write_pj(-1024, 32), "capacity_bytes must be > 0"),
    (lambda: sram_area_mm2(float("nan"), 32), "capacity_bytes must be a finite number, got nan"),
    (lambda: sram_read_pj(float("inf"), 32), "capacity_bytes must be a finite number, got inf"),
    (lambda: sram_read_pj(np.array([1024, np.nan]), 32), "capacity_bytes must be a finite number, got nan"),
    (lambda: sram_read_pj(True, 32), "capacity_bytes must be a finite number, got True"),
    (lambda: sram_read_pj("8KB", 32), "capacity_bytes must be a finite number, got '8KB'"),
    (lambda: sram_read_pj(2**40, 32), "capacity_bytes must be > 0 and <= 1.07374e\\+09 bytes"),
    (lambda: sram_read_pj(1024, 0), "word_bits must be an integer between 1 and 4096, got 0"),
    (lambda: sram_read_pj(1024, -8), "word_bits must be an integer between 1 and 4096, got -8"),
    (lambda: sram_read_pj(1024, 64.0), "word_bits must be an integer between 1 and 4096, got 64.0"),
    (lambda: sram_read_pj(1024, True), "word_bits must be an integer"),
    (lambda: sram_leakage_mw(1024, 8192), "word_bits must be an integer between 1 and 4096, got 8192"),
    (lambda: sram_read_pj(4, 64), "capacity_bytes = 4 does not hold one 64-bit word"),
    (lambda: sram_read_pj(1024, 32, node_nm=5), "node_nm must be >= 7 and <= 180 nm, got 5"),
    (lambda: sram_area_mm2(1024, 32, node_nm=float("nan")), "node_nm must be a finite number, got nan"),
])
def test_bad_input(call, match):
    with pytest.raises(InputError, match=match):
        call()
