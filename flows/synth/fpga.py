"""FPGA synthesis and place-and-route: ``synth_ice40`` / ``synth_ecp5``, then nextpnr.

A block whose ports exceed the package pins is wrapped in the shift-register I/O harness
(:mod:`flows.synth.harness`; its flip-flops are counted in the figures and reported
separately).  nextpnr first packs only (``--pack-only``): if any resource is over 100 % the
result is ``does not fit`` (nextpnr's placer would loop forever, DESIGN.md §7).  Otherwise it
places and routes with ``--timing-allow-fail``; Fmax is the routed figure from ``--report``.
Synthesis is cached per FPGA family, place-and-route per part, each under its own key.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from hdl.fanout import REPLICA_MARK

from .. import cache
from ..tools import log_tail, nextpnr_bin, run_logged, tool_versions, yosys_bin
from .harness import HARNESS_CHAIN, harness_verilog
from .targets import CACHE, TARGETS, SynthError, Target
from .targets import script_hash as _script_hash
from .timing import critical_path
from .verilog import parse_ports

__all__ = ["ECP5_CLASSIC_LUT_MAP", "FPGA_SCRIPT", "FPGA_SCRIPT_ECP5_ABC", "MAPPINGS", "ROUTERS", "fpga_synthesis",
           "script_hash", "synth_fpga"]

log = logging.getLogger(__name__)

#: Before synthesis: the replicated control registers (:mod:`hdl.fanout`, nets named
#: ``*_rep<i>``) are marked ``keep`` so that opt_merge does not fold the copies back into one.
KEEP_REPLICAS = f"proc\nsetattr -set keep 1 w:*{REPLICA_MARK}* %ci1:+$dff[Q]"

FPGA_SCRIPT = """read_verilog -sv {files}
hierarchy -check -top {top}
{prep}
{synth} -top {top} -json synth.json
tee -q -o stat.json stat -json
write_verilog -noattr netlist.v
"""

#: ECP5 classic-ABC LUT mapping: what replaces synth_ecp5's map_luts step (run synth_ecp5
#: ``-run begin:map_luts`` before and ``-run map_cells:`` after).  Also the board build's.
ECP5_CLASSIC_LUT_MAP = """techmap -map +/lattice/latches_map.v
abc -lut 4
clean"""

#: ECP5 with classic ABC: synth_ecp5's own steps, its map_luts replaced by ``abc -lut 4``.
FPGA_SCRIPT_ECP5_ABC = """read_verilog -sv {files}
hierarchy -check -top {top}
{prep}
synth_ecp5 -top {top} -run begin:map_luts
""" + ECP5_CLASSIC_LUT_MAP + """
synth_ecp5 -top {top} -run map_cells: -json synth.json
tee -q -o stat.json stat -json
write_verilog -noattr netlist.v
"""

#: ECP5 LUT mappings (``--mapping``).  ``abc9``: synth_ecp5's ABC9 after ``splitnets``, which
#: avoids Yosys 0.70's ABC9 reintegration assertion on the head (rtlil.cc:3091, DESIGN.md §7);
#: ``abc``: classic ABC; ``auto``: plain synth_ecp5 (ABC9), classic ABC if that asserts.
MAPPINGS = {
    "auto": ("synth_ecp5", KEEP_REPLICAS),
    "abc9": ("synth_ecp5 (ABC9 after splitnets)",
             KEEP_REPLICAS + "\nflatten\nsplitnets -ports -format __"),
    "abc": ("synth_ecp5 (map_luts: abc -lut 4)", KEEP_REPLICAS),
}

#: nextpnr routers (``--router``).
ROUTERS = ("router1", "router2")

#: The resources worth a row in the utilisation table (others are always 0 for our blocks).
_UTIL_KEYS = ("ICESTORM_LC", "ICESTORM_RAM", "ICESTORM_DSP", "SB_IO", "TRELLIS_COMB",
              "TRELLIS_FF", "TRELLIS_RAMW", "DP16KD", "MULT18X18D", "TRELLIS_IO")


def script_hash() -> str:
    """What decides an FPGA result besides the Verilog, the tool versions and the options."""
    return _script_hash("fpga", FPGA_SCRIPT, FPGA_SCRIPT_ECP5_ABC, repr(sorted(MAPPINGS.items())),
                        inspect.getsource(harness_verilog), str(HARNESS_CHAIN))


def synth_fpga(vfile: Path, top: str, target: str, *, force: bool = False,
               harness: str = "always", timeout_s: float = 3600.0,
               freq_mhz: float | None = None, mapping: str = "auto",
               router: str = "router1") -> dict:
    """Synthesise, pack-check, place and route ``top`` on an FPGA ``target``; cached.

    ``mapping`` (ECP5 only, :data:`MAPPINGS`) picks the LUT mapping, ``router`` nextpnr's
    router; both are recorded in the result with the tool versions."""
    tgt = TARGETS[target]
    if mapping not in MAPPINGS or router not in ROUTERS:
        raise SynthError(f"mapping must be one of {', '.join(MAPPINGS)} and router one of "
                         f"{', '.join(ROUTERS)}, not {mapping!r} / {router!r}")
    if tgt.family != "ecp5":
        mapping = "auto"   # iCE40: synth_ice40's own mapping
    vtext = vfile.read_bytes()
    versions = tool_versions()
    ports = parse_ports(vtext.decode(), top)
    pins = sum(w for _, _, w in ports)
    use_harness = harness == "always" or (harness == "auto" and pins > tgt.package_io)
    freq = freq_mhz or tgt.freq_mhz
    skey, syn = fpga_synthesis(vfile, top, tgt.family, harness=use_harness, mapping=mapping,
                               force=force)
    pkey = cache.key("pnr", target, skey, freq, versions[f"nextpnr-{tgt.family}"],
                     script_hash(), router)
    # Shared on the synthesis (its netlist is nextpnr's input), exclusive on this part's result.
    with CACHE.lock(skey, f"{tgt.family} synthesis of {top}", shared=True), \
            CACHE.lock(pkey, f"place and route of {top} on {target}"):
        if not force and (hit := CACHE.get(pkey)) is not None:
            hit["cached"] = True
            return hit
        if CACHE.get(skey) is None:
            raise SynthError(f"the {tgt.family} synthesis of {top} was removed while waiting "
                             f"(another run with --force failed?); run again")
        result: dict[str, Any] = {
            "target": target, "part": tgt.description, "top": top, "status": "ok",
            "cells_by_type": syn["cells_by_type"], **syn["summary"],
            "io": {"block_port_bits": pins, "package_io": tgt.package_io,
                   "mode": "shift-register harness" if use_harness else "direct",
                   **syn["harness_info"]},
            "constraint_mhz": freq, "synth_seconds": syn["seconds"], "cache_key": pkey,
            "cached": False, "mapping": mapping,
            "synth_command": syn.get("synth_command"), "router": router,
            "yosys_version": versions["yosys"],
            "nextpnr_version": versions[f"nextpnr-{tgt.family}"],
        }
        _place_and_route(result, CACHE.dir(skey) / "synth.json", tgt, pkey, freq, timeout_s,
                         router)
        CACHE.put(pkey, result)
    return result


def fpga_synthesis(vfile: Path, top: str, family: str, *, harness: bool, mapping: str = "auto",
                   force: bool = False) -> tuple[str, dict]:
    """Yosys synthesis of ``top`` for an FPGA ``family`` (inside the I/O harness when
    ``harness``), cached: ``(cache key, result)``; the folder ``CACHE.dir(key)`` holds the
    netlist as nextpnr JSON (``synth.json``) and as Verilog (``netlist.v``).  Shared by the
    parts of one family."""
    tgt = next(t for t in TARGETS.values() if t.family == family)
    vtext = vfile.read_bytes()
    ports = parse_ports(vtext.decode(), top)
    skey = cache.key("fpga-synth", family, vtext, top, harness, script_hash(),
                     tool_versions()["yosys"], mapping)
    with CACHE.lock(skey, f"{family} synthesis of {top}"):
        syn = CACHE.get(skey) if not force else None
        if syn is None:
            syn = _synthesise(vfile, top, tgt, skey, ports if harness else None, mapping)
            CACHE.put(skey, syn)
    return skey, syn


def _synthesise(vfile: Path, top: str, tgt: Target, skey: str,
                harness_ports: list[tuple[str, str, int]] | None, mapping: str) -> dict:
    """Yosys synth_ice40 / synth_ecp5 of ``top`` (inside the harness when ``harness_ports``)."""
    t0 = time.monotonic()
    sdir = CACHE.fresh_dir(skey)
    shutil.copy(vfile, sdir / "design.v")
    files = "design.v"
    hinfo: dict[str, int] = {}
    if harness_ports is not None:
        htext, hinfo = harness_verilog(top, harness_ports)
        (sdir / "harness.v").write_text(htext)
        files += " harness.v"
    top_name = "harness_top" if harness_ports is not None else top
    synth_cmd, prep = MAPPINGS[mapping]
    if tgt.family == "ice40":
        synth_cmd = "synth_ice40"
    script = (FPGA_SCRIPT_ECP5_ABC if mapping == "abc" else FPGA_SCRIPT).format(
        files=files, top=top_name, synth=synth_cmd.split()[0], prep=prep)
    (sdir / "synth.ys").write_text(script)
    rc, _ = run_logged([yosys_bin(), "-q", "-l", "yosys.log", "-s", "synth.ys"],
                       sdir, sdir / "yosys.log", f"{top} {synth_cmd}")
    if rc != 0 and mapping == "auto" and tgt.family == "ecp5" and \
            "ABC_OPS_REINTEGRATE" in log_tail(sdir / "yosys.log"):
        # Yosys 0.70's ABC9 LUT mapping asserts on the pipelined head (rtlil.cc:3091, a tool
        # bug; synth_ecp5 has no -noabc9 any more): run synth_ecp5 around its map_luts step
        # and map the LUTs with classic ABC instead.  The result says which was used.
        log.info("%s: synth_ecp5 ABC9 assertion, retrying with classic ABC LUT mapping", top)
        synth_cmd = MAPPINGS["abc"][0] + " after the ABC9 assertion"
        (sdir / "synth.ys").write_text(FPGA_SCRIPT_ECP5_ABC.format(files=files, top=top_name,
                                                                   prep=prep))
        rc, _ = run_logged([yosys_bin(), "-q", "-l", "yosys.log", "-s", "synth.ys"], sdir,
                           sdir / "yosys.log", f"{top} {synth_cmd}")
    if rc != 0 or not (sdir / "stat.json").exists():
        raise SynthError(f"yosys {synth_cmd} failed on {top} (exit {rc}); log "
                         f"{sdir/'yosys.log'}:\n{log_tail(sdir / 'yosys.log')}")
    cells = {k: int(v) for k, v in json.loads((sdir / "stat.json").read_text())["design"]
             .get("num_cells_by_type", {}).items()}
    return {"cells_by_type": dict(sorted(cells.items())),
            "summary": fpga_cells(tgt.family, cells), "harness": harness_ports is not None,
            "harness_info": hinfo, "seconds": round(time.monotonic() - t0, 1),
            "synth_command": synth_cmd}


def _place_and_route(result: dict, netlist: Path, tgt: Target, pkey: str, freq: float,
                     timeout_s: float, router: str) -> None:
    """Pack (utilisation; ``does not fit`` stops here), then place and route; fills ``result``."""
    top, target = result["top"], result["target"]
    pdir = CACHE.dir(pkey)
    pdir.mkdir(parents=True, exist_ok=True)
    base = [nextpnr_bin(tgt.family), *tgt.nextpnr_args, "--json",
            os.path.relpath(netlist, pdir)]
    # 1) pack only: utilisation against the part, fast, never loops.
    rc, _ = run_logged([*base, "--pack-only", "--report", "pack.json", "-l", "pack.log", "-q"],
                       pdir, pdir / "pack.log", f"{top} {target} pack", timeout_s=timeout_s)
    util = {}
    if (pdir / "pack.json").exists():
        util = json.loads((pdir / "pack.json").read_text()).get("utilization", {})
    result["utilisation"] = util_table(util)
    over = {k: v for k, v in result["utilisation"].items() if v["used"] > v["available"]}
    if rc != 0 or not util:
        m = _log_error(pdir / "pack.log")
        if m and ("fit" in m or "more" in m or "exceed" in m):
            result.update(status="does not fit", reason=m)
        else:
            result.update(status="error", reason=m or f"nextpnr pack failed (exit {rc})")
    elif over:
        result.update(status="does not fit", reason="; ".join(
            f"{k} {v['used']}/{v['available']} ({v['pct']:.0f} %)" for k, v in over.items()))
    if result["status"] != "ok":
        log.info("%s %s: %s: %s", top, target, result["status"], result.get("reason"))
        return
    # 2) place and route, routed Fmax from --report.
    t1 = time.monotonic()
    rc, timed_out = run_logged([*base, "--freq", f"{freq:g}", "--timing-allow-fail", "--report",
                                "report.json", "-l", "pnr.log", "-q", "--seed", "1",
                                "--router", router], pdir,
                               pdir / "pnr.log", f"{top} {target} place & route",
                               timeout_s=timeout_s)
    result["pnr_seconds"] = round(time.monotonic() - t1, 1)
    if timed_out:
        result.update(status="timeout", reason=f"nextpnr stopped after {timeout_s:.0f} s")
    elif rc != 0 or not (pdir / "report.json").exists():
        result.update(status="error", reason=_log_error(pdir / "pnr.log") or f"exit {rc}")
    else:
        rep = json.loads((pdir / "report.json").read_text())
        result["utilisation"] = util_table(rep.get("utilization", {})) or result["utilisation"]
        clocks = {k: {"achieved_mhz": round(v["achieved"], 2), "constraint_mhz": v["constraint"]}
                  for k, v in rep.get("fmax", {}).items()}
        result["clocks"] = clocks
        result["fmax_mhz"] = min((c["achieved_mhz"] for c in clocks.values()), default=None)
        result["timing_met"] = all(c["achieved_mhz"] >= c["constraint_mhz"]
                                   for c in clocks.values()) if clocks else None
        result["critical_path"] = critical_path(rep)


def _log_error(log_file: Path) -> str | None:
    """The first ``ERROR:`` message of a nextpnr log."""
    text = log_file.read_text(errors="replace") if log_file.exists() else ""
    m = re.search(r"ERROR: (.*)", text)
    return m.group(1).strip() if m else None


def fpga_cells(family: str, cells: dict[str, int]) -> dict[str, int]:
    """LUT / FF / carry / RAM / DSP counts of a family's cell types."""
    def s(*names: str) -> int:
        return sum(v for k, v in cells.items() if any(re.fullmatch(n, k) for n in names))

    if family == "ice40":
        return {"lut": s("SB_LUT4"), "ff": s(r"SB_DFF\w*"), "carry": s("SB_CARRY"),
                "ram": s(r"SB_RAM\w*", r"SB_SPRAM\w*"), "dsp": s("SB_MAC16")}
    return {"lut": s("LUT4"), "ff": s("TRELLIS_FF"), "carry": s("CCU2C"),
            "ram": s("DP16KD", "PDPW16KD"), "lutram": s("TRELLIS_DPR16X4"),
            "dsp": s("MULT18X18D", "ALU54B"), "mux": s("PFUMX", "L6MUX21")}


def util_table(util: dict) -> dict:
    """nextpnr's utilisation, the rows worth reporting (and any over 100 %), with percentages."""
    out = {}
    for k, v in util.items():
        if k in _UTIL_KEYS or v.get("used", 0) > v.get("available", 0):
            avail = v.get("available", 0)
            out[k] = {"used": v.get("used", 0), "available": avail,
                      "pct": round(100.0 * v.get("used", 0) / avail, 1) if avail else 0.0}
    return out
