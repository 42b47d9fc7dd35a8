import csv
import json
import math
import subprocess
import sys
from importlib import resources

import jsonschema
import pytest

from quanos_hw.allocation import quanos_bits
from quanos_hw.errors import ConfigError, InputError
from quanos_hw.pipeline import run
from quanos_hw.pipeline.config import RunConfig, parse_set
from quanos_hw.pipeline.run import iso_size_bits, qat_shares
from tests.conftest import FAST

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
    schema = json.loads(resources.files("quanos_hw").joinpath("schemas", "report.schema.json").read_text())
    report = json.loads((fast_run.out_dir / "report.json").read_text())
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


def test_layers_csv_and_markdown(fast_run):
    rows = list(csv.DictReader((fast_run.out_dir / "layers.csv").open()))
    assert [r["name"] for r in rows] == [layer["name"] for layer in fast_run.report["layers"]]
    assert "quanos_energy_pj_bitfusion" in rows[0]
    md = (fast_run.out_dir / "report.md").read_text()
    assert "| quanos |" in md and "## Sanity checks" in md and "config.json" in md


def test_bits_json_feeds_quanos_estimate(fast_run):
    from quanos_hw.cli import main

    code = main(["estimate", "--model", "small_cnn", "--input-shape", "1,12,12", "--bit-config",
                 str(fast_run.out_dir / "bits.json"), "--mac", "bitfusion", "--json"])
    assert code == 0


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
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "quanos_hw.cli", "run", *args] + (
        [] if "--resume" in args else ["--out", str(out)]), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and message in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_cli_unwritable_output_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = subprocess.run([sys.executable, "-m", "quanos_hw.cli", "run", "--set", "dataset=synthetic", "--out",
                           str(blocker / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("quanos: error: cannot write to output directory") and proc.stderr.count("\n") == 1
    assert blocker.read_text() == "not a directory"
