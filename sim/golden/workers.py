"""Blocks of work on several threads, their results taken in order by the calling thread: how
the vectorised path (:mod:`.vectorized`) runs its blocks of queries with ``workers=N``.

Item i of the plan runs on thread i mod N, through that thread's own function (a worker with
its own caches and buffers); the caller takes the results in plan order — a sink that streams
to disk needs its rows in order — from a queue of at most :data:`QUEUED` finished items per
thread, so memory stays bounded by N·(QUEUED + 1) items whatever the plan's length.  Numpy's
products and the compiled steps release the GIL, so the threads run at once.  An error in a
thread, or in the caller's ``put``, stops every thread (each checks between items) and is
raised in the caller after they have all ended.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Sequence

__all__ = ["run_in_threads", "QUEUED", "THREAD_NAME"]

#: Finished items each thread may hold before the caller has taken them.
QUEUED = 2
#: Thread names: ``golden-blocks-0``, ``golden-blocks-1``, …
THREAD_NAME = "golden-blocks-{}"


class _Failed:
    """A thread's exception, passed to the caller through its queue."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def run_in_threads(plan: Sequence[tuple], work: Sequence[Callable[..., Any]],
                   put: Callable[[Any], None]) -> None:
    """``put(work[i mod N](*plan[i]))`` for every item i of ``plan`` in order, the calls of
    ``work[j]`` on thread j (N = len(work) threads), ``put`` in this thread."""
    n = len(work)
    stop = threading.Event()
    queues: list[queue.Queue] = [queue.Queue(maxsize=QUEUED) for _ in range(n)]

    def offer(j: int, item: Any) -> None:
        while not stop.is_set():
            try:
                queues[j].put(item, timeout=0.05)
                return
            except queue.Full:
                pass

    def run(j: int) -> None:
        try:
            for args in plan[j::n]:
                if stop.is_set():
                    return
                offer(j, work[j](*args))
        except BaseException as e:          # raised in the caller's thread
            offer(j, _Failed(e))

    threads = [threading.Thread(target=run, args=(j,), name=THREAD_NAME.format(j), daemon=True)
               for j in range(n)]
    for t in threads:
        t.start()
    try:
        for i in range(len(plan)):
            done = queues[i % n].get()
            if isinstance(done, _Failed):
                raise done.error
            put(done)
    finally:
        stop.set()
        for t in threads:
            t.join()
