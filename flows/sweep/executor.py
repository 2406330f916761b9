"""Where the points run: a ``concurrent.futures`` executor, local or on a Dask cluster.

* Default: a local :class:`~concurrent.futures.ProcessPoolExecutor` (``forkserver`` processes
  on Linux, ``spawn`` elsewhere: no state of the driver leaks into a worker; a script that
  calls :func:`flows.sweep.run_sweep` needs the usual ``if __name__ == "__main__":`` guard).
* ``--scheduler tcp://HOST:PORT``: ``distributed.Client(address).get_executor()`` — the same
  ``submit`` / ``as_completed`` code path, on every worker of the cluster.  Workers need only
  the installed project (``pip install 'gaincell-attention[sweep]'``): a point is a config as a
  dict, a seed and the measures to run; it comes back as plain values.

:func:`run_point` is what a worker runs.  It never raises for a measure that fails: the
measure's entry carries the error (``Type: message``) and the other measures still run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import socket
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from hdl.cli import RunFailed, UsageError

__all__ = ["Pool", "open_executor", "run_point", "check_scheduler", "worker_id"]

#: ``--scheduler`` must look like this (Dask's TCP address of a scheduler).
SCHEDULER_RE = re.compile(r"^(tcp|tls)://[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")

#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT_S = 15


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_point(config: dict[str, Any], seed: int, measures: list[tuple[str, dict[str, Any]]]
              ) -> dict[str, Any]:
    """Run ``measures`` (name, options) at one point; what a worker returns to the driver."""
    from hdl.config import HeadConfig

    from .measures import run_measure

    cfg = HeadConfig.from_dict(config)
    out: dict[str, Any] = {"worker": worker_id(), "measures": {}}
    for name, options in measures:
        t0 = time.monotonic()
        try:
            values = run_measure(name, cfg, seed, options)
            entry: dict[str, Any] = {"ok": True, "values": values}
        except Exception as e:  # a failing measure is a result of the point, not the sweep's end
            entry = {"ok": False, "error": f"{type(e).__name__}: {' '.join(str(e).split())}"}
        entry["seconds"] = time.monotonic() - t0
        out["measures"][name] = entry
    return out


def check_scheduler(address: str) -> str:
    """``address`` if it looks like a Dask scheduler address; :class:`UsageError` otherwise."""
    if not SCHEDULER_RE.match(address):
        raise UsageError(f"--scheduler {address!r}: expected a Dask scheduler address such as "
                         "tcp://HOST:8786")
    return address


@dataclass
class Pool:
    """An open executor, what it is (for the log and the report), and how many points it
    runs at once."""

    executor: Executor
    kind: str
    description: str
    slots: int


@contextlib.contextmanager
def open_executor(workers: int, scheduler: str | None = None) -> Iterator[Pool]:
    """A :class:`Pool` for the sweep; shut down (pending points cancelled) on the way out."""
    if scheduler is None:
        method = "forkserver" if sys.platform.startswith("linux") else "spawn"
        ex = ProcessPoolExecutor(max_workers=workers,
                                 mp_context=multiprocessing.get_context(method))
        try:
            yield Pool(ex, "local", f"local process pool of {workers} ({method})", workers)
        finally:
            ex.shutdown(wait=True, cancel_futures=True)
        return
    try:
        from distributed import Client
    except ImportError:
        raise RunFailed("--scheduler needs Dask: pip install 'gaincell-attention[sweep]' "
                        "(dask and distributed)") from None
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as e:
        raise RunFailed(f"cannot reach the Dask scheduler at {scheduler}: "
                        f"{' '.join(str(e).split())[:200]}") from None
    try:
        slots = sum(client.nthreads().values())
        if slots == 0:
            raise RunFailed(f"the Dask scheduler at {scheduler} has no workers: start some "
                            f"with `dask worker {scheduler}`")
        ex = client.get_executor(pure=False)
        try:
            yield Pool(ex, "dask", f"Dask scheduler {scheduler} ({slots} worker threads)",
                       slots)
        finally:
            ex.shutdown(wait=False)  # cancels what is still pending
    finally:
        client.close()
