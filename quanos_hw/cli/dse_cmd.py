"""``quanos dse``: sweep an accelerator description and precisions together (quanos_hw.dse)."""

from __future__ import annotations

import argparse
import sys

from .executor_args import add_executor_arguments, executor_from_args

EPILOG = """\
sweep keys are dotted fields of the description: array.rows, array.cols, array.unroll.rows,
batch, clock_mhz, technology.node_nm, mac.architecture, mac.params.<name>,
memory.dram.bandwidth_gb_s, memory.buffers.<name>.capacity_bytes, ... ('null' = unbounded).
workloads: MODEL@BITS (vgg16@8), MODEL:BITS.json (resnet20:bits.json), MODEL/DATASET@BITS, or a
'quanos run' / 'quanos compare' results folder (brings measured accuracy). MODEL may be an ONNX
file (net.onnx@8, net.onnx:bits.json naming its nodes), read at its own input shape.
outputs in --out: dse.csv, pareto.csv, dse.md, dse.json, dse_*.png, dse.html (self-contained).
"""


def add_parser(sub) -> None:
    p = sub.add_parser("dse", help="sweep accelerators and precisions: Pareto fronts, plots, interactive page",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hardware", required=True, help="accelerator description: a shipped name or a YAML/JSON file")
    p.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2",
                   help="a field and its values; several --sweep are crossed")
    p.add_argument("--sweep-file", help="YAML/JSON list of design points ({key: value}) or a {key: [values]} grid")
    p.add_argument("--workload", action="append", required=True, metavar="SPEC", help="see below; repeatable")
    p.add_argument("--dataset", default="cifar10", help="input of MODEL@BITS workloads (default: %(default)s)")
    p.add_argument("--objectives", default="energy,latency,area", help="comma-separated, minimised "
                   "(energy, latency, area, edp; default: %(default)s)")
    p.add_argument("--out", default="dse_results", help="output folder (default: %(default)s)")
    p.add_argument("--yes", action="store_true", help="run a sweep larger than the 100,000-point limit")
    p.add_argument("--no-plots", action="store_true", help="tables and summary only")
    p.add_argument("--check-zigzag", type=int, default=0, metavar="K",
                   help="run ZigZag (zigzag-dse 3.9.1, optional) on the K lowest-energy points per workload")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    add_executor_arguments(p)
    p.set_defaults(func=run_dse_cmd)


def run_dse_cmd(args: argparse.Namespace) -> int:
    from energy_models.dse import parse_sweep_args

    from ..dse import dse, load_sweep_file
    from ..dse_outputs import summary_json, write_outputs
    from ..errors import InputError

    if args.sweep and args.sweep_file:
        raise InputError("give --sweep or --sweep-file, not both")
    if args.check_zigzag < 0:
        raise InputError(f"--check-zigzag must be >= 0, got {args.check_zigzag}")
    if args.check_zigzag:
        from ..zigzag_check import zigzag_available

        if not zigzag_available():
            raise InputError("--check-zigzag needs zigzag-dse 3.9.1: pip install 'quanos-hw[zigzag]'")
    objectives = [o.strip() for o in args.objectives.split(",") if o.strip()]
    sweep = parse_sweep_args(args.sweep) if args.sweep else None
    points = load_sweep_file(args.sweep_file) if args.sweep_file else None
    with executor_from_args(args) as executor:
        result = dse(args.hardware, args.workload, sweep=sweep, points=points, objectives=objectives,
                     dataset=args.dataset, limit=None if args.yes else 100_000, progress=not args.json,
                     executor=executor)
        if args.check_zigzag:
            from ..dse import attach_zigzag

            attach_zigzag(result, args.check_zigzag, executor)
    files = write_outputs(result, args.out, plots=not args.no_plots)
    if args.json:
        sys.stdout.write(summary_json(result, files) + "\n")
    else:
        sys.stdout.write(f"{len(result.points)} design points x {len(result.workloads)} workloads; "
                         f"{int(result.pareto.sum())} Pareto rows; wrote {', '.join(files)} in {args.out}\n")
    return 0
