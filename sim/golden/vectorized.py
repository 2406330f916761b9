"""The golden model's vectorised path: all T tokens at once, block by block of query rows.

The cell polynomial is expanded into matrix products (like the paper's training code).  The
leakage factor of key s at query t, ``D = exp(−(r_t − w_s)/τ)``, factors as ``a_t·b_s`` about
the block's first read time (``a_t = exp(−(r_t − r_ref)/τ)``, ``b_s = exp(−(r_ref − w_s)/τ)``),
so ``Σ_i D^p_i·term_i`` needs no (bq, keys) elementwise decay:

* the K product (:mod:`.k_product`): at the paper's head from exact integer sums of the codes
  (one float64 product of the query codes by packed key words, then a compiled combine with
  ``a_t^p_i``, ``b_s^p_i``), elsewhere one product of ``[a_t^p_i·x_t]_i`` (bq, n·d) by the K
  bank's ``[b_s^p_i·term_i(s)]_i`` (n·d, keys);
* the V product (:mod:`.v_product`): per chunk of tile_cols keys, ``a_t^p_i·A`` by the V bank's
  ``b_s^p_i·term_i`` — the terms it stores for each cell (:meth:`analog_models.array.
  GainCellBank.line_terms`), looked up by code where they depend on it alone
  (:mod:`.level_terms`).

A block is cut short where read times jump by more than :data:`MAX_SPAN_TAU`·τ/p_max, so the
factors stay finite.

The same model as the token path, different summation and rounding order (float differences
~1e-13 relative): counts agree exactly unless ``|O|/S_sat2·count_max`` falls within that of a
half-integer.  Memory: O(block·(W + block)) plus the outputs kept (:mod:`.outputs`) and O(T)
per-key inputs.

The blocks are planned first (:func:`_plan`: their rows and reference times, from the read
times alone), then computed one after another or, with ``workers=N``, on N threads (block i on
thread i mod N, each with its own key and query caches; numpy's products and the compiled steps
release the GIL; :mod:`.workers`), their rows put in order by the caller: the same bits as one
thread.
"""

from __future__ import annotations

import time

import numpy as np

from analog_models.array import GainCellBank
from analog_models.native import aligned
from hdl.config import HeadConfig

from . import k_product, level_terms, v_product
from .block_steps import block_act
from .caches import Keys, Queries
from .io import GoldenResult, hardware_codes, hardware_input, run_checked, tile_results
from .workers import run_in_threads

__all__ = ["run_vectorized", "MAX_SPAN_TAU", "STEPS"]

#: The steps :func:`run_vectorized` times into its ``profile``, in the order they run.
STEPS = ("setup", "key side", "query side", "K product", "block steps", "V product",
         "C2P and outputs")

#: Largest exponent p·Δt/τ a block's leakage factors may span (e^200 is far from overflow).
MAX_SPAN_TAU = 200.0


def run_vectorized(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig, *,
                   write_times_s: np.ndarray | None = None,
                   read_times_s: np.ndarray | None = None,
                   check_range: bool = True, block: int = 128,
                   profile: dict[str, float] | None = None, workers: int = 1,
                   **sink) -> GoldenResult | None:
    """All tokens at once, in blocks of ``block`` query rows against their window's keys;
    (B, T, d) inputs run sequence by sequence.  ``workers``: threads the blocks run on (each
    with its own caches; the same bits as one — give each one BLAS thread: the products are
    too small to split).  ``profile``: a dict the seconds of each of :data:`STEPS` are added
    into (where the time goes; with workers, summed over the threads).  ``sink``:
    ``outputs``, ``layout`` or ``sink`` of :func:`.io.run_checked`."""
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer, not {workers!r}")
    return run_checked(_vectorized, q, k, v, cfg, write_times_s, read_times_s, check_range,
                       block=block, clock=_Clock(profile), workers=int(workers), **sink)


class _Clock:
    """``clock(step)`` adds the seconds since the previous call to ``into[step]`` (None: a
    no-op)."""

    def __init__(self, into: dict[str, float] | None) -> None:
        self.into, self.t = into, time.perf_counter()

    def start(self) -> None:
        self.t = time.perf_counter()

    def __call__(self, step: str) -> None:
        if self.into is not None:
            now = time.perf_counter()
            self.into[step] = self.into.get(step, 0.0) + now - self.t
            self.t = now

    def fork(self) -> "_Clock":
        """A clock for another thread (its own totals; :meth:`merge` them back)."""
        return _Clock({} if self.into is not None else None)

    def merge(self, other: "_Clock") -> None:
        """Add ``other``'s totals into this clock's."""
        if self.into is not None and other.into is not None:
            for step, sec in other.into.items():
                self.into[step] = self.into.get(step, 0.0) + sec


