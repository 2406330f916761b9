"""Stimulus and scoreboard of the head co-simulation.

:func:`make_tokens` makes the token codes of a scenario (seeded random, or from an ``IN.npz``
in the golden model's input format); :func:`compare_with_golden` runs :mod:`sim.golden`'s
vectorised path (counts and out only, so it never dominates a long run) on the tokens of each
reset segment with the write and read times the analog bridge observed and
compares every output token bit for bit, naming the first mismatching token, tile and dimension.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analog_models.c2p import signed_value
from analog_models.dac import code_to_volts, kv_code, pulse_fraction, query_code
from hdl.config import HeadConfig
from sim.golden import load_inputs, run_vectorized, validate_inputs
from sim.stimuli import random_tokens

__all__ = ["make_tokens", "codes_to_values", "compare_with_golden"]


def make_tokens(cfg: HeadConfig, sc: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(q_codes, k_codes, v_codes), each (T, d) int64, for scenario ``sc``."""
    if sc.get("inputs"):
        data = load_inputs(sc["inputs"])
        q, k, v = validate_inputs(data["q"], data["k"], data["v"], cfg)
        if q.ndim != 2:
            raise ValueError("the co-simulation takes one sequence: q, k, v of shape (T, d)")
    else:
        q, k, v = random_tokens(cfg, int(sc["tokens"]), sc["seed"])
    return query_code(q, cfg), kv_code(k, cfg), kv_code(v, cfg)


def codes_to_values(cfg: HeadConfig, q_codes, k_codes, v_codes):
    """Float inputs of the golden model that quantise back to exactly these codes."""
    return (pulse_fraction(q_codes, cfg), code_to_volts(k_codes, cfg),
            code_to_volts(v_codes, cfg))


def compare_with_golden(cfg: HeadConfig, q_codes: np.ndarray, k_codes: np.ndarray,
                        v_codes: np.ndarray, segments: list[dict], bridge) -> dict[str, Any]:
    """Compare each segment's RTL outputs with the golden model; report the first mismatch.

    ``segments``: ``{"first": index of its first token, "outputs": [(d,) int arrays],
    "bridge_base": index of its first token in ``bridge.tokens``}`` in order.
    """
    if not cfg.analog.quantization:
        raise ValueError("the co-simulation needs analog.quantization on: the RTL moves codes")
    compared = mismatches = 0
    first: dict[str, Any] | None = None
    message = "all outputs match the golden model"
    for seg in segments:
        outs = seg["outputs"]
        if not outs:
            continue
        f, n = seg["first"], len(outs)
        obs = bridge.tokens[seg["bridge_base"]: seg["bridge_base"] + n]
        if len(obs) < n:
            raise AssertionError(f"the bridge saw {len(obs)} token writes for {n} outputs")
        w = np.array([o.t_write_s for o in obs])
        r = np.array([o.t_read_s for o in obs])
        q, k, v = codes_to_values(cfg, q_codes[f:f + n], k_codes[f:f + n], v_codes[f:f + n])
        gold = run_vectorized(q, k, v, cfg, write_times_s=w, read_times_s=r,
                              outputs=("counts", "out"))
        rtl = np.stack(outs)
        for j in range(n):
            compared += 1
            t = f + j
            bad_out = not np.array_equal(rtl[j], gold.out[j])
            drv = signed_value(obs[j].sign, obs[j].count)
            bad_tile = not np.array_equal(drv, gold.counts[j])
            bad_q = not np.array_equal(obs[j].q_widths, q_codes[t])
            if not (bad_out or bad_tile or bad_q):
                continue
            mismatches += 1
            if first is None:
                first = {"token": int(t)}
                if bad_q:
                    dim = int(np.flatnonzero(obs[j].q_widths != q_codes[t])[0])
                    first.update(kind="query pulse width", dim=dim,
                                 got=int(obs[j].q_widths[dim]), expected=int(q_codes[t][dim]))
                elif bad_tile:
                    tile, dim = (int(x[0]) for x in np.nonzero(drv != gold.counts[j]))
                    first.update(kind="analog tile count", tile=tile, dim=dim,
                                 got=int(drv[tile, dim]), expected=int(gold.counts[j][tile, dim]))
                else:
                    dim = int(np.flatnonzero(rtl[j] != gold.out[j])[0])
                    first.update(kind="digital sum", dim=dim, got=int(rtl[j][dim]),
                                 expected=int(gold.out[j][dim]),
                                 tile_counts=gold.counts[j][:, dim].tolist())
                where = ", ".join(f"{k}={v}" for k, v in first.items() if k != "tile_counts")
                message = f"first mismatch: {where}"
    return {"compared": compared, "mismatches": mismatches, "first_mismatch": first,
            "message": message}
