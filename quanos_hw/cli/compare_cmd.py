"""``quanos compare``: sensitivity metrics and allocation policies at equal energy budgets."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .executor_args import add_executor_arguments, executor_from_args
from .run_cmd import HARDWARE_HELP, WEIGHTS_HELP


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="train hybrids from each (metric, policy) at the same energy budgets")
    p.add_argument("--config", help="YAML/JSON file of config keys (experiment keys plus combos, budgets, seeds, ...)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one config key")
    p.add_argument("--out", help="results folder (default: compare_results)")
    p.add_argument("--resume", action="store_true", help="continue the comparison in --out")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"))
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--hardware", metavar="FILE_OR_NAME", help=HARDWARE_HELP + " (the energy budgets too)")
    p.add_argument("--weights", metavar="FILE", help=WEIGHTS_HELP)
    add_executor_arguments(p)
    p.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..pipeline.compare import CompareConfig, compare
    from ..pipeline.config import load_config_file, parse_set
    from ..pipeline.config_checks import check_out_dir

    if args.out is not None:
        check_out_dir(args.out, "--out")
    if args.resume and not (args.config or args.set):
        if not args.out:
            raise InputError("--resume needs --out DIR (the folder of the comparison to continue)")
        if not (Path(args.out) / "config.json").is_file():
            raise InputError(f"nothing to resume in {args.out!r}: it holds no config.json")
        config = load_config_file(Path(args.out) / "config.json", cls=CompareConfig)
    else:
        config = CompareConfig()
        if args.config:
            config = load_config_file(args.config, config, cls=CompareConfig)
        config = parse_set(args.set, config)
    overrides = {k: v for k, v in (("out_dir", args.out), ("device", args.device), ("hardware", args.hardware),
                                                     ("weights", args.weights))
                 if v is not None}
    config = dataclasses.replace(config, **overrides) if overrides else config
    with executor_from_args(args) as executor:
        report = compare(config, resume=args.resume, progress=not args.quiet and sys.stderr.isatty(),
                         log=lambda msg: print(msg, file=sys.stderr, flush=True), executor=executor)
    print((Path(report["config"]["out_dir"]) / "compare.md").read_text())
    return 0
