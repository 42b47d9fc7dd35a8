"""Sensitivity metrics and allocation policies compared at equal energy (``quanos compare``):
mnist5k, small_cnn, budgets 25/35/50% of uniform 16-bit energy on the data-gated MAC, metrics
ans / hessian_trace / weight_noise / random with the exact ILP, ANS with the QUANOS rule, and the
widest fitting uniform width; seeds 0, 1, 2.

    python benchmarks/iso_energy.py
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil

from common import RESULTS, quiet, write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--executor", default="serial", help="serial (default) or ray: where the trials run")
    parser.add_argument("--trial-resources", default="", metavar="cpu=N,gpu=M", help="each trial's resources")
    args = parser.parse_args()
    quiet()
    from quanos_hw.executor import ExecutorConfig, TrialResources, make_executor
    from quanos_hw.pipeline.compare import CompareConfig, compare

    out = RESULTS / "runs" / "iso_energy"
    config = dataclasses.replace(CompareConfig(), seeds=tuple(args.seeds), out_dir=str(out))
    with make_executor(ExecutorConfig(name=args.executor,
                                      resources=TrialResources.parse(args.trial_resources))) as executor:
        report = compare(config, resume=(out / "config.json").is_file(), progress=False, log=print,
                         executor=executor)
    shutil.copyfile(out / "compare_pareto.png", RESULTS / "compare_pareto.png")
    markdown = (out / "compare.md").read_text().replace(
        f"`quanos compare --config {out}/config.json --out NEW_DIR`", "`python benchmarks/iso_energy.py`")
    write("iso_energy", {"seeds": args.seeds, "summary": report["summary"], "config": report["config"]}, markdown)


if __name__ == "__main__":
    main()
