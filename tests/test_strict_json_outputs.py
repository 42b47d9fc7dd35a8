"""Every JSON the tool writes is strict JSON (issue 12 item 6): no NaN, no Infinity, which
Python's json module would otherwise write and other parsers reject. Each output of the fast
pipeline, a bit configuration saved by the API and ``quanos estimate --json`` are parsed back with a
parser that refuses NaN and Infinity."""

from __future__ import annotations

import json

import pytest

from quanos_hw.cli import main


def strict_loads(text: str):
    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_strict_parser_refuses_what_json_dumps_writes_by_default():
    with pytest.raises(ValueError, match="not strict JSON: NaN"):
        strict_loads(json.dumps({"loss": float("nan")}))


def test_every_json_file_of_a_run_is_strict(fast_run):
    files = sorted(fast_run.out_dir.rglob("*.json"))
    names = {p.name for p in files}
    assert {"report.json", "bits.json", "config.json"} <= names, names
    for path in files:
        strict_loads(path.read_text())
    # the written report has the returned report's fields (other tests may resume the shared folder,
    # which rewrites timings, so the values are not compared here)
    assert set(strict_loads((fast_run.out_dir / "report.json").read_text())) == set(fast_run.report)


@pytest.mark.parametrize("mac", ["fixed16", "data_gated", "subword_parallel", "bitfusion", "bit_serial"])
def test_estimate_json_is_strict(mac, capsys):
    code = main(["estimate", "--model", "small_cnn", "--dataset", "mnist5k", "--bits", "4", "--mac", mac, "--json"])
    out = capsys.readouterr().out
    assert code == 0
    report = strict_loads(out)
    assert report["totals"]["energy_pj"] > 0


def test_saved_bit_configs_are_strict_and_refuse_non_finite(tmp_path):
    from quanos_hw.bitconfig import save_bit_config
    from quanos_hw.io import NonFiniteJSONError

    save_bit_config({"conv": {"weight_bit_width": 8, "act_bit_width": 4}}, tmp_path / "b.json")
    assert strict_loads((tmp_path / "b.json").read_text()) == {"conv": {"weight_bit_width": 8, "act_bit_width": 4}}
    with pytest.raises(NonFiniteJSONError, match=r"\$\.conv\.act_bit_width = nan"):
        save_bit_config({"conv": {"weight_bit_width": 8, "act_bit_width": float("nan")}}, tmp_path / "c.json")
    assert not (tmp_path / "c.json").exists()
