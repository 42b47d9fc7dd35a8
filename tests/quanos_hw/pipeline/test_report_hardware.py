"""Config key ``hardware`` (``quanos run/compare --hardware``): validated when the config is built,
and every energy entry of the report estimated on the description. Fast: the report is built from
synthetic run outputs (no training); the numbers are checked against ``quanos estimate``'s."""

import dataclasses
import json
from importlib import resources
from types import SimpleNamespace

import jsonschema
import pytest
import yaml

from energy_models.accelerator import load_accelerator
from quanos_hw import create_model, extract_layers
from quanos_hw.cli import main
from quanos_hw.errors import ConfigError
from quanos_hw.pipeline.compare import CompareConfig
from quanos_hw.pipeline.config import RunConfig, load_config_file, parse_set
from quanos_hw.pipeline.markdown import render_markdown
from quanos_hw.pipeline.report import ModelKind, RunOutputs, build_report

SCHEMA = json.loads(resources.files("quanos_hw").joinpath("schemas", "report.schema.json").read_text())
LAYERS = extract_layers(create_model("small_cnn", in_channels=1), (1, 28, 28))
ARCHS = ("data_gated", "bitfusion")
ROBUSTNESS = {"clean": 0.9,
              "attacks": {"fgsm": {"params": {"name": "fgsm", "eps": [0.1]}, "iterative": False,
                                   "white_box": {"0.1": 0.5}, "black_box": {"0.1": 0.6}}},
              "reference": {"attack": "fgsm", "eps": "0.1"},
              "large_eps": {"attack": "fgsm", "eps": 0.5, "steps": 1, "samples": 10, "accuracy": 0.1},
              "checks": [{"name": "large_eps_near_chance", "passed": True, "detail": "ok"}],
              "all_checks_passed": True}


def _bits(*widths):
    return {lyr.name: {"weight_bit_width": b, "act_bit_width": b} for lyr, b in zip(LAYERS, widths)}


def _outputs(config: RunConfig) -> RunOutputs:
    """A finished run's outputs, made up: hybrid bits 8/6/4/4/8, uniform 16 and 8, a float model."""
    hybrid = _bits(8, 6, 4, 4, 8)
    phases = {name: {"quantized": bits is not None, "bits": bits, "test_accuracy": 0.9,
                     "history": [{"epoch": 1, "loss": 0.5, "accuracy": 0.8, "lr": 0.01}]}
              for name, bits in (("quanos", hybrid), ("uniform16", _bits(*[16] * 5)), ("uniform8", _bits(*[8] * 5)),
                                 ("float32", None))}
    kinds = {"quanos": ModelKind("hybrid"), "uniform16": ModelKind("uniform", 16),
             "uniform8": ModelKind("uniform", 8), "float32": ModelKind("float")}
    info = SimpleNamespace(name="mnist5k", input_shape=(1, 28, 28), num_classes=10)
    return RunOutputs(config=config.resolve(), config_hash="0123456789abcdef",
                      data=SimpleNamespace(info=info, train=[0] * 50, test=[0] * 20), layers=LAYERS,
                      iterations=[{"source": "warmup", "metric": "ans", "ans": {n: 0.3 for n in hybrid},
                                   "bits": hybrid, "samples": 50}],
                      kinds=kinds, phases=phases, robustness={name: ROBUSTNESS for name in phases}, iso_bits=None,
                      surrogate={"test_accuracy": 0.9}, timing={})


def _estimate(capsys, arch: str, bits: str, *extra: str) -> dict:
    """``quanos estimate --json`` of small_cnn with a bit configuration file."""
    assert main(["estimate", "--model", "small_cnn", "--input-shape", "1,28,28", "--bit-config", bits, "--mac", arch,
                 "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("cls", [RunConfig, CompareConfig])
def test_hardware_key_validates_when_the_config_is_built(cls):
    assert parse_set(["hardware=default"], cls()).hardware == "default"
    assert cls().hardware is None
    with pytest.raises(ConfigError, match="^config key 'hardware': accelerator description 'none.yaml' does not exist"):
        parse_set(["hardware=none.yaml"], cls())
    with pytest.raises(ConfigError, match="^config key 'technology' cannot be set together with 'hardware'"):
        parse_set(["hardware=default", "technology=horowitz45.json"], cls())


def test_hardware_round_trips_and_enters_the_hash_only_when_set(tmp_path):
    plain, timed = RunConfig(), parse_set(["hardware=default"], RunConfig())
    assert plain.hash() != timed.hash()
    # unset, the key stays out of the hash: results folders made before it existed still resume
    assert plain.hash() == dataclasses.replace(plain, hardware=None).hash()
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"config_hash": timed.hash(), "config": timed.to_dict()}))
    assert load_config_file(path) == timed


