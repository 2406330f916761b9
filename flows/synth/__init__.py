"""Synthesis and place-and-route reports of the generated Verilog (YoWASP Yosys + nextpnr).

``python -m flows.synth [--config F] [--set k=v] [--target generic,ecp5-25k,...]
[--block NAME|all|head] [--out DIR]`` writes ``report.json`` and ``report.md``.

Targets (:data:`TARGETS`)
-------------------------
``generic``
    Gate-level synthesis to simple gates: cells, transistors, logic depth
    (:mod:`flows.synth.generic`).
``ice40-up5k``, ``ice40-hx8k``, ``ecp5-25k``, ``ecp5-85k``
    ``synth_ice40`` / ``synth_ecp5`` then nextpnr, inside a shift-register I/O harness when the
    ports exceed the package; ``does not fit`` when the packer finds a resource over 100 %
    (:mod:`flows.synth.fpga`, :mod:`flows.synth.harness`); the ECP5 LUT mapping
    (:data:`MAPPINGS`), the router and the constraint are options, the critical path is
    reported (:mod:`flows.synth.timing`).

Every result is cached under ``build/synth/cache`` (:mod:`flows.cache`) by a hash of the
Verilog, the step's script, the tool versions and the options.  The YoWASP tools cannot see
``/tmp``, so they always run inside the project's ``build/`` with relative paths, whatever
``--out`` is.

Modules: ``targets`` (targets, :class:`SynthError`, cache location), ``verilog`` (blocks,
Verilog, ports), ``harness``, ``generic``, ``fpga``, ``timing`` (critical path), ``mapped``
(the ECP5-mapped head as simulation Verilog), ``flow`` (:func:`run_synth`), ``report``
(Markdown), ``cli`` (:func:`main`).
"""

from hdl.registry import HEAD_BLOCK

from ..netlist import logic_depth
from ..tools import rtl_source, tool_versions
from .cli import main
from .flow import run_synth
from .fpga import MAPPINGS, ROUTERS, synth_fpga
from .generic import FF_TRANSISTORS, GENERIC_GATES, ICG_TRANSISTORS, synth_generic
from .harness import HARNESS_CHAIN, harness_verilog
from .report import report_markdown, write_report
from .targets import BUILD, CACHE, TARGETS, SynthError, Target
from .timing import critical_path
from .verilog import emit_verilog, parse_ports, resolve_blocks

__all__ = [
    "TARGETS", "Target", "FF_TRANSISTORS", "ICG_TRANSISTORS", "GENERIC_GATES", "HARNESS_CHAIN", "HEAD_BLOCK",
    "SynthError", "BUILD", "CACHE", "tool_versions", "rtl_source", "resolve_blocks",
    "emit_verilog", "parse_ports", "harness_verilog", "synth_generic", "synth_fpga",
    "logic_depth", "run_synth", "write_report", "report_markdown", "main", "MAPPINGS",
    "ROUTERS", "critical_path",
]
