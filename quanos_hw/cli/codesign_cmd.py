"""``quanos codesign``: per-layer bits and the accelerator chosen together (quanos_hw.codesign)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .executor_args import add_executor_arguments, executor_from_args
from .run_cmd import WEIGHTS_HELP

EPILOG = """\
stage 1: every hardware point of --sweep (a grid; with a range KEY=LOW:HIGH or a grid beyond
grid_limit points, Optuna's NSGA-II) x every --budgets fraction of the point's uniform 16-bit
energy -> the exact ILP's bits, scored by predicted error and exact energy, latency, area.
stage 2: at most --finalists candidates of the Pareto front, spread across it, trained (QAT) and
attacked, beside uniform 8/4-bit and the QUANOS rule on the best hardware point per objective.
constraints: NAME<=VALUE with energy (µJ), latency (ms, per batch), area (mm²), edp (J·s).
outputs in --out: codesign.csv, finalists.csv, baselines.csv, codesign.md, codesign_*.png,
codesign.html, codesign.json (written last).
"""


def add_parser(sub) -> None:
    p = sub.add_parser("codesign", help="choose per-layer bits and the accelerator together; train only the finalists",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML/JSON file of config keys (experiment keys plus sweep, objectives, ...)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one config key")
    p.add_argument("--hardware", metavar="FILE_OR_NAME", help="accelerator description to sweep (default: bitfusion45)")
    p.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2|KEY=LOW:HIGH",
                   help="a field of the description and its values (or a range for the optimiser); repeatable")
    p.add_argument("--objectives", help="comma-separated, minimised: energy, latency, area, edp "
                   "(default: energy,latency,area)")
    p.add_argument("--constraint", action="append", default=[], metavar="NAME<=VALUE", help="repeatable")
    p.add_argument("--budgets", help="comma-separated fractions of each point's uniform 16-bit energy")
    p.add_argument("--finalists", type=int, metavar="K", help="most candidates trained (default: 6)")
    p.add_argument("--search", choices=("auto", "grid", "nsga2"), help="how stage 1 explores the hardware space")
    p.add_argument("--out", help="results folder (default: codesign_results)")
    p.add_argument("--resume", action="store_true", help="continue the co-design in --out")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"))
    p.add_argument("--weights", metavar="FILE", help=WEIGHTS_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_executor_arguments(p)
    p.set_defaults(func=run_codesign)


def parse_sweep(items: list[str]) -> dict:
    """``--sweep`` values: ``KEY=V1,V2`` (a list, as quanos dse) or ``KEY=LOW:HIGH`` (a numeric range)."""
    from energy_models.dse import parse_sweep_args, parse_value

    from ..errors import InputError

    lists, out = [], {}
    for item in items:
        key, _, text = item.partition("=")
        low, colon, high = text.partition(":")
        if colon and "," not in text:
            bounds = parse_value(low), parse_value(high)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bounds):
                raise InputError(f"--sweep {key.strip()}: a range needs two numbers LOW:HIGH, got {text!r}")
            out[key.strip()] = {"low": bounds[0], "high": bounds[1]}
        else:
            lists.append(item)
    for key, values in parse_sweep_args(lists).items():
        if key in out:
            raise InputError(f"--sweep key {key!r} is given twice")
        out[key] = values
    return out


def resolve(args: argparse.Namespace):
    from ..codesign import CodesignConfig
    from ..codesign.constraints import parse_constraint
    from ..errors import InputError
    from ..pipeline.config import load_config_file, parse_set
    from ..pipeline.config_checks import check_out_dir

    if args.out is not None:
        check_out_dir(args.out, "--out")
    flags = (args.config, args.set, args.hardware, args.sweep, args.objectives, args.constraint, args.budgets,
             args.finalists, args.search)
    if args.resume and not any(v not in (None, []) for v in flags):
        if not args.out:
            raise InputError("--resume needs --out DIR (the folder of the co-design to continue)")
        if not (Path(args.out) / "config.json").is_file():
            raise InputError(f"nothing to resume in {args.out!r}: it holds no config.json")
        config = load_config_file(Path(args.out) / "config.json", cls=CodesignConfig)
    else:
        config = CodesignConfig()
        if args.config:
            config = load_config_file(args.config, config, cls=CodesignConfig)
        config = parse_set(args.set, config)
    overrides: dict = {k: v for k, v in (("out_dir", args.out), ("device", args.device), ("hardware", args.hardware),
                                         ("weights", args.weights), ("finalists", args.finalists),
                                         ("search", args.search)) if v is not None}
    if args.sweep:
        overrides["sweep"] = parse_sweep(args.sweep)
    if args.objectives is not None:
        overrides["objectives"] = tuple(o.strip() for o in args.objectives.split(",") if o.strip())
    if args.constraint:
        overrides["constraints"] = dict(parse_constraint(text) for text in args.constraint)
    if args.budgets is not None:
        try:
            overrides["budgets"] = tuple(float(b) for b in args.budgets.split(",") if b.strip())
        except ValueError:
            raise InputError(f"--budgets needs comma-separated numbers, got {args.budgets!r}") from None
    return dataclasses.replace(config, **overrides) if overrides else config


def run_codesign(args: argparse.Namespace) -> int:
    from ..codesign import codesign
    from ..executor import as_map

    config = resolve(args)
    with executor_from_args(args) as executor:  # stage 2's trials (serial by default, or on Ray)
        result = codesign(config, resume=args.resume, progress=not args.quiet and sys.stderr.isatty(),
                          log=lambda msg: print(msg, file=sys.stderr, flush=True), map_trials=as_map(executor))
    print((result.out_dir / "codesign.md").read_text())
    return 0
