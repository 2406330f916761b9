"""Compiling and loading the project's C kernels (:mod:`analog_models.level_read`,
:mod:`sim.golden.block_steps`, :mod:`sim.golden.v_product`, :mod:`tb.cosim.pins`), and the
cache-line-aligned arrays they write fastest (:func:`aligned`).

A kernel's C source is compiled on first use with the system C compiler (``$CC`` or ``cc``; the
set-up installs it for Verilator) into ``build/native/`` of the repository, keyed by the
source, the flags and the compiler's version, so a changed kernel is rebuilt and concurrent
first uses do not clash (each writes its own file, then renames it).  When ``build/`` is not
writable the library goes to the system's temporary folder.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

__all__ = ["FLAGS", "BUILD", "ALIGN", "compiler", "build", "load_once", "aligned"]

K = TypeVar("K")

#: Flags of every kernel: no fused multiply-add the source does not write, IEEE semantics.
FLAGS = ("-O3", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math")
BUILD = Path(__file__).resolve().parent.parent / "build" / "native"

#: Byte alignment of :func:`aligned` arrays: a cache line.  A kernel writing an output it does
#: not read back uses streaming stores on whole lines (no read of each line before it is
#: overwritten: ~3× faster for the golden run's outputs here); on a misaligned array it falls
#: back to ordinary stores (the same values).
ALIGN = 64


def aligned(alloc: Callable[..., np.ndarray], shape: tuple[int, ...], dtype) -> np.ndarray:
    """``alloc(shape, dtype=dtype)`` (``np.empty`` or ``np.zeros``) starting on an
    :data:`ALIGN`-byte boundary: a view into a slightly larger allocation."""
    dt = np.dtype(dtype)
    n = int(np.prod(shape))
    raw = alloc(n + ALIGN // dt.itemsize, dtype=dt)
    off = (-raw.ctypes.data % ALIGN) // dt.itemsize
    return raw[off:off + n].reshape(shape)


def compiler() -> str | None:
    """The C compiler to use (``$CC``, ``cc`` or ``gcc``), or None when there is none."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    return cc if cc and shutil.which(cc) else None


def build(cc: str, source: Path, flags: tuple[str, ...] = FLAGS, folder: Path = BUILD) -> Path:
    """The shared library of ``source`` built by ``cc`` with ``flags`` (cached by content in
    ``folder``, else in the temporary folder); RuntimeError with the compiler's message when it
    fails, CalledProcessError when ``cc --version`` does."""
    version = subprocess.run([cc, "--version"], capture_output=True, text=True,
                             check=True).stdout
    key = hashlib.sha256("\0".join([source.read_text(), " ".join(flags), version]).encode())
    name = f"{source.stem}-{key.hexdigest()[:16]}.so"
    for where in (folder, Path(tempfile.gettempdir()) / "gca-native"):
        lib = where / name
        if lib.is_file():
            return lib
        try:
            where.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=where)
            os.close(fd)
        except OSError:
            continue                   # not writable: the next folder
        try:
            proc = subprocess.run([cc, *flags, "-o", tmp, str(source), "-lm"],
                                  capture_output=True, text=True)
            if proc.returncode:
                raise RuntimeError(f"{cc} failed on {source.name}: "
                                   f"{(proc.stderr or proc.stdout).strip()[:500]}")
            os.replace(tmp, lib)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return lib
    raise RuntimeError(f"no writable folder for the compiled kernel ({folder})")


def load_once(state: dict, find_compiler: Callable[[], str | None],
              build_with: Callable[[str], Path], wrap: Callable[[ctypes.CDLL, Path], K],
              what: str, fallback: str) -> K | None:
    """A kernel kept in ``state``: on the first call ``wrap(library, path)`` of the library
    ``build_with(find_compiler())`` builds; None when there is no compiler or the build or the
    load fails — ``state["why"]`` says why, and one RuntimeWarning
    ``"{what} unavailable ({why}): {fallback}"`` is given."""
    if "kernel" not in state:
        k, why = None, None
        cc = find_compiler()
        if cc is None:
            why = "no C compiler (set $CC or install gcc)"
        else:
            try:
                path = build_with(cc)
                k = wrap(ctypes.CDLL(str(path)), path)
            except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
                why = str(e)
        state["kernel"], state["why"] = k, why
        if why:
            warnings.warn(f"{what} unavailable ({why}): {fallback}", RuntimeWarning,
                          stacklevel=3)
    return state["kernel"]
