"""The synthesis flow: every block on every target, one report dict (``report.json``)."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

from hdl.config import HeadConfig

from ..tools import ToolMissing, rtl_source, tool_versions
from . import fpga, generic
from .fpga import synth_fpga
from .generic import FF_TRANSISTORS, GENERIC_GATES, synth_generic
from .targets import BUILD, SynthError, check_targets
from .verilog import emit_verilog, parse_ports

__all__ = ["run_synth"]

log = logging.getLogger(__name__)


def run_synth(cfg: HeadConfig, blocks: list[str], targets: list[str], *,
              verilog_dir: Path | None = None, force: bool = False, harness: str = "always",
              timeout_s: float = 3600.0, mapping: str = "auto", router: str = "router1",
              freq_mhz: float | None = None) -> dict:
    """Synthesise every block on every target; returns the report dict (report.json).

    A block that does not elaborate, or a target whose tools fail, is a row of the report with
    its status and reason, not an exception.  ``mapping`` (ECP5 LUT mapping), ``router`` and
    ``freq_mhz`` (nextpnr constraint; default the target's) go to :func:`synth_fpga`."""
    check_targets(targets)
    vdir = verilog_dir or (BUILD / "verilog" / cfg.hash)
    report: dict[str, Any] = {
        "schema": "gca-synth-report/1",
        "config": cfg.to_dict(), "config_hash": cfg.hash,
        "tools": tool_versions(),
        "script_sha256": {"generic": generic.script_hash()[:16],
                          "fpga": fpga.script_hash()[:16]},
        "ff_transistors": FF_TRANSISTORS, "generic_gates": GENERIC_GATES,
        "rtl_source": rtl_source(),
        "blocks": {},
    }
    for block in blocks:
        t0 = time.monotonic()
        log.info("%s: Verilog for config %s", block, cfg.hash)
        try:
            vfile = emit_verilog(cfg, block, vdir)
        except Exception as e:  # a block that does not elaborate is a row of the report
            reason = f"Verilog generation failed: {type(e).__name__}: {e}".strip()
            log.info("%s: %s", block, reason)
            report["blocks"][block] = {"targets": {t: {"target": t, "status": "error",
                                                       "reason": reason} for t in targets}}
            continue
        vtext = vfile.read_text()
        ports = parse_ports(vtext, block)
        entry: dict[str, Any] = {
            "verilog": str(vfile), "verilog_sha256": hashlib.sha256(vtext.encode()).hexdigest()[
                :16], "verilog_lines": vtext.count("\n"),
            "port_bits": {"in": sum(w for d, _, w in ports if d == "input"),
                          "out": sum(w for d, _, w in ports if d == "output")},
            "targets": {},
        }
        for t in targets:
            log.info("%s: %s ...", block, t)
            try:
                if t == "generic":
                    res = synth_generic(vfile, block, force=force,
                                        gated=cfg.timing.clock_gating)
                else:
                    res = synth_fpga(vfile, block, t, force=force, harness=harness,
                                     timeout_s=timeout_s, mapping=mapping, router=router,
                                     freq_mhz=freq_mhz)
            except (SynthError, ToolMissing) as e:
                res = {"target": t, "status": "error", "reason": str(e)}
            entry["targets"][t] = res
            log.info("%s: %s %s", block, t, _one_line(res))
        entry["seconds"] = round(time.monotonic() - t0, 1)
        report["blocks"][block] = entry
    return report


def _one_line(r: dict) -> str:
    tag = " (cached)" if r.get("cached") else ""
    if r.get("status") != "ok":
        return f"{r.get('status')}: {r.get('reason', '')}{tag}"
    if r["target"] == "generic":
        return (f"{r['n_cells']} cells, {r['transistors']['total']} transistors, "
                f"reg→reg depth {r['depth']['reg_to_reg']}{tag}")
    cp = r.get("critical_path") or {}
    return (f"{r.get('lut')} LUT, {r.get('ff')} FF, {r.get('carry')} carry, "
            f"Fmax {r.get('fmax_mhz')} MHz ({r.get('synth_command')}, {r.get('router')}; "
            f"critical path {cp.get('from_net')} → {cp.get('to_net')}){tag}")
