"""The DSE plots (PNG) and the interactive page (HTML), on a small sweep of the shipped bitfusion45
accelerator over two LayerSpec workloads (no torch, no training, no browser: the page's structure is
checked by parsing the JSON it hands to Plotly.newPlot)."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.colors
import matplotlib.image
import numpy as np
import pytest

from energy_models.accelerator import load_accelerator
from energy_models.dse import DseTable, Workload, expand_grid, pareto_rows, run_dse, uniform_energy
from energy_models.errors import InputError
from energy_models.layers import LayerSpec
from quanos_hw.dse_plots import (
    MAX_BARS,
    energy_latency_figure,
    pareto_levels_figure,
    uniform_bits_figure,
    write_dse_plots,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SWEEP = {"mac.architecture": ["bitfusion", "data_gated"], "array.rows": [8, 16, 32],
         "memory.buffers.wbuf.capacity_bytes": [16384, 65536]}
SWEPT = list(SWEEP)
METRICS = {"clean_accuracy": 0.91, "pgd_accuracy": 0.42, "blackbox_accuracy": 0.63}


def _conv(name: str, k: int, c: int, hw: int, bits: int, source: str) -> LayerSpec:
    return LayerSpec(name, "conv", k * c * hw * hw * 9, k * c * 9, c * hw * hw, k * hw * hw, bits, bits, source,
                     out_channels=k, in_channels=c, out_height=hw, out_width=hw, kernel_height=3, kernel_width=3)


LAYERS_A = (_conv("c1", 16, 3, 8, 8, "@input"), _conv("c2", 32, 16, 8, 4, "c1"),
            LayerSpec("fc", "linear", 320, 320, 32, 10, 6, 6, "c2", out_channels=10, in_channels=32))
LAYERS_B = (_conv("c1", 8, 3, 8, 8, "@input"), _conv("c2", 16, 8, 4, 2, "c1"))


def _workloads(metrics: bool) -> list[Workload]:
    return [Workload("net-a", LAYERS_A, metrics=dict(METRICS) if metrics else {}), Workload("net-b", LAYERS_B)]


@pytest.fixture(scope="module")
def base():
    return load_accelerator("bitfusion45")


@pytest.fixture(scope="module")
def table(base) -> DseTable:
    return run_dse(base, expand_grid(SWEEP), _workloads(metrics=True))


@pytest.fixture(scope="module")
def uniform(base) -> dict:
    return {w.name: uniform_energy(base, w.layers, SWEEP["mac.architecture"]) for w in _workloads(False)}


def _with_unknown_area(table: DseTable, rows) -> DseTable:
    columns = {k: list(v) for k, v in table.columns.items()}
    for r in rows:
        columns["area_mm2"][r] = float("nan")
    return DseTable(columns)


def _png_pixels(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert len(data) > 0 and data[:8] == PNG_MAGIC, path
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[2] == 4
    return image.shape[1], image.shape[0]  # width, height


# -- PNG ------------------------------------------------------------------------------------------

def test_all_four_plots_with_metrics_and_uniform(table, uniform, tmp_path):
    mask = pareto_rows(table, ["energy", "latency"])
    written = write_dse_plots(table, mask, ["energy", "latency"], SWEPT, tmp_path / "plots", uniform=uniform)
    names = ["dse_energy_latency.png", "dse_pareto_levels.png", "dse_uniform_bits.png", "dse_accuracy.png"]
    assert written == [tmp_path / "plots" / n for n in names]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(names)  # no temporary file left
    bars = min(int(mask.sum()), MAX_BARS)
    # figsize (inches) x 110 dpi: 8 x 5.5; max(6, 0.45 bars + 2.5) x 4.8; 5.2 per workload x 4.2;
    # 4.6 per accuracy metric (clean, PGD, black-box) + 0.6 x 4.2
    expected = {"dse_energy_latency.png": (880, 605),
                "dse_pareto_levels.png": (round(110 * max(6.0, 0.45 * bars + 2.5)), 528),
                "dse_uniform_bits.png": (1144, 462),
                "dse_accuracy.png": (1584, 462)}
    for path in written:
        assert _png_pixels(path) == expected[path.name]


@pytest.mark.parametrize("uniform_given", [False, True])
def test_no_accuracy_plot_without_metrics(base, uniform, uniform_given, tmp_path):
    plain = run_dse(base, expand_grid(SWEEP), _workloads(metrics=False))
    assert "clean_accuracy" not in plain.columns
    written = write_dse_plots(plain, pareto_rows(plain, ["energy"]), ["energy"], SWEPT, tmp_path,
                              uniform=uniform if uniform_given else None)
    expected = ["dse_energy_latency.png", "dse_pareto_levels.png"] + (["dse_uniform_bits.png"] * uniform_given)
    assert [p.name for p in written] == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(expected)


def test_a_bad_mask_is_refused(table, tmp_path):
    with pytest.raises(InputError, match="pareto_mask has shape"):
        write_dse_plots(table, np.ones(len(table) - 1, bool), ["energy"], SWEPT, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_energy_latency_front_is_the_sorted_step_line(table):
    mask = pareto_rows(table, ["energy", "area"])
    ax = energy_latency_figure(table, mask, ["energy", "area"], SWEPT).axes[0]
    front = pareto_rows(table, ["latency", "energy"])
    names = np.array(table.columns["workload"], dtype=object)
    latency_us, energy_nj = table.column("latency_s") * 1e6, table.column("energy_pj") / 1e3  # µs and nJ here
    assert ax.get_xlabel() == "latency per inference (µs)" and ax.get_ylabel() == "energy per inference (nJ)"
    for name in ("net-a", "net-b"):
        (line,) = [li for li in ax.get_lines() if li.get_label() == f"{name}: energy/latency front"]
        rows = np.flatnonzero((names == name) & front)
        order = rows[np.argsort(latency_us[rows], kind="stable")]
        assert line.get_drawstyle() == "steps-post"
        np.testing.assert_allclose(line.get_xdata(), latency_us[order], rtol=1e-12)
        np.testing.assert_allclose(line.get_ydata(), energy_nj[order], rtol=1e-12)
        assert np.all(np.diff(line.get_ydata()) <= 0)  # a front: energy falls as latency grows


def test_unknown_area_is_grey_and_known_area_is_coloured(table):
    unknown = [0, 3, 5]
    partial = _with_unknown_area(table, unknown)
    fig = energy_latency_figure(partial, pareto_rows(partial, ["energy"]), ["energy"], SWEPT)
    ax = fig.axes[0]
    grey = [c for c in ax.collections if c.get_array() is None and len(c.get_offsets()) and len(c.get_facecolors())
            and np.allclose(c.get_facecolors()[0], matplotlib.colors.to_rgba("lightgrey"))]
    assert sum(len(c.get_offsets()) for c in grey) == len(unknown)
    coloured = [c for c in ax.collections if c.get_array() is not None]
    assert sum(len(c.get_array()) for c in coloured) == len(table) - len(unknown)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "area (mm²)"  # the colourbar
    all_unknown = _with_unknown_area(table, range(len(table)))
    assert len(energy_latency_figure(all_unknown, np.ones(len(table), bool), ["energy"], SWEPT).axes) == 1


def test_pareto_levels_stack_to_the_energy_and_cap_the_bars(base):
    big = run_dse(base, expand_grid({**SWEEP, "array.cols": [8, 16, 32, 64, 128, 256]}), _workloads(False))
    rows = len(big)
    assert rows == 2 * 3 * 2 * 6 * 2 > MAX_BARS
    ax = pareto_levels_figure(big, np.ones(rows, bool)).axes[0]
    assert ax.get_ylabel() == "energy per inference (nJ)"
    assert len(ax.get_xticks()) == MAX_BARS
    assert ax.get_title().endswith(f"{MAX_BARS} of {rows} shown")
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0].startswith("p") and labels[0].endswith("net-a") and labels[-1].endswith("net-b")
    # MAC + DRAM + wbuf + ibuf + obuf stacked: each bar's top is its row's total energy
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["MAC", "dram", "wbuf", "ibuf", "obuf"]
    tops = np.zeros(MAX_BARS)
    for container in ax.containers:
        tops = np.maximum(tops, [p.get_y() + p.get_height() for p in container.patches])
    point, energy = np.array(big.columns["point"]), big.column("energy_pj")
    wl = np.array(big.columns["workload"], dtype=object)
    for label, top in zip(labels, tops):
        p, name = label.split(" ", 1)
        (r,) = np.flatnonzero((point == int(p[1:])) & (wl == name))
        assert top == pytest.approx(energy[r] / 1e3, rel=1e-9)  # nJ


def test_uniform_lines_are_the_arrays(uniform):
    fig = uniform_bits_figure(uniform)
    assert [ax.get_title() for ax in fig.axes] == ["net-a", "net-b"]
    for ax, archs in zip(fig.axes, uniform.values()):
        lines = {li.get_label(): li for li in ax.get_lines()}
        assert set(lines) == {"bitfusion", "data_gated"}
        for arch, energy in archs.items():
            np.testing.assert_array_equal(lines[arch].get_xdata(), np.arange(2, 17))
            np.testing.assert_allclose(lines[arch].get_ydata(), energy / 1e3, rtol=1e-12)  # nJ


# -- HTML -----------------------------------------------------------------------------------------

class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append(dict(attrs))


def _array(value) -> np.ndarray:
    """A trace array as plotly serialises it (a plain list, or a base64 typed array)."""
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        return data.reshape([int(s) for s in str(value["shape"]).split(",")]) if "shape" in value else data
    return np.array(value, dtype=object)


def _plot_call(page: str) -> tuple[list, dict]:
    """The data and layout handed to Plotly.newPlot for the page's plot div."""
    div = re.search(r'<div id="([^"]+)" class="plotly-graph-div"', page).group(1)
    call = re.search(r'Plotly\.newPlot\(\s*"' + re.escape(div) + r'",\s*', page)
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(page, call.end())
    layout, _ = decoder.raw_decode(page, re.compile(r",\s*").match(page, end).end())
    return data, layout


