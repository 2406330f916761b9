"""Bit-true golden model of one gain-cell attention head (model-spec §5–§6, DESIGN.md §5).

Two paths that agree exactly in the integer counts:

* :class:`TokenHead` / :func:`run_token_by_token` (:mod:`.token`) — what the hardware does,
  token by token: write k_t, v_t into window column ``p = t mod W`` (tile ``p // tile_cols``,
  column ``p % tile_cols``: the RTL's circular pointer), read the K bank with the query pulses,
  ReLU C2P, read the V bank with the A pulses, signed C2P + counters per tile, integer sum over
  tiles.  The writes and the read-out are :mod:`analog_models.readout`, the functions the
  co-simulation bridge calls from the pins, so the bridge reproduces its floats bit for bit.
* :func:`run_vectorized` (:mod:`.vectorized`) — all T tokens at once, in blocks of query rows
  against their window's keys, the cell polynomial and the leakage factor (``a_t·b_s``) expanded
  into one matrix product per array (like the paper's training code; at the paper's head the K
  product from exact integer sums of the codes, :mod:`.k_product`).  Different summation order
  (float differences ~1e-13 relative): counts agree exactly unless ``|O|/S_sat2·count_max``
  falls within that of a half-integer.

:func:`run` picks a path by name; :mod:`.io` holds the result record, the input and time checks
and the files of the command line (:mod:`.cli`).

Times.  Token t has one write time (the cycle its K-column discharge starts; used for its K and
V cells) and one read time (the cycle its QK read starts; used for both arrays' decay during
its reads).  Default: ``write_time[t] = read_time[t] = t·Schedule(cfg).token_step_s``.  The V
column is written a few cycles after the K column (3 in the paper's schedule, 15 in the
``pingpong`` one, ``Schedule.v_write``) but ages from the same write time: 15 ns against
τ = 5 ms changes a cell's decay by ~3e-6 relative, and the co-simulation bridge follows the
same convention, so the two stay bit-exact.

Masking.  At token t's read the valid columns hold tokens s with t − W < s ≤ t; others (never
written, or overwritten) give S = 0, hence A = 0, and contribute nothing to either product.

Outputs (:class:`GoldenResult`), per sequence of T tokens (``outputs=`` keeps a subset, the
others are None; a ``sink=`` of :mod:`.outputs` streams them to disk block by block):

``scores`` (T, W)           S in µA·T_max, window layout (default): row t in ring order,
                            column p = the window column of key s ≡ p (mod W), s ∈ (t − W, t]
                            (:func:`.outputs.window_tokens`); 0 where no token is held.  With
                            ``layout="dense"``: (T, T), ``scores[t, s]``, 0 outside the window.
``activations`` (T, W)      A = clip(S/S_sat1, 0, 1), same layout.
``tile_outputs`` (T, n, d)  clip(O/S_sat2, −1, 1) per tile, before counting.
``counts`` (T, n, d)        signed counter values ±count (int64) — with quantization **off**:
                            float64 ``tile_outputs·count_max`` (unrounded counter reading).
``out`` (T, d)              sum of ``counts`` over tiles (int64; float64 with quantization off).
                            The head's float output is ``out / count_max`` in both modes.

With ``quantization`` off Q, K and V are not quantised either (x = clip(q, 0, 1),
V = clip(v, 0, v_max)).

Command line: ``python -m sim.golden --inputs IN.npz --out OUT.npz [--config F] [--set k=v]
[--ideal LIST] [--method vectorized|token] [--outputs LIST] [--dense]`` (entry point
``gca-golden``): streams to disk, bounded memory whatever T.
"""

from .cli import main
from .io import (
    GoldenResult,
    default_times,
    load_inputs,
    save_result,
    validate_inputs,
    validate_times,
)
from .methods import run
from .token import TokenHead, TokenOutput, run_token_by_token
from .vectorized import run_vectorized

__all__ = ["GoldenResult", "TokenHead", "TokenOutput", "run", "run_token_by_token",
           "run_vectorized", "validate_inputs", "validate_times", "default_times", "load_inputs",
           "save_result", "main"]
