"""Where the golden model's paths put their outputs: which arrays, in which layout, in memory
or streamed to disk.

Layouts of ``scores`` and ``activations`` (one row per query token t):

* ``"window"`` (default) — ``(T, W)``, O(T·W): row t in ring order, column ``p`` = the window
  column ``tile·tile_cols + col`` the RTL writes token ``s`` to (``p = s mod W``); it holds the
  token ``s = t − ((t − p) mod W)`` (:func:`window_tokens`; −1: never written, value 0).
* ``"dense"`` — ``(T, T)``, O(T²), ``[t, s]``; 0 outside the window (only on request).

``outputs`` names the arrays kept (any of :data:`OUTPUTS`; the others are ``None``), so a long
run can keep ``out`` and ``counts`` alone.  A :class:`Sink` holds them in memory; a
:class:`StreamSink` appends each block of rows to ``.npy`` files as it is computed and packs
them into the ``.npz`` at the end, so memory stays bounded by one block whatever T is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from analog_models.native import aligned
from hdl.config import HeadConfig

__all__ = ["OUTPUTS", "LAYOUTS", "window_tokens", "window_to_dense", "parse_outputs", "Sink",
           "StreamSink"]

#: Every array a path can produce, in file order.
OUTPUTS = ("scores", "activations", "tile_outputs", "counts", "out")
#: Layouts of scores and activations.
LAYOUTS = ("window", "dense")
_PER_KEY = ("scores", "activations")


def parse_outputs(text: str) -> tuple[str, ...]:
    """``"out,counts"`` → the names in :data:`OUTPUTS` order (ValueError naming a bad one)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in OUTPUTS]
    if bad or not names:
        raise ValueError(f"outputs must be a comma-separated list of {', '.join(OUTPUTS)}, "
                         f"not {text!r}")
    return tuple(n for n in OUTPUTS if n in names)


def window_tokens(n_tokens: int, window: int, t0: int = 0) -> np.ndarray:
    """(T − t0, W) int64: the token held by window column p at query t ∈ [t0, T) (−1: none)."""
    t = np.arange(t0, n_tokens)[:, None]
    s = t - ((t - np.arange(window)[None, :]) % window)
    return np.where(s >= 0, s, -1)


def window_to_dense(a: np.ndarray, window: int) -> np.ndarray:
    """A window-layout array (…, T, W) as the dense (…, T, T) one."""
    T = a.shape[-2]
    s = window_tokens(T, window)
    t = np.broadcast_to(np.arange(T)[:, None], s.shape)
    ok = s >= 0
    out = np.zeros(a.shape[:-1] + (T,), dtype=a.dtype)
    out[..., t[ok], s[ok]] = a[..., ok]
    return out


def _shapes(T: int, cfg: HeadConfig, layout: str) -> dict[str, tuple[tuple[int, ...], type]]:
    a = cfg.array
    cnt = np.int64 if cfg.analog.quantization else np.float64
    wide = a.window if layout == "window" else T
    return {"scores": ((T, wide), np.float64), "activations": ((T, wide), np.float64),
            "tile_outputs": ((T, a.n_tiles, a.head_dim), np.float64),
            "counts": ((T, a.n_tiles, a.head_dim), cnt), "out": ((T, a.head_dim), cnt)}


class _Rows:
    """One sequence's view of the sink: ``put`` writes rows [t0, t1) of every kept array."""

    def __init__(self, sink: "Sink", b: int | None) -> None:
        self.sink, self.b = sink, b

    def rows_in_place(self, name: str, t0: int, t1: int) -> np.ndarray | None:
        """Rows [t0, t1) of the kept array ``name`` to write in place (then pass ``name`` in
        ``written`` to :meth:`put`), or None (not kept, or streamed to disk)."""
        return self.sink._in_place(name, self.b, t0, t1)

    def window_rows(self, name: str, t0: int, t1: int) -> tuple[np.ndarray | None, bool]:
        """Rows [t0, t1) of ``scores`` or ``activations`` to fill in the window layout:
        ``(the kept rows, True)`` when they are in memory in that layout (written in place,
        every column: the window's keys and 0 elsewhere; pass ``name`` in ``written``),
        ``(zeros (t1 − t0, W), False)`` when kept otherwise (pass them to :meth:`put`),
        ``(None, False)`` when not kept."""
        sink = self.sink
        if name not in sink.outputs:
            return None, False
        if sink.layout == "window" and (rows := self.rows_in_place(name, t0, t1)) is not None:
            return rows, True
        return np.zeros((t1 - t0, sink.window)), False

    def put(self, t0: int, t1: int, *, tile_outputs: np.ndarray, counts: np.ndarray,
            out: np.ndarray, scores: np.ndarray | None = None,
            activations: np.ndarray | None = None, written: tuple[str, ...] = ()) -> None:
        """Rows [t0, t1).  ``scores``/``activations``: window rows (t1 − t0, W); ``written``:
        the arrays already filled in place."""
        sink = self.sink
        vals = {"tile_outputs": tile_outputs, "counts": counts, "out": out,
                "scores": scores, "activations": activations}
        for name in sink.outputs:
            if name in written:
                continue
            v = vals[name]
            if name in _PER_KEY:
                v = self._layout(t0, t1, v)
            sink._write(name, self.b, t0, t1, v)

    def _layout(self, t0: int, t1: int, v: np.ndarray) -> np.ndarray:
        """Window rows in the sink's layout (dense: each value at its token's column)."""
        W, T = self.sink.window, self.sink.n_tokens
        if self.sink.layout == "window":
            return v
        dense = np.zeros((t1 - t0, T))
        s = window_tokens(t1, W, t0)
        r = np.broadcast_to(np.arange(t1 - t0)[:, None], s.shape)
        dense[r[s >= 0], s[s >= 0]] = v[s >= 0]
        return dense


