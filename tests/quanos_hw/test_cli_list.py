"""``quanos list``: every kind prints exactly what its registry holds."""

import pytest

from energy_models import DATAFLOWS, list_technologies
from energy_models.accelerator import list_accelerators, load_accelerator
from energy_models.architectures import ARCHITECTURES
from quanos_hw.allocation import POLICIES
from quanos_hw.attacks import ATTACKS
from quanos_hw.attacks.suites import SUITES
from quanos_hw.cli import main
from quanos_hw.cli.list_cmd import KINDS
from quanos_hw.data import list_datasets
from quanos_hw.models import MODELS
from quanos_hw.sensitivity import METRICS

#: the source of truth for each kind, read here independently of list_cmd
REGISTRIES = {
    "models": lambda: MODELS.names(),
    "datasets": list_datasets,
    "architectures": lambda: ARCHITECTURES.names(),
    "technologies": list_technologies,
    "dataflows": lambda: sorted(DATAFLOWS),
    "accelerators": list_accelerators,
    "attacks": lambda: ATTACKS.names(),
    "suites": lambda: SUITES.names(),
    "metrics": lambda: METRICS.names(),
    "policies": lambda: POLICIES.names(),
}


def _list(capsys, *args):
    code = main(["list", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_kind_is_tested():
    assert list(KINDS) == list(REGISTRIES)


@pytest.mark.parametrize("kind", list(REGISTRIES))
def test_kind_prints_only_the_registry_names(capsys, kind):
    code, out, err = _list(capsys, kind)
    names = REGISTRIES[kind]()
    assert code == 0 and err == ""
    assert names, f"registry {kind} is empty"
    assert out == "".join(f"{name}\n" for name in names)


def test_full_listing_has_a_heading_then_the_names_of_each_kind(capsys):
    code, out, _ = _list(capsys)
    assert code == 0
    blocks = out.rstrip("\n").split("\n\n")
    assert len(blocks) == len(REGISTRIES)
    for block, (kind, names) in zip(blocks, REGISTRIES.items()):
        heading, *rows = block.split("\n")
        assert heading.startswith(f"{kind} (") and heading.endswith("):")
        if kind == "accelerators":  # each with the first line of its description
            assert rows == [f"  {name}: {load_accelerator(name).description.splitlines()[0]}" for name in names()]
        else:
            assert rows == [f"  {name}" for name in names()]


def test_accelerators_are_the_shipped_descriptions_with_their_summary(capsys):
    _, out, _ = _list(capsys, "accelerators")
    assert "default" in out.split()
    _, out, _ = _list(capsys)
    assert ("  default: The original quanos-hw energy model: weights read once from DRAM, activations in an "
            "unbounded on-chip SRAM") in out


def test_a_newly_registered_entry_is_listed(capsys, monkeypatch):
    monkeypatch.setitem(ATTACKS._items, "zz_new_attack", lambda *a, **k: None)
    _, out, _ = _list(capsys, "attacks")
    assert out.splitlines()[-1] == "zz_new_attack"
    _, out, _ = _list(capsys)
    assert "  zz_new_attack\n" in out


@pytest.mark.parametrize("kind", ["bogus", "model", "ATTACKS", ""])
def test_unknown_kind_is_one_line_exit_2(capsys, kind):
    code, out, err = _list(capsys, kind)
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"quanos: error: unknown kind {kind!r}")
    assert err.rstrip("\n").endswith("choose one of: " + ", ".join(REGISTRIES))


def test_too_many_arguments_is_exit_2(capsys):
    code, _, err = _list(capsys, "models", "datasets")
    assert code == 2 and err.count("\n") == 1 and "unrecognized arguments: datasets" in err


def test_help_texts_point_to_quanos_list(capsys):
    for argv in (["--help"], ["estimate", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "'quanos list" in text and "--list" not in text
