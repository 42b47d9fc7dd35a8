"""Does the fast accelerator model rank design points as ZigZag does? Design points around
bitfusion45 (array size, buffer capacities, DRAM bandwidth, batch) x VGG-16 and ResNet-20 at 8
bits (3x32x32 input), costed by energy_models.estimate_accelerator and by ZigZag 3.9.1 (LOMA,
energy-optimal mapping per layer; quanos_hw.zigzag_check converts the inputs). Per network: the
Spearman rank correlation of the points' energy and latency between the two models, the overlap
of their 5 lowest-energy points, and the per-layer DRAM traffic ratio (ours / ZigZag's).
Needs ``pip install 'quanos-hw[zigzag]'``; ZigZag takes seconds to minutes per layer.

    python benchmarks/dse_vs_zigzag.py                   # 24 points x 2 networks (about an hour of CPU)
    python benchmarks/dse_vs_zigzag.py --points 2 --networks resnet20 --layers 2   # a quick check
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from common import RESULTS, quiet, write

BASE = "bitfusion45"
#: the grid the points are drawn from (BitFusion's banking: a weight bank per PE, an input bank per
#: row, an output bank per column)
ARRAYS = [(8, 16), (16, 16), (16, 32), (32, 32)]
WBUF_KB = [16, 64, 256]
IBUF_KB = [8, 32, 128]
OBUF_KB = [8, 16, 64]
BANDWIDTH_GB_S = [3.0, 12.0, 48.0]
#: batch > 1 adds a seventh loop to every layer: ZigZag's LOMA then searches 7! orders, not 6!
BATCHES = [1, 4]
TOP = 5
#: ZigZag's results per (description, workload), reused by a rerun (not committed)
CACHE = RESULTS / "runs" / "dse_vs_zigzag"


def design_points(count: int, batched: int, seed: int) -> list[dict]:
    """``count`` points drawn from the grid (seeded), the last ``batched`` of them at batch 4."""
    rng = np.random.default_rng(seed)
    points = []
    for i in range(count):
        rows, cols = ARRAYS[rng.integers(len(ARRAYS))]
        points.append({
            "array.rows": rows, "array.cols": cols,
            "memory.buffers.wbuf.banks": rows * cols, "memory.buffers.ibuf.banks": rows,
            "memory.buffers.obuf.banks": cols,
            "memory.buffers.wbuf.capacity_bytes": 1024 * int(rng.choice(WBUF_KB)),
            "memory.buffers.ibuf.capacity_bytes": 1024 * int(rng.choice(IBUF_KB)),
            "memory.buffers.obuf.capacity_bytes": 1024 * int(rng.choice(OBUF_KB)),
            "memory.dram.bandwidth_gb_s": float(rng.choice(BANDWIDTH_GB_S)),
            "batch": BATCHES[1] if i >= count - batched else BATCHES[0]})
    return points


def workloads(names: list[str], layers: int | None) -> dict:
    from energy_models.dse import Workload
    from quanos_hw import create_model, extract_layers

    out = {}
    for name in names:
        specs = extract_layers(create_model(name), (3, 32, 32), 8)
        out[name] = Workload(name, tuple(specs[:layers] if layers else specs))
    return out


def our_dram_by_operand(acc, workload) -> dict[str, list[float]]:
    """Our DRAM bits per operand, layer and inference: energy_models.tiling called with the
    arguments estimate_accelerator gives it (the benchmark checks the sum against the estimate)."""
    from energy_models import spatial, tiling
    from energy_models.accelerator import capacity_bits
    from energy_models.estimate import input_sources
    from quanos_hw.zigzag_check import zigzag_layers

    layers, z = workload.layers, zigzag_layers(acc, workload)
    w, a_in, a = (np.array([getattr(x, k) for x in z], float) for k in ("weight_bits", "input_bits", "output_bits"))
    count = {k: np.array([getattr(x, k) for x in layers], float) for k in ("weights", "inputs", "outputs")}
    dims, arr, b = spatial.layer_dims(layers), acc.array, acc.batch
    reread = {op: spatial.rereads(op, dims, b, arr.rows, arr.cols, arr.unroll_rows, arr.unroll_cols, arr.stationary)
              for op in ("weights", "inputs")}
    caps = {op: capacity_bits(acc.buffer_of(op)) for op in ("weights", "inputs", "outputs")}
    buffered = {op: acc.buffer_of(op) is not None for op in caps}
    shared = buffered["inputs"] and acc.buffer_of("inputs") is acc.buffer_of("outputs")
    t = tiling.memory_traffic(count["weights"] * w, count["inputs"] * a_in * b, count["outputs"] * a * b, caps,
                              buffered, shared, input_sources(layers), acc.network_input_on_chip, reread)
    return {"weights": list(t.dram_read_bits["weights"] / b), "inputs": list(t.dram_read_bits["inputs"] / b),
            "outputs": list(np.asarray(t.dram_write_bits) / b)}


def _conversion(source: str | None = None) -> str:
    """The code of quanos_hw.zigzag_check without its docstrings and comments: a cached ZigZag
    result is reused only by the conversion that produced it."""
    import ast

    import quanos_hw.zigzag_check as module

    tree = ast.parse(source if source is not None else Path(module.__file__).read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(
                getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()


def cache_key(acc, workload, flow: str, conversion: str) -> str:
    return hashlib.sha256(json.dumps([acc.to_dict(), [x.to_dict() for x in workload.layers], conversion, flow],
                                     sort_keys=True, default=str).encode()).hexdigest()[:16]


def _task(args: tuple) -> dict:
    """One (point, network, ZigZag flow): both models (runs in a worker process)."""
    index, point, network, workload, flow, cache = args
    from energy_models import load_accelerator, parse_accelerator
    from energy_models.dse import apply_point
    from quanos_hw.zigzag_check import quanos_estimate, zigzag_estimate

    acc = parse_accelerator(apply_point(load_accelerator(BASE).to_dict(), point), f"point {index}")
    cached = Path(cache) / f"{cache_key(acc, workload, flow, _conversion())}.json" if cache else None
    start = time.perf_counter()
    hit = bool(cached and cached.is_file())
    try:
        if hit:
            stored = json.loads(cached.read_text())
            zz, seconds = stored["zigzag"], stored["seconds"]
        else:
            zz = zigzag_estimate(acc, workload, on_chip=flow == "on_chip")
            seconds = time.perf_counter() - start
    except Exception as exc:  # noqa: BLE001 - one failed point is reported, the others still count
        return {"point": index, "network": network, "flow": flow, "error": f"{type(exc).__name__}: {exc}",
                "zigzag_seconds": time.perf_counter() - start}
    if cached and not hit:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps({"zigzag": zz, "seconds": seconds}))
    ours = quanos_estimate(acc, workload)
    ours["dram_bits_by_operand"] = our_dram_by_operand(acc, workload)
    total = np.sum([ours["dram_bits_by_operand"][op] for op in ("weights", "inputs", "outputs")], axis=0)
    assert np.allclose(total, ours["dram_bits"], rtol=1e-12), "per-operand DRAM bits drifted from the estimate"
    return {"point": index, "network": network, "flow": flow, "ours": ours, "zigzag": zz,
            "zigzag_seconds": seconds, "from_cache": hit}


def run_all(points: list[dict], loads: dict, flows: list[str], jobs: int, cache: str | None) -> list[dict]:
    tasks = [(i, p, name, wl, flow, cache) for flow in flows for i, p in enumerate(points)
             for name, wl in loads.items()]
    tasks.sort(key=lambda t: -(t[1]["batch"] * 100 + len(t[3].layers)))  # the slowest first
    results = []
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) if jobs > 1 else contextlib.nullcontext() as pool:
        for r in (pool.map(_task, tasks) if pool else map(_task, tasks)):
            results.append(r)
            print(f"point {r['point']} {r['network']} {r['flow']}: {r['zigzag_seconds']:.0f} s "
                  f"{r.get('error', '')}", flush=True)
    return sorted(results, key=lambda r: (r["flow"], r["point"], r["network"]))


def _ranks_agree(ours: np.ndarray, theirs: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    if len(ours) < 3:
        return None
    return float(spearmanr(ours, theirs).statistic)


def summarise(results: list[dict], points: list[dict], network: str) -> dict:
    """Rank agreement, top-5 overlap and DRAM ratios of one network over the design points."""
    rows = [r for r in results if r["network"] == network]
    batch = np.array([points[r["point"]]["batch"] for r in rows], float)
    energy = {m: np.array([r[m]["total_energy_pj"] for r in rows]) for m in ("ours", "zigzag")}
    latency = {m: np.array([r[m]["total_latency_s"] for r in rows]) for m in ("ours", "zigzag")}
    top = {m: {rows[i]["point"] for i in np.argsort(energy[m], kind="stable")[:TOP]} for m in energy}
    ratios, one_zero = [], 0
    for r in rows:
        for ours, zz in zip(r["ours"]["dram_bits"], r["zigzag"]["dram_bits"]):
            if ours > 0 and zz > 0:
                ratios.append(ours / zz)
            elif ours > 0 or zz > 0:
                one_zero += 1
    ratios = np.array(ratios)
    return {
        "points": len(rows),
        "spearman_energy": _ranks_agree(energy["ours"], energy["zigzag"]),
        "spearman_latency_per_batch": _ranks_agree(latency["ours"], latency["zigzag"]),
        "spearman_latency_per_inference": _ranks_agree(latency["ours"] / batch, latency["zigzag"] / batch),
        "top5_ours": sorted(top["ours"]), "top5_zigzag": sorted(top["zigzag"]),
        "top5_overlap": len(top["ours"] & top["zigzag"]), "top5_of": min(TOP, len(rows)),
        "energy_ratio": _spread(energy["ours"] / energy["zigzag"]),
        "latency_ratio": _spread(latency["ours"] / latency["zigzag"]),
        "dram_ratio_per_layer": _spread(ratios), "dram_layers_compared": int(ratios.size),
        "dram_layers_zero_in_one_model": one_zero,
        "dram_layers_within_1pct": int(np.sum(np.abs(ratios - 1) <= 0.01))}


def _spread(x: np.ndarray) -> dict:
    if not x.size:
        return {"median": None, "min": None, "max": None}
    return {"median": float(np.median(x)), "min": float(x.min()), "max": float(x.max())}


def deviations(results: list[dict], points: list[dict], count: int = 8) -> list[dict]:
    """The (point, layer) pairs whose DRAM traffic differs most between the models, with the
    mapping ZigZag chose and the operand that carries the difference."""
    out = []
    for r in results:
        for i, name in enumerate(r["ours"]["layers"]):
            ours, zz = r["ours"]["dram_bits"][i], r["zigzag"]["dram_bits"][i]
            if ours <= 0 or zz <= 0 or abs(np.log(ours / zz)) < 1e-9:
                continue
            layer = r["zigzag"]["per_layer"][i]
            out.append({"point": r["point"], "network": r["network"], "layer": name,
                        "batch": points[r["point"]]["batch"],
                        "ours_dram_bits": ours, "zigzag_dram_bits": zz, "ratio": ours / zz,
                        "zigzag_dram_bits_by_operand": layer["dram_bits_by_operand"],
                        "ours_energy_pj": r["ours"]["energy_pj"][i], "zigzag_energy_pj": r["zigzag"]["energy_pj"][i],
                        "zigzag_temporal_mapping": layer["temporal_mapping"],
                        "zigzag_spatial_mapping": layer["spatial_mapping"]})
    return sorted(out, key=lambda d: -abs(np.log(d["ratio"])))[:count]


def operand_breakdown(results: list[dict], network: str) -> dict:
    """Per operand, DRAM bits summed over points and layers in both models, and the layer-points
    where ZigZag moves more (> 1% above ours) or less."""
    out = {}
    for op in ("weights", "inputs", "outputs"):
        ours = np.concatenate([r["ours"]["dram_bits_by_operand"][op] for r in results if r["network"] == network])
        zz = np.concatenate([[x["dram_bits_by_operand"][op] for x in r["zigzag"]["per_layer"]]
                             for r in results if r["network"] == network])
        out[op] = {"ours_bits": float(ours.sum()), "zigzag_bits": float(zz.sum()),
                   "zigzag_more": int(np.sum(zz > 1.01 * ours)), "zigzag_less": int(np.sum(zz < 0.99 * ours)),
                   "layer_points": int(ours.size)}
    return out


def mechanisms(results: list[dict]) -> dict:
    """Layer-points (all networks) by the operand whose DRAM traffic differs (> 1%), with the
    median factor ZigZag / ours: the effects behind the differences."""
    found: dict[str, list[float]] = {k: [] for k in MECHANISMS}
    for r in results:
        for i in range(len(r["ours"]["layers"])):
            z = r["zigzag"]["per_layer"][i]["dram_bits_by_operand"]
            o = {k: r["ours"]["dram_bits_by_operand"][k][i] for k in z}
            factor = {k: z[k] / o[k] if o[k] > 0 else (np.inf if z[k] > 0 else 1.0) for k in z}
            if factor["weights"] > 1.01:
                found["weights_output_on_chip" if o["outputs"] == 0 else "weights_output_in_dram"].append(
                    factor["weights"])
            if factor["inputs"] > 1.01:
                found["inputs_more"].append(factor["inputs"])
            if factor["outputs"] > 1.01:
                found["outputs_more"].append(factor["outputs"])
            if min(factor.values()) < 0.99:
                found["less"].append(min(factor.values()))
    return {k: {"layer_points": len(v), "median_factor": float(np.median(v)) if v else None,
                "max_factor": float(np.max(v)) if v else None} for k, v in found.items()}


MECHANISMS = {
    "weights_output_on_chip": "ZigZag re-reads the weights (per output pixel or tile) where our model keeps the "
                              "layer's output on chip: the output fills its buffer, partial sums (at accumulator "
                              "width) have no room there, so the whole reduction must finish in the PE "
                              "accumulators, and the weights of one array-wide K tile times the full reduction "
                              "(C x FY x FX) do not fit the weight buffer. Our tiling assumes the weights stream "
                              "once whenever the input is resident, whatever the partial sums need",
    "weights_output_in_dram": "ZigZag re-reads the weights where the output goes to DRAM (the same partial-sum "
                              "constraint, with LOMA's one-factor-per-loop granularity)",
    "inputs_more": "ZigZag reads the input more often: input-tile halos (a 3x3 window re-fetches the overlapping "
                   "columns of every output-column tile; our model ignores halos) and K tiles of a size our "
                   "capacity ratio does not give",
    "outputs_more": "ZigZag writes more output bits: it splits the reduction at the DRAM level and spills partial "
                    "sums at accumulator width (our model never splits a reduction)",
    "less": "ZigZag moves less than ours: a loop order outside our two closed-form orders (for example the "
            "reduction split at the DRAM level, or the input re-streamed fewer times than our capacity ratio)",
}


def _fmt(x, spec=".3f") -> str:
    return "n/a" if x is None else format(x, spec)


FLOW_TEXT = {"on_chip": "our on-chip decision", "dram": "every tensor via DRAM"}


def _summary_table(summary: dict) -> list[str]:
    lines = ["| network | ZigZag flow | points | Spearman energy | Spearman latency (batch / inference) | top-5 "
             "overlap | energy ours/ZigZag (median, range) | latency ours/ZigZag | DRAM bits per layer ours/ZigZag "
             "(median, range; layers) | layers within 1% |", "|---|---|---|---|---|---|---|---|---|---|"]
    for flow, by_net in summary.items():
        for net, s in by_net.items():
            e, lat, d = s["energy_ratio"], s["latency_ratio"], s["dram_ratio_per_layer"]
            lines.append(
                f"| {net} | {FLOW_TEXT[flow]} | {s['points']} | **{_fmt(s['spearman_energy'])}** | "
                f"{_fmt(s['spearman_latency_per_batch'])} / {_fmt(s['spearman_latency_per_inference'])} | "
                f"{s['top5_overlap']}/{s['top5_of']} | {_fmt(e['median'])} ({_fmt(e['min'])}-{_fmt(e['max'])}) | "
                f"{_fmt(lat['median'])} ({_fmt(lat['min'])}-{_fmt(lat['max'])}) | {_fmt(d['median'])} "
                f"({_fmt(d['min'])}-{_fmt(d['max'])}; {s['dram_layers_compared']}) | "
                f"{s['dram_layers_within_1pct']}/{s['dram_layers_compared']} |")
    return lines


def _operand_table(results: list[dict], summary: dict) -> list[str]:
    lines = ["| network | ZigZag flow | operand | ours (Mbit) | ZigZag (Mbit) | ZigZag more | ZigZag less |",
             "|---|---|---|---|---|---|---|"]
    for flow, by_net in summary.items():
        for net in by_net:
            rows = [r for r in results if r["flow"] == flow]
            for op, b in operand_breakdown(rows, net).items():
                lines.append(f"| {net} | {FLOW_TEXT[flow]} | {op} | {b['ours_bits'] / 1e6:,.1f} | "
                             f"{b['zigzag_bits'] / 1e6:,.1f} | {b['zigzag_more']}/{b['layer_points']} | "
                             f"{b['zigzag_less']}/{b['layer_points']} |")
    return lines


def _worst_table(worst: list[dict]) -> list[str]:
    lines = ["| point | network | layer | batch | DRAM bits ours | ZigZag (weights / inputs / outputs) | ratio | "
             "ZigZag temporal mapping (inner to outer, per memory level) |", "|---|---|---|---|---|---|---|---|"]
    for w in worst:
        by = w["zigzag_dram_bits_by_operand"]
        lines.append(f"| {w['point']} | {w['network']} | {w['layer']} | {w['batch']} | {w['ours_dram_bits']:,.0f} | "
                     f"{w['zigzag_dram_bits']:,.0f} ({by.get('weights', 0):,.0f} / {by.get('inputs', 0):,.0f} / "
                     f"{by.get('outputs', 0):,.0f}) | {w['ratio']:.3f} | `{w['zigzag_temporal_mapping']}` |")
    return lines


def _points_table(points: list[dict], results: list[dict], flows: list[str]) -> list[str]:
    head = " | ".join(f"ZigZag, {FLOW_TEXT[f]}" for f in flows)
    lines = [f"| point | rows x cols | wbuf/ibuf/obuf KB | GB/s | batch | network | energy ours (uJ) | {head} | "
             f"latency ours (us) | {head} |", "|---" * (7 + 2 * len(flows)) + "|"]
    by_key = {(r["flow"], r["point"], r["network"]): r for r in results}
    for (flow, i, net), r in sorted(by_key.items(), key=lambda kv: (kv[0][1], kv[0][2])):
        if flow != flows[0]:
            continue
        p = points[i]
        kb = "/".join(str(p[f"memory.buffers.{b}.capacity_bytes"] // 1024) for b in ("wbuf", "ibuf", "obuf"))
        zz = [by_key.get((f, i, net)) for f in flows]
        energy = " | ".join("failed" if z is None else f"{z['zigzag']['total_energy_pj'] / 1e6:.2f}" for z in zz)
        latency = " | ".join("failed" if z is None else f"{z['zigzag']['total_latency_s'] * 1e6:.1f}" for z in zz)
        lines.append(f"| {i} | {p['array.rows']}x{p['array.cols']} | {kb} | {p['memory.dram.bandwidth_gb_s']:g} | "
                     f"{p['batch']} | {net} | {r['ours']['total_energy_pj'] / 1e6:.2f} | {energy} | "
                     f"{r['ours']['total_latency_s'] * 1e6:.1f} | {latency} |")
    return lines


def markdown(points: list[dict], results: list[dict], summary: dict, worst: dict, args) -> str:
    nets = ", ".join(next(iter(summary.values())))
    flows = list(summary)
    lines = [f"# Design points: quanos-hw's model vs ZigZag ({nets})", "",
             f"{len(points)} design points around `{BASE}` (seed {args.seed}: array rows x cols from {ARRAYS}, "
             f"weight/input/output buffers {WBUF_KB}/{IBUF_KB}/{OBUF_KB} KB with BitFusion's banking, DRAM "
             f"{BANDWIDTH_GB_S} GB/s, batch 1 or, for the last {args.batched}, {BATCHES[1]}) x {nets} at 8 bits, "
             "3x32x32 input" + (f", first {args.layers} layers" if args.layers else "") + ". Our estimate: "
             "`energy_models.estimate_accelerator`; ZigZag 3.9.1: LOMA temporal mapping search (lpf limit 6), "
             "energy-optimal mapping per layer, the description's spatial unrolling, inputs converted by "
             "`quanos_hw.zigzag_check` (our MAC energy per layer, our buffer and DRAM energies). ZigZag flow: "
             "*our on-chip decision* keeps the activations our model keeps on chip between layers in their buffer "
             "(`zigzag_estimate(on_chip=True)`, the default); *every tensor via DRAM* is ZigZag's own layer-by-layer "
             "flow (`on_chip=False`), while our model still keeps them on chip. Energy per inference; latency per "
             "batch and per inference.", ""]
    lines += _summary_table(summary)

    def met(value) -> str:
        return "n/a (fewer than 3 points)" if value is None else ("yes" if value >= 0.9 else "no")

    lines += ["", "Goal: rank correlation >= 0.9. Met on energy: " + "; ".join(
        f"{n} ({FLOW_TEXT[f]}) {met(s['spearman_energy'])}" for f, b in summary.items() for n, s in b.items())
        + ". On latency per batch: " + "; ".join(
        f"{n} ({FLOW_TEXT[f]}) {met(s['spearman_latency_per_batch'])}" for f, b in summary.items()
        for n, s in b.items()) + ".", "", "## DRAM traffic by operand", "",
        "Summed over design points and layers (bits per inference); layer-points where ZigZag moves more than ours "
        "(> 1%) or less (< -1%).", ""]
    lines += _operand_table(results, summary)
    lines += ["", "## What differs, and why", "", "Layer-points of both networks where an operand's DRAM traffic "
              "differs by more than 1% (ZigZag / ours: median, largest); one layer-point can count under several "
              "effects.", "", "| effect | " + " | ".join(FLOW_TEXT[f] for f in flows) + " |",
              "|---" * (1 + len(flows)) + "|"]
    found = {f: mechanisms([r for r in results if r["flow"] == f]) for f in flows}
    for key, text in MECHANISMS.items():
        cells = [f"{found[f][key]['layer_points']} ({_fmt(found[f][key]['median_factor'], '.2f')}, "
                 f"{_fmt(found[f][key]['max_factor'], '.0f')})" for f in flows]
        lines.append(f"| {text} | " + " | ".join(cells) + " |")
    for flow, rows in worst.items():
        lines += ["", f"## The layers where the models differ most in DRAM traffic ({FLOW_TEXT[flow]})", ""]
        lines += _worst_table(rows)
    lines += ["", "## Per design point", ""] + _points_table(points, results, flows)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=24)
    parser.add_argument("--batched", type=int, default=4, help="how many of the points run at batch 4")
    parser.add_argument("--networks", default="vgg16,resnet20")
    parser.add_argument("--layers", type=int, default=None, help="only the first N layers of each network")
    parser.add_argument("--flows", default="on_chip,dram", help="ZigZag flows: on_chip (our on-chip decision), "
                        "dram (every tensor via DRAM)")
    parser.add_argument("--jobs", type=int, default=1, help="ZigZag runs in parallel worker processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cache", action="store_true",
                        help=f"do not keep or reuse ZigZag's results in {CACHE.relative_to(RESULTS.parent.parent)}")
    args = parser.parse_args()
    flows = args.flows.split(",")
    if not flows or any(f not in FLOW_TEXT for f in flows):
        raise SystemExit(f"--flows takes a comma-separated list of {', '.join(FLOW_TEXT)}")
    quiet()
    from quanos_hw.zigzag_check import zigzag_available

    if not zigzag_available():
        raise SystemExit("zigzag-dse 3.9.1 is not installed: pip install 'quanos-hw[zigzag]'")
    points = design_points(args.points, min(args.batched, args.points), args.seed)
    loads = workloads(args.networks.split(","), args.layers)
    start = time.perf_counter()
    results = run_all(points, loads, flows, args.jobs, None if args.no_cache else str(CACHE))
    wall = time.perf_counter() - start
    failed = [r for r in results if "error" in r]
    results = [r for r in results if "error" not in r]
    summary = {f: {net: summarise([r for r in results if r["flow"] == f], points, net) for net in loads}
               for f in flows}
    worst = {f: deviations([r for r in results if r["flow"] == f], points) for f in flows}
    text = markdown(points, results, summary, worst, args)
    if failed:
        text += "\n\nZigZag failed on (left out above): " + "; ".join(
            f"point {r['point']} {r['network']} ({FLOW_TEXT[r['flow']]}): {r['error']}" for r in failed) + "."
    hits = sum(r.get("from_cache", False) for r in results)
    text += f"\n\nZigZag time {sum(r['zigzag_seconds'] for r in results) / 60:.1f} min over {len(results)} runs " \
            f"({hits} of them reused from an earlier run of this command); wall time of this run " \
            f"{wall / 60:.1f} min with {args.jobs} job(s).\n"
    write("dse_vs_zigzag", {"seed": args.seed, "base": BASE, "points": points, "summary": summary,
                            "largest_dram_differences": worst, "results": results, "failed": failed,
                            "wall_s": wall, "args": vars(args)}, text)


if __name__ == "__main__":
    main()