class Sink:
    """Outputs of ``batch`` (None: one) sequences of T tokens, in memory."""

    def __init__(self, n_tokens: int, cfg: HeadConfig, *, outputs: tuple[str, ...] = OUTPUTS,
                 layout: str = "window", batch: int | None = None) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
        parse_outputs(",".join(outputs))
        self.n_tokens, self.window, self.layout = n_tokens, cfg.array.window, layout
        self.outputs, self.batch = tuple(n for n in OUTPUTS if n in outputs), batch
        lead = () if batch is None else (batch,)
        self.shapes = {n: (lead + shape, dt)
                       for n, (shape, dt) in _shapes(n_tokens, cfg, layout).items()
                       if n in self.outputs}
        self._open()

    def _open(self) -> None:
        # Left uninitialised (zeroing them cost ~5–10 % of a vectorised run): every path
        # writes every element — put whole rows, and whoever fills window rows in place
        # (:meth:`_Rows.window_rows`) the window's keys and 0 in the other columns.  On cache
        # lines: the kernels write them with streaming stores (native.aligned).
        self.arrays = {n: aligned(np.empty, shape, dt) for n, (shape, dt) in self.shapes.items()}

    def rows(self, b: int | None = None) -> _Rows:
        return _Rows(self, b)

    def _write(self, name: str, b: int | None, t0: int, t1: int, v: np.ndarray) -> None:
        a = self.arrays[name] if b is None else self.arrays[name][b]
        a[t0:t1] = v

    def _in_place(self, name: str, b: int | None, t0: int, t1: int) -> np.ndarray | None:
        if name not in self.arrays:
            return None
        a = self.arrays[name] if b is None else self.arrays[name][b]
        return a[t0:t1]

    def result(self):
        from .io import GoldenResult
        return GoldenResult(**{n: self.arrays.get(n) for n in OUTPUTS}, layout=self.layout)


class StreamSink(Sink):
    """Outputs appended block by block to ``.npy`` files in a scratch folder beside ``path``
    (rows must arrive in order: sequence by sequence, t increasing); :meth:`close` packs them
    with ``extra`` arrays into the ``.npz`` at ``path`` (stored, not compressed)."""

    def __init__(self, path: str | Path, n_tokens: int, cfg: HeadConfig, **kwargs) -> None:
        self.path = Path(path)
        super().__init__(n_tokens, cfg, **kwargs)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(prefix=".golden-", dir=self.path.parent))
        self.arrays = {}
        self._files, self._next = {}, {}
        for n, (shape, dt) in self.shapes.items():
            f = open(self._dir / f"{n}.npy", "wb")
            np.lib.format.write_array_header_1_0(
                f, {"descr": np.dtype(dt).str, "fortran_order": False, "shape": shape})
            self._files[n], self._next[n] = f, (0, 0)

    def _write(self, name: str, b: int | None, t0: int, t1: int, v: np.ndarray) -> None:
        if self._next[name] != (b or 0, t0):
            raise RuntimeError(f"{name}: rows out of order ({b}, {t0}), expected "
                               f"{self._next[name]}")
        dt = self.shapes[name][1]
        v = np.ascontiguousarray(v, dtype=dt)
        self._files[name].write(memoryview(v).cast("B"))
        nb, nt = (b or 0, t1) if t1 < self.n_tokens else ((b or 0) + 1, 0)
        self._next[name] = (nb, nt)

    def _in_place(self, name: str, b: int | None, t0: int, t1: int) -> None:
        return None                       # rows go to disk in order: never in place

    def close(self, extra: dict[str, np.ndarray]) -> Path:
        """Write the ``.npz`` (kept arrays, then ``extra``) and remove the scratch folder."""
        try:
            for f in self._files.values():
                f.close()
            tmp = self.path.with_name(self.path.name + ".part")
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                for n in self.shapes:
                    with open(self._dir / f"{n}.npy", "rb") as src, \
                            zf.open(f"{n}.npy", "w", force_zip64=True) as dst:
                        shutil.copyfileobj(src, dst, 1 << 22)
                for n, a in extra.items():
                    with zf.open(f"{n}.npy", "w", force_zip64=True) as dst:
                        np.lib.format.write_array(dst, np.asarray(a), allow_pickle=False)
            os.replace(tmp, self.path)
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
        return self.path

    def abort(self) -> None:
        """Drop the scratch files (a run that failed)."""
        for f in self._files.values():
            f.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def result(self):
        raise RuntimeError("a StreamSink's outputs are on disk: close() it and load the .npz")