def test_a_bad_description_in_a_config_file_names_the_key(tmp_path):
    bad = tmp_path / "acc.yaml"
    raw = load_accelerator("default").to_dict()
    raw["clock_mhz"] = 0
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"^config key 'hardware': accelerator '.*acc\.yaml'\.clock_mhz must be > 0"):
        parse_set([f"hardware={bad}"], RunConfig())


def test_report_on_a_description_carries_latency_and_matches_quanos_estimate(tmp_path, capsys):
    config = parse_set(["hardware=default", f"mac_architectures=[{', '.join(ARCHS)}]"], RunConfig())
    report = build_report(_outputs(config))
    jsonschema.validate(report, SCHEMA)
    assert report["hardware"] == load_accelerator("default").to_dict()
    bits = tmp_path / "bits.json"
    bits.write_text(json.dumps(report["models"]["quanos"]["bits"]))
    for arch in ARCHS:
        e = report["models"]["quanos"]["energy"][arch]
        est = _estimate(capsys, arch, str(bits), "--hardware", "default")
        assert {k: e[k] for k in ("energy_pj", "latency_s", "throughput_per_s", "edp_j_s", "utilization")} == {
            k: est["totals"][k] for k in ("energy_pj", "latency_s", "throughput_per_s", "edp_j_s", "utilization")}
        assert e["area"] == est["area"] and e["latency_speedup_vs_uniform16"] == est["latency_speedup_vs_uniform16"]
        assert [row["latency_s"] for row in e["layers"]] == [row["latency_s"] for row in est["layers"]]
    # the default description is the original model: energies equal those of a report without it
    plain = build_report(_outputs(dataclasses.replace(config, hardware=None)))
    jsonschema.validate(plain, SCHEMA)
    assert "hardware" not in plain and "latency_s" not in plain["models"]["quanos"]["energy"]["data_gated"]
    for name in ("quanos", "uniform16", "uniform8"):
        for arch in ARCHS:
            assert plain["models"][name]["energy"][arch]["energy_pj"] == \
                report["models"][name]["energy"][arch]["energy_pj"]


def test_schema_requires_every_hardware_total_beside_latency():
    config = parse_set(["hardware=default", "mac_architectures=[data_gated]"], RunConfig())
    report = build_report(_outputs(config))
    del report["models"]["quanos"]["energy"]["data_gated"]["area"]
    with pytest.raises(jsonschema.ValidationError, match="'area' is a dependency of 'latency_s'"):
        jsonschema.validate(report, SCHEMA)


def test_markdown_shows_latency_columns_and_the_accelerator_only_with_hardware():
    config = parse_set(["hardware=default", "mac_architectures=[data_gated]"], RunConfig())
    report = build_report(_outputs(config))
    md = render_markdown(report)
    head = next(line for line in md.splitlines() if line.startswith("| model | mean w bits |"))
    assert head.endswith("| E data_gated µJ (×u16/×u8) | latency data_gated µs | size KiB | × vs fp32 |")
    latency = report["models"]["uniform8"]["energy"]["data_gated"]["latency_s"]
    assert latency == pytest.approx(9_145_216 / 256 / 1e9)  # every MAC at one per PE and cycle, 1 GHz
    assert f"| {latency * 1e6:.4g} |" in md
    assert "Energy and latency: accelerator default (16×16 PEs at 1000 MHz, batch 1, horowitz45 at 45 nm;" in md
    plain = render_markdown(build_report(_outputs(dataclasses.replace(config, hardware=None))))
    assert "latency" not in plain and "Energy: horowitz45 technology, weights_dram_acts_sram dataflow;" in plain


def test_compare_markdown_names_what_the_budgets_were_computed_on():
    from quanos_hw.pipeline.compare import _markdown

    timed = _markdown(parse_set(["hardware=default"], CompareConfig()), [])
    assert "Budgets are fractions of the uniform 16-bit energy on data_gated (accelerator default); bit" in timed
    plain = _markdown(CompareConfig(), [])
    assert "energy on data_gated (horowitz45, weights_dram_acts_sram); bit choices" in plain
