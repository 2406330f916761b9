"""The cache of a sweep's measures: one JSON file per (point, measure), so a sweep resumes.

The key of a measure at a point (:func:`measure_key`) hashes the point's config, the measure's
name and options, the seed when the measure uses it, the hash of the sources the measure
depends on (:func:`flows.tools.source_hash`) and, for the hardware measures, the tool versions
(:func:`flows.tools.tool_versions`).  The driver of the sweep writes an entry when a worker
hands a measure back (:func:`flows.cache.write_atomic`: whole or not at all), so a sweep that is
stopped — Ctrl-C, a killed process, a lost cluster — keeps every measure finished before, and
the next run with the same spec computes only what is missing.  Failures are not cached: a
rerun tries them again.  Workers never touch this cache (a cluster's workers need no shared
folder); the synthesis and activity caches under ``build/synth`` are theirs.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from hdl.config import HeadConfig

from ..cache import key, read_json, write_atomic
from ..tools import BUILD, source_hash, tool_versions
from .measures import MEASURES

__all__ = ["DEFAULT_CACHE", "PointStore", "measure_key"]

#: Where sweeps cache their measures unless ``--cache`` says otherwise (shared by all sweeps).
DEFAULT_CACHE = BUILD / "sweep" / "cache"

#: Bumped when the layout of a cached entry changes.
STORE_VERSION = 1


@lru_cache(maxsize=None)
def _sources(paths: tuple[str, ...]) -> str:
    return source_hash(*paths)


@lru_cache(maxsize=1)
def _tools() -> tuple[tuple[str, str], ...]:
    return tuple(sorted(tool_versions().items()))


def measure_key(measure: str, cfg: HeadConfig, seed: int, options: dict[str, Any]) -> str:
    """The cache key of ``measure`` at the point (``cfg``, ``seed``) with ``options``."""
    m = MEASURES[measure]
    return key("gca-sweep-measure", STORE_VERSION, measure, cfg.to_dict(),
               seed if m.uses_seed else None, options, _sources(m.sources),
               dict(_tools()) if m.uses_tools else None)


class PointStore:
    """Measures cached under ``root/<key[:2]>/<key>.json``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, k: str) -> Path:
        return self.root / k[:2] / f"{k}.json"

    def get(self, k: str) -> dict[str, Any] | None:
        entry = read_json(self.path(k))
        return entry if isinstance(entry, dict) and "values" in entry else None

    def put(self, k: str, measure: str, cfg: HeadConfig, seed: int, values: dict[str, Any],
            seconds: float, worker: str) -> None:
        write_atomic(self.path(k), json.dumps({
            "measure": measure, "config_hash": cfg.hash, "seed": seed, "values": values,
            "seconds": round(seconds, 3), "worker": worker,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }, indent=1, sort_keys=True, allow_nan=True))