@pytest.fixture
def html_page(tmp_path):
    pytest.importorskip("plotly")
    from quanos_hw.dse_html import write_dse_html

    def write(table, mask, objectives):
        path = write_dse_html(table, mask, objectives, SWEPT, tmp_path / "dse.html", title="sweep <1>")
        assert path == tmp_path / "dse.html" and [p.name for p in tmp_path.iterdir()] == ["dse.html"]
        return path.read_text(encoding="utf-8")

    return write


def test_html_is_self_contained(table, html_page, tmp_path):
    import plotly.offline

    page = html_page(table, pareto_rows(table, ["energy", "latency"]), ["energy", "latency"])
    assert page.startswith("<!doctype html>") and "<title>sweep &lt;1&gt;</title>" in page
    assert f"plotly.js v{plotly.offline.get_plotlyjs_version()}" in page and len(page) > 1_000_000
    parser = _Scripts()
    parser.feed(page)
    assert parser.scripts and all("src" not in attrs for attrs in parser.scripts)  # all inline: no CDN
    assert not re.search(r"<script[^>]+src=[\"']?https?://", page)
    assert str(tmp_path) not in page
    ours = page.replace(plotly.offline.get_plotlyjs(), "")  # the page without the plotly.js bundle
    assert len(page) - len(ours) > 1_000_000  # the bundle is embedded verbatim
    for absolute in ("file://", "http://", "https://", str(Path.cwd()), str(Path.home()), "C:\\"):
        assert absolute not in ours  # no address of this machine or of the web


