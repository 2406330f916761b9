"""Results cached by a hash of their inputs: the key, the lock, the atomic write.

Used by synthesis (:mod:`flows.synth`: one folder per key under ``build/synth/cache``), the
switching-activity run (:mod:`flows.ppa.activity`), the co-simulation's Verilog generation
(:mod:`tb.cosim.head`) and the measures of a sweep (:mod:`flows.sweep.store`).  Parallel test workers and two commands asking for the same result must
not build it in the same folder at once: each key has its own lock (:func:`locked`, an
``flock`` on a file beside the result), so different results build in parallel and the second
asker of the same one waits, then finds it cached.  A process that has to wait says so on the
logger (INFO): what it waits for, who holds the lock and since when — again every
:data:`WAIT_REPORT_S` seconds.

Results are written whole or not at all (:func:`write_atomic`: a temporary file renamed over the
old one), so a reader never sees half a file, and a run killed half-way leaves no result.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["key", "locked", "first_unlocked", "write_atomic", "read_json", "ResultCache",
           "WAIT_REPORT_S"]

log = logging.getLogger(__name__)

#: While waiting for a lock, log a line this often (seconds).
WAIT_REPORT_S = 30.0


def key(*parts: Any) -> str:
    """Hash of ``parts`` (bytes as they are, anything else as sorted JSON): 20 hex digits."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True).encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


@contextlib.contextmanager
def locked(lock_file: Path, what: str, *, shared: bool = False,
           report_every_s: float = WAIT_REPORT_S) -> Iterator[None]:
    """Hold an ``flock`` on ``lock_file`` (exclusive, or ``shared`` with other readers).

    ``what`` names the result being built, for the waiting message and for the next waiter
    (an exclusive holder writes its pid, host, start time and ``what`` into the lock file).
    The lock file must not live inside a folder that a holder deletes."""
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            _wait(fd, mode, lock_file, what, report_every_s)
        if not shared:
            _note_holder(fd, what)
        try:
            yield
        finally:
            if not shared:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def first_unlocked(lock_files: Iterator[Path], what: str) -> Iterator[int]:
    """Hold the first of ``lock_files`` no other process holds (exclusive ``flock``, never
    waiting) and yield its index: concurrent runs each get a folder of their own, and a later
    run reuses the first free one (a bounded set of folders)."""
    for i, lock_file in enumerate(lock_files):
        lock_file = Path(lock_file)
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            _note_holder(fd, what)
            try:
                yield i
            finally:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
        finally:
            os.close(fd)
        return


def _note_holder(fd: int, what: str) -> None:
    note = (f"pid {os.getpid()} on {socket.gethostname()} since "
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}, for {what}\n").encode()
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, note, 0)


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text or "another process"


def _wait(fd: int, mode: int, lock_file: Path, what: str, report_every_s: float) -> None:
    since = time.strftime("%H:%M:%S")
    start = time.monotonic()
    log.info("waiting for %s: %s is held by %s", what, lock_file, _holder(fd))
    next_report = start + report_every_s
    delay = 0.05
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            pass
        now = time.monotonic()
        if now >= next_report:
            log.info("still waiting for %s (since %s, %.0f s): %s is held by %s", what, since,
                     now - start, lock_file, _holder(fd))
            next_report = now + report_every_s
        time.sleep(delay)
        delay = min(1.0, delay * 2)
    if time.monotonic() - start >= 1.0:
        log.info("got %s for %s after %.0f s of waiting", lock_file, what,
                 time.monotonic() - start)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``path`` whole: into a temporary file beside it, then renamed over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data)
    os.replace(tmp, path)


def read_json(path: Path) -> Any | None:
    """The JSON in ``path``, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


class ResultCache:
    """Results under ``root``: ``root/<key>/result.json`` beside the files that made it; the
    lock of a key is ``root/.locks/<key>.lock`` (outside the folder, which a rebuild deletes)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def dir(self, k: str) -> Path:
        return self.root / k

    def lock(self, k: str, what: str, *, shared: bool = False):
        """:func:`locked` on key ``k``: hold it while building or reading the key's folder."""
        return locked(self.root / ".locks" / f"{k}.lock", what, shared=shared)

    def get(self, k: str) -> dict | None:
        return read_json(self.dir(k) / "result.json")

    def put(self, k: str, result: dict) -> None:
        write_atomic(self.dir(k) / "result.json", json.dumps(result, indent=1, sort_keys=True))

    def fresh_dir(self, k: str) -> Path:
        """The key's folder, emptied (what a failed or forced earlier run left is removed)."""
        d = self.dir(k)
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        return d
