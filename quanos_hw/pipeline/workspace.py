"""The results folder of a run: resolved config, per-phase state and checkpoints, resume logic.

Layout::

    OUT/.lock                        held (flock) by the command using the folder; see lock.py
    OUT/config.json                  resolved configuration (+ its hash); written first
    OUT/state/<phase>.json           a finished phase's results (its presence = phase done)
    OUT/checkpoints/<phase>.pt       a training phase's checkpoint (every epoch; final when done)
    OUT/**/<file>.sha256             the SHA-256 of config.json, each state file and checkpoint
    OUT/report.json, report.md, ...  written at the very end; report.json (compare.json) last,
                                     so its presence marks a complete result folder

One command at a time: the folder is locked before config.json is read or written and stays
locked until the command ends. ``--resume`` first checks every state file and checkpoint against
its recorded hash (refusing, naming the file). A phase is skipped on resume when its state file exists; an
unfinished training phase continues from its checkpoint. Every write is atomic, strict JSON,
and recorded with its hash; every state file and checkpoint is checked against it when read.

A folder holding a config.json but no result yet (no state file, no checkpoint: a run that
failed before its first checkpoint) is reused by a fresh run, whatever its configuration;
a folder holding results is continued only with ``--resume`` and its original configuration.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import CheckpointError, ConfigError, InputError, WorkspaceError
from ..integrity import DigestError, read_verified, write_with_digest
from ..io import dumps_strict, load_json_strict
from .config import ExperimentConfig
from .lock import FolderLock


class Workspace:
    def __init__(self, out_dir: str | Path, config: ExperimentConfig) -> None:
        self.root = Path(out_dir)
        self.config = config
        self.config_hash = config.hash()
        self.lock = FolderLock(self.root)

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    def prepare(self, resume: bool) -> None:
        """Lock the folder, then create it (fresh run) or check it belongs to this config (resume).
        The lock is held until :meth:`close`; it is released here when preparing fails."""
        if resume and not self.config_path.is_file():
            raise InputError(f"nothing to resume in {str(self.root)!r}: it holds no config.json")
        if not resume:
            check_writable(self.root)
        self.lock.acquire()
        try:
            self._check_resume() if resume else self._create()
        except BaseException:
            self.lock.release()
            raise

    def close(self) -> None:
        """Release the folder's lock."""
        self.lock.release()

    def _check_resume(self) -> None:
        stored = _read_state(self.config_path, "run configuration")
        if stored.get("config_hash") != self.config_hash:
            diff = _diff(stored.get("config", {}), self.config.to_dict())
            raise ConfigError(
                f"cannot resume {str(self.root)!r} with a different configuration ({diff}); "
                "resume with the original settings or use a new --out"
            )
        self.verify()

    def verify(self) -> None:
        """Check every state file and checkpoint against its recorded hash before any work, so a
        damaged folder is refused at once, naming the file (their contents are checked on use)."""
        for path in _visible(self.root / "state", ".json"):
            if not _read_state(path, "state file"):
                raise WorkspaceError(f"state file {str(path)!r} is damaged: it is empty; delete it (and its "
                                     ".sha256) to recompute that phase with --resume")
        for path in _visible(self.root / "checkpoints", ".pt"):
            try:
                read_verified(path, "checkpoint", required=True)
            except DigestError as exc:
                raise CheckpointError(str(exc)) from None

    def _create(self) -> None:
        if self.config_path.exists():
            results = self.results()
            if results:
                raise WorkspaceError(
                    f"{str(self.root)!r} already holds a run with results ({results}); use --resume with its "
                    "original configuration to continue it, or choose another --out")
        for sub in ("state", "checkpoints"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        _write_json(self.config_path, {"config_hash": self.config_hash, "config": self.config.to_dict()}, indent=2)

    def results(self) -> str:
        """What the folder holds that a fresh run would lose ("" when nothing)."""
        found = [f"{len(files)} {kind}" for kind, files in (
            ("finished phase(s)", _visible(self.root / "state", ".json")),
            ("checkpoint(s)", _visible(self.root / "checkpoints", ".pt")),
            ("report(s)", [p for p in ("report.json", "compare.json") if (self.root / p).exists()])) if files]
        return ", ".join(found)

    def checkpoint(self, phase: str) -> Path:
        return self.root / "checkpoints" / f"{phase}.pt"

    def state_files(self) -> list[Path]:
        """The state files of the finished phases, in name order."""
        return sorted(_visible(self.root / "state", ".json"))

    def state_path(self, phase: str) -> Path:
        return self.root / "state" / f"{phase}.json"

    def done(self, phase: str, required: tuple[str, ...] = ()) -> dict | None:
        """A finished phase's state (checked against its recorded hash, a non-empty JSON object
        holding ``required``), or None when the phase has not finished."""
        path = self.state_path(phase)
        if not path.is_file():
            return None
        state = _read_state(path, "state file")
        missing = [key for key in required if key not in state]
        if not state or missing:
            raise WorkspaceError(f"state file {str(path)!r} is damaged: "
                                 + (f"it lacks {missing}" if state else "it is empty")
                                 + "; delete it (and its .sha256) to recompute that phase with --resume")
        return state

    def finish(self, phase: str, result: dict) -> dict:
        _write_json(self.state_path(phase), result, indent=1)
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


def _visible(folder: Path, suffix: str) -> list[Path]:
    return [p for p in folder.glob(f"*{suffix}") if not p.name.startswith(".")] if folder.is_dir() else []


def _write_json(path: Path, obj: object, indent: int) -> None:
    """Strict JSON (no NaN/Infinity), written atomically with its hash recorded beside it."""
    write_with_digest(path, (dumps_strict(obj, indent=indent) + "\n").encode("utf-8"))


def _read_state(path: Path, what: str) -> dict:
    try:
        data = read_verified(path, what, required=True)
    except DigestError as exc:
        raise WorkspaceError(str(exc)) from None
    except OSError as exc:
        raise WorkspaceError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None
    try:
        obj = load_json_strict(data.decode("utf-8"), f"{what} {str(path)!r}")
    except UnicodeDecodeError:
        raise WorkspaceError(f"{what} {str(path)!r} is damaged: not UTF-8") from None
    if not isinstance(obj, dict):
        raise WorkspaceError(f"{what} {str(path)!r} is damaged: expected a JSON object, got {type(obj).__name__}")
    return obj


def _diff(old: dict, new: dict) -> str:
    keys = sorted(k for k in set(old) | set(new) if k not in ("out_dir", "device") and old.get(k) != new.get(k))
    return ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys[:4]) or "different hash"
