"""Build generated Verilog and run a cocotb test module on it (Icarus or Verilator).

The only place that talks to ``cocotb_tools.runner``; pytest tests and the ``tb.cosim.head``
command both call :func:`run_cocotb`.  The config reaches the cocotb test through the
``config.json`` sidecar beside the Verilog (``GCA_CONFIG`` names it); the cocotb side reads it with
:func:`load_sidecar_config`.

Simulator: ``sim=`` argument, else the ``SIM`` environment variable, else Icarus.  Waveforms with
``WAVES=1`` (written under the build folder, never the working directory).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from flows.tools import ROOT as REPO_ROOT
from hdl.config import HeadConfig, load_config

__all__ = ["run_cocotb", "load_sidecar_config", "selected_simulator", "REPO_ROOT"]

SIMULATORS = ("icarus", "verilator")


def selected_simulator(sim: str | None = None) -> str:
    sim = (sim or os.environ.get("SIM") or "icarus").lower()
    if sim not in SIMULATORS:
        raise ValueError(f"SIM must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    return sim


def load_sidecar_config() -> HeadConfig:
    """In a cocotb test: the HeadConfig of the Verilog under test (from its config.json)."""
    path = os.environ.get("GCA_CONFIG")
    if not path:
        raise RuntimeError("GCA_CONFIG is not set: run cocotb tests through tb.cosim.runner")
    return load_config(path)


def run_cocotb(*, toplevel: str, verilog_dir: Path, test_module: str,
               build_dir: Path, sim: str | None = None, sources: list[Path] | None = None,
               extra_env: dict[str, str] | None = None, testcase: str | None = None,
               waves: bool | None = None, seed: int | None = None) -> tuple[int, int]:
    """Build ``toplevel`` from ``verilog_dir`` and run ``test_module`` on it.

    Returns ``(tests, failed)`` read from the results XML; raises ``AssertionError`` when a
    test failed or none ran, so that a failure can never look like a pass.
    """
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    from flows.tools import iverilog, verilator_env

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
        **(extra_env or {}),
    }
    build_args: list[str] = []
    if sim == "icarus":
        iverilog()  # clear error if missing
    else:
        os.environ.update({k: v for k, v in verilator_env().items()
                           if k in ("VERILATOR_ROOT", "PATH", "MAKEFLAGS")})
        build_args = ["-Wno-fatal", "-O3", "--x-assign", "fast", "--x-initial", "fast"]
    runner = get_runner(sim)
    runner.build(sources=srcs, hdl_toplevel=toplevel, build_dir=build_dir, always=True,
                 timescale=("1ns", "1ps"), waves=waves, build_args=build_args)
    results = build_dir / f"results_{test_module.rsplit('.', 1)[-1]}.xml"
    if results.exists():
        results.unlink()
    runner.test(hdl_toplevel=toplevel, test_module=test_module, build_dir=build_dir,
                test_dir=build_dir, results_xml=str(results), extra_env=env, waves=waves,
                testcase=testcase, seed=seed, timescale=("1ns", "1ps"))
    tests, failed = get_results(results)
    assert tests > 0, f"cocotb ran no test from {test_module} (see {results})"
    assert failed == 0, f"{failed} of {tests} cocotb tests failed in {test_module} ({results})"
    return tests, failed
