"""Bit-true golden model of one gain-cell attention head (model-spec §5–§6, DESIGN.md §5).

Two paths that agree exactly in the integer counts:

* :class:`TokenHead` / :func:`run_token_by_token` — what the hardware does, token by token:
  write k_t, v_t into window column ``p = t mod W`` (tile ``p // tile_cols``, column
  ``p % tile_cols``: the RTL's circular pointer), read the K bank with the query pulses, ReLU
  C2P, read the V bank with the A pulses, signed C2P + counters per tile, integer sum over
  tiles.  It goes through exactly the calls a co-simulation bridge makes
  (:mod:`analog_models.dac`, :class:`analog_models.array.GainCellBank`,
  :mod:`analog_models.c2p`), so the bridge reproduces its floats bit for bit.
* :func:`run_vectorized` — all T tokens at once: masks and decay as (block of) T×T matrices,
  the cell polynomial expanded into matrix products (like the paper's training code).  Same
  per-cell numbers, different summation order (float differences ~1e-13 relative): counts
  agree exactly unless ``|O|/S_sat2·count_max`` falls within that of a half-integer.

Times.  Token t has one write time (the cycle its K-column discharge starts; used for its K and
V cells) and one read time (the cycle its QK read starts; used for both arrays' decay during
its reads).  Default: ``write_time[t] = read_time[t] = t·Schedule(cfg).token_step_s``.

Masking.  At token t's read the valid columns hold tokens s with t − W < s ≤ t; others (never
written, or overwritten) give S = 0, hence A = 0, and contribute nothing to either product.

Outputs (:class:`GoldenResult`), per sequence of T tokens:

``scores`` (T, T)           S in µA·T_max, ``scores[t, s]``; 0 outside the window.
``activations`` (T, T)      A = clip(S/S_sat1, 0, 1); 0 outside the window.
``tile_outputs`` (T, n, d)  clip(O/S_sat2, −1, 1) per tile, before counting.
``counts`` (T, n, d)        signed counter values ±count (int64) — with quantization **off**:
                            float64 ``tile_outputs·count_max`` (unrounded counter reading).
``out`` (T, d)              sum of ``counts`` over tiles (int64; float64 with quantization off).
                            The head's float output is ``out / count_max`` in both modes.

With ``quantization`` off Q, K and V are not quantised either (x = clip(q, 0, 1),
V = clip(v, 0, v_max)).

Command line: ``python -m sim.golden --inputs IN.npz --out OUT.npz [--config F] [--set k=v]
[--ideal LIST] [--method vectorized|token]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analog_models.array import GainCellBank
from analog_models.c2p import relu_c2p, signed_c2p, signed_c2p_normalized, signed_value
from analog_models.dac import code_to_volts, kv_code, pulse_fraction, query_code
from analog_models.leakage import cell_age_s, decay_factor
from hdl.cli import add_config_args, config_from_args
from hdl.config import NON_IDEALITIES, HeadConfig
from hdl.schedule import Schedule

__all__ = ["GoldenResult", "TokenHead", "run", "run_token_by_token", "run_vectorized",
           "validate_inputs", "validate_times", "default_times", "load_inputs", "main"]

INPUT_KEYS = ("q", "k", "v")
TIME_KEYS = ("write_times_s", "read_times_s")


@dataclass
class GoldenResult:
    """Outputs of one head over T tokens (see the module docstring for units)."""

    scores: np.ndarray
    activations: np.ndarray
    tile_outputs: np.ndarray
    counts: np.ndarray
    out: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------
def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def validate_inputs(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig, *,
                    check_range: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check q, k, v ((T, d) or (B, T, d), finite, in range) and return them as float64.

    Raises ``ValueError`` naming the array and the problem.  With ``check_range=False``
    out-of-range values are allowed (the quantisers clip them, as after a scaler).
    """
    arrays = {}
    for name, a in (("q", q), ("k", k), ("v", v)):
        a = np.asarray(a)
        if a.dtype.kind not in "iuf":
            raise ValueError(f"array {name!r} must hold real numbers, not dtype {a.dtype}")
        if a.ndim not in (2, 3):
            raise ValueError(f"array {name!r} must have shape (T, d) or (B, T, d), "
                             f"not {a.shape}")
        if a.shape[-1] != cfg.array.head_dim:
            raise ValueError(f"array {name!r} has head dimension {a.shape[-1]}, but "
                             f"array.head_dim is {cfg.array.head_dim}")
        if a.shape[-2] == 0 or (a.ndim == 3 and a.shape[0] == 0):
            raise ValueError(f"array {name!r} is empty (shape {a.shape})")
        a = a.astype(np.float64)
        bad = ~np.isfinite(a)
        if bad.any():
            raise ValueError(f"array {name!r} holds a non-finite value at index "
                             f"{_first_bad(bad)}")
        arrays[name] = a
    shapes = {n: a.shape for n, a in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError("arrays 'q', 'k', 'v' must have the same shape, not "
                         + ", ".join(f"{n} {s}" for n, s in shapes.items()))
    if check_range:
        vmax = cfg.analog.v_max_V
        for name, hi, unit in (("q", 1.0, ""), ("k", vmax, " V"), ("v", vmax, " V")):
            a = arrays[name]
            bad = (a < 0.0) | (a > hi)
            if bad.any():
                idx = _first_bad(bad)
                raise ValueError(f"array {name!r} must lie in [0, {hi:g}]{unit}, found "
                                 f"{a[idx]:g} at index {idx}")
    return arrays["q"], arrays["k"], arrays["v"]


def default_times(n_tokens: int, cfg: HeadConfig) -> tuple[np.ndarray, np.ndarray]:
    """write_time[t] = read_time[t] = t·token_step_s (float64 seconds)."""
    t = np.arange(n_tokens) * Schedule(cfg).token_step_s
    return t, t.copy()


def validate_times(n_tokens: int, cfg: HeadConfig, write_times_s: np.ndarray | None,
                   read_times_s: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Default or check per-token write/read times: shape (T,), finite, non-decreasing,
    read ≥ write of the same token."""
    dw, dr = default_times(n_tokens, cfg)
    out = []
    for name, a, default in (("write_times_s", write_times_s, dw),
                             ("read_times_s", read_times_s, dr)):
        if a is None:
            out.append(default)
            continue
        a = np.asarray(a)
        if a.dtype.kind not in "iuf":
            raise ValueError(f"{name} must hold real numbers, not dtype {a.dtype}")
        if a.shape != (n_tokens,):
            raise ValueError(f"{name} must have shape ({n_tokens},) (one per token), "
                             f"not {a.shape}")
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise ValueError(f"{name} holds a non-finite value at index "
                             f"{_first_bad(~np.isfinite(a))[0]}")
        dec = np.diff(a) < 0
        if dec.any():
            i = int(np.argmax(dec)) + 1
            raise ValueError(f"{name} must be non-decreasing, but {name}[{i}] = {a[i]:g} < "
                             f"{name}[{i - 1}] = {a[i - 1]:g}")
        out.append(a)
    w, r = out
    early = r < w
    if early.any():
        i = int(np.argmax(early))
        raise ValueError(f"read_times_s[{i}] = {r[i]:g} is before write_times_s[{i}] = "
                         f"{w[i]:g}: a token is read after its own write")
    return w, r


def _codes_or_values(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pulse fractions and stored voltages as the hardware sees them (through the codes)."""
    if cfg.analog.quantization:
        return (pulse_fraction(query_code(q, cfg), cfg), code_to_volts(kv_code(k, cfg), cfg),
                code_to_volts(kv_code(v, cfg), cfg))
    vmax = cfg.analog.v_max_V
    return np.clip(q, 0.0, 1.0), np.clip(k, 0.0, vmax), np.clip(v, 0.0, vmax)


def _finish_tiles(o: np.ndarray, cfg: HeadConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tile_outputs, counts, out) from the per-tile V-array charges O (…, n_tiles, d)."""
    tile_out = signed_c2p_normalized(o, cfg)
    if cfg.analog.quantization:
        counts = signed_value(*signed_c2p(o, cfg))
    else:
        counts = tile_out * cfg.array.count_max
    return tile_out, counts, counts.sum(axis=-2)


# ---------------------------------------------------------------------------------------------
# token-by-token path
# ---------------------------------------------------------------------------------------------
@dataclass
class TokenOutput:
    """One token's outputs, in window coordinates (tile, column) for S and A."""

    scores: np.ndarray         # (n_tiles, tile_cols)
    activations: np.ndarray    # (n_tiles, tile_cols)
    tile_outputs: np.ndarray   # (n_tiles, d)
    counts: np.ndarray         # (n_tiles, d)
    out: np.ndarray            # (d,)


class TokenHead:
    """The head as the RTL runs it, one token at a time (state: K and V banks, pointer).

    Per token, the calls (the co-simulation bridge makes the same ones, same order):

    1. ``k_bank.discharge_column(tile, col)``; ``k_bank.write_column(tile, col,
       code_to_volts(k_code), t_write)``
    2. ``v_bank.discharge_column(tile, col)``; ``v_bank.write_column(tile, col,
       code_to_volts(v_code), t_write)``
    3. ``S = k_bank.read_columns(pulse_fraction(q_code), t_read, valid)``
    4. ``A = relu_c2p(S, cfg)``
    5. ``O = v_bank.read_rows(A, t_read)``
    6. ``sign, count = signed_c2p(O, cfg)``; ``out = signed_value(sign, count).sum(0)``
    """

    def __init__(self, cfg: HeadConfig) -> None:
        self.cfg = cfg
        ar = cfg.array
        self.k_bank = GainCellBank.for_head(cfg, "K")
        self.v_bank = GainCellBank.for_head(cfg, "V")
        self.n_written = 0
        self._positions = np.arange(ar.window).reshape(ar.n_tiles, ar.tile_cols)

    @property
    def pointer(self) -> tuple[int, int]:
        """(tile, column) the next token is written to."""
        return divmod(self.n_written % self.cfg.array.window, self.cfg.array.tile_cols)

    def valid_mask(self) -> np.ndarray:
        """(n_tiles, tile_cols) bool: columns holding one of the last W written tokens."""
        return self._positions < min(self.n_written, self.cfg.array.window)

    def step(self, x: np.ndarray, k_volts: np.ndarray, v_volts: np.ndarray, t_write: float,
             t_read: float) -> TokenOutput:
        """One token from pulse fractions x (d,) and stored voltages (d,) (float path too)."""
        tile, col = self.pointer
        self.k_bank.discharge_column(tile, col)
        self.k_bank.write_column(tile, col, k_volts, t_write)
        self.v_bank.discharge_column(tile, col)
        self.v_bank.write_column(tile, col, v_volts, t_write)
        self.n_written += 1
        s = self.k_bank.read_columns(x, t_read, self.valid_mask())
        a = relu_c2p(s, self.cfg)
        o = self.v_bank.read_rows(a, t_read)
        tile_out, counts, out = _finish_tiles(o, self.cfg)
        return TokenOutput(s, a, tile_out, counts, out)

    def step_codes(self, q_code: np.ndarray, k_code: np.ndarray, v_code: np.ndarray,
                   t_write: float, t_read: float) -> TokenOutput:
        """One token from integer PWM widths and DAC codes (what the RTL drives)."""
        return self.step(pulse_fraction(q_code, self.cfg), code_to_volts(k_code, self.cfg),
                         code_to_volts(v_code, self.cfg), t_write, t_read)


def run_token_by_token(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig, *,
                       write_times_s: np.ndarray | None = None,
                       read_times_s: np.ndarray | None = None,
                       check_range: bool = True) -> GoldenResult:
    """The token-by-token path over a (T, d) sequence (see :class:`TokenHead`)."""
    q, k, v = validate_inputs(q, k, v, cfg, check_range=check_range)
    if q.ndim == 3:
        return _stack([run_token_by_token(q[b], k[b], v[b], cfg, write_times_s=write_times_s,
                                          read_times_s=read_times_s, check_range=False)
                       for b in range(q.shape[0])])
    T, d = q.shape
    w, r = validate_times(T, cfg, write_times_s, read_times_s)
    ar = cfg.array
    W, nt = ar.window, ar.n_tiles
    head = TokenHead(cfg)
    quant = cfg.analog.quantization
    if quant:
        qc, kc, vc = query_code(q, cfg), kv_code(k, cfg), kv_code(v, cfg)
    else:
        qx, kx, vx = _codes_or_values(q, k, v, cfg)
    scores = np.zeros((T, T))
    acts = np.zeros((T, T))
    tile_out = np.zeros((T, nt, d))
    counts = np.zeros((T, nt, d), dtype=np.int64 if quant else np.float64)
    out = np.zeros((T, d), dtype=counts.dtype)
    pos = np.arange(W)
    for t in range(T):
        if quant:
            o = head.step_codes(qc[t], kc[t], vc[t], w[t], r[t])
        else:
            o = head.step(qx[t], kx[t], vx[t], w[t], r[t])
        n = min(t + 1, W)
        s_tok = t - ((t - pos[:n]) % W)          # token held by window position p < n
        scores[t, s_tok] = o.scores.reshape(W)[:n]
        acts[t, s_tok] = o.activations.reshape(W)[:n]
        tile_out[t], counts[t], out[t] = o.tile_outputs, o.counts, o.out
    return GoldenResult(scores, acts, tile_out, counts, out)


# ---------------------------------------------------------------------------------------------
# vectorised path
# ---------------------------------------------------------------------------------------------
def run_vectorized(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig, *,
                   write_times_s: np.ndarray | None = None,
                   read_times_s: np.ndarray | None = None,
                   check_range: bool = True, block: int = 128) -> GoldenResult:
    """All tokens at once, in blocks of ``block`` query rows against their window's keys."""
    q, k, v = validate_inputs(q, k, v, cfg, check_range=check_range)
    if q.ndim == 3:
        return _stack([run_vectorized(q[b], k[b], v[b], cfg, write_times_s=write_times_s,
                                      read_times_s=read_times_s, check_range=False,
                                      block=block)
                       for b in range(q.shape[0])])
    T, d = q.shape
    w, r = validate_times(T, cfg, write_times_s, read_times_s)
    ar, an = cfg.array, cfg.analog
    W, cols, nt = ar.window, ar.tile_cols, ar.n_tiles
    block = max(cols, (block // cols) * cols)
    x, kv, vv = _codes_or_values(q, k, v, cfg)

    # Pad the token axis to whole chunks of tile_cols tokens: chunk c lands in tile c mod n.
    Tp = -(-T // cols) * cols
    pad = Tp - T
    x = np.pad(x, ((0, pad), (0, 0)))
    kv = np.pad(kv, ((0, pad), (0, 0)))
    vv = np.pad(vv, ((0, pad), (0, 0)))
    wp = np.pad(w, (0, pad))
    p_s = np.arange(Tp) % W
    tile_s, col_s = p_s // cols, p_s % cols

    kb = GainCellBank.for_head(cfg, "K")
    vb = GainCellBank.for_head(cfg, "V")
    powers = kb.powers
    n = len(powers)
    nch = Tp // cols
    # Same per-cell numbers as the banks' write_column (cell_terms, then the line factor),
    # grouped by chunk: pk_ch[c] (n, d, cols) for the K side, pv_ch[c] (n·cols, d) for V.
    if n:
        pk = kb.cell_terms(kv, tile_s, col_s) * kb.f_row                   # (n, Tp, d)
        pv = vb.cell_terms(vv, tile_s, col_s) * vb.f_col[col_s][:, None]   # (n, Tp, d)
    else:
        pk = pv = np.zeros((0, Tp, d))
    pk_ch = np.ascontiguousarray(pk.reshape(n, nch, cols, d).transpose(1, 0, 2, 3))
    pv_ch = pv.reshape(n, nch, cols, d).transpose(1, 0, 2, 3).reshape(nch, n * cols, d)
    xk0 = kb.const_uA * (x @ kb.f_row) if kb.const_uA else None          # (Tp,)
    fcol_s = vb.f_col[col_s]
    leak = an.leakage and n > 0
    tau = an.tau_retention_s

    quant = an.quantization
    scores = np.zeros((T, T))
    acts = np.zeros((T, T))
    tile_out = np.zeros((T, nt, d))
    counts = np.zeros((T, nt, d), dtype=np.int64 if quant else np.float64)
    for t0 in range(0, T, block):
        t1 = min(T, t0 + block)
        bq = t1 - t0
        c0 = max(0, t0 - W + 1) // cols     # first chunk any query of the block can see
        c1 = -(-t1 // cols)
        k_ch = c1 - c0
        s0, s1 = c0 * cols, c1 * cols
        keys = s1 - s0
        # Keys in [t1 − W, t0] are inside every query's window; mask only the two edges.
        lo_end = min(max(t1 - W, s0), s1)            # keys [s0, lo_end): too old for some
        hi_start = max(min(t0 + 1, s1), lo_end)      # keys [hi_start, s1): future for some
        tq = np.arange(t0, t1)[:, None]
        ss_lo = np.arange(s0, lo_end)[None, :]
        ss_hi = np.arange(hi_start, s1)[None, :]
        valid_lo = (ss_lo > tq - W) & (ss_lo <= tq)
        valid_hi = (ss_hi <= tq) & (ss_hi > tq - W)
        # m[:, (chunk, i, col)] = Σ_d x[t, d]·term_i[s, d]; then Σ_i D^p_i·m_i by Horner.
        m = (x[t0:t1] @ pk_ch[c0:c1].reshape(k_ch * n * cols, d).T).reshape(bq, k_ch, n, cols)
        if leak:
            dd = decay_factor(cell_age_s(r[t0:t1, None], wp[None, s0:s1]), tau)
            dd3 = dd.reshape(bq, k_ch, cols)
        s3 = np.zeros((bq, k_ch, cols))
        for i in range(n - 1, -1, -1):          # highest power first
            s3 += m[:, :, i, :]
            if leak:
                for _ in range(powers[i] - (powers[i - 1] if i else 0)):
                    s3 *= dd3
        s = s3.reshape(bq, keys)
        if xk0 is not None:
            s += xk0[t0:t1, None]
        s[:, :lo_end - s0] = np.where(valid_lo, s[:, :lo_end - s0], 0.0)
        s[:, hi_start - s0:] = np.where(valid_hi, s[:, hi_start - s0:], 0.0)
        a = relu_c2p(s, cfg)
        te = min(s1, T) - s0
        scores[t0:t1, s0:s0 + te] = s[:, :te]
        acts[t0:t1, s0:s0 + te] = a[:, :te]
        ob = np.zeros((bq, nt, d))
        if n:
            bst = np.empty((bq, k_ch, n, cols))
            prev, done = a.reshape(bq, k_ch, cols), 0
            for i, p in enumerate(powers):
                while leak and done < p:
                    prev = prev * dd3
                    done += 1
                bst[:, :, i, :] = prev
            rch = np.matmul(bst.reshape(bq, k_ch, n * cols).transpose(1, 0, 2),
                            pv_ch[c0:c1])                                   # (k_ch, bq, d)
        if vb.const_uA:
            r0 = vb.const_uA * (a * fcol_s[s0:s1]).reshape(bq, k_ch, cols).sum(axis=2)
        for j in range(k_ch):
            tile = (c0 + j) % nt
            if n:
                ob[:, tile, :] += rch[j]
            if vb.const_uA:
                ob[:, tile, :] += r0[:, j, None]
        tile_out[t0:t1], counts[t0:t1], _ = _finish_tiles(ob, cfg)
    return GoldenResult(scores, acts, tile_out, counts, counts.sum(axis=-2))


def _stack(results: list[GoldenResult]) -> GoldenResult:
    return GoldenResult(*(np.stack([getattr(res, f.name) for res in results])
                          for f in dataclasses.fields(GoldenResult)))


def run(q: np.ndarray, k: np.ndarray, v: np.ndarray, cfg: HeadConfig, *,
        method: str = "vectorized", **kwargs) -> GoldenResult:
    """Run the golden model by ``method`` ("vectorized" or "token")."""
    if method == "vectorized":
        return run_vectorized(q, k, v, cfg, **kwargs)
    if method == "token":
        return run_token_by_token(q, k, v, cfg, **kwargs)
    raise ValueError(f"method must be 'vectorized' or 'token', not {method!r}")


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def load_inputs(path: str | Path) -> dict[str, np.ndarray]:
    """Read IN.npz: q, k, v (required), write_times_s, read_times_s (optional)."""
    p = Path(path)
    try:
        npz = np.load(p, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"inputs file {str(p)!r} does not exist") from None
    except (OSError, ValueError) as e:
        raise ValueError(f"inputs file {str(p)!r} is not a readable .npz archive ({e})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"inputs file {str(p)!r} is a single .npy array, not an .npz archive "
                         f"with arrays q, k, v")
    with npz:
        names = list(npz.files)
        unknown = [n for n in names if n not in INPUT_KEYS + TIME_KEYS]
        if unknown:
            raise ValueError(f"inputs file {str(p)!r} has unexpected array(s) "
                             f"{', '.join(map(repr, unknown))}; known: "
                             f"{', '.join(INPUT_KEYS + TIME_KEYS)}")
        missing = [n for n in INPUT_KEYS if n not in names]
        if missing:
            raise ValueError(f"inputs file {str(p)!r} lacks array(s) "
                             f"{', '.join(map(repr, missing))} (found: "
                             f"{', '.join(names) or 'none'})")
        data = {}
        for n in names:
            try:
                data[n] = npz[n]
            except ValueError as e:   # object arrays need pickle: refused
                raise ValueError(f"array {n!r} in {str(p)!r} cannot be read without pickle "
                                 f"(object dtype?): {e}") from None
    return data


def _build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m sim.golden",
        description="Bit-true golden model of one gain-cell attention head. IN.npz holds q "
                    "(T, d) in [0, 1] and k, v (T, d) in volts [0, v_max] (post-scaler), or "
                    "the same with a leading batch axis, and optionally write_times_s, "
                    "read_times_s (T,). OUT.npz gets scores, activations, tile_outputs, "
                    "counts, out and config_json.")
    ap.add_argument("--inputs", required=True, metavar="IN.npz", help="input arrays")
    ap.add_argument("--out", required=True, metavar="OUT.npz", help="output file")
    add_config_args(ap)
    ap.add_argument("--ideal", metavar="LIST", default="",
                    help="comma-separated non-idealities to switch off: "
                         + ", ".join(NON_IDEALITIES))
    ap.add_argument("--method", choices=("vectorized", "token"), default="vectorized",
                    help="whole-sequence (default) or token-by-token path")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = _build_parser()
    args = ap.parse_args(argv)
    cfg = config_from_args(ap, args)
    names = [n.strip() for n in args.ideal.split(",") if n.strip()]
    try:
        cfg = dataclasses.replace(cfg, analog=cfg.analog.ideal(*names))
    except ValueError as e:
        ap.error(f"--ideal: {e}")
    try:
        data = load_inputs(args.inputs)
        res = run(data["q"], data["k"], data["v"], cfg, method=args.method,
                  write_times_s=data.get("write_times_s"),
                  read_times_s=data.get("read_times_s"))
    except ValueError as e:
        print(f"sim.golden: error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **res.as_dict(), config_json=np.array(cfg.to_json()))
    T = res.out.shape[-2]
    print(f"sim.golden: {T} tokens, config {cfg.hash}, wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
