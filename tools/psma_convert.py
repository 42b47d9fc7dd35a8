"""Transcribe the measured MAC-array energies and areas of PSMA-benchmark into
``energy_models/data/psma28.json``.

Source: E. M. Ibrahim, L. Mei, M. Verhelst, "Taxonomy and Benchmarking of Precision-Scalable MAC
Arrays under Enhanced DNN Dataflow Representation", IEEE TCAS-I 69(5), 2022 (arXiv:2108.04773),
whose measurements (28 nm, post-synthesis power simulation of 256-multiplier arrays at 1 GHz and
200 MHz) the authors publish in https://github.com/KULeuven-MICAS/PSMA-benchmark. This script reads
a local checkout of that repository and applies the repository's own conversion
(``auto_framework/plotting_functions.py``, ``energy_extract``):

    energy per operation (fJ) = clock period (ns) * power (mW) * 1e3 / operations per cycle

The power files hold mW: Genus reports nW and ``get_extracted_dataframes`` in
``auto_framework/config.py`` divides by 1e6 before writing ``power.csv`` (the comment in
``energy_extract`` names the unit of the raw Genus report; ns * mW = pJ, * 1e3 = fJ). One
operation is one multiplication or one addition, so one MAC is two operations. Areas are um^2
(the plotting notebook divides them by 1e6 to plot mm^2). Mode ``AxW`` is activation bits x weight
bits (``rtl/top_L4_mac.sv``: prec[3:2] activation, prec[1:0] weight).

    git clone https://github.com/KULeuven-MICAS/PSMA-benchmark <checkout>
    python tools/psma_convert.py <checkout>         # writes energy_models/data/psma28.json

Nothing of the checkout is copied except the numbers, each with its file, line and commit.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = "KULeuven-MICAS/PSMA-benchmark"
OUT = Path(__file__).resolve().parent.parent / "energy_models" / "data" / "psma28.json"

#: our key -> (PSMA unrolling folder, PSMA design name, description)
DESIGNS = {
    "bitfusion": ("FU", "BITFUSION", "BitFusion (Sharma et al., ISCA 2018) in the PSMA template: 2-bit multipliers "
                  "fused inside each 8x8 L2 unit (bit groups unrolled at L2), products summed together"),
    "bitblade": ("FU", "BITBLADE", "BitBlade (Ryu et al., DAC 2019) in the PSMA template: bit groups unrolled at "
                 "L3, summed together"),
    "loom": ("FU", "LOOM", "Loom (Sharify et al., DAC 2018) in the PSMA template: 2-bit groups of both operands "
             "processed over time (bit-serial), 8x8 taking 16 cycles per 2-bit multiplier"),
    "swu_sum_apart": ("SWU", "BG_L2_L4_00_L3_11_L2_00_DVAFS_1", "subword-parallel (DVAFS-like, Moons et al., "
                      "DATE 2017): low precision uses only the diagonal 2-bit multipliers of each 8x8 L2 unit, "
                      "whose products leave the unit separately (L2: no sharing); symmetric modes only"),
    "swu_sum_together": ("SWU", "BG_L2_L4_00_L3_11_L2_11_DVAFS_1", "subword-parallel with the subword products "
                         "of each L2 unit summed together (L2: output sharing); symmetric modes only"),
}
#: clock-period folder (ns) -> MHz (auto_framework/auto_framework.py: CLK_LIST = [1.00, 5.00], periods in ns)
CLOCKS = {"1.00": 1000, "5.00": 200}
SHARING = {"00": "IS", "10": "HS", "11": "OS"}
BIT_GROUPS = {"00": "L2", "01": "L3", "11": "BS"}
FORMULA = re.compile(r'df\.loc\["(\dx\d)"\] = df\.loc\["\1"\]\.mul\(clock \* \(10 \*\* 3\) / (\d+)\)\.values')


def fail(message: str) -> None:
    sys.exit(f"psma_convert: {message}")


def ops_per_cycle(root: Path, cite) -> dict[str, dict[str, tuple[int, str]]]:
    """Operations per cycle by unrolling (FU/SWU) and mode, read from ``energy_extract``."""
    path = "auto_framework/plotting_functions.py"
    lines = (root / path).read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("def energy_extract(")), None)
    if start is None:
        fail(f"{path} has no energy_extract")
    out: dict[str, dict[str, tuple[int, str]]] = {"FU": {}, "SWU": {}}
    branch = ("FU", "SWU")
    for number, line in enumerate(lines[start + 1:], start + 2):
        if line.startswith("def "):
            break
        if line.strip() == "if not DVAFS:":
            branch = ("FU",)
        elif line.strip() == "else:" and branch == ("FU",):
            branch = ("SWU",)
        match = FORMULA.search(line)
        if match:
            for unrolling in branch:
                out[unrolling][match.group(1)] = (int(match.group(2)), cite(path, number, "clock * (10 ** 3) / "
                                                                              f"{match.group(2)}"))
    if set(out["FU"]) != {"8x8", "8x4", "8x2", "4x4", "2x2"} or set(out["SWU"]) != {"8x8", "4x4", "2x2"}:
        fail(f"unexpected energy_extract formulas in {path}: {out}")
    return out


def read_rows(root: Path, path: str, key_columns: int) -> dict[tuple[str, ...], tuple[int, dict[str, str]]]:
    """Rows of a breakdown CSV keyed by their first ``key_columns`` cells -> (line number, cells)."""
    with open(root / path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    return {tuple(row[:key_columns]): (number, dict(zip(header, row)))
            for number, row in enumerate(rows[1:], 2) if row}


def design_parameters(root: Path, name: str, cite) -> tuple[dict[str, str], str]:
    path = "auto_framework/design_cfg.py"
    text = (root / path).read_text()
    table = next(ast.literal_eval(node.value) for node in ast.parse(text).body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DESIGN_CFG")
    number = next(i for i, line in enumerate(text.splitlines(), 1) if line.strip().startswith(f'"{name}":'))
    return table[name], cite(path, number, f"DESIGN_CFG[{name!r}]")


def taxonomy(params: dict[str, str]) -> str:
    """Human-readable coordinates (rtl/README.md, Parameters; SWU L2 '00' is 'no sharing')."""
    swu = params["DVAFS"] == "1"
    l2 = params["L2_MODE"][:2]
    return (f"{'SWU' if swu else 'FU'}, BG: {BIT_GROUPS[params['BG']]}, L4: {SHARING[params['L4_MODE']]}, "
            f"L3: {SHARING[params['L3_MODE']]}, L2: {'NO' if swu and l2 == '00' else SHARING[l2]}")


def convert(root: Path, commit: str) -> dict:
    def cite(path: str, line: int, what: str) -> str:
        return f"{REPO}@{commit}:{path} line {line} ({what})"

    ops = ops_per_cycle(root, cite)
    designs = {}
    for key, (unrolling, name, description) in DESIGNS.items():
        params, params_source = design_parameters(root, name, cite)
        clocks = {}
        for folder, mhz in CLOCKS.items():
            power_path = f"results/breakdown/{folder}/{unrolling}/power.csv"
            area_path = f"results/breakdown/{folder}/{unrolling}/area.csv"
            power = read_rows(root, power_path, 2)
            area_line, area_row = read_rows(root, area_path, 1)[(name,)]
            modes = {}
            for mode, (ops_value, ops_source) in ops[unrolling].items():
                line, row = power[(mode, name)]
                power_mw = float(row["top"])
                act, weight = (int(b) for b in mode.split("x"))
                modes[mode] = {
                    "act_bits": act, "weight_bits": weight,
                    "power_mw": {"value": power_mw, "source": cite(power_path, line, f"row {mode},{name}; column top")},
                    "ops_per_cycle": {"value": ops_value, "source": ops_source},
                    "energy_fj_per_op": round(float(folder) * power_mw * 1e3 / ops_value, 9),
                }
            clocks[str(mhz)] = {
                "clock_period_ns": float(folder),
                "area_um2": {"value": int(area_row["top"]), "source": cite(area_path, area_line, f"row {name}; "
                                                                                                 "column top")},
                "modes": modes,
            }
        designs[key] = {"psma_name": name, "taxonomy": taxonomy(params), "description": description,
                        "psma_parameters": params, "psma_parameters_source": params_source, "clocks": clocks}
    return {
        "name": "psma28",
        "reference": "E. M. Ibrahim, L. Mei, M. Verhelst, \"Taxonomy and Benchmarking of Precision-Scalable MAC "
                     "Arrays under Enhanced DNN Dataflow Representation\", IEEE Transactions on Circuits and Systems "
                     "I, 69(5):2013-2024, 2022 (arXiv:2108.04773); measurements from "
                     f"https://github.com/{REPO} at commit {commit}",
        "description": ("Measured (post-synthesis, 28 nm) energy and area of precision-scalable MAC arrays, written"
                        " by tools/psma_convert.py. Each array has 256 8x8 L2 units (one L4 unit of 4x4 L3 units of"
                        " 4x4 L2 units; an L2 unit is 16 2-bit multipliers). power_mw is the whole array's power "
                        "(column 'top': input registers included) in mW: Genus reports nW and "
                        "auto_framework/config.py divides by 1e6 before writing power.csv. energy_fj_per_op = "
                        "clock_period_ns * power_mw * 1e3 / ops_per_cycle, the repository's own conversion "
                        "(auto_framework/plotting_functions.py, energy_extract); the paper's heatmaps "
                        "(results/breakdown/<period>/heatmap_total.pdf) show these values, e.g. 561 fJ/op for "
                        "BitFusion at 8x8 and 1 GHz. One operation is one multiplication or one addition, so one "
                        "MAC is ops_per_mac = 2 operations. Mode 'AxW' is activation bits x weight bits. area_um2 "
                        "is the whole array's cell area in um^2 (column 'top'). SWU designs support symmetric modes"
                        " only (8x8, 4x4, 2x2)."),
        "node_nm": 28,
        "ops_per_mac": {"value": 2, "source": cite("auto_framework/plotting_functions.py", 402,
                                                   "'Operation is defined as 1 multiplication or 1 addition'")},
        "array_macs_8x8": {"value": 256, "source": cite("auto_framework/plotting_functions.py", 403,
                                                        "'At 8x8-bits precision, 256 multiplications and 256 "
                                                        "additions are performed'")},
        "operand_order": {"value": "act x weight", "source": cite("rtl/top_L4_mac.sv", 58,
                                                                  "'prec[3:2]: Activation precision, prec[1:0]: "
                                                                  "Weight precision'")},
        "designs": designs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkout", type=Path, help="a local checkout of KULeuven-MICAS/PSMA-benchmark")
    parser.add_argument("--commit", help="its commit (default: git rev-parse HEAD in the checkout)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    commit = args.commit
    if commit is None:
        done = subprocess.run(["git", "-C", str(args.checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
        if done.returncode != 0:
            fail(f"{args.checkout} is not a git checkout; pass --commit")
        commit = done.stdout.strip()
    data = convert(args.checkout, commit)
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {args.out} ({len(data['designs'])} designs)")


if __name__ == "__main__":
    main()
