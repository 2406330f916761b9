"""Reads of gain cells that hold one of a few voltage levels: the compiled kernel.

With the DAC quantising K and V, every cell of a bank holds one of ``2**kv_bits`` voltages (8 at
the defaults, 0 V, the discharge level, among them) and, without per-cell mismatch, its
current at leakage factor D is a function of its level alone:
``Σ_k D^p_k·term_k(level)``.  :class:`~analog_models.array.GainCellBank` then stores a level
index per cell (64 KiB per bank at the defaults) instead of the per-cell term matrices (1.5 MiB
each, read from the last-level cache every token), and a read is one table lookup per cell
(:file:`level_read.c`; the order of its float operations is written there).  It is the same
sum in another order: the results agree with the matrix path to ~1e-15 relative (tested), and
both the golden token path and the co-simulation bridge read through it, so they stay bit for
bit equal to each other.

The C source is compiled on first use with the system C compiler (``$CC`` or ``cc``; the
set-up installs it for Verilator) into ``build/native/`` beside this package, keyed by the
source, the flags and the compiler's version, so a changed kernel is rebuilt and concurrent
first uses do not clash (each writes its own file, then renames it).  Without a compiler the
banks fall back to the matrix path, with one warning (:func:`kernel` returns None and
:func:`unavailable_reason` says why): slower, the same counts.

Two implementations share one order of operations: AVX-512 where the CPU has it and portable C
(``fma()`` lane by lane) elsewhere; they give the same bits (tested on every CI run), so results
do not depend on the machine.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np

__all__ = ["LEVELS", "LANES", "kernel", "unavailable_reason", "LevelKernel"]

#: Table entries per power: a bank with more distinct cell voltages reads by matrices.
LEVELS = 16
#: Rows are stored padded to a multiple of this (one AVX-512 register of float64).
LANES = 8

SOURCE = Path(__file__).with_name("level_read.c")
FLAGS = ("-O2", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math")
BUILD = Path(__file__).resolve().parent.parent / "build" / "native"

_ptr = ctypes.c_void_p
_state: dict[str, object] = {}


class LevelKernel:
    """The loaded kernel: :meth:`read_columns`, :meth:`read_rows` (see level_read.c)."""

    def __init__(self, lib: ctypes.CDLL, path: Path) -> None:
        self.path = path
        self._lib = lib
        lib.gca_read_columns.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int,
                                         ctypes.c_int, _ptr, _ptr, _ptr, _ptr, _ptr]
        lib.gca_read_rows.argtypes = [ctypes.c_int] * 5 + [_ptr] * 5
        lib.gca_read_columns.restype = lib.gca_read_rows.restype = None
        if lib.gca_levels() != LEVELS:
            raise RuntimeError(f"{path}: built for {lib.gca_levels()} levels, not {LEVELS}")
        #: the CPU has AVX-512 and the kernel was built with it
        self.simd = bool(lib.gca_has_avx512())

    def read_columns(self, code: np.ndarray, table: np.ndarray, x: np.ndarray,
                     decay: np.ndarray | None, *, simd: bool | None = None) -> np.ndarray:
        """S (n_tc,) = Σ_r x_r·h_c[code[c, r]]: ``code`` (n_tc, rows) uint8 C-contiguous,
        rows a multiple of :data:`LANES`; ``table`` (n_powers, LEVELS); ``x`` (rows,);
        ``decay`` (n_powers, n_tc) or None (no leakage).  ``simd=False`` forces the portable
        code (tests)."""
        n_tc, rows = code.shape
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty(n_tc)
        self._lib.gca_read_columns(self._use_simd(simd), n_tc, rows, table.shape[0],
                                   code.ctypes.data, table.ctypes.data, x.ctypes.data,
                                   _data(decay), out.ctypes.data)
        return out

    def read_rows(self, code: np.ndarray, table: np.ndarray, a: np.ndarray,
                  decay: np.ndarray | None, *, simd: bool | None = None) -> np.ndarray:
        """O (nt, rows) = Σ_c a[t, c]·h_c[code[t, c, r]]: ``code`` (nt, cols, rows) uint8,
        ``a`` (nt, cols) pulse fractions, the rest as :meth:`read_columns`."""
        nt, cols, rows = code.shape
        a = np.ascontiguousarray(a, dtype=np.float64)
        out = np.empty((nt, rows))
        self._lib.gca_read_rows(self._use_simd(simd), nt, cols, rows, table.shape[0],
                                code.ctypes.data, table.ctypes.data, a.ctypes.data,
                                _data(decay), out.ctypes.data)
        return out

    def _use_simd(self, simd: bool | None) -> int:
        return int(self.simd if simd is None else (simd and self.simd))


def _data(a: np.ndarray | None) -> int | None:
    if a is None:
        return None
    if not (a.flags.c_contiguous and a.dtype == np.float64):
        raise ValueError("leakage factors must be a C-contiguous float64 array")
    return a.ctypes.data


def _compiler() -> str | None:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    return cc if cc and shutil.which(cc) else None


def _build(cc: str) -> Path:
    version = subprocess.run([cc, "--version"], capture_output=True, text=True,
                             check=True).stdout
    key = hashlib.sha256("\0".join([SOURCE.read_text(), " ".join(FLAGS), version]).encode())
    name = f"level_read-{key.hexdigest()[:16]}.so"
    for folder in (BUILD, Path(tempfile.gettempdir()) / "gca-native"):
        lib = folder / name
        if lib.is_file():
            return lib
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=folder)
            os.close(fd)
        except OSError:
            continue                   # not writable: the next folder
        try:
            proc = subprocess.run([cc, *FLAGS, "-o", tmp, str(SOURCE), "-lm"],
                                  capture_output=True, text=True)
            if proc.returncode:
                raise RuntimeError(f"{cc} failed on {SOURCE.name}: "
                                   f"{(proc.stderr or proc.stdout).strip()[:500]}")
            os.replace(tmp, lib)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return lib
    raise RuntimeError(f"no writable folder for the compiled kernel ({BUILD})")


def kernel() -> LevelKernel | None:
    """The kernel, compiled and loaded on first call; None (with one warning) if it cannot be
    built here — the banks then read by matrices."""
    if "kernel" not in _state:
        k, why = None, None
        cc = _compiler()
        if cc is None:
            why = "no C compiler (set $CC or install gcc)"
        else:
            try:
                path = _build(cc)
                k = LevelKernel(ctypes.CDLL(str(path)), path)
            except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
                why = str(e)
        _state["kernel"], _state["why"] = k, why
        if why:
            warnings.warn(f"gain-cell level kernel unavailable ({why}): the arrays read by "
                          f"matrices (same counts, several times slower)", RuntimeWarning,
                          stacklevel=2)
    return _state["kernel"]  # type: ignore[return-value]


def unavailable_reason() -> str | None:
    """Why :func:`kernel` returned None (None if it loaded or was not tried yet)."""
    return _state.get("why")  # type: ignore[return-value]
