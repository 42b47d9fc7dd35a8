"""quanos dse: workloads from the registry, bit files and results folders; the CLI contract."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from energy_models import estimate_accelerator, load_accelerator
from quanos_hw.cli import main
from quanos_hw.dse import dse, load_workloads
from quanos_hw.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RUN = ROOT / "docs" / "default_run"


def test_registry_workload_carries_uniform_bits():
    (wl,) = load_workloads("small_cnn/mnist5k@4")
    assert wl.name == "small_cnn/mnist5k@4" and len(wl.layers) == 5
    assert {layer.weight_bit_width for layer in wl.layers} == {4} and wl.metrics == {}
    (vgg,) = load_workloads("vgg16@8")  # default dataset cifar10: 3x32x32
    assert sum(layer.macs for layer in vgg.layers) == 313_201_664


def test_bit_file_workload(tmp_path):
    bits = json.loads((DEFAULT_RUN / "bits.json").read_text())
    (tmp_path / "bits.json").write_text(json.dumps(bits))
    (wl,) = load_workloads(f"small_cnn/mnist5k:{tmp_path / 'bits.json'}")
    assert [layer.weight_bit_width for layer in wl.layers] == [bits[layer.name]["weight_bit_width"]
                                                               for layer in wl.layers]


def test_run_folder_brings_every_quantized_model_with_its_accuracy():
    report = json.loads((DEFAULT_RUN / "report.json").read_text())
    loads = {w.name: w for w in load_workloads(str(DEFAULT_RUN))}
    quantized = [n for n, m in report["models"].items() if m["bits"]]
    assert sorted(loads) == sorted(f"default_run:{n}" for n in quantized)
    quanos = loads["default_run:quanos"]
    rob = report["models"]["quanos"]["robustness"]
    assert quanos.metrics["clean_accuracy"] == rob["clean"]
    assert quanos.metrics["pgd_accuracy"] == rob["attacks"]["pgd"]["white_box"]["0.1"]
    assert quanos.metrics["blackbox_accuracy"] == rob["attacks"]["pgd"]["black_box"]["0.1"]
    assert [layer.weight_bit_width for layer in quanos.layers] == [
        report["bits"][layer.name]["weight_bit_width"] for layer in quanos.layers]


def _compare_folder(tmp_path) -> Path:
    from quanos_hw.pipeline.compare import cell_key

    report = json.loads((DEFAULT_RUN / "report.json").read_text())
    rob = report["models"]["quanos"]["robustness"]
    cells = {cell_key("ans:budget_ilp", 0.35): {"combo": "ans:budget_ilp", "budget": 0.35, "bits": report["bits"],
                                                "robustness": rob},
             cell_key("random:budget_ilp", 0.25): {"combo": "random:budget_ilp", "budget": 0.25, "infeasible": "x"}}
    summary = [{"budget": 0.35, "combo": "ans:budget_ilp", "seeds": 2, "infeasible": 0, "reference": "pgd 0.1",
                "accuracy": {"clean": {"mean": 0.91, "std": 0.01}, "pgd 0.1": {"mean": 0.12, "std": 0.0},
                             "black-box pgd 0.1": {"mean": 0.2, "std": 0.0}}}]
    folder = tmp_path / "cmp"
    folder.mkdir()
    (folder / "compare.json").write_text(json.dumps({"config": {"model": "small_cnn", "dataset": "mnist5k"},
                                                     "summary": summary, "per_seed": {"0": {"cells": cells}}}))
    return folder


def test_compare_folder_brings_feasible_cells_with_mean_accuracy(tmp_path):
    (wl,) = load_workloads(str(_compare_folder(tmp_path)))
    assert wl.name == "cmp:ans-budget_ilp@0.35"
    assert wl.metrics == {"clean_accuracy": 0.91, "pgd_accuracy": 0.12, "blackbox_accuracy": 0.2}


def test_dse_api_matches_the_estimator_and_finds_a_front():
    result = dse("bitfusion45", ["small_cnn/mnist5k@8", "small_cnn/mnist5k@4"],
                 sweep={"array.rows": [4, 16], "batch": [1, 8]}, objectives=["energy", "latency"])
    assert len(result.table) == 8 and result.pareto.any()
    row = result.table.rows()[3]  # point 1 (rows 4, batch 8), workload @4
    acc = load_accelerator("bitfusion45").replace(batch=8)
    acc = acc.replace(array=type(acc.array)(4, acc.array.cols, acc.array.unroll_rows, acc.array.unroll_cols,
                                            acc.array.stationary))
    est = estimate_accelerator(result.workloads[1].layers, accelerator=acc)
    assert row["point"] == 1 and row["workload"] == "small_cnn/mnist5k@4"
    assert row["energy_pj"] == pytest.approx(float(est.total_energy_pj[0]), rel=1e-12)
    assert set(result.uniform["small_cnn/mnist5k@8"]) == {"bitfusion"}


def test_cli_writes_tables_and_summary(tmp_path, capsys):
    out = tmp_path / "dse"
    code = main(["dse", "--hardware", "bitfusion45", "--sweep", "mac.architecture=bitfusion,data_gated",
                 "--sweep", "memory.buffers.wbuf.capacity_bytes=4096,65536", "--workload", "small_cnn/mnist5k@8",
                 "--workload", str(DEFAULT_RUN), "--out", str(out), "--no-plots", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    workloads = 1 + len(load_workloads(str(DEFAULT_RUN)))
    assert summary["design_points"] == 4 and summary["rows"] == 4 * workloads
    assert set(summary["files"]) == {"dse.csv", "pareto.csv", "dse.md", "dse.json"}
    rows = list(csv.DictReader((out / "dse.csv").open()))
    assert len(rows) == 4 * workloads
    assert {"point", "workload", "mac.architecture", "memory.buffers.wbuf.capacity_bytes", "energy_pj",
            "energy_pj_dram", "energy_pj_wbuf", "mac_energy_pj", "latency_s", "throughput_per_s", "edp_j_s",
            "area_mm2", "utilization", "pareto", "clean_accuracy", "pgd_accuracy"} <= set(rows[0])
    pareto = list(csv.DictReader((out / "pareto.csv").open()))
    assert len(pareto) == sum(r["pareto"] == "True" for r in rows) == sum(map(len, summary["pareto_points"].values()))
    best = summary["best"]["small_cnn/mnist5k@8"]["energy"]
    mine = [float(r["energy_pj"]) for r in rows if r["workload"] == "small_cnn/mnist5k@8"]
    assert best["energy_pj"] == pytest.approx(min(mine))
    # a smaller weight buffer never lowers the energy (same architecture, same workload)
    for arch in ("bitfusion", "data_gated"):
        small, large = (float(r["energy_pj"]) for r in rows if r["workload"] == "small_cnn/mnist5k@8" and
                        r["mac.architecture"] == arch)
        assert small >= large
    text = (out / "dse.md").read_text()
    assert "# quanos dse on `bitfusion45`" in text and "Pareto front" in text
    assert json.loads((out / "dse.json").read_text())["hardware_description"]["name"] == "bitfusion45"


def test_check_zigzag_without_zigzag_is_bad_input(tmp_path, capsys, monkeypatch):
    import quanos_hw.zigzag_check as zz

    monkeypatch.setattr(zz, "zigzag_available", lambda: False)
    code = main(["dse", "--hardware", "default", "--workload", "small_cnn/mnist5k@8", "--out", str(tmp_path / "o"),
                 "--check-zigzag", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "--check-zigzag needs zigzag-dse 3.9.1" in err and not (tmp_path / "o").exists()


def test_duplicate_workloads_are_refused():
    with pytest.raises(InputError, match="workload names repeat"):
        dse("default", ["small_cnn/mnist5k@8", "small_cnn/mnist5k@8"])
    assert np.isfinite(dse("default", ["small_cnn/mnist5k@8"]).table.column("energy_pj")).all()


def test_html_rows_keep_the_front_and_spread_the_rest():
    from quanos_hw.dse_outputs import html_rows

    pareto = np.zeros(1000, dtype=bool)
    pareto[[3, 500, 999]] = True
    keep = html_rows(pareto, 100)
    assert keep.sum() == 100 and keep[[3, 500, 999]].all()
    assert html_rows(pareto, 2000).all()


@pytest.mark.slow
def test_check_zigzag_puts_zigzag_beside_the_lowest_energy_points(tmp_path, capsys):
    pytest.importorskip("zigzag")
    code = main(["dse", "--hardware", "bitfusion45", "--sweep", "array.rows=8,16", "--workload",
                 "small_cnn/mnist5k@8", "--out", str(tmp_path / "o"), "--no-plots", "--check-zigzag", "1", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    (check,) = summary["zigzag_check"]
    rows = list(csv.DictReader((tmp_path / "o" / "dse.csv").open()))
    lowest = min(rows, key=lambda r: float(r["energy_pj"]))
    assert check["point"] == int(lowest["point"]) and float(lowest["zigzag_energy_pj"]) == check["zigzag_energy_pj"]
    assert 0.2 < check["energy_pj"] / check["zigzag_energy_pj"] < 5


def test_a_sweep_in_chunks_equals_the_sweep_in_one():
    """The executor's chunks (here 3, as on a Ray with 3 slots) give the one-chunk table, every cell."""
    from quanos_hw.dse import chunks
    from quanos_hw.executor import ExecutorConfig
    from quanos_hw.executor.serial import SerialExecutor

    class ThreeSlots(SerialExecutor):
        def slots(self) -> int:
            return 3

    assert [list(r) for r in chunks(7, 3)] == [[0, 1], [2, 3, 4], [5, 6]] and len(chunks(2, 5)) == 2
    points = [{"array.rows": r, "batch": b} for r in (8, 16, 32) for b in (1, 4)] + [{"array.rows": 4}]
    args = ("bitfusion45", ["small_cnn/mnist5k@8", "small_cnn/mnist5k@4"])
    whole = dse(*args, points=points)
    chunked = dse(*args, points=points, executor=ThreeSlots(ExecutorConfig()))
    assert list(chunked.table.columns) == list(whole.table.columns)
    assert json.dumps(chunked.table.columns) == json.dumps(whole.table.columns)  # NaN and None in place too
    assert (chunked.pareto == whole.pareto).all()
