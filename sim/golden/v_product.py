"""The vectorised path's V product of one block of queries, onto its tiles: for each chunk j of
tile_cols keys, ``O_j = L_j @ R_j`` with the left operand ``L_j[t, i·cols + c] =
A[t, j·cols + c]·a_t^p_i`` and ``R_j`` the chunk's ``b_s^p_i·term_i`` rows; chunk j lands on
tile ``(c0 + j) mod n_tiles`` (the first lap written, later laps added, each with its C0 part).

Two ways, the same sums:

* :func:`fused` — :file:`v_product.c`, AVX-512: the left operand made one chunk at a time in a
  small buffer (never the whole block's, 3.5 MB at the defaults, written and read back), the
  products in registers (12 rows × 16 columns), written straight onto their tiles;
* :func:`onto_tiles` — numpy's batched products of a left operand :func:`.block_steps.block_act`
  built.

Each output is one chain of fused multiply-adds over the chunk's n·cols terms in order in the
kernel; OpenBLAS's blocking may differ, so the two agree to rounding (bounded in the tests).
The kernel is compiled on first use (:mod:`analog_models.native`); without a compiler or on a
CPU without AVX-512F :func:`kernel` is None (one warning) and the path uses :func:`onto_tiles`.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from analog_models import native

from .block_steps import check_buffer, tiles_add

__all__ = ["fused", "onto_tiles", "kernel", "unavailable_reason"]

SOURCE = Path(__file__).with_name("v_product.c")
_state: dict[str, object] = {}
_ptr, _int = ctypes.c_void_p, ctypes.c_int


def kernel() -> ctypes.CDLL | None:
    """The compiled V product, built and loaded on first call; None (one warning) without a
    compiler or without AVX-512F on this CPU."""
    return native.load_once(_state, native.compiler, lambda cc: native.build(cc, SOURCE),
                            _declare, "golden V-product kernel",
                            "the vectorised path's V product runs in numpy's batched products "
                            "(the same sums to rounding, slower)")


def _declare(lib: ctypes.CDLL, path: Path) -> ctypes.CDLL:
    lib.gca_v_ok.argtypes, lib.gca_v_ok.restype = [], _int
    lib.gca_v_block.argtypes = [_int] * 7 + [ctypes.c_long] * 3 + [_ptr] * 6
    lib.gca_v_block.restype = None
    if not lib.gca_v_ok():
        raise RuntimeError("this CPU has no AVX-512F")
    return lib


def unavailable_reason() -> str | None:
    """Why :func:`kernel` returned None (None if it loaded or was not tried yet)."""
    return _state.get("why")  # type: ignore[return-value]


def fused(a: np.ndarray, ap: np.ndarray, vt: np.ndarray, rc0: np.ndarray | None, c0: int,
          ob: np.ndarray, lbuf: np.ndarray, *, t0: int, window: int) -> None:
    """``ob`` (bq, n_tiles, d) ← the V products of queries t0 … t0 + bq − 1 from their
    activations ``a`` (bq, k_ch·cols; 0 outside each query's ``window``, as
    :func:`.block_steps.block_act` leaves them), ``ap`` (n, bq) and ``vt`` (k_ch, n·cols, d),
    plus the C0 parts ``rc0`` (k_ch, bq) or None; chunk j (keys from (c0 + j)·cols) on tile
    ``(c0 + j) mod n_tiles``.  A group of rows none of whose windows reaches a chunk skips its
    products (zeros: the same sums).  ``lbuf``: room for one chunk's left operand (at least
    bq·n·cols doubles).  Needs :func:`kernel`."""
    lib = kernel()
    if lib is None:
        raise RuntimeError(f"the V-product kernel is unavailable ({unavailable_reason()})")
    ap = np.ascontiguousarray(ap, dtype=np.float64)
    (k_ch, npc, d), n, bq = vt.shape, ap.shape[0], ap.shape[1]
    nt = ob.shape[1] if ob.ndim == 3 else 0
    cols = npc // n if n else 0
    if n * cols != npc or a.shape != (bq, k_ch * cols):
        raise ValueError(f"activations {a.shape} do not match {k_ch} chunks of {n}×{cols} "
                         f"rows for {bq} queries")
    if lbuf.size < bq * npc or lbuf.dtype != np.float64 or not lbuf.flags.c_contiguous:
        raise ValueError(f"lbuf must be a C-contiguous float64 array of at least {bq * npc} "
                         f"elements, not {lbuf.dtype} {lbuf.shape}")
    ptrs = [check_buffer(a, (bq, k_ch * cols), "a"), check_buffer(ap, (n, bq), "ap"),
            check_buffer(vt, (k_ch, npc, d), "vt"), check_buffer(rc0, (k_ch, bq), "rc0"),
            check_buffer(ob, (bq, nt, d), "ob"), lbuf.ctypes.data]
    lib.gca_v_block(bq, k_ch, cols, n, d, nt, c0 % nt, t0, c0 * cols, window, *ptrs)


def onto_tiles(left: np.ndarray, vt: np.ndarray, rc0: np.ndarray | None, c0: int,
               ob: np.ndarray, scratch: np.ndarray) -> None:
    """``ob`` (bq, n_tiles, d) ← the V side's chunk products ``left[j] @ vt[j]`` plus their C0
    parts ``rc0[j]`` (None: none), chunk j (the block's first is chunk ``c0`` of the
    sequence) on tile ``(c0 + j) mod n_tiles``, in chunk order: the first n_tiles chunks'
    products are written straight into their tiles (a rotation: two strided views), later
    ones added (:func:`.block_steps.tiles_add`); a tile no chunk lands on gets 0.
    ``scratch``: room for n_tiles chunk products."""
    k_ch, bq, d = left.shape[0], left.shape[1], vt.shape[2]
    nt = ob.shape[1]
    obt = ob.transpose(1, 0, 2)                                          # (n_tiles, bq, d)
    if k_ch < nt:
        ob[...] = 0.0
    for j in range(0, k_ch, nt):              # groups of n_tiles chunks: one lap of the tiles
        m = min(nt, k_ch - j)
        first = (c0 + j) % nt
        e = rc0[j:j + m] if rc0 is not None else None
        if j:
            part = np.matmul(left[j:j + m], vt[j:j + m],
                             out=scratch[:m * bq * d].reshape(m, bq, d))
            tiles_add(ob, first, e, part)
            continue
        # chunks 0 … m − 1 → tiles first … (wrapping past the last tile to 0 …)
        split = min(m, nt - first)
        np.matmul(left[:split], vt[:split], out=obt[first:first + split])
        if m > split:
            np.matmul(left[split:m], vt[split:m], out=obt[:m - split])
        if e is not None:
            tiles_add(ob, first, e, None)
