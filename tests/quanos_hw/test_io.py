import builtins
import errno
import json
import math

import pytest

import energy_models.safe_io as safe_io
import quanos_hw.io as qio
from quanos_hw.errors import DiskFullError, InputError


def test_the_strict_readers_are_the_ones_energy_models_uses():
    for name in ("read_input_text", "load_json_strict", "load_yaml_strict", "dumps_strict", "NonFiniteJSONError"):
        assert getattr(qio, name) is getattr(safe_io, name)


def test_atomic_write_json_is_strict_and_complete(tmp_path):
    path = tmp_path / "report.json"
    qio.atomic_write_json(path, {"energy_pj": 1.5, "bits": [8, 4]})
    assert path.read_text() == '{\n "energy_pj": 1.5,\n "bits": [\n  8,\n  4\n ]\n}\n'
    with pytest.raises(qio.NonFiniteJSONError, match=r"\$\.energy_pj = nan"):
        qio.atomic_write_json(path, {"energy_pj": math.nan})
    assert json.loads(path.read_text()) == {"energy_pj": 1.5, "bits": [8, 4]}  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # and no temporary file


class _FullFile:
    """A file object whose write fails as a full disk (or quota) does."""

    def __init__(self, real, code):
        self.real, self.code = real, code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()

    def write(self, data):
        self.real.write(data[: len(data) // 2])  # part of it went to disk before the device filled up
        raise OSError(self.code, __import__("os").strerror(self.code))


@pytest.mark.parametrize("code, reason", [(errno.ENOSPC, "no space left on the device"),
                                          (errno.EDQUOT, "disk quota exceeded")])
def test_a_full_disk_is_one_clear_error_and_leaves_no_temporary_file(tmp_path, monkeypatch, code, reason):
    path = tmp_path / "layers.csv"
    path.write_text("the previous result\n")
    real_open = builtins.open
    monkeypatch.setattr(qio, "open", lambda *a, **k: _FullFile(real_open(*a, **k), code), raising=False)
    with pytest.raises(DiskFullError) as info:
        qio.atomic_write_text(path, "x" * 10_000)
    assert str(info.value) == (f"{reason} while writing {str(path)!r}; it was not written "
                               "(free some space and run the command again)")
    assert isinstance(info.value, InputError)  # the CLI: one line, exit code 2
    assert [p.name for p in tmp_path.iterdir()] == ["layers.csv"]
    assert path.read_text() == "the previous result\n"


def test_other_os_errors_are_not_disguised(tmp_path, monkeypatch):
    real_open = builtins.open
    monkeypatch.setattr(qio, "open", lambda *a, **k: _FullFile(real_open(*a, **k), errno.EIO), raising=False)
    with pytest.raises(OSError) as info:
        qio.atomic_write_bytes(tmp_path / "a.bin", b"data")
    assert info.value.errno == errno.EIO and not isinstance(info.value, InputError)
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_in_the_cli_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    from quanos_hw.cli import main

    real_open = builtins.open
    monkeypatch.setattr(qio, "open", lambda *a, **k: _FullFile(real_open(*a, **k), errno.ENOSPC), raising=False)
    out = tmp_path / "run"
    code = main(["run", "--quiet", "--set", "dataset=synthetic", "--set", "synthetic_train=40", "--set",
                 "synthetic_test=20", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err == (f"quanos: error: no space left on the device while writing {str(out / 'config.json')!r}; it "
                   "was not written (free some space and run the command again)\n")
    assert [p for p in out.rglob("*") if p.is_file()] == []  # no config.json: a rerun may use the folder