@pytest.mark.parametrize("objectives", [["energy", "latency"], ["energy", "area"], ["edp"]])
def test_html_traces_fronts_and_hover(table, html_page, objectives):
    mask = pareto_rows(table, objectives)
    data, layout = _plot_call(html_page(table, mask, objectives))
    assert [t["name"] for t in data] == ["net-a", "Pareto front: net-a", "net-b", "Pareto front: net-b"]
    assert all(t["type"] == "scatter" for t in data)
    names = np.array(table.columns["workload"], dtype=object)
    latency_us, energy_nj, area = table.column("latency_s") * 1e6, table.column("energy_pj") / 1e3, \
        table.column("area_mm2")
    assert layout["xaxis"]["title"]["text"] == "latency per inference (µs)"
    assert (layout["coloraxis"]["cmin"], layout["coloraxis"]["cmax"]) == pytest.approx((area.min(), area.max()))
    for name, points, front in zip(("net-a", "net-b"), data[0::2], data[1::2]):
        rows = np.flatnonzero(names == name)
        custom = _array(points["customdata"])
        assert custom.shape[0] == len(rows) == len(_array(points["x"]))
        assert list(custom[:, 0]) == [table.columns["point"][r] for r in rows]
        for j, key in enumerate(SWEPT, start=1):  # the swept parameters, raw, in the hover box
            assert list(custom[:, j]) == [table.columns[key][r] for r in rows]
            assert f"{key}: %{{customdata[{j}]}}" in points["hovertemplate"]
        for word in ("wbuf energy", "latency", "area", "utilisation", "clean accuracy"):
            assert f"{word}: %{{customdata[" in points["hovertemplate"]
        np.testing.assert_allclose(np.array(_array(points["marker"]["color"]), float), area[rows])
        assert points["marker"]["coloraxis"] == "coloraxis"
        on_front = rows[mask[rows]]
        fx, fy = _array(front["x"]).astype(float), _array(front["y"]).astype(float)
        assert len(fx) == len(on_front) == len(_array(front["customdata"]))
        assert np.all(np.diff(fx) >= 0)
        np.testing.assert_allclose(np.sort(fx), np.sort(latency_us[on_front]), rtol=1e-12)
        np.testing.assert_allclose(np.sort(fy), np.sort(energy_nj[on_front]), rtol=1e-12)
        step = set(objectives) == {"energy", "latency"}
        assert front["mode"] == ("lines+markers" if step else "markers") and front["line"]["shape"] == "hv"


