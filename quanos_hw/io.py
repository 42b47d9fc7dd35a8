"""File input and output: strict readers for user files, atomic writers for results.

Reading (re-exported from :mod:`energy_models.safe_io`, which energy_models uses itself):
:func:`read_input_text` (a bounded regular UTF-8 file), :func:`load_json_strict` and
:func:`load_yaml_strict` (no duplicate keys, NaN, huge integers, deep nesting, Python tags or
alias bombs), :func:`dumps_strict` (JSON without NaN/Infinity).

Writing: a result file is either complete or absent, never half-written. A full disk (ENOSPC)
or an exhausted quota (EDQUOT) while writing is a :class:`~quanos_hw.errors.DiskFullError`
(exit code 2, one line naming the file) and leaves no temporary file behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from energy_models.safe_io import (
    MAX_INPUT_BYTES,
    NonFiniteJSONError,
    dumps_strict,
    load_json_strict,
    load_yaml_strict,
    read_input_text,
)

from .errors import DiskFullError

__all__ = [
    "MAX_INPUT_BYTES",
    "NonFiniteJSONError",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "disk_full_is_an_error",
    "dumps_strict",
    "load_json_strict",
    "load_yaml_strict",
    "read_input_text",
]

#: errno values that mean "the storage is full", not "the program is wrong"
_FULL = {errno.ENOSPC: "no space left on the device", getattr(errno, "EDQUOT", -1): "disk quota exceeded"}


@contextlib.contextmanager
def disk_full_is_an_error(path: str | Path) -> Iterator[None]:
    """Turn ENOSPC / EDQUOT raised inside the block into a one-line DiskFullError naming ``path``."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _FULL:
            raise
        raise DiskFullError(f"{_FULL[exc.errno]} while writing {str(path)!r}; it was not written "
                            "(free some space and run the command again)") from None


def atomic_write_bytes(path: str | Path, data: bytes, report_as: str | Path | None = None) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename over ``path``
    (a full disk names ``report_as`` when given: the file this one belongs to)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")  # created with the umask's mode
    try:
        with disk_full_is_an_error(path if report_as is None else report_as):
            with open(tmp, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | Path, text: str, report_as: str | Path | None = None) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), report_as)


def atomic_write_json(path: str | Path, obj: object, indent: int | None = 1) -> None:
    """Write ``obj`` as strict JSON (NaN or Infinity anywhere raises NonFiniteJSONError, and nothing
    is written), atomically, with a final newline."""
    atomic_write_text(path, dumps_strict(obj, indent=indent) + "\n")