def _plan(r: np.ndarray, block: int, leak: bool, span: float) -> list[tuple[int, int, float]]:
    """The blocks ``(t0, t1, ref)`` of queries, in order: ``block`` rows each, cut short where
    read times jump past ``ref + span`` (a new reference time where reads moved more than
    span/2 since the last; ``ref`` 0.0 without leakage).  A pure function of the read times:
    every worker thread follows the same plan, so their outputs are the serial run's bits."""
    T = len(r)
    plan = []
    ref = r[0]
    reach = int(np.searchsorted(r, ref + span, "right"))   # first token too far from ref
    t0 = 0
    while t0 < T:
        t1 = min(T, t0 + block)
        if leak:      # keep every factor finite: a new reference time where reads jump
            if r[t0] - ref > span / 2:
                ref = r[t0]
                reach = int(np.searchsorted(r, ref + span, "right"))
            t1 = max(t0 + 1, min(t1, reach))
        plan.append((t0, t1, float(ref) if leak else 0.0))
        t0 = t1
    return plan


class _Head:
    """What every block of one sequence shares: the hardware inputs, the two banks and the
    C0 column of the K product."""

    def __init__(self, q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig,
                 w: np.ndarray, r: np.ndarray, block: int) -> None:
        self.cfg, self.w, self.r, self.block = cfg, w, r, block
        codes = hardware_codes(q, k, v, cfg) if cfg.analog.quantization else None
        self.codes = codes or (None, None, None)
        self._raw, self._volts = {"k": k, "v": v}, {}    # voltages on first use (volts)
        self.x = hardware_input("q", q, cfg, self.codes[0])
        self.kb = GainCellBank.for_head(cfg, "K")
        self.vb = GainCellBank.for_head(cfg, "V")
        # the V side's terms by code where they depend on it alone (:mod:`.level_terms`)
        self.vtab = None if codes is None else level_terms.table(cfg, self.vb)
        self.n = len(self.kb.powers)
        self.leak = cfg.analog.leakage and self.n > 0
        # The C0 current every cell shares, a rank-one part of each read (0 with variability):
        # one more column of both products (x·f_row·C0 against 1; A against f_col·C0,
        # undecayed).
        kb = self.kb
        self.xk0 = (kb.const_uA * (self.x @ kb.line_factors("columns")) if kb.const_uA
                    else None)                                                   # (T,)
        # the K product's way (:mod:`.k_product`): from the codes where it applies
        self.ks = k_product.for_head(cfg, kb, self.x, lambda: self.volts("k"), self.xk0,
                                     None if codes is None else codes[:2])

    def volts(self, name: str) -> np.ndarray:
        """The stored voltages of ``"k"`` or ``"v"`` (computed on first use: the codes'
        ways, :mod:`.k_product` and :mod:`.level_terms`, need none)."""
        if name not in self._volts:
            self._volts[name] = hardware_input(name, self._raw[name], self.cfg,
                                               self.codes["qkv".index(name)])
        return self._volts[name]

    def plan(self) -> list[tuple[int, int, float]]:
        span = MAX_SPAN_TAU * self.cfg.analog.tau_retention_s / max(self.kb.powers or (1,))
        return _plan(self.r, self.block, self.leak, span)


