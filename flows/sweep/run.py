"""The driver of a sweep: expand the points, take what the cache has, run the rest on the
executor, cache each measure as it comes back, log progress, write the table and the report.

:func:`run_sweep` is the whole job; ``python -m flows.sweep`` (:mod:`flows.sweep.cli`) checks
the command line and calls it.  One sweep at a time writes an output folder (a lock beside its
files, :func:`flows.cache.locked`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cache import locked, write_atomic
from .executor import open_executor, run_point
from .points import Point, expand
from .spec import SweepSpec
from .store import DEFAULT_CACHE, PointStore, measure_key

__all__ = ["run_sweep", "SweepResult", "ROW_META"]

log = logging.getLogger(__name__)

#: Columns of a row that say how it was obtained, not what was measured (they differ between
#: two runs of the same sweep).
ROW_META = ("seconds", "worker", "cached")


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    computed: int = 0
    cached: int = 0
    failed: int = 0
    wall_s: float = 0.0
    executor: str = ""


def _base_row(spec: SweepSpec, p: Point) -> dict[str, Any]:
    row: dict[str, Any] = {"point": p.index, "config_hash": p.config.hash if p.config else None,
                           "seed": p.seed}
    row.update(p.values)
    for m in spec.measures:  # every measure column, so a failed point has them too (empty)
        row[f"{m}.ok"] = False
    row.update(status="failed", error="", seconds=0.0, worker="", cached=False)
    return row


def _finish(row: dict[str, Any], spec: SweepSpec, errors: list[str]) -> dict[str, Any]:
    row["status"] = "ok" if all(row[f"{m}.ok"] for m in spec.measures) else "failed"
    row["error"] = "; ".join(errors)
    return row


class _Progress:
    def __init__(self, total: int, cached: int, slots: int) -> None:
        self.total, self.done, self.failed, self.slots = total, cached, 0, slots
        self.computed = 0
        self.t0 = time.monotonic()

    def point(self, p: Point, row: dict[str, Any], in_flight: int) -> None:
        self.done += 1
        self.computed += 1
        self.failed += row["status"] != "ok"
        elapsed = time.monotonic() - self.t0
        left = self.total - self.done
        eta = elapsed / self.computed * left if left else 0.0
        what = "failed: " + row["error"] if row["status"] != "ok" else "ok"
        log.info("point %d (%s) %s in %.1f s — %d/%d done, %d running, %d failed, ETA %s",
                 p.index, p.label(), what, row["seconds"], self.done, self.total,
                 min(in_flight, self.slots), self.failed, _duration(eta))


def _duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def run_sweep(spec: SweepSpec, out: Path, *, workers: int = 1, scheduler: str | None = None,
              cache_root: Path | None = None,
              on_point: Callable[[dict[str, Any]], None] | None = None) -> SweepResult:
    """Run ``spec``: table, plots and summary under ``out``.  ``on_point`` is called with each
    computed row after its measures are cached (an exception there stops the sweep as Ctrl-C
    would)."""
    from .report import write_report
    from .table import write_table

    t0 = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store = PointStore(cache_root or DEFAULT_CACHE)
    points = expand(spec)
    with locked(out / ".sweep.lock", f"sweep {spec.name} into {out}"):
        rows: dict[int, dict[str, Any]] = {}
        todo: list[tuple[Point, dict[str, Any], dict[str, str]]] = []
        n_cached = 0
        for p in points:
            row = _base_row(spec, p)
            if p.config is None:
                rows[p.index] = _finish(row, spec, [f"invalid config: {p.invalid}"])
                continue
            keys = {m: measure_key(m, p.config, p.seed, spec.options[m]) for m in spec.measures}
            missing = {}
            for m, k in keys.items():
                hit = store.get(k)
                if hit is None:
                    missing[m] = k
                else:
                    row.update({f"{m}.{c}": v for c, v in hit["values"].items()})
                    row[f"{m}.ok"] = True
                    row["seconds"] += hit.get("seconds", 0.0)
            if missing:
                todo.append((p, row, missing))
            else:
                row["cached"] = True
                rows[p.index] = _finish(row, spec, [])
                n_cached += 1
        invalid = sum(p.config is None for p in points)
        log.info("%s: %d points (%s), %d cached, %d invalid, %d to run; cache %s", spec.name,
                 len(points), " × ".join(f"{len(v)} {k}" for k, v in spec.axes.items())
                 + f" × {len(spec.seeds)} seed(s)", n_cached, invalid, len(todo), store.root)
        result = SweepResult([], out, cached=n_cached)
        if todo:
            _run_todo(spec, todo, rows, store, workers, scheduler, on_point, result,
                      len(points) - len(todo))
        result.rows = [rows[i] for i in sorted(rows)]
        result.failed = sum(r["status"] != "ok" for r in result.rows)
        result.wall_s = time.monotonic() - t0
        result.files = write_table(result.rows, out)
        run_info = {"spec": spec.to_dict(), "spec_file": spec.source, "points": len(points),
                    "computed": result.computed, "cached": result.cached,
                    "failed": result.failed, "executor": result.executor or "none (all cached)",
                    "wall_s": round(result.wall_s, 2), "cache": str(store.root)}
        write_atomic(out / "sweep.json", json.dumps(run_info, indent=1) + "\n")
        result.files["run"] = out / "sweep.json"
        result.files.update(write_report(spec, result.rows, run_info, out))
    return result


def _run_todo(spec: SweepSpec, todo, rows, store: PointStore, workers: int,
              scheduler: str | None, on_point, result: SweepResult, already: int) -> None:
    n_workers = max(1, min(workers, len(todo)))
    with open_executor(n_workers, scheduler) as pool:
        result.executor = pool.description
        log.info("running %d points on %s", len(todo), pool.description)
        progress = _Progress(len(todo) + already, already, pool.slots)
        pending: dict[Future, tuple[Point, dict[str, Any], dict[str, str]]] = {}
        for p, row, missing in todo:
            f = pool.executor.submit(run_point, p.config.to_dict(), p.seed,
                                     [(m, spec.options[m]) for m in missing])
            pending[f] = (p, row, missing)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                p, row, missing = pending.pop(f)
                row = _collect(spec, p, row, missing, f, store)
                rows[p.index] = row
                result.computed += 1
                progress.point(p, row, len(pending))
                if on_point is not None:
                    on_point(row)


def _collect(spec: SweepSpec, p: Point, row: dict[str, Any], missing: dict[str, str],
             f: Future, store: PointStore) -> dict[str, Any]:
    """Merge a worker's answer into ``row``; cache each measure that succeeded."""
    errors: list[str] = []
    try:
        answer = f.result()
    except Exception as e:  # the worker itself was lost (killed, out of memory, cluster gone)
        err = f"{type(e).__name__}: {' '.join(str(e).split())}"
        answer = {"worker": "?", "measures": {m: {"ok": False, "error": err, "seconds": 0.0}
                                              for m in missing}}
    row["worker"] = answer.get("worker", "?")
    for m in spec.measures:
        if m not in missing:
            continue
        entry = answer["measures"][m]
        row["seconds"] += entry["seconds"]
        if entry["ok"]:
            row.update({f"{m}.{c}": v for c, v in entry["values"].items()})
            row[f"{m}.ok"] = True
            store.put(missing[m], m, p.config, p.seed, entry["values"], entry["seconds"],
                      row["worker"])
        else:
            errors.append(f"{m}: {entry['error']}")
    return _finish(row, spec, errors)

