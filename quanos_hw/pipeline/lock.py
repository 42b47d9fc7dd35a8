"""An exclusive lock on a results folder: ``OUT/.lock``, locked with ``flock`` for the whole command.

A second command on the same folder fails at once (never waits) with one line naming the PID
that holds it. The operating system releases the lock when its holder exits, however it exits
(even ``kill -9``), so a lock is never stale; :meth:`FolderLock.release` also releases it
explicitly and removes the file. The file is removed only while locked, and a lock taken on a
file that was meanwhile removed is retried on the new file, so two holders are impossible.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from ..errors import WorkspaceError

LOCK_NAME = ".lock"


class FolderLock:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> FolderLock:
        """Take the lock, or raise WorkspaceError naming the holder's PID."""
        while self._fd is None:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise WorkspaceError(
                    f"results folder {str(self.folder)!r} is in use by another quanos command (PID {holder}); "
                    "wait for it to finish or choose another --out") from None
            except OSError as exc:
                os.close(fd)
                raise WorkspaceError(f"cannot lock results folder {str(self.folder)!r}: {exc.strerror or exc}") \
                    from None
            if _same_file(fd, self.path):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                self._fd = fd
            else:  # the previous holder removed the file after we opened it: lock the new one
                os.close(fd)
        return self

    def release(self) -> None:
        """Remove the lock file and release the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        finally:
            os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise WorkspaceError(f"cannot lock results folder {str(self.folder)!r}: {exc.strerror or exc}") from None


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _holder(fd: int) -> str:
    """The PID the holder wrote (it writes it just after locking: wait a moment for it)."""
    for _ in range(20):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return text
        time.sleep(0.01)
    return "unknown"