class _Worker:
    """One thread's blocks: its key and query caches and its buffers (reused block after
    block: warm in cache, no page faults).  :meth:`block` computes one block of the plan and
    returns what :meth:`.outputs._Rows.put` takes."""

    def __init__(self, head: _Head, clock: _Clock) -> None:
        self.head, self.clock = head, clock
        cfg, T = head.cfg, len(head.x)
        ar = cfg.array
        self.keys = Keys(head.ks, head.kb, head.vb, head.w, cfg, head.vtab, head.codes[2],
                         head.volts("v") if head.vtab is None else None, MAX_SPAN_TAU)
        self.queries = Queries(head.ks, head.r, head.kb.powers, cfg.analog.tau_retention_s,
                               head.leak)
        block, cols, nt, d = head.block, ar.tile_cols, ar.n_tiles, ar.head_dim
        k_max = -(-(min(block, T) + ar.window - 1) // cols) + 1
        # the V product: fused (a chunk's left operand at a time) or numpy's batched products
        # of the whole block's left operand (and one lap's products past the first)
        self.fused = head.n > 0 and v_product.kernel() is not None
        n_left = (1 if self.fused else k_max) * block * head.n * cols
        self.buf = {"s": np.empty(block * k_max * cols),
                    "left": aligned(np.empty, (n_left,), np.float64),
                    "rch": np.empty(0 if self.fused else nt * block * d),
                    "ob": aligned(np.empty, (block * nt * d,), np.float64),
                    "k": np.empty(head.ks.buffer_size(block, k_max * cols))}

    def block(self, t0: int, t1: int, ref: float, rows) -> dict:
        head, clock, buf = self.head, self.clock, self.buf
        cfg = head.cfg
        W, cols, nt, d = (cfg.array.window, cfg.array.tile_cols, cfg.array.n_tiles,
                          cfg.array.head_dim)
        n = head.n
        clock.start()
        bq = t1 - t0
        c0 = max(0, t0 - W + 1) // cols     # first chunk any query of the block can see
        c1 = -(-t1 // cols)
        k_ch, s0, s1 = c1 - c0, c0 * cols, c1 * cols
        kt, vt = self.keys.get(s0, s1, ref)
        clock("key side")
        ap, xq = self.queries.get(t0, t1, ref)
        clock("query side")
        # S[t, s] = Σ_i a_t^p_i·b_s^p_i·Σ_d x[t, d]·term_i[s, d] + C0 part (:mod:`.k_product`)
        s = self.head.ks.product(xq, kt, ap, buf["s"][:bq * k_ch * cols].reshape(
            bq, k_ch * cols), buf["k"])
        clock("K product")
        # masked to the windows, ReLU C2P (s becomes A), window rows, the V side's left
        # operand a_t^p_i·A[t, j, c] unless the fused V product makes it (:mod:`.block_steps`)
        win = {name: rows.window_rows(name, t0, t1) for name in ("scores", "activations")}
        left = (None if self.fused else
                buf["left"][:k_ch * bq * n * cols].reshape(k_ch, bq, n * cols))
        block_act(s, ap, t0, s0, cfg, left, win["scores"][0], win["activations"][0])
        # O[t, tile(j)] = Σ_c Σ_i (a_t^p_i A[t, j, c])·(b^p_i term_i)[j, i, c, :] + C0 part,
        # per chunk j of cols keys, written straight onto their tiles (:mod:`.v_product`).
        rc0 = None
        if self.keys.c0 is not None:
            rc0 = s.reshape(bq, k_ch, cols).transpose(1, 0, 2) @ self.keys.c0      # (k, bq)
        clock("block steps")
        ob = buf["ob"][:bq * nt * d].reshape(bq, nt, d)
        if self.fused:
            v_product.fused(s, ap, vt, rc0, c0, ob, buf["left"], t0=t0, window=W)
        else:
            v_product.onto_tiles(left, vt, rc0, c0, ob, buf["rch"])
        clock("V product")
        into = {name: rows.rows_in_place(name, t0, t1) for name in ("tile_outputs", "counts")}
        if not cfg.analog.quantization:
            into["counts"] = None           # float counts: computed, then written
        tile_out, counts, out = tile_results(ob, cfg, into=into)
        written = tuple(n for n, a in into.items() if a is not None) + tuple(
            n for n, (_, in_place) in win.items() if in_place)
        clock("C2P and outputs")
        return {"t0": t0, "t1": t1, "scores": win["scores"][0],
                "activations": win["activations"][0], "tile_outputs": tile_out,
                "counts": counts, "out": out, "written": written}


def _vectorized(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig, w: np.ndarray,
                r: np.ndarray, rows, block: int, clock: _Clock, workers: int) -> None:
    clock.start()                           # the input checks before are not a step
    head = _Head(q, k, v, cfg, w, r, max(1, block))
    plan = head.plan()
    clock("setup")

    def put(done: dict) -> None:
        clock.start()
        rows.put(**done)
        clock("C2P and outputs")

    if workers == 1 or len(plan) == 1:
        worker = _Worker(head, clock)
        for t0, t1, ref in plan:
            put(worker.block(t0, t1, ref, rows))
        return
    clocks = [clock.fork() for _ in range(min(workers, len(plan)))]
    try:
        run_in_threads([(t0, t1, ref, rows) for t0, t1, ref in plan],
                       [_Worker(head, c).block for c in clocks], put)
    finally:
        for c in clocks:
            clock.merge(c)
