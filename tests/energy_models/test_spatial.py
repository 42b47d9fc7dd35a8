"""Spatial unrolling on the PE array (energy_models.spatial): hand-computed cases."""

import numpy as np
import pytest

from energy_models import LayerSpec
from energy_models.spatial import layer_dims, passes, rereads

# conv K=64, C=3, 32x32 outputs, 3x3 kernel (VGG's first layer)
CONV = LayerSpec("c", "conv", 64 * 3 * 32 * 32 * 9, 64 * 3 * 9, 3 * 32 * 32, 64 * 32 * 32, out_channels=64,
                 in_channels=3, out_height=32, out_width=32, kernel_height=3, kernel_width=3)
DW = LayerSpec("dw", "conv", 32 * 8 * 8 * 9, 32 * 9, 32 * 64, 32 * 64, out_channels=32, in_channels=32,
               out_height=8, out_width=8, kernel_height=3, kernel_width=3, groups=32)


def test_layer_dims_and_the_matrix_vector_fallback():
    dims = layer_dims([CONV, DW, LayerSpec("x", "linear", 640, 640, 64, 10)])
    assert list(dims["K"]) == [64, 1, 10] and list(dims["C"]) == [3, 1, 64] and list(dims["G"]) == [1, 32, 1]
    macs = dims["G"] * dims["K"] * dims["C"] * dims["OY"] * dims["OX"] * dims["FY"] * dims["FX"]
    assert list(macs) == [CONV.macs, DW.macs, 640]


def test_passes_count_idle_pes():
    dims = layer_dims([CONV])
    # K on 16 rows: 64/16 = 4; C=3 on 16 cols: ceil(3/16) = 1 (13 of 16 columns idle)
    steps = passes(dims, 1, 16, 16, "K", "C", np.array([CONV.macs], float))
    assert steps[0] == 4 * 1 * 32 * 32 * 3 * 3
    util = CONV.macs / (steps[0] * 256)
    assert util == pytest.approx(3 / 16)
    # K x OX: 4 * 2 passes over the other loops 3 * 32 * 3 * 3: full utilisation
    steps = passes(dims, 1, 16, 16, "K", "OX", np.array([CONV.macs], float))
    assert steps[0] == 4 * 2 * 3 * 32 * 3 * 3 and CONV.macs / (steps[0] * 256) == 1.0


def test_batch_is_a_loop_dimension():
    dims = layer_dims([CONV])
    assert passes(dims, 4, 16, 16, "K", "B", np.array([CONV.macs], float))[0] == 4 * 1 * 3 * 32 * 32 * 9
    assert passes(dims, 4, 16, 16, "K", "C", np.array([CONV.macs], float))[0] == 4 * 4 * 32 * 32 * 9


def test_grouped_conv_runs_groups_one_after_another():
    dims = layer_dims([DW])
    steps = passes(dims, 1, 4, 4, "K", "C", np.array([DW.macs], float))
    assert steps[0] == 32 * 8 * 8 * 9  # K = C = 1 per group: 1 of 16 PEs busy


def test_ideal_packing_is_macs_over_pes():
    dims = layer_dims([CONV])
    assert passes(dims, 2, 16, 16, None, None, np.array([CONV.macs], float))[0] == 2 * CONV.macs / 256


def test_rereads():
    dims = layer_dims([CONV])
    # weight-stationary: inputs re-read once per K tile of 16 rows
    assert rereads("inputs", dims, 1, 16, 16, "K", "C", "weights")[0] == 4
    assert rereads("weights", dims, 1, 16, 16, "K", "C", "weights")[0] == 1
    # output-stationary, OX on cols: weights re-read for every (OY, OX tile of 16) = 32 * 2
    assert rereads("weights", dims, 1, 16, 16, "K", "OX", "outputs")[0] == 32 * 2
    assert rereads("inputs", dims, 1, 16, 16, "C", "OX", "outputs")[0] == 64  # K not unrolled: once per K
    assert rereads("inputs", dims, 1, 16, 16, None, None, "outputs")[0] == 1  # ideal: perfect reuse


def test_design_axis_broadcasts():
    dims = layer_dims([CONV, DW])
    rows = np.array([8.0, 16.0, 32.0]).reshape(-1, 1, 1)
    steps = passes(dims, 1, rows, 16, "K", "C", np.array([CONV.macs, DW.macs], float))
    assert steps.shape == (3, 1, 2)
    for d, r in enumerate([8, 16, 32]):
        assert steps[d, 0, 0] == passes(dims, 1, r, 16, "K", "C", np.array([CONV.macs, DW.macs], float))[0]
