"""What synthesis runs on and where its results live: the targets, the error type, the cache.

Every result is cached in :data:`CACHE` (``build/synth/cache``) under a key hashing the Verilog,
the tool version, the options and :func:`script_hash` of the step — its Yosys script and
constants and :data:`FLOW_VERSION` — so that editing the report layout keeps the cache.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..cache import ResultCache
from ..tools import BUILD as _BUILD

__all__ = ["Target", "TARGETS", "SynthError", "BUILD", "CACHE", "FLOW_VERSION", "check_targets",
           "script_hash"]

#: Synthesis work and reports (the YoWASP tools run in here: they cannot see /tmp).
BUILD = _BUILD / "synth"
#: One folder per result key.
CACHE = ResultCache(BUILD / "cache")
#: Version of the result post-processing (depth analysis, parsing); part of every cache key.
FLOW_VERSION = "4"


class SynthError(RuntimeError):
    """A synthesis step failed, or a block cannot be built (message says why)."""


@dataclass(frozen=True)
class Target:
    name: str
    family: str  # "generic" | "ice40" | "ecp5"
    nextpnr_args: tuple[str, ...] = ()
    package_io: int = 0
    freq_mhz: float = 0.0  # constraint given to nextpnr
    description: str = ""


#: Targets; package pin counts are the user I/O of the package (nextpnr's own numbers).
TARGETS: dict[str, Target] = {
    "generic": Target("generic", "generic", description="Yosys synth + abc, simple gates"),
    "ice40-up5k": Target("ice40-up5k", "ice40", ("--up5k", "--package", "sg48"), 39, 48.0,
                         "Lattice iCE40 UP5K, SG48"),
    "ice40-hx8k": Target("ice40-hx8k", "ice40", ("--hx8k", "--package", "ct256"), 206, 100.0,
                         "Lattice iCE40 HX8K, CT256"),
    "ecp5-25k": Target("ecp5-25k", "ecp5", ("--25k", "--package", "CABGA381"), 197, 100.0,
                       "Lattice ECP5 LFE5U-25F, CABGA381"),
    "ecp5-85k": Target("ecp5-85k", "ecp5", ("--85k", "--package", "CABGA381"), 205, 100.0,
                       "Lattice ECP5 LFE5U-85F, CABGA381"),
}


def check_targets(targets: list[str]) -> None:
    """:class:`SynthError` naming the first unknown target."""
    for t in targets:
        if t not in TARGETS:
            raise SynthError(f"unknown target {t!r}; known: {', '.join(TARGETS)}")


def script_hash(kind: str, *parts: str) -> str:
    """Hash of what decides a result of ``kind`` ("generic" or "fpga"): :data:`FLOW_VERSION`
    (bumped whenever the Python post-processing changes its numbers) and ``parts`` (the
    step's Yosys script, gate set, harness, constants)."""
    h = hashlib.sha256()
    for part in (FLOW_VERSION, kind, *parts):
        h.update(part.encode())
    return h.hexdigest()
