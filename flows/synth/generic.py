"""Generic gate-level synthesis: cells, transistors and logic depth of a block.

Yosys ``synth -flatten`` (adders with Sklansky prefix carries, :data:`ADDER_MAP`), flip-flops legalised to plain ``$_DFF_P_`` (enable and synchronous
reset become gates) — or, for a clock-gated head (``timing.clock_gating``), to ``$_DFF_P_`` and
enable flip-flops ``$_DFFE_PP_`` (the enable drives a clock gate: one integrated clock-gating
cell, :data:`ICG_TRANSISTORS`, per distinct enable net) — ``abc -g`` to simple two-input gates
and MUX with ABC's delay-optimal mapper (:data:`ABC_SCRIPT`: timing-driven, as a flow with a
clock target maps).  Reports cells by type, an
estimated transistor count (Yosys ``stat -tech cmos`` for the gates, flip-flops added explicitly
at :data:`FF_TRANSISTORS` each) and logic depth in gate levels (:func:`flows.netlist.logic_depth`:
reg→reg, in→reg, reg→out, in→out) with Yosys ``ltp -noff`` (any path) as a cross-check.  The gate
netlist is kept for the switching-activity run (:mod:`flows.ppa.activity`).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from pathlib import Path

from .. import cache
from ..netlist import ff_enables, load_module, logic_depth
from ..tools import ROOT, log_tail, run_logged, tool_versions, yosys_bin
from .targets import CACHE, SynthError
from .targets import script_hash as _script_hash

__all__ = ["FF_TRANSISTORS", "ICG_TRANSISTORS", "DFF_CELLS", "CMOS_TRANSISTORS", "GENERIC_GATES", "GENERIC_SCRIPT",
           "script_hash", "synth_generic"]

log = logging.getLogger(__name__)

#: Transistors per flip-flop added to Yosys' gate estimate: a static, positive-edge,
#: transmission-gate master-slave D flip-flop with local clock inverters = 24 transistors
#: (Weste & Harris, *CMOS VLSI Design*, 4th ed., §10.3.4 / Fig. 10.19b: 16 in the latches and
#: feedback + 4 in the clock inverters + 4 in the output buffer).  Yosys' own ``-tech cmos``
#: table counts 16 (the bare latches); the report gives both.
FF_TRANSISTORS = 24

#: Yosys ``stat -tech cmos`` transistor counts of the simple gates (yosys passes/cmds/stat.cc).
CMOS_TRANSISTORS = {
    "$_NOT_": 2, "$_NAND_": 4, "$_NOR_": 4, "$_AND_": 6, "$_OR_": 6, "$_ANDNOT_": 6,
    "$_ORNOT_": 6, "$_XOR_": 12, "$_XNOR_": 12, "$_AOI3_": 6, "$_OAI3_": 6, "$_AOI4_": 8,
    "$_OAI4_": 8, "$_MUX_": 12, "$_NMUX_": 10, "$_BUF_": 0,
}

GENERIC_GATES = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX"

#: Transistors of one integrated clock-gating cell (a latch on the enable, transparent while
#: the clock is low, and an AND2 of clock and latched enable; Weste & Harris, *CMOS VLSI
#: Design*, 4th ed., §10.4.x clock gating): the latch = half the 24-transistor master-slave
#: flip-flop (:data:`FF_TRANSISTORS`) = 12, plus the AND2 of Yosys' cmos table, 6.
ICG_TRANSISTORS = 18

#: Synthesis: Yosys ``synth``, or — clock gating — the same passes with enable inference only
#: at the word level (before ``techmap``: the RTL's ``If(enable)`` registers and the memory's
#: write enables), not on single gates, where ``opt_dff`` would turn single gates in front of single flip-flops into
#: per-bit enables (one clock gate per bit is no clock gating).
SYNTH_CMDS = {
    False: "synth -flatten -noabc -top {top} -extra-map {adders}",
    True: "synth -flatten -top {top} -run begin:fine\n"
          "opt -fast -full\nmemory_map\nopt -full\ntechmap -map +/techmap.v -map {adders}\n"
          "opt -fast -nodffe\nsynth -top {top} -run check:",
}

#: Carry logic of the adders: a Sklansky parallel-prefix carry tree (log2 depth, what an ASIC
#: synthesis tool picks for a timed adder) instead of Yosys' default Brent-Kung ``$lcu``.
ADDER_MAP = "+/choices/sklansky.v"

#: The gate mapping: ABC's delay-optimal mapper with area recovery (``&nf``) on the structure
#: Yosys built, without the area-oriented AIG rewriting of Yosys' default script (``&fraig``,
#: ``scorr``, ``dc2``), which turned the adders' prefix carry trees back into ripple chains
#: (a 9-bit adder: 15 gate levels instead of 9).  Synthesis runs no earlier ``abc`` (``-noabc``)
#: for the same reason.  Issue 12: depth as a timing-driven flow would see it.
ABC_SCRIPT = "+strash;&get,-n;&dch,-f;&nf;&put"

#: After ``abc``: nothing, or — clock gating — merge the equal enable gates abc kept apart.
POST_ABC = {False: "", True: "opt_merge"}

#: Flip-flop legalisation: plain flip-flops only (enables and synchronous resets become
#: gates), or — clock gating — enable flip-flops kept: synchronous resets (Amaranth's ``rst``,
#: inferred with priority over the enable) are first turned into reset-under-enable cells
#: (enable |= reset), then unmapped into the data path, so the enable survives as ``$_DFFE_PP_``.
DFF_CELLS = {
    False: "dfflegalize -cell $_DFF_P_ 01 -cell $_DFF_PP0_ 01 -cell $_DFF_PP1_ 01",
    True: "dfflegalize -cell $_SDFFCE_PP0P_ 01 -cell $_SDFFCE_PP1P_ 01 -cell $_DFFE_PP_ 01 "
          "-cell $_DFF_P_ 01 -cell $_SDFF_PP0_ 01 -cell $_SDFF_PP1_ 01 -cell $_DFF_PP0_ 01 "
          "-cell $_DFF_PP1_ 01\n"
          "dffunmap -srst-only\n"
          "dfflegalize -cell $_DFF_P_ 01 -cell $_DFFE_PP_ 01 -cell $_DFF_PP0_ 01 "
          "-cell $_DFF_PP1_ 01\n"
          "opt_merge",   # the per-bit (enable | reset) gates are one net per register again
}

GENERIC_SCRIPT = """read_verilog -sv {vfile}
hierarchy -check -top {top}
{synth}
{dff_cells}
abc -g {gates} -script {abc_script}
{post_abc}
opt_clean -purge
rename -enumerate
tee -q -o stat.json stat -json -tech cmos
tee -q -o ltp.txt ltp -noff
write_json netlist.json
write_verilog -noattr netlist.v
"""


def script_hash() -> str:
    """What decides a generic result besides the Verilog and the Yosys version."""
    return _script_hash("generic", GENERIC_SCRIPT, GENERIC_GATES, str(FF_TRANSISTORS),
                        str(ICG_TRANSISTORS), repr(sorted(DFF_CELLS.items())),
                        repr(sorted(SYNTH_CMDS.items())), repr(sorted(POST_ABC.items())),
                        ADDER_MAP, ABC_SCRIPT,
                        repr(sorted(CMOS_TRANSISTORS.items())))


def synth_generic(vfile: Path, top: str, *, force: bool = False, gated: bool = False) -> dict:
    """Generic gate-level synthesis of ``vfile`` (module ``top``); cached.  ``gated`` keeps
    enable flip-flops (clock gating) instead of turning enables into multiplexers."""
    vtext = vfile.read_bytes()
    key = cache.key("generic", vtext, top, script_hash(), tool_versions()["yosys"],
                    *(["gated"] if gated else []))
    with CACHE.lock(key, f"generic synthesis of {top}"):
        if not force and (hit := CACHE.get(key)) is not None:
            hit["cached"] = True
            return hit
        result = _synthesise(vfile, top, key, gated)
        CACHE.put(key, result)
    return result


def _synthesise(vfile: Path, top: str, key: str, gated: bool) -> dict:
    work = CACHE.fresh_dir(key)
    shutil.copy(vfile, work / "design.v")
    (work / "synth.ys").write_text(GENERIC_SCRIPT.format(vfile="design.v", top=top,
                                                         gates=GENERIC_GATES,
                                                         dff_cells=DFF_CELLS[gated],
                                                         post_abc=POST_ABC[gated],
                                                         abc_script=ABC_SCRIPT,
                                                         synth=SYNTH_CMDS[gated].format(
                                                             top=top, adders=ADDER_MAP)))
    t0 = time.monotonic()
    rc, _ = run_logged([yosys_bin(), "-q", "-l", "yosys.log", "-s", "synth.ys"],
                       work, work / "yosys.log", f"{top} generic yosys")
    if rc != 0 or not (work / "stat.json").exists():
        raise SynthError(f"yosys (generic) failed on {top} (exit {rc}); log {work/'yosys.log'}:\n"
                         f"{log_tail(work / 'yosys.log')}")
    mod = json.loads((work / "stat.json").read_text())["design"]
    cells = {k: int(v) for k, v in mod.get("num_cells_by_type", {}).items()}
    ffs = {k: v for k, v in cells.items() if "DFF" in k or "LATCH" in k}
    gates = {k: v for k, v in cells.items() if k not in ffs}
    unknown = sorted(k for k in gates if k not in CMOS_TRANSISTORS)
    t_gates = sum(CMOS_TRANSISTORS.get(k, 0) * v for k, v in gates.items())
    n_ff = sum(ffs.values())
    ltp_text = (work / "ltp.txt").read_text() if (work / "ltp.txt").exists() else ""
    m = re.search(r"length=(\d+)", ltp_text)
    depth = logic_depth(work / "netlist.json", top)
    n_icg = len(ff_enables(load_module(work / "netlist.json", top)))
    return {
        "target": "generic", "status": "ok", "top": top,
        "cells_by_type": dict(sorted(cells.items())),
        "n_cells": sum(cells.values()), "n_gates": sum(gates.values()), "n_ff": n_ff,
        "transistors": {
            "gates": t_gates, "ff": n_ff * FF_TRANSISTORS, "ff_each": FF_TRANSISTORS,
            "icg": n_icg * ICG_TRANSISTORS, "n_icg": n_icg, "icg_each": ICG_TRANSISTORS,
            "total": t_gates + n_ff * FF_TRANSISTORS + n_icg * ICG_TRANSISTORS,
            "yosys_estimate": int(str(mod.get("estimated_num_transistors", 0) or 0).rstrip("+")),
            "unknown_cell_types": unknown,
        },
        "depth": {**depth, "ltp_noff": int(m.group(1)) if m else None},
        "seconds": round(time.monotonic() - t0, 1),
        "netlist": str((work / "netlist.v").relative_to(ROOT)),
        "netlist_json": str((work / "netlist.json").relative_to(ROOT)),
        "cache_key": key, "cached": False,
    }
