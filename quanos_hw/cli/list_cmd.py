"""``quanos list [KIND]``: the names every registry accepts, read from the registries themselves.

Without KIND: one heading per kind, then its names, one per line (indented; a shipped accelerator
description with the first line of its description). With KIND: only the names, one per line, for
scripts (``for m in $(quanos list models); do ...``). An unknown KIND is bad input (exit 2).
Nothing here names an entry: a newly registered model, attack or metric appears without touching
this file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def _models() -> list[str]:
    from ..models import list_models

    return list_models()


def _datasets() -> list[str]:
    from ..data import list_datasets

    return list_datasets()


def _architectures() -> list[str]:
    from energy_models import list_architectures

    return list_architectures()


def _technologies() -> list[str]:
    from energy_models import list_technologies

    return list_technologies()


def _dataflows() -> list[str]:
    from energy_models import DATAFLOWS

    return sorted(DATAFLOWS)


def _accelerators() -> list[str]:
    from energy_models.accelerator import list_accelerators

    return list_accelerators()


def _accelerator_summary(name: str) -> str:
    """The first line of a shipped accelerator description's ``description``."""
    from energy_models.accelerator import load_accelerator

    lines = load_accelerator(name).description.strip().splitlines()
    return lines[0] if lines else ""


def _attacks() -> list[str]:
    from ..attacks import ATTACKS

    return ATTACKS.names()


def _suites() -> list[str]:
    from ..attacks.suites import SUITES

    return SUITES.names()


def _metrics() -> list[str]:
    from ..sensitivity import METRICS

    return METRICS.names()


def _policies() -> list[str]:
    from ..allocation import POLICIES

    return POLICIES.names()


#: kind -> (what it is, names). Insertion order is the order of the full listing.
KINDS: dict[str, tuple[str, Callable[[], list[str]]]] = {
    "models": ("networks", _models),
    "datasets": ("built-in datasets", _datasets),
    "architectures": ("MAC architectures", _architectures),
    "technologies": ("shipped technology tables; --tech also takes a JSON/YAML file", _technologies),
    "dataflows": ("memory dataflows", _dataflows),
    "accelerators": ("shipped accelerator descriptions; --hardware also takes a YAML/JSON file", _accelerators),
    "attacks": ("adversarial attacks", _attacks),
    "suites": ("worst-case attack suites (config key 'robustness')", _suites),
    "metrics": ("sensitivity metrics", _metrics),
    "policies": ("bit allocation policies", _policies),
}


def list_names(kind: str) -> list[str]:
    """The names registered under ``kind`` (one of :data:`KINDS`), sorted."""
    from ..errors import InputError

    if kind not in KINDS:
        raise InputError(f"unknown kind {kind!r} for 'quanos list'; choose one of: {', '.join(KINDS)}")
    return KINDS[kind][1]()


#: kind -> name -> one line about it, shown after the name in the full listing
SUMMARIES: dict[str, Callable[[str], str]] = {"accelerators": _accelerator_summary}


def _row(kind: str, name: str) -> str:
    summary = SUMMARIES[kind](name) if kind in SUMMARIES else ""
    return f"  {name}: {summary}" if summary else f"  {name}"


def format_listing() -> str:
    """Every kind: a heading ``KIND (what it is):``, then its names indented (with a one-line summary
    where the kind has one), blank line between kinds."""
    blocks = []
    for kind, (what, _) in KINDS.items():
        blocks.append("\n".join([f"{kind} ({what}):"] + [_row(kind, name) for name in list_names(kind)]))
    return "\n\n".join(blocks)


def add_parser(sub) -> None:
    p = sub.add_parser("list", help="names of models, datasets, architectures, attacks, ... (from the registries)",
                       description="List what the registries accept. Kinds: " + ", ".join(KINDS) + ".")
    p.add_argument("kind", nargs="?", default=None, metavar="KIND",
                   help="print only this kind's names, one per line (" + ", ".join(KINDS) + ")")
    p.set_defaults(func=run_list)


def run_list(args: argparse.Namespace) -> int:
    text = format_listing() if args.kind is None else "\n".join(list_names(args.kind))
    sys.stdout.write(text + "\n")
    return 0
