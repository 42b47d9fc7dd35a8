"""The design-space exploration engine (energy_models.dse): sweeps, grouping, results."""

import numpy as np
import pytest

from energy_models import InputError, LayerSpec, estimate_accelerator, load_accelerator, parse_accelerator
from energy_models.accelerator import MacSpec
from energy_models.dse import (
    Workload,
    apply_point,
    expand_grid,
    pareto_rows,
    parse_sweep_args,
    parse_value,
    points_from_list,
    run_dse,
    uniform_energy,
)

LAYERS = (
    LayerSpec("c1", "conv", 64 * 3 * 16 * 16 * 9, 64 * 3 * 9, 3 * 16 * 16, 64 * 16 * 16, 8, 8, input_source="@input",
              out_channels=64, in_channels=3, out_height=16, out_width=16, kernel_height=3, kernel_width=3),
    LayerSpec("fc", "linear", 64 * 16 * 16 * 10, 64 * 16 * 16 * 10, 64 * 16 * 16, 10, 4, 4, input_source="c1",
              out_channels=10, in_channels=64 * 16 * 16),
)
WL = [Workload("net@8-4", LAYERS), Workload("net@16", tuple(LayerSpec(**{**layer.to_dict(), "weight_bit_width": 16,
                                                                          "act_bit_width": 16}) for layer in LAYERS)),
      ]


def test_parse_values_and_sweep_args():
    assert [parse_value(v) for v in ("8", "0.5", "null", "true", "K", "1e3")] == [8, 0.5, None, True, "K", 1000.0]
    assert parse_sweep_args(["array.rows=8,16", "mac.architecture=bitfusion"]) == {
        "array.rows": [8, 16], "mac.architecture": ["bitfusion"]}
    for bad in (["array.rows"], ["=8"], ["a=1", "a=2"]):
        with pytest.raises(InputError):
            parse_sweep_args(bad)


def test_grid_is_the_cross_product_and_respects_the_limit():
    points = expand_grid({"a": [1, 2, 3], "b": ["x", "y"]})
    assert points == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"},
                      {"a": 3, "b": "x"}, {"a": 3, "b": "y"}]
    with pytest.raises(InputError, match="expands to 6 design points, more than 5"):
        expand_grid({"a": [1, 2, 3], "b": ["x", "y"]}, limit=5)
    with pytest.raises(InputError, match="has no values"):
        expand_grid({"a": []})
    assert points_from_list([{"batch": 1}, {"batch": 4, "array.rows": 8}], "f") == [{"batch": 1},
                                                                                   {"batch": 4, "array.rows": 8}]
    assert len(points_from_list({"a": [1, 2], "b": [3, 4]}, "f")) == 4


def test_apply_point_sets_nested_fields_and_buffers_by_name():
    raw = load_accelerator("bitfusion45").to_dict()
    out = apply_point(raw, {"array.unroll.rows": "OX", "memory.buffers.ibuf.capacity_bytes": 1024,
                            "mac.params.overhead_fraction": 0.5, "technology.node_nm": 28})
    acc = parse_accelerator(out)
    assert acc.array.unroll_rows == "OX" and acc.buffer_of("inputs").capacity_bytes == 1024
    assert acc.mac.params == {"overhead_fraction": 0.5} and acc.node_nm == 28
    assert raw["array"]["unroll"]["rows"] == "C"  # the base is untouched


