"""Capacity-aware memory traffic (energy_models.tiling): hand-computed cases and properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_models.tiling import memory_traffic, tile_passes

ONE = {"weights": np.ones(1), "inputs": np.ones(1)}
ALL_BUFFERED = {"weights": True, "inputs": True, "outputs": True}


def traffic(w_bits, i_bits, o_bits, cap_w, cap_i, cap_o, *, buffered=ALL_BUFFERED, shared_io=False,
            sources=(-1,), input_on_chip=False, rereads=ONE):
    caps = {"weights": cap_w, "inputs": cap_i, "outputs": cap_o}
    return memory_traffic(np.array([float(w_bits)]), np.array([float(i_bits)]), np.array([float(o_bits)]), caps,
                          buffered, shared_io, np.array(sources), input_on_chip, rereads)


# W = 1000 weights x 8 bits, I = 500 inputs x 8 bits, O = 250 outputs x 8 bits
W, I, O = 8000, 4000, 2000  # noqa: E741 (the weight, input and output bits of the docstring)


def test_layer_that_fits_moves_every_operand_once():
    t = traffic(W, I, O, cap_w=10_000, cap_i=10_000, cap_o=1_000)
    assert t.dram_read_bits["weights"][0] == W
    assert t.dram_read_bits["inputs"][0] == I
    assert t.dram_write_bits[0] == O  # 2000 > 1000: the output does not stay on chip
    assert t.buffer_write_bits["weights"][0] == W and t.buffer_read_bits["weights"][0] == W
    assert t.buffer_read_bits["outputs"][0] == O  # drained to DRAM


def test_layer_needing_two_passes():
    # neither fits: n_K = ceil(8000/4000) = 2 -> 8000 + 2*4000 = 16000; n_P = ceil(4000/2000) = 2 -> 2*8000 + 4000
    t = traffic(W, I, O, cap_w=4_000, cap_i=2_000, cap_o=math.inf)
    assert (t.weight_passes[0], t.input_passes[0]) == (1, 2)
    assert t.dram_read_bits["weights"][0] + t.dram_read_bits["inputs"][0] == 16_000
    assert t.dram_write_bits[0] == 0  # the output stays on chip


def test_layer_needing_four_passes():
    # n_K = 4 -> 8000 + 4*4000 = 24000 beats n_P = 4 -> 4*8000 + 4000 = 36000
    t = traffic(W, I, O, cap_w=2_000, cap_i=1_000, cap_o=math.inf)
    assert (t.weight_passes[0], t.input_passes[0]) == (1, 4)
    assert t.dram_read_bits["inputs"][0] == 16_000
    assert t.buffer_read_bits["inputs"][0] == 16_000  # each pass streams the inputs through their buffer


def test_input_tiles_win_when_weights_are_small():
    # W = 1000, I = 9000: n_K = ceil(1000/600) = 2 -> 1000 + 18000; n_P = ceil(9000/3000) = 3 -> 3000 + 9000
    passes = tile_passes(np.array(1000.0), np.array(9000.0), np.array(600.0), np.array(3000.0), np.array(False))
    assert (float(passes[0]), float(passes[1])) == (3.0, 1.0)


def test_one_resident_operand_avoids_refetch():
    t = traffic(W, I, O, cap_w=10_000, cap_i=100, cap_o=math.inf)  # weights resident, inputs streamed once
    assert t.dram_read_bits["weights"][0] + t.dram_read_bits["inputs"][0] == W + I


def test_on_chip_activations_cost_no_dram():
    t = traffic(W, I, O, cap_w=0, cap_i=math.inf, cap_o=math.inf, buffered={**ALL_BUFFERED, "weights": False},
                input_on_chip=True)
    assert t.dram_read_bits["inputs"][0] == 0 and t.dram_write_bits[0] == 0
    assert t.buffer_read_bits["inputs"][0] == I and t.buffer_write_bits["outputs"][0] == O


def test_unbuffered_operand_streams_its_array_rereads_from_dram():
    rereads = {"weights": np.array([3.0]), "inputs": np.array([2.0])}
    t = traffic(W, I, O, cap_w=0, cap_i=math.inf, cap_o=math.inf, buffered={**ALL_BUFFERED, "weights": False},
                rereads=rereads)
    assert t.dram_read_bits["weights"][0] == 3 * W  # no weight buffer: every re-read is a DRAM read
    assert t.dram_read_bits["inputs"][0] == I and t.buffer_read_bits["inputs"][0] == 2 * I


def test_shared_buffer_needs_room_for_inputs_and_outputs():
    fits = traffic(W, I, O, 0, 6_000, 6_000, shared_io=True, buffered={**ALL_BUFFERED, "weights": False})
    tight = traffic(W, I, O, 0, 5_999, 5_999, shared_io=True, buffered={**ALL_BUFFERED, "weights": False})
    assert fits.dram_write_bits[0] == 0 and tight.dram_write_bits[0] == O


def test_consumer_reads_from_chip_only_if_the_producer_kept_its_output():
    two = {"weights": np.ones(2), "inputs": np.ones(2)}
    caps = {"weights": math.inf, "inputs": math.inf, "outputs": 3_000.0}
    args = (np.array([8000.0, 8000.0]), np.array([4000.0, 2000.0]), np.array([2000.0, 4000.0]), caps, ALL_BUFFERED,
            False, np.array([-1, 0]), False, two)
    t = memory_traffic(*args)
    assert list(t.dram_read_bits["inputs"]) == [4000.0, 0.0]  # layer 1's input: layer 0's output, kept on chip
    assert list(t.dram_write_bits) == [0.0, 4000.0]


caps = st.floats(min_value=1e-3, max_value=1e6) | st.just(math.inf)  # a buffer has capacity > 0 (validated)


@settings(max_examples=60, deadline=None)
@given(w=st.floats(1, 1e5), i=st.floats(1, 1e5), o=st.floats(1, 1e5), cw=caps, ci=caps, co=caps,
       shrink=st.floats(1e-3, 1.0), on_chip=st.booleans(), shared=st.booleans())
def test_smaller_buffers_never_lower_dram_traffic(w, i, o, cw, ci, co, shrink, on_chip, shared):
    big = traffic(w, i, o, cw, ci, co, input_on_chip=on_chip, shared_io=shared)
    small = traffic(w, i, o, cw * shrink, ci * shrink, co * shrink, input_on_chip=on_chip, shared_io=shared)
    assert small.dram_bits[0] >= big.dram_bits[0] - 1e-9 * big.dram_bits[0]


@settings(max_examples=60, deadline=None)
@given(w=st.floats(1, 1e5), i=st.floats(1, 1e5), o=st.floats(1, 1e5), cw=caps, ci=caps, co=caps,
       grow=st.floats(1.0, 8.0), on_chip=st.booleans())
def test_more_bits_never_lower_dram_traffic(w, i, o, cw, ci, co, grow, on_chip):
    low = traffic(w, i, o, cw, ci, co, input_on_chip=on_chip)
    high = traffic(w * grow, i * grow, o * grow, cw, ci, co, input_on_chip=on_chip)
    assert high.dram_bits[0] >= low.dram_bits[0] - 1e-9 * low.dram_bits[0]


@pytest.mark.parametrize("cap", [math.inf, 1e12])
def test_unbounded_buffers_move_every_operand_once(cap):
    t = traffic(W, I, O, cap, cap, cap)
    assert t.dram_bits[0] == W + I  # inputs from DRAM (the network input), outputs stay on chip
