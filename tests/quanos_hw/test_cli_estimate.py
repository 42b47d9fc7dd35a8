import json
import subprocess
import sys

import pytest

from quanos_hw.cli import main


def test_vgg16_cifar10_8bit_contract(capsys):
    assert main(["estimate", "--model", "vgg16", "--dataset", "cifar10", "--bits", "8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report) == ["model", "input_shape", "mac_architecture", "technology", "layers", "totals",
                            "energy_saving_vs_uniform16", "energy_saving_vs_uniform8", "compression_vs_fp32",
                            "compression_vs_uniform16"]
    assert report["totals"]["macs"] == 313_201_664
    assert report["compression_vs_fp32"] == pytest.approx(4.0, rel=0.02)
    assert report["energy_saving_vs_uniform8"] == pytest.approx(1.0)
    assert report["input_shape"] == [3, 32, 32] and report["mac_architecture"] == "data_gated"
    layer = report["layers"][0]
    assert {"name", "kind", "macs", "weights", "weight_bit_width", "act_bit_width", "mac_energy_pj",
            "memory_energy_pj", "energy_pj"} <= set(layer)
    assert set(report["totals"]) >= {"macs", "weights", "params", "size_bits", "mac_energy_pj",
                                     "memory_energy_pj", "energy_pj"}


def test_table_and_csv(capsys, tmp_path):
    assert main(["estimate", "--model", "resnet20", "--input-shape", "3,32,32", "--bits", "4", "--mac",
                 "bitfusion"]) == 0
    table = capsys.readouterr().out
    assert "resnet20 (3, 32, 32) on bitfusion" in table and "40,551,040" in table
    assert main(["estimate", "--model", "small_cnn", "--input-shape", "1,28,28", "--bits", "8", "--csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("name,kind,macs") and len(lines) == 6


def test_bit_config_file(capsys, tmp_path):
    names = ["features.0", "features.1", "features.3", "features.5", "classifier"]
    path = tmp_path / "bits.json"
    path.write_text(json.dumps({n: {"weight_bit_width": 4, "act_bit_width": 4} for n in names}))
    assert main(["estimate", "--model", "small_cnn", "--input-shape", "1,28,28", "--bit-config", str(path),
                 "--json"]) == 0
    four = json.loads(capsys.readouterr().out)
    assert main(["estimate", "--model", "small_cnn", "--input-shape", "1,28,28", "--bits", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"] == four["totals"]


BAD = [
    (["--model", "alexnet", "--input-shape", "3,32,32", "--bits", "8"], "unknown model 'alexnet'"),
    (["--model", "vgg16", "--input-shape", "3,32,32", "--bits", "8", "--mac", "tpu"],
     "unknown MAC architecture 'tpu'"),
    (["--model", "vgg16", "--input-shape", "3,32,32", "--bits", "8", "--tech", "missing.json"],
     "technology file 'missing.json' does not exist"),
    (["--model", "vgg16", "--input-shape", "3,32,32", "--bits", "1"], "--bits must be between 2 and 16"),
    (["--model", "vgg16", "--input-shape", "3,32,32", "--bits", "17"], "--bits must be between 2 and 16"),
    (["--model", "vgg16", "--input-shape", "3,x,32", "--bits", "8"], "--input-shape must be C,H,W integers"),
    (["--model", "vgg16", "--input-shape", "3,32", "--bits", "8"], "three positive integers"),
    (["--model", "vgg16", "--dataset", "imagenet", "--bits", "8"], "unknown dataset 'imagenet'"),
    (["--model", "vgg16", "--input-shape", "3,32,32"], "one of the arguments --bits --bit-config is required"),
    (["--model", "vgg16", "--input-shape", "3,32,32", "--bit-config", "nope.json"], "does not exist"),
    (["--model", "vgg16", "--input-shape", "3,32,32", "--bits", "x"], "invalid int value: 'x'"),
]


@pytest.mark.parametrize("args, message", BAD)
def test_bad_input_is_exit_2_and_one_line(capsys, args, message):
    assert main(["estimate", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("quanos: error: ") and message in err and err.count("\n") == 1


def test_malformed_tech_file(tmp_path, capsys):
    tech = tmp_path / "t.json"
    tech.write_text(json.dumps({"name": "t", "reference": "r", "int_add_pj": {}, "int_mult_pj": {},
                                "memories": {}}))
    assert main(["estimate", "--model", "small_cnn", "--input-shape", "1,28,28", "--bits", "8", "--tech",
                 str(tech)]) == 2
    assert "missing or empty" in capsys.readouterr().err


def test_console_script_runs_in_a_subprocess():
    proc = subprocess.run([sys.executable, "-m", "quanos_hw", "estimate", "--model", "small_cnn", "--input-shape",
                           "1,28,28", "--bits", "9"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "" and "small_cnn" in proc.stdout


def test_architecture_without_data_entry_is_exit_2(capsys, monkeypatch):
    from tests.energy_models.test_architectures import register_throwaway

    register_throwaway(monkeypatch)
    assert main(["estimate", "--model", "small_cnn", "--input-shape", "1,28,28", "--bits", "8", "--mac",
                 "throwaway"]) == 2
    err = capsys.readouterr().err
    assert err == ("quanos: error: MAC architecture 'throwaway' has no entry 'throwaway' in "
                   "energy_models/data/architectures.json: add its parameters there (or pass them as "
                   "architecture parameters)\n")
