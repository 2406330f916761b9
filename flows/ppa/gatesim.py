"""The gate-level simulation behind the switching-activity run: one testbench, Verilator or Icarus.

:mod:`flows.ppa.activity` writes the stimulus (``tok.hex``, ``pulse.hex``, ``sign.hex``) into a
work folder; :func:`run_testbench` simulates the head netlist under :data:`TB` there and leaves
``events.txt`` (token accepts, outputs) and ``act.vcd`` (every net of the ``dut`` scope).

* ``verilator`` (``auto`` picks it for large netlists when installed): ``verilator --binary
  --timing --trace --trace-underscore`` (Yosys names its internal nets ``_123_``, which
  Verilator leaves out of the trace without the last flag).  The executable does not depend
  on the stimulus data (it reads the hex files from its working folder at run time), so it
  is cached by content — netlist, testbench (which holds the token count), flags and
  Verilator version (:mod:`flows.cache`) — under ``build/synth/verilator/<key>``: every run
  on the same netlist and token count after the first (another seed, another technology
  preset) is simulation only.  On the full gated head (~100k cells) Icarus needed 6 min to
  compile and did not finish 24 tokens in 30 min; see flows/README.md for the measured times.
* ``icarus``: ``iverilog -g2012`` + ``vvp``, compiled anew in the work folder (the reference
  simulator from the OS packages).

Both are zero-delay simulations and their VCDs hold the value of each net at the end of every
time step, so the toggle counts are identical (tb/unit/test_ppa.py checks it on a small head).
The testbench runs in picoseconds (``timescale 1ps/1ps``, a 1000 ps clock), so the accept
times it logs are exact VCD times of the clock edges.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

from .. import cache
from ..tools import (
    BUILD,
    ToolMissing,
    compile_icarus,
    log_tail,
    run_vvp,
    verilator_bin,
    verilator_env,
)

__all__ = ["TB", "SIMULATORS", "AUTO_VERILATOR_BYTES", "DUT_SCOPE", "resolve_simulator",
           "run_testbench", "verilator_build", "VERILATOR_FLAGS", "VERILATOR_CACHE"]

log = logging.getLogger(__name__)

#: The simulators :func:`run_testbench` knows; ``auto`` = the first one installed.
SIMULATORS = ("verilator", "icarus")

#: Where the Verilator builds of the testbench are cached (one folder per content key).
VERILATOR_CACHE = BUILD / "synth" / "verilator"

#: ``-fcoroutines``: ``--timing`` code needs C++ coroutines, which g++ 12 only enables with it.
#: ``OPT_FAST=-O0``: the generated C++ of a 100k-cell netlist compiles faster than at the
#: default ``-Os``, and the simulation (a few hundred cycles) is a small part of the run.
VERILATOR_FLAGS = ["--binary", "--timing", "--trace", "--trace-underscore", "-Wno-fatal",
                   "-Wno-lint", "-Wno-style", "-CFLAGS", "-fcoroutines",
                   "-MAKEFLAGS", "OPT_FAST=-O0",
                   "--output-split", "20000", "--top-module", "tb"]

TB = """`timescale 1ps/1ps
module tb;
  localparam NT = {nt}, F = {f}, NCH = {nch}, PW = {pw}, LIMIT = {limit};
  reg clk = 0, rst = 1;
  always #500 clk = ~clk;
  reg [PW-1:0] tok_mem [0:NT-1];
  reg [NCH-1:0] pulse_mem [0:NT*F-1];
  reg [NCH-1:0] sign_mem [0:NT-1];
  reg tok_valid = 0;
  reg [PW-1:0] tok_payload = 0;
  wire tok_ready, out_valid;
  wire [{sets}-1:0] fire_set;       // o_c2p2_fire: a bit per C2P set (ping-pong: 2)
  wire fire = |fire_set;            // the pulses follow any set's count window
  wire [{ow}-1:0] out_payload;
  integer ti = 0, fi = 0, k = 0, cyc = 0, nout = 0, log;
  reg fire_d = 0;
  wire [NCH-1:0] pulse = (fire && fi < NT) ? pulse_mem[fi*F + k] : {{NCH{{1'b0}}}};
  wire [NCH-1:0] sign = (fi < NT) ? sign_mem[fi] : {{NCH{{1'b0}}}};
  attention_head dut (
    .clk(clk), .rst(rst),
    .i_tok__valid(tok_valid), .i_tok__payload(tok_payload), .i_tok__ready(tok_ready),
    .o_out__ready(1'b1), .o_out__valid(out_valid), .o_out__payload(out_payload),
    .i_c2p_pulse(pulse), .i_c2p_sign(sign), .o_c2p2_fire(fire_set)
  );
  initial begin
    $readmemh("tok.hex", tok_mem);
    $readmemh("pulse.hex", pulse_mem);
    $readmemh("sign.hex", sign_mem);
    log = $fopen("events.txt", "w");
    $dumpfile("act.vcd");
    $dumpvars(0, dut);
    repeat (4) @(posedge clk);
    rst <= 0;
    tok_valid <= 1;
    tok_payload <= tok_mem[0];
  end
  always @(posedge clk) begin
    cyc <= cyc + 1;
    if (!rst) begin
      if (tok_valid && tok_ready) begin
        $fwrite(log, "accept %0d %0d %0d\\n", ti, cyc, $time);
        ti <= ti + 1;
        tok_valid <= (ti + 1 < NT);
        if (ti + 1 < NT) tok_payload <= tok_mem[ti + 1];
      end
      if (fire) k <= k + 1;
      else if (fire_d) begin fi <= fi + 1; k <= 0; end
      fire_d <= fire;
      if (out_valid) begin
        nout <= nout + 1;
        $fwrite(log, "out %0d %0d %0d %h\\n", nout, cyc, $time, out_payload);
      end
      if (nout == NT || cyc > LIMIT) begin
        $fwrite(log, "end %0d %0d %0d\\n", nout, cyc, $time);
        $fclose(log);
        $finish;
      end
    end
  end
endmodule
"""

#: The scope of the head's nets in the VCD (Verilator dumps the testbench's own signals too).
DUT_SCOPE = ("tb", "dut")


def verilator_available() -> bool:
    try:
        return Path(verilator_bin()).exists() and shutil.which("g++") is not None
    except ToolMissing:
        return False


#: ``auto`` picks Verilator for netlists larger than this (bytes of the gate netlist, ~60 per
#: cell: ~25,000 cells).  Below it Icarus wins: it compiles a 5,000-cell head in ~1 s where
#: the Verilator build takes 1–2 minutes (mostly its fixed C++ runtime); at 100,000 cells
#: Icarus compiled for 6 min and simulated 24 tokens in more than 30 min.
AUTO_VERILATOR_BYTES = 1_500_000


def resolve_simulator(name: str = "auto", netlist_v: Path | None = None) -> str:
    """``auto`` → ``verilator`` for a netlist over :data:`AUTO_VERILATOR_BYTES` when Verilator
    (and g++) is installed, else ``icarus``; a named one is returned as it is
    (``ValueError`` for an unknown name)."""
    if name == "auto":
        big = netlist_v is None or Path(netlist_v).stat().st_size > AUTO_VERILATOR_BYTES
        return "verilator" if big and verilator_available() else "icarus"
    if name not in SIMULATORS:
        raise ValueError(f"unknown simulator {name!r}; known: auto, {', '.join(SIMULATORS)}")
    return name


def _verilator_version() -> str:
    out = subprocess.run([verilator_bin(), "--version"], capture_output=True, text=True,
                         env=verilator_env())
    return (out.stdout + out.stderr).strip()


def verilator_build(netlist_v: Path, tb_text: str, jobs: int = 2) -> tuple[Path, dict]:
    """The Verilator executable of ``tb_text`` + ``netlist_v`` (cached by their content, the
    flags and the Verilator version); returns (executable, build info)."""
    k = cache.key(Path(netlist_v).read_bytes(), tb_text, VERILATOR_FLAGS, _verilator_version())
    store = cache.ResultCache(VERILATOR_CACHE)
    exe = store.dir(k) / "Vtb"
    with store.lock(k, f"Verilator build of the activity testbench on {Path(netlist_v).name}"):
        info = store.get(k)
        if info is not None and exe.exists():
            return exe, {**info, "cached": True}
        d = store.fresh_dir(k)
        (d / "tb.v").write_text(tb_text)
        shutil.copyfile(netlist_v, d / "netlist.v")
        cmd = [verilator_bin(), *VERILATOR_FLAGS, "-j", str(jobs), "-Mdir", "obj",
               "tb.v", "netlist.v"]
        t0 = time.monotonic()
        log.info("activity: building the testbench with Verilator (%s)", d)
        with open(d / "build.log", "w") as f:
            f.write(" ".join(cmd) + "\n")
        rc = _run_verilator(cmd, d)
        seconds = round(time.monotonic() - t0, 1)
        if rc != 0 or not (d / "obj" / "Vtb").exists():
            raise RuntimeError(f"Verilator build of the activity testbench failed (exit {rc}); "
                               f"log {d / 'build.log'}:\n{log_tail(d / 'build.log')}")
        # keep the executable only: the generated C++ and objects of a full head are large
        os.replace(d / "obj" / "Vtb", exe)
        shutil.rmtree(d / "obj")
        (d / "netlist.v").unlink()
        info = {"key": k, "build_seconds": seconds, "flags": VERILATOR_FLAGS}
        store.put(k, info)
        log.info("activity: Verilator build %.0f s", seconds)
        return exe, {**info, "cached": False}


def _run_verilator(cmd: list[str], d: Path) -> int:
    """Verilator in ``d``, its output appended to ``build.log``, a heartbeat on the logger."""
    with open(d / "build.log", "a") as out:
        proc = subprocess.Popen(cmd, cwd=d, stdout=out, stderr=subprocess.STDOUT,
                                env=verilator_env())
        t0 = time.monotonic()
        while True:
            try:
                return proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log.info("activity: Verilator build %.0f s, %s", time.monotonic() - t0,
                         _progress(d))


def _progress(d: Path) -> str:
    """Where a Verilator build is: verilating, or how many C++ files are compiled."""
    obj = d / "obj"
    cpp = list(obj.glob("*.cpp")) if obj.is_dir() else []
    if not cpp:
        return "verilating"
    return f"compiling C++: {len(list(obj.glob('*.o')))} objects of ~{len(cpp)} sources"


def run_testbench(simulator: str, work: Path, netlist_v: Path, tb_text: str) -> dict:
    """Simulate ``tb_text`` + ``netlist_v`` in ``work`` (which holds the hex files) on
    ``simulator``; ``events.txt`` and ``act.vcd`` are left there.  Returns timings."""
    netlist_v = Path(netlist_v).resolve()
    if simulator == "verilator":
        exe, info = verilator_build(netlist_v, tb_text)
        t0 = time.monotonic()
        proc = subprocess.run([str(exe)], cwd=work, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"the Verilator activity simulation failed (exit "
                               f"{proc.returncode}) in {work}:\n{proc.stdout}{proc.stderr}")
        return {"simulator": "verilator", "build_seconds": info["build_seconds"],
                "build_cached": info["cached"],
                "simulation_seconds": round(time.monotonic() - t0, 1)}
    if simulator != "icarus":
        raise ValueError(f"unknown simulator {simulator!r}")
    (work / "tb.v").write_text(tb_text)
    t0 = time.monotonic()
    log.info("activity: compiling %s with Icarus", netlist_v.name)
    compile_icarus([work / "tb.v", netlist_v], "tb", work / "sim.vvp")
    t1 = time.monotonic()
    run_vvp(work / "sim.vvp", cwd=work)
    (work / "sim.vvp").unlink(missing_ok=True)
    return {"simulator": "icarus", "build_seconds": round(t1 - t0, 1), "build_cached": False,
            "simulation_seconds": round(time.monotonic() - t1, 1)}
