"""The synthesis report: ``report.json`` and ``report.md`` (a table per kind of target)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .harness import HARNESS_CHAIN
from .targets import TARGETS

__all__ = ["write_report", "report_markdown"]


def write_report(report: dict, out: Path) -> tuple[Path, Path]:
    """Write report.json and report.md into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    jpath = out / "report.json"
    jpath.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    mpath = out / "report.md"
    mpath.write_text(report_markdown(report))
    return jpath, mpath


def _short(version: str | None) -> str:
    m = re.search(r"Yosys [\w.+-]+|nextpnr-\d[\w.+-]*", version or "")
    return m.group(0) if m else str(version)


def report_markdown(report: dict) -> str:
    a = report["config"]["array"]
    lines = [
        "# Synthesis report",
        "",
        f"Config `{report['config_hash']}`: d = {a['head_dim']}, {a['n_tiles']} tiles × "
        f"{a['tile_cols']} columns, q {a['q_bits']} bit, count {a['count_bits']} bit, adder "
        f"pipelining every {report['config']['timing']['adder_pipeline_every']} levels.",
        f"Tools: {_short(report['tools'].get('yosys'))}; "
        f"{_short(report['tools'].get('nextpnr-ecp5'))} (full: "
        f"{report['tools'].get('yosys')}). RTL: commit "
        f"`{str(report.get('rtl_source', {}).get('commit', '?'))[:10]}`"
        + (" with uncommitted hdl/ edits" if report.get("rtl_source", {}).get(
            "hdl_uncommitted_changes") else "") + ".",
        "",
        "## Generic gates (Yosys `synth -flatten`; `abc -g " + report["generic_gates"] + "`)",
        "",
        f"Transistors = Yosys `stat -tech cmos` gate table + {report['ff_transistors']} per "
        "flip-flop (static master-slave DFF). Depth = gates on the longest path; reg→reg is the "
        "one that sets the clock; `ltp -noff` is Yosys' longest path through any port.",
        "",
        "| block | cells | gates | FFs | transistors | reg→reg | in→reg | reg→out | in→out "
        "| ltp -noff | status |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for b, e in report["blocks"].items():
        r = e["targets"].get("generic")
        if r is None:
            continue
        if r.get("status") != "ok":
            lines.append(f"| {b} | | | | | | | | | | {r.get('status')}: {r.get('reason')} |")
            continue
        d = r["depth"]
        lines.append(f"| {b} | {r['n_cells']} | {r['n_gates']} | {r['n_ff']} | "
                     f"{r['transistors']['total']:,} | {d['reg_to_reg']} | {d['in_to_reg']} | "
                     f"{d['reg_to_out']} | {d['in_to_out']} | {d['ltp_noff']} | ok |")
    fpga = [t for t in TARGETS if t != "generic"]
    rows = [(b, t, e["targets"][t]) for b, e in report["blocks"].items() for t in fpga
            if t in e["targets"]]
    if rows:
        lines += [
            "",
            "## FPGA (Yosys `synth_ice40`/`synth_ecp5`, nextpnr; Fmax after routing)",
            "",
            "| block | target | I/O | LUT | FF | carry | RAM | utilisation | mapping | router | "
            "constraint | Fmax (routed) | P&R s | status |",
            "|---|---|---|---:|---:|---:|---:|---|---|---|---:|---:|---:|---|",
        ]
        paths = []
        for b, t, r in rows:
            if "lut" not in r:
                lines.append(f"| {b} | {t} | | | | | | | | | {r.get('status')}: "
                             f"{r.get('reason')} |")
                continue
            util = ", ".join(f"{k} {v['pct']:.0f} %" for k, v in r.get("utilisation", {}).items()
                             if v["used"] and k not in ("TRELLIS_IO", "SB_IO")) or "–"
            io = r["io"]["mode"]
            if io != "direct":
                io += f" (+{r['io']['harness_in_ffs'] + r['io']['harness_out_ffs']} FF)"
            status = r["status"] if r["status"] == "ok" else f"**{r['status']}**: {r['reason']}"
            fm = f"{r['fmax_mhz']:.1f} MHz" if r.get("fmax_mhz") else "–"
            lines.append(f"| {b} | {t} | {io} | {r['lut']} | {r['ff']} | {r['carry']} | "
                         f"{r['ram']} | {util} | {r.get('synth_command', '?')} | "
                         f"{r.get('router', '?')} | {r['constraint_mhz']:g} MHz | {fm} | "
                         f"{r.get('pnr_seconds', '–')} | {status} |")
            if cp := r.get("critical_path"):
                paths.append(f"* {b} on {t}: `{cp['from_net']}` (cell `{cp['from_cell']}`) → "
                             f"`{cp['to_net']}` (cell `{cp['to_cell']}`): {cp['segments']} "
                             f"routed segments, {cp['logic_ns']} ns logic + "
                             f"{cp['routing_ns']} ns routing = {cp['total_ns']} ns.")
        lines += [
            "",
            "The blocks' ports (hundreds to thousands of bits) exceed every package, so on the "
            "FPGA each block is measured inside a shift-register I/O harness (serial in, "
            f"parallel-capture serial out, chains of ≤ {HARNESS_CHAIN} bits; `--harness`): the "
            "LUT/FF figures include the harness "
            "flip-flops (given in the I/O column), and Fmax is register-to-register through the "
            "block, its port paths included. The raw blocks are meant for ASIC integration. "
            "`does not fit` = nextpnr's packer found a resource over 100 % (place-and-route is "
            "then not attempted).",
        ]
        if paths:
            lines += ["", "Critical paths (nextpnr's report: first and last routed net, with "
                      "the cells they leave and reach):", "", *paths]
    return "\n".join(lines) + "\n"
