"""Seeded random stimuli, one generator per kind: token streams of the head (golden model,
co-simulation, activity run, evaluation, benchmarks) and the block tests' stimuli, shared by
both test tiers (Amaranth-simulator unit tests in ``tb/unit`` and cocotb tests of the generated
Verilog in ``tb/cosim/blocks``)."""

from __future__ import annotations

import numpy as np

from hdl.config import HeadConfig

__all__ = ["random_tokens", "pwm_stimulus", "counter_episodes"]


def random_tokens(cfg: HeadConfig, n_tokens: int, seed: int,
                  batch: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded random token stream in float units: q ~ U[0, 1], k, v ~ U[0, v_max] V, each
    (n_tokens, d), or (batch, n_tokens, d) with ``batch``.  Drawn q, then k, then v from
    ``np.random.default_rng(seed)``: the same seed gives the same stream everywhere."""
    d, vmax = cfg.array.head_dim, cfg.analog.v_max_V
    shape = (n_tokens, d) if batch is None else (batch, n_tokens, d)
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.0, 1.0, shape)
    k = rng.uniform(0.0, vmax, shape)
    v = rng.uniform(0.0, vmax, shape)
    return q, k, v


def pwm_stimulus(rng: np.random.Generator, d: int, q_max: int, cycles: int):
    """Codes change every cycle (so latching matters); start requests come in bursts (held
    high: back-to-back frames), as single pulses and with random gaps."""
    codes = rng.integers(0, q_max + 1, size=(cycles, d))
    # Extremes are frequent: code 0 (never high) and q_max (whole frame).
    extreme = rng.random((cycles, d)) < 0.3
    codes[extreme] = rng.choice([0, q_max], size=int(extreme.sum()))
    start = np.zeros(cycles, dtype=bool)
    c = 2
    while c < cycles:
        kind = rng.integers(3)
        n = int(rng.integers(1, 4 * q_max + 3))
        if kind == 0:
            n = int(rng.integers(1, 5)) * q_max + int(rng.integers(0, 3))
            start[c:c + n] = True                       # held: back-to-back frames
        elif kind == 1:
            start[c] = True                             # single request
        else:
            start[c:c + n] = rng.random(min(n, cycles - c)) < 0.3   # random requests
        c += n + int(rng.integers(0, 2 * q_max + 2))    # random gap (possibly none)
    return codes, start


def counter_episodes(rng: np.random.Generator, n: int, cmax: int, tokens: int):
    """Yield (pulse, sign, enable, clear, check) per cycle; ``check`` is None or the expected
    counts (from the stimulus alone) to see in that cycle."""
    for _ in range(tokens):
        if rng.random() < 0.5:
            # -- clean token ---------------------------------------------------------------
            window = int(rng.integers(1, cmax + 8))
            begin = rng.integers(0, window, size=n)
            length = rng.integers(0, cmax + 6, size=n)
            length = np.minimum(length, window - begin)
            length[rng.random(n) < 0.1] = 0
            sign_seq = rng.random((window, n)) < 0.5
            yield rng.random(n) < 0.5, rng.random(n) < 0.5, False, True, None      # clear
            for t in range(window):
                pulse = (t >= begin) & (t < begin + length)
                yield pulse, sign_seq[t], True, False, None
            sign_at_start = sign_seq[np.minimum(begin, window - 1), np.arange(n)]
            expect = np.minimum(length, cmax) * np.where(sign_at_start, -1, 1)
            # Window closed: junk pulses and signs must change nothing.
            for _ in range(int(rng.integers(1, 3))):
                yield rng.random(n) < 0.5, rng.random(n) < 0.5, False, False, expect
        else:
            # -- noisy stretch ---------------------------------------------------------------
            p_pulse = rng.choice([0.2, 0.5, 0.9])
            for _ in range(int(rng.integers(cmax, 3 * cmax + 4))):
                yield (rng.random(n) < p_pulse, rng.random(n) < 0.5, bool(rng.random() < 0.85),
                       bool(rng.random() < 0.05), None)
