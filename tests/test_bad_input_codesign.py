"""Bad input to ``quanos codesign``: one line on stderr, exit 2, no traceback, nothing written (the
results folder is never created): every check that can runs before the first file; a constraint
that only stage 1's candidates miss is known after the warm-up, and the run then takes back
what it wrote."""

import pytest

from quanos_hw.cli import main

CD = ["codesign", "--quiet", "--set", "dataset=synthetic", "--out"]
CASES = [
    ("no candidate meets a constraint", ["--sweep", "array.rows=8,16", "--constraint", "area<=0.01"],
     "meets the constraint area <= 0.01 mm²: the best area reached is 1.6"),
    ("the second constraint fails", ["--sweep", "array.rows=8,16", "--constraint", "area<=5",
                                     "--constraint", "latency<=1e-9"],
     "latency <= 1e-09 ms: the best latency reached among those meeting area <= 5 mm² is"),
    ("unknown objective", ["--objectives", "energy,power"], "unknown objective 'power'"),
    ("no finalist", ["--finalists", "0"], "config key 'finalists' must be between 1 and"),
    ("optimiser without a numeric axis", ["--search", "nsga2", "--sweep", "mac.architecture=bitfusion,data_gated"],
     "the optimiser needs a numeric sweep axis"),
    ("a range on a grid", ["--search", "grid", "--sweep", "array.rows=8:64"],
     "sweep axis 'array.rows' is a range: only the optimiser"),
    ("unknown constraint", ["--constraint", "power<=3"], "unknown constraint 'power'"),
    ("unknown sweep key", ["--sweep", "array.rowz=8,16"], "unknown sweep key 'array.rowz'"),
]


@pytest.mark.parametrize("name, extra, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, extra, message, tmp_path, capsys):
    code = main(CD + [str(tmp_path / "out")] + extra)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("quanos: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("existing", [False, True], ids=["new folder", "folder with a user's file"])
def test_constraint_only_the_candidates_miss_leaves_nothing(existing, tmp_path, capsys):
    """Uniform 2-bit reaches 0.42 µJ on this point, so the check before any file passes; the ILP's
    candidates at 20% of uniform 16-bit (~1.5 µJ) all miss 0.5 µJ, which is known only after the
    warm-up: the run still ends with one line, exit 2, and takes back everything it wrote."""
    out = tmp_path / "out"
    if existing:
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    code = main(CD + [str(out), "--sweep", "array.rows=8", "--budgets", "0.2", "--constraint", "energy<=0.5",
                      "--set", "warmup_epochs=1"])
    err = capsys.readouterr().err
    assert code == 2, err
    error = err.splitlines()[-1]  # after the warm-up's progress lines
    assert error.startswith("quanos: error: ") and err.count("quanos: error") == 1 and "Traceback" not in err, err
    assert "no candidate meets the constraint energy <= 0.5 µJ: the best energy reached is" in error, err
    if existing:
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    else:
        assert not out.exists()