def test_html_unknown_area_is_grey(table, html_page):
    unknown = [1, 2, 7]
    partial = _with_unknown_area(table, unknown)
    data, _ = _plot_call(html_page(partial, pareto_rows(partial, ["energy"]), ["energy"]))
    colors = np.concatenate([_array(t["marker"]["color"]) for t in data[0::2]])
    rows = np.concatenate([np.flatnonzero(np.array(table.columns["workload"]) == n) for n in ("net-a", "net-b")])
    assert sorted(r for r, c in zip(rows, colors) if c == "lightgrey") == unknown
    # hover fields: point, 3 swept keys, energy, MAC, dram, wbuf, ibuf, obuf, latency, then area
    assert all("<br>area: %{customdata[11]}<br>" in t["hovertemplate"] for t in data[0::2])
    hover = np.concatenate([_array(t["customdata"]) for t in data[0::2]])
    assert sorted(r for r, h in zip(rows, hover) if h[11] == "unknown") == unknown
    assert all(h[11].endswith(" mm²") for r, h in zip(rows, hover) if r not in unknown)


def test_html_refuses_a_bad_mask(table, tmp_path):
    pytest.importorskip("plotly")
    from quanos_hw.dse_html import write_dse_html

    with pytest.raises(InputError, match="pareto_mask has shape"):
        write_dse_html(table, np.ones(3, bool), ["energy"], SWEPT, tmp_path / "dse.html")
    assert list(tmp_path.iterdir()) == []
