import csv
import json
import math
import subprocess
import sys
from importlib import resources

import jsonschema
import pytest

from quanos_hw.allocation import quanos_bits
from quanos_hw.cli import main
from quanos_hw.cli.run_cmd import summary
from quanos_hw.errors import ConfigError, InputError
from quanos_hw.pipeline import run
from quanos_hw.pipeline.config import RunConfig, parse_set
from quanos_hw.pipeline.run import iso_size_bits, qat_shares
from quanos_hw.robustness import accuracy_columns, reference_accuracy
from tests.conftest import FAST

SCHEMA = json.loads(resources.files("quanos_hw").joinpath("schemas", "report.schema.json").read_text())


def _table(md: str, header_start: str) -> list[dict[str, str]]:
    """The markdown table whose header row starts with ``header_start``, as dicts by column."""
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    head = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(head, (c.strip() for c in line.strip("|").split("|")))))
    return rows

FILES = ["report.json", "report.md", "bits.json", "layers.csv", "ans_bits.png", "pareto.png", "energy_breakdown.png"]


def test_writes_every_file_and_valid_pngs(fast_run):
    for name in FILES:
        assert (fast_run.out_dir / name).is_file(), name
    for name in FILES[-3:]:
        data = (fast_run.out_dir / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert sorted(p.rsplit("/", 1)[-1] for p in fast_run.files) == sorted(FILES)
    assert not list(fast_run.out_dir.glob(".*.tmp"))


def test_report_validates_against_the_shipped_schema(fast_run):
    schema = SCHEMA
    report = json.loads((fast_run.out_dir / "report.json").read_text())
    assert report == fast_run.report
    jsonschema.validate(report, schema)
    assert set(report["models"]) >= {"quanos", "float32", "uniform16", "uniform8", "uniform4"}
    broken = dict(report)
    del broken["bits"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_bits_follow_the_quanos_rule_of_the_reported_ans(fast_run):
    report = fast_run.report
    bits = json.loads((fast_run.out_dir / "bits.json").read_text())
    ans = report["quanos"]["iterations"][-1]["ans"]
    assert list(bits) == [layer["name"] for layer in report["layers"]]
    for name, value in ans.items():
        k = max(2, min(16, 16 - math.floor(16 * value + 0.5)))
        assert bits[name] == {"weight_bit_width": k, "act_bit_width": k} == report["bits"][name]
        assert quanos_bits(value) == k


def test_models_carry_metrics_energy_and_consistent_baselines(fast_run):
    models = fast_run.report["models"]
    archs = fast_run.report["config"]["mac_architectures"]
    assert models["float32"]["energy"] is None
    for name in ("uniform16", "uniform8", "uniform4", "quanos"):
        assert set(models[name]["energy"]) == set(archs)
    u16, u8 = models["uniform16"]["energy"], models["uniform8"]["energy"]
    for arch in archs:
        assert u16[arch]["saving_vs_uniform16"] == pytest.approx(1.0)
        assert u8[arch]["saving_vs_uniform8"] == pytest.approx(1.0)
    weights = sum(layer["weights"] for layer in fast_run.report["layers"])
    extra = sum(layer["params"] for layer in fast_run.report["layers"]) - weights  # bias + BN at 32 bits
    assert models["uniform8"]["compression_vs_uniform16"] == pytest.approx((16 * weights + 32 * extra)
                                                                           / (8 * weights + 32 * extra))
    assert models["uniform8"]["size_bits"] == 8 * weights + 32 * extra
    iso = fast_run.report["iso_size_bits"]
    per_layer = [layer["weights"] for layer in fast_run.report["layers"]]
    hybrid = [layer["weight_bit_width"] for layer in fast_run.report["layers"]]
    assert iso == iso_size_bits(per_layer, hybrid) and f"uniform{iso}" in models


def test_models_are_described_by_kind_and_bit_width(fast_run):
    models = fast_run.report["models"]
    widths = {n: m["bit_width"] for n, m in models.items() if m["kind"] == "uniform"}
    assert widths == {f"uniform{b}": b for b in (16, 8, 4, fast_run.report["iso_size_bits"])}
    for name, b in widths.items():
        assert {(v["weight_bit_width"], v["act_bit_width"]) for v in models[name]["bits"].values()} == {(b, b)}
    assert (models["quanos"]["kind"], models["quanos"]["bit_width"]) == ("hybrid", None)
    assert models["quanos"]["bits"] == fast_run.report["bits"]
    assert [models["float32"][k] for k in ("kind", "bit_width", "bits")] == ["float", None, None]


def test_every_model_is_evaluated_under_every_configured_attack(fast_run):
    report = fast_run.report
    assert [a["name"] for a in report["config"]["attacks"]] == ["fgsm", "pgd"]
    failed = []
    for name, m in report["models"].items():
        rob = m["robustness"]
        assert {a: (r["iterative"], list(r["white_box"]), list(r["black_box"])) for a, r in rob["attacks"].items()} == {
            "fgsm": (False, ["0.05", "0.1", "0.2"], ["0.05", "0.1", "0.2"]), "pgd": (True, ["0.1"], ["0.1"])}
        assert rob["attacks"]["pgd"]["params"] == {"name": "pgd", "eps": [0.1], "alpha": 0.025, "steps": 3,
                                                   "random_start": True, "seed": None}
        assert rob["reference"] == {"attack": "pgd", "eps": "0.1"}
        assert rob["large_eps"] == {"attack": "pgd", "eps": 0.5, "steps": 3, "samples": 60,
                                    "accuracy": rob["large_eps"]["accuracy"]}
        assert [c["name"] for c in rob["checks"]] == ["iterative_not_weaker_than_single_step", "large_eps_near_chance",
                                                      "blackbox_not_stronger_than_whitebox", "accuracy_monotone_in_eps",
                                                      "whitebox_not_beaten_by_gradient_free_or_transfer"]
        worst = rob["worst_case"]
        twin = [("apgd_ce", "float_twin")] if m["kind"] != "float" else []  # only a quantized model has a twin
        assert [(c["attack"], c["via"]) for c in worst["components"]] == [
            ("fgsm", "straight_through"), ("pgd", "straight_through"), ("fgsm", "transfer"), ("pgd", "transfer"),
            ("apgd_ce", "straight_through"), *twin, ("square", "scores")]
        assert (worst["suite"], worst["eps"], worst["samples"]) == ("quick", "0.1", 40)
        assert worst["accuracy"] <= worst["white_box"] <= worst["clean"]
        assert worst["masking_warning"] == (not rob["checks"][4]["passed"])
        assert rob["all_checks_passed"] == all(c["passed"] for c in rob["checks"])
        failed += [f"{name}: {c['name']}" for c in rob["checks"] if not c["passed"]]
        fgsm = rob["attacks"]["fgsm"]["white_box"]
        monotone = fgsm["0.05"] + 0.01 >= fgsm["0.1"] and fgsm["0.1"] + 0.01 >= fgsm["0.2"]
        assert rob["checks"][3]["passed"] == monotone
        assert rob["checks"][0]["passed"] == (rob["attacks"]["pgd"]["white_box"]["0.1"] <= fgsm["0.1"] + 0.01)
    assert report["sanity"] == {"all_passed": not failed, "failed": failed}


def test_layers_csv_holds_the_report_values(fast_run):
    report = fast_run.report
    rows = list(csv.DictReader((fast_run.out_dir / "layers.csv").open()))
    assert [r["name"] for r in rows] == [layer["name"] for layer in report["layers"]]
    for i, (row, layer) in enumerate(zip(rows, report["layers"])):
        assert float(row["ans"]) == pytest.approx(layer["ans"], abs=5e-7)
        assert int(row["weight_bit_width"]) == layer["weight_bit_width"] and int(row["macs"]) == layer["macs"]
        for arch in report["config"]["mac_architectures"]:
            for model in ("quanos", "uniform16"):
                expected = report["models"][model]["energy"][arch]["layers"][i]["energy_pj"]
                assert float(row[f"{model}_energy_pj_{arch}"]) == pytest.approx(expected, rel=1e-5)


def test_markdown_tables_hold_the_report_values(fast_run):
    report = fast_run.report
    md = (fast_run.out_dir / "report.md").read_text()
    assert f"`quanos run --config {report['config']['out_dir']}/config.json --out NEW_DIR`" in md
    summary_rows = _table(md, "| model | mean w bits |")
    iso = report["iso_size_bits"]
    assert [r["model"] for r in summary_rows] == ["float32"] + [
        f"uniform{b}" + (" (iso-size)" if b == iso else "") for b in sorted({16, 8, 4, iso}, reverse=True)] + ["quanos"]
    columns = accuracy_columns(report["models"]["quanos"]["robustness"])
    assert list(columns) == ["clean", "fgsm 0.05", "fgsm 0.1", "fgsm 0.2", "pgd 0.1", "black-box pgd 0.1",
                             "worst-case 0.1"]
    for row in summary_rows:
        m = report["models"][row["model"].replace(" (iso-size)", "")]
        for label, value in accuracy_columns(m["robustness"]).items():
            assert row[f"{label} %"] == f"{100 * value:.1f}"
        if m["energy"] is not None:
            e = m["energy"]["data_gated"]
            assert row["E data_gated µJ (×u16/×u8)"] == (f"{e['energy_pj'] / 1e6:.3g} ({e['saving_vs_uniform16']:.2f}×/"
                                                         f"{e['saving_vs_uniform8']:.2f}×)")
    checks = _table(md, "| model | iterative_not_weaker")
    for row in checks:
        for c in report["models"][row["model"]]["robustness"]["checks"]:
            assert row[c["name"]] == ("pass" if c["passed"] else f"**FAIL**: {c['detail']}")
    q, u8 = report["models"]["quanos"], report["models"]["uniform8"]
    delta = 100 * (reference_accuracy(q["robustness"]) - reference_accuracy(u8["robustness"]))
    assert f"pgd 0.1 accuracy: {delta:+.1f} points" in md
    worst_delta = 100 * (q["robustness"]["worst_case"]["accuracy"] - u8["robustness"]["worst_case"]["accuracy"])
    assert f"- worst-case robust accuracy: {worst_delta:+.1f} points (every attack at eps 0.1, first 40 images)" in md
    worst_rows = _table(md, "| model | clean | fgsm |")
    assert [r["model"] for r in worst_rows] == [r["model"].replace(" (iso-size)", "") for r in summary_rows]
    for row in worst_rows:
        w = report["models"][row["model"]]["robustness"]["worst_case"]
        assert row["**worst case**"] == f"**{100 * w['accuracy']:.1f}**" and row["clean"] == f"{100 * w['clean']:.1f}"
        twin = "–" if row["model"] == "float32" else f"{100 * w['components'][5]['accuracy']:.1f}"
        assert row["apgd_ce float twin"] == twin
        assert row["square"] == "n/a" and row["masking warning"] == ("**YES**" if w["masking_warning"] else "no")
    layers = _table(md, "| layer | kind |")
    assert [(r["layer"], r["ANS"], r["bits (w/a)"]) for r in layers] == [
        (lyr["name"], f"{lyr['ans']:.3f}", f"{lyr['weight_bit_width']}/{lyr['act_bit_width']}")
        for lyr in report["layers"]]


def test_cli_summary_shows_the_report_values(fast_run):
    text = summary(fast_run)
    assert text.startswith("headline attack: pgd 0.1 (BB: black-box, from the surrogate)")
    for name, m in fast_run.report["models"].items():
        rob = m["robustness"]
        line = next(row for row in text.splitlines() if row.startswith(f"{name} "))
        cells = line.split()
        worst = rob["worst_case"]
        assert cells[2:6] == [f"{100 * rob['clean']:.1f}%", f"{100 * reference_accuracy(rob):.1f}%",
                              f"{100 * reference_accuracy(rob, black_box=True):.1f}%",
                              f"{100 * worst['accuracy']:.1f}" + ("!" if worst["masking_warning"] else "%")]
    assert text.splitlines()[1].startswith("worst: worst case over fgsm, pgd, fgsm transfer, pgd transfer, apgd_ce, "
                                           "apgd_ce float twin, square at eps 0.1 on the first 40 test images")


def test_bits_json_feeds_quanos_estimate(fast_run, capsys):
    from quanos_hw.cli import main

    capsys.readouterr()
    code = main(["estimate", "--model", "small_cnn", "--input-shape", "1,12,12", "--bit-config",
                 str(fast_run.out_dir / "bits.json"), "--mac", "bitfusion", "--json"])
    assert code == 0
    estimate = json.loads(capsys.readouterr().out)
    expected = fast_run.report["models"]["quanos"]["energy"]["bitfusion"]
    assert estimate["totals"]["energy_pj"] == pytest.approx(expected["energy_pj"], rel=1e-12)
    assert estimate["totals"]["size_bits"] == fast_run.report["models"]["quanos"]["size_bits"]


def test_a_run_with_the_new_attack_reports_it_everywhere(tmp_path):
    """fgsm_rs needs no change outside its file and registration: config, run, report, schema, markdown."""
    settings = ["dataset=synthetic", "synthetic_train=100", "synthetic_test=60", "warmup_epochs=1", "qat_epochs=1",
                "attacks=[{name: fgsm_rs, eps: [0.05, 0.2], seed: 3}, {name: pgd, eps: [0.1], steps: 2}]",
                "large_eps_steps=2", "large_eps_samples=30", "ans_batches=1", "batch_size=50", "float_baseline=false",
                "uniform_bits=[16, 8]", "iso_size=false", "mac_architectures=[data_gated]", "robustness=quick",
                f"out_dir={tmp_path}/run"]
    result = run(parse_set(settings, RunConfig()), progress=False, log=lambda m: None)
    report = json.loads((result.out_dir / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    assert report["config"]["attacks"][0] == {"name": "fgsm_rs", "eps": [0.05, 0.2], "alpha": None, "seed": 3}
    for m in report["models"].values():
        rs = m["robustness"]["attacks"]["fgsm_rs"]
        assert not rs["iterative"] and list(rs["white_box"]) == ["0.05", "0.1", "0.2"]  # + pgd's eps, for the check
        assert m["robustness"]["checks"][0]["name"] == "iterative_not_weaker_than_single_step"
    md = (result.out_dir / "report.md").read_text()
    row = next(r for r in _table(md, "| model | mean w bits |") if r["model"] == "quanos")
    accuracy = report["models"]["quanos"]["robustness"]["attacks"]["fgsm_rs"]["white_box"]["0.2"]
    assert row["fgsm_rs 0.2 %"] == f"{100 * accuracy:.1f}"
    assert "fgsm_rs (single step; seed 3)" in md


def test_resume_of_a_finished_run_reproduces_the_report(fast_run):
    config = parse_set(FAST + [f"out_dir={fast_run.out_dir}"], RunConfig())
    again = run(config, resume=True, progress=False, log=lambda m: None)
    strip = lambda r: {k: v for k, v in r.items() if k != "timing_s"}  # noqa: E731
    assert strip(again.report) == strip(fast_run.report)


def test_resume_with_another_config_is_refused(fast_run):
    config = parse_set(FAST + [f"out_dir={fast_run.out_dir}", "seed=5"], RunConfig())
    with pytest.raises(ConfigError, match=r"different configuration \(seed: 0 -> 5"):
        run(config, resume=True, progress=False, log=lambda m: None)


def test_a_second_run_into_the_same_folder_is_refused(fast_run):
    config = parse_set(FAST + [f"out_dir={fast_run.out_dir}"], RunConfig())
    with pytest.raises(InputError, match="already holds a run"):
        run(config, progress=False, log=lambda m: None)


def test_qat_split_and_iso_size():
    assert qat_shares(5, 2) == [3, 2] and qat_shares(4, 4) == [1, 1, 1, 1]
    assert iso_size_bits([10, 30], [16, 4]) == 7  # storage 280 -> 7 bits x 40 weights
    assert iso_size_bits([1, 1], [5, 6]) == 6  # tie between 5 and 6: the larger width


@pytest.mark.parametrize("args, message", [
    (["--set", "epochs=3"], "unknown config key(s) ['epochs']"),
    (["--set", "lr=fast"], "config key 'lr' must be float"),
    (["--config", "/nonexistent/run.yaml"], "does not exist"),
    (["--preset", "huge"], "unknown preset"),
    (["--resume"], "--resume needs --out"),
    (["--set", "attacks=[{name: cw, eps: [0.1]}]"],
     "unknown attack 'cw'; choose one of: apgd_ce, apgd_dlr, fgsm, fgsm_rs, pgd, square"),
    (["--set", "attacks=[{name: pgd, eps: [0.1], step: 3}]"], "attack 'pgd' has no parameter(s) ['step']"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    """In process (the console script in a real process: test_cli_unwritable_output_dir)."""
    out = tmp_path / "out"
    code = main(["run", *args] + ([] if "--resume" in args else ["--out", str(out)]))
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not out.exists()


def test_cli_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = subprocess.run([sys.executable, "-m", "quanos_hw.cli", "run", "--set", "dataset=synthetic", "--out",
                           str(blocker / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("quanos: error: cannot write to output directory") and proc.stderr.count("\n") == 1
    assert blocker.read_text() == "not a directory"
