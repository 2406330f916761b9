"""The vectorised path's steps of one block of queries between its two matrix products: the
window mask, the ReLU C2P, the scores' and activations' window rows and the V product's left
operand.

:file:`block_steps.c` does them in one pass over each query row while the row is in cache
(numpy needs a pass per step over the block, ~10 MB of memory traffic per 64 queries); its
operations are numpy's, in numpy's order, so both give the same bits (tested).  The C source is
compiled on first use (:mod:`analog_models.native`); without a compiler :func:`block_act` and
:func:`tiles_add` run in numpy, with one warning.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from analog_models import native
from analog_models.c2p import relu_c2p
from hdl.config import HeadConfig

__all__ = ["block_act", "tiles_add", "kernel", "unavailable_reason", "check_buffer"]

SOURCE = Path(__file__).with_name("block_steps.c")
_state: dict[str, object] = {}
_ptr, _int, _long, _double = ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_double


def kernel() -> ctypes.CDLL | None:
    """The compiled steps, built and loaded on first call; None (one warning) without them."""
    return native.load_once(_state, native.compiler, lambda cc: native.build(cc, SOURCE),
                            _declare, "golden block kernel",
                            "the vectorised path's block steps run in numpy (same results, "
                            "slower)")


def _declare(lib: ctypes.CDLL, path: Path) -> ctypes.CDLL:
    lib.gca_block_act.argtypes = [_int] * 4 + [_long] * 3 + [_double] + [_ptr] * 5
    lib.gca_tiles_add.argtypes = [_int] * 5 + [_ptr] * 3
    lib.gca_block_act.restype = lib.gca_tiles_add.restype = None
    return lib


def unavailable_reason() -> str | None:
    """Why :func:`kernel` returned None (None if it loaded or was not tried yet)."""
    return _state.get("why")  # type: ignore[return-value]


def check_buffer(a: np.ndarray | None, shape: tuple[int, ...], name: str) -> int | None:
    """The address of ``a`` for a kernel (None for None), after checking it is a C-contiguous
    float64 array of ``shape`` (ValueError naming ``name`` if not)."""
    if a is None:
        return None
    if a.shape != shape or a.dtype != np.float64 or not a.flags.c_contiguous:
        raise ValueError(f"{name} must be a C-contiguous float64 array of shape {shape}, "
                         f"not {a.dtype} {a.shape}")
    return a.ctypes.data


def block_act(s: np.ndarray, ap: np.ndarray, t0: int, s0: int, cfg: HeadConfig,
              left: np.ndarray | None, scores: np.ndarray | None = None,
              activations: np.ndarray | None = None, *, compiled: bool = True) -> None:
    """The K side's read-out of one block, in place.

    ``s`` (bq, k_ch·cols): the scores of queries t0 … t0 + bq − 1 against the keys s0 …
    s0 + k_ch·cols − 1; it becomes the activations ``A = relu_c2p(s masked to each query's
    window)``.  ``scores``/``activations`` (bq, W), if given: the block's window rows, written
    whole (column ``s mod W`` of each key in the query's window, 0 in the other columns: those
    of a window not yet full).
    ``left`` (k_ch, bq, n·cols) ← ``A[t, chunk, c]·ap[i, t]``, for ``ap`` (n, bq) (None: not
    made — :func:`.v_product.fused` makes it a chunk at a time).
    ``compiled=False`` runs the numpy steps (tests)."""
    W, cols = cfg.array.window, cfg.array.tile_cols
    bq, L = s.shape
    n, k_ch = ap.shape[0], L // cols
    if s0 % cols or k_ch * cols != L:
        raise ValueError(f"block of {L} keys from key {s0}: not whole chunks of {cols} keys")
    ap = np.ascontiguousarray(ap, dtype=np.float64)
    ptrs = [check_buffer(s, (bq, L), "s"), check_buffer(ap, (n, bq), "ap"),
            check_buffer(scores, (bq, W), "scores"),
            check_buffer(activations, (bq, W), "activations"),
            check_buffer(left, (k_ch, bq, n * cols), "left")]
    lib = kernel() if compiled else None
    if lib is not None:
        lib.gca_block_act(bq, k_ch, cols, n, t0, s0, W, cfg.analog.s_sat1_uA, *ptrs)
        return
    tq = np.arange(t0, t0 + bq)[:, None]
    keys = np.arange(s0, s0 + L)[None, :]
    inside = (keys > tq - W) & (keys <= tq)
    s[~inside] = 0.0
    r, c = np.nonzero(inside)
    if scores is not None:
        scores[...] = 0.0
        scores[r, (s0 + c) % W] = s[r, c]
    s[...] = relu_c2p(s, cfg)
    if activations is not None:
        activations[...] = 0.0
        activations[r, (s0 + c) % W] = s[r, c]
    if left is None:
        return
    a3 = s.reshape(bq, k_ch, cols).transpose(1, 0, 2)                       # (k, bq, cols)
    np.multiply(a3[:, :, None, :], np.repeat(ap.T[:, :, None], cols, axis=2),
                out=left.reshape(k_ch, bq, n, cols))


def tiles_add(ob: np.ndarray, first: int, e: np.ndarray | None, src: np.ndarray | None, *,
              compiled: bool = True) -> None:
    """One lap of chunks onto the tiles of ``ob`` (bq, n_tiles, d), in place: chunk jj on tile
    ``(first + jj) mod n_tiles`` gets ``src[jj] + e[jj]`` added (``src`` (m, bq, d): the
    chunks' V products, ``e`` (m, bq): their C0 parts; ``e`` None: ``src[jj]`` alone; ``src``
    None: ``e[jj]`` alone, the products being in place already).  ``compiled=False``: numpy
    (tests)."""
    bq, nt, d = ob.shape
    m = (e if src is None else src).shape[0]
    if m > nt:
        raise ValueError(f"{m} chunks are more than one lap of {nt} tiles")
    ptrs = [check_buffer(e, (m, bq), "e"), check_buffer(src, (m, bq, d), "src"),
            check_buffer(ob, (bq, nt, d), "ob")]
    lib = kernel() if compiled else None
    if lib is not None:
        lib.gca_tiles_add(bq, nt, d, m, first % nt, *ptrs)
        return
    tiles = (first + np.arange(m)) % nt
    if src is None:
        if e is not None:
            ob[:, tiles, :] += e.T[:, :, None]
        return
    part = src + e[:, :, None] if e is not None else src
    ob[:, tiles, :] += part.transpose(1, 0, 2)
