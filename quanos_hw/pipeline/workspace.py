"""The results folder of a run: resolved config, per-phase state and checkpoints, resume logic.

Layout::

    OUT/config.json                  resolved configuration (+ its hash); written first
    OUT/state/<phase>.json           a finished phase's results (its presence = phase done)
    OUT/checkpoints/<phase>.pt       a training phase's checkpoint (every epoch; final when done)
    OUT/report.json, report.md, ...  written atomically at the very end

A phase is skipped on resume when its state file exists; an unfinished training phase
continues from its checkpoint. Every write is atomic.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import ConfigError, InputError
from ..io import atomic_write_text
from .config import ExperimentConfig


class Workspace:
    def __init__(self, out_dir: str | Path, config: ExperimentConfig) -> None:
        self.root = Path(out_dir)
        self.config = config
        self.config_hash = config.hash()

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    def prepare(self, resume: bool) -> None:
        """Create the folder (fresh run) or check it belongs to this config (resume)."""
        if resume:
            if not self.config_path.is_file():
                raise InputError(f"nothing to resume in {str(self.root)!r}: it holds no config.json")
            stored = _read_json(self.config_path)
            if stored.get("config_hash") != self.config_hash:
                diff = _diff(stored.get("config", {}), self.config.to_dict())
                raise ConfigError(
                    f"cannot resume {str(self.root)!r} with a different configuration ({diff}); "
                    "resume with the original settings or use a new --out"
                )
            return
        if self.config_path.exists():
            raise InputError(
                f"{str(self.root)!r} already holds a run; use --resume to continue it or choose another --out"
            )
        check_writable(self.root)
        for sub in ("state", "checkpoints"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.config_path, json.dumps(
            {"config_hash": self.config_hash, "config": self.config.to_dict()}, indent=2) + "\n")

    def checkpoint(self, phase: str) -> Path:
        return self.root / "checkpoints" / f"{phase}.pt"

    def done(self, phase: str) -> dict | None:
        path = self.root / "state" / f"{phase}.json"
        return _read_json(path) if path.is_file() else None

    def finish(self, phase: str, result: dict) -> dict:
        atomic_write_text(self.root / "state" / f"{phase}.json", json.dumps(result, indent=1) + "\n")
        return result


def check_writable(directory: Path) -> None:
    """Create ``directory`` and prove a file can be written there, or raise InputError."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".quanos-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"cannot write to output directory {str(directory)!r}: {exc.strerror or exc}") from None
    if not os.access(directory, os.W_OK):
        raise InputError(f"cannot write to output directory {str(directory)!r}: permission denied")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {str(path)!r}: {exc}; the results folder is damaged") from None
    if not isinstance(data, dict):
        raise InputError(f"{str(path)!r} is damaged: expected a JSON object")
    return data


def _diff(old: dict, new: dict) -> str:
    keys = sorted(k for k in set(old) | set(new) if k not in ("out_dir", "device") and old.get(k) != new.get(k))
    return ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys[:4]) or "different hash"
