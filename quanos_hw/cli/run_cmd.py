"""``quanos run``: the QUANOS experiment with its baselines, report and plots."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .executor_args import add_executor_arguments, executor_from_args

#: --weights of run and compare: config key ``weights``
WEIGHTS_HELP = ("state_dict file loaded into the model before training (config key weights): torch.save(model."
                "state_dict()) of the float network, read with weights_only=True")
#: --hardware of run and compare: config key ``hardware``
HARDWARE_HELP = ("accelerator description (config key hardware): a shipped name (see 'quanos list accelerators') or "
                 "a YAML/JSON file; energy, latency and area are estimated on it")


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run the QUANOS experiment (default: mnist5k, small_cnn, a few minutes)")
    p.add_argument("--config", help="YAML/JSON file of config keys (see --help-config)")
    p.add_argument("--preset", default=None, help="start from a preset: default or paper")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one config key")
    p.add_argument("--out", help="results folder (default: config key out_dir)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out, skipping finished phases")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="compute device (default: auto)")
    p.add_argument("--hardware", metavar="FILE_OR_NAME", help=HARDWARE_HELP)
    p.add_argument("--weights", metavar="FILE", help=WEIGHTS_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--help-config", action="store_true", help="list every config key with its default and exit")
    add_executor_arguments(p)
    p.set_defaults(func=run_command)


def help_config() -> str:
    from ..pipeline.config import RunConfig
    from ..pipeline.config_checks import hints, type_name

    lines = ["config keys (YAML/JSON file or --set KEY=VALUE); null means the dataset's default:"]
    for f in dataclasses.fields(RunConfig):
        tp = type_name(hints(RunConfig)[f.name])
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        lines.append(f"  {f.name:<20} {tp:<28} default {default!r}")
    return "\n".join(lines)


def resolve_config(args: argparse.Namespace):
    from ..pipeline.config import load_config_file, load_preset, parse_set
    from ..pipeline.config_checks import check_out_dir

    if args.out is not None:
        check_out_dir(args.out, "--out")
    explicit = args.config or args.preset or args.set
    if args.resume and not explicit:
        if not args.out:
            from ..errors import InputError

            raise InputError("--resume needs --out DIR (the folder of the run to continue)")
        if not (Path(args.out) / "config.json").is_file():
            from ..errors import InputError

            raise InputError(f"nothing to resume in {args.out!r}: it holds no config.json")
        config = load_config_file(Path(args.out) / "config.json")
    else:
        config = load_preset(args.preset or "default")
        if args.config:
            config = load_config_file(args.config, config)
        config = parse_set(args.set, config)
    overrides = {}
    if args.out is not None:
        overrides["out_dir"] = args.out
    if args.device:
        overrides["device"] = args.device
    if args.hardware is not None:
        overrides["hardware"] = args.hardware
    if args.weights is not None:
        overrides["weights"] = args.weights
    return dataclasses.replace(config, **overrides) if overrides else config


def summary(result) -> str:
    from ..robustness import reference_accuracy, reference_label, worst_case_line

    r = result.report
    models = r["models"]
    arch = "data_gated" if "data_gated" in r["config"]["mac_architectures"] else r["config"]["mac_architectures"][0]
    attack = reference_label(models["quanos"]["robustness"])
    lines = [f"headline attack: {attack} (BB: black-box, from the surrogate)", f"worst: {worst_case_line(r)}", "",
             f"{'model':<12}{'bits':>6}{'clean':>8}{'attack':>8}{'BB':>8}{'worst':>8}{'E ' + arch + ' (uJ)':>22}"
             f"{'x vs u16':>10}{'x vs u8':>9}{'size x fp32':>13}"]
    for name, m in models.items():
        rob = m["robustness"]
        e = m["energy"][arch] if m["energy"] else None
        bits = "fp32" if m["mean_weight_bits"] is None else f"{m['mean_weight_bits']:.2f}"
        energy = (f"{e['energy_pj'] / 1e6:>22.3f}{e['saving_vs_uniform16']:>10.2f}{e['saving_vs_uniform8']:>9.2f}"
                  if e else f"{'n/a':>22}{'':>10}{'':>9}")
        worst = rob.get("worst_case")
        worst = f"{'n/a':>8}" if worst is None else f"{100 * worst['accuracy']:>7.1f}" + (
            "!" if worst["masking_warning"] else "%")
        lines.append(f"{name:<12}{bits:>6}{100 * rob['clean']:>7.1f}%{100 * reference_accuracy(rob):>7.1f}%"
                     f"{100 * reference_accuracy(rob, black_box=True):>7.1f}%{worst}{energy}"
                     f"{m['compression_vs_fp32']:>13.2f}")
    bits = " ".join(str(v["weight_bit_width"]) for v in r["bits"].values())
    q = r["quanos"]
    metric = f"ANS eps {q['ans_eps']:.4g}" if q["metric"] == "ans" else f"metric {q['metric']}"
    lines += ["", f"QUANOS bits per layer: {bits}  ({metric}, seed {r['seed']})",
              "sanity checks: " + ("all passed" if r["sanity"]["all_passed"] else "FAILED: " + "; ".join(
                  r["sanity"]["failed"])), "", "files written:"]
    lines += [f"  {f}" for f in result.files]
    return "\n".join(lines)


def run_command(args: argparse.Namespace) -> int:
    if args.help_config:
        print(help_config())
        return 0
    from ..pipeline import run

    config = resolve_config(args)
    with executor_from_args(args) as executor:
        result = run(config, resume=args.resume, progress=not args.quiet and sys.stderr.isatty(),
                     log=lambda msg: print(msg, file=sys.stderr, flush=True), executor=executor)
    print(summary(result))
    return 0