def test_every_row_equals_a_direct_estimate():
    base = load_accelerator("bitfusion45")
    points = expand_grid({"mac.architecture": ["bitfusion", "data_gated"], "array.rows": [4, 16],
                          "memory.buffers.wbuf.capacity_bytes": [2048, 65536], "batch": [1, 8],
                          "technology.node_nm": [45, 28]})
    table = run_dse(base, points, WL)
    assert len(table) == len(points) * 2
    rows = table.rows()
    for i in (0, 5, 17, 31):
        p = points[i]
        acc = parse_accelerator(apply_point(base.to_dict(), p))
        for w, wl in enumerate(WL):
            row = rows[2 * i + w]
            assert row["point"] == i and row["workload"] == wl.name and row["array.rows"] == p["array.rows"]
            est = estimate_accelerator(wl.layers, accelerator=acc)
            assert row["energy_pj"] == pytest.approx(float(est.total_energy_pj[0]), rel=1e-12)
            assert row["latency_s"] == pytest.approx(float(est.total_latency_s[0]), rel=1e-12)
            assert row["area_mm2"] == pytest.approx(float(est.total_area_mm2), rel=1e-12)
            assert row["energy_pj_dram"] == pytest.approx(float(est.memory_energy_pj_by_level["dram"].sum()))
            u16 = estimate_accelerator(wl.layers, 16, 16, accelerator=acc).total_energy_pj[0]
            assert row["energy_saving_vs_uniform16"] == pytest.approx(u16 / est.total_energy_pj[0], rel=1e-12)


def test_pareto_rows_are_per_workload():
    base = load_accelerator("bitfusion45")
    table = run_dse(base, expand_grid({"array.rows": [4, 8, 16, 32], "batch": [1, 16]}), WL)
    mask = pareto_rows(table, ["energy", "latency"])
    for name in ("net@8-4", "net@16"):
        rows = [r for r, on in zip(table.rows(), mask) if r["workload"] == name]
        on = [r for r, m in zip(table.rows(), mask) if m and r["workload"] == name]
        assert on
        for r in on:  # nothing in the same workload dominates a front row
            assert not any(o["energy_pj"] <= r["energy_pj"] and o["latency_s"] <= r["latency_s"] and
                           (o["energy_pj"] < r["energy_pj"] or o["latency_s"] < r["latency_s"]) for o in rows)
    with pytest.raises(InputError, match="unknown objective 'power'"):
        pareto_rows(table, ["power"])


def test_metrics_and_pandas():
    wl = [Workload("a", LAYERS, metrics={"clean_accuracy": 0.9}), Workload("b", LAYERS)]
    table = run_dse(load_accelerator("default"), [{}], wl)
    assert table.columns["clean_accuracy"] == [0.9, None]
    frame = table.to_pandas()
    assert list(frame["workload"]) == ["a", "b"] and frame.shape[0] == 2


def test_uniform_energy_rises_with_bits():
    base = load_accelerator("bitfusion45")
    out = uniform_energy(base, LAYERS, ["bitfusion", "data_gated"])
    for energy in out.values():
        assert energy.shape == (15,) and np.all(np.diff(energy) >= 0)
    acc = base.replace(mac=MacSpec("data_gated", {}))
    assert out["data_gated"][6] == pytest.approx(estimate_accelerator(LAYERS, 8, 8, accelerator=acc).total_energy_pj[0])


def test_bad_sweeps():
    base = load_accelerator("bitfusion45")
    with pytest.raises(InputError, match="did you mean 'array.rows'"):
        run_dse(base, [{"array.row": 4}], WL)
    with pytest.raises(InputError, match="array.rows must be an integer"):
        run_dse(base, [{"array.rows": 4.5}], WL)
    with pytest.raises(InputError, match="no design points"):
        run_dse(base, [], WL)
    with pytest.raises(InputError, match="at least one workload"):
        run_dse(base, [{}], [])


def test_sweeping_only_the_array_shape_keeps_the_design_axis():
    base = load_accelerator("bitfusion45")
    table = run_dse(base, expand_grid({"mac.architecture": ["bitfusion", "data_gated"], "array.rows": [8, 32]}), WL)
    latency = table.column("latency_s").reshape(2, 2, 2)  # (architecture, rows, workload)
    assert np.all(latency[:, 0] >= latency[:, 1]) and np.any(latency[:, 0] > latency[:, 1])  # 4x the rows
