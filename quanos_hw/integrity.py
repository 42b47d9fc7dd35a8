"""Content hashes of the files a run resumes from (checkpoints, state files, config.json).

Beside each such file ``F`` lies ``F.sha256``, one ``sha256sum`` line (``<hex>  F``), so
``sha256sum -c F.sha256`` checks it by hand too. :func:`write_with_digest` records the hash
of the new content *before* the file is replaced (the sidecar then lists the new hash and the
previous one), replaces the file, then leaves the new hash alone: whenever the process dies,
the file on disk is one the sidecar accepts. :func:`read_verified` reads the file once, checks
its hash and returns the bytes that were checked (so nothing changes between check and use).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .errors import InputError
from .io import atomic_write_bytes, atomic_write_text

SUFFIX = ".sha256"
_LINE = re.compile(r"^([0-9a-f]{64})  (.+)$")


class DigestError(InputError):
    """A file whose content does not match the hash recorded when it was written."""


def digest_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + SUFFIX)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def recorded(path: str | Path) -> list[str] | None:
    """The hashes the sidecar of ``path`` accepts (None when there is no sidecar)."""
    side = digest_path(path)
    try:
        text = side.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DigestError(f"cannot read the recorded hash {str(side)!r}: {exc}") from None
    hashes = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None or match.group(2) != Path(path).name:
            raise DigestError(f"the recorded hash {str(side)!r} is damaged; delete {str(path)!r} and it to "
                              "recompute that step, or start a new --out")
        hashes.append(match.group(1))
    if not hashes:
        raise DigestError(f"the recorded hash {str(side)!r} is empty")
    return hashes


def write_with_digest(path: str | Path, data: bytes) -> None:
    """Write ``data`` atomically to ``path`` and record its SHA-256 beside it (crash-safe, see above)."""
    path = Path(path)
    new = sha256(data)
    try:
        previous = (recorded(path) or [])[:1]
    except DigestError:
        previous = []
    line = "{}  " + path.name + "\n"
    atomic_write_text(digest_path(path), "".join(line.format(h) for h in dict.fromkeys([new, *previous])), path)
    atomic_write_bytes(path, data)
    if previous and previous != [new]:
        atomic_write_text(digest_path(path), line.format(new), path)


def read_verified(path: str | Path, what: str, required: bool) -> bytes:
    """The bytes of ``path`` after checking them against its recorded hash. Without a sidecar the
    file is refused when ``required``, else returned unchecked. ``what`` names the file in errors."""
    path = Path(path)
    data = path.read_bytes()
    hashes = recorded(path)
    if hashes is None:
        if required:
            raise DigestError(f"{what} {str(path)!r} has no recorded content hash ({digest_path(path).name} is "
                              "missing); it cannot be trusted: start a new --out")
        return data
    if sha256(data) not in hashes:
        raise DigestError(f"{what} {str(path)!r} does not match the SHA-256 recorded when it was written: it was "
                          "modified or damaged; delete it (and its .sha256) to recompute that step with --resume, "
                          "or start a new --out")
    return data
