"""``quanos dse``: sweep accelerators and precisions together (the engine is energy_models.dse).

Workloads come from three sources (:func:`load_workloads`):

* ``MODEL@BITS`` (``vgg16@8``): a registered model at uniform bits (MODEL may be an ONNX file,
  ``net.onnx@8``, read by :mod:`quanos_hw.onnx_layers`; also in ``MODEL:FILE.json``);
* ``MODEL:FILE.json`` (``resnet20:bits.json``): a registered model at a bit configuration that
  names every layer;
* a ``quanos run`` results folder (its ``report.json``: every quantized model of the run, with
  its measured clean, white-box and black-box accuracy) or a ``quanos compare`` folder (its
  ``compare.json``: every policy x budget cell, bits of the first seed, accuracy averaged over
  seeds).

A model spec may name its input: ``MODEL/DATASET@BITS`` (default: the ``dataset`` argument).
MODEL is a registered name or a model source (``torchvision:mobilenet_v2@8``, ``nets.py:make/cifar10@4``;
quanos_hw/models/sources.py); a source's ``/DATASET`` is the part after its last ``/`` when that
names a dataset.
:func:`dse` runs the sweep; :func:`quanos_hw.dse_outputs.write_outputs` writes ``dse.csv``,
``pareto.csv``, ``dse.md``, ``dse.json``, the plots and ``dse.html`` atomically into one folder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from energy_models import Accelerator, load_accelerator
from energy_models.dse import (
    DEFAULT_POINT_LIMIT,
    DseTable,
    Workload,
    check_keys,
    check_objectives,
    expand_grid,
    pareto_rows,
    points_from_list,
    run_dse,
    uniform_energy,
)
from energy_models.safe_io import load_json_strict, load_yaml_strict, read_input_text

from .errors import InputError

#: metric columns a results-folder workload brings
METRICS = ("clean_accuracy", "pgd_accuracy", "blackbox_accuracy")


@dataclass
class DseResult:
    """A finished sweep: the table, its Pareto mask and what produced it."""

    base: Accelerator
    points: list[dict]
    workloads: list[Workload]
    objectives: list[str]
    table: DseTable
    pareto: np.ndarray
    uniform: dict = field(default_factory=dict)  # workload -> {architecture: energy_pj over bits 2..16}
    zigzag: list[dict] = field(default_factory=list)

    @property
    def swept_keys(self) -> list[str]:
        return list(dict.fromkeys(k for p in self.points for k in p))


# -- workloads -----------------------------------------------------------------------------------

def _model_layers(name: str, dataset: str, bits: int | dict):
    from .onnx_layers import is_onnx_path, layers_from_onnx

    if is_onnx_path(name):  # an ONNX file: its own input shape, layers named by its nodes
        return tuple(layers_from_onnx(name, bit_config=bits))
    from .data import dataset_info
    from .hardware import extract_layers
    from .models import check_model_name, create_model

    check_model_name(name)
    info = dataset_info(dataset)
    model = create_model(name, num_classes=info.num_classes, in_channels=info.input_shape[0])
    return tuple(extract_layers(model, info.input_shape, bits))


def _split_model(text: str, dataset: str) -> tuple[str, str]:
    from .data import list_datasets
    from .models import is_source
    from .onnx_layers import is_onnx_path

    if is_onnx_path(text):  # a path to an ONNX file: its folders are not a /DATASET
        return text, dataset
    if is_source(text):  # a source may hold '/' (a file path): only a trailing dataset name is split off
        model, _, data = text.rpartition("/")
        return (model, data) if model and data in list_datasets() else (text, dataset)
    model, _, data = text.partition("/")
    return model, data or dataset


def load_workloads(spec: str, dataset: str = "cifar10") -> list[Workload]:
    """The workloads one ``--workload`` spec names (see the module docstring)."""
    path = Path(spec)
    if path.is_dir():
        if (path / "report.json").is_file():
            return _run_workloads(path)
        if (path / "compare.json").is_file():
            return _compare_workloads(path)
        raise InputError(f"workload folder {spec!r} has neither report.json (quanos run) nor compare.json "
                         f"(quanos compare)")
    if "@" in spec:
        head, _, bits_text = spec.rpartition("@")
        from .bitconfig import check_bits

        try:
            bits = check_bits(int(bits_text), f"workload {spec!r} bits")
        except ValueError:
            raise InputError(f"workload {spec!r}: bits after '@' must be an integer, got {bits_text!r}") from None
        model, data = _split_model(head, dataset)
        return [Workload(spec, _model_layers(model, data, bits))]
    if ":" in spec:
        from .bitconfig import load_bit_config

        head, _, file = spec.rpartition(":") if spec.count(":") > 1 else spec.partition(":")  # SOURCE:BITS.json
        model, data = _split_model(head, dataset)
        return [Workload(spec, _model_layers(model, data, dict(load_bit_config(file))))]
    raise InputError(f"workload {spec!r} is not MODEL@BITS, MODEL:BITS.json or a quanos run/compare folder")


def _read_json(path: Path) -> dict:
    raw = load_json_strict(read_input_text(path, "results file"), repr(str(path)))
    if not isinstance(raw, dict):
        raise InputError(f"{path} is not a JSON object")
    return raw


def _metrics(robustness: dict | None) -> dict:
    from .robustness import reference_accuracy

    if not robustness:
        return {}
    try:
        return {"clean_accuracy": robustness["clean"], "pgd_accuracy": reference_accuracy(robustness),
                "blackbox_accuracy": reference_accuracy(robustness, black_box=True)}
    except (KeyError, TypeError):
        raise InputError("results file: the robustness entry is not in quanos-hw's format") from None


def _run_workloads(folder: Path) -> list[Workload]:
    report = _read_json(folder / "report.json")
    try:
        model, dataset = report["config"]["model"], report["dataset"]["name"]
        entries = report["models"]
    except (KeyError, TypeError):
        raise InputError(f"{folder}/report.json is not a quanos run report") from None
    out = []
    for name, entry in entries.items():
        if not isinstance(entry, dict) or not entry.get("bits"):
            continue  # the float baseline has no bits to cost
        out.append(Workload(f"{folder.name}:{name}", _model_layers(model, dataset, entry["bits"]),
                            metrics=_metrics(entry.get("robustness"))))
    if not out:
        raise InputError(f"{folder}/report.json has no quantized model to cost")
    return out


def _compare_workloads(folder: Path) -> list[Workload]:
    from .pipeline.compare import cell_key

    report = _read_json(folder / "compare.json")
    try:
        config, rows, per_seed = report["config"], report["summary"], report["per_seed"]
        first = per_seed[sorted(per_seed, key=int)[0]]["cells"]
    except (KeyError, TypeError, ValueError, IndexError):
        raise InputError(f"{folder}/compare.json is not a quanos compare report") from None
    out = []
    for key, cell in first.items():
        if "bits" not in cell:
            continue  # an infeasible budget
        row = next((r for r in rows if cell_key(r["combo"], r["budget"]) == key), None)
        metrics = _metrics(cell.get("robustness"))
        if row and row.get("accuracy"):
            acc = row["accuracy"]
            ref = row.get("reference", "")
            metrics = {"clean_accuracy": acc["clean"]["mean"], "pgd_accuracy": acc.get(ref, {}).get("mean"),
                       "blackbox_accuracy": acc.get(f"black-box {ref}", {}).get("mean")}
        out.append(Workload(f"{folder.name}:{key}", _model_layers(config["model"], config["dataset"], cell["bits"]),
                            metrics=metrics))
    if not out:
        raise InputError(f"{folder}/compare.json has no feasible cell to cost")
    return out


# -- the sweep -----------------------------------------------------------------------------------

def load_sweep_file(path: str | Path) -> list[dict]:
    text = read_input_text(Path(path), "sweep file")
    origin = repr(str(path))
    raw = load_yaml_strict(text, f"sweep file {origin}") if str(path).endswith((".yaml", ".yml")) else \
        load_json_strict(text, f"sweep file {origin}")
    return points_from_list(raw, origin)


def dse(hardware: str | Path | Accelerator, workloads: Sequence[str | Workload], *, sweep: dict | None = None,
        points: list[dict] | None = None, objectives: Sequence[str] = ("energy", "latency", "area"),
        dataset: str = "cifar10", limit: int | None = DEFAULT_POINT_LIMIT, progress: bool = False,
        executor=None) -> DseResult:
    """Sweep ``hardware`` (a description, shipped name or file) over ``sweep`` (``{key: [values]}``,
    crossed) or explicit ``points``, for every workload (a spec string or a Workload). ``executor``
    (quanos_hw/executor) costs the points in chunks, one per trial slot (default: serial, one chunk)."""
    base = hardware if isinstance(hardware, Accelerator) else load_accelerator(hardware)
    objectives = check_objectives(list(objectives))
    if points is None:
        points = expand_grid(sweep or {}, limit) if sweep else [{}]
    check_keys(base, {k for p in points for k in p})
    loaded: list[Workload] = []
    for spec in workloads:
        loaded += [spec] if isinstance(spec, Workload) else load_workloads(spec, dataset)
    names = [w.name for w in loaded]
    if len(set(names)) != len(names):
        raise InputError(f"workload names repeat: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    table = _sweep(base, points, loaded, progress, executor)
    archs = sorted({p.get("mac.architecture", base.mac.architecture) for p in points})
    uniform = {w.name: uniform_energy(base, w.layers, archs, input_bit_width=w.input_bit_width) for w in loaded}
    return DseResult(base, points, loaded, objectives, table, pareto_rows(table, objectives), uniform)


def dse_chunk(shared: tuple, points: list[dict], progress: bool) -> DseTable:
    """A trial: one chunk of the sweep (``shared``: the description and the workloads)."""
    base, workloads = shared
    return run_dse(base, points, workloads, progress=_bar(len(points) * len(workloads)) if progress else None)


def chunks(count: int, parts: int) -> list[range]:
    """``range(count)`` cut into at most ``parts`` consecutive, nearly equal, non-empty pieces."""
    parts = max(1, min(parts, count))
    bounds = [round(i * count / parts) for i in range(parts + 1)]
    return [range(a, b) for a, b in zip(bounds, bounds[1:])]


def concat_tables(tables: Sequence[DseTable], offsets: Sequence[int], keys: Sequence[str]) -> DseTable:
    """The tables of consecutive chunks as one (``point`` shifted by each chunk's first point). A column
    missing from a chunk is None there for a sweep key (of ``keys``) its points lack, NaN for a number
    (an energy level its descriptions lack), as in a table of the whole sweep."""
    names = list(dict.fromkeys(name for t in tables for name in t.columns))
    columns: dict[str, list] = {name: [] for name in names}
    for table, offset in zip(tables, offsets):
        n = len(table)
        for name in names:
            values = table.columns.get(name)
            if name == "point":
                values = [offset + i for i in values]
            elif values is None:
                values = [None if name in keys else math.nan] * n
            columns[name] += list(values)
    return DseTable(columns)


def _sweep(base: Accelerator, points: list[dict], workloads: list[Workload], progress: bool, executor) -> DseTable:
    from .executor import Trial, using

    with using(executor) as executor:
        pieces = chunks(len(points), executor.slots())
        trials = [Trial(f"dse_{i}", dse_chunk, ([points[j] for j in piece], progress and executor.in_process))
                  for i, piece in enumerate(pieces)]
        tables = executor.run(trials, (base, workloads))
    keys = list(dict.fromkeys(k for p in points for k in p))
    return tables[0] if len(tables) == 1 else concat_tables(tables, [piece.start for piece in pieces], keys)


def zigzag_trial(shared: tuple, point: dict) -> list[dict]:
    """A trial: ZigZag beside our estimate on one chosen row (``shared``: the description and the workloads)."""
    from .zigzag_check import check_points

    base, workloads = shared
    return check_points(base, [point], workloads, 1)


def attach_zigzag(result: DseResult, k: int, executor=None) -> None:
    """Run ZigZag (zigzag-dse 3.9.1) on the ``k`` lowest-energy design points of every workload and put
    its energy and latency beside ours: columns ``zigzag_energy_pj`` and ``zigzag_latency_s`` of the
    table (empty for unchecked rows) and ``result.zigzag`` (one entry per checked row). ``executor``
    runs one trial per checked row (default: serial)."""
    from .executor import Trial, using

    rows = result.table.rows()
    chosen = []
    for w in result.workloads:
        mine = sorted((r for r in rows if r["workload"] == w.name), key=lambda r: r["energy_pj"])[:k]
        chosen += [{**{key: r[key] for key in result.swept_keys if r[key] is not None}, "workload": w.name,
                    "point": r["point"]} for r in mine]
    trials = [Trial(f"zigzag_{i}", zigzag_trial, (point,)) for i, point in enumerate(chosen)]
    with using(executor) as executor:
        checked = [row for rows_ in executor.run(trials, (result.base, result.workloads)) for row in rows_]
    index = {(r["point"], r["workload"]): i for i, r in enumerate(rows)}
    energy, latency = [math.nan] * len(rows), [math.nan] * len(rows)
    for c in checked:
        i = index[(c["point"], c["workload"])]
        energy[i], latency[i] = c["zigzag_energy_pj"], c["zigzag_latency_s"]
        result.zigzag.append({"point": c["point"], "workload": c["workload"], "energy_pj": c["energy_pj"],
                              "zigzag_energy_pj": c["zigzag_energy_pj"], "latency_s": c["latency_s"],
                              "zigzag_latency_s": c["zigzag_latency_s"]})
    result.table.columns["zigzag_energy_pj"] = energy
    result.table.columns["zigzag_latency_s"] = latency


def _bar(total: int):
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="point", desc="dse", mininterval=1.0, delay=1.0)  # shown after a second
    return bar.update


__all__ = ["DseResult", "dse", "load_sweep_file", "load_workloads"]
